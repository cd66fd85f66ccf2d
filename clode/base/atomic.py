"""Atomic file writes: a temporary file in the target folder, then a rename (or a link).

A reader never sees a half-written file, and a crash or a cancel leaves the previous version (or
nothing) in place, never a partial file. The temporary name is short and fixed in form
(``.clode-<host>-<pid>-<random>.part``), whatever the target's name: a target of 255 bytes stays
writable, and a later run recognises what a killed one left (``remove_stale``).

``exclusive=True`` never replaces an existing file, also against other processes: the finished
file is hard-linked to its name, which fails if the name exists (where a disk has no hard links,
the name is first created with ``O_EXCL``). Alternative names can be given in order of preference.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

PART_PREFIX = ".clode-"
PART_SUFFIX = ".part"
#: Temporary files of another machine (a shared folder) count as stale only after this long.
FOREIGN_STALE_SECONDS = 24 * 3600


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:4]


def part_name(pid: Optional[int] = None) -> str:
    """A temporary name for a write by process ``pid`` (default: this one) on this machine."""
    return f"{PART_PREFIX}{_host_tag()}-{os.getpid() if pid is None else pid}-{secrets.token_hex(4)}{PART_SUFFIX}"


def parts_of(folder: Union[str, Path], pid: int) -> list[Path]:
    """The temporary files process ``pid`` of this machine has in ``folder``."""
    return sorted(Path(folder).glob(f"{PART_PREFIX}{_host_tag()}-{pid}-*{PART_SUFFIX}"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def is_stale(path: Path) -> bool:
    """Whether ``path`` is a temporary file of ours whose writer is gone."""
    name = path.name
    if not (name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)):
        return False
    parts = name[len(PART_PREFIX):-len(PART_SUFFIX)].split("-")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host == _host_tag():
        return pid != os.getpid() and not _alive(pid)
    try:
        return time.time() - path.stat().st_mtime > FOREIGN_STALE_SECONDS
    except OSError:
        return False


def remove_stale(folder: Union[str, Path]) -> list[Path]:
    """Delete the temporary files that killed writes left in ``folder``; returns them."""
    removed: list[Path] = []
    try:
        candidates = [Path(e.path) for e in os.scandir(folder)
                      if e.name.startswith(PART_PREFIX) and e.name.endswith(PART_SUFFIX)]
    except OSError:
        return removed
    for path in candidates:
        if is_stale(path):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


class TargetExists(FileExistsError):
    """An exclusive write found its name (and every alternative) taken."""


@dataclass
class Write:
    """One atomic write in progress: write to ``tmp``; ``path`` is the name it got once finished."""
    tmp: Path
    path: Optional[Path] = None


@contextlib.contextmanager
def atomic_write(target: Union[str, os.PathLike], *, exclusive: bool = False,
                 alternatives: Iterable[Union[str, os.PathLike]] = ()) -> Iterator[Write]:
    """Yield a ``Write`` whose ``tmp`` lies beside ``target``; if the block succeeds, it becomes
    ``target`` (replacing it, or, when ``exclusive``, only if no file has that name: else the first
    free one of ``alternatives``; ``TargetExists`` when none is free)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / part_name()
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    write = Write(tmp)
    try:
        yield write
        # mkstemp (and some writers) make 0600 files; give the result the permissions a plain write would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        if not exclusive:
            os.replace(tmp, target)
            write.path = target
        else:
            for candidate in itertools.chain([target], map(Path, alternatives)):
                try:
                    _claim(tmp, candidate)
                except FileExistsError:
                    continue
                write.path = candidate
                break
            else:
                raise TargetExists(errno.EEXIST, "the file exists", str(target))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _claim(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the name ``target`` unless a file has it (FileExistsError), atomically."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
                           errno.ENOSYS, errno.EACCES):
            raise
    # No hard links here (FAT, some network shares): take the name first, then fill it.
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    os.close(fd)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_path(target: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` if the block succeeds."""
    with atomic_write(target) as write:
        yield write.tmp


def write_bytes(target: Union[str, Path], data: bytes, *, exclusive: bool = False) -> Path:
    with atomic_write(target, exclusive=exclusive) as write:
        write.tmp.write_bytes(data)
    assert write.path is not None
    return write.path


def write_text(target: Union[str, Path], text: str, *, exclusive: bool = False) -> Path:
    # surrogateescape: a file name of any byte encoding (as Python holds it) survives into a log
    return write_bytes(target, text.encode("utf-8", "surrogateescape"), exclusive=exclusive)


def check_writable_folder(folder: Union[str, Path], label: str = "") -> Path:
    """``folder`` as a folder results can be written to, or ClodeError in one line (naming it as
    ``label``, e.g. ``-o``) before any work: a name too long, a symlink loop, a file, a folder that
    cannot be written. A folder that does not exist yet is judged by the one it will be made in
    (it is not made here)."""
    from clode.base.errors import ClodeError
    text = os.fspath(folder)
    shown = (f"{label} " if label else "") + (text if len(text) <= 200 else text[:90] + " ... " + text[-90:])
    folder = Path(folder)
    try:
        if not text.strip():
            raise ClodeError(f"{shown!r}: an empty folder name")
        if any(len(os.fsencode(part)) > 255 for part in folder.parts) or len(os.fsencode(text)) > 4095:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
        if os.path.lexists(folder):
            os.stat(folder)                    # a symlink loop or a dangling link says why here
            if not folder.is_dir():
                raise ClodeError(f"{shown}: exists and is not a folder")
            existing = folder
        else:
            existing = next(p for p in Path(os.path.abspath(folder)).parents if os.path.lexists(p))
            if not existing.is_dir():
                raise ClodeError(f"{shown}: cannot be made, {existing} is not a folder")
        probe = existing / part_name()         # a killed run's cleanup recognises the name
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as e:
        why = "cannot write there (read-only)" if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) else \
            (e.strerror or str(e))
        raise ClodeError(f"{shown}: {why}") from None
    return folder
