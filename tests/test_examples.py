"""The gallery examples (``examples/plot_*.py``) and the demo run in their quick form (``SKCRYSTAL_QUICK=1``).

One subprocess runs them all in turn (imports paid once).  A new gallery
example must honour ``SKCRYSTAL_QUICK=1`` (small subsample, one or two
epochs) so this stays a smoke test of seconds per script.  Other scripts in
``examples/`` (command-line jobs such as ``scaling_out.py``, which starts a
Dask cluster) are not gallery pages and are not run here.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "examples").glob("plot_*.py")) + [ROOT / "examples" / "demo.py"]

DRIVER = r"""
import os, runpy, sys, time, traceback, warnings
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
failed = []
for path in sys.argv[1:]:
    t = time.perf_counter()
    sys.argv = [path]
    try:
        with warnings.catch_warnings():
            runpy.run_path(path, run_name="__main__")
        status = "ok"
    except SystemExit as exc:
        status = "ok" if exc.code in (0, None) else f"exit {exc.code}"
    except Exception:
        status = "FAILED"
        traceback.print_exc()
    plt.close("all")
    if status != "ok":
        failed.append(path)
    print(f"@@ {os.path.basename(path)} {status} {time.perf_counter() - t:.1f}s", flush=True)
sys.exit(1 if failed else 0)
"""


def test_examples_run_in_quick_form(tmp_path):
    assert SCRIPTS, "no examples found"
    env = {**os.environ, "SKCRYSTAL_QUICK": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, *map(str, SCRIPTS)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    report = [line for line in proc.stdout.splitlines() if line.startswith("@@ ")]
    assert proc.returncode == 0, "\n".join(report) + "\n" + proc.stderr[-6000:]
    assert len(report) == len(SCRIPTS), proc.stdout[-3000:]
