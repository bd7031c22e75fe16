"""Estimators: skorch neural networks and the xgboost baseline."""

from .ccnn import CCNNClassifier, CCNNRegressor
from .gbt import GBTClassifier, GBTRegressor
from .nnn import NNNClassifier, NNNRegressor

__all__ = [
    "CCNNClassifier",
    "CCNNRegressor",
    "GBTClassifier",
    "GBTRegressor",
    "NNNClassifier",
    "NNNRegressor",
]
