"""Featurizers: scikit-learn transformers from structures to features."""

__all__ = []
