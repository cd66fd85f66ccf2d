"""Zoomed in beyond the view images, the visible region rendered sharply: a moment after zooming or
panning stops (and after each full-quality render), the region is rendered again at screen resolution
and laid over the canvas."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..widgets.canvas import Canvas
from ..rules.editing import Editing
from ..rules.engine import Detail, Engine
from ..base.worker import TaskManager

DETAIL_DELAY_MS = 120            # after zooming or panning stops, the visible region is rendered sharply
MAX_DETAIL_PIXELS = 6_000_000    # a bigger region (a huge window) keeps the view images' sharpness


class DetailRenders(QObject):
    #: a sharper render of the zoomed-in region reached the canvas (Detail)
    shown = Signal(object)

    def __init__(self, canvas: Canvas, editing: Editing, engine: Engine, tasks: TaskManager,
                 parent: QObject) -> None:
        super().__init__(parent)
        self.canvas, self.editing, self.engine, self.tasks = canvas, editing, engine, tasks
        self._timer = QTimer(self, singleShot=True, interval=DETAIL_DELAY_MS)
        self._timer.timeout.connect(self.request)
        canvas.viewChanged.connect(self._timer.start)

    def schedule(self) -> None:
        """Render the detail once the view has been still for a moment."""
        self._timer.start()

    def request(self) -> None:
        """Zoomed in beyond the view images: render the visible region at screen resolution."""
        if self.editing.opened is None or not self.editing.prepared or not self.canvas.needs_detail():
            return
        region = self.canvas.visible_region()
        if region is None or region == self.canvas.detail_region() and self.editing.detail_key is not None:
            return
        x, y, w, h = region
        zoom = min(self.canvas.zoom(), 1.0)
        size = (max(1, round(h * zoom)), max(1, round(w * zoom)))
        if size[0] * size[1] > MAX_DETAIL_PIXELS:
            return
        adjustments, engine = self.editing.adjustments, self.engine
        self.tasks.submit(lambda job: engine.render_detail(adjustments, region, size, job.token),
                          label="Rendering the detail", key="detail", group="curves", on_done=self._done)

    def _done(self, d: Detail) -> None:
        if not self.editing.detail_done(d):
            return
        self.canvas.set_detail(d.region, d.original, d.result)
        self.shown.emit(d)
