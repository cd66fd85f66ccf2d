"""Export options: where, which format, quality, bit depth, metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from clode.export import DEEP, FORMAT_EXTENSIONS, FORMAT_NAMES, LOSSY, ExportOptions


def default_target(source: Path, fmt: str, folder: Optional[str] = None) -> Path:
    """``<name>-clode.<ext>`` beside the photo (or in the last export folder)."""
    base = Path(folder) if folder and Path(folder).is_dir() else source.parent
    return base / f"{source.stem}-clode{FORMAT_EXTENSIONS[fmt]}"


class ExportDialog(QDialog):
    def __init__(self, source: Path, options: dict, folder: Optional[str] = None,
                 parent: Optional[QWidget] = None, size_text: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.setMinimumWidth(560)
        self.source = Path(source)

        self.format_box = QComboBox()
        for key, name in FORMAT_NAMES.items():
            self.format_box.addItem(name, key)
        fmt = options.get("format", "jpeg")
        self.format_box.setCurrentIndex(max(0, self.format_box.findData(fmt)))

        self.path_edit = QLineEdit(str(default_target(self.source, self.format(), folder)))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)

        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(int(options.get("quality", 92)))
        self.subsampling = QComboBox()
        for s, text in (("4:2:0", "4:2:0 (smaller)"), ("4:4:4", "4:4:4 (finest colour)")):
            self.subsampling.addItem(text, s)
        self.subsampling.setCurrentIndex(max(0, self.subsampling.findData(options.get("subsampling", "4:2:0"))))
        self.bits = QComboBox()
        self.bits.addItem("8 bits per channel", 8)
        self.bits.addItem("16 bits per channel", 16)
        self.bits.setCurrentIndex(max(0, self.bits.findData(int(options.get("bits", 8)))))
        self.strip = QCheckBox("Remove metadata (EXIF, GPS, camera, capture time)")
        self.strip.setChecked(bool(options.get("strip_metadata", False)))

        form = QFormLayout()
        form.addRow("Save as:", path_row)
        form.addRow("Format:", self.format_box)
        form.addRow("Quality:", self.quality)
        form.addRow("Chroma:", self.subsampling)
        form.addRow("Bit depth:", self.bits)
        form.addRow("", self.strip)
        note = QLabel(("Full resolution" + (f" ({size_text})" if size_text else "")) +
                      ". The original file is never changed.")
        note.setObjectName("hint")
        form.addRow("", note)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.format_box.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

    def format(self) -> str:
        return self.format_box.currentData()

    def _format_changed(self) -> None:
        fmt = self.format()
        self.quality.setEnabled(fmt in LOSSY)
        self.subsampling.setEnabled(fmt == "jpeg")
        self.bits.setEnabled(fmt in DEEP)
        text = self.path_edit.text().strip()
        if text:
            self.path_edit.setText(str(Path(text).with_suffix(FORMAT_EXTENSIONS[fmt])))

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
        return ExportOptions(format=self.format(), quality=self.quality.value(),
                             subsampling=self.subsampling.currentData(), bits=self.bits.currentData(),
                             strip_metadata=self.strip.isChecked())

    def options_dict(self) -> dict:
        o = self.options()
        return {"format": o.format, "quality": o.quality, "subsampling": o.subsampling, "bits": o.bits,
                "strip_metadata": o.strip_metadata}

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
