"""Preferences: the compute device, the model, how a new photo starts, and what Auto learned from your edits."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QRadioButton, QVBoxLayout, QWidget)

from clode.engine import taste
from clode.engine.devices import devices
from clode.training.model_library import user_models
from clode.base.paths import user_models_dir
from clode.engine.weights import DEFAULT_MODEL



class PreferencesDialog(QDialog):
    def __init__(self, device: str, model_path: Optional[str], parent: Optional[QWidget] = None,
                 note: str = "", start_at_auto: bool = True, taste_model: Optional[str] = None) -> None:
        """``taste_model``: the loaded model's key in the taste records (``clode.engine.taste.model_key``);
        None: no model loaded, nothing learned to show."""
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setMinimumWidth(520)

        # -- device --
        self.device_box = QComboBox()
        self.device_box.addItem("Automatic (best available)", "auto")
        found = devices()
        for d in found:
            self.device_box.addItem(d.label, d.key)
        index = self.device_box.findData(device)
        self.device_note = QLabel()
        self.device_note.setObjectName("note")
        self.device_note.setWordWrap(True)
        if index < 0:
            self.device_box.setCurrentIndex(0)
            self.device_note.setText(f"The device chosen before ({device}) is not available; "
                                     "the best one available is used.")
        else:
            self.device_box.setCurrentIndex(index)
        if len(found) == 1 and not self.device_note.text():
            self.device_note.setText("No GPU found: CLODE runs on the CPU (slower, but the same result).")
        if note and not self.device_note.text():
            self.device_note.setText(note)
        self.device_note.setVisible(bool(self.device_note.text()))

        device_group = QGroupBox("Compute device")
        form = QFormLayout(device_group)
        form.addRow("Device:", self.device_box)
        form.addRow(self.device_note)

        # -- model --
        self.default_radio = QRadioButton("Built-in default model")
        if not DEFAULT_MODEL.exists():
            self.default_radio.setText("Built-in default model (not installed)")
        self.file_radio = QRadioButton("A model file (official CLODE .pth or .safetensors):")
        self.user_radio = QRadioButton("One of my fine-tuned models:")
        self.group = QButtonGroup(self)
        for i, b in enumerate((self.default_radio, self.file_radio, self.user_radio)):
            self.group.addButton(b, i)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("path to a .pth or .safetensors file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.user_box = QComboBox()
        models = user_models()
        for p in models:
            self.user_box.addItem(p.stem, str(p))
        if not models:
            self.user_box.addItem(f"(none in {user_models_dir()})", "")
            self.user_radio.setEnabled(False)
        self.user_box.setEnabled(bool(models))

        model_group = QGroupBox("Model")
        grid = QGridLayout(model_group)
        grid.addWidget(self.default_radio, 0, 0, 1, 2)
        grid.addWidget(self.file_radio, 1, 0, 1, 2)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(browse)
        grid.addLayout(row, 2, 0, 1, 2)
        grid.addWidget(self.user_radio, 3, 0, 1, 2)
        grid.addWidget(self.user_box, 4, 0, 1, 2)
        hint = QLabel(f"Fine-tuned models (clode train) are kept in {user_models_dir()}")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        grid.addWidget(hint, 5, 0, 1, 2)

        user_index = self.user_box.findData(model_path) if model_path else -1
        if not model_path:
            self.default_radio.setChecked(True)
        elif user_index >= 0:
            self.user_radio.setChecked(True)
            self.user_box.setCurrentIndex(user_index)
        else:
            self.file_radio.setChecked(True)
            self.file_edit.setText(model_path)
        self.file_edit.textEdited.connect(lambda _: self.file_radio.setChecked(True))

        # -- editing --
        self.auto_check = QCheckBox("Start each new photo at its automatic exposure (Auto)")
        self.auto_check.setChecked(start_at_auto)
        auto_hint = QLabel("Otherwise it starts at the model's default T. Photos edited before "
                           "open with their saved settings either way.")
        auto_hint.setObjectName("hint")
        auto_hint.setWordWrap(True)
        editing_group = QGroupBox("Automatic exposure")
        editing_layout = QVBoxLayout(editing_group)
        editing_layout.addWidget(self.auto_check)
        editing_layout.addWidget(auto_hint)
        # what Auto learned from the T set by hand (clode.engine.taste), for the loaded model
        self.taste_model = taste_model
        self.taste_label = QLabel()
        self.taste_label.setWordWrap(True)
        self.taste_reset = QPushButton("Reset")
        self.taste_reset.setToolTip("Forget the exposures you chose for this model: Auto starts again from the model's own")
        self.taste_reset.clicked.connect(self._reset_taste)
        taste_row = QHBoxLayout()
        taste_row.addWidget(self.taste_label, 1)
        taste_row.addWidget(self.taste_reset)
        editing_layout.addLayout(taste_row)
        self._show_taste()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(device_group)
        layout.addWidget(model_group)
        layout.addWidget(editing_group)
        layout.addWidget(buttons)

    def _show_taste(self) -> None:
        n = 0 if self.taste_model is None else taste.count(self.taste_model)
        edits = f"{n} edit" + ("" if n == 1 else "s")
        if self.taste_model is None:
            text = "Auto: no model loaded"
        elif n >= taste.MIN_EDITS:
            text = f"Auto: learned from your {edits}"
        else:
            text = (f"Auto: learned from your {edits} — it follows your taste from {taste.MIN_EDITS} "
                    "(each photo whose T you set by hand, away from Auto)")
        self.taste_label.setText(text)
        self.taste_reset.setEnabled(n > 0)

    def _reset_taste(self) -> None:
        if self.taste_model is not None:
            try:
                taste.reset(self.taste_model)
            except OSError as e:
                self.taste_label.setText(f"Could not reset: {e.strerror or e}")
                return
        self._show_taste()

    def _browse(self) -> None:
        start = self.file_edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CLODE model", start,
                                              "CLODE models (*.pth *.pt *.safetensors);;All files (*)")
        if path:
            self.file_edit.setText(path)
            self.file_radio.setChecked(True)

    def device(self) -> str:
        return self.device_box.currentData()

    def start_at_auto(self) -> bool:
        return self.auto_check.isChecked()

    def model_path(self) -> Optional[str]:
        """None = the built-in default."""
        if self.file_radio.isChecked():
            return self.file_edit.text().strip() or None
        if self.user_radio.isChecked():
            return self.user_box.currentData() or None
        return None
