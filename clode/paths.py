"""Where the user's own files live (fine-tuned models, sidecars of read-only folders).

``CLODE_DATA_DIR`` overrides the platform's user data folder (tests use it).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "CLODE Desktop"


def user_data_dir() -> Path:
    override = os.environ.get("CLODE_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir as platform_dir
    return Path(platform_dir(APP_NAME, appauthor=False))


def user_models_dir() -> Path:
    """Fine-tuned models: ``<user data>/models/<name>.safetensors`` (never inside the install)."""
    return user_data_dir() / "models"


def model_path_for(name_or_path: str) -> Path:
    """A bare name ("my-portraits") means a model in the user's models folder; anything else is a path."""
    p = Path(name_or_path).expanduser()
    if p.suffix or os.sep in name_or_path or (os.altsep and os.altsep in name_or_path):
        return p
    return user_models_dir() / f"{name_or_path}.safetensors"
