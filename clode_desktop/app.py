"""Application entry point: ``python main.py [FILE | FOLDER]`` (or the ``clode-desktop`` command)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Optional

from .assets import sample_photo

SAMPLE_PHOTO = sample_photo()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clode-desktop", description="CLODE Desktop: rescue dark photos.")
    parser.add_argument("file", nargs="?", help="a photo, or a folder of photos shown in the filmstrip "
                                                "(default: the bundled sample)")
    parser.add_argument("--model", help="a model file (default: the one chosen in Preferences)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: from Preferences)")
    # Qt's own options (-style, -platform ...) are left for QApplication.
    args, _ = parser.parse_known_args(argv[1:])
    return args


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = parse_args(argv)

    from .platform_check import problem
    message = problem()
    if message:                 # Qt would abort (SIGABRT) with its own, longer message
        print(message, file=sys.stderr)
        return 1

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .widgets import theme
    from .window.main_window import MainWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("CLODE Desktop")
    app.setOrganizationName("CLODE")
    theme.apply(app)
    window = MainWindow(args.model, device=args.device)
    window.show()
    if args.file and Path(args.file).expanduser().is_dir():
        window.open_folder(args.file)
    else:
        window.open_file(args.file if args.file else SAMPLE_PHOTO)
    # Ctrl+C in the terminal closes the window the normal way (work cancelled, thread stopped):
    # Python handles signals only when it runs, so a timer lets it run now and then.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)
    return app.exec()
