""""Your models": the user's trained models and stopped runs, with Use, Compare, Rename and Delete.

What it needs from the editor comes through its constructor as an ``EditorLink`` (``link``: no
reaching into the window): which model is in use, how to use another, the open photo and its adjustments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QInputDialog, QListWidget, QListWidgetItem, QMessageBox,
                               QPushButton, QVBoxLayout, QWidget)

from clode.base.errors import ClodeError
from clode.training.model_library import (card_summary, delete_model, model_card, model_from_run, rename_model, render_small,
                                 small_image, trained_models, unfinished_runs)
from clode.base.paths import model_path_for, user_models_dir

from ..base.link import EditorLink
from ..widgets.training_widgets import CompareDialog, hint
from ..base.worker import Job, TaskManager

COMPARE_SIDE = 640               # long side of the default-vs-yours renders


class ModelShelf(QGroupBox):
    #: a model was selected (its path, None = nothing selected)
    selected = Signal(object)
    #: a stopped run was selected: its name (to resume)
    runSelected = Signal(str)
    #: models were added, renamed or deleted
    modelsChanged = Signal()
    #: a comparison was rendered: (default uint8, theirs uint8)
    compared = Signal(object)
    #: something to tell the user
    message = Signal(str)

    def __init__(self, editor: Optional[EditorLink], tasks: TaskManager,
                 busy: Callable[[Path], bool] = lambda path: False, parent: Optional[QWidget] = None) -> None:
        super().__init__("Your models", parent)
        self.editor = editor
        self.tasks = tasks
        self.busy = busy                       # whether a model (or run folder) is training now
        self._compare: Optional[CompareDialog] = None
        self.model_list = QListWidget()
        self.model_list.setObjectName("modelList")
        self.model_list.setMaximumHeight(110)
        self.model_list.currentItemChanged.connect(lambda *_: self._model_selected())
        self.card_label = hint("")
        self.use_button = QPushButton("Use in the editor")
        self.use_button.clicked.connect(self.use_selected)
        self.compare_button = QPushButton("Compare with default…")
        self.compare_button.setToolTip("The open photo by the default model and by this one, side by side")
        self.compare_button.clicked.connect(self.compare_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._rename_dialog)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self._delete_dialog)
        row = QHBoxLayout()
        for b in (self.use_button, self.compare_button, self.rename_button, self.delete_button):
            row.addWidget(b)
        row.addStretch(1)
        box = QVBoxLayout(self)
        box.addWidget(self.model_list)
        box.addWidget(self.card_label)
        box.addLayout(row)
        box.addWidget(hint(f"Kept in {user_models_dir()}"))

    def refresh(self, select: Optional[Path] = None) -> None:
        current = self.selected_path() if select is None else select
        active = self.active_model()
        self.model_list.blockSignals(True)
        self.model_list.clear()
        for path in trained_models():
            item = QListWidgetItem(path.stem + ("   (in use)" if active == path else ""))
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            self.model_list.addItem(item)
        for name, state in unfinished_runs():
            steps = state.get("config", {}).get("steps")
            minutes = state.get("config", {}).get("minutes")
            left = f"{state['step']} steps" if minutes else f"step {state['step']} of {steps}"
            item = QListWidgetItem(f"{name}   (stopped at {left}: resumable)")
            item.setData(Qt.ItemDataRole.UserRole, str(model_path_for(name).with_suffix(".checkpoints")))
            self.model_list.addItem(item)
        self.model_list.blockSignals(False)
        if current is not None:
            for i in range(self.model_list.count()):
                if Path(self.model_list.item(i).data(Qt.ItemDataRole.UserRole)) == Path(current):
                    self.model_list.setCurrentRow(i)
        self._model_selected()

    def model_names(self) -> list[str]:
        return [self.model_list.item(i).text() for i in range(self.model_list.count())]

    def selected_path(self) -> Optional[Path]:
        item = self.model_list.currentItem()
        return Path(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def active_model(self) -> Optional[Path]:
        choice = self.editor.model_choice() if self.editor is not None else None
        return Path(choice) if choice else None

    def _model_selected(self) -> None:
        path = self.selected_path()
        is_model = path is not None and path.suffix == ".safetensors"
        is_run = path is not None and path.suffix == ".checkpoints"
        has_photo = self.editor is not None and self.editor.photo_view() is not None
        # a stopped run's last checkpoint is a usable model too (Use makes it one of its own)
        self.use_button.setEnabled((is_model or is_run) and self.editor is not None)
        self.compare_button.setEnabled(is_model and self.editor is not None)
        self.compare_button.setToolTip("" if has_photo else "Open a photo in the editor to compare on it")
        self.rename_button.setEnabled(is_model)
        self.delete_button.setEnabled(path is not None)
        if is_model and path is not None:
            self.card_label.setText(card_summary(model_card(path)))
        elif is_run and path is not None:
            self.card_label.setText("A stopped run: Resume continues training; “Use in the editor” keeps "
                                    "its last checkpoint as a model of its own and uses it.")
            self.runSelected.emit(path.stem)
        else:
            self.card_label.setText("Trained models appear here." if not self.model_list.count() else "")
        self.selected.emit(path)

    def use_selected(self) -> None:
        path = self.selected_path()
        if path is None or self.editor is None or path.suffix not in (".safetensors", ".checkpoints"):
            return
        if path.suffix == ".checkpoints":
            if self.busy(path):
                self.message.emit("That run is training now: stop it first.")
                return
            try:
                path = model_from_run(path)
            except (ClodeError, OSError) as e:
                self.message.emit(f"Could not use the run's checkpoint: {e}")
                return
            self.modelsChanged.emit()
        self.editor.use_model(path)
        self.refresh(select=path)

    def compare_selected(self) -> None:
        path = self.selected_path()
        if path is None or self.editor is None:
            return
        view = self.editor.photo_view()
        if view is None:
            self.message.emit("Open a photo in the editor first: the comparison uses it.")
            return
        pixels = small_image(view.astype(np.float32) / 255.0, COMPARE_SIDE)
        adjustments = self.editor.adjustments()
        T, denoise = adjustments.T, adjustments.denoise
        dialog = CompareDialog(path.stem, T, self.window())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._compare = dialog
        dialog.show()

        def work(job: Job):
            return render_small(None, pixels, T, denoise), render_small(path, pixels, T, denoise)

        def done(pair) -> None:
            if self._compare is dialog:
                dialog.show_results(pair)
            self.compared.emit(pair)

        self.tasks.submit(work, key="compare", label="Comparing", on_done=done,
                          on_error=lambda m: dialog.show_error(m) if self._compare is dialog else None)

    def _rename_dialog(self) -> None:
        path = self.selected_path()
        if path is None or path.suffix != ".safetensors":
            return
        new, ok = QInputDialog.getText(self, "Rename the model", "New name:", text=path.stem)
        if ok and new.strip() and new.strip() != path.stem:
            self.rename(path, new)

    def rename(self, path: Path, new_name: str) -> Optional[Path]:
        was_active = self.active_model() == path
        try:
            target = rename_model(path, new_name)
        except ClodeError as e:
            self.message.emit(str(e))
            return None
        if was_active and self.editor is not None:
            self.editor.use_model(target)
        self.refresh(select=target)
        self.modelsChanged.emit()
        return target

    def _delete_dialog(self) -> None:
        path = self.selected_path()
        if path is None:
            return
        answer = QMessageBox.question(self, "Train a model", f"Delete '{path.stem}'? This cannot be undone.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(path)

    def delete(self, path: Path) -> None:
        if self.busy(path):
            self.message.emit("That model is training now: stop the run first.")
            return
        was_active = self.active_model() == path
        delete_model(path)
        if was_active and self.editor is not None:
            self.editor.use_model(None)
        self.refresh()
        self.modelsChanged.emit()
