"""Estimators: skorch neural networks and the xgboost baseline."""

from .gbt import GBTClassifier, GBTRegressor
from .nnn import NNNClassifier, NNNRegressor

__all__ = [
    "GBTClassifier",
    "GBTRegressor",
    "NNNClassifier",
    "NNNRegressor",
]
