"""Exporting the open photo at full resolution: the Export dialog and the export job."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Union

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from clode.base.errors import ClodeError

from ..rules.editing import Editing
from ..rules.engine import Engine
from ..base.settings import Settings
from ..base.worker import Job, TaskManager


class PhotoExporter(QObject):
    #: an export finished (Path)
    exported = Signal(object)

    def __init__(self, engine: Engine, tasks: TaskManager, editing: Editing, settings: Settings,
                 notify: Callable[[str], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.engine, self.tasks, self.editing, self.settings = engine, tasks, editing, settings
        self._notify = notify
        self._parent = parent       # the Export dialog's

    def dialog(self) -> None:
        """Ask where and how, remember the answers, and export."""
        from ..dialogs.export_dialog import ExportDialog
        opened = self.editing.opened
        if opened is None:
            return
        size = f"{opened.full_size[1]} × {opened.full_size[0]}"
        dialog = ExportDialog(opened.path, self.settings.export_options(), self.settings.export_folder(),
                              self._parent, size_text=size, settings=self.settings, full_size=tuple(opened.full_size))
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        self.settings.set_export_options(dialog.options_dict())
        self.settings.set_export_folder(dialog.target().parent)
        self.export(dialog.target(), dialog.options())

    def export(self, target: Union[str, Path], options=None) -> None:
        """Export the current photo at full resolution with the current T and denoise (in the worker)."""
        if self.editing.opened is None:
            return
        target, source = Path(target), self.editing.opened.path
        adjustments, engine, tasks = self.editing.adjustments, self.engine, self.tasks

        def work(job: Job) -> Path:
            if engine.photo is None or engine.photo.path != source:
                raise ClodeError(f"{source.name} is no longer open; export cancelled")
            def progress(fraction: float, message: str) -> None:
                job.progress(fraction, message)
                tasks.run_pending("render")     # the view keeps following the dial during an export
            return engine.export(target, options, adjustments, progress=progress, cancel=job.token)

        self.tasks.submit(work, label=f"Exporting {target.name}", group="export", show_progress=True,
                          on_done=self._exported)

    def _exported(self, path: Path) -> None:
        self._notify(f"Exported {path}")
        self.exported.emit(path)
