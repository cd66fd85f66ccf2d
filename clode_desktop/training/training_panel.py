"""The training panel: fine-tune the model on your own photos.

Training runs in a separate process (``python -m clode train --progress -``) so that a crash
or an out-of-memory there can never take the editor down. Its JSON-lines progress drives the
progress bar, the loss plot and the checkpoint previews; the previews and model comparisons
are rendered on the panel's own worker thread, so the editor's worker stays free.

Its parts live beside it, each given what it needs through its constructor: the process
(``trainer_process``), the photo folders (``training_photos``), the settings form with its presets
and estimate (``training_settings``), the previews and validation figures (``training_previews``),
"Your models" (``model_shelf``), small widgets (``training_widgets``); the model library, the
recipes and the event schema are in the core (``clode.training.model_library``, ``clode.training.recipes``,
``clode.training.events``).

Stopping sends SIGTERM: the trainer finishes at its next cancel check, never inside a
checkpoint write, and the run can be resumed from its last checkpoint. A run that is killed
anyway (by us after a grace period, or from outside) leaves whole checkpoints only: its
half-written files are removed when the process has ended.
"""

from __future__ import annotations

import json
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from clode.training import events as events
from clode.training import recipes as recipes
from clode.base.atomic import write_text
from clode.base.errors import ClodeError
from clode.training.model_library import NAME_RE, check_name, model_card, trained_models, unfinished_runs  # noqa: F401
from clode.base.paths import model_path_for
from clode.engine.weights import DEFAULT_MODEL

from ..widgets.loss_plot import LossPlot
from ..base.link import EditorLink
from .model_shelf import ModelShelf
from .trainer_process import STOP_GRACE_MS, TrainerProcess
from .training_photos import TrainingPhotos
from .training_previews import TrainingPreviews
from .training_settings import TrainingSettings
from ..base.worker import TaskManager

RUN_NOTE = "panel.json"          # beside a run's checkpoints: what the trainer's config does not keep


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
    done: Optional[events.Done] = None
    cancelled: bool = False

    @property
    def run_dir(self) -> Path:
        return self.out.with_suffix(".checkpoints")


