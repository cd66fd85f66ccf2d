"""Edit › Paste Settings… and Sync Settings…: which settings to copy onto which photos."""

from __future__ import annotations

from typing import Iterable, Optional

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from clode.base.adjustments import Adjustments

from ..rules.history import LABELS, describe


class PasteDialog(QDialog):
    def __init__(self, source: Adjustments, targets: int, title: str = "Paste Settings",
                 chosen: Optional[Iterable[str]] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("pasteDialog")
        self.setWindowTitle(title)
        chosen = set(Adjustments.names() if chosen is None else chosen)
        layout = QVBoxLayout(self)
        what = QLabel(f"Copy these settings onto {targets} photo{'s' if targets != 1 else ''}:")
        what.setWordWrap(True)
        layout.addWidget(what)
        self.boxes: dict[str, QCheckBox] = {}
        for name in Adjustments.names():
            box = QCheckBox(f"{LABELS.get(name, name)}:  {describe(name, getattr(source, name))}")
            box.setObjectName(f"paste_{name}")
            box.setChecked(name in chosen)
            box.toggled.connect(self._update)
            layout.addWidget(box)
            self.boxes[name] = box
        hint = QLabel("Each photo keeps the settings left unticked; Ctrl+Z undoes it on the photo being edited.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Paste")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()

    def chosen(self) -> list[str]:
        return [n for n, box in self.boxes.items() if box.isChecked()]

    def set_chosen(self, names: Iterable[str]) -> None:
        names = set(names)
        for n, box in self.boxes.items():
            box.setChecked(n in names)

    def _update(self, *_) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.chosen()))
