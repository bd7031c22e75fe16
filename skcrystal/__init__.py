"""skcrystal: scikit-learn compatible machine learning on crystal structures.

Submodules load on first use (``skcrystal.models`` brings torch and skorch,
``skcrystal.topology`` only numpy, scipy and gudhi), so ``import skcrystal``
and the lightweight parts stay fast.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "audit",
    "base",
    "benchmark",
    "cli",
    "datasets",
    "encodings",
    "evaluation",
    "featurizers",
    "geometry",
    "io",
    "models",
    "nn",
    "streaming",
    "topology",
    "utils",
)
_ATTRIBUTES = {
    "StructureFeaturizer": "base",
    "clear_feature_cache": "base",
    "check_structures": "utils.validation",
    "check_target": "utils.validation",
}

__all__ = [
    "StructureFeaturizer",
    "check_structures",
    "check_target",
    "clear_feature_cache",
    "datasets",
    "featurizers",
    "models",
    "__version__",
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(f"{__name__}.{_ATTRIBUTES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_ATTRIBUTES))
