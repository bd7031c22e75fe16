"""Bundled datasets."""
