"""Estimators: skorch neural networks and the xgboost baseline."""

from .cann import CANNClassifier, CANNRegressor
from .ccnn import CCNNClassifier, CCNNRegressor
from .cgnn import CGNNClassifier, CGNNRegressor
from .crystalformer import CrystalformerClassifier, CrystalformerRegressor
from .gbt import GBTClassifier, GBTRegressor
from .itt import ITTClassifier, ITTPretrainer, ITTRegressor
from .mgt import MGTClassifier, MGTPretrainer, MGTRegressor
from .nnn import NNNClassifier, NNNRegressor

__all__ = [
    "CANNClassifier",
    "CANNRegressor",
    "CGNNClassifier",
    "CGNNRegressor",
    "CCNNClassifier",
    "CCNNRegressor",
    "CrystalformerClassifier",
    "CrystalformerRegressor",
    "GBTClassifier",
    "GBTRegressor",
    "ITTClassifier",
    "ITTPretrainer",
    "ITTRegressor",
    "MGTClassifier",
    "MGTPretrainer",
    "MGTRegressor",
    "NNNClassifier",
    "NNNRegressor",
]
