"""Estimators: skorch neural networks and the xgboost baseline."""

__all__ = []
