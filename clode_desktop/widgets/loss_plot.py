"""A live plot of the training loss terms (log scale), drawn with QPainter."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# The terms ``clode.training.losses.clode_loss`` reports, in legend order, with their colours.
TERMS = ("total", "spatial", "exposure", "colour", "smoothness", "noise")
COLOURS = {"total": QColor(235, 235, 235), "spatial": QColor(90, 160, 240), "exposure": QColor(240, 170, 60),
           "colour": QColor(110, 200, 120), "smoothness": QColor(190, 130, 230), "noise": QColor(230, 100, 100)}
BACKGROUND = QColor(30, 30, 30)
GRID = QColor(60, 60, 60)
TEXT = QColor(150, 150, 150)


class LossPlot(QWidget):
    """Loss terms against the step; more points than pixels are averaged per pixel column."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(260, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._steps: list[int] = []
        self._values: list[list[float]] = []

    def clear(self) -> None:
        self._steps, self._values = [], []
        self.update()

    def add(self, step: int, terms: dict) -> None:
        self._steps.append(int(step))
        self._values.append([float(terms.get(t, math.nan)) for t in TERMS])
        self.update()

    def points(self) -> int:
        return len(self._steps)

    def latest(self) -> dict:
        return dict(zip(TERMS, self._values[-1])) if self._values else {}

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), BACKGROUND)
        fm = p.fontMetrics()
        legend_h = self._draw_legend(p, fm)
        area = QRectF(fm.horizontalAdvance("1e-00") + 10, legend_h + 6, 0, 0)
        area.setRight(self.width() - 10)
        area.setBottom(self.height() - fm.height() - 8)
        if area.width() < 20 or area.height() < 20:
            return
        if not self._steps:
            p.setPen(TEXT)
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, "The loss appears here while training")
            return

        values = np.asarray(self._values, np.float64)
        steps = np.asarray(self._steps, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.where(values > 0, values, np.nan))
        finite = logs[np.isfinite(logs)]
        if finite.size == 0:
            return
        lo, hi = math.floor(finite.min()), math.ceil(finite.max())
        if hi - lo < 1:
            hi = lo + 1
        # The axis spans the steps so far (the progress bar shows how far the run is).
        x0 = steps[0] - 1
        x1 = max(steps[-1], x0 + 1)

        # Decade grid and labels.
        p.setPen(QPen(GRID, 1))
        for d in range(lo, hi + 1):
            y = area.bottom() - (d - lo) / (hi - lo) * area.height()
            p.setPen(QPen(GRID, 1))
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(TEXT)
            p.drawText(QRectF(0, y - fm.height() / 2, area.left() - 5, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"1e{d}" if d else "1")
        p.setPen(TEXT)
        p.drawText(QRectF(area.left(), area.bottom() + 3, area.width(), fm.height()),
                   Qt.AlignmentFlag.AlignLeft, f"step {int(x0)}")
        p.drawText(QRectF(area.left(), area.bottom() + 3, area.width(), fm.height()),
                   Qt.AlignmentFlag.AlignRight, f"{int(x1)}")

        # One point per pixel column at most: average the log values that fall in it.
        cols = np.clip(((steps - x0) / (x1 - x0) * area.width()).astype(int), 0, max(int(area.width()), 1))
        uniq, first = np.unique(cols, return_index=True)
        bounds = list(first[1:]) + [len(cols)]
        for i, term in reversed(list(enumerate(TERMS))):   # total drawn last, on top
            path = QPainterPath()
            pen_down = False
            for c, a, b in zip(uniq, first, bounds):
                seg = logs[a:b, i]
                seg = seg[np.isfinite(seg)]
                if seg.size == 0:
                    pen_down = False
                    continue
                pt = QPointF(area.left() + c, area.bottom() - (seg.mean() - lo) / (hi - lo) * area.height())
                if pen_down:
                    path.lineTo(pt)
                else:
                    path.moveTo(pt)
                    pen_down = True
            p.setPen(QPen(COLOURS[term], 2.0 if term == "total" else 1.3))
            p.drawPath(path)
            if len(uniq) == 1 and pen_down:
                p.setBrush(COLOURS[term])
                p.drawEllipse(path.currentPosition(), 2.5, 2.5)
                p.setBrush(Qt.BrushStyle.NoBrush)

    def _draw_legend(self, p: QPainter, fm) -> float:
        """The terms with their latest values, in as many rows as the width needs; returns its height."""
        x, y = 8.0, 3.0
        latest = self.latest()
        for term in TERMS:
            value = latest.get(term, math.nan)
            text = f"{term} {value:.3g}" if math.isfinite(value) else term
            width = 16 + fm.horizontalAdvance(text) + 12
            if x > 8 and x + width > self.width() - 4:
                x, y = 8.0, y + fm.height() + 2
            p.fillRect(QRectF(x, y + fm.height() / 2 - 1.5, 12, 3), COLOURS[term])
            p.setPen(TEXT if term != "total" else COLOURS[term])
            p.drawText(QPointF(x + 16, y + fm.ascent()), text)
            x += width
        return y + fm.height()
