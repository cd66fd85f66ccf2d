"""Training and measuring models: losses, data, recipes, validation, metrics, the model library."""
