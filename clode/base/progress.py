"""Cancellation and progress reporting shared by every long-running job.

A ``CancelToken`` is set from any thread (the GUI, a signal handler) and
checked by the worker at safe points; ``check()`` raises ``Cancelled`` so the
work unwinds through ``finally`` blocks and leaves no partial files.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from clode.base.errors import Cancelled

#: progress(fraction_done in [0, 1], message)
ProgressCallback = Callable[[float, str], None]


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check(cancel: Optional[CancelToken]) -> None:
    """Raise ``Cancelled`` if ``cancel`` is set; a ``None`` token never cancels."""
    if cancel is not None:
        cancel.check()


def report(progress: Optional[ProgressCallback], fraction: float, message: str = "") -> None:
    if progress is not None:
        progress(min(max(fraction, 0.0), 1.0), message)
