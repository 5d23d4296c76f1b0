"""Agent-FLAN agent tuning: data recipe, training, evaluation, and the DVC/GX/MLflow pipeline around them."""
