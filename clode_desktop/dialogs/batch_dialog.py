"""File › Batch Export…: enhance a whole folder with ``clode.io.batch`` in the task manager's batch lane.

The batch is a job of the editor's ``TaskManager``, in its lane ``"batch"`` (a worker thread of its
own) with its own copy of the model, rather than in the editor's queue: a batch runs for minutes,
and the editor must stay usable meanwhile. The dialog only plans (to count the photos found),
starts, shows progress and the summary, and cancels; closing it during a run cancels and waits
for the current file to unwind (atomic writes: no partial file).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from clode.io import batch
from clode.base.errors import ClodeError
from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE, DEFAULT_T, Adjustments
from clode.io.export import DEFAULT_FORMAT, FORMAT_EXTENSIONS, ExportOptions
from clode.io.export_presets import DEFAULT_FOLDER, expand_folder, folder_template
from clode.base.progress import CancelToken

from .export_form import ExportForm
from ..base.link import EditorLink
from ..base.settings import Settings
from ..base.worker import Job, TaskManager

#: The first is the default: each photo as it was edited (its sidecar), as the editor shows it.
EXPOSURE_MODES = (("sidecar", "As edited (saved settings), else automatic"), ("auto", "Automatic, per photo"),
                  ("fixed", "Fixed T"))
CONFLICTS = (("unique", "Keep both (add -2, -3 …)"), ("skip", "Skip it (resume a batch)"),
             ("overwrite", "Replace it"))
COUNT_DELAY_MS = 250          # after the last keystroke in a folder field, the folder is scanned
PROGRESS_INTERVAL = 0.05      # seconds between progress signals from inside one photo


def strength_box(value: float, tip: str) -> QDoubleSpinBox:
    """A 0-2 spin box for a strength (1 = as designed)."""
    box = QDoubleSpinBox()
    box.setRange(0.0, 2.0)
    box.setSingleStep(0.1)
    box.setDecimals(2)
    box.setValue(value)
    box.setToolTip(tip)
    return box

def run_batch(job: Job, plan: batch.Plan, model_path: Optional[str], device: str) -> batch.Result:
    """The batch's job, on the batch lane's thread: loads its own copy of the model and runs the
    plan; each ``batch.Progress`` goes to the dialog as the job's partial result."""
    from clode import Enhancer, load_model
    last = 0.0

    def progress(p: batch.Progress) -> None:
        nonlocal last
        now = time.monotonic()
        if p.item is None and p.current is not None and now - last < PROGRESS_INTERVAL:
            return
        last = now
        job.partial(p)

    model = load_model(model_path, device="cpu")
    job.token.check()
    enhancer = Enhancer(model, device=device)
    return batch.run(plan, enhancer, progress=progress, cancel=job.token)


