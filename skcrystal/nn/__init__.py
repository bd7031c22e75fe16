"""Plain torch ``nn.Module``s (no scikit-learn or skorch here)."""
