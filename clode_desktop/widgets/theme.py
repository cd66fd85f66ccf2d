"""The dark, neutral look of a photo editor (Fusion style, grey palette)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from ..assets import resource


STYLE_SHEET = """
QLabel#sectionTitle { color: #9a9a9a; font-weight: bold; letter-spacing: 1px; padding-top: 6px; }
QLabel#hint { color: #8a8a8a; }
QLabel#note { color: #e0b050; }
QLabel#value { color: #e8e8e8; }
QWidget#sidePanel { background: #2d2d2d; }
QToolBar { background: #2d2d2d; border: none; border-bottom: 1px solid #1c1c1c; spacing: 4px; padding: 3px; }
QToolButton { padding: 4px 9px; border-radius: 3px; }
QToolButton:checked { background: #4a4a4a; }
QToolButton:hover { background: #3c3c3c; }
QStatusBar { background: #2d2d2d; color: #b8b8b8; }
QStatusBar QLabel { color: #b8b8b8; padding: 0 6px; }
QPushButton { padding: 4px 12px; }
QDockWidget#historyDock::title { background: #2d2d2d; padding: 6px 10px; }
QDockWidget#historyDock { color: #9a9a9a; font-weight: bold; }
QListWidget#historyList { background: #2d2d2d; border: none; font-weight: normal; }
QListWidget#historyList::item { padding: 3px 8px; }
"""


def palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(45, 45, 45), QColor(32, 32, 32), QColor(225, 225, 225)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        p.setColor(group, QPalette.ColorRole.Window, window)
        p.setColor(group, QPalette.ColorRole.WindowText, text)
        p.setColor(group, QPalette.ColorRole.Base, base)
        p.setColor(group, QPalette.ColorRole.AlternateBase, QColor(40, 40, 40))
        p.setColor(group, QPalette.ColorRole.Text, text)
        p.setColor(group, QPalette.ColorRole.Button, QColor(58, 58, 58))
        p.setColor(group, QPalette.ColorRole.ButtonText, text)
        p.setColor(group, QPalette.ColorRole.Highlight, QColor(78, 130, 200))
        p.setColor(group, QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
        p.setColor(group, QPalette.ColorRole.ToolTipBase, QColor(30, 30, 30))
        p.setColor(group, QPalette.ColorRole.ToolTipText, text)
        p.setColor(group, QPalette.ColorRole.PlaceholderText, QColor(120, 120, 120))
        p.setColor(group, QPalette.ColorRole.Mid, QColor(35, 35, 35))
        p.setColor(group, QPalette.ColorRole.Dark, QColor(25, 25, 25))
        p.setColor(group, QPalette.ColorRole.Light, QColor(80, 80, 80))
    disabled = QColor(115, 115, 115)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Button, QColor(50, 50, 50))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Base, base)
    return p


def icon(name: str) -> QIcon:
    """One of the bundled SVG icons (drawn for this dark theme: light strokes)."""
    path = resource("icons", f"{name}.svg")
    if not path.is_file():
        raise FileNotFoundError(path)   # a typo in a name must fail in the tests, not show a blank
    return QIcon(str(path))


def apply(app: QApplication) -> None:
    app.setWindowIcon(icon("app"))
    app.setStyle("Fusion")
    app.setPalette(palette())
    app.setStyleSheet(STYLE_SHEET)
