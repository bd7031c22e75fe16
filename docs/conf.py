"""Sphinx configuration of the skcrystal documentation.

Build:  ``make docs``  or  ``sphinx-build -b html docs docs/_build/html``.

The example gallery (``examples/plot_*.py``) is rendered from source without
running the scripts, so a quick build takes seconds.  Set
``SKCRYSTAL_DOCS_RUN_EXAMPLES=1`` to execute them and capture their figures
(minutes on a CPU).  Intersphinx inventories are fetched from the projects'
sites when they are reachable; offline the links to numpy, scikit-learn etc.
stay plain text, so the ``-W`` build of ``make docs`` also passes offline.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# Import the checkout's package even when it is not installed.
sys.path.insert(0, str(ROOT))

import skcrystal  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skcrystal"
author = "the skcrystal developers"
copyright = "2026, the skcrystal developers"  # noqa: A001
release = skcrystal.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "sg_execution_times.rst"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
language = "en"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
# Document skcrystal's own (also inherited) methods, not those of the frameworks
# underneath (scikit-learn mixins, skorch's NeuralNet): those are linked by
# intersphinx and documented upstream.
_FRAMEWORK_BASES = ",".join([
    "BaseEstimator", "TransformerMixin", "RegressorMixin", "ClassifierMixin", "_SetOutputMixin",
    "NeuralNet", "NeuralNetRegressor", "NeuralNetClassifier", "ValueError", "Exception", "object",
    "Module",  # torch.nn.Module under skcrystal.nn
])
autodoc_default_options = {
    "members": True,
    "inherited-members": _FRAMEWORK_BASES,
    "show-inheritance": True,
}
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_member_order = "groupwise"
# Generated stub pages go to docs/gen_modules/ (git-ignored); api.rst sets
# ``:toctree: gen_modules/`` on every autosummary table.
numpydoc_show_class_members = False
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()  # reported by the test suite, not the docs build

_SKIP_MEMBERS = re.compile(r"^(set_\w+_request|get_metadata_routing)$")


def _skip_member(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated metadata-routing methods (``set_fit_request`` …)."""
    if _SKIP_MEMBERS.match(name):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)


# -- intersphinx -------------------------------------------------------------
# ``make docs`` builds with -W (warnings are errors).  Sphinx reports an
# unreachable inventory as an untyped warning that cannot be suppressed, so the
# mapping is configured only when the sites answer (quick DNS + TCP check);
# offline, references to numpy/sklearn/... stay plain text (nitpicky is off).
# SKCRYSTAL_DOCS_INTERSPHINX=1 / 0 forces it on / off.
_INTERSPHINX = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/", None),
    "sklearn": ("https://scikit-learn.org/stable/", None),
    "pandas": ("https://pandas.pydata.org/docs/", None),
    "torch": ("https://pytorch.org/docs/stable/", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable/", None),
    "pymatgen": ("https://pymatgen.org/", None),
    "matplotlib": ("https://matplotlib.org/stable/", None),
}


def _online(host="docs.python.org", timeout=2.0):
    import socket

    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


_want = os.environ.get("SKCRYSTAL_DOCS_INTERSPHINX", "").strip().lower()
intersphinx_mapping = _INTERSPHINX if (_want in ("1", "true", "yes") or (_want == "" and _online())) else {}
intersphinx_timeout = 5
nitpicky = False

# -- sphinx-gallery ----------------------------------------------------------
RUN_EXAMPLES = os.environ.get("SKCRYSTAL_DOCS_RUN_EXAMPLES", "0").strip().lower() in ("1", "true", "yes")

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],  # git-ignored
    "filename_pattern": r"/plot_",
    # only plot_*.py are gallery pages; the other scripts (demo.py = `make demo`, scaling_out.py, ...)
    # are command-line jobs
    "ignore_pattern": r"(^|[/\\])(?!plot_)[^/\\]*\.py$",
    "plot_gallery": "True" if RUN_EXAMPLES else "False",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    # no docs/sg_execution_times.rst in the source tree (it would be an untracked file)
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401

    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navbar_align": "left",
        "show_toc_level": 2,
        "navigation_with_keys": False,
        "secondary_sidebar_items": ["page-toc", "sourcelink"],
    }
except ImportError:  # pragma: no cover - plain Sphinx install
    html_theme = "alabaster"
    html_theme_options = {}

html_title = f"skcrystal {release}"
html_static_path = []
html_show_sourcelink = True
