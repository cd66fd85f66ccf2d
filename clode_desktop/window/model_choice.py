"""The editor's model and compute device: which are chosen (the command line's model, else the settings'),
loading them in the worker, keeping the last model that loaded when a new choice fails, and the
Preferences dialog that changes them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from ..rules.engine import Engine, ModelState
from ..base.settings import Settings
from ..base.worker import TaskManager


class ModelChoice(QObject):
    #: a model starts loading (the previous one, if any, stays in the engine until it has loaded)
    loading = Signal()
    #: the chosen model loaded (ModelState)
    loaded = Signal(object)
    #: the chosen model failed to load (the message); ``state`` is still the previous model, if one had loaded
    failed = Signal(str)

    def __init__(self, engine: Engine, tasks: TaskManager, settings: Settings,
                 model_path: Optional[Union[str, Path]], device: Optional[str], parent: QWidget) -> None:
        super().__init__(parent)
        self.engine, self.tasks, self.settings = engine, tasks, settings
        #: a model given on the command line: wins over the settings' until the user chooses another
        self.explicit = str(model_path) if model_path else None
        self.device = device or settings.device()
        #: the loaded model, None before the first one loads or when none could be
        self.state: Optional[ModelState] = None
        self._good_choice: tuple = (None, None)       # (device, model) of the last model that loaded
        self._parent = parent       # the Preferences dialog's

    def path(self) -> Optional[str]:
        """The chosen model file (None = the built-in default)."""
        return self.explicit or self.settings.model_path()

    def load(self) -> None:
        path, device = self.path(), self.device
        self.loading.emit()
        self.tasks.submit(lambda job: self.engine.load_model(Path(path) if path else None, device),
                          label="Loading the model", key="model", show_progress=True,
                          on_done=self._loaded, on_error=self._failed)

    def _loaded(self, state: ModelState) -> None:
        self.state = state
        self._good_choice = (self.device, self.path())
        self.loaded.emit(state)

    def _failed(self, message: str) -> None:
        if self.state is not None:
            # The engine still holds the previous model: keep working with it.
            self.device, self.explicit = self._good_choice
            self.settings.set_device(self.device)
            self.settings.set_model_path(self.explicit)
        self.failed.emit(message)

    def use(self, path: Optional[Union[str, Path]]) -> None:
        """Make a model file (None = the built-in default) the editor's model, and remember it."""
        self.explicit = None
        self.settings.set_model_path(str(path) if path else None)
        self.load()

    def preferences_dialog(self) -> None:
        """Edit › Preferences: the device, the model, and whether a new photo starts at Auto."""
        from ..dialogs.preferences import PreferencesDialog
        note = self.state.note if self.state else ""
        dialog = PreferencesDialog(self.device, self.path(), self._parent, note=note,
                                   start_at_auto=self.settings.start_at_auto(), taste_model=self.engine.taste_key())
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        self.settings.set_start_at_auto(dialog.start_at_auto())
        device, model = dialog.device(), dialog.model_path()
        if device == self.device and model == self.path():
            return
        self.device = device
        self.explicit = None
        self.settings.set_device(device)
        self.settings.set_model_path(model)
        self.load()
