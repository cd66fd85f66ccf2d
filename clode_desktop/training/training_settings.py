"""The training panel's settings: a preset that suits this computer ("Quick on this computer",
"Thorough", "Custom") with its time and memory estimate, the model's name, where it starts, how
long, brightness, crop, device and the advanced options; ``settings_args()`` turns them into
``clode train`` arguments and ``check()`` refuses a setting that would not fit in memory.

The presets and the estimate come from ``clode.training.recipes``; how much memory is free is
asked through ``free_memory`` (given to the constructor, so a test can stand in a small computer).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QSlider, QSpinBox, QToolButton, QWidget)

from clode.training import recipes as recipes
from clode.engine.devices import devices, resolve_device
from clode.base.errors import ClodeError
from clode.training.model_library import free_name

from ..widgets.training_widgets import hint

E_RANGE = (0.45, 0.70)           # the brightness slider's span (exposure target E)
CROPS = (32, 48, 64, 96, 128, 192, 256)
#: the solvers offered, with what a person reads
SOLVERS = {"rk4:1.0": "Fast: RK4, 3 steps", "rk4:0.5": "Finer: RK4, 6 steps",
           "dopri5:1e-3": "Adaptive: dopri5 (GPU recipe)"}
HOLDOUT = 0.15                   # share of the photos kept aside to validate on


class TrainingSettings(QGroupBox):
    #: the estimate changed: whether the setting fits in memory
    estimated = Signal(bool)

    def __init__(self, free_memory: Callable[[torch.device], int] = recipes.free_memory,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__("2. Settings", parent)
        self.free_memory = free_memory
        self._applying = False
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("preset")
        for key in (*recipes.PRESETS, "custom"):
            self.preset_box.addItem(recipes.PRESET_LABELS[key], key)
        self.preset_box.setToolTip("Quick: about 10 minutes on this computer's processor, sized to its free "
                                   "memory. Thorough: bigger patches and more steps, about an hour. Custom: "
                                   "your own crop, batch, solver and length (changing any of them picks it)")
        self.estimate_label = hint("")
        self.estimate_label.setObjectName("estimate")
        self.name_edit = QLineEdit(free_name("my-photos"))
        self.name_edit.setObjectName("modelName")
        self.name_edit.setToolTip("The new model's name: it is saved in your models folder and listed "
                                  "under Your models and in Preferences")
        self.init_box = QComboBox()
        self.init_box.setToolTip("The model to adapt to your photos: the default model (recommended), one "
                                  "of yours, or nothing (from scratch: needs thousands of steps)")
        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 1_000_000)
        self.steps_box.setValue(500)
        self.steps_box.setSingleStep(100)
        self.steps_box.setToolTip("How long to train: optimiser steps, or minutes of training")
        self.unit_box = QComboBox()
        self.unit_box.addItem("steps", "steps")
        self.unit_box.addItem("minutes", "minutes")
        self.unit_box.setToolTip("Count the length in steps, or stop after this many minutes")
        self.unit_box.currentIndexChanged.connect(self._unit_changed)
        length = QHBoxLayout()
        length.addWidget(self.steps_box, 1)
        length.addWidget(self.unit_box)
        self.bright_slider = QSlider(Qt.Orientation.Horizontal)
        self.bright_slider.setObjectName("brightness")
        self.bright_slider.setRange(round(E_RANGE[0] * 100), round(E_RANGE[1] * 100))
        self.bright_slider.setValue(60)
        self.bright_slider.setToolTip("The exposure target: the mean brightness the model aims for at its "
                                      "default exposure (0.60 is the default model's)")
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
        self.crop_box.setToolTip("Side of the square patches cut from your photos: bigger patches see more "
                                 "context; memory and time grow with the patch's area")
        self.device_box = QComboBox()
        self.device_box.addItem("Automatic (best available)", "auto")
        for d in devices():
            self.device_box.addItem(d.label, d.key)
        self.device_box.setToolTip("Where to train: a GPU is many times faster than the processor")

        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setToolTip("Learning rate, batch size, solver and backward pass")
        self.advanced = QWidget()
        self.lr_box = QComboBox()
        self.lr_box.setEditable(True)
        for lr in ("3e-5", "1e-4", "3e-4", "1e-3"):
            self.lr_box.addItem(lr)
        self.lr_box.setCurrentText("1e-4")
        self.lr_box.setToolTip("How big each step's change is (it decays to a tenth over the run); small "
                               "rates keep more of what the starting model knows")
        self.batch_box = QSpinBox()
        self.batch_box.setRange(1, 64)
        self.batch_box.setValue(8)
        self.batch_box.setToolTip("Patches per step: bigger is steadier; memory and time grow with it")
        self.solver_box = QComboBox()
        for key, label in SOLVERS.items():
            self.solver_box.addItem(label, key)
        self.solver_box.setToolTip("How the exposure curve is followed in training: fewer steps are faster "
                                   "and use less memory; the adaptive solver is the GPU recipe")
        self.adjoint_box = QCheckBox("Memory-lean backward pass (adjoint)")
        self.adjoint_box.setToolTip("Memory no longer grows with the solver's steps, at about twice the time")
        adv = QFormLayout(self.advanced)
        adv.addRow("Learning rate:", self.lr_box)
        adv.addRow(hint("Small rates keep more of what the starting model knows."))
        adv.addRow("Batch size:", self.batch_box)
        adv.addRow(hint("Patches per step: bigger is steadier, needs more memory."))
        adv.addRow("Solver:", self.solver_box)
        adv.addRow(self.adjoint_box)
        adv.setContentsMargins(12, 0, 0, 0)
        self.advanced_toggle.toggled.connect(self.show_advanced)
        self.show_advanced(False)

        form = QFormLayout(self)
        form.addRow("Preset:", self.preset_box)
        form.addRow(self.estimate_label)
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
        self.preset_box.currentIndexChanged.connect(lambda _: self.apply_preset())
        self.device_box.currentIndexChanged.connect(lambda _: self.apply_preset())
        for signal in (self.steps_box.valueChanged, self.unit_box.currentIndexChanged, self.crop_box.currentIndexChanged,
                       self.batch_box.valueChanged, self.solver_box.currentIndexChanged, self.adjoint_box.toggled):
            signal.connect(self._edited)
        self.apply_preset()

    def preset(self) -> str:
        return self.preset_box.currentData()

    def device(self) -> torch.device:
        return resolve_device(self.device_box.currentData())

    def apply_preset(self) -> None:
        """Fill the cost settings from the chosen preset for the chosen device (Custom keeps them)."""
        if self.preset() != "custom":
            r = recipes.recipe(self.preset(), self.device(), self.free_memory(self.device()))
            self._applying = True
            try:
                self.unit_box.setCurrentIndex(self.unit_box.findData("steps"))
                self.steps_box.setValue(r.steps)
                self.crop_box.setCurrentIndex(self.crop_box.findData(r.crop))
                self.batch_box.setValue(r.batch)
                self.solver_box.setCurrentIndex(self.solver_box.findData(r.solver))
                self.adjoint_box.setChecked(r.adjoint)
            finally:
                self._applying = False
        self.update_estimate()

    def _edited(self, *_) -> None:
        if not self._applying:
            if self.preset() != "custom":
                self.preset_box.blockSignals(True)
                self.preset_box.setCurrentIndex(self.preset_box.findData("custom"))
                self.preset_box.blockSignals(False)
            self.update_estimate()

    def estimate(self) -> recipes.Estimate:
        device = self.device()
        return recipes.estimate(self.crop_box.currentData(), self.batch_box.value(), self.solver_box.currentData(),
                                self.adjoint_box.isChecked(), device, free=self.free_memory(device))

    def update_estimate(self) -> None:
        est = self.estimate()
        minutes = self.unit_box.currentData() == "minutes"
        text = est.describe(None if minutes else self.steps_box.value())
        if minutes and est.step_seconds:
            text += f", about {self.steps_box.value() * 60 / est.step_seconds:.0f} steps in that time"
        self.estimate_label.setText(("Needs " + text + ".") if est.fits else
                                    "<b>Too big for the memory free now:</b> " + text +
                                    ". Choose a smaller crop or batch, or the Quick preset.")
        self.estimate_label.setStyleSheet("" if est.fits else "color: #f08070;")
        self.estimate_label.setToolTip("Estimated from measured runs (clode.training.recipes); the time "
                                       "left while training comes from the measured step times")
        self.estimated.emit(est.fits)

    def check(self) -> None:
        """A one-line ``ClodeError`` when the setting would not fit in the memory free now."""
        est = self.estimate()
        if not est.fits:
            raise ClodeError(recipes.too_big(est, self.crop_box.currentData(), self.batch_box.value(),
                                             self.solver_box.currentData(), self.adjoint_box.isChecked(),
                                             self.device()))

    def show_advanced(self, on: bool) -> None:
        self.advanced_toggle.setChecked(on)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.advanced.setVisible(on)

    def _unit_changed(self, *_) -> None:
        minutes = self.unit_box.currentData() == "minutes"
        if not self._applying:
            self.steps_box.setValue(30 if minutes else 500)
        self.steps_box.setSingleStep(5 if minutes else 100)
        self.length_hint.setText("Training stops after this many minutes (or when you stop it)." if minutes else
                                 "The presets choose the steps from the time a step takes on this computer.")

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
                "--device", self.device_box.currentData(), "--checkpoint-every", str(every),
                "--solver", self.solver_box.currentData(),
                "--adjoint" if self.adjoint_box.isChecked() else "--no-adjoint", "--holdout", repr(HOLDOUT)]
        if minutes:
            args += ["--minutes", repr(minutes)]
        # "" is the box's "Nothing (train from scratch)"; the trainer's own default is the shipped model
        args += ["--init", self.init_box.currentData() or "scratch"]
        return args, steps, minutes
