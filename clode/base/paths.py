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


# ----------------------------------------------------------------------------------------------
# Files compared as files, not as spellings of a path: a symlinked folder, a bind mount or a hard
# link gives one file several paths, and the guards that keep originals safe must see through them.

FileId = tuple[int, int]


def file_id(path: "os.PathLike | str") -> "FileId | None":
    """The (device, inode) of the file ``path`` names (links followed), or None when it cannot be
    read (missing, a symlink loop, a name too long)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def real_path(path: "os.PathLike | str") -> Path:
    """``path`` absolute with its links resolved as far as they go; never raises (a symlink loop
    stays as it is spelt: Python 3.11's ``resolve`` raises RuntimeError on one)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(os.path.abspath(path))


def place_in(path: "os.PathLike | str", folder: "os.PathLike | str") -> "Path | None":
    """Where ``path`` lies inside ``folder``'s tree, as a path relative to it (``.`` for the folder
    itself), judged by the files themselves: ``path``'s folders, as spelt and with links resolved,
    are compared with ``folder`` by (device, inode), so a bind mount or a symlinked folder is
    seen for what it is. None when it lies elsewhere, or ``folder`` cannot be read."""
    wanted = file_id(folder)
    if wanted is None:
        return None
    for spelt in (Path(os.path.abspath(path)), real_path(path)):
        rest: list[str] = []
        for candidate in (spelt, *spelt.parents):
            if file_id(candidate) == wanted:
                return Path(*reversed(rest)) if rest else Path(".")
            rest.append(candidate.name)
    return None


def inside(path: "os.PathLike | str", folder: "os.PathLike | str") -> bool:
    """Whether ``path`` lies in ``folder``'s tree (``place_in``)."""
    return place_in(path, folder) is not None
