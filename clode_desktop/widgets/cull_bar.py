"""The filter bar above the filmstrip: which photos of the folder it shows (by flag, stars and colour
label), and how many of them."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from clode.io.culling import LABELS, MAX_RATING, Filter

FLAG_TEXTS = {"all": "All photos", "picked": "Picked", "unrejected": "Not rejected", "rejected": "Rejected"}


class CullBar(QWidget):
    #: the user chose another filter (clode.io.culling.Filter)
    filterChanged = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("cullBar")
        self.flags = QComboBox()
        self.flags.setObjectName("filterFlags")
        for key in Filter.FLAG_CHOICES:
            self.flags.addItem(FLAG_TEXTS[key], key)
        self.stars = QComboBox()
        self.stars.setObjectName("filterStars")
        self.stars.addItem("Any rating", 0)
        for n in range(1, MAX_RATING + 1):
            self.stars.addItem("★" * n + (" or more" if n < MAX_RATING else ""), n)
        self.label = QComboBox()
        self.label.setObjectName("filterLabel")
        self.label.addItem("Any label", None)
        for name in LABELS:
            self.label.addItem(name.capitalize(), name)
        self.count = QLabel("")
        self.count.setObjectName("hint")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 8, 2)
        show = QLabel("Show:")
        show.setObjectName("hint")
        row.addWidget(show)
        for box in (self.flags, self.stars, self.label):
            row.addWidget(box)
            box.currentIndexChanged.connect(lambda _i: self.filterChanged.emit(self.filter()))
        row.addStretch(1)
        row.addWidget(self.count)
        self.setToolTip("Rate with 0-5, pick P, reject X, unflag U, colour labels 6-9 (red, yellow, green, blue)")

    def filter(self) -> Filter:
        return Filter(min_rating=self.stars.currentData(), flags=self.flags.currentData(),
                      label=self.label.currentData())

    def set_filter(self, f: Filter) -> None:
        """Show ``f`` in the boxes (no signal: the caller applies it)."""
        for box, value in ((self.flags, f.flags), (self.stars, f.min_rating), (self.label, f.label)):
            box.blockSignals(True)
            box.setCurrentIndex(0 if value is None else max(0, box.findData(value)))
            box.blockSignals(False)

    def set_count(self, shown: int, total: int) -> None:
        self.count.setText(f"{total} photos" if shown == total else f"{shown} of {total} photos")
