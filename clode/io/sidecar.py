"""Per-photo settings (exposure T, denoise, ...) kept in a small JSON sidecar.

The sidecar is ``<photo file name>.clode.json`` beside the photo, so it travels
with it. When that folder cannot be written (a card, a shared drive), it goes
to the user data dir instead, under a name derived from the photo's absolute
path. Reading takes whichever of the two was saved last (by a revision counter in the file). The photo itself is
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
from typing import Callable, Optional, Union

from clode.base.adjustments import Adjustments
from clode.base.atomic import write_text
from clode.io.culling import Culling
from clode.base.errors import ClodeError
from clode.base.paths import user_data_dir
from clode.base.version import __version__

PathLike = Union[str, Path]

SUFFIX = ".clode.json"
FORMAT_VERSION = 1
#: A sidecar is a few hundred bytes; anything much larger is not one (and is not read).
MAX_BYTES = 1 << 20
#: The key of the save counter in the file: each save writes one more than the highest of both places.
REVISION = "revision"
#: How long a save waits for another process saving the same photo's settings.
LOCK_TIMEOUT_S = 30.0


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
    #: stars, flag and colour label (``clode.io.culling``); None in a sidecar written before them
    culling: Optional[Culling] = None
    revision: int = 0                           # REVISION: how many saves this photo's sidecar had

    @property
    def damaged(self) -> bool:
        """Unusable as a whole (no settings read)."""
        return not self.settings and bool(self.problems)

    def adjustments(self, base: Optional[Adjustments] = None) -> Adjustments:
        """``base`` (default: the defaults) with the saved adjustments."""
        return Adjustments.from_mapping(self.settings, base)

    def warning(self) -> str:
        """One line for the user, or "" when every saved value was usable."""
        if not self.problems:
            return ""
        return f"{self.path.name}: " + "; ".join(self.problems)


def _damaged(path: Path, problem: str) -> Saved:
    """A sidecar that is there but unusable as a whole: no settings, one line saying why."""
    return Saved(path, {}, [f"damaged sidecar ignored, {problem}; using the defaults"])


def _read(path: Path) -> Optional[Saved]:
    """One sidecar; None if there is none. A sidecar damaged as a whole (not JSON, not settings,
    a FIFO or folder in its place) gives no settings and one problem; a damaged value (not a
    number, NaN, out of range) must not reach the model: it is dropped and named in ``problems``,
    so that setting takes its default."""
    text = _read_small(path)
    if text is None:
        return None
    if isinstance(text, _Unusable):
        return _damaged(path, text.problem)
    try:
        data = json.loads(text)
    except RecursionError:
        return _damaged(path, "nested too deeply")
    except ValueError as e:   # not JSON, a 10,000-digit number
        return _damaged(path, f"not valid JSON ({str(e).splitlines()[0][:80]})")
    if not isinstance(data, dict):
        return _damaged(path, f"a JSON {type(data).__name__}, not settings")
    settings = data.get("settings", data)
    if not isinstance(settings, dict):
        return _damaged(path, "its settings are not a JSON object")
    problems: list[str] = []
    adjustments = Adjustments.from_mapping(settings, on_problem=problems.append)
    good = Adjustments.valid_keys(settings)
    checked = adjustments.to_dict()         # JSON values (local exposure layers in their JSON form)
    clean = {key: (checked[key] if key in good else value) for key, value in settings.items()
             if key in good or key not in Adjustments.names()}
    clean.pop(REVISION, None)
    revision = data.get(REVISION, 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        revision = 0
    history = data.get("history") if "settings" in data else None
    culling = Culling.from_mapping(data["culling"]) if "culling" in data else None
    return Saved(path, clean, problems, history=history if isinstance(history, dict) else None, culling=culling,
                 revision=revision)


@dataclass(frozen=True)
class _Unusable:
    problem: str


def _read_small(path: Path) -> Union[str, _Unusable, None]:
    """The text of a regular file of at most ``MAX_BYTES``; None when there is no file; an
    ``_Unusable`` when something else is there. Opened without blocking (a FIFO named like a
    sidecar would otherwise hang the reader forever) and checked to be a regular file before
    anything is read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return _Unusable("a folder is in its place")
    except OSError as e:
        if not os.path.lexists(path):
            return None
        return _Unusable(f"cannot be read ({e.strerror or e})")
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return _Unusable("a folder is in its place")
        if not stat.S_ISREG(info.st_mode):
            return _Unusable("not a regular file")
        if info.st_size > MAX_BYTES:
            return _Unusable(f"larger than {MAX_BYTES // 2 ** 20} MB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        return _Unusable(f"cannot be read ({e.strerror or e})")
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        return _Unusable(f"larger than {MAX_BYTES // 2 ** 20} MB")
    # "utf-8-sig": a byte-order mark (a text editor's) is not damage
    return data.decode("utf-8-sig", "replace")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -math.inf


def _newest(photo_path: PathLike) -> Optional[Saved]:
    """The sidecar to use of the two places: the usable one with the higher revision (a counter
    written into the file: a clock that is wrong, or a card's future mtime, cannot hide a newer
    edit), the newer file between equal ones (older files have no revision); a damaged one only
    when neither is usable, so its warning is shown."""
    found = [(saved, _mtime(saved.path)) for saved in
             (_read(sidecar_path(photo_path)), _read(fallback_path(photo_path))) if saved is not None]
    if not found:
        return None
    usable = [(saved, mtime) for saved, mtime in found if not saved.damaged]
    return max(usable or found, key=lambda pair: (pair[0].revision, pair[1]))[0]


def load(photo_path: PathLike) -> Optional[Saved]:
    """The photo's sidecar (the newer of the two places), or None when it has none. One damaged as
    a whole has no settings and says why in ``warning()``."""
    return _newest(photo_path)


def read(path: PathLike) -> Saved:
    """The sidecar file ``path`` itself (not a photo's), or ClodeError when it is not one."""
    saved = _read(Path(path))
    if saved is None or saved.damaged:
        why = f" ({saved.problems[0]})" if saved is not None and saved.problems else ""
        raise ClodeError(f"{path}: not a readable CLODE sidecar (a JSON file of settings){why}")
    return saved


def load_settings(photo_path: PathLike) -> Optional[dict]:
    """The saved settings for a photo (``{"T": float, "denoise": float, ...}``), or None."""
    saved = load(photo_path)
    return None if saved is None or saved.damaged else saved.settings


def _lock(photo_path: PathLike):
    """A lock shared by every process saving this photo's settings. Its file lives in the user
    data dir (never beside the photo: no litter on the card), named by the photo's path."""
    from filelock import FileLock

    name = fallback_path(photo_path).name
    folder = fallback_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / (name[:40] + ".lock")), timeout=LOCK_TIMEOUT_S)


