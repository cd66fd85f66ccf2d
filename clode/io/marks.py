"""A photo's culling marks where they are kept: its sidecar (``clode.io.sidecar``) and its ``.xmp``
file (``clode.io.xmp``), read and written together. The marks themselves are ``clode.io.culling``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional, Union

from clode.base.errors import ClodeError
from clode.io import sidecar, xmp
from clode.io.culling import PICK, Culling

PathLike = Union[str, Path]


def _mtime(path: Optional[Path]) -> float:
    try:
        return path.stat().st_mtime if path is not None else -1.0
    except OSError:
        return -1.0


def load(photo: PathLike) -> Culling:
    """The photo's marks: those stored beside it (``stored``), else those in its own XMP, else none."""
    return stored(photo) or xmp.read_embedded(photo) or Culling()


def stored(photo: PathLike) -> Optional[Culling]:
    """The marks kept beside the photo: its sidecar's, unless an ``.xmp`` file is newer and says
    otherwise (the pick, which XMP does not hold, is kept unless the XMP rejects the photo); else
    the ``.xmp`` file's; None when neither holds any."""
    saved = sidecar.load(photo)
    mine = saved.culling if saved is not None else None
    found = xmp.read_sidecar(photo)
    if found is None:
        return mine
    theirs, where = found
    if saved is None or mine is None:       # (mine is None whenever saved is)
        return theirs
    if _mtime(where) > _mtime(saved.path) and not xmp.agrees(mine, theirs):
        keep_pick = mine.flag == PICK and theirs.flag is None
        return replace(theirs, flag=PICK) if keep_pick else theirs
    return mine


def save(photo: PathLike, culling: Culling) -> list[str]:
    """Keep ``culling`` in the photo's sidecar and its ``.xmp`` file. Returns one line per place
    that could not be written (the other may still have been)."""
    problems = []
    try:
        sidecar.save_culling(photo, culling.to_dict())
    except ClodeError as e:
        problems.append(str(e))
    try:
        xmp.write_sidecar(photo, culling)
    except ClodeError as e:
        problems.append(str(e))
    return problems
