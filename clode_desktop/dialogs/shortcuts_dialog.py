"""Help › Keyboard Shortcuts: every shortcut of the window, searchable.

The table is built from the window's own actions (their text, shortcuts and menu), so it cannot
drift from what the keys do; the gestures that are no action (the dial's keys, the mouse) follow.
Typing in the filter keeps the rows whose action, shortcut or menu contain the text."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QLineEdit,
                               QMainWindow, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

#: What the keyboard and the mouse do beyond the actions: (what, keys, where).
GESTURES = [
    ("Show the original while held", "\\", "Photo"),
    ("Exposure: fine steps", "Up / Down (← / → without a folder)", "Exposure dial"),
    ("Exposure: coarse steps", "Page Up / Page Down", "Exposure dial"),
    ("Exposure: back to the default", "Double-click the dial", "Exposure dial"),
    ("Zoom at the pointer", "Mouse wheel", "Photo"),
    ("Pan, or move the split divider", "Drag", "Photo"),
    ("Fit / 100 % at the pointer", "Double-click", "Photo"),
    ("Select several photos", "Ctrl+click, Shift+click", "Filmstrip"),
    ("Brush: size / feather", "Ctrl+wheel / Shift+wheel (brush tool)", "Photo"),
    ("Brush: erase", "Alt+drag (brush tool)", "Photo"),
    ("Gradient: move its ends, centre or radii", "Drag a handle of the selected gradient (G, Shift+G)", "Photo"),
]


def action_name(action: QAction) -> str:
    """An action's text as a person reads it: no mnemonic ampersand, no trailing ellipsis."""
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_rows(window: QWidget) -> list[tuple[str, str, str]]:
    """(action, shortcuts, menu) of every action of ``window`` that has a shortcut, in menu order,
    then the actions outside the menus (the window's and its widgets')."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def add(action: QAction, where: str) -> None:
        if id(action) in seen or action.isSeparator() or not action.shortcuts():
            return
        seen.add(id(action))
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        rows.append((action_name(action), keys, where))

    def walk(actions, where: str) -> None:
        for action in actions:
            if action.menu() is not None:
                walk(action.menu().actions(), f"{where} › {action_name(action)}" if where else action_name(action))
            else:
                add(action, where)

    if isinstance(window, QMainWindow):
        walk(window.menuBar().actions(), "")
    for action in window.actions():
        add(action, "Window")
    for action in window.findChildren(QAction):   # those of its widgets (the filmstrip's keys…)
        add(action, "Window")
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str, str]], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 520)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("shortcutFilter")
        self.filter_edit.setPlaceholderText("Search: an action, a key (Ctrl+Z) or a menu")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.set_filter)
        self.table = QTableWidget(len(rows), 3)
        self.table.setObjectName("shortcutTable")
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.empty_label = QLabel("No shortcut matches.")
        self.empty_label.setObjectName("hint")
        self.empty_label.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        layout.addWidget(buttons)
        self.filter_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_filter(self, text: str) -> None:
        """Show the rows that contain every word of ``text`` (in any column, any case)."""
        words = text.casefold().split()
        shown = 0
        for r in range(self.table.rowCount()):
            line = " ".join(self._cell(r, c) for c in range(3)).casefold()
            hide = not all(w in line for w in words)
            self.table.setRowHidden(r, hide)
            shown += not hide
        self.empty_label.setVisible(shown == 0)

    def _cell(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def visible_rows(self) -> list[tuple[str, str, str]]:
        return [(self._cell(r, 0), self._cell(r, 1), self._cell(r, 2)) for r in range(self.table.rowCount())
                if not self.table.isRowHidden(r)]


def show_shortcuts(window: QWidget) -> ShortcutsDialog:
    """Help › Keyboard Shortcuts (not modal: it can stay open beside the photo)."""
    for existing in window.findChildren(ShortcutsDialog):
        if existing.isVisible():
            existing.raise_()
            existing.activateWindow()
            return existing
    dialog = ShortcutsDialog(shortcut_rows(window) + GESTURES, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