def save_settings(photo_path: PathLike, settings: dict, history: Optional[dict] = None) -> Path:
    """Write the photo's settings (and edit ``history``) atomically; returns the sidecar's path. What
    else the sidecar holds (the history when none is given, the culling marks, and any section a
    newer version wrote) stays.

    Beside the photo when that works, else in the user data dir.
    """
    sections = {"settings": settings} if history is None else {"settings": settings, "history": history}
    return _update(photo_path, lambda current: sections)


def save_culling(photo_path: PathLike, culling: dict) -> Path:
    """Write the photo's culling marks (``Culling.to_dict()``), keeping its settings and the rest."""
    marks = Culling.from_mapping(culling).to_dict()
    return _update(photo_path, lambda current: {"culling": marks})


def update_settings(photo_path: PathLike, changes: dict, *, replace: bool = False,
                    history_of: Optional[Callable[[Optional[Saved], dict], dict]] = None) -> Path:
    """Merge ``changes`` into the photo's saved settings (``replace``: they become the settings)
    and write them, keeping the sidecar's other sections; returns the sidecar's path.
    ``history_of(saved, new settings)`` gives the edit history to save with them (the app's paste
    records itself as a step), made under the same lock."""
    def merged(current: Optional[Saved]) -> dict:
        settings = dict(changes) if replace or current is None else {**current.settings, **changes}
        sections = {"settings": settings}
        if history_of is not None:
            sections["history"] = history_of(current, settings)
        return sections
    return _update(photo_path, merged)


def _update(photo_path: PathLike, sections_of) -> Path:
    """Write the sections ``sections_of(the saved sidecar)`` gives, every other stored section kept.
    Read, merge and write happen under a lock, so two processes updating one photo both keep their
    changes; the save's revision is one above the highest stored (the newer save wins by it, not by
    a file's mtime)."""
    from filelock import Timeout

    photo = Path(photo_path)
    try:
        lock = _lock(photo)
        lock.acquire()
    except Timeout:
        raise ClodeError(f"{photo}: cannot save its settings, another program has been saving them for "
                         f"{LOCK_TIMEOUT_S:g} s") from None
    except OSError:   # no user data dir to hold the lock: save unguarded, as one process does
        lock = None
    try:
        current = load(photo)
        revision = 1 + max((saved.revision for saved in (_read(sidecar_path(photo)), _read(fallback_path(photo)))
                            if saved is not None), default=0)
        return _write(photo, {**_stored_sections(current), **sections_of(current)}, revision)
    finally:
        if lock is not None:
            lock.release()


def _stored_sections(saved: Optional[Saved]) -> dict:
    """The top-level sections of the saved sidecar as stored (a sidecar of the first, flat form is its
    settings), or {} when there is none that reads."""
    if saved is None or saved.damaged:
        return {}
    text = _read_small(saved.path)
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    if "settings" not in data:
        return {"settings": data}
    return {k: v for k, v in data.items() if k != "settings" or isinstance(v, dict)}


def _write(photo: Path, sections: dict, revision: int) -> Path:
    content = {"settings": {}, **sections}
    content.update({
        "format": "clode-sidecar",
        "version": FORMAT_VERSION,
        REVISION: revision,
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
