"""Training a model on your photos: the panel, its parts (settings, photos, previews, "Your models") and
the trainer process it runs."""
