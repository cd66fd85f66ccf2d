"""The export options form, the one the Export dialog and the Batch Export dialog both show: a preset,
format, quality, chroma subsampling, bit depth, size (long edge) and metadata.

Choosing a preset fills the form and tells the dialog (``presetChosen``), which also takes the
preset's output folder; any change to a field makes the choice "Custom". "Save…" keeps the
form's values, with the dialog's output folder as a template (``folder_template``), as a preset
of the user's (in the app settings); "Delete" removes one of theirs.
"""

from __future__ import annotations

import dataclasses
import inspect
import weakref
from typing import Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QInputDialog, QPushButton, QSpinBox,
                               QWidget)

from clode.io.export import DEEP, DEFAULT_FORMAT, FORMAT_NAMES, LOSSY, ExportOptions
from clode.io.export_presets import BUILT_IN, DEFAULT_FOLDER, MAX_LONG_EDGE, ExportPreset, with_preset

from ..base.settings import Settings

CUSTOM = "Custom"
SUBSAMPLING_TEXTS = (("4:2:0", "4:2:0 (smaller)"), ("4:2:2", "4:2:2"), ("4:4:4", "4:4:4 (finest colour)"))


class ExportForm(QWidget):
    #: the user chose a preset (ExportPreset): the dialog takes its folder
    presetChosen = Signal(object)
    #: any option changed
    changed = Signal()

    def __init__(self, options: ExportOptions, settings: Optional[Settings] = None,
                 folder_template: Callable[[], str] = lambda: DEFAULT_FOLDER,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportForm")
        self.settings = settings
        # The dialog's method, held weakly: a strong one would tie the dialog and its form in a cycle
        # that keeps a deleted dialog's wrapper alive until the garbage collector runs.
        self._folder_template = (weakref.WeakMethod(folder_template) if inspect.ismethod(folder_template)
                                 else lambda: folder_template)
        self._filling = False

        self.preset = QComboBox()
        self.preset.setObjectName("exportPreset")
        self.save_preset = QPushButton("Save…")
        self.save_preset.setToolTip("Keep these options, and the output folder, as a preset")
        self.delete_preset = QPushButton("Delete")
        preset_row = QHBoxLayout()
        preset_row.addWidget(self.preset, 1)
        preset_row.addWidget(self.save_preset)
        preset_row.addWidget(self.delete_preset)

        self.format_box = QComboBox()
        for key, name in FORMAT_NAMES.items():
            self.format_box.addItem(name, key)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.subsampling = QComboBox()
        for key, text in SUBSAMPLING_TEXTS:
            self.subsampling.addItem(text, key)
        self.bits = QComboBox()
        self.bits.addItem("8 bits per channel", 8)
        self.bits.addItem("16 bits per channel", 16)
        self.long_edge = QSpinBox()
        self.long_edge.setObjectName("longEdge")
        self.long_edge.setRange(0, MAX_LONG_EDGE)
        self.long_edge.setSingleStep(256)
        self.long_edge.setSpecialValueText("Full size")
        self.long_edge.setSuffix(" px long edge")
        self.long_edge.setToolTip("Shrink so the longer side has this many pixels (Lanczos; never enlarged). "
                                  "0 = full size")
        self.strip = QCheckBox("Remove metadata (EXIF, GPS, camera, capture time)")

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        #: a dialog adds its own rows here (the batch's file names), aligned with the form's
        self.rows = form
        form.addRow("Preset:", preset_row)
        form.addRow("Format:", self.format_box)
        form.addRow("Quality:", self.quality)
        form.addRow("Chroma:", self.subsampling)
        form.addRow("Bit depth:", self.bits)
        form.addRow("Size:", self.long_edge)
        form.addRow("", self.strip)

        self._fill_presets()
        self.set_options(options)
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.save_preset.clicked.connect(self._save_clicked)
        self.delete_preset.clicked.connect(self._delete_clicked)
        for box in (self.format_box, self.subsampling, self.bits):
            box.currentIndexChanged.connect(self._edited)
        for spin in (self.quality, self.long_edge):
            spin.valueChanged.connect(self._edited)
        self.strip.toggled.connect(self._edited)
        self._update()

    # -- values ------------------------------------------------------------------------------------
    def format(self) -> str:
        return self.format_box.currentData()

    def options(self) -> ExportOptions:
        return ExportOptions(format=self.format(), quality=self.quality.value(),
                             subsampling=self.subsampling.currentData(), bits=self.bits.currentData(),
                             strip_metadata=self.strip.isChecked(), long_edge=self.long_edge.value() or None)

    def options_dict(self) -> dict:
        o = self.options()
        return {"format": o.format, "quality": o.quality, "subsampling": o.subsampling, "bits": o.bits,
                "strip_metadata": o.strip_metadata, "long_edge": o.long_edge}

    def set_options(self, o: ExportOptions) -> None:
        self._filling = True
        try:
            self.format_box.setCurrentIndex(max(0, self.format_box.findData(o.format or DEFAULT_FORMAT)))
            self.quality.setValue(int(o.quality))
            self.subsampling.setCurrentIndex(max(0, self.subsampling.findData(o.subsampling)))
            self.bits.setCurrentIndex(max(0, self.bits.findData(int(o.bits))))
            self.long_edge.setValue(int(o.long_edge or 0))
            self.strip.setChecked(bool(o.strip_metadata))
        finally:
            self._filling = False
        self._match_preset()
        self._update()

    # -- presets -----------------------------------------------------------------------------------
    def presets(self) -> list[ExportPreset]:
        return list(BUILT_IN) + (self.settings.export_presets() if self.settings is not None else [])

    def _fill_presets(self, select: Optional[str] = None) -> None:
        self.preset.blockSignals(True)
        self.preset.clear()
        self.preset.addItem(CUSTOM, None)
        for p in self.presets():
            self.preset.addItem(p.name, p)
            self.preset.setItemData(self.preset.count() - 1, p.describe() + f", into {p.folder}",
                                    Qt.ItemDataRole.ToolTipRole)
        self.preset.setCurrentIndex(max(0, self.preset.findText(select)) if select else 0)
        self.preset.blockSignals(False)

    def choose_preset(self, name: str) -> None:
        """Choose the preset ``name`` as the user does (its options, then its folder)."""
        i = self.preset.findText(name)
        if i > 0:
            self.preset.setCurrentIndex(i)

    def chosen_preset(self) -> Optional[ExportPreset]:
        return self.preset.currentData()

    def _preset_chosen(self, _index: int) -> None:
        p = self.preset.currentData()
        if p is None:
            self._update()
            return
        self.set_options(dataclasses.replace(p.options(), bits=p.bits))   # a JPEG preset keeps its bits for PNG
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(self.preset.findText(p.name))
        self.preset.blockSignals(False)
        self._update()
        self.presetChosen.emit(p)
        self.changed.emit()

    def _match_preset(self) -> None:
        """Show the preset the options are, else Custom (the folder is not compared: the dialog's)."""
        now = self.options()
        current = self.preset.currentData()
        if current is not None and _same(current, now):
            return
        match = next((i for i in range(1, self.preset.count()) if _same(self.preset.itemData(i), now)), 0)
        self.preset.blockSignals(True)
        self.preset.setCurrentIndex(match)
        self.preset.blockSignals(False)

    def save_as_preset(self, name: str) -> Optional[ExportPreset]:
        """Keep the form's options and the dialog's folder as the user's preset ``name``."""
        name = name.strip()
        if not name or self.settings is None or any(p.name == name for p in BUILT_IN):
            return None
        template = self._folder_template()
        preset = ExportPreset.from_options(name, self.options(), template() if template else DEFAULT_FOLDER)
        self.settings.set_export_presets(with_preset(self.settings.export_presets(), preset))
        self._fill_presets(select=name)
        self._update()
        return preset

    def _save_clicked(self) -> None:
        name, ok = QInputDialog.getText(self, "Save Export Preset", "Name of the preset:")
        if ok:
            self.save_as_preset(name)

    def delete_chosen_preset(self) -> None:
        p = self.preset.currentData()
        if p is None or p in BUILT_IN or self.settings is None:
            return
        self.settings.set_export_presets([q for q in self.settings.export_presets() if q.name != p.name])
        self._fill_presets()
        self._update()

    def _delete_clicked(self) -> None:
        self.delete_chosen_preset()

    # -- state -------------------------------------------------------------------------------------
    def _edited(self, *_) -> None:
        if self._filling:
            return
        self._match_preset()
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        fmt = self.format()
        self.quality.setEnabled(fmt in LOSSY)
        self.subsampling.setEnabled(fmt == "jpeg")
        self.bits.setEnabled(fmt in DEEP)
        p = self.preset.currentData()
        self.save_preset.setEnabled(self.settings is not None)
        self.delete_preset.setEnabled(self.settings is not None and p is not None and p not in BUILT_IN)


def _same(p: Optional[ExportPreset], o: ExportOptions) -> bool:
    if p is None:
        return False
    q = p.options()
    return (q.format, q.quality, q.long_edge, q.strip_metadata) == (o.format, o.quality, o.long_edge, o.strip_metadata) \
        and (q.format != "jpeg" or q.subsampling == o.subsampling) and (q.format not in DEEP or p.bits == o.bits)
