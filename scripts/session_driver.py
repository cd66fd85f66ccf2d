"""What the scripted sessions under Xvfb share: the real window, started as ``clode_desktop.app`` starts
it, and waiting and typing as a person does (``photographer_session.py``, ``local_exposure_session.py``)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


class Driver:
    """The app's main window on a real X server, with a settings file and a user data folder of its own
    in ``out``;
    ``problems`` collects what went wrong (a session exits 1 when it is not empty)."""

    def __init__(self, out: Path, size: tuple[int, int] = (1500, 950)) -> None:
        # A user data folder of the session's own: the T it sets by hand would otherwise teach the
        # machine user's Auto (clode.engine.taste), and its models and sidecars would mix with theirs.
        os.environ["CLODE_DATA_DIR"] = str(out / "userdata")
        from PySide6.QtWidgets import QApplication

        from clode_desktop.widgets import theme
        from clode_desktop.window.main_window import MainWindow
        from clode_desktop.base.settings import Settings

        self.app = QApplication.instance() or QApplication([])
        theme.apply(self.app)               # as clode_desktop.app.main does
        self.problems: list[str] = []
        self.window = w = MainWindow(None, device="cpu", settings=Settings(out / "settings.ini"))
        w.resize(*size)
        w.show()
        # Xvfb has no window manager to give the window focus; shortcuts need an active window.
        w.activateWindow()
        w.raise_()

    def settle(self, seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.02)

    def wait(self, cond, timeout: float = 600.0, what: str = "") -> bool:
        print(f"{time.strftime('%H:%M:%S')} waiting for {what}", file=sys.stderr, flush=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.app.processEvents()
            if cond():
                return True
            time.sleep(0.02)
        self.problems.append(f"timed out waiting for {what}")
        return False

    def key(self, k, mod=None, widget=None, times: int = 1) -> None:
        """Press key ``k`` (with modifiers ``mod``) in ``widget``, else where the focus is."""
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication

        mod = Qt.KeyboardModifier.NoModifier if mod is None else mod
        for _ in range(times):
            if QApplication.activeWindow() is not self.window:
                self.window.activateWindow()
                self.settle(0.2)
            QTest.keyClick(widget or QApplication.focusWidget() or self.window, k, mod)
            self.app.processEvents()
