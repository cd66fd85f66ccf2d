"""File › Batch Export…: enhance a whole folder with ``clode.batch`` on a thread of its own.

The batch gets its own thread and its own copy of the model rather than the editor's worker:
a batch runs for minutes, and the editor must stay usable meanwhile. The dialog only plans
(to count the photos found), starts, shows progress and the summary, and cancels; closing it
during a run cancels and waits for the current file to unwind (atomic writes: no partial file).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QThread, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from clode import batch
from clode.errors import ClodeError
from clode.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE, DEFAULT_T, Adjustments
from clode.export import DEEP, FORMAT_EXTENSIONS, FORMAT_NAMES, LOSSY, ExportOptions
from clode.progress import CancelToken

from .worker import collect_garbage_on_ui_thread, error_message

EXPOSURE_MODES = (("fixed", "Fixed T"), ("auto", "Automatic, per photo"),
                  ("sidecar", "As edited (sidecar), else automatic"))
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

class BatchThread(QThread):
    """Loads the model and runs one batch; reports by signal, never raises."""

    progressed = Signal(object)    # batch.Progress
    succeeded = Signal(object)     # batch.Result
    failed = Signal(str)           # one line: the model or the output folder could not be used

    def __init__(self, plan: batch.Plan, model_path: Optional[str], device: str) -> None:
        super().__init__()
        collect_garbage_on_ui_thread()
        self.setObjectName("clode-batch")
        self.plan = plan
        self.model_path = model_path
        self.device = device
        self.token = CancelToken()
        self._last = 0.0

    def _progress(self, p: batch.Progress) -> None:
        now = time.monotonic()
        if p.item is None and p.current is not None and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        self.progressed.emit(p)

    def run(self) -> None:
        try:
            from clode import Enhancer, load_model
            model = load_model(self.model_path, device="cpu")
            self.token.check()
            enhancer = Enhancer(model, device=self.device)
            result = batch.run(self.plan, enhancer, progress=self._progress, cancel=self.token)
        except BaseException as e:  # noqa: BLE001 - a message for the dialog, never a dead thread
            if self.token.cancelled:
                result = batch.Result(self.plan, [], True, 0.0)
            else:
                self.failed.emit(error_message(e))
                return
        self.succeeded.emit(result)


class BatchDialog(QDialog):
    #: progress of the running batch (batch.Progress), as it reaches the dialog
    progressed = Signal(object)
    #: the batch ended, done or cancelled (batch.Result)
    batchFinished = Signal(object)

    def __init__(self, model_path: Optional[str] = None, device: str = "auto", *,
                 folder: Optional[str] = None, parent: Optional[QWidget] = None,
                 selection: Optional[list[Path]] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch Export" if not selection else f"Export {len(selection)} Selected Photos")
        #: only these photos of the folder (the filmstrip's selection), each with its own settings
        self.selection = {Path(p).resolve() for p in selection} if selection else None
        if selection:
            folder = str(Path(selection[0]).parent)
        self.setMinimumWidth(640)
        self.model_path = model_path
        self.device = device
        self.thread: Optional[BatchThread] = None
        self.result: Optional[batch.Result] = None
        self.plan: Optional[batch.Plan] = None
        self._close_when_stopped = False

        # -- folders
        self.input_edit = QLineEdit(folder or "")
        self.input_edit.setPlaceholderText("the folder of photos to enhance")
        self.output_edit = QLineEdit(str(Path(folder) / "clode") if folder else "")
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

        # -- output files
        self.format_box = QComboBox()
        for key, name in FORMAT_NAMES.items():
            self.format_box.addItem(name, key)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(92)
        self.quality.setPrefix("quality ")
        self.bits = QComboBox()
        self.bits.addItem("8 bits", 8)
        self.bits.addItem("16 bits", 16)
        format_row = QHBoxLayout()
        format_row.addWidget(self.format_box, 1)
        format_row.addWidget(self.quality)
        format_row.addWidget(self.bits)
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
        self.strip = QCheckBox("Remove metadata (EXIF, GPS, camera, capture time)")
        files = QFormLayout()
        files.addRow("Format:", format_row)
        files.addRow("File names:", name_row)
        files.addRow("If a file exists:", self.conflict)
        files.addRow("", self.strip)
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
        for edit in (self.input_edit, self.output_edit, self.name_edit):
            edit.textChanged.connect(self._options_changed)
        for edit in (self.input_edit, self.output_edit):
            # A path set by Browse (or the caller) shows its beginning, not its tail.
            edit.textChanged.connect(lambda _t, e=edit: None if e.hasFocus() else e.setCursorPosition(0))
        for box in (self.exposure_mode, self.format_box, self.conflict):
            box.currentIndexChanged.connect(self._options_changed)
        self.recursive.toggled.connect(self._options_changed)
        if self.selection is not None:
            self.exposure_mode.setCurrentIndex(self.exposure_mode.findData("sidecar"))
            self.input_edit.setReadOnly(True)
            self.recursive.setEnabled(False)
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
        button.clicked.connect(browse)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    def _options_changed(self, *_) -> None:
        fmt = self.format_box.currentData()
        self.quality.setEnabled(fmt in LOSSY)
        self.bits.setEnabled(fmt in DEEP)
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
            export=ExportOptions(format=self.format_box.currentData(), quality=self.quality.value(),
                                 bits=self.bits.currentData(), strip_metadata=self.strip.isChecked()),
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
        if self.thread is not None:
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
        return self.thread is not None

    def start(self) -> None:
        if self.thread is not None:
            return
        self.update_count()
        if self.plan is None or not self.plan.total:
            return
        self.result = None
        self.summary.clear()
        self.progress_bar.setValue(0)
        self.current_label.setText(f"Loading the model for {self.plan.total} photos…")
        self.time_label.setText("")
        thread = BatchThread(self.plan, self.model_path, self.device)
        thread.progressed.connect(self._on_progress)
        thread.succeeded.connect(self._on_finished)
        thread.failed.connect(self._on_failed)
        thread.finished.connect(self._on_thread_ended)
        # A dialog deleted mid-run still stops its batch.
        self.destroyed.connect(thread.token.cancel)
        self.thread = thread
        self._set_running(True)
        thread.start()

    def cancel(self) -> None:
        if self.thread is not None:
            self.thread.token.cancel()
            self.cancel_button.setEnabled(False)
            self.current_label.setText("Cancelling…")

    def stop(self, timeout_ms: int = 60_000) -> bool:
        """Cancel a running batch and wait for its thread; True when nothing runs any more."""
        thread = self.thread
        if thread is None:
            return True
        thread.token.cancel()
        return thread.wait(timeout_ms)

    def _on_progress(self, p: batch.Progress) -> None:
        if self.thread is None:
            return
        self.progress_bar.setValue(int(round(p.fraction * 1000)))
        if p.current is not None:
            self.current_label.setText(f"{p.number} of {p.total}: {self._rel(p.current)}")
        counts = f"{p.done} done · {p.skipped} skipped · {p.failed} failed"
        eta = "" if p.eta is None else f" · about {batch.format_duration(p.eta)} left"
        self.time_label.setText(f"Elapsed {batch.format_duration(p.elapsed)}{eta} · {counts}")
        if p.item is not None:
            self.summary.appendPlainText(batch.describe(p.item, self.thread.plan))
        self.progressed.emit(p)

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.thread.plan.input_dir).as_posix()
        except (ValueError, AttributeError):
            return str(path)

    def _on_finished(self, result: batch.Result) -> None:
        self.result = result
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

    def _on_failed(self, message: str) -> None:
        self.current_label.setText(f"The batch could not start: {message}")
        self.result = None

    def _on_thread_ended(self) -> None:
        self.thread = None
        self._set_running(False)
        self.update_count()
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.reject()

    # ------------------------------------------------------------------------------------------
    # closing

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.thread is not None:
            self._stop_then_close()
            event.ignore()
            return
        super().closeEvent(event)

    def reject(self) -> None:  # Esc, the Close button, the window's close box
        if self.thread is not None:
            self._stop_then_close()
            return
        super().reject()

    def _stop_then_close(self) -> None:
        # Cancel, and close once the current photo has unwound (the thread's end closes us):
        # the window stays responsive meanwhile.
        self._close_when_stopped = True
        self.cancel()


def open_batch_dialog(window, selection: Optional[list[Path]] = None) -> BatchDialog:
    """File › Batch Export… of the editor ``window``: one dialog, brought back if already open.
    ``selection``: only these photos (File › Export Selection…)."""
    existing = [d for d in window.findChildren(BatchDialog) if d.isVisible()]
    if existing and (selection is None or existing[0].is_running()):
        existing[0].raise_()
        existing[0].activateWindow()
        return existing[0]
    folder = str(window.photo_path.parent) if window.photo_path is not None else window.settings.last_folder()
    for d in existing:
        d.close()
    dialog = BatchDialog(window.model_choice(), window._device, folder=folder, parent=window, selection=selection)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
