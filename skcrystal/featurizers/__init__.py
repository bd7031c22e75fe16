"""Featurizers: scikit-learn transformers from structures to features."""

from .composition import CompositionFeatures
from .faithful import (
    ElectronCounts,
    FaithfulBinned,
    FaithfulFeaturizer,
    FractionalCoordinateEncoding,
    LatticeEncoding,
    LeftStepComposition,
    SpaceGroupEncoding,
)
from .voxel import Voxelizer  # noqa: E402
from .graph import CrystalGraph  # noqa: E402
from .pih import PersistentInteractionHomology  # noqa: E402
from .crystalformer import CrystalformerFeaturizer, CrystalformerInput  # noqa: E402
from .itt import ITTTokenizer  # noqa: E402
from .dualview import DualViewGraph  # noqa: E402

__all__ = [
    "CompositionFeatures",
    "CrystalGraph",
    "CrystalformerFeaturizer",
    "CrystalformerInput",
    "DualViewGraph",
    "ElectronCounts",
    "FaithfulBinned",
    "FaithfulFeaturizer",
    "FractionalCoordinateEncoding",
    "ITTTokenizer",
    "LatticeEncoding",
    "LeftStepComposition",
    "PersistentInteractionHomology",
    "SpaceGroupEncoding",
    "Voxelizer",
]
