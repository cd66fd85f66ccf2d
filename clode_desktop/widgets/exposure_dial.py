"""The exposure control: a dial for T with a numeric field that stays in sync.

The dial covers a comfortable soft range; the field accepts anything the model
allows, [-t_max, t_max] (the dial then rests at its end). Arrow keys step by
0.05, Page Up/Down by 0.5; dragging turns the knob from where it stands (a click
only focuses it), double-clicking resets T to the model's default.
"""

from __future__ import annotations

import math
from typing import Optional


from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QRadialGradient
from PySide6.QtWidgets import (QDial, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QVBoxLayout, QWidget)

from clode.base.adjustments import DEFAULT_T

UNITS = 100            # dial steps per unit of T
FINE = 0.05
COARSE = 0.5
SOFT_RANGE = (-2.0, 5.0)


class ExposureDial(QDial):
    """A QDial painted like a photo editor's knob: an arc from T = 0 (the original) to the value,
    a tick per unit of T, the model's default (a yellow dot) and the photo's Auto (a green wedge
    and "A") marked, and the exact value in the middle."""

    resetRequested = Signal()
    ACCENT = QColor(90, 160, 235)
    DARKEN = QColor(150, 120, 230)
    DEFAULT_MARK = QColor(235, 190, 80)
    AUTO_MARK = QColor(110, 210, 140)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.shown_value: Optional[float] = None   # the exact T (may lie beyond the dial's marks)
        self._grab: Optional[tuple[float, float]] = None   # pointer angle and value while dragged
        self.default_value = DEFAULT_T
        self.auto_value: Optional[float] = None    # the open photo's Auto T, once known

    def _angle(self, units: float) -> float:
        """QDial's own mapping (non-wrapping): minimum at 240 degrees, maximum at -60."""
        lo, hi = self.minimum(), self.maximum()
        f = (min(max(units, lo), hi) - lo) / max(hi - lo, 1)
        return 240.0 - 300.0 * f

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        enabled = self.isEnabled()
        side = min(self.width(), self.height()) - 34
        c = QPointF(self.width() / 2, self.height() / 2 + 4)
        r = side / 2
        arc = QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r)
        # track
        p.setPen(QPen(QColor(70, 70, 70), 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawArc(arc, 240 * 16, -300 * 16)
        # value arc, from the original (T = 0)
        value = self.shown_value if self.shown_value is not None else self.value() / UNITS
        a0, a1 = self._angle(0), self._angle(value * UNITS)
        colour = (self.ACCENT if value >= 0 else self.DARKEN) if enabled else QColor(100, 100, 100)
        p.setPen(QPen(colour, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawArc(arc, round(a0 * 16), round((a1 - a0) * 16))
        # ticks and numbers
        font = QFont(self.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        p.setFont(font)
        lo, hi = math.ceil(self.minimum() / UNITS), math.floor(self.maximum() / UNITS)
        for t in range(lo, hi + 1):
            ang = math.radians(self._angle(t * UNITS))
            direction = QPointF(math.cos(ang), -math.sin(ang))
            major = t == 0
            p.setPen(QPen(QColor(200, 200, 200) if major else QColor(120, 120, 120), 2 if major else 1.2))
            p.drawLine(c + direction * (r + 5), c + direction * (r + (11 if major else 8)))
            label_at = c + direction * (r + 19)
            p.setPen(QColor(170, 170, 170) if enabled else QColor(100, 100, 100))
            p.drawText(QRectF(label_at.x() - 12, label_at.y() - 8, 24, 16), Qt.AlignmentFlag.AlignCenter, f"{t}")
        # the photo's Auto: a wedge pointing at the track from inside (its "A" is drawn over the knob)
        p.setPen(Qt.PenStyle.NoPen)
        if self.auto_value is not None:
            ang = math.radians(self._angle(self.auto_value * UNITS))
            direction = QPointF(math.cos(ang), -math.sin(ang))
            across = QPointF(-direction.y(), direction.x())
            tip = c + direction * (r - 4)
            p.setBrush(self.AUTO_MARK if enabled else QColor(110, 110, 110))
            p.drawPolygon([tip, tip - direction * 10 + across * 5, tip - direction * 10 - across * 5])
        # the model's default T (on the wedge when Auto is the default)
        ang = math.radians(self._angle(self.default_value * UNITS))
        direction = QPointF(math.cos(ang), -math.sin(ang))
        p.setBrush(self.DEFAULT_MARK if enabled else QColor(110, 110, 110))
        p.drawEllipse(c + direction * (r - 9), 2.5, 2.5)
        # knob
        kr = r * 0.68
        grad = QRadialGradient(c - QPointF(kr * 0.3, kr * 0.4), kr * 1.4)
        grad.setColorAt(0, QColor(78, 78, 78))
        grad.setColorAt(1, QColor(40, 40, 40))
        p.setBrush(grad)
        p.setPen(QPen(QColor(22, 22, 22), 1.5))
        p.drawEllipse(c, kr, kr)
        if self.hasFocus():
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(90, 160, 235, 140), 1.5))
            p.drawEllipse(c, kr + 3, kr + 3)
        if self.auto_value is not None:
            ang = math.radians(self._angle(self.auto_value * UNITS))
            letter = c + QPointF(math.cos(ang), -math.sin(ang)) * (kr - 9)
            p.setPen(self.AUTO_MARK if enabled else QColor(110, 110, 110))
            p.drawText(QRectF(letter.x() - 8, letter.y() - 8, 16, 16), Qt.AlignmentFlag.AlignCenter, "A")
        # pointer
        ang = math.radians(self._angle(self.value()))
        direction = QPointF(math.cos(ang), -math.sin(ang))
        p.setPen(QPen(QColor(240, 240, 240) if enabled else QColor(120, 120, 120), 3,
                      Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.drawLine(c + direction * (kr * 0.62), c + direction * (kr * 0.9))
        # exact value
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.35)
        big.setBold(True)
        p.setFont(big)
        p.setPen(QColor(235, 235, 235) if enabled else QColor(120, 120, 120))
        p.drawText(QRectF(c.x() - kr, c.y() - kr * 0.45, 2 * kr, kr * 0.6), Qt.AlignmentFlag.AlignCenter,
                   f"{value:.2f}")
        p.setFont(font)
        p.setPen(QColor(140, 140, 140))
        p.drawText(QRectF(c.x() - kr, c.y() + kr * 0.1, 2 * kr, kr * 0.4), Qt.AlignmentFlag.AlignCenter, "T")
        p.end()

    # The mouse turns the knob from where it is: a click only focuses it (QDial's own would jump T
    # to the angle under the pointer), a drag turns it by the angle the pointer sweeps, and a
    # double-click resets T.
    def _pointer_angle(self, pos) -> float:
        c = QPointF(self.width() / 2, self.height() / 2 + 4)
        return math.degrees(math.atan2(c.y() - pos.y(), pos.x() - c.x()))

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._grab = (self._pointer_angle(event.position()), float(self.value()))
        self.setSliderDown(True)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        grab = getattr(self, "_grab", None)
        if grab is None or not self.isSliderDown():
            event.ignore()
            return
        angle = self._pointer_angle(event.position())
        swept = (grab[0] - angle + 180.0) % 360.0 - 180.0      # clockwise is positive, across ±180
        self._grab = (angle, min(max(grab[1] + swept / 300.0 * (self.maximum() - self.minimum()),
                                     self.minimum()), self.maximum()))
        self.setValue(round(self._grab[1]))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self._grab = None
        if self.isSliderDown():
            self.setSliderDown(False)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.resetRequested.emit()
        event.accept()


class ExposureControl(QWidget):
    valueChanged = Signal(float)
    autoRequested = Signal()
    released = Signal()            # the dial was let go (a good moment for the full-quality render)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._default = DEFAULT_T
        self._t_max = 6.0
        self._syncing = False

        self.dial = ExposureDial()
        self.dial.setObjectName("exposureDial")
        self.dial.setNotchesVisible(True)
        self.dial.setWrapping(False)
        self.dial.setSingleStep(round(FINE * UNITS))
        self.dial.setPageStep(round(COARSE * UNITS))
        self.dial.setNotchTarget(6.0)
        self.dial.setMinimumSize(190, 190)
        self.dial.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.dial.setToolTip("Exposure time T: turn right to brighten, left to darken.\n"
                             "Drag to turn; arrows: fine steps, Page Up/Down: coarse steps, double-click: reset.\n"
                             "Marks: the yellow dot is the model's default T, the green A this photo's Auto.")

        self.field = QDoubleSpinBox()
        self.field.setObjectName("exposureField")
        self.field.setDecimals(2)
        self.field.setSingleStep(FINE)
        self.field.setKeyboardTracking(False)      # a half-typed number is not rendered
        self.field.setPrefix("T = ")
        self.field.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.field.setToolTip("Exact T; values beyond the dial's marks are allowed up to the model's limit")

        self.auto_button = QPushButton("Auto")
        self.auto_button.setToolTip("Choose T automatically for this photo")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the model's default T")

        darker, brighter = QLabel("◀ darker"), QLabel("brighter ▶")
        for label in (darker, brighter):
            label.setObjectName("hint")
        scale = QHBoxLayout()
        scale.addWidget(darker)
        scale.addStretch(1)
        scale.addWidget(brighter)

        buttons = QHBoxLayout()
        buttons.addWidget(self.field, 1)
        buttons.addWidget(self.auto_button)
        buttons.addWidget(self.reset_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.dial)
        layout.addLayout(scale)
        layout.addLayout(buttons)

        self.dial.valueChanged.connect(self._dial_moved)
        self.dial.sliderReleased.connect(self.released)
        self.dial.resetRequested.connect(self.reset)
        self.field.valueChanged.connect(self._field_changed)
        self.reset_button.clicked.connect(self.reset)
        self.auto_button.clicked.connect(self.autoRequested)
        self.set_model_range(self._default, self._t_max)

    # -- configuration ----------------------------------------------------------------------
    def set_model_range(self, default_T: float, t_max: float) -> None:
        """Adopt a model's default T and hard range [-t_max, t_max] (the value is kept, clamped)."""
        self._default, self._t_max = float(default_T), float(t_max)
        self.dial.default_value = self._default
        value = self.value()
        self._syncing = True
        try:
            lo, hi = max(SOFT_RANGE[0], -t_max), min(SOFT_RANGE[1], t_max)
            self.dial.setRange(round(lo * UNITS), round(hi * UNITS))
            self.field.setRange(-t_max, t_max)
        finally:
            self._syncing = False
        self.set_value(min(max(value, -t_max), t_max), emit=False)

    def default(self) -> float:
        return self._default

    def set_auto_mark(self, T: Optional[float]) -> None:
        """Mark the open photo's Auto T on the dial (None: not known, no mark)."""
        self.dial.auto_value = None if T is None else float(T)
        self.dial.update()

    def auto_mark(self) -> Optional[float]:
        return self.dial.auto_value

    def t_max(self) -> float:
        return self._t_max

    def soft_range(self) -> tuple[float, float]:
        return self.dial.minimum() / UNITS, self.dial.maximum() / UNITS

    # -- value ------------------------------------------------------------------------------
    def value(self) -> float:
        return round(self.field.value(), 4)

    def set_value(self, T: float, emit: bool = True) -> None:
        T = min(max(float(T), -self._t_max), self._t_max)
        changed = abs(T - self.field.value()) > 1e-9
        self._syncing = True
        try:
            self.field.setValue(T)
            self.dial.setValue(round(T * UNITS))      # QDial clamps to its soft range
        finally:
            self._syncing = False
        self._show()
        if emit and changed:
            self.valueChanged.emit(self.value())

    def reset(self) -> None:
        self.set_value(self._default)
        self.released.emit()

    def is_dragging(self) -> bool:
        return self.dial.isSliderDown()

    def _dial_moved(self, units: int) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.field.setValue(units / UNITS)
        finally:
            self._syncing = False
        self._show()
        self.valueChanged.emit(self.value())

    def _field_changed(self, T: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.dial.setValue(round(T * UNITS))
        finally:
            self._syncing = False
        self._show()
        self.valueChanged.emit(self.value())
        self.released.emit()

    def _show(self) -> None:
        self.dial.shown_value = self.value()
        self.dial.update()
