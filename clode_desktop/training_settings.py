"""The training panel's settings: the model's name, where it starts, how long, brightness, crop,
device and the advanced options; ``settings_args()`` turns them into ``clode train`` arguments."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QSlider,
                               QSpinBox, QToolButton, QWidget)

from clode.devices import devices
from clode.errors import ClodeError
from clode.model_library import free_name

from .training_widgets import hint

E_RANGE = (0.45, 0.70)           # the brightness slider's span (exposure target E)
CROPS = (64, 96, 128, 192, 256)


class TrainingSettings(QGroupBox):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("2. Settings", parent)
        self.name_edit = QLineEdit(free_name("my-photos"))
        self.name_edit.setObjectName("modelName")
        self.init_box = QComboBox()
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 1_000_000)
        self.steps_box.setValue(500)
        self.steps_box.setSingleStep(100)
        self.unit_box = QComboBox()
        self.unit_box.addItem("steps", "steps")
        self.unit_box.addItem("minutes", "minutes")
        self.unit_box.currentIndexChanged.connect(self._unit_changed)
        length = QHBoxLayout()
        length.addWidget(self.steps_box, 1)
        length.addWidget(self.unit_box)
        self.bright_slider = QSlider(Qt.Orientation.Horizontal)
        self.bright_slider.setObjectName("brightness")
        self.bright_slider.setRange(round(E_RANGE[0] * 100), round(E_RANGE[1] * 100))
        self.bright_slider.setValue(60)
        self.bright_value = QLabel()
        self.bright_value.setMinimumWidth(32)
        self.bright_slider.valueChanged.connect(lambda v: self.bright_value.setText(f"{v / 100:.2f}"))
        self.bright_value.setText("0.60")
        bright = QHBoxLayout()
        bright.addWidget(hint("darker"))
        bright.addWidget(self.bright_slider, 1)
        bright.addWidget(hint("brighter"))
        bright.addWidget(self.bright_value)
        self.crop_box = QComboBox()
        for c in CROPS:
            self.crop_box.addItem(f"{c} × {c}", c)
        self.crop_box.setCurrentIndex(CROPS.index(128))
        self.device_box = QComboBox()
        self.device_box.addItem("Automatic (best available)", "auto")
        for d in devices():
            self.device_box.addItem(d.label, d.key)

        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = QWidget()
        self.lr_box = QComboBox()
        self.lr_box.setEditable(True)
        for lr in ("3e-5", "1e-4", "3e-4", "1e-3"):
            self.lr_box.addItem(lr)
        self.lr_box.setCurrentText("1e-4")
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 64)
        self.batch_box.setValue(8)
        adv = QFormLayout(self.advanced)
        adv.addRow("Learning rate:", self.lr_box)
        adv.addRow(hint("Small rates keep more of what the starting model knows."))
        adv.addRow("Batch size:", self.batch_box)
        adv.addRow(hint("Patches per step: bigger is steadier, needs more memory."))
        adv.setContentsMargins(12, 0, 0, 0)
        self.advanced_toggle.toggled.connect(self.show_advanced)
        self.show_advanced(False)

        form = QFormLayout(self)
        form.addRow("Name:", self.name_edit)
        form.addRow("Start from:", self.init_box)
        form.addRow(hint("Fine-tuning adapts a trained model to your photos."))
        form.addRow("How long:", length)
        self.length_hint = hint("")
        form.addRow(self.length_hint)
        form.addRow("Brightness:", bright)
        form.addRow(hint("How bright the model makes a typical scene."))
        form.addRow("Crop size:", self.crop_box)
        form.addRow(hint("Patch size: bigger sees more context, needs more memory."))
        form.addRow("Device:", self.device_box)
        form.addRow(self.advanced_toggle)
        form.addRow(self.advanced)
        self._unit_changed()

    def show_advanced(self, on: bool) -> None:
        self.advanced_toggle.setChecked(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(on)

    def _unit_changed(self, *_) -> None:
        minutes = self.unit_box.currentData() == "minutes"
        self.steps_box.setValue(30 if minutes else 500)
        self.steps_box.setSingleStep(5 if minutes else 100)
        self.length_hint.setText("Training stops after this many minutes (or when you stop it)." if minutes else
                                 "A few hundred steps adapt the model to your photos.")

    def settings_args(self) -> tuple[list[str], int, Optional[float]]:
        """The ``clode train`` arguments for the panel's settings, the step count and the minutes."""
        try:
            lr = float(self.lr_box.currentText())
            if not 0 < lr < 1:
                raise ValueError
        except ValueError:
            raise ClodeError(f"the learning rate '{self.lr_box.currentText()}' is not a number between 0 and 1")
        minutes = float(self.steps_box.value()) if self.unit_box.currentData() == "minutes" else None
        # A run limited by time gets a step budget it will not reach; its learning rate then stays
        # near the chosen one (the schedule decays over the steps).
        steps = 1_000_000 if minutes else self.steps_box.value()
        every = 50 if minutes else max(10, steps // 20)
        args = ["--steps", str(steps), "--crop", str(self.crop_box.currentData()), "--batch",
                str(self.batch_box.value()), "--lr", repr(lr), "--E", f"{self.bright_slider.value() / 100:.2f}",
                "--device", self.device_box.currentData(), "--checkpoint-every", str(every)]
        if minutes:
            args += ["--minutes", repr(minutes)]
        init = self.init_box.currentData()
        if init:
            args += ["--init", init]
        return args, steps, minutes
