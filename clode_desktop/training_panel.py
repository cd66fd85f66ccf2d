"""The training panel: fine-tune the model on your own photos.

Training runs in a separate process (``python -m clode train --progress -``) so that a crash
or an out-of-memory there can never take the editor down. Its JSON-lines progress drives the
progress bar, the loss plot and the checkpoint previews; the previews and model comparisons
are rendered on the panel's own worker thread, so the editor's worker stays free.

Stopping sends SIGTERM: the trainer finishes at its next cancel check, never inside a
checkpoint write, and the run can be resumed from its last checkpoint. A run that is killed
anyway (by us after a grace period, or from outside) leaves whole checkpoints only: its
half-written files are removed when the process has ended.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QEvent, QObject, QProcess, QProcessEnvironment, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QMessageBox, QProgressBar, QPushButton, QScrollArea, QSlider,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from clode.devices import devices
from clode.errors import ClodeError
from clode.atomic import write_text
from clode.paths import model_path_for, user_models_dir
from clode.weights import DEFAULT_MODEL

from .canvas import qimage_from_array
from .loss_plot import LossPlot
from .worker import Job, TaskManager

PREVIEW_SIDE = 150               # long side of the before/after thumbnails
COMPARE_SIDE = 640               # long side of the default-vs-yours renders
COMPARE_VIEW = 420               # and of their frames in the dialog
PREVIEW_INTERVAL_S = 5.0         # at most one checkpoint preview this often
RUN_NOTE = "panel.json"          # beside a run's checkpoints: what the trainer's config does not keep
STOP_GRACE_MS = 15_000           # after SIGTERM, how long a step may take to finish before the process is killed
E_RANGE = (0.45, 0.70)           # the brightness slider's span (exposure target E)
CROPS = (64, 96, 128, 192, 256)
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _\-]{0,59}$")   # no dots: "a.b" would read as a file path


# ------------------------------------------------------------------------------------------------
# model files (plain functions: the panel's buttons call them)

def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.match(name):
        raise ClodeError(f"'{name}' is not a usable model name (letters, digits, spaces, - and _; up to 60)")
    return name


def user_models() -> list[Path]:
    from .preferences import user_models as listed
    return [p for p in listed() if p.suffix == ".safetensors"]


def model_card(path: Path) -> dict:
    """The card stored in a model file's metadata (without loading its tensors)."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return json.loads(meta.get("card", "{}") or "{}")
    except Exception:  # noqa: BLE001 - a damaged file shows no card; loading it reports the problem
        return {}


def card_summary(card: dict) -> str:
    if not card:
        return "No training details recorded."
    parts = []
    if card.get("images"):
        parts.append(f"{card['images']} photos")
    if card.get("steps"):
        parts.append(f"{card['steps']} steps")
    if card.get("E") is not None:
        parts.append(f"brightness {card['E']:.2f}")
    if card.get("crop"):
        parts.append(f"crop {card['crop']}")
    init = card.get("init")
    parts.append("from " + ("the default model" if init and Path(init) == DEFAULT_MODEL
                            else Path(init).stem if init else "scratch"))
    if card.get("seconds") is not None:
        parts.append(f"{card['seconds'] / 60:.1f} min on {card.get('device', '?')}")
    data = card.get("data") or []
    text = " · ".join(parts)
    if data:
        text += "\nPhotos from: " + ", ".join(data)
    return text


def unfinished_runs() -> list[tuple[str, dict]]:
    """(name, state) of stopped runs in the user's models folder that can be resumed."""
    from clode.train import find_checkpoint
    runs = []
    try:
        folders = sorted(user_models_dir().glob("*.checkpoints"))
    except OSError:
        return []
    for run_dir in folders:
        try:
            state = json.loads((find_checkpoint(run_dir) / "state.json").read_text())
        except (ClodeError, OSError, ValueError):
            continue
        runs.append((run_dir.stem, state))
    return runs


def rename_model(path: Path, new_name: str) -> Path:
    """Rename a model (its file and the name stored inside it); returns the new path. A stopped run
    of the same name is another item and keeps its name (its checkpoints say where it will save)."""
    from clode.weights import load_model, save_model
    new_name = check_name(new_name)
    target = model_path_for(new_name)
    if target.exists() or target.with_suffix(".checkpoints").exists():
        raise ClodeError(f"a model named '{new_name}' exists already")
    net = load_model(path)
    info = net.info
    save_model(net, target, name=new_name, default_T=info.default_T, t_max=info.t_max, card=info.card)
    path.unlink()
    return target


def render_small(model_path: Optional[Path], pixels: np.ndarray, T: Optional[float] = None,
                 denoise: float = 1.0) -> np.ndarray:
    """``pixels`` enhanced by a model (None = the default) on the CPU, as uint8."""
    from clode import Enhancer, load_model
    from .engine import to_uint8
    enh = Enhancer(load_model(model_path), device="cpu")
    return to_uint8(enh.enhance(pixels, T, denoise=denoise))


