"""A folder of photos in the editor: opening it into the filmstrip, and copying, pasting and syncing
settings across the photos selected there, or batch-exporting them."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Union

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from clode.base.adjustments import Adjustments
from clode.base.errors import ClodeError

from ..rules.editing import Editing
from ..widgets.filmstrip import Filmstrip
from .folder_session import FolderSession
from ..rules.history import paste_label
from ..base.link import EditorLink


class FolderEditing(QObject):
    """``link``: the editor, as its dialogs see it (their parent, the settings, the batch dialog's model)."""

    #: a folder's photos are in the filmstrip (list of Path)
    folderOpened = Signal(object)

    def __init__(self, link: EditorLink, folder: FolderSession, filmstrip: Filmstrip, editing: Editing,
                 *, set_navigable: Callable[[bool], None], open_file: Callable[[Path], None],
                 apply_edit: Callable[..., None], save_sidecar: Callable[[], None],
                 notify: Callable[[str], None], error: Callable[[str], None]) -> None:
        super().__init__(link.parent)
        self.link, self.folder, self.filmstrip, self.editing, self.settings = (link, folder, filmstrip,
                                                                                editing, link.settings)
        self._set_navigable = set_navigable       # the previous/next photo keys
        self._open_file, self._apply_edit, self._save_sidecar = open_file, apply_edit, save_sidecar
        self._notify, self._error = notify, error
        self._clipboard: Optional[tuple[Adjustments, list[str]]] = None   # copied settings, fields

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self.link.parent, "Open a folder of photos", self.settings.last_folder())
        if path:
            self.open_folder(path)

    def open_folder(self, path: Union[str, Path]) -> None:
        """Show the folder's photos in the filmstrip and open the first (or keep the open one if it is there)."""
        try:
            photos = self.folder.open(Path(path))
        except ClodeError as e:
            self._error(str(e))
            return
        self._set_navigable(bool(photos))
        self.settings.set_last_folder(Path(path))
        self.folderOpened.emit(photos)
        current = self.editing.path
        if not photos:
            self._notify(f"No photos in {path}")
        elif current in photos:
            self.filmstrip.show_current(current)
        else:
            self._open_file(photos[0])
        self.filmstrip.setFocus()

    def selection(self, include_current: bool = True) -> list[Path]:
        chosen = self.filmstrip.selected_paths() if self.folder.active else []
        if not include_current:
            chosen = [p for p in chosen if not self.editing.is_current(p)]
        current = self.editing.path
        return chosen or ([current] if include_current and current is not None else [])

    def copy_settings(self) -> None:
        if self.editing.can_edit:
            self._clipboard = (self.editing.adjustments, list(Adjustments.names()))
            self._notify("Settings copied: select photos in the strip and paste (Ctrl+Shift+V)")

    def paste_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Paste the copied settings onto the strip's selection (asks which ones unless ``names``)."""
        if self._clipboard is None:
            self._notify("Nothing copied yet: Edit › Copy Settings (Ctrl+Shift+C)")
            return None
        return self._settings_to(self._clipboard[0], self.selection(), names, "Paste Settings")

    def sync_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Give the other selected photos the open photo's settings."""
        targets = self.selection(include_current=False)
        if not self.editing.can_edit or not targets:
            self._notify("Select the photos to sync in the strip (Ctrl+click, Shift+click)")
            return None
        return self._settings_to(self.editing.adjustments, targets, names, "Sync Settings")

    def _settings_to(self, source: Adjustments, targets: list[Path], names: Optional[list[str]],
                     title: str) -> Optional[list[Path]]:
        if not targets:
            return None
        if names is None:
            from ..dialogs.paste_dialog import PasteDialog
            chosen = self._clipboard[1] if self._clipboard is not None and title.startswith("Paste") else None
            dialog = PasteDialog(source, len(targets), title, chosen, self.link.parent)
            if dialog.exec() != PasteDialog.DialogCode.Accepted:
                return None
            names = dialog.chosen()
            if title.startswith("Paste"):
                self._clipboard = (source, names)
        others = [p for p in targets if not self.editing.is_current(p)]
        for problem in self.folder.paste(others, source, names, Adjustments(T=self.editing.default_T)):
            self._error(problem)
        if len(others) < len(targets):
            self._apply_edit(self.editing.adjustments.replace(**{n: getattr(source, n) for n in names}),
                             label=paste_label(names))
        self._notify(f"{title}: {', '.join(names)} on {len(targets)} photo{'s' if len(targets) != 1 else ''}")
        return targets

    def export_selection(self) -> None:
        """Batch export the strip's selected photos, each with its own saved settings."""
        from ..dialogs.batch_dialog import open_batch_dialog
        self._save_sidecar()
        if self.folder.active:
            open_batch_dialog(self.link, selection=self.selection())
        else:
            open_batch_dialog(self.link)
