"""Per-structure data objects (graphs, tokens) and their collate functions."""
