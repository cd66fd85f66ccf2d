"""A folder of photos without Qt: its photos, their thumbnails (cached on disk), their sidecars.

``thumbnail`` runs on a background thread (the folder session's task lane): it decodes a small
preview once and keeps it in the user cache dir, keyed by the photo's path, size and modification
time, so a folder opened again fills its strip at once. ``paste_settings`` writes chosen settings into
other photos' sidecars (copy/paste across a burst), keeping whatever else they hold, as a step of
each photo's edit history.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
from PIL import Image

from clode.io import sidecar
from clode.base.adjustments import Adjustments
from clode.base.atomic import atomic_path
from clode.base.errors import ClodeError
from clode.io.imageio import find_images, load_preview
from clode.base.pixels import fit_size, resize, to_uint8

from .history import History, paste_label

#: Long side of a thumbnail in pixels (the strip shows them smaller; HiDPI screens get them sharp).
THUMB_SIDE = 160
APP_NAME = "CLODE Desktop"


def cache_dir() -> Path:
    """Where thumbnails are kept: ``CLODE_CACHE_DIR``, else the platform's user cache dir."""
    override = os.environ.get("CLODE_CACHE_DIR")
    if override:
        return Path(override) / "thumbnails"
    from platformdirs import user_cache_dir
    return Path(user_cache_dir(APP_NAME, appauthor=False)) / "thumbnails"


def photos_in(folder: Path) -> list[Path]:
    """The folder's photos (not its sub-folders), sorted by name."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ClodeError(f"{folder}: not a folder")
    return find_images(folder, recursive=False)


def has_settings(photo: Path) -> bool:
    """Whether the photo has saved settings (it was edited; stars alone are not an edit): the strip marks it."""
    if not (sidecar.sidecar_path(photo).exists() or sidecar.fallback_path(photo).exists()):
        return False
    saved = sidecar.load(photo)
    return saved is not None and any(name in saved.settings for name in Adjustments.names())


def _cache_file(photo: Path, side: int) -> Optional[Path]:
    try:
        st = photo.stat()
    except OSError:
        return None
    key = f"{photo.resolve()}|{st.st_size}|{st.st_mtime_ns}|{side}"
    return cache_dir() / (hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest() + ".png")


def thumbnail(photo: Path, side: int = THUMB_SIDE) -> np.ndarray:
    """An H x W x 3 uint8 thumbnail (long side ``side``), from the cache or decoded and cached."""
    photo = Path(photo)
    cached = _cache_file(photo, side)
    if cached is not None and cached.exists():
        try:
            with Image.open(cached) as im:
                return np.asarray(im.convert("RGB"))
        except OSError:
            pass                                 # a damaged cache file is made again
    preview = load_preview(photo, max_side=side * 2)
    img = preview.pixels
    size = fit_size(img.shape[0], img.shape[1], side)
    if size != img.shape[:2]:
        img = resize(img, size)
    img8 = to_uint8(img)
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(cached) as tmp:
                Image.fromarray(img8).save(tmp, format="PNG")
        except OSError:
            pass                                 # no cache: the thumbnail is made again next time
    return img8


def paste_settings(photos: Iterable[Path], source: Adjustments, names: Iterable[str],
                   base: Adjustments = Adjustments()) -> list[str]:
    """Write the settings ``names`` of ``source`` into each photo's sidecar (other saved values stay),
    as a step of the photo's edit history, so that opening it and pressing Ctrl+Z undoes the paste.
    ``base``: the edit of a photo that has none saved (the model's default T). Returns one line per
    photo that could not be written."""
    names = list(names)
    as_json = source.to_dict()          # what a sidecar holds (local exposure layers as JSON)
    values = {n: as_json[n] for n in names}
    label = paste_label(names)
    problems = []
    for photo in photos:
        def pasted(saved, settings: dict) -> dict:
            """The photo's history with the paste as its newest step."""
            before = saved.adjustments(base) if saved is not None else base
            history = History(before)
            if saved is not None and saved.history is not None:
                history.load(saved.history, before)
            history.record(Adjustments.from_mapping(settings, base), label)
            return history.to_dict()
        try:
            # read, merge, write under a lock (another process may paste too)
            sidecar.update_settings(photo, values, history_of=pasted)
        except ClodeError as e:
            problems.append(str(e))
    return problems
