"""Named export presets: format, quality, chroma, bit depth, long-edge size, metadata and an output
folder template, shared by the app's Export dialog and its Batch Export (the app keeps the user's
own in its settings as JSON; ``presets_from_json`` never fails on a damaged list).

The folder template is expanded against the photos' folder: ``{folder}`` is that folder,
``{date}`` today's date (YYYY-MM-DD); a relative template lies under the photos' folder. So
``{folder}/web`` puts a web export beside the originals, in a sub-folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import string
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable, Optional

from clode.base.errors import ClodeError
from clode.io.export import DEEP, DEFAULT_FORMAT, DEFAULT_QUALITY, FORMAT_EXTENSIONS, LOSSY, SUBSAMPLINGS, ExportOptions

FOLDER_FIELDS = {"folder": "the photos' folder", "date": "today's date, YYYY-MM-DD"}
#: Where a preset puts its files unless it says otherwise: a sub-folder of the photos' folder
#: (a batch may not write into the folder it reads).
DEFAULT_FOLDER = "{folder}/clode"
#: The longest long edge a preset may ask for (a bigger one is never a shrink of a real photo).
MAX_LONG_EDGE = 100_000


@dataclass(frozen=True)
class ExportPreset:
    name: str
    format: str = DEFAULT_FORMAT
    quality: int = DEFAULT_QUALITY
    subsampling: str = ExportOptions.subsampling
    bits: int = 8
    long_edge: Optional[int] = None          # pixels; None = full size
    strip_metadata: bool = False
    folder: str = DEFAULT_FOLDER             # output folder template (FOLDER_FIELDS)

    def options(self) -> ExportOptions:
        return ExportOptions(format=self.format, quality=self.quality, subsampling=self.subsampling,
                             bits=self.bits if self.format in DEEP else 8, strip_metadata=self.strip_metadata,
                             long_edge=self.long_edge)

    @classmethod
    def from_options(cls, name: str, options: ExportOptions, folder: str = DEFAULT_FOLDER) -> "ExportPreset":
        return cls(name, options.format or DEFAULT_FORMAT, options.quality, options.subsampling, options.bits,
                   options.long_edge, options.strip_metadata, folder)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: Any) -> "ExportPreset":
        """A preset from stored values; raises ClodeError naming the first unusable one."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
            raise ClodeError("an export preset without a name")
        known = {f.name for f in fields(cls)}
        preset = cls(**{k: v for k, v in data.items() if k in known})
        check(preset)
        return preset

    def describe(self) -> str:
        parts = [self.format.upper() if self.format != "jpeg" else "JPEG"]
        if self.format in LOSSY:
            parts.append(f"quality {self.quality}")
        if self.format in DEEP:
            parts.append(f"{self.bits}-bit")
        parts.append(f"{self.long_edge} px" if self.long_edge else "full size")
        return ", ".join(parts)


def check(p: ExportPreset) -> None:
    name = p.name
    if p.format not in FORMAT_EXTENSIONS:
        raise ClodeError(f"preset {name!r}: unknown format {p.format!r}")
    if isinstance(p.quality, bool) or not isinstance(p.quality, int) or not 1 <= p.quality <= 100:
        raise ClodeError(f"preset {name!r}: quality must be 1 to 100")
    if p.subsampling not in SUBSAMPLINGS:
        raise ClodeError(f"preset {name!r}: unknown chroma subsampling {p.subsampling!r}")
    if p.bits not in (8, 16) or isinstance(p.bits, bool):
        raise ClodeError(f"preset {name!r}: bits must be 8 or 16")
    if p.long_edge is not None and (isinstance(p.long_edge, bool) or not isinstance(p.long_edge, int)
                                    or not 1 <= p.long_edge <= MAX_LONG_EDGE):
        raise ClodeError(f"preset {name!r}: the long edge must be 1 to {MAX_LONG_EDGE} pixels")
    if not isinstance(p.strip_metadata, bool):
        raise ClodeError(f"preset {name!r}: strip_metadata must be true or false")
    check_folder(p.folder)


#: Presets every user has; their own come after them.
BUILT_IN = (
    ExportPreset("Full size JPEG"),
    ExportPreset("Web, 2048 px", quality=85, long_edge=2048, folder="{folder}/web"),
    ExportPreset("Full size JPEG, finest colour", quality=95, subsampling="4:4:4"),
    ExportPreset("16-bit TIFF for editing", format="tiff", bits=16, folder="{folder}/tiff"),
)


def check_folder(template: str) -> None:
    if not isinstance(template, str) or not template.strip():
        raise ClodeError("the output folder template is empty")
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as e:
        raise ClodeError(f"output folder {template!r}: {e}") from None
    for f in names:
        if f not in FOLDER_FIELDS:
            raise ClodeError(f"output folder {template!r}: unknown field {{{f}}} "
                             f"(use {', '.join('{' + k + '}' for k in FOLDER_FIELDS)})")


def expand_folder(template: str, photos_folder: Path, today: Optional[_dt.date] = None) -> Path:
    """The folder ``template`` names for photos in ``photos_folder`` (raises ClodeError for a bad template)."""
    check_folder(template)
    try:
        text = template.format(folder=str(photos_folder), date=(today or _dt.date.today()).isoformat())
    except (ValueError, KeyError, IndexError, AttributeError) as e:
        raise ClodeError(f"output folder {template!r}: {e}") from None
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path(photos_folder) / path


def folder_template(output: Path, photos_folder: Path) -> str:
    """The template that names ``output`` for photos in ``photos_folder``: ``{folder}/…`` when it lies
    in that folder (a preset saved from one folder then works for any), else the path itself."""
    try:
        rel = Path(output).resolve().relative_to(Path(photos_folder).resolve())
    except (ValueError, OSError):
        return str(output).replace("{", "{{").replace("}", "}}")
    return "{folder}" if rel == Path(".") else "{folder}/" + rel.as_posix().replace("{", "{{").replace("}", "}}")


def presets_from_json(text: Optional[str]) -> list[ExportPreset]:
    """The user's presets stored as JSON; unusable entries are left out (never an error)."""
    try:
        data = json.loads(text) if text else []
    except (ValueError, RecursionError):
        return []
    out = []
    for item in data if isinstance(data, list) else []:
        try:
            out.append(ExportPreset.from_mapping(item))
        except (ClodeError, TypeError):
            continue
    return out


def presets_to_json(presets: Iterable[ExportPreset]) -> str:
    return json.dumps([p.to_dict() for p in presets])


def with_preset(presets: list[ExportPreset], preset: ExportPreset) -> list[ExportPreset]:
    """``presets`` with ``preset`` added, or replacing the one of its name."""
    return [p for p in presets if p.name != preset.name] + [preset]

