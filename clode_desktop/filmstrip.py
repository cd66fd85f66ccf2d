"""The filmstrip: one row of thumbnails of the open folder, below the photo.

It shows what it is given (the folder session fills in thumbnails as they are made, a grey frame
until then) and marks the photos that have saved settings with a dot. Clicking a photo, or the
arrow keys and Home/End while it has the focus, choose the photo to edit; Ctrl/Shift-clicks select
several (the targets of a paste, a sync or a batch export).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from .qimage import qimage_from_array

ICON = QSize(112, 76)
PATH_ROLE = Qt.ItemDataRole.UserRole
MARK = QColor(235, 190, 80)


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

    def _refresh(self, path: Path) -> None:
        item = self._items[path]
        item.setIcon(QIcon(self._frame(self._thumbs.get(path), path in self._marked)))
        item.setToolTip(str(path) + ("\nedited (has saved settings)" if path in self._marked else ""))

    def _frame(self, thumb: Optional[QPixmap], marked: bool = False) -> QPixmap:
        """The thumbnail centred in an icon-sized frame, with the edited mark in its corner."""
        canvas = QPixmap(ICON)
        canvas.fill(QColor(0, 0, 0, 0))
        p = QPainter(canvas)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if thumb is None:
            p.fillRect(canvas.rect().adjusted(8, 4, -8, -4), QColor(58, 58, 58))
        else:
            scaled = thumb.scaled(ICON, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            p.drawPixmap((ICON.width() - scaled.width()) // 2, (ICON.height() - scaled.height()) // 2, scaled)
        if marked:
            p.setPen(QColor(30, 30, 30))
            p.setBrush(MARK)
            p.drawEllipse(ICON.width() - 17, 4, 12, 12)
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
                self.setCurrentItem(None)
            elif item is not self.currentItem():
                self.setCurrentItem(item)
            if item is not None:
                self.scrollToItem(item)
        finally:
            self._quiet = False

    def step(self, delta: int) -> None:
        """Choose the photo ``delta`` places on (clamped at the ends); ±10**9 reaches an end."""
        if not self.count():
            return
        row = self.currentRow()
        target = min(max((row if row >= 0 else 0) + delta, 0), self.count() - 1)
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