class TrainingPanel(QWidget):
    """The window: photos, settings, the run (progress, loss plot, previews) and the user's models."""

    #: a folder scan finished: (usable count, skipped [(path, why)])
    scanned = Signal(int, list)
    #: a run started (the process is up): pid
    runStarted = Signal(int)
    #: a progress event from the trainer (its dict: ``clode.training.events``, ``to_dict()``); not
    #: ``event``, which is QWidget's event handler
    trainerEvent = Signal(dict)
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

    def __init__(self, editor: Optional[EditorLink] = None, parent: Optional[QWidget] = None,
                 free_memory: Callable[[torch.device], int] = recipes.free_memory) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.editor = editor
        self.free_memory = free_memory
        self.setWindowTitle("Train a model on your photos")
        self.setObjectName("trainingPanel")
        self.resize(1040, 760)
        #: extra ``clode train`` arguments and environment (tests: tiny runs, one thread)
        self.extra_args: list[str] = []
        self.extra_env: dict[str, str] = {}
        self.stop_grace_ms = STOP_GRACE_MS
        self.tasks = TaskManager(self)
        self.trainer: Optional[TrainerProcess] = None
        self.run: Optional[Run] = None
        self._build()
        self.refresh_models()
        self._update_buttons()

    @property
    def process(self) -> Optional[TrainerProcess]:
        """The running trainer, or None."""
        return self.trainer

    @property
    def paused(self) -> bool:
        return self.trainer is not None and self.trainer.paused

    @property
    def _compare(self):
        return self.shelf._compare

    def add_folder(self, folder) -> None:
        self.photos.add_folder(folder)

    # --------------------------------------------------------------------------------------------
    # layout

    def _build(self) -> None:
        # -- photos --
        self.photos = photos = TrainingPhotos(self.tasks)
        photos.scanned.connect(self.scanned)
        photos.changed.connect(self._update_buttons)

        # -- settings --
        self.settings = settings = TrainingSettings(self.free_memory)
        self.settings.name_edit.textChanged.connect(lambda _: self._update_buttons())

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
        self.previews = TrainingPreviews(self.tasks)
        self.previews.previewUpdated.connect(self.previewUpdated)
        run = QGroupBox("3. Training")
        rv = QVBoxLayout(run)
        rv.addWidget(self.progress_bar)
        rv.addWidget(self.status_label)
        rv.addWidget(self.message_label)
        rv.addWidget(self.plot, 1)
        rv.addWidget(self.previews)

        # -- models --
        self.shelf = models = ModelShelf(self.editor, self.tasks, busy=self._training_into)
        models.message.connect(self.show_message)
        models.modelsChanged.connect(self.modelsChanged)
        models.compared.connect(self.compared)
        models.selected.connect(lambda _: self._update_buttons())
        models.runSelected.connect(lambda name: None if self.is_running() else self.settings.name_edit.setText(name))

        right = QVBoxLayout()
        right.addWidget(run, 1)
        right.addWidget(models)

        top = QHBoxLayout(self)
        top.addWidget(scroll, 0)
        top.addLayout(right, 1)
        self.setStyleSheet("QLabel#trainingMessage { color: #f08070; }"
                           "QLabel#trainingMessage[ok=\"true\"] { color: #90d090; }")

    # --------------------------------------------------------------------------------------------
    # starting, stopping, resuming

    def show_advanced(self, on: bool) -> None:
        self.settings.show_advanced(on)

    def settings_args(self) -> tuple[list[str], int, Optional[float]]:
        """The ``clode train`` arguments for the panel's settings, the step count and the minutes."""
        return self.settings.settings_args()

    def is_running(self) -> bool:
        return self.trainer is not None

    def start(self) -> bool:
        """Start a new run with the panel's settings; False (and a message) when it cannot."""
        if self.is_running():
            return False
        if self.photos.scanning:
            self.show_message("Still looking for photos in the folders; try again in a moment.")
            return False
        if not self.photos.usable:
            self.show_message("No usable photos to train on: add a folder with photos first."
                              if not self.photos.folders else
                              "No usable photos in these folders, so there is nothing to train on. "
                              "Add a folder with JPEG, PNG, TIFF or RAW photos.")
            return False
        try:
            name = check_name(self.settings.name_edit.text())
            args, steps, minutes = self.settings_args()
            self.settings.check()       # never start a run that would not fit in memory
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
        init = self.settings.init_box.currentData()
        run = Run(name=name, out=out, steps=steps, minutes=minutes, preview_photo=self.photos.usable[0],
                  init=Path(init) if init else None)
        if minutes:
            # A resumed run is given the minutes left; the total is remembered here for the next resume.
            write_text(run.run_dir / RUN_NOTE, json.dumps({"minutes": minutes}))
        # the user agreed to replace an existing model above; the trainer replaces one only when told
        replace = ["--overwrite"] if out.exists() else []
        self._launch(run, ["--data", *map(str, self.photos.folders), "--out", name, *replace, *args])
        return True

    def resume(self, name: Optional[str] = None) -> bool:
        """Continue a stopped run (by its name, else the name field's) from its last checkpoint."""
        from clode.training.train import find_checkpoint
        if self.is_running():
            return False
        name = (name or self.settings.name_edit.text()).strip()
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
                "--steps", str(config["steps"]), "--device", self.settings.device_box.currentData()]
        if minutes:
            args += ["--minutes", repr(max(minutes - elapsed / 60, 0.05))]
        photos = self.photos.usable or [p for d in config["data"] for p in _first_photo(Path(d))]
        run = Run(name=name, out=out, steps=config["steps"], minutes=minutes, elapsed_before=elapsed,
                  preview_photo=photos[0] if photos else None,
                  init=Path(config["init"]) if config.get("init") else None, step=state["step"],
                  checkpoint_step=state["step"])
        self.settings.name_edit.setText(name)
        self._launch(run, args)
        return True

    def _launch(self, run: Run, args: list[str]) -> None:
        self.run = run
        self.plot.clear()
        self.progress_bar.setValue(0 if not run.step else round(1000 * run.step / max(run.steps, 1)))
        self.message_label.hide()
        self.status_label.setText("Starting the trainer…" if not run.step else
                                  f"Resuming from step {run.step}…")
        trainer = TrainerProcess([*args, "--progress", "-", *self.extra_args], self.extra_env, self,
                                 self.stop_grace_ms)
        trainer.started.connect(self._process_started)
        trainer.trainerEvent.connect(self._handle_event)
        trainer.failedToStart.connect(self._failed_to_start)
        trainer.ended.connect(self._process_finished)
        self.trainer = trainer
        self._update_buttons()
        trainer.start()
        self.previews.start(run.preview_photo, run.init, run.run_dir)

    def stop(self) -> None:
        """Stop the run; its last checkpoint is kept and Resume continues from it."""
        if self.trainer is None or self.trainer.stop_requested:
            return
        self.trainer.stop()
        self.status_label.setText("Stopping… (finishing the current step)")
        self.pause_button.setChecked(False)
        self._update_buttons()

    def set_paused(self, on: bool) -> None:
        """Suspend or continue the training process (POSIX signals; it keeps its memory meanwhile)."""
        if self.trainer is None or self.run is None:
            self.pause_button.setChecked(False)
            return
        on = self.trainer.set_paused(on)
        self.pause_button.setChecked(on)
        self.pause_button.setText("Continue" if on else "Pause")
        if on:
            self.status_label.setText(f"Paused at step {self.run.step}. Continue when you like; "
                                      "Stop keeps the last checkpoint.")

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop any run and the preview thread, waiting for both (the editor is closing)."""
        if self.trainer is not None:
            self.trainer.wait(timeout_ms)
        self.tasks.shutdown()

    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Train a model", question)
        return answer == QMessageBox.StandardButton.Yes

    def _training_into(self, path: Path) -> bool:
        return self.run is not None and self.is_running() and path in (self.run.out, self.run.run_dir)

    # --------------------------------------------------------------------------------------------
    # the process

    def _process_started(self, pid: int) -> None:
        if self.run is not None:
            self.run.pid = pid
            self._update_buttons()
            self.runStarted.emit(pid)

    def _handle_event(self, event: events.TrainerEvent) -> None:
        run = self.run
        if run is None:
            return
        if isinstance(event, events.Data):
            self._trainer_data(event)
        elif isinstance(event, events.Step):
            run.step = int(event.step)
            self.plot.add(run.step, event.terms)
            self._show_progress(event)
        elif isinstance(event, events.Checkpoint):
            run.checkpoint_step = int(event.step)
            self.previews.request_after(Path(event.model), run.checkpoint_step)
        elif isinstance(event, events.Validation) and "held_out" in event.scores:
            self.previews.show_validation(event.scores["held_out"])
        elif isinstance(event, events.Done):
            run.done = event
        elif isinstance(event, events.Cancelled):
            run.cancelled = True
        self.trainerEvent.emit(event.to_dict())

    def _trainer_data(self, event: events.Data) -> None:
        self.photos.add_skipped([(Path(p), why) for p, why in event.skipped])
        aside = f" ({event.held_out} kept aside to validate on)" if event.held_out else ""
        self.status_label.setText(f"Training on {event.images - event.held_out} photos{aside}: "
                                  "the first step is running…")

    def _show_progress(self, event: events.Step) -> None:
        run = self.run
        if run is None:
            return
        if run.minutes:
            total = run.minutes * 60
            elapsed = float(event.elapsed)
            fraction, left = elapsed / total, max(total - elapsed, 0.0)
            where = f"Step {run.step}"
        else:
            fraction, left = run.step / max(run.steps, 1), float(event.eta)
            where = f"Step {run.step} of {run.steps}"
        self.progress_bar.setValue(round(1000 * min(max(fraction, 0.0), 1.0)))
        self.status_label.setText(f"{where} · loss {event.loss:.4g} · {recipes.duration(left)} left")

    def _failed_to_start(self, message: str) -> None:
        trainer, self.trainer = self.trainer, None
        if trainer is not None:
            trainer.deleteLater()
        self._fail(message)
        self._update_buttons()

    def _process_finished(self, code: int, crashed: bool) -> None:
        trainer, run = self.trainer, self.run
        if trainer is None or run is None:
            return
        self.trainer = None
        self.pause_button.setChecked(False)
        self.pause_button.setText("Pause")
        trainer.deleteLater()
        from clode.training.train import remove_partial_files
        if run.pid:
            remove_partial_files(run.out, run.pid)
        kept = self._kept_step(run)
        if not kept and run.done is None:
            shutil.rmtree(run.run_dir, ignore_errors=True)   # nothing there to resume
        if run.done is not None and code == 0 and not crashed:
            shutil.rmtree(run.run_dir, ignore_errors=True)   # the model is saved; its checkpoints are spent
            self.progress_bar.setValue(1000)
            self.status_label.setText(f"Done: {run.done.steps} steps in {recipes.duration(float(run.done.seconds))}.")
            self.show_message(f"Saved the model '{run.name}'. Select it under Your models and choose "
                              "“Use in the editor”.", ok=True)
            self.refresh_models(select=run.out)
            self.previews.request_after(run.out, run.step, final=True)
            self.modelsChanged.emit()
            self.finished.emit(str(run.out))
        elif trainer.stop_requested:
            self.status_label.setText(f"Stopped at step {run.step}.")
            self.show_message(f"Stopped. The checkpoint at step {kept} is kept: Resume continues from there."
                              if kept else "Stopped before the first checkpoint; nothing was kept.", ok=True)
            self.refresh_models(select=run.run_dir if kept else None)
            self.stopped.emit(kept)
        else:
            message = trainer.failure(code, crashed)
            message += (f" The checkpoint at step {kept} is kept: Resume continues from there." if kept else
                        " Nothing was saved.")
            self.status_label.setText(f"Stopped unexpectedly at step {run.step}.")
            self.refresh_models(select=run.run_dir if kept else None)
            self._fail(message)
        self._update_buttons()

    def _kept_step(self, run: Run) -> int:
        from clode.training.train import find_checkpoint
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
        running = self.trainer is not None
        stopping = self.trainer is not None and self.trainer.stop_requested
        self.start_button.setEnabled(not running and not self.photos.scanning and bool(self.photos.usable))
        self.stop_button.setEnabled(running and not stopping)
        self.pause_button.setEnabled(running and not stopping and bool(self.run and self.run.pid))
        name = self.settings.name_edit.text().strip()
        resumable = bool(NAME_RE.match(name)) and (model_path_for(name).with_suffix(".checkpoints")
                                                   / "latest.json").exists()
        self.resume_button.setEnabled(not running and resumable)
        form = self.settings
        for w in (form.preset_box, form.name_edit, form.init_box, form.steps_box, form.unit_box, form.bright_slider,
                  form.crop_box, form.device_box, form.advanced):
            w.setEnabled(not running)

    # --------------------------------------------------------------------------------------------
    # the user's models ("Your models" is the shelf; the starting-model choice is the settings')

    def refresh_models(self, select: Optional[Path] = None) -> None:
        self.shelf.refresh(select)
        self.settings.init_box.blockSignals(True)
        chosen = self.settings.init_box.currentData()
        self.settings.init_box.clear()
        if DEFAULT_MODEL.exists():
            self.settings.init_box.addItem("The default model", str(DEFAULT_MODEL))
        for path in trained_models():
            self.settings.init_box.addItem(path.stem, str(path))
        self.settings.init_box.addItem("Nothing (train from scratch: needs many steps)", "")
        index = self.settings.init_box.findData(chosen) if chosen is not None else -1
        self.settings.init_box.setCurrentIndex(max(index, 0))
        self.settings.init_box.blockSignals(False)
        self._update_buttons()

    def model_names(self) -> list[str]:
        return self.shelf.model_names()

    def selected_path(self) -> Optional[Path]:
        return self.shelf.selected_path()

    def select_model(self, path) -> None:
        self.refresh_models(select=Path(path))

    def use_selected(self) -> None:
        self.shelf.use_selected()

    def compare_selected(self) -> None:
        self.shelf.compare_selected()

    def rename(self, path: Path, new_name: str) -> Optional[Path]:
        return self.shelf.rename(path, new_name)

    def delete(self, path: Path) -> None:
        self.shelf.delete(path)

    # --------------------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:  # noqa: N802 - closing the window hides it; a run goes on
        self.hide()
        event.ignore()


def _first_photo(folder: Path) -> list[Path]:
    from clode.io.imageio import find_images
    try:
        return find_images(folder)[:1]
    except OSError:
        return []
