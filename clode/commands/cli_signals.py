"""Ctrl-C and SIGTERM outside the work of a command line run: exit 130 with one line.

Importing torch takes seconds; a signal then would print Python's traceback of the import (SIGINT)
or end the process as killed (SIGTERM, exit -15), and so would one after the work, when the
commands' own handlers (``clode.commands.common.stop_on_signals``: stop after cleaning up) are
gone. ``clode/__init__.py`` calls ``exit_on_signals`` before any heavy import, for command line
runs only: a program that imports clode (the desktop app, tests) keeps its own handling. Nothing
is being written outside ``stop_on_signals``, so leaving at once loses nothing."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

#: Exit status of a run stopped by a signal (the shell's 128 + SIGINT).
SIGNAL_EXIT = 130


def is_cli_run() -> bool:
    """This process is ``clode ...`` or ``python -m clode[.cli] ...``."""
    orig = getattr(sys, "orig_argv", None) or []
    if "-m" in orig[:-1]:
        return orig[orig.index("-m") + 1] in ("clode", "clode.commands.cli")
    return bool(sys.argv) and Path(sys.argv[0]).name in ("clode", "clode.exe", "clode-script.py")


_stopping = False


def mark_stopping() -> None:
    """A command was asked to stop and says so itself ("cancelled"): a later signal leaves quietly."""
    global _stopping
    _stopping = True


def _leave(signum, frame) -> None:
    if not _stopping:
        try:
            os.write(2, b"clode: interrupted\n")
        except OSError:
            pass
    os._exit(SIGNAL_EXIT)   # no traceback, no half-run import or teardown


def exit_on_signals() -> None:
    """Make SIGINT and SIGTERM end a command line run at once with status 130 and one line."""
    if not is_cli_run():
        return
    for s in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(s, _leave)
        except (ValueError, OSError):   # not the main thread, or a platform without the signal
            pass
