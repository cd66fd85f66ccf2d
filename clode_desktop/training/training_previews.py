"""One of the user's photos three ways while a model trains: as it is, by the starting model and by
the newest checkpoint (then the final model); and the held-out validation figures at the end.

Renders run on the panel's worker thread with the fast engine on the CPU, at most one checkpoint
preview every ``interval_s`` (frequent checkpoints would keep a CPU busy), always the newest.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from clode.base.errors import ClodeError
from clode.training.model_library import render_small, small_image
from clode.base.pixels import to_uint8
from clode.training.validation import summary
from clode.engine.weights import DEFAULT_MODEL

from ..widgets.training_widgets import PREVIEW_SIDE, Thumb, hint
from ..base.worker import Job, TaskManager

PREVIEW_INTERVAL_S = 5.0         # at most one checkpoint preview this often
NO_CHECKPOINT = "After (no checkpoint yet)"


class TrainingPreviews(QWidget):
    #: the "after" preview was refreshed: step
    previewUpdated = Signal(int)

    def __init__(self, tasks: TaskManager, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.interval_s = PREVIEW_INTERVAL_S
        self.photo: Optional[Path] = None
        self.run_dir: Optional[Path] = None
        self._pixels = None
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self._submit)
        self._pending: Optional[tuple] = None
        self._last = -1e9
        self.thumb_original = Thumb("Your photo")
        self.thumb_before = Thumb("Before (starting model)")
        self.thumb_after = Thumb(NO_CHECKPOINT)
        for t in (self.thumb_original, self.thumb_before, self.thumb_after):
            t.setToolTip("One of your photos kept out of training (when there are enough): "
                         "what the model does on a photo it has not seen")
        self.figures = hint("")
        self.figures.setObjectName("validationFigures")
        self.figures.hide()
        thumbs = QHBoxLayout()
        for t in (self.thumb_original, self.thumb_before, self.thumb_after):
            thumbs.addWidget(t)
        thumbs.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(thumbs)
        box.addWidget(self.figures)

    def start(self, photo: Optional[Path], init: Optional[Path], run_dir: Path) -> None:
        """A new run: show ``photo`` as it is and by the starting model ``init`` (None = default)."""
        self._pending = None
        self._timer.stop()
        self.photo, self.run_dir, self._pixels = photo, run_dir, None
        self.figures.hide()
        self.thumb_after.set_image(None, NO_CHECKPOINT)
        if photo is None:
            return

        def work(job: Job):
            from clode.io.imageio import load_preview
            pixels = small_image(load_preview(photo, max_side=PREVIEW_SIDE * 2).pixels, PREVIEW_SIDE)
            before = render_small(init, pixels) if init is not None or DEFAULT_MODEL.exists() else None
            return pixels, to_uint8(pixels), before

        def done(result) -> None:
            self._pixels, original, before = result
            self.thumb_original.set_image(original, photo.name)
            self.thumb_before.set_image(before, "Before (starting model)")

        self.tasks.submit(work, key="preview-start", label="Preview", on_done=done,
                          on_error=lambda m: self.thumb_original.set_image(None, "(no preview)"))

    def request_after(self, model: Path, step: int, final: bool = False) -> None:
        """Render the photo with a checkpoint's (or the final) model, throttled (see the module)."""
        self._pending = (model, step, final)
        wait = self.interval_s - (time.monotonic() - self._last)
        if final or wait <= 0:
            self._timer.stop()
            self._submit()
        elif not self._timer.isActive():
            self._timer.start(int(wait * 1000))

    def _submit(self) -> None:
        if self._pending is None or self.photo is None:
            return
        model, step, final = self._pending
        self._pending = None
        self._last = time.monotonic()
        previews, run_dir = self, self.run_dir

        def work(job: Job):
            from clode.base.errors import ModelLoadError
            from clode.training.train import find_checkpoint
            pixels = previews._pixels
            if pixels is None:
                return None
            path, at = model, step
            if not final and not path.exists():    # rotated away by a newer checkpoint: take the newest
                try:
                    path = find_checkpoint(run_dir) / "model.safetensors"
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

    def show_validation(self, report: dict) -> None:
        """The held-out figures of the starting model and the trained one (``clode.training.validation``)."""
        self.figures.setText(summary(report))
        self.figures.show()
