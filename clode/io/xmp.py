"""Stars, reject and colour labels exchanged through XMP, so darktable, Lightroom and this app see the
same marks.

What is read and written: ``xmp:Rating`` (0-5 stars, -1 = rejected, as Lightroom and darktable
write it) and ``xmp:Label`` (Lightroom's colour label by name: "Red" ...; darktable's own
``darktable:colorlabels`` list is read too, and kept in step when the file has one). A pick has
no XMP property: it stays in the app's sidecar.

Where: an ``.xmp`` sidecar beside the photo, named as darktable does (``photo.jpg.xmp``) or as
Lightroom does (``photo.xmp``); both are read (the newer wins) and every one that exists is
updated, else darktable's is created. The photo's own embedded XMP (JPEG APP1, TIFF, PNG, WebP,
camera RAW) is read, never written: originals are never changed.

The XMP itself is parsed and written by libexiv2 (the ``exiv2`` package, the library darktable uses):
it keeps everything else in the file (darktable's history stack, Lightroom's develop settings,
keywords) and writes proper RDF. Each write goes to a temporary copy that replaces the file in
one rename (``clode.base.atomic``). Every call into exiv2 holds one lock: its XMP toolkit is not
thread-safe, and thumbnails read embedded XMP on a thread of their own.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Optional, Union

from clode.base.atomic import atomic_path
from clode.io.culling import LABELS, REJECT, Culling
from clode.base.errors import ClodeError

PathLike = Union[str, Path]

SUFFIX = ".xmp"
#: An .xmp sidecar is a few KB (a long darktable history: some 100 KB); larger is not one.
MAX_BYTES = 8 << 20
RATING, LABEL, DT_LABELS = "Xmp.xmp.Rating", "Xmp.xmp.Label", "Xmp.darktable.colorlabels"
#: Lightroom's (and Bridge's) label names, which darktable reads too.
LABEL_NAMES = {label: label.capitalize() for label in LABELS}

_lock = threading.RLock()
_ready = False


def _exiv2():
    """The exiv2 module, set up once (under the lock: two threads may ask first): its own warnings
    muted (a bad file is reported by us, in one line)."""
    global _ready
    import exiv2
    with _lock:
        if not _ready:
            exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.mute)
            exiv2.XmpParser.initialize()
            _ready = True
    return exiv2


def sidecar_paths(photo: PathLike) -> list[Path]:
    """The names an .xmp sidecar of ``photo`` may have: darktable's first, then Lightroom's."""
    photo = Path(photo)
    return [photo.with_name(photo.name + SUFFIX), photo.with_suffix(SUFFIX)]


def existing_sidecars(photo: PathLike) -> list[Path]:
    """The photo's .xmp sidecars that exist (regular files), the newest first."""
    found = []
    for path in dict.fromkeys(sidecar_paths(photo)):      # a photo named x.xmp would list one twice
        try:
            st = path.stat()
        except OSError:
            continue
        if path.is_file() and st.st_size <= MAX_BYTES:
            found.append((st.st_mtime, path))
    return [p for _, p in sorted(found, key=lambda t: t[0], reverse=True)]


def culling_of(values: dict) -> Optional[Culling]:
    """The marks that XMP properties (key -> text, as exiv2 names them) hold, or None when they hold none."""
    rating, label = values.get(RATING), values.get(LABEL)
    dt_labels = values.get(DT_LABELS)
    if rating is None and label is None and dt_labels is None:
        return None
    stars, flag = 0, None
    try:
        number = round(float(rating)) if rating is not None else 0
    except ValueError:
        number = 0
    if number < 0:
        flag = REJECT
    else:
        stars = min(number, 5)
    colour = None
    if label is not None:
        colour = label.strip().lower() if label.strip().lower() in LABELS else None
    elif dt_labels:
        first = dt_labels.split(",")[0].strip()
        colour = LABELS[int(first)] if first.isdigit() and int(first) < len(LABELS) else None
    return Culling(stars, flag, colour)


def agrees(mine: Culling, theirs: Culling) -> bool:
    """Whether two sets of marks say the same in XMP terms (XMP holds no pick)."""
    return _rating_of(mine) == _rating_of(theirs) and mine.label == theirs.label


