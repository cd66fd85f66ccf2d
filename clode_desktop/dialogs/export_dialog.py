"""Export options: where, and the export options form (preset, format, quality, bit depth, size, metadata)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QPushButton, QVBoxLayout, QWidget)

from clode.base.errors import ClodeError
from clode.io.export import FORMAT_EXTENSIONS, FORMAT_NAMES, ExportOptions
from clode.io.export_presets import expand_folder, folder_template
from clode.base.pixels import fit_size

from .export_form import ExportForm
from ..base.settings import Settings


def default_target(source: Path, fmt: str, folder: Optional[str] = None) -> Path:
    """``<name>-clode.<ext>`` beside the photo (or in the last export folder)."""
    base = Path(folder) if folder and Path(folder).is_dir() else source.parent
    return base / f"{source.stem}-clode{FORMAT_EXTENSIONS[fmt]}"


class ExportDialog(QDialog):
    def __init__(self, source: Path, options: dict, folder: Optional[str] = None,
                 parent: Optional[QWidget] = None, size_text: str = "", settings: Optional[Settings] = None,
                 full_size: Optional[tuple[int, int]] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self.source = Path(source)
        self.full_size = full_size                  # (H, W) of the photo, for the size note
        self.size_text = size_text

        known = {f.name for f in dataclasses.fields(ExportOptions)}
        start = ExportOptions(**{k: v for k, v in options.items() if k in known})
        self.form = ExportForm(start, settings, self._folder_template)
        # the form's fields under the names the tests and older callers know
        self.format_box, self.quality, self.bits = self.form.format_box, self.form.quality, self.form.bits
        self.subsampling, self.strip, self.long_edge = self.form.subsampling, self.form.strip, self.form.long_edge

        self.path_edit = QLineEdit(str(default_target(self.source, self.format(), folder)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        top = QFormLayout()
        top.addRow("Save as:", path_row)
        self.note = QLabel("")
        self.note.setObjectName("hint")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.form.changed.connect(self._format_changed)
        self.form.presetChosen.connect(self._preset_chosen)
        self._format_changed()

    def format(self) -> str:
        return self.form.format()

    def _format_changed(self) -> None:
        fmt = self.format()
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(FORMAT_EXTENSIONS[fmt])))
        self.note.setText(self._size_note() + ". The original file is never changed.")

    def _size_note(self) -> str:
        edge = self.form.options().long_edge
        if self.full_size is not None and edge:
            h, w = fit_size(*self.full_size, edge)
            if (h, w) != tuple(self.full_size):
                return f"Resized to {w} × {h} (from {self.full_size[1]} × {self.full_size[0]})"
        return "Full resolution" + (f" ({self.size_text})" if self.size_text else "")

    def _preset_chosen(self, preset) -> None:
        """A preset's folder: the target moves there, keeping its name."""
        try:
            folder = expand_folder(preset.folder, self.source.parent)
        except ClodeError:
            return
        self.path_edit.setText(str(folder / self.target().name))
        self._format_changed()

    def _folder_template(self) -> str:
        return folder_template(self.target().parent, self.source.parent)

    def _browse(self) -> None:
        fmt = self.format()
        ext = FORMAT_EXTENSIONS[fmt]
        path, _ = QFileDialog.getSaveFileName(self, "Export as", self.path_edit.text(),
                                              f"{FORMAT_NAMES[fmt]} (*{ext})")
        if path:
            if not Path(path).suffix:
                path += ext
            self.path_edit.setText(path)

    def target(self) -> Path:
        return Path(self.path_edit.text().strip()).expanduser()

    def options(self) -> ExportOptions:
        return self.form.options()

    def options_dict(self) -> dict:
        return self.form.options_dict()

    def _accept(self) -> None:
        target = self.target()
        if not self.path_edit.text().strip():
            return
        try:
            same = target.resolve() == self.source.resolve()
        except OSError:
            same = False
        if same:
            QMessageBox.warning(self, "Export", "That is the original photo; choose another name.")
            return
        if target.exists():
            answer = QMessageBox.question(self, "Export", f"{target.name} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.accept()
