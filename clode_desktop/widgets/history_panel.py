"""The open photo's edit history as a list (darktable's history stack): the original at the top, one
row per step, the current one selected; clicking a row goes back (or forward) to it. Steps after the
current one are greyed: they can be redone until a new change replaces them."""

from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QPalette
from PySide6.QtWidgets import QDockWidget, QListWidget, QListWidgetItem, QWidget

from clode.base.adjustments import Adjustments

from ..rules.history import describe


#: the History dock's width when the window opens
HISTORY_WIDTH = 170


class HistoryList(QListWidget):
    #: the user chose entry ``index`` (0 = the original)
    entryChosen = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyList")
        self.setToolTip("Click a step to go back to it; Ctrl+Z / Ctrl+Shift+Z step through")
        self.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.itemClicked.connect(lambda item: self.entryChosen.emit(self.row(item)))
        self._shown: Optional[tuple] = None

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # Qt's list asks for 256 px, a quarter of a laptop-sized window, for names of a few words
        # ("Exposure (T) 4.50"): the photo gets the room; the dock can still be dragged wider.
        return QSize(HISTORY_WIDTH, super().sizeHint().height())

    def show_entries(self, entries: Sequence[tuple[str, Adjustments]], index: int) -> None:
        """Show ``entries`` (name, edit) with entry ``index`` current."""
        key = (tuple(entries), index)
        if key == self._shown:
            return                                  # every dial move asks; most change nothing
        self._shown = key
        self.blockSignals(True)
        self.clear()
        later = QBrush(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        for i, (label, state) in enumerate(entries):
            item = QListWidgetItem(f"{i}  {label}" if i else label)
            item.setToolTip("  ·  ".join(f"{name} {describe(name, value)}" for name, value in state.to_dict().items()))
            if i > index:
                item.setForeground(later)           # undone: redo (or a click) brings it back
            self.addItem(item)
        if entries:
            self.setCurrentRow(index)
            self.scrollToItem(self.item(index))
        self.blockSignals(False)

    def labels(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def keyPressEvent(self, event) -> None:  # noqa: N802
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentRow() >= 0:
            self.entryChosen.emit(self.currentRow())


class HistoryDock(QDockWidget):
    """The list in a dock left of the photo, as in darktable; View › History shows and hides it."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("HISTORY", parent)        # titled as the side panel's sections
        self.setObjectName("historyDock")
        self.list = HistoryList()
        self.setWidget(self.list)
        self.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.setMinimumWidth(140)
