"""What the editor's dialogs and panels may ask of it: one typed link, given to them instead of the window.

A dialog (the batch export, the training panel, the paste dialog of a folder) or a window part
(the folder's editing and culling) gets an ``EditorLink`` through its constructor and asks the
editor through it only: which model and device are in use, the open photo and its edit, the
settings, the task manager that runs background work. None of them holds the main window, so
none can reach into it (a test greps for that), and each can be made in a test without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtWidgets import QWidget

from clode.base.adjustments import Adjustments

from .settings import Settings
from .worker import TaskManager


@dataclass(frozen=True)
class EditorLink:
    """The editor, as its dialogs and panels see it."""
    #: the parent of their windows (they stay above the editor and close with it); only a QWidget
    parent: QWidget
    #: the editor's task manager: its queue, and its lanes for long work (``lane("batch")``)
    tasks: TaskManager
    settings: Settings
    #: the model file in use (None = the built-in default)
    model_choice: Callable[[], Optional[str]]
    #: the device the editor's model runs on ("auto", "cpu", "cuda"…)
    device: Callable[[], str]
    #: make a model file (None = the default) the editor's, and remember it
    use_model: Callable[[Optional[Path]], None]
    #: the open photo's file, or None
    photo_path: Callable[[], Optional[Path]]
    #: the open photo as shown (uint8), or None
    photo_view: Callable[[], Optional[np.ndarray]]
    #: the open photo's edit
    adjustments: Callable[[], Adjustments]
    #: a passing note in the editor's status bar
    notify: Callable[[str], None]
