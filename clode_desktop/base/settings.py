"""The app's remembered state (QSettings): recent files, last folder, preferences, layout.

Per-photo settings (T, denoise) are not here: they live in sidecars (``clode.io.sidecar``).
Tests pass an ini file so they never touch the user's real settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from PySide6.QtCore import QByteArray, QSettings

from clode.io.export import DEFAULT_FORMAT, ExportOptions
from clode.io.export_presets import ExportPreset, presets_from_json, presets_to_json

MAX_RECENT = 10
ORGANIZATION = "CLODE"
APPLICATION = "CLODE Desktop"


#: New photos open at Auto (issue 28): Auto is safe by construction -- a clearly dark photo gets the
#: model's default T, one that is not dark stays as shot (docs/auto-exposure.md). Preferences turns it off.
START_AT_AUTO = True


class Settings:
    def __init__(self, path: Optional[Union[str, Path]] = None) -> None:
        if path is None:
            self.q = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        else:
            self.q = QSettings(str(path), QSettings.Format.IniFormat)

    def _get(self, key: str, default=None, type_=None):
        value = self.q.value(key, default)
        if value is None or type_ is None:
            return value
        try:
            if type_ is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return type_(value)
        except (TypeError, ValueError):
            return default

    # -- files ------------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.q.value("files/recent", [])
        # QSettings gives one entry back as a string, none as None
        values = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
        return [str(v) for v in values if v]

    def add_recent_file(self, path: Union[str, Path]) -> list[str]:
        path = str(Path(path).resolve())
        files = [path] + [f for f in self.recent_files() if f != path]
        files = files[:MAX_RECENT]
        self.q.setValue("files/recent", files)
        return files

    def remove_recent_file(self, path: Union[str, Path]) -> None:
        self.q.setValue("files/recent", [f for f in self.recent_files() if f != str(path)])

    def clear_recent_files(self) -> None:
        self.q.setValue("files/recent", [])

    def last_folder(self) -> str:
        return self._get("files/last_folder", "", str) or str(Path.home())

    def set_last_folder(self, folder: Union[str, Path]) -> None:
        self.q.setValue("files/last_folder", str(folder))

    def export_folder(self) -> str:
        return self._get("files/export_folder", "", str)

    def set_export_folder(self, folder: Union[str, Path]) -> None:
        self.q.setValue("files/export_folder", str(folder))

    # -- preferences ------------------------------------------------------------------------
    def device(self) -> str:
        return self._get("prefs/device", "auto", str) or "auto"

    def set_device(self, key: str) -> None:
        self.q.setValue("prefs/device", key)

    def model_path(self) -> Optional[str]:
        """None = the shipped default model."""
        return self._get("prefs/model", "", str) or None

    def set_model_path(self, path: Optional[Union[str, Path]]) -> None:
        self.q.setValue("prefs/model", str(path) if path else "")

    def export_options(self) -> dict:
        """The last export's options; the defaults are ``ExportOptions``'s (one definition, in the core)."""
        d = ExportOptions(format=DEFAULT_FORMAT)
        return {
            "format": self._get("export/format", d.format, str),
            "quality": self._get("export/quality", d.quality, int),
            "subsampling": self._get("export/subsampling", d.subsampling, str),
            "bits": self._get("export/bits", d.bits, int),
            "strip_metadata": self._get("export/strip_metadata", d.strip_metadata, bool),
            "long_edge": self._get("export/long_edge", 0, int) or None,
        }

    def set_export_options(self, options: dict) -> None:
        for key, value in options.items():
            self.q.setValue(f"export/{key}", 0 if value is None else value)

    def export_presets(self) -> list[ExportPreset]:
        """The user's own export presets (the built-in ones are not stored)."""
        return presets_from_json(self._get("export/presets", "", str))

    def set_export_presets(self, presets: list[ExportPreset]) -> None:
        self.q.setValue("export/presets", presets_to_json(presets))

    # -- batch export -----------------------------------------------------------------------
    def batch_exposure(self) -> tuple[str, Optional[float]]:
        """The batch dialog's exposure mode ("sidecar", "auto" or "fixed") and fixed T (None: never
        chosen), as last used. New: each photo's own saved settings."""
        return self._get("batch/exposure_mode", "sidecar", str), self._get("batch/T", None, float)

    def set_batch_exposure(self, mode: str, T: float) -> None:
        self.q.setValue("batch/exposure_mode", mode)
        self.q.setValue("batch/T", float(T))

    # -- editing ----------------------------------------------------------------------------
    def start_at_auto(self) -> bool:
        """Whether a photo opened for the first time starts at its automatic exposure (on unless
        turned off: see ``START_AT_AUTO``)."""
        return self._get("edit/start_at_auto", START_AT_AUTO, bool)

    def set_start_at_auto(self, on: bool) -> None:
        self.q.setValue("edit/start_at_auto", bool(on))

    # -- view -------------------------------------------------------------------------------
    def compare_mode(self) -> str:
        return self._get("view/compare", "split", str)

    def set_compare_mode(self, mode: str) -> None:
        self.q.setValue("view/compare", mode)

    def history_shown(self) -> bool:
        """Whether the History list is shown (View › History)."""
        return self._get("view/history", True, bool)

    def set_history_shown(self, on: bool) -> None:
        self.q.setValue("view/history", bool(on))

    def histogram_mode(self) -> str:
        return self._get("view/histogram", "rgb", str)

    def set_histogram_mode(self, mode: str) -> None:
        self.q.setValue("view/histogram", mode)

    def geometry(self) -> Optional[QByteArray]:
        value = self.q.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def set_geometry(self, value: QByteArray) -> None:
        self.q.setValue("window/geometry", value)

    def sync(self) -> None:
        self.q.sync()
