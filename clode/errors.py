"""The error types of the core library.

Every failure a user can cause (a bad file, a bad option) surfaces as a
``ClodeError`` whose ``str()`` is one line naming the file and the problem,
so the CLI can print it as is and the GUI can show it in a dialog.
"""


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
