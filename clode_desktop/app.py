"""Application entry point (placeholder window until the editor lands)."""

from __future__ import annotations

import sys


def main(argv=None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv if argv is None else argv)
    label = QLabel("CLODE Desktop — the editor is on its way.")
    label.resize(480, 120)
    label.show()
    return app.exec()
