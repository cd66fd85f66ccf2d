"""The filmstrip: one row of thumbnails of the open folder, below the photo.

It shows what it is given (the folder session fills in thumbnails as they are made, a grey frame
until then), marks the photos that have saved settings with a dot, and draws each photo's culling
marks: its stars, a pick flag or a rejected photo dimmed and crossed, and its colour label as a
bar. A filter hides the photos it does not accept. Clicking a photo, or the arrow keys and
Home/End while it has the focus, choose the photo to edit (hidden photos are stepped over);
Ctrl/Shift-clicks select several (the targets of a paste, a sync, a rating or a batch export)
without opening them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from clode.io.culling import PICK, REJECT, Culling, Filter

from .qimage import qimage_from_array

ICON = QSize(112, 76)
PATH_ROLE = Qt.ItemDataRole.UserRole
MARK = QColor(235, 190, 80)
STAR = QColor(250, 205, 70)
LABEL_COLOURS = {"red": QColor(220, 60, 60), "yellow": QColor(230, 200, 50), "green": QColor(70, 180, 80),
                 "blue": QColor(70, 130, 230), "purple": QColor(160, 90, 210)}
#: Ctrl (Cmd on a Mac, where Qt calls it Control too) or Shift: a click that selects, not opens.
SELECTING = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


class Filmstrip(QListWidget):
    #: the user chose a photo (Path)
    photoChosen = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(ICON)
        self.setGridSize(QSize(ICON.width() + 12, ICON.height() + 26))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(ICON.height() + 48)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self._items: dict[Path, QListWidgetItem] = {}
        self._thumbs: dict[Path, QPixmap] = {}
        self._marked: set[Path] = set()
        self._culling: dict[Path, Culling] = {}
        self._filter = Filter()
        self._placeholder = self._frame(None)
        self._quiet = False
        self.currentItemChanged.connect(self._current_changed)

    # -- content -----------------------------------------------------------------------------------
    def set_photos(self, photos: list[Path]) -> None:
        self._quiet = True
        try:
            self.clear()
            self._items.clear()
            self._thumbs.clear()
            self._marked.clear()
            self._culling.clear()
            for p in photos:
                item = QListWidgetItem(self._placeholder, p.name)
                item.setData(PATH_ROLE, str(p))
                item.setToolTip(str(p))
                item.setSizeHint(self.gridSize())
                self.addItem(item)
                self._items[Path(p)] = item
        finally:
            self._quiet = False

    def photos(self) -> list[Path]:
        return [Path(self.item(i).data(PATH_ROLE)) for i in range(self.count())]

    def set_thumbnail(self, path: Path, img8: np.ndarray) -> None:
        if Path(path) in self._items:
            self._thumbs[Path(path)] = QPixmap.fromImage(qimage_from_array(img8))
            self._refresh(Path(path))

    def has_thumbnail(self, path: Path) -> bool:
        return Path(path) in self._thumbs

    def set_marked(self, path: Path, marked: bool) -> None:
        path = Path(path)
        if path in self._items and (path in self._marked) != marked:
            (self._marked.add if marked else self._marked.discard)(path)
            self._refresh(path)

    def is_marked(self, path: Path) -> bool:
        return Path(path) in self._marked

    # -- culling marks and the filter --------------------------------------------------------------
    def set_culling(self, path: Path, culling: Culling) -> None:
        path = Path(path)
        if path in self._items and self._culling.get(path, Culling()) != culling:
            self._culling[path] = culling
            self._refresh(path)
            self._show(self._items[path], self._filter.accepts(culling))

    def culling(self, path: Path) -> Culling:
        return self._culling.get(Path(path), Culling())

    def set_filter(self, f: Filter) -> None:
        """Show only the photos ``f`` accepts (the current photo stays current, shown or not)."""
        self._filter = f
        for path, item in self._items.items():
            self._show(item, f.accepts(self.culling(path)))

    @staticmethod
    def _show(item: QListWidgetItem, shown: bool) -> None:
        # A hidden photo leaves the selection: what the keys, a paste or an export act on is what is seen.
        item.setHidden(not shown)
        if not shown:
            item.setSelected(False)

    def filter(self) -> Filter:
        return self._filter

    def visible_photos(self) -> list[Path]:
        """The photos the filter shows, in strip order."""
        return [p for p in self.photos() if not self._items[p].isHidden()]

    def _refresh(self, path: Path) -> None:
        item = self._items[path]
        marks = self.culling(path)
        item.setIcon(QIcon(self._frame(self._thumbs.get(path), path in self._marked, marks)))
        tip = str(path) + ("\nedited (has saved settings)" if path in self._marked else "")
        item.setToolTip(tip + ("" if marks.is_default else f"\n{marks.describe()}"))

    def _frame(self, thumb: Optional[QPixmap], marked: bool = False, marks: Culling = Culling()) -> QPixmap:
        """The thumbnail centred in an icon-sized frame, with the edited mark in its corner and the
        culling marks: stars along the bottom, the flag top left, the colour label as a bar."""
        canvas = QPixmap(ICON)
        canvas.fill(QColor(0, 0, 0, 0))
        p = QPainter(canvas)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if thumb is None:
            p.fillRect(canvas.rect().adjusted(8, 4, -8, -4), QColor(58, 58, 58))
        else:
            scaled = thumb.scaled(ICON, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            if marks.flag == REJECT:
                p.setOpacity(0.35)
            p.drawPixmap((ICON.width() - scaled.width()) // 2, (ICON.height() - scaled.height()) // 2, scaled)
            p.setOpacity(1.0)
        if marked:
            p.setPen(QColor(30, 30, 30))
            p.setBrush(MARK)
            p.drawEllipse(ICON.width() - 17, 4, 12, 12)
        _draw_marks(p, marks)
        p.end()
        return canvas

    # -- choosing ----------------------------------------------------------------------------------
    def current_path(self) -> Optional[Path]:
        item = self.currentItem()
        return Path(item.data(PATH_ROLE)) if item is not None else None

    def show_current(self, path: Optional[Path]) -> None:
        """Make ``path`` the current photo without choosing it (it was opened another way)."""
        item = self._items.get(Path(path)) if path is not None else None
        self._quiet = True
        try:
            if item is None:
                self.setCurrentItem(None)  # type: ignore[call-overload]  # Qt takes None; PySide's stubs do not say so
            elif item is not self.currentItem():
                self.setCurrentItem(item)
            if item is not None:
                self.scrollToItem(item)
        finally:
            self._quiet = False

    def step(self, delta: int) -> None:
        """Choose the photo ``delta`` places on (clamped at the ends); ±10**9 reaches an end."""
        shown = [r for r in range(self.count()) if not self.item(r).isHidden()]
        if not shown:
            return
        row = self.currentRow()
        ref = row if row >= 0 else shown[0]
        # the place of the current photo among the shown ones (a hidden current photo sits between two)
        before = sum(1 for r in shown if r < ref)
        at = before if ref in shown else before - (1 if delta > 0 else 0)
        target = shown[min(max(at + delta, 0), len(shown) - 1)]
        if target != row:
            self.setCurrentRow(target)

    def neighbour(self, path: Path) -> Optional[Path]:
        """The photo after ``path`` (else the one before): the one to prepare ahead."""
        photos = self.photos()
        if Path(path) not in photos or len(photos) < 2:
            return None
        i = photos.index(Path(path))
        return photos[i + 1] if i + 1 < len(photos) else photos[i - 1]

    def selected_paths(self) -> list[Path]:
        """The selected photos in strip order."""
        rows = sorted(self.row(i) for i in self.selectedItems())
        return [Path(self.item(r).data(PATH_ROLE)) for r in rows]

    def _current_changed(self, current: Optional[QListWidgetItem], _previous) -> None:
        if current is not None and not self._quiet:
            self.photoChosen.emit(Path(current.data(PATH_ROLE)))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        # Ctrl-click adds or removes one photo, Shift-click the photos from the open one to it: they
        # are selected, not opened (the open photo stays current), as in Lightroom's filmstrip.
        item = self.itemAt(event.position().toPoint())
        modifiers = event.modifiers()
        if item is None or not modifiers & SELECTING or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        row = self.row(item)
        if modifiers & Qt.KeyboardModifier.ShiftModifier:
            anchor = self.currentRow() if self.currentRow() >= 0 else row
            if not modifiers & Qt.KeyboardModifier.ControlModifier:
                self.clearSelection()
            for r in range(min(anchor, row), max(anchor, row) + 1):
                if not self.item(r).isHidden():
                    self.item(r).setSelected(True)
        else:
            item.setSelected(not item.isSelected())
        event.accept()


def _draw_marks(p: QPainter, marks: Culling) -> None:
    w, h = ICON.width(), ICON.height()
    if marks.label is not None:
        p.fillRect(QRectF(8, h - 5, w - 16, 4), LABEL_COLOURS[marks.label])
    if marks.rating:
        font = QFont(p.font())
        font.setPixelSize(12)
        p.setFont(font)
        text = "★" * marks.rating
        width = p.fontMetrics().horizontalAdvance(text)
        box = QRectF((w - width) / 2 - 3, h - 21, width + 6, 15)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 4, 4)
        p.setPen(STAR)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
    if marks.flag == PICK:
        flag = QPainterPath(QPointF(14, 5))              # a white flag on a pole, Lightroom's pick mark
        flag.lineTo(24, 9)
        flag.lineTo(14, 13)
        flag.closeSubpath()
        p.setPen(QPen(QColor(20, 20, 20), 1))
        p.setBrush(QColor(245, 245, 245))
        p.drawPath(flag)
        p.setPen(QPen(QColor(245, 245, 245), 2))
        p.drawLine(QPointF(13, 4), QPointF(13, 21))
    elif marks.flag == REJECT:
        pen = QPen(QColor(230, 70, 70), 3)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        p.drawLine(QPointF(12, 6), QPointF(24, 18))
        p.drawLine(QPointF(24, 6), QPointF(12, 18))