def small_image(pixels: np.ndarray, side: int) -> np.ndarray:
    from clode.imageio import resize
    from .engine import fit_side
    h, w = fit_side(pixels.shape[:2], side)
    return pixels if (h, w) == pixels.shape[:2] else resize(pixels, (h, w))


# ------------------------------------------------------------------------------------------------
# widgets

def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


class Thumb(QWidget):
    """A small image with a caption under it."""

    def __init__(self, caption: str, side: int = PREVIEW_SIDE) -> None:
        super().__init__()
        self.image = QLabel()
        self.image.setFixedSize(side, side)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("background: #1e1e1e; color: #777;")
        self.caption = QLabel(caption)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setObjectName("hint")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(3)
        box.addWidget(self.image)
        box.addWidget(self.caption)
        self._img8: Optional[np.ndarray] = None

    def set_image(self, img8: Optional[np.ndarray], caption: Optional[str] = None) -> None:
        self._img8 = img8
        if img8 is None:
            self.image.clear()
        else:
            pm = QPixmap.fromImage(qimage_from_array(img8))
            self.image.setPixmap(pm.scaled(self.image.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))
        if caption is not None:
            self.caption.setText(caption)

    def array(self) -> Optional[np.ndarray]:
        return self._img8


class CompareDialog(QDialog):
    """The current photo by the default model and by one of the user's, side by side."""

    def __init__(self, name: str, T: float, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Default model vs {name}")
        self.left = Thumb(f"Default model · T {T:.2f}", COMPARE_VIEW)
        self.right = Thumb(f"{name} · T {T:.2f}", COMPARE_VIEW)
        for t in (self.left, self.right):
            t.image.setText("Rendering…")
        row = QHBoxLayout()
        row.addWidget(self.left)
        row.addWidget(self.right)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(row)
        box.addWidget(buttons)

    def show_results(self, pair: tuple[np.ndarray, np.ndarray]) -> None:
        self.left.set_image(pair[0])
        self.right.set_image(pair[1])

    def show_error(self, message: str) -> None:
        self.left.image.setText("")
        self.right.image.setText(message)
        self.right.image.setWordWrap(True)


@dataclass
class Run:
    """What the panel knows of the training process it started."""
    name: str
    out: Path
    steps: int
    minutes: Optional[float] = None
    elapsed_before: float = 0.0          # a resumed run's time before this process
    preview_photo: Optional[Path] = None
    init: Optional[Path] = None
    pid: int = 0
    step: int = 0
    checkpoint_step: int = 0
    done: Optional[dict] = None
    cancelled: bool = False
    stderr: list = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.out.with_suffix(".checkpoints")


class TrainingPanel(QWidget):
    """The window: photos, settings, the run (progress, loss plot, previews) and the user's models."""

    #: a folder scan finished: (usable count, skipped [(path, why)])
    scanned = Signal(int, list)
    #: a run started (the process is up): pid
    runStarted = Signal(int)
    #: a progress event from the trainer (the event dict)
    event = Signal(dict)
    #: the before/after preview was refreshed: step
    previewUpdated = Signal(int)
    #: a run finished and its model is saved: path
    finished = Signal(str)
    #: a run was stopped by the user: the step of the kept checkpoint (0 = none)
    stopped = Signal(int)
    #: a run ended with an error, a crash or an outside kill: message
    failed = Signal(str)
    #: models were added, renamed or deleted
    modelsChanged = Signal()
    #: a comparison was rendered: (default uint8, theirs uint8)
    compared = Signal(object)

    def __init__(self, window=None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent or window, Qt.WindowType.Window)
        self.window_ = window
        self.setWindowTitle("Train a model on your photos")
        self.setObjectName("trainingPanel")
        self.resize(1040, 760)
        #: extra ``clode train`` arguments and environment (tests: tiny runs, one thread)
        self.extra_args: list[str] = []
        self.extra_env: dict[str, str] = {}
        self.stop_grace_ms = STOP_GRACE_MS
        self.tasks = TaskManager(self)
        self.folders: list[Path] = []
        self.usable: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        self.scanning = False
        self._scan_id = 0
        self.process: Optional[QProcess] = None
        self.run: Optional[Run] = None
        self._stdout = b""
        self._stop_requested = False
        self.paused = False
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)
        self.preview_interval_s = PREVIEW_INTERVAL_S
        self._preview_timer = QTimer(self, singleShot=True)
        self._preview_timer.timeout.connect(self._submit_preview)
        self._pending_preview: Optional[tuple] = None
        self._last_preview = -1e9
        self._compare: Optional[CompareDialog] = None
        self._build()
        self.refresh_models()
        self._update_buttons()

    # --------------------------------------------------------------------------------------------
    # layout

    def _build(self) -> None:
        # -- photos --
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("folderList")
        self.folder_list.setMaximumHeight(80)
        self.folder_list.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.folder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._add_folder_dialog)
        self.remove_folder_button = QPushButton("Remove")
        self.remove_folder_button.clicked.connect(self._remove_selected_folder)
        self.photos_label = QLabel("Add one or more folders of your photos.")
        self.photos_label.setWordWrap(True)
        self.skipped_title = hint("")
        self.skipped_list = QListWidget()
        self.skipped_list.setObjectName("skippedList")
        self.skipped_list.setMaximumHeight(90)
        self.skipped_list.setWordWrap(True)
        self.skipped_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.skipped_title.hide()
        self.skipped_list.hide()
        photos = QGroupBox("1. Your photos")
        pv = QVBoxLayout(photos)
        pv.addWidget(self.folder_list)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(self.remove_folder_button)
        row.addStretch(1)
        pv.addLayout(row)
        pv.addWidget(self.photos_label)
        pv.addWidget(self.skipped_title)
        pv.addWidget(self.skipped_list)
        pv.addWidget(hint("Any photos work, dark or bright: no edited versions are needed. "
                          "Photos like those you will enhance teach the most."))

        # -- settings --
        self.name_edit = QLineEdit(self._free_name("my-photos"))
        self.name_edit.setObjectName("modelName")
        self.name_edit.textChanged.connect(lambda _: self._update_buttons())
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

        settings = QGroupBox("2. Settings")
        form = QFormLayout(settings)
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

        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop now and keep the last checkpoint; Resume continues from there")
        self.stop_button.clicked.connect(self.stop)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Pause to have the computer to yourself for a while; press again to continue")
        self.pause_button.toggled.connect(self.set_paused)
        self.pause_button.setVisible(hasattr(signal, "SIGSTOP"))    # POSIX; elsewhere Stop and Resume do it
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped run with this name from its last checkpoint")
        self.resume_button.clicked.connect(lambda: self.resume())
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        left = QVBoxLayout()
        left.addWidget(photos)
        left.addWidget(settings)
        left.addLayout(buttons)
        left.addStretch(1)
        left_widget = QWidget()
        left_widget.setLayout(left)
        scroll = QScrollArea()
        scroll.setWidget(left_widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(440)

        # -- the run --
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.status_label = QLabel("Not training.")
        self.status_label.setObjectName("trainingStatus")
        self.status_label.setWordWrap(True)
        self.message_label = QLabel("")
        self.message_label.setObjectName("trainingMessage")
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        self.plot = LossPlot()
        self.thumb_original = Thumb("Your photo")
        self.thumb_before = Thumb("Before (starting model)")
        self.thumb_after = Thumb("After (no checkpoint yet)")
        thumbs = QHBoxLayout()
        for t in (self.thumb_original, self.thumb_before, self.thumb_after):
            thumbs.addWidget(t)
        thumbs.addStretch(1)
        run = QGroupBox("3. Training")
        rv = QVBoxLayout(run)
        rv.addWidget(self.progress_bar)
        rv.addWidget(self.status_label)
        rv.addWidget(self.message_label)
        rv.addWidget(self.plot, 1)
        rv.addLayout(thumbs)

        # -- models --
        self.model_list = QListWidget()
        self.model_list.setObjectName("modelList")
        self.model_list.setMaximumHeight(110)
        self.model_list.currentItemChanged.connect(lambda *_: self._model_selected())
        self.card_label = hint("")
        self.use_button = QPushButton("Use in the editor")
        self.use_button.clicked.connect(self.use_selected)
        self.compare_button = QPushButton("Compare with default…")
        self.compare_button.setToolTip("The open photo by the default model and by this one, side by side")
        self.compare_button.clicked.connect(self.compare_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._rename_dialog)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete_dialog)
        mrow = QHBoxLayout()
        for b in (self.use_button, self.compare_button, self.rename_button, self.delete_button):
            mrow.addWidget(b)
        mrow.addStretch(1)
        models = QGroupBox("Your models")
        mv = QVBoxLayout(models)
        mv.addWidget(self.model_list)
        mv.addWidget(self.card_label)
        mv.addLayout(mrow)
        mv.addWidget(hint(f"Kept in {user_models_dir()}"))

        right = QVBoxLayout()
        right.addWidget(run, 1)
        right.addWidget(models)

        top = QHBoxLayout(self)
        top.addWidget(scroll, 0)
        top.addLayout(right, 1)
        self.setStyleSheet("QLabel#trainingMessage { color: #f08070; }"
                           "QLabel#trainingMessage[ok=\"true\"] { color: #90d090; }")

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

    def _free_name(self, base: str) -> str:
        name, i = base, 2
        while model_path_for(name).exists() or model_path_for(name).with_suffix(".checkpoints").exists():
            name, i = f"{base}-{i}", i + 1
        return name

    # --------------------------------------------------------------------------------------------
    # photos

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder) -> None:
        folder = Path(folder).expanduser()
        if folder in self.folders:
            return
        self.folders.append(folder)
        self.folder_list.addItem(str(folder))
        self.scan()

    def _remove_selected_folder(self) -> None:
        row = self.folder_list.currentRow()
        if row >= 0:
            self.folder_list.takeItem(row)
            del self.folders[row]
            self.scan()

    def scan(self) -> None:
        """Count the usable photos in the folders (file headers only, on the worker thread)."""
        from clode.training_data import scan_folders
        folders = list(self.folders)
        self.scanning = True
        self._scan_id += 1
        scan_id = self._scan_id
        self.photos_label.setText("Looking for photos…" if folders else "Add one or more folders of your photos.")
        self._update_buttons()
        if not folders:
            self._scanned(scan_id, ([], []))
            return
        self.tasks.submit(lambda job: scan_folders(folders), key="scan", label="Scanning",
                          on_done=lambda result: self._scanned(scan_id, result),
                          on_error=lambda m: self._scanned(scan_id, ([], [(folders[0], m)])))

    def _scanned(self, scan_id: int, result) -> None:
        if scan_id != self._scan_id:
            return          # the folders changed meanwhile; a newer scan is on its way
        self.scanning = False
        self.usable, self.skipped = result
        n = len(self.usable)
        if not self.folders:
            self.photos_label.setText("Add one or more folders of your photos.")
        elif n == 0:
            self.photos_label.setText("<b>No usable photos in these folders.</b> Add a folder with JPEG, PNG, "
                                      "TIFF or RAW photos at least 64 pixels on each side.")
        else:
            self.photos_label.setText(f"<b>{n} photo{'s' if n != 1 else ''}</b> ready to train on.")
        self._show_skipped()
        self._update_buttons()
        self.scanned.emit(n, list(self.skipped))

    def _show_skipped(self) -> None:
        self.skipped_list.clear()
        for path, why in self.skipped:
            why = why.split(": ", 1)[1] if why.startswith(str(path) + ": ") else why
            item = QListWidgetItem(f"{path.name} — {why}")
            item.setToolTip(f"{path}\n{why}")
            self.skipped_list.addItem(item)
        n = len(self.skipped)
        self.skipped_title.setText(f"{n} file{'s' if n != 1 else ''} skipped:")
        self.skipped_title.setVisible(bool(n))
        self.skipped_list.setVisible(bool(n))

    # --------------------------------------------------------------------------------------------
    # starting, stopping, resuming

    def is_running(self) -> bool:
        return self.process is not None

    def _python_command(self, args: list[str]) -> QProcess:
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        for k, v in self.extra_env.items():
            env.insert(k, v)
        proc.setProcessEnvironment(env)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "clode", "train", *args, "--progress", "-", *self.extra_args])
        return proc

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

    def start(self) -> bool:
        """Start a new run with the panel's settings; False (and a message) when it cannot."""
        if self.is_running():
            return False
        if self.scanning:
            self.show_message("Still looking for photos in the folders; try again in a moment.")
            return False
        if not self.usable:
            self.show_message("No usable photos to train on: add a folder with photos first."
                              if not self.folders else
                              "No usable photos in these folders, so there is nothing to train on. "
                              "Add a folder with JPEG, PNG, TIFF or RAW photos.")
            return False
        try:
            name = check_name(self.name_edit.text())
            args, steps, minutes = self.settings_args()
        except ClodeError as e:
            self.show_message(str(e))
            return False
        out = model_path_for(name)
        if (out.with_suffix(".checkpoints") / "latest.json").exists():
            if not self.confirm(f"A stopped run named '{name}' exists. Start over and discard it? "
                                "(Resume continues it instead.)"):
                return False
            shutil.rmtree(out.with_suffix(".checkpoints"), ignore_errors=True)
        if out.exists() and not self.confirm(f"A model named '{name}' exists. Replace it when this run finishes?"):
            return False
        init = self.init_box.currentData()
        run = Run(name=name, out=out, steps=steps, minutes=minutes, preview_photo=self.usable[0],
                  init=Path(init) if init else None)
        if minutes:
            # A resumed run is given the minutes left; the total is remembered here for the next resume.
            write_text(run.run_dir / RUN_NOTE, json.dumps({"minutes": minutes}))
        self._launch(run, ["--data", *map(str, self.folders), "--out", name, *args])
        return True

    def resume(self, name: Optional[str] = None) -> bool:
        """Continue a stopped run (by its name, else the name field's) from its last checkpoint."""
        from clode.train import find_checkpoint
        if self.is_running():
            return False
        name = (name or self.name_edit.text()).strip()
        out = model_path_for(name)
        try:
            state = json.loads((find_checkpoint(out.with_suffix(".checkpoints")) / "state.json").read_text())
        except (ClodeError, OSError, ValueError):
            self.show_message(f"No stopped run named '{name}' to resume.")
            return False
        config = state["config"]
        try:
            minutes = json.loads((out.with_suffix(".checkpoints") / RUN_NOTE).read_text())["minutes"]
        except (OSError, ValueError, KeyError):
            minutes = config.get("minutes")
        elapsed = float(state.get("elapsed", 0.0))
        args = ["--data", *config["data"], "--resume", str(out.with_suffix(".checkpoints")),
                "--steps", str(config["steps"]), "--device", self.device_box.currentData()]
        if minutes:
            args += ["--minutes", repr(max(minutes - elapsed / 60, 0.05))]
        photos = self.usable or [p for d in config["data"] for p in _first_photo(Path(d))]
        run = Run(name=name, out=out, steps=config["steps"], minutes=minutes, elapsed_before=elapsed,
                  preview_photo=photos[0] if photos else None,
                  init=Path(config["init"]) if config.get("init") else None, step=state["step"],
                  checkpoint_step=state["step"])
        self.name_edit.setText(name)
        self._launch(run, args)
        return True

    def _launch(self, run: Run, args: list[str]) -> None:
        self.run = run
        self._stdout = b""
        self._pending_preview = None
        self._preview_timer.stop()
        self._stop_requested = False
        self.plot.clear()
        self.progress_bar.setValue(0 if not run.step else round(1000 * run.step / max(run.steps, 1)))
        self.message_label.hide()
        self.status_label.setText("Starting the trainer…" if not run.step else
                                  f"Resuming from step {run.step}…")
        proc = self._python_command(args)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._process_finished)
        proc.errorOccurred.connect(self._process_error)
        proc.started.connect(self._process_started)
        self.process = proc
        self._update_buttons()
        proc.start()
        self._start_previews(run)

    def stop(self) -> None:
        """Stop the run; its last checkpoint is kept and Resume continues from it."""
        if self.process is None or self._stop_requested:
            return
        self._stop_requested = True
        self.status_label.setText("Stopping… (finishing the current step)")
        self.process.terminate()
        if self.paused:
            self.set_paused(False)         # a stopped process handles the SIGTERM once it runs again
        self._kill_timer.start(self.stop_grace_ms)
        self._update_buttons()

    def set_paused(self, on: bool) -> None:
        """Suspend or continue the training process (POSIX signals; it keeps its memory meanwhile)."""
        on = bool(on)
        if self.process is None or self.run is None or not self.run.pid or on == self.paused:
            self.pause_button.setChecked(self.paused)
            return
        os.kill(self.run.pid, signal.SIGSTOP if on else signal.SIGCONT)
        self.paused = on
        self.pause_button.setChecked(on)
        self.pause_button.setText("Continue" if on else "Pause")
        if on:
            self.status_label.setText(f"Paused at step {self.run.step}. Continue when you like; "
                                      "Stop keeps the last checkpoint.")

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop any run and the preview thread, waiting for both (the editor is closing)."""
        proc = self.process
        if proc is not None:
            self._stop_requested = True
            proc.terminate()
            if self.paused:
                self.set_paused(False)
            if not proc.waitForFinished(timeout_ms):
                proc.kill()
                proc.waitForFinished(5000)
        self.tasks.shutdown()

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Train a model", question)
        return answer == QMessageBox.StandardButton.Yes

    # --------------------------------------------------------------------------------------------
    # the process

    def _process_started(self) -> None:
        if self.run is not None and self.process is not None:
            self.run.pid = int(self.process.processId())
            self._update_buttons()
            self.runStarted.emit(self.run.pid)

    def _read_stdout(self) -> None:
        if self.process is None:
            return
        self._stdout += bytes(self.process.readAllStandardOutput())
        *lines, self._stdout = self._stdout.split(b"\n")
        for line in lines:
            self._handle_line(line)

    def _read_stderr(self) -> None:
        if self.process is None or self.run is None:
            return
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self.run.stderr.extend(line for line in text.splitlines() if line.strip())
        del self.run.stderr[:-40]

    def _handle_line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return   # not a progress line (a library's note): ignore
        if not isinstance(event, dict) or "event" not in event or self.run is None:
            return
        kind, run = event["event"], self.run
        if kind == "data":
            self._trainer_data(event)
        elif kind == "step":
            run.step = int(event["step"])
            self.plot.add(run.step, event.get("terms", {}))
            self._show_progress(event)
        elif kind == "checkpoint":
            run.checkpoint_step = int(event["step"])
            self._request_after(Path(event["model"]), run.checkpoint_step)
        elif kind == "done":
            run.done = event
        elif kind == "cancelled":
            run.cancelled = True
        self.event.emit(event)

    def _trainer_data(self, event: dict) -> None:
        known = {str(p) for p, _ in self.skipped}
        extra = [(Path(p), why) for p, why in event.get("skipped", []) if p not in known]
        if extra:
            self.skipped = list(self.skipped) + extra
            self._show_skipped()
        self.status_label.setText(f"Training on {event.get('images', '?')} photos…")

    def _show_progress(self, event: dict) -> None:
        run = self.run
        if run.minutes:
            total = run.minutes * 60
            elapsed = float(event.get("elapsed", 0.0))
            fraction, left = elapsed / total, max(total - elapsed, 0.0)
            where = f"Step {run.step}"
        else:
            fraction, left = run.step / max(run.steps, 1), float(event.get("eta", 0.0))
            where = f"Step {run.step} of {run.steps}"
        self.progress_bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        self.status_label.setText(f"{where} · loss {event.get('loss', float('nan')):.4g} · {_duration(left)} left")

    def _process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.process is not None:
            proc, self.process = self.process, None
            self._fail(f"Could not start the trainer ({proc.errorString()}).")
            self._update_buttons()

    def _process_finished(self, code: int, status) -> None:
        proc, run = self.process, self.run
        if proc is None or run is None:
            return
        self._read_stdout()
        if self._stdout.strip():
            self._handle_line(self._stdout)
            self._stdout = b""
        self._read_stderr()
        self._kill_timer.stop()
        self.process = None
        self.paused = False
        self.pause_button.setChecked(False)
        self.pause_button.setText("Pause")
        proc.deleteLater()
        from clode.train import remove_partial_files
        if run.pid:
            remove_partial_files(run.out, run.pid)
        crashed = status == QProcess.ExitStatus.CrashExit
        kept = self._kept_step(run)
        if not kept and run.done is None:
            shutil.rmtree(run.run_dir, ignore_errors=True)   # nothing there to resume
        if run.done is not None and code == 0 and not crashed:
            shutil.rmtree(run.run_dir, ignore_errors=True)   # the model is saved; its checkpoints are spent
            self.progress_bar.setValue(1000)
            self.status_label.setText(f"Done: {run.done.get('steps', run.step)} steps in "
                                      f"{_duration(float(run.done.get('seconds', 0)))}.")
            self.show_message(f"Saved the model '{run.name}'. Select it under Your models and choose "
                              "“Use in the editor”.", ok=True)
            self.refresh_models(select=run.out)
            self._request_after(run.out, run.step, final=True)
            self.modelsChanged.emit()
            self.finished.emit(str(run.out))
        elif self._stop_requested:
            self.status_label.setText(f"Stopped at step {run.step}.")
            self.show_message(f"Stopped. The checkpoint at step {kept} is kept: Resume continues from there."
                              if kept else "Stopped before the first checkpoint; nothing was kept.", ok=True)
            self.refresh_models(select=run.run_dir if kept else None)
            self.stopped.emit(kept)
        else:
            errors = [line for line in run.stderr if line.startswith("clode: error:")]
            exceptions = [line for line in run.stderr if re.match(r"^[\w.]+(Error|Exception)\b", line)]
            if any("out of memory" in line.lower() or "OutOfMemoryError" in line for line in run.stderr):
                message = ("Training ran out of memory: try a smaller crop size or batch size (Advanced), "
                           "or the CPU.")
            elif errors and not crashed:
                why = errors[-1][len("clode: error:"):].strip()
                message = f"Training failed: {why}"
            elif exceptions and not crashed:
                message = f"Training failed: {exceptions[-1][:300]}"
            else:
                how = "was killed or crashed" if crashed else f"ended with exit code {code}"
                message = (f"The training process {how} (if the computer ran out of memory, try a smaller "
                           "crop size, batch size or the CPU).")
            message += (f" The checkpoint at step {kept} is kept: Resume continues from there." if kept else
                        " Nothing was saved.")
            self.status_label.setText(f"Stopped unexpectedly at step {run.step}.")
            self.refresh_models(select=run.run_dir if kept else None)
            self._fail(message)
        self._update_buttons()

    def _kept_step(self, run: Run) -> int:
        from clode.train import find_checkpoint
        try:
            return int(json.loads((find_checkpoint(run.run_dir) / "state.json").read_text())["step"])
        except (ClodeError, OSError, ValueError, KeyError):
            return 0

    def _fail(self, message: str) -> None:
        self.show_message(message)
        self.failed.emit(message)

    def show_message(self, text: str, ok: bool = False) -> None:
        self.message_label.setProperty("ok", ok)
        self.message_label.style().unpolish(self.message_label)
        self.message_label.style().polish(self.message_label)
        self.message_label.setText(text)
        self.message_label.show()

    def message(self) -> str:
        return self.message_label.text() if self.message_label.isVisible() else ""

    def _update_buttons(self) -> None:
        running = self.process is not None
        self.start_button.setEnabled(not running and not self.scanning and bool(self.usable))
        self.stop_button.setEnabled(running and not self._stop_requested)
        self.pause_button.setEnabled(running and not self._stop_requested and bool(self.run and self.run.pid))
        name = self.name_edit.text().strip()
        resumable = bool(NAME_RE.match(name)) and (model_path_for(name).with_suffix(".checkpoints")
                                                   / "latest.json").exists()
        self.resume_button.setEnabled(not running and resumable)
        for w in (self.name_edit, self.init_box, self.steps_box, self.unit_box, self.bright_slider, self.crop_box,
                  self.device_box, self.advanced):
            w.setEnabled(not running)

    # --------------------------------------------------------------------------------------------
    # previews (the panel's worker thread)

    def _start_previews(self, run: Run) -> None:
        self.thumb_after.set_image(None, "After (no checkpoint yet)")
        photo = run.preview_photo
        if photo is None:
            return
        init = run.init

        def work(job: Job):
            from clode.imageio import load_preview
            from .engine import to_uint8
            pixels = small_image(load_preview(photo, max_side=PREVIEW_SIDE * 2).pixels, PREVIEW_SIDE)
            before = render_small(init, pixels) if init is not None or DEFAULT_MODEL.exists() else None
            return pixels, to_uint8(pixels), before

        def done(result) -> None:
            self._preview_pixels, original, before = result
            self.thumb_original.set_image(original, photo.name)
            self.thumb_before.set_image(before, "Before (starting model)")

        self._preview_pixels = None
        self.tasks.submit(work, key="preview-start", label="Preview", on_done=done,
                          on_error=lambda m: self.thumb_original.set_image(None, "(no preview)"))

    def _request_after(self, model: Path, step: int, final: bool = False) -> None:
        """Render the preview photo with a checkpoint's (or the final) model: at most one every
        ``preview_interval_s`` (frequent checkpoints would keep a CPU busy), always the newest."""
        self._pending_preview = (model, step, final)
        wait = self.preview_interval_s - (time.monotonic() - self._last_preview)
        if final or wait <= 0:
            self._preview_timer.stop()
            self._submit_preview()
        elif not self._preview_timer.isActive():
            self._preview_timer.start(int(wait * 1000))

    def _submit_preview(self) -> None:
        run = self.run
        if self._pending_preview is None or run is None or run.preview_photo is None:
            return
        model, step, final = self._pending_preview
        self._pending_preview = None
        self._last_preview = time.monotonic()
        panel = self

        def work(job: Job):
            from clode.errors import ModelLoadError
            from clode.train import find_checkpoint
            pixels = getattr(panel, "_preview_pixels", None)
            if pixels is None:
                return None
            path, at = model, step
            if not final and not path.exists():    # rotated away by a newer checkpoint: take the newest
                try:
                    path = find_checkpoint(run.run_dir) / "model.safetensors"
                    at = int(path.parent.name.split("-")[-1])
                except (ClodeError, ValueError):
                    return None
            try:
                return render_small(path, pixels), at
            except ModelLoadError:
                return None

        def done(result) -> None:
            if result is not None:
                img8, at = result
                self.thumb_after.set_image(img8, f"After ({'final, ' if final else ''}step {at})")
                self.previewUpdated.emit(at)

        self.tasks.submit(work, key="preview-after", label="Preview", on_done=done, on_error=lambda m: None)

    # --------------------------------------------------------------------------------------------
    # the user's models

    def refresh_models(self, select: Optional[Path] = None) -> None:
        current = self.selected_path() if select is None else select
        active = self._active_model()
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for path in user_models():
            text = path.stem + ("   (in use)" if active == path else "")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.model_list.addItem(item)
        for name, state in unfinished_runs():
            steps = state.get("config", {}).get("steps")
            minutes = state.get("config", {}).get("minutes")
            left = f"{state['step']} steps" if minutes else f"step {state['step']} of {steps}"
            item = QListWidgetItem(f"{name}   (stopped at {left}: resumable)")
            item.setData(Qt.ItemDataRole.UserRole, str(model_path_for(name).with_suffix(".checkpoints")))
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        self.init_box.blockSignals(True)
        chosen = self.init_box.currentData()
        self.init_box.clear()
        if DEFAULT_MODEL.exists():
            self.init_box.addItem("The default model", str(DEFAULT_MODEL))
        for path in user_models():
            self.init_box.addItem(path.stem, str(path))
        self.init_box.addItem("Nothing (train from scratch: needs many steps)", "")
        index = self.init_box.findData(chosen) if chosen is not None else -1
        self.init_box.setCurrentIndex(max(index, 0))
        self.init_box.blockSignals(False)
        if current is not None:
            for i in range(self.model_list.count()):
                if Path(self.model_list.item(i).data(Qt.ItemDataRole.UserRole)) == Path(current):
                    self.model_list.setCurrentRow(i)
        self._model_selected()

    def model_names(self) -> list[str]:
        return [self.model_list.item(i).text() for i in range(self.model_list.count())]

    def selected_path(self) -> Optional[Path]:
        item = self.model_list.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def select_model(self, path) -> None:
        self.refresh_models(select=Path(path))

    def _active_model(self) -> Optional[Path]:
        w = self.window_
        choice = w.model_choice() if w is not None else None
        return Path(choice) if choice else None

    def _model_selected(self) -> None:
        path = self.selected_path()
        is_model = path is not None and path.suffix == ".safetensors"
        is_run = path is not None and path.suffix == ".checkpoints"
        has_photo = self.window_ is not None and getattr(self.window_, "opened", None) is not None
        self.use_button.setEnabled(is_model and self.window_ is not None)
        self.compare_button.setEnabled(is_model and self.window_ is not None)
        self.compare_button.setToolTip("" if has_photo else "Open a photo in the editor to compare on it")
        self.rename_button.setEnabled(is_model)
        self.delete_button.setEnabled(path is not None)
        if is_model:
            self.card_label.setText(card_summary(model_card(path)))
        elif is_run:
            self.card_label.setText("A stopped run: select it and choose Resume to continue training.")
            if not self.is_running():
                self.name_edit.setText(path.stem)
        else:
            self.card_label.setText("Trained models appear here." if not self.model_list.count() else "")
        self._update_buttons()

    def use_selected(self) -> None:
        path = self.selected_path()
        if path is None or self.window_ is None or path.suffix != ".safetensors":
            return
        self.window_.use_model(path)
        self.refresh_models(select=path)

    def compare_selected(self) -> None:
        path = self.selected_path()
        w = self.window_
        if path is None or w is None:
            return
        if getattr(w, "opened", None) is None:
            self.show_message("Open a photo in the editor first: the comparison uses it.")
            return
        pixels = small_image(w.opened.view.astype(np.float32) / 255.0, COMPARE_SIDE)
        T, denoise = float(w.exposure.value()), float(w.panel.denoise_value())
        dialog = CompareDialog(path.stem, T, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._compare = dialog
        dialog.show()

        def work(job: Job):
            return render_small(None, pixels, T, denoise), render_small(path, pixels, T, denoise)

        def done(pair) -> None:
            if self._compare is dialog:
                dialog.show_results(pair)
            self.compared.emit(pair)

        self.tasks.submit(work, key="compare", label="Comparing", on_done=done,
                          on_error=lambda m: dialog.show_error(m) if self._compare is dialog else None)

    def _rename_dialog(self) -> None:
        path = self.selected_path()
        if path is None or path.suffix != ".safetensors":
            return
        new, ok = QInputDialog.getText(self, "Rename the model", "New name:", text=path.stem)
        if ok and new.strip() and new.strip() != path.stem:
            self.rename(path, new)

    def rename(self, path: Path, new_name: str) -> Optional[Path]:
        was_active = self._active_model() == path
        try:
            target = rename_model(path, new_name)
        except ClodeError as e:
            self.show_message(str(e))
            return None
        if was_active:
            self.window_.use_model(target)
        self.refresh_models(select=target)
        self.modelsChanged.emit()
        return target

    def _delete_dialog(self) -> None:
        path = self.selected_path()
        if path is not None and self.confirm(f"Delete '{path.stem}'? This cannot be undone."):
            self.delete(path)

    def delete(self, path: Path) -> None:
        if self.run is not None and self.is_running() and path in (self.run.out, self.run.run_dir):
            self.show_message("That model is training now: stop the run first.")
            return
        was_active = self._active_model() == path
        if path.suffix == ".checkpoints":
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if was_active:
            self.window_.use_model(None)
        self.refresh_models()
        self.modelsChanged.emit()

    # --------------------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - closing the window hides it; a run goes on
        self.hide()
        event.ignore()


def _first_photo(folder: Path) -> list[Path]:
    from clode.imageio import find_images
    try:
        return find_images(folder)[:1]
    except OSError:
        return []


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# ------------------------------------------------------------------------------------------------
# the editor's side

def open_training_panel(window) -> TrainingPanel:
    """Show the window's training panel (made on first use; it stops its run when the editor closes)."""
    panel = getattr(window, "training_panel", None)
    if panel is None:
        panel = TrainingPanel(window)
        window.training_panel = panel
        window.modelChanged.connect(lambda state: panel.refresh_models())   # the "(in use)" mark
        # The panel may be hidden when a run ends: the editor's status bar says so too.
        panel.finished.connect(lambda path: window.notify(f"Training finished: saved the model '{Path(path).stem}'"))
        panel.failed.connect(window.notify)
        window.installEventFilter(_CloseWatcher(panel, window))
    panel.show()
    panel.raise_()
    panel.activateWindow()
    return panel


class _CloseWatcher(QObject):
    """Stops the panel's run and thread when the editor window closes."""

    def __init__(self, panel: TrainingPanel, window) -> None:
        super().__init__(window)
        self.panel = panel

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close:
            self.panel.shutdown()
        return False
