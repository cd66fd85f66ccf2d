"""Histogram of the result: luminance, or R, G and B overlaid."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

LUMINANCE, RGB = "luminance", "rgb"
_CHANNEL_COLOURS = [QColor(230, 60, 60, 120), QColor(60, 200, 80, 120), QColor(70, 110, 240, 120)]


class Histogram(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._counts: Optional[np.ndarray] = None   # 4 x 256: R, G, B, luminance
        self._mode = RGB
        self.setToolTip("Histogram of the result (click to switch between RGB and luminance)")

    def sizeHint(self):  # noqa: N802
        from PySide6.QtCore import QSize
        return QSize(256, 120)

    def set_counts(self, counts: Optional[np.ndarray]) -> None:
        self._counts = None if counts is None else np.asarray(counts, dtype=np.float64)
        self.update()

    def counts(self) -> Optional[np.ndarray]:
        return self._counts

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in (LUMINANCE, RGB):
            raise ValueError(mode)
        self._mode = mode
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self.set_mode(LUMINANCE if self._mode == RGB else RGB)

    def _curve(self, counts: np.ndarray, rect: QRectF, peak: float) -> QPolygonF:
        # Square root: the dark end of a dim photo would otherwise dwarf everything else.
        heights = np.sqrt(counts / peak) if peak > 0 else counts * 0
        n = len(counts)
        pts = [QPointF(rect.left(), rect.bottom())]
        for i, v in enumerate(heights):
            x = rect.left() + (i + 0.5) / n * rect.width()
            pts.append(QPointF(x, rect.bottom() - min(v, 1.0) * rect.height()))
        pts.append(QPointF(rect.right(), rect.bottom()))
        return QPolygonF(pts)

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.fillRect(rect, QColor(28, 28, 28))
        p.setPen(QPen(QColor(60, 60, 60), 1))
        for q in (0.25, 0.5, 0.75):
            x = rect.left() + q * rect.width()
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        if self._counts is not None:
            c = self._counts
            # The extreme bins hold clipped pixels; leaving them out of the scale keeps the rest visible.
            inner = c[:, 1:-1]
            if self._mode == RGB:
                peak = float(inner[:3].max()) if inner.size else 0.0
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Plus)
                for ch in range(3):
                    path = QPainterPath()
                    path.addPolygon(self._curve(c[ch], rect, peak))
                    p.fillPath(path, _CHANNEL_COLOURS[ch])
                p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
            else:
                peak = float(inner[3].max()) if inner.size else 0.0
                path = QPainterPath()
                path.addPolygon(self._curve(c[3], rect, peak))
                p.fillPath(path, QColor(200, 200, 200, 170))
        else:
            p.setPen(QColor(110, 110, 110))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no result yet")
        p.setPen(QPen(QColor(70, 70, 70), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect)
        label = "RGB" if self._mode == RGB else "Luminance"
        p.setPen(QColor(140, 140, 140))
        p.drawText(rect.adjusted(6, 3, -6, -3), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight, label)
        p.end()
