"""skcrystal: scikit-learn compatible machine learning on crystal structures."""

__version__ = "0.1.0"

from . import datasets, featurizers, models  # noqa: E402,F401
from .base import StructureFeaturizer, clear_feature_cache  # noqa: E402,F401
from .utils.validation import check_structures, check_target  # noqa: E402,F401

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
