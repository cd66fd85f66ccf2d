"""The editor window's status bar: passing notes, the progress of the job in view, and the device,
model, photo size and render time."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from ..rules.engine import ModelState
from ..base.worker import Job

#: jobs whose progress is also written over the canvas, as they hold back the first result
OVERLAY_TEXTS = {"Preparing": "Preparing the exposure curves… {:.0f} %", "Refining": "Refining… {:.0f} %"}


class WindowStatusBar(QObject):
    """Fills ``bar``; ``cancel`` stops a job and ``set_overlay`` writes over the canvas."""

    def __init__(self, bar: QStatusBar, cancel: Callable[[Job], None], set_overlay: Callable[[str], None],
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._cancel, self._set_overlay = cancel, set_overlay
        #: the job whose progress the bar shows
        self.progress_job: Optional[Job] = None
        self.message_label = QLabel()
        self.message_label.setObjectName("message")
        bar.addWidget(self.message_label, 1)
        self._message_timer = QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFixedWidth(160)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_current)
        for w in self._progress_widgets():
            bar.addWidget(w)
            w.hide()
        self.device_status = QLabel("Device: —")
        self.model_status = QLabel("Model: loading…")
        self.size_status = QLabel("")
        self.time_status = QLabel("")
        for w in (self.device_status, self.model_status, self.size_status, self.time_status):
            bar.addPermanentWidget(w)

    def _progress_widgets(self) -> tuple:
        return self.progress_label, self.progress_bar, self.cancel_button

    def show_model(self, state: ModelState) -> None:
        self.device_status.setText(f"Device: {state.device_label}" + (" ⚠" if state.note else ""))
        self.device_status.setToolTip(state.note)
        self.model_status.setText(f"Model: {state.name}")

    def notify(self, text: str, ms: int = 8000) -> None:
        """A passing note."""
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self._message_timer.start(ms)

    def job_started(self, job: Job) -> None:
        self.progress_job = job
        self.progress_label.setText(job.label + "…")
        self.progress_bar.setValue(0)
        for w in self._progress_widgets():
            w.show()

    def job_progress(self, job: Job, fraction: float, message: str) -> None:
        if job is self.progress_job:
            self.progress_bar.setValue(round(fraction * 1000))
            if job.label in OVERLAY_TEXTS:
                self._set_overlay(OVERLAY_TEXTS[job.label].format(fraction * 100))

    def job_ended(self, job: Job) -> None:
        if job is self.progress_job:
            self.progress_job = None
            for w in self._progress_widgets():
                w.hide()

    def cancel_current(self) -> None:
        if self.progress_job is not None:
            self._cancel(self.progress_job)
