"""The panel right of the image: histogram, exposure dial, denoise, photo details."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from .exposure_dial import ExposureControl
from .histogram import Histogram


def section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class SidePanel(QWidget):
    denoiseChanged = Signal(float)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(300)

        self.histogram = Histogram()
        self.exposure = ExposureControl()

        self.denoise = QSlider(Qt.Orientation.Horizontal)
        self.denoise.setObjectName("denoiseSlider")
        self.denoise.setRange(0, 100)
        self.denoise.setValue(100)
        self.denoise.setToolTip("Strength of the model's denoiser: 0 = off, 100 % = as trained")
        self.denoise_label = QLabel("100 %")
        self.denoise_label.setObjectName("value")
        self.denoise_label.setMinimumWidth(44)
        self.denoise_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout()
        row.addWidget(self.denoise, 1)
        row.addWidget(self.denoise_label)

        self.info = QFormLayout()
        self.info.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.model_label = QLabel("—")
        self.model_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.addWidget(section("Histogram"))
        layout.addWidget(self.histogram)
        layout.addSpacing(6)
        layout.addWidget(section("Exposure"))
        layout.addWidget(self.exposure)
        layout.addSpacing(6)
        layout.addWidget(section("Denoise"))
        layout.addLayout(row)
        layout.addSpacing(6)
        layout.addWidget(section("Photo"))
        layout.addLayout(self.info)
        layout.addWidget(section("Model"))
        layout.addWidget(self.model_label)
        layout.addStretch(1)

        self.denoise.valueChanged.connect(self._denoise_moved)

    def denoise_value(self) -> float:
        return self.denoise.value() / 100.0

    def set_denoise(self, value: float, emit: bool = False) -> None:
        self.denoise.blockSignals(not emit)
        self.denoise.setValue(round(min(max(value, 0.0), 1.0) * 100))
        self.denoise.blockSignals(False)
        self.denoise_label.setText(f"{self.denoise.value()} %")

    def _denoise_moved(self, value: int) -> None:
        self.denoise_label.setText(f"{value} %")
        self.denoiseChanged.emit(value / 100.0)

    def set_photo_info(self, info: dict) -> None:
        while self.info.rowCount():
            self.info.removeRow(0)
        for key, value in info.items():
            v = QLabel(str(value))
            v.setObjectName("value")
            v.setWordWrap(True)
            v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.info.addRow(QLabel(key), v)

    def set_model_text(self, text: str) -> None:
        self.model_label.setText(text)