def _rating_of(c: Culling) -> int:
    return -1 if c.flag == REJECT else c.rating


def _values(image) -> dict:
    out = {}
    for datum in image.xmpData():
        key = datum.key()
        if key in (RATING, LABEL, DT_LABELS):
            out[key] = str(datum.value())
    return out


def _open(exiv2, path: Path):
    """exiv2's image of ``path``; a name that is not UTF-8 (exiv2 takes text names only) is read into
    memory and opened from there (a bytes argument is the file's content to exiv2, not its name)."""
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return exiv2.ImageFactory.open(path.read_bytes())
    return exiv2.ImageFactory.open(str(path))


def read_file(path: PathLike) -> Optional[Culling]:
    """The marks in one XMP file (an .xmp sidecar) or in a photo's embedded XMP; None when it holds
    none, or cannot be read."""
    exiv2 = _exiv2()
    with _lock:
        try:
            image = _open(exiv2, Path(path))
            image.readMetadata()
            values = _values(image)
        except (exiv2.Exiv2Error, OSError, ValueError, TypeError):
            return None
    return culling_of(values)


def read_sidecar(photo: PathLike) -> Optional[tuple[Culling, Path]]:
    """The marks of the newest .xmp sidecar of ``photo`` that holds any, and its path."""
    for path in existing_sidecars(photo):
        found = read_file(path)
        if found is not None:
            return found, path
    return None


def read_embedded(photo: PathLike) -> Optional[Culling]:
    """The marks in the photo's own XMP (e.g. a JPEG's APP1 packet), or None."""
    path = Path(photo)
    if not path.is_file() or path.suffix.lower() == SUFFIX:
        return None
    return read_file(path)


def write_sidecar(photo: PathLike, culling: Culling) -> list[Path]:
    """Write ``culling`` into every .xmp sidecar of ``photo`` that exists (else create darktable's),
    keeping all their other content; atomic. Returns the files written; raises ClodeError (one
    line) when one cannot be."""
    targets = existing_sidecars(photo) or [sidecar_paths(photo)[0]]
    for target in targets:
        _write_one(target, culling)
    return targets


def _write_one(target: Path, culling: Culling) -> None:
    exiv2 = _exiv2()
    try:
        with atomic_path(target) as tmp, _lock:
            if target.exists():
                shutil.copyfile(target, tmp)
                try:
                    image = exiv2.ImageFactory.open(str(tmp))
                    image.readMetadata()
                except exiv2.Exiv2Error:
                    # Not XMP we can read (damaged, or another file named .xmp): it is not replaced.
                    raise ClodeError(f"{target}: not an XMP file this app can read; its stars were not updated") \
                        from None
            else:
                image = exiv2.ImageFactory.create(exiv2.ImageType.xmp, str(tmp))
            data = image.xmpData()
            data[RATING] = str(_rating_of(culling))
            _set_label(exiv2, data, culling.label)
            image.setXmpData(data)
            image.writeMetadata()
            del image                               # exiv2 lets go of the file before the rename
    except exiv2.Exiv2Error as e:
        raise ClodeError(f"{target}: cannot write the XMP sidecar ({e.args[-1] if e.args else e})") from None
    except OSError as e:
        raise ClodeError(f"{target}: cannot write the XMP sidecar ({e.strerror or e})") from None


def _set_label(exiv2, data, label: Optional[str]) -> None:
    # Keys are looked up only once present: an XmpKey of a namespace the file does not use (darktable's,
    # in a Lightroom file) is an error in exiv2.
    present = {d.key(): str(d.value()) for d in data}
    if label is not None:
        data[LABEL] = LABEL_NAMES[label]
    elif present.get(LABEL, "").strip().lower() in LABELS:
        data.erase(data.findKey(exiv2.XmpKey(LABEL)))   # a label of another set ("Select", "To Do") stays
    if DT_LABELS in present:                            # darktable's own list follows the label
        data.erase(data.findKey(exiv2.XmpKey(DT_LABELS)))
        if label is not None:
            value = exiv2.XmpArrayValue(exiv2.TypeId.xmpSeq)
            value.read(str(LABELS.index(label)))
            data.add(exiv2.XmpKey(DT_LABELS), value)
