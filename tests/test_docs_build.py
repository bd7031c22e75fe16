"""The Sphinx site builds with warnings as errors (what ``make docs`` runs), offline."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("sphinx")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("numpydoc")


def test_docs_build_without_warnings(tmp_path):
    import shutil

    # generated pages of an earlier build (git-ignored) would be stale after an API change
    for generated in ("gen_modules", "auto_examples"):
        shutil.rmtree(ROOT / "docs" / generated, ignore_errors=True)
    env = {**os.environ, "SKCRYSTAL_DOCS_INTERSPHINX": "0", "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("SKCRYSTAL_DOCS_RUN_EXAMPLES", None)
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         "docs", str(tmp_path / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stderr[-6000:]}"
    html = tmp_path / "html"
    for page in ("index.html", "api.html", "cli.html", "audit.html", "benchmarks.html"):
        assert (html / page).is_file(), page
    assert "label_audit" in (html / "audit.html").read_text()
