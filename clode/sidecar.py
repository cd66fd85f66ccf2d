"""Per-photo settings (exposure T, denoise, ...) kept in a small JSON sidecar.

The sidecar is ``<photo file name>.clode.json`` beside the photo, so it travels
with it. When that folder cannot be written (a card, a shared drive), it goes
to the user data dir instead, under a name derived from the photo's absolute
path. Reading takes whichever of the two was written last. The photo itself is
never touched.

Besides the settings, a sidecar may hold the photo's edit history (``history``: the app's undo
steps, so they survive moving between photos and restarting). It is optional: sidecars without it
(older ones, the command line's) load as before, and a save that gives no history keeps the one
already there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from .adjustments import Adjustments
from .atomic import write_text
from .culling import Culling
from .errors import ClodeError
from .paths import user_data_dir
from .version import __version__

PathLike = Union[str, Path]

SUFFIX = ".clode.json"
FORMAT_VERSION = 1
#: A sidecar is a few hundred bytes; anything much larger is not one (and is not read).
MAX_BYTES = 1 << 20


def fallback_dir() -> Path:
    """Where sidecars go when the photo's folder is read-only."""
    return user_data_dir() / "sidecars"


def sidecar_path(photo_path: PathLike) -> Path:
    """The sidecar beside the photo."""
    photo = Path(photo_path)
    return photo.with_name(photo.name + SUFFIX)


def fallback_path(photo_path: PathLike) -> Path:
    """The sidecar in the user data dir: a hash of the absolute path keeps names unique."""
    photo = Path(photo_path).expanduser().resolve()
    digest = hashlib.sha1(str(photo).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    name = photo.name if len(os.fsencode(photo.name)) <= 200 else photo.name[:60]   # a name near 255 bytes
    return fallback_dir() / f"{digest}-{name}{SUFFIX}"


@dataclass
class Saved:
    """What one sidecar holds: the usable settings and one line per value that was not usable."""
    path: Path
    settings: dict                              # usable values by name (the adjustments and e.g. "model")
    problems: list[str] = field(default_factory=list)
    #: the edit history as saved (a JSON object the app reads and checks), or None
    history: Optional[dict] = None
    #: stars, flag and colour label (``clode.culling``); None in a sidecar written before them
    culling: Optional[Culling] = None

    def adjustments(self, base: Optional[Adjustments] = None) -> Adjustments:
        """``base`` (default: the defaults) with the saved adjustments."""
        return Adjustments.from_mapping(self.settings, base)

    def warning(self) -> str:
        """One line for the user, or "" when every saved value was usable."""
        if not self.problems:
            return ""
        return f"{self.path.name}: " + "; ".join(self.problems)


def _read(path: Path) -> Optional[Saved]:
    """One sidecar, or None if it is missing or unreadable (a damaged sidecar is ignored).

    A damaged value (not a number, NaN, out of range) must not reach the model: it is dropped, and
    named in ``problems``, so that setting takes its default."""
    text = _read_small(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):   # not JSON, a 10,000-digit number, nesting 100,000 deep
        return None
    if not isinstance(data, dict):
        return None
    settings = data.get("settings", data)
    if not isinstance(settings, dict):
        return None
    problems: list[str] = []
    adjustments = Adjustments.from_mapping(settings, on_problem=problems.append)
    good = Adjustments.valid_keys(settings)
    checked = adjustments.to_dict()         # JSON values (local exposure layers in their JSON form)
    clean = {key: (checked[key] if key in good else value) for key, value in settings.items()
             if key in good or key not in Adjustments.names()}
    history = data.get("history") if "settings" in data else None
    culling = Culling.from_mapping(data["culling"]) if "culling" in data else None
    return Saved(path, clean, problems, history=history if isinstance(history, dict) else None, culling=culling)


def _read_small(path: Path) -> Optional[str]:
    """The text of a regular file of at most ``MAX_BYTES``, else None. Opened without blocking
    (a FIFO named like a sidecar would otherwise hang the reader forever) and checked to be a
    regular file before anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return None
    return data.decode("utf-8", "replace")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -math.inf


def load(photo_path: PathLike) -> Optional[Saved]:
    """The photo's sidecar (the newer of the two places), or None."""
    candidates = sorted((sidecar_path(photo_path), fallback_path(photo_path)), key=_mtime, reverse=True)
    for path in candidates:
        saved = _read(path)
        if saved is not None:
            return saved
    return None


def read(path: PathLike) -> Saved:
    """The sidecar file ``path`` itself (not a photo's), or ClodeError when it is not one."""
    saved = _read(Path(path))
    if saved is None:
        raise ClodeError(f"{path}: not a readable CLODE sidecar (a JSON file of settings)")
    return saved


def load_settings(photo_path: PathLike) -> Optional[dict]:
    """The saved settings for a photo (``{"T": float, "denoise": float, ...}``), or None."""
    saved = load(photo_path)
    return None if saved is None else saved.settings


def save_settings(photo_path: PathLike, settings: dict, history: Optional[dict] = None) -> Path:
    """Write the photo's settings (and edit ``history``) atomically; returns the sidecar's path. What
    else the sidecar holds (the history when none is given, the culling marks, and any section a
    newer version wrote) stays.

    Beside the photo when that works, else in the user data dir.
    """
    if history is None:
        return _write(photo_path, settings=settings)
    return _write(photo_path, settings=settings, history=history)


def save_culling(photo_path: PathLike, culling: dict) -> Path:
    """Write the photo's culling marks (``Culling.to_dict()``), keeping its settings and the rest."""
    return _write(photo_path, culling=Culling.from_mapping(culling).to_dict())


def _stored_sections(photo: Path) -> dict:
    """The top-level sections of the photo's sidecar as stored (the newer of the two places; a sidecar
    of the first, flat form is its settings), or {} when there is none that reads."""
    for path in sorted((sidecar_path(photo), fallback_path(photo)), key=_mtime, reverse=True):
        text = _read_small(path)
        try:
            data = json.loads(text) if text is not None else None
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            if "settings" not in data:
                return {"settings": data}
            return {k: v for k, v in data.items() if k != "settings" or isinstance(v, dict)}
    return {}


def _write(photo_path: PathLike, **sections) -> Path:
    """Write the sidecar with ``sections`` replaced and every other section of the stored one kept."""
    photo = Path(photo_path)
    content = {"settings": {}, **_stored_sections(photo), **sections}
    content.update({
        "format": "clode-sidecar",
        "version": FORMAT_VERSION,
        "software": f"clode {__version__}",
        "photo": photo.name,
    })
    text = json.dumps(content, indent=2, sort_keys=True) + "\n"
    try:
        return write_text(sidecar_path(photo), text)
    except OSError:
        pass
    target = fallback_path(photo)
    try:
        return write_text(target, text)
    except OSError as e:
        raise ClodeError(f"{photo}: cannot save its settings, neither beside it nor in {target.parent} ({e.strerror or e})") from None
