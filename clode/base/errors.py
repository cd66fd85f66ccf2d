"""The error types of the core library.

Every failure a user can cause (a bad file, a bad option) surfaces as a
``ClodeError`` whose ``str()`` is one line naming the file and the problem,
so the CLI can print it as is and the GUI can show it in a dialog.
"""


import traceback
from pathlib import Path


def describe_unexpected(e: BaseException) -> str:
    """One line for an error that is not a ``ClodeError`` (a bug, or a library's surprise): its
    type, where it was raised and its first line, never a traceback."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"unexpected error {type(e).__name__}{where}" + (f": {lines[0][:300]}" if lines else "")


class ClodeError(Exception):
    """Base class: a user-facing, one-line error."""


class ModelLoadError(ClodeError):
    """A model file is missing, unreadable, or holds the wrong tensors."""


class ImageReadError(ClodeError):
    """An image file cannot be decoded."""


class ImageWriteError(ClodeError):
    """An output file cannot be written."""


class Cancelled(ClodeError):
    """Work was cancelled through a CancelToken."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)
