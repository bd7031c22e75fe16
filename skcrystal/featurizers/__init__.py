"""Featurizers: scikit-learn transformers from structures to features."""

from .composition import CompositionFeatures
from .faithful import (
    ElectronCounts,
    FaithfulBinned,
    FaithfulFeaturizer,
    LatticeEncoding,
    LeftStepComposition,
    SpaceGroupEncoding,
)

__all__ = [
    "CompositionFeatures",
    "ElectronCounts",
    "FaithfulBinned",
    "FaithfulFeaturizer",
    "LatticeEncoding",
    "LeftStepComposition",
    "SpaceGroupEncoding",
]