class BatchDialog(QDialog):
    #: progress of the running batch (batch.Progress), as it reaches the dialog
    progressed = Signal(object)
    #: the batch ended, done or cancelled (batch.Result)
    batchFinished = Signal(object)

    def __init__(self, model_path: Optional[str] = None, device: str = "auto", *,
                 folder: Optional[str] = None, parent: Optional[QWidget] = None,
                 selection: Optional[list[Path]] = None, title: Optional[str] = None,
                 settings: Optional[Settings] = None, tasks: Optional[TaskManager] = None) -> None:
        super().__init__(parent)
        #: whose batch lane runs the batch: the editor's task manager (else one of the dialog's own,
        #: for the length of a run)
        self.tasks = tasks
        self._own_tasks: Optional[TaskManager] = None
        self.settings = settings
        self.setWindowTitle(title or ("Batch Export" if not selection else f"Export {len(selection)} Selected Photos"))
        #: only these photos of the folder (the filmstrip's selection), each with its own settings
        self.selection = {Path(p).resolve() for p in selection} if selection else None
        if selection:
            folder = str(Path(selection[0]).parent)
        self.setMinimumWidth(640)
        self.model_path = model_path
        self.device = device
        #: the running batch's job and its cancel token (None: not running)
        self.job: Optional[Job] = None
        self.token: Optional[CancelToken] = None
        self.running_plan: Optional[batch.Plan] = None
        #: the last batch's outcome (not ``result``: that is QDialog's exit code)
        self.last_result: Optional[batch.Result] = None
        self.plan: Optional[batch.Plan] = None
        self._close_when_stopped = False

        # -- folders
        self.input_edit = QLineEdit(folder or "")
        self.input_edit.setPlaceholderText("the folder of photos to enhance")
        #: the output folder as a template of the input folder: "Save to" follows "Photos from" until
        #: the user types or browses another output folder (then it is theirs)
        self._output_template: Optional[str] = DEFAULT_FOLDER
        self.output_edit = QLineEdit(self._derived_output(folder or ""))
        self.output_edit.setPlaceholderText("where the results go (created if needed)")
        self.recursive = QCheckBox("Include sub-folders (mirrored in the output folder)")
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")
        self.count_label.setWordWrap(True)
        folders = QFormLayout()
        folders.addRow("Photos from:", self._with_browse(self.input_edit, "Photos to enhance"))
        folders.addRow("", self.recursive)
        folders.addRow("Save to:", self._with_browse(self.output_edit, "Save the results in"))
        folders.addRow("", self.count_label)
        folder_box = QGroupBox("Folders")
        folder_box.setLayout(folders)

        # -- enhancement
        self.exposure_mode = QComboBox()
        for key, text in EXPOSURE_MODES:
            self.exposure_mode.addItem(text, key)
        self.T = QDoubleSpinBox()
        self.T.setRange(-6.0, 6.0)
        self.T.setSingleStep(0.1)
        self.T.setDecimals(2)
        self.T.setValue(DEFAULT_T)
        self.T.setPrefix("T = ")
        if settings is not None:                    # the mode (and fixed T) of the last batch
            mode, T = settings.batch_exposure()
            self.exposure_mode.setCurrentIndex(max(0, self.exposure_mode.findData(mode)))
            if T is not None:
                self.T.setValue(T)
        exposure_row = QHBoxLayout()
        exposure_row.addWidget(self.exposure_mode, 1)
        exposure_row.addWidget(self.T)
        self.denoise = strength_box(DEFAULT_DENOISE, "Denoiser strength, 0 = off")
        self.colour_noise = strength_box(DEFAULT_COLOUR_NOISE,
                                         "Colour-noise reduction (chroma blur), 0 = off; "
                                         "photos with saved settings use theirs in 'as saved' mode")
        enhance = QFormLayout()
        enhance.addRow("Exposure:", exposure_row)
        enhance.addRow("Denoise:", self.denoise)
        enhance.addRow("Colour noise:", self.colour_noise)
        self.protect = strength_box(0.0, "Protect highlights: lamps, lit windows and bright sky get a shorter "
                                         "exposure, 0 = off, 1 = they stay as photographed")
        self.protect.setMaximum(Adjustments.limits("protect").hi)
        enhance.addRow("Protect highlights:", self.protect)
        self.neutral = QCheckBox("Neutral colours (take out colour casts)")
        self.neutral.setToolTip("White-balance every photo; off, each keeps its own colours. "
                                "Photos with saved settings use theirs in 'as saved' mode")
        enhance.addRow("", self.neutral)
        enhance_box = QGroupBox("Enhancement")
        enhance_box.setLayout(enhance)

        # -- output files: the export options form the Export dialog shows too, with its presets
        start = ExportOptions(format=DEFAULT_FORMAT)
        if settings is not None:
            known = {f.name for f in dataclasses.fields(ExportOptions)}
            start = ExportOptions(**{k: v for k, v in settings.export_options().items() if k in known})
        self.export_form = ExportForm(start, settings, self._folder_template)
        self.format_box, self.quality, self.bits = (self.export_form.format_box, self.export_form.quality,
                                                    self.export_form.bits)
        self.strip = self.export_form.strip
        self.name_edit = QLineEdit(batch.DEFAULT_NAME)
        self.name_edit.setToolTip("Fields: " + ", ".join(f"{{{k}}} = {v}" for k, v in batch.NAME_FIELDS.items()))
        self.name_example = QLabel("")
        self.name_example.setObjectName("hint")
        name_row = QHBoxLayout()
        name_row.addWidget(self.name_edit, 1)
        name_row.addWidget(self.name_example)
        self.conflict = QComboBox()
        for key, text in CONFLICTS:
            self.conflict.addItem(text, key)
        self.export_form.rows.addRow("File names:", name_row)
        self.export_form.rows.addRow("If a file exists:", self.conflict)
        files = QVBoxLayout()
        files.addWidget(self.export_form)
        files_box = QGroupBox("Output files")
        files_box.setLayout(files)

        # -- progress and summary
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.current_label = QLabel("")
        self.current_label.setWordWrap(True)
        self.time_label = QLabel("")
        self.time_label.setObjectName("hint")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.summary.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.summary.setPlaceholderText("Each photo's outcome appears here; the summary is also "
                                        "saved as a log file in the output folder.")
        self.summary.setMinimumHeight(120)
        progress = QVBoxLayout()
        progress.addWidget(self.progress_bar)
        progress.addWidget(self.current_label)
        progress.addWidget(self.time_label)
        progress.addWidget(self.summary, 1)
        progress_box = QGroupBox("Progress")
        progress_box.setLayout(progress)

        # -- buttons
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        for box in (folder_box, enhance_box, files_box):
            layout.addWidget(box)
        layout.addWidget(progress_box, 1)
        layout.addLayout(buttons)
        self.option_widgets = [folder_box, enhance_box, files_box]

        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.update_count)
        self.input_edit.textChanged.connect(self._input_changed)
        self.output_edit.textEdited.connect(self._output_edited)
        self.export_form.presetChosen.connect(self._preset_chosen)
        self.export_form.changed.connect(self._options_changed)
        for edit in (self.input_edit, self.output_edit, self.name_edit):
            edit.textChanged.connect(self._options_changed)
        for edit in (self.input_edit, self.output_edit):
            # A path set by Browse (or the caller) shows its beginning, not its tail.
            edit.textChanged.connect(lambda _t, e=edit: None if e.hasFocus() else e.setCursorPosition(0))
        for combo in (self.exposure_mode, self.conflict):
            combo.currentIndexChanged.connect(self._options_changed)
        self.recursive.toggled.connect(self._options_changed)
        if self.selection is not None:
            self.exposure_mode.setCurrentIndex(self.exposure_mode.findData("sidecar"))
            self.exposure_mode.setToolTip("Each selected photo with its own saved settings")
            self.input_edit.setReadOnly(True)
            self.recursive.setEnabled(False)
        if self.selection is None and settings is not None:
            # the next opening starts where the user left the exposure (a selection's forced mode is not theirs)
            self.exposure_mode.currentIndexChanged.connect(self._remember_exposure)
            self.T.valueChanged.connect(self._remember_exposure)
        self._set_running(False)
        self._options_changed()
        self.update_count()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    # ------------------------------------------------------------------------------------------
    # options

    def _with_browse(self, edit: QLineEdit, title: str) -> QHBoxLayout:
        button = QPushButton("Browse…")

        def browse() -> None:
            folder = QFileDialog.getExistingDirectory(self, title, edit.text() or str(Path.home()))
            if folder:
                edit.setText(folder)
                if edit is self.output_edit:
                    self._output_edited(folder)
        button.clicked.connect(browse)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    # "Save to" follows "Photos from" (as a template: {folder}/clode, or a preset's) until the user
    # chooses an output folder of their own.
    def _derived_output(self, input_text: str) -> str:
        if not input_text.strip() or self._output_template is None:
            return ""
        try:
            return str(expand_folder(self._output_template, Path(input_text.strip()).expanduser()))
        except ClodeError:
            return ""

    def _input_changed(self, text: str) -> None:
        if self._output_template is not None:
            self.output_edit.setText(self._derived_output(text))

    def _output_edited(self, text: str) -> None:
        inp = self.input_edit.text().strip()
        self._output_template = folder_template(Path(text), Path(inp)) if inp and text.strip() else None
        if self._output_template is not None and not self._output_template.startswith("{folder}"):
            self._output_template = None             # a folder elsewhere stays where it is

    def _preset_chosen(self, preset) -> None:
        self._output_template = preset.folder
        self.output_edit.setText(self._derived_output(self.input_edit.text()))

    def _folder_template(self) -> str:
        inp, out = self.input_edit.text().strip(), self.output_edit.text().strip()
        return folder_template(Path(out), Path(inp)) if inp and out else DEFAULT_FOLDER

    def _remember_exposure(self, *_) -> None:
        if self.settings is not None:
            self.settings.set_batch_exposure(self.exposure_mode.currentData(), self.T.value())

    def _options_changed(self, *_) -> None:
        fmt = self.export_form.format()
        self.T.setEnabled(self.exposure_mode.currentData() == "fixed")
        try:
            batch.check_template(self.name_edit.text())
            example = batch.output_stem(self.name_edit.text(), Path("IMG_0001.jpg")) + FORMAT_EXTENSIONS[fmt]
            self.name_example.setText(f"e.g. {example}")
        except ClodeError:
            self.name_example.setText("not a valid name")
        self._count_timer.start()

    def options(self) -> batch.BatchOptions:
        mode = self.exposure_mode.currentData()
        return batch.BatchOptions(
            recursive=self.recursive.isChecked(), T=self.T.value() if mode == "fixed" else mode,
            adjustments=Adjustments(denoise=self.denoise.value(), colour_noise=self.colour_noise.value(),
                                    neutral=self.neutral.isChecked(), protect=self.protect.value()),
            name=self.name_edit.text(),
            export=self.export_form.options(),
            on_conflict=self.conflict.currentData())

    def make_plan(self) -> batch.Plan:
        inp, out = self.input_edit.text().strip(), self.output_edit.text().strip()
        if not inp:
            raise ClodeError("choose the folder of photos")
        if not out:
            raise ClodeError("choose the output folder")
        plan = batch.plan(Path(inp), Path(out), self.options())
        if self.selection is None:
            return plan
        return dataclasses.replace(plan, jobs=[j for j in plan.jobs if j.source.resolve() in self.selection],
                                   rejected=[r for r in plan.rejected if r.source.resolve() in self.selection])

    def update_count(self) -> None:
        """Scan the folders as they stand and say how many photos a run would take."""
        self._count_timer.stop()
        if self.token is not None:
            return
        try:
            self.plan = self.make_plan()
        except ClodeError as e:
            self.plan = None
            self.count_label.setText(str(e))
            self.count_label.setObjectName("note")
        else:
            n = self.plan.total
            text = (f"{n} selected photo{'s' if n != 1 else ''}, each with its own settings"
                    if self.selection is not None else f"{n} photo{'s' if n != 1 else ''} found")
            if self.plan.left_out and self.selection is None:
                text += (f" ({self.plan.left_out} earlier export{'s' if self.plan.left_out != 1 else ''} "
                         "of this app left out)")
            if not n and not self.recursive.isChecked():
                text += " (tick sub-folders to look deeper)"
            if self.plan.rejected:
                text += f"; {len(self.plan.rejected)} cannot be done (see the summary when it runs)"
            self.count_label.setText(text)
            self.count_label.setObjectName("hint")
        self.count_label.style().unpolish(self.count_label)
        self.count_label.style().polish(self.count_label)
        self.start_button.setEnabled(self.plan is not None and self.plan.total > 0)

    # ------------------------------------------------------------------------------------------
    # running

    def _set_running(self, running: bool) -> None:
        for w in self.option_widgets:
            w.setEnabled(not running)
        self.start_button.setVisible(not running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.close_button.setVisible(not running)

    def is_running(self) -> bool:
        return self.token is not None

    def start(self) -> None:
        if self.token is not None:
            return
        self.update_count()
        if self.plan is None or not self.plan.total:
            return
        if self.settings is not None:                # the next batch opens with these
            self.settings.set_export_options(self.export_form.options_dict())
        self.last_result = None
        self.summary.clear()
        self.progress_bar.setValue(0)
        self.current_label.setText(f"Loading the model for {self.plan.total} photos…")
        self.time_label.setText("")
        if self.tasks is not None:
            lane = self.tasks.lane("batch")
        else:
            lane = self._own_tasks = TaskManager(self)
        plan, model_path, device = self.plan, self.model_path, self.device
        self.running_plan = plan
        # The token is the dialog's before the job starts: a cancel reaches a job that runs at once
        # (a manager without threads), and a dialog deleted mid-run still stops its batch.
        self.token = token = CancelToken()
        self.destroyed.connect(token.cancel)
        self._set_running(True)
        job = lane.submit(
            lambda job: run_batch(job, plan, model_path, device), label="Batch export", token=token,
            keep_result=True, on_partial=self._on_progress, on_done=self._on_finished, on_error=self._on_failed,
            on_cancelled=lambda: self._on_finished(batch.Result(plan, [], True, 0.0)))
        if job is None:                              # the editor is closing: its lanes take no work
            self._ended()
        elif self.token is token:                    # still running (a threaded lane)
            self.job = job

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()
            self.cancel_button.setEnabled(False)
            self.current_label.setText("Cancelling…")

    def stop(self, timeout_ms: int = 60_000) -> bool:
        """Cancel a running batch and wait for it to unwind; True when nothing runs any more."""
        if self.token is not None:
            self.token.cancel()
        job = self.job
        if job is None:
            return True
        if not job.wait(timeout_ms):
            return False
        # Its outcome is posted to the UI thread: take it now (the summary, the log), not after we are gone.
        QCoreApplication.sendPostedEvents(job.manager, QEvent.Type.MetaCall)
        return self._shut_own_tasks(timeout_ms)

    def _shut_own_tasks(self, timeout_ms: int = 60_000) -> bool:
        tasks, self._own_tasks = self._own_tasks, None
        return tasks is None or tasks.shutdown(timeout_ms)

    def _on_progress(self, p: batch.Progress) -> None:
        if self.token is None or self.running_plan is None:
            return
        self.progress_bar.setValue(int(round(p.fraction * 1000)))
        if p.current is not None:
            self.current_label.setText(f"{p.number} of {p.total}: {self._rel(p.current)}")
        counts = f"{p.done} done · {p.skipped} skipped · {p.failed} failed"
        eta = "" if p.eta is None else f" · about {batch.format_duration(p.eta)} left"
        self.time_label.setText(f"Elapsed {batch.format_duration(p.elapsed)}{eta} · {counts}")
        if p.item is not None:
            self.summary.appendPlainText(batch.describe(p.item, self.running_plan))
        self.progressed.emit(p)

    def _rel(self, path: Path) -> str:
        if self.running_plan is None:
            return str(path)
        try:
            return path.relative_to(self.running_plan.input_dir).as_posix()
        except ValueError:
            return str(path)

    def _on_finished(self, result: batch.Result) -> None:
        self.last_result = result
        self.progress_bar.setValue(1000 if not result.cancelled else self.progress_bar.value())
        self.current_label.setText(("Cancelled: " if result.cancelled else "Finished: ") + result.headline())
        if result.log_path is not None:
            self.time_label.setText(f"The summary is saved in the output folder as {result.log_path.name}")
            self.time_label.setToolTip(str(result.log_path))
        elif result.log_error:
            self.time_label.setText(f"The summary could not be saved: {result.log_error}")
        # The summary's lines without its header (the options are on screen, the counts above).
        self.summary.setPlainText(batch.summary(result).split("\n\n", 1)[-1].rstrip())
        self.batchFinished.emit(result)
        self._ended()

    def _on_failed(self, message: str) -> None:
        self.current_label.setText(f"The batch could not start: {message}")
        self.last_result = None
        self._ended()

    def _ended(self) -> None:
        self.job = self.token = None
        self._shut_own_tasks()
        self._set_running(False)
        self.update_count()
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.reject()

    # ------------------------------------------------------------------------------------------
    # closing

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.token is not None:
            self._stop_then_close()
            event.ignore()
            return
        super().closeEvent(event)

    def reject(self) -> None:  # Esc, the Close button, the window's close box
        if self.token is not None:
            self._stop_then_close()
            return
        super().reject()

    def _stop_then_close(self) -> None:
        # Cancel, and close once the current photo has unwound (the job's end closes us):
        # the window stays responsive meanwhile.
        self._close_when_stopped = True
        self.cancel()


def open_batch_dialog(editor: EditorLink, selection: Optional[list[Path]] = None,
                      title: Optional[str] = None) -> BatchDialog:
    """File › Batch Export… of the editor: one dialog, brought back if already open; the batch runs
    in the editor's batch lane. ``selection``: only these photos (File › Export Selection…)."""
    existing = [d for d in editor.parent.findChildren(BatchDialog) if d.isVisible()]
    if existing and (selection is None or existing[0].is_running()):
        existing[0].raise_()
        existing[0].activateWindow()
        return existing[0]
    photo = editor.photo_path()
    folder = str(photo.parent) if photo is not None else editor.settings.last_folder()
    for d in existing:
        d.close()
    dialog = BatchDialog(editor.model_choice(), editor.device(), folder=folder, parent=editor.parent,
                         selection=selection, title=title, settings=editor.settings, tasks=editor.tasks)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
