"""What ties the library to DVC, Great Expectations and MLflow: stage context, validation, tracking, registry."""
