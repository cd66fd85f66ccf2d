"""The image view: zoom, pan, and the before/after comparisons.

Geometry is kept in the photo's full-resolution pixels, so the original and
results of any size (a quick preview, a draft, the full view) land in the same
place. ``zoom`` is device pixels per photo pixel: 1.0 (100 %) shows one photo
pixel on one physical screen pixel, also on HiDPI screens.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .qimage import qimage_from_array

RESULT, SPLIT, SIDE = "result", "split", "side"
MODES = (RESULT, SPLIT, SIDE)
MODE_NAMES = {RESULT: "After", SPLIT: "Split", SIDE: "Side by side"}

BACKGROUND = QColor(38, 38, 38)      # neutral mid-dark grey: does not bias the eye's sense of exposure
MAX_ZOOM = 32.0
WHEEL_STEP = 2 ** 0.25               # one wheel notch
MARGIN = 16                          # logical pixels around a fitted image
DIVIDER_GRAB = 10                    # logical pixels either side of the divider that grab it
SIDE_GAP = 4


class Canvas(QWidget):
    zoomChanged = Signal(float, bool)    # zoom (1.0 = 100 %), fitted
    dividerMoved = Signal(float)         # 0..1 across the view
    modeChanged = Signal(str)
    viewChanged = Signal()               # zoom, pan, size or mode changed (what is visible)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._original: Optional[QImage] = None
        self._result: Optional[QImage] = None
        self._full: Optional[tuple[int, int]] = None     # (H, W) of the photo
        self._photo: object = None                       # which photo is shown (its path)
        self._mode = RESULT
        self._divider = 0.5
        self._zoom = 1.0
        self._center = QPointF(0, 0)
        self._fit = True
        self._peek = False
        self._overlay = ""
        self._detail: Optional[tuple] = None             # ((x, y, w, h), original QImage, result QImage)
        self._message = "Open a photo (Ctrl+O) or drop one here"
        self._drag: Optional[str] = None                 # "pan" | "divider"
        self._drag_start = QPointF()
        self._center_start = QPointF()
        #: the active local exposure tool (``local_tools.LocalTools``) or None: it gets the drags
        self.tool = None
        self._mask: Optional[QImage] = None             # the selected layer's mask overlay

    # -- content ----------------------------------------------------------------------------
    def set_original(self, img8: np.ndarray, full_size: tuple[int, int], photo: object = None) -> None:
        """Show an original (H x W x 3 uint8); ``full_size`` = the photo's (H, W); ``photo``
        names it (its path).

        The same photo again (the full decode after a preview) keeps the result and the zoom.
        Another photo drops the result: until its own first render arrives, "after" shows its
        original, never the previous photo's result beside it."""
        new_photo = photo is None or photo != self._photo or self._full != tuple(full_size)
        self._original = qimage_from_array(img8)
        self._full = (int(full_size[0]), int(full_size[1]))
        self._photo = photo
        if new_photo:
            self._result = None
            self._detail = None
            self._mask = None
            self.fit_to_window()
        self.update()

    def set_result(self, img8: Optional[np.ndarray]) -> None:
        self._result = None if img8 is None else qimage_from_array(img8)
        self.update()

    def clear(self, message: str = "") -> None:
        self._original = self._result = self._detail = self._mask = None
        self._full = self._photo = None
        if message:
            self._message = message
        self.update()

    def set_detail(self, region: tuple[int, int, int, int], original8: np.ndarray, result8: np.ndarray) -> None:
        """Sharper images of one region of the photo, drawn over the view images."""
        self._detail = (tuple(region), qimage_from_array(original8), qimage_from_array(result8))
        self.update()

    def clear_detail(self) -> None:
        if self._detail is not None:
            self._detail = None
            self.update()

    def detail_region(self) -> Optional[tuple[int, int, int, int]]:
        return self._detail[0] if self._detail else None

    def needs_detail(self) -> bool:
        """Zoomed in beyond what the view images hold: the visible part deserves a sharper render."""
        if self._original is None or self._full is None:
            return False
        return self._zoom * self._full[1] > self._original.width() * 1.01

    def visible_region(self) -> Optional[tuple[int, int, int, int]]:
        """The photo pixels (x, y, w, h) visible in the view (the same in every viewport)."""
        if self._full is None:
            return None
        vp = self.viewports()[0]
        s = self._scale()
        x0, y0 = self._center.x() - vp.width() / 2 / s, self._center.y() - vp.height() / 2 / s
        x1, y1 = self._center.x() + vp.width() / 2 / s, self._center.y() + vp.height() / 2 / s
        h, w = self._full
        x0, y0 = max(0, int(x0) - 1), max(0, int(y0) - 1)
        x1, y1 = min(w, int(x1) + 2), min(h, int(y1) + 2)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1 - x0, y1 - y0

    def photo_size(self) -> Optional[tuple[int, int]]:
        """The photo's (H, W)."""
        return self._full

    def view_image_size(self) -> Optional[tuple[int, int]]:
        """(h, w) of the view image (the grid the mask overlay is drawn on)."""
        return None if self._original is None else (self._original.height(), self._original.width())

    def _shown_size(self) -> tuple[int, int]:
        """The photo's (H, W), for what is only asked while a photo is shown."""
        if self._full is None:
            raise RuntimeError("the canvas shows no photo")
        return self._full

    def photo_point(self, pos: QPointF) -> tuple[float, float]:
        """A view position as a photo point in units of the photo's long side (``clode.base.local_exposure``)."""
        pt = self.view_to_photo(pos)
        long = float(max(self._shown_size()))
        return (pt.x() / long, pt.y() / long)

    def view_point(self, pt: tuple[float, float], vp: Optional[QRectF] = None) -> QPointF:
        """A photo point (long-side units) in view coordinates (in viewport ``vp``, else the result's)."""
        long = float(max(self._shown_size()))
        vp = vp or self.viewports()[-1]
        return vp.center() + (QPointF(pt[0] * long, pt[1] * long) - self._center) * self._scale()

    def set_mask_overlay(self, image: Optional[QImage]) -> None:
        """A mask drawn over the result (RGBA, covering the whole photo), or None."""
        self._mask = image
        self.update()

    def mask_overlay(self) -> Optional[QImage]:
        return self._mask

    def original_image(self) -> Optional[QImage]:
        return self._original

    def result_image(self) -> Optional[QImage]:
        """The result as displayed (None until the first render)."""
        return self._result

    def has_image(self) -> bool:
        return self._original is not None

    def set_message(self, message: str) -> None:
        self._message = message
        self.update()

    def set_overlay(self, text: str) -> None:
        if text != self._overlay:
            self._overlay = text
            self.update()

    # -- comparison -------------------------------------------------------------------------
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown compare mode {mode!r}")
        if mode != self._mode:
            self._mode = mode
            if self._fit:
                self._apply_fit()
            else:
                self.viewChanged.emit()
            self.update()
            self.modeChanged.emit(mode)

    def divider(self) -> float:
        return self._divider

    def set_divider(self, fraction: float) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction != self._divider:
            self._divider = fraction
            self.update()
            self.dividerMoved.emit(fraction)

    def set_peek(self, on: bool) -> None:
        """Show the original everywhere while a key is held."""
        if on != self._peek:
            self._peek = on
            self.update()

    def peeking(self) -> bool:
        return self._peek

    # -- zoom and pan -----------------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def is_fit(self) -> bool:
        return self._fit

    def center(self) -> QPointF:
        return QPointF(self._center)

    def _dpr(self) -> float:
        return self.devicePixelRatioF() or 1.0

    def _scale(self) -> float:
        """Logical pixels per photo pixel."""
        return self._zoom / self._dpr()

    def viewports(self) -> list[QRectF]:
        r = QRectF(self.rect())
        if self._mode == SIDE:
            # Whole pixels: the two halves are the same photo rect shifted by a whole number of
            # pixels, so the original and the result line up pixel for pixel.
            half = math.floor((r.width() - SIDE_GAP) / 2)
            return [QRectF(r.left(), r.top(), half, r.height()),
                    QRectF(r.left() + half + SIDE_GAP, r.top(), half, r.height())]
        return [r]

    def _fit_zoom(self) -> float:
        if self._full is None:
            return 1.0
        h, w = self._full
        vp = self.viewports()[0]
        s = min((vp.width() - 2 * MARGIN) / w, (vp.height() - 2 * MARGIN) / h)
        return max(s, 1e-3) * self._dpr()

    def _min_zoom(self) -> float:
        return min(self._fit_zoom(), 1.0) * 0.5

    def _apply_fit(self) -> None:
        if self._full is None:
            return
        self._zoom = self._fit_zoom()
        self._center = QPointF(self._full[1] / 2, self._full[0] / 2)
        self.viewChanged.emit()

    def fit_to_window(self) -> None:
        self._fit = True
        self._apply_fit()
        self.update()
        self.zoomChanged.emit(self._zoom, True)

    def set_zoom(self, zoom: float, anchor: Optional[QPointF] = None) -> None:
        """Zoom to ``zoom`` keeping the photo point under ``anchor`` (view coordinates) in place."""
        if self._full is None:
            return
        zoom = min(max(zoom, self._min_zoom()), MAX_ZOOM)
        vp = self._viewport_at(anchor) if anchor is not None else self.viewports()[0]
        if anchor is None:
            anchor = vp.center()
        photo_pt = self.view_to_photo(anchor, vp)
        self._zoom = zoom
        s = self._scale()
        self._center = photo_pt - (anchor - vp.center()) / s
        self._fit = False
        self._clamp_center()
        self.update()
        self.zoomChanged.emit(self._zoom, False)
        self.viewChanged.emit()

    def zoom_by(self, factor: float, anchor: Optional[QPointF] = None) -> None:
        self.set_zoom(self._zoom * factor, anchor)

    def actual_size(self, anchor: Optional[QPointF] = None) -> None:
        self.set_zoom(1.0, anchor)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the photo by (dx, dy) logical pixels."""
        s = self._scale()
        self._center -= QPointF(dx / s, dy / s)
        self._fit = False
        self._clamp_center()
        self.update()
        self.viewChanged.emit()

    def _clamp_center(self) -> None:
        if self._full is None:
            return
        h, w = self._full
        self._center = QPointF(min(max(self._center.x(), 0.0), w), min(max(self._center.y(), 0.0), h))

    def _viewport_at(self, pos: QPointF) -> QRectF:
        for vp in self.viewports():
            if vp.contains(pos):
                return vp
        return self.viewports()[0]

    def view_to_photo(self, pos: QPointF, vp: Optional[QRectF] = None) -> QPointF:
        vp = vp or self._viewport_at(pos)
        return self._center + (pos - vp.center()) / self._scale()

    def photo_rect(self, vp: QRectF) -> QRectF:
        """Where the whole photo lies in view coordinates within viewport ``vp``."""
        h, w = self._shown_size()
        s = self._scale()
        top_left = vp.center() - self._center * s
        # On whole device pixels, so that at 100 % each photo pixel is exactly one screen pixel.
        # (floor(v + 0.5), not round(): Python's round() sends halves to the even number, which
        # could put the two halves of side-by-side one pixel apart.)
        dpr = self._dpr()
        x, y = math.floor(top_left.x() * dpr + 0.5) / dpr, math.floor(top_left.y() * dpr + 0.5) / dpr
        return QRectF(x, y, w * s, h * s)

    def divider_x(self) -> float:
        vp = self.viewports()[0]
        return vp.left() + self._divider * vp.width()

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        if self._original is None or self._full is None:
            p.setPen(QColor(150, 150, 150))
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.3)
            p.setFont(f)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
            p.end()
            return
        # no result yet (a photo just opened): the original on both sides, labelled as such
        show_result = self._result is not None and not self._peek
        before = (self._original, self._detail[1] if self._detail else None)
        after = (self._result, self._detail[2] if self._detail else None) if show_result else before
        vps = self.viewports()
        if self._mode == RESULT:
            self._draw(p, after, vps[0], vps[0])
            if self._peek:
                self._label(p, self._shown(vps[0]), "Before", left=True)
        elif self._mode == SPLIT:
            vp = vps[0]
            x = self.divider_x()
            self._draw(p, before, vp, QRectF(vp.left(), vp.top(), x - vp.left(), vp.height()))
            self._draw(p, after, vp, QRectF(x, vp.top(), vp.right() - x, vp.height()))
            self._draw_divider(p, self._shown(vp), x)
            self._label(p, self._shown(vp), "Before", left=True)
            self._label(p, self._shown(vp), "After" if show_result else "Before", left=False)
        else:
            self._draw(p, before, vps[0], vps[0])
            self._draw(p, after, vps[1], vps[1])
            p.fillRect(QRectF(vps[0].right(), 0, SIDE_GAP, self.height()), QColor(20, 20, 20))
            self._label(p, self._shown(vps[0]), "Before", left=True)
            self._label(p, self._shown(vps[1]), "After" if show_result else "Before", left=True)
        if self._mask is not None:
            vp = vps[-1]
            self._blit(p, self._mask, self.photo_rect(vp), vp, vp)
        if self.tool is not None:
            for vp in vps:                      # side by side: the outline on both halves
                p.save()
                p.setClipRect(vp)
                self.tool.paint(p, lambda pt, vp=vp: self.view_point(pt, vp))
                p.restore()
        if self._overlay:
            self._pill(p, QPointF(self.width() / 2, self.height() - 28), self._overlay, centered=True)
        p.end()

    def _shown(self, vp: QRectF) -> QRectF:
        """The part of viewport ``vp`` the photo covers (labels and the divider stay on the photo)."""
        r = self.photo_rect(vp).intersected(vp)
        return r if not r.isEmpty() else vp

    def _draw(self, p: QPainter, images: tuple, vp: QRectF, clip: QRectF) -> None:
        """The view image, then (zoomed in) the sharper detail of the visible region over it."""
        img, detail = images
        target = self.photo_rect(vp)
        self._blit(p, img, target, vp, clip)
        if detail is not None and self._detail is not None:
            x, y, w, h = self._detail[0]
            s = target.width() / self._shown_size()[1]
            self._blit(p, detail, QRectF(target.left() + x * s, target.top() + y * s, w * s, h * s), vp, clip)

    def _blit(self, p: QPainter, img: QImage, target: QRectF, vp: QRectF, clip: QRectF) -> None:
        visible = target.intersected(clip).intersected(vp)
        if visible.isEmpty():
            return
        # Only the visible part of the source is drawn: zoomed in, that is a small piece.
        sx = img.width() / target.width()
        sy = img.height() / target.height()
        source = QRectF((visible.left() - target.left()) * sx, (visible.top() - target.top()) * sy,
                        visible.width() * sx, visible.height() * sy)
        device_per_source = self._dpr() / sx
        # Smooth when shrinking or mildly enlarging; sharp pixels when zoomed far in.
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform,
                        device_per_source < 3.0 and abs(device_per_source - 1.0) > 1e-9)
        p.drawImage(visible, img, source)

    def _draw_divider(self, p: QPainter, vp: QRectF, x: float) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(QColor(0, 0, 0, 120), 3))
        p.drawLine(QPointF(x, vp.top()), QPointF(x, vp.bottom()))
        p.setPen(QPen(QColor(235, 235, 235), 1.5))
        p.drawLine(QPointF(x, vp.top()), QPointF(x, vp.bottom()))
        c = QPointF(x, vp.center().y())
        p.setBrush(QColor(235, 235, 235))
        p.setPen(QPen(QColor(0, 0, 0, 140), 1))
        p.drawEllipse(c, 13, 13)
        p.setBrush(QColor(50, 50, 50))
        p.setPen(Qt.PenStyle.NoPen)
        for sign in (-1, 1):
            tri = QPainterPath()
            tip = QPointF(c.x() + sign * 9, c.y())
            tri.moveTo(tip)
            tri.lineTo(c.x() + sign * 3, c.y() - 5)
            tri.lineTo(c.x() + sign * 3, c.y() + 5)
            tri.closeSubpath()
            p.drawPath(tri)
        p.restore()

    def _label(self, p: QPainter, vp: QRectF, text: str, left: bool) -> None:
        y = vp.top() + 20
        if left:
            self._pill(p, QPointF(vp.left() + 12, y), text)
        else:
            width = p.fontMetrics().horizontalAdvance(text) + 16
            self._pill(p, QPointF(vp.right() - 12 - width, y), text)

    def _pill(self, p: QPainter, at: QPointF, text: str, centered: bool = False) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fm = p.fontMetrics()
        w, h = fm.horizontalAdvance(text) + 16, fm.height() + 6
        x = at.x() - w / 2 if centered else at.x()
        rect = QRectF(x, at.y() - h / 2, w, h)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(rect, h / 2, h / 2)
        p.setPen(QColor(235, 235, 235))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    # -- events -----------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:  # noqa: N802
        if self._fit:
            self._apply_fit()
            self.zoomChanged.emit(self._zoom, True)
        else:
            self.viewChanged.emit()
        super().resizeEvent(event)

    def _near_divider(self, pos: QPointF) -> bool:
        return self._mode == SPLIT and self._full is not None and abs(pos.x() - self.divider_x()) <= DIVIDER_GRAB

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() != Qt.MouseButton.LeftButton or self._full is None:
            return super().mousePressEvent(event)
        pos = event.position()
        if self.tool is not None:
            self._drag = "tool"
            self.tool.press(self.photo_point(pos), event.modifiers())
        elif self._near_divider(pos):
            self._drag = "divider"
        else:
            self._drag = "pan"
            self._drag_start = pos
            self._center_start = QPointF(self._center)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        if self.tool is not None and self._full is not None and self._drag in (None, "tool"):
            self.tool.move(self.photo_point(pos), event.modifiers())
        elif self._drag == "divider":
            vp = self.viewports()[0]
            self.set_divider((pos.x() - vp.left()) / max(vp.width(), 1.0))
        elif self._drag == "pan":
            d = (pos - self._drag_start) / self._scale()
            self._center = self._center_start - d
            self._fit = False
            self._clamp_center()
            self.update()
            self.viewChanged.emit()
        elif self._near_divider(pos):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self._full is not None:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag == "tool" and self.tool is not None:
            self.tool.release(self.photo_point(event.position()), event.modifiers())
        if self._drag == "pan":
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            if not self._fit:
                self.zoomChanged.emit(self._zoom, False)
        self._drag = None

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if self._full is None or self._near_divider(event.position()) or self.tool is not None:
            return
        if self._fit:
            self.actual_size(event.position())
        else:
            self.fit_to_window()

    def wheelEvent(self, event) -> None:  # noqa: N802
        if self._full is None:
            return
        # (with Shift, some platforms turn the vertical wheel into a horizontal one)
        steps = (event.angleDelta().y() or event.angleDelta().x()) / 120.0
        if steps and self.tool is not None and self.tool.wheel(steps, event.modifiers()):
            event.accept()
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP ** steps, event.position())
        event.accept()
