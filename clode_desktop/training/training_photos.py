""""1. Your photos": the folders to train on, counted on a worker thread, with the files skipped and why."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QVBoxLayout, QWidget)

from ..widgets.training_widgets import hint
from ..base.worker import TaskManager

ADD_FOLDERS = "Add one or more folders of your photos."


class TrainingPhotos(QGroupBox):
    #: a folder scan finished: (usable count, skipped [(path, why)])
    scanned = Signal(int, list)
    #: a scan started or ended (whether Start can be pressed changes)
    changed = Signal()

    def __init__(self, tasks: TaskManager, parent: Optional[QWidget] = None) -> None:
        super().__init__("1. Your photos", parent)
        self.tasks = tasks
        self.folders: list[Path] = []
        self.usable: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        self.scanning = False
        self._scan_id = 0
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("folderList")
        self.folder_list.setMaximumHeight(80)
        self.folder_list.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.folder_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        add = QPushButton("Add folder…")
        add.setToolTip("A folder of photos like those you will enhance; its sub-folders are included")
        add.clicked.connect(self._add_folder_dialog)
        self.remove_folder_button = QPushButton("Remove")
        self.remove_folder_button.setToolTip("Leave the selected folder out")
        self.remove_folder_button.clicked.connect(self._remove_selected_folder)
        self.photos_label = QLabel(ADD_FOLDERS)
        self.photos_label.setWordWrap(True)
        self.skipped_title = hint("")
        self.skipped_list = QListWidget()
        self.skipped_list.setObjectName("skippedList")
        self.skipped_list.setMaximumHeight(90)
        self.skipped_list.setWordWrap(True)
        self.skipped_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.skipped_title.hide()
        self.skipped_list.hide()
        pv = QVBoxLayout(self)
        pv.addWidget(self.folder_list)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(self.remove_folder_button)
        row.addStretch(1)
        pv.addLayout(row)
        pv.addWidget(self.photos_label)
        pv.addWidget(self.skipped_title)
        pv.addWidget(self.skipped_list)
        pv.addWidget(hint("Any photos work, dark or bright: no edited versions are needed. "
                          "Photos like those you will enhance teach the most. A few are kept aside "
                          "to check that the new model does better on them."))

    def _add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder) -> None:
        folder = Path(folder).expanduser()
        if folder in self.folders:
            return
        self.folders.append(folder)
        self.folder_list.addItem(str(folder))
        self.scan()

    def _remove_selected_folder(self) -> None:
        row = self.folder_list.currentRow()
        if row >= 0:
            self.folder_list.takeItem(row)
            del self.folders[row]
            self.scan()

    def scan(self) -> None:
        """Count the usable photos in the folders (file headers only, on the worker thread)."""
        from clode.training.data import scan_folders
        folders = list(self.folders)
        self.scanning = True
        self._scan_id += 1
        scan_id = self._scan_id
        self.photos_label.setText("Looking for photos…" if folders else ADD_FOLDERS)
        self.changed.emit()
        if not folders:
            self._scanned(scan_id, ([], []))
            return
        self.tasks.submit(lambda job: scan_folders(folders), key="scan", label="Scanning",
                          on_done=lambda result: self._scanned(scan_id, result),
                          on_error=lambda m: self._scanned(scan_id, ([], [(folders[0], m)])))

    def _scanned(self, scan_id: int, result) -> None:
        if scan_id != self._scan_id:
            return          # the folders changed meanwhile; a newer scan is on its way
        self.scanning = False
        self.usable, self.skipped = result
        n = len(self.usable)
        if not self.folders:
            self.photos_label.setText(ADD_FOLDERS)
        elif n == 0:
            self.photos_label.setText("<b>No usable photos in these folders.</b> Add a folder with JPEG, PNG, "
                                      "TIFF or RAW photos at least 64 pixels on each side.")
        else:
            self.photos_label.setText(f"<b>{n} photo{'s' if n != 1 else ''}</b> ready to train on.")
        self.show_skipped()
        self.changed.emit()
        self.scanned.emit(n, list(self.skipped))

    def add_skipped(self, more: list[tuple[Path, str]]) -> None:
        """Files the trainer skipped when it read their pixels (their headers looked fine)."""
        known = {str(p) for p, _ in self.skipped}
        extra = [(Path(p), why) for p, why in more if str(p) not in known]
        if extra:
            self.skipped = list(self.skipped) + extra
            self.show_skipped()

    def show_skipped(self) -> None:
        self.skipped_list.clear()
        for path, why in self.skipped:
            why = why.split(": ", 1)[1] if why.startswith(str(path) + ": ") else why
            item = QListWidgetItem(f"{path.name} — {why}")
            item.setToolTip(f"{path}\n{why}")
            self.skipped_list.addItem(item)
        n = len(self.skipped)
        self.skipped_title.setText(f"{n} file{'s' if n != 1 else ''} skipped:")
        self.skipped_title.setVisible(bool(n))
        self.skipped_list.setVisible(bool(n))
