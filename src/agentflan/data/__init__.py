"""The data recipe: one schema, upstream readers, convert -> decompose -> balance -> negatives (no torch, no MLflow)."""
