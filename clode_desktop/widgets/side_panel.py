"""The panel right of the image: histogram, exposure dial and highlight protection, local exposure
layers, noise reduction, photo details."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE

from .exposure_dial import ExposureControl
from .histogram import Histogram
from .layers_panel import LayersPanel

__all__ = ["DEFAULT_COLOUR_NOISE", "SidePanel", "StrengthSlider"]


def section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class StrengthSlider(QWidget):
    """A 0-100 % slider with its value beside it; ``value()`` is 0.0-1.0."""
    changed = Signal(float)

    def __init__(self, name: str, value: float, tip: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(name)
        self.slider.setRange(0, 100)
        self.slider.setToolTip(tip)
        self.label = QLabel()
        self.label.setObjectName("value")
        self.label.setMinimumWidth(44)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.set_value(value)
        self.slider.valueChanged.connect(self._moved)

    def value(self) -> float:
        return self.slider.value() / 100.0

    def set_value(self, value: float, emit: bool = False) -> None:
        self.slider.blockSignals(not emit)
        self.slider.setValue(round(min(max(value, 0.0), 1.0) * 100))
        self.slider.blockSignals(False)
        self.label.setText(f"{self.slider.value()} %")

    def _moved(self, value: int) -> None:
        self.label.setText(f"{value} %")
        self.changed.emit(value / 100.0)


class SidePanel(QWidget):
    denoiseChanged = Signal(float)
    colourNoiseChanged = Signal(float)
    neutralChanged = Signal(bool)
    protectChanged = Signal(float)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidePanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(300)

        self.histogram = Histogram()
        self.exposure = ExposureControl()

        self.denoise = StrengthSlider("denoiseSlider", DEFAULT_DENOISE,
                                      "Strength of the model's denoiser: 0 = off, 100 % = as trained")
        self.colour_noise = StrengthSlider("colourNoiseSlider", DEFAULT_COLOUR_NOISE,
                                           "Colour-noise reduction: softens colour speckle, keeps detail "
                                           "(blurs chroma only; 100 % = 2 photo pixels)")
        self.protect = StrengthSlider("protectSlider", 0.0,
                                      "Protect highlights: lamps, lit windows and bright sky get a shorter "
                                      "exposure than the shadows (100 % = they stay as photographed)")
        highlights = QFormLayout()
        highlights.addRow("Highlights", self.protect)
        noise = QFormLayout()
        noise.addRow("Denoiser", self.denoise)
        noise.addRow("Colour", self.colour_noise)
        self.neutral = QCheckBox("Neutral colours")
        self.neutral.setObjectName("neutralCheck")
        self.neutral.setToolTip("Take out the photo's colour cast (white balance). Off: the photo keeps "
                                "its own colours, which the exposure never changes.")

        self.layers = LayersPanel()

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
        layout.addLayout(highlights)
        layout.addWidget(self.neutral)
        layout.addSpacing(6)
        layout.addWidget(section("Local exposure"))
        layout.addWidget(self.layers)
        layout.addSpacing(6)
        layout.addWidget(section("Noise reduction"))
        layout.addLayout(noise)
        layout.addSpacing(6)
        layout.addWidget(section("Photo"))
        layout.addLayout(self.info)
        layout.addWidget(section("Model"))
        layout.addWidget(self.model_label)
        layout.addStretch(1)

        self.denoise.changed.connect(self.denoiseChanged)
        self.colour_noise.changed.connect(self.colourNoiseChanged)
        self.neutral.toggled.connect(self.neutralChanged)
        self.protect.changed.connect(self.protectChanged)

    def denoise_value(self) -> float:
        return self.denoise.value()

    def set_denoise(self, value: float, emit: bool = False) -> None:
        self.denoise.set_value(value, emit)

    def colour_noise_value(self) -> float:
        return self.colour_noise.value()

    def set_colour_noise(self, value: float, emit: bool = False) -> None:
        self.colour_noise.set_value(value, emit)

    def protect_value(self) -> float:
        return self.protect.value()

    def set_protect(self, value: float, emit: bool = False) -> None:
        self.protect.set_value(value, emit)

    def neutral_value(self) -> bool:
        return self.neutral.isChecked()

    def set_neutral(self, on: bool, emit: bool = False) -> None:
        blocked = self.neutral.blockSignals(not emit)
        self.neutral.setChecked(bool(on))
        self.neutral.blockSignals(blocked)

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
