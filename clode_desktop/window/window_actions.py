"""The editor window's actions, menus and toolbar, and its two Help boxes.

The actions trigger the window's own slots, so they are built with the window that owns them; what
they need of it is spelled out in ``ActionsWindow`` (its parts and its slots, typed), and what they
share with the dialogs comes through the ``EditorLink``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QLabel, QMenu, QMenuBar, QMessageBox, QSizePolicy, QToolBar,
                               QToolButton, QWidget)

from ..widgets import theme
from ..widgets.canvas import MODE_NAMES, MODES, Canvas
from ..widgets.filmstrip import Filmstrip
from ..base.link import EditorLink
from ..base.settings import Settings
from ..dialogs.shortcuts_dialog import show_shortcuts

if TYPE_CHECKING:
    from ..folder.folder_culling import FolderCulling
    from ..folder.folder_editing import FolderEditing
    from .local_tools import LocalTools
    from .model_choice import ModelChoice

COMPARE_TIPS = {"result": "Only the result", "split": "Original left, result right; drag the divider",
                "side": "Original and result side by side"}


def make_action(parent, text: str, slot: Callable[[], object], shortcut=None, tip: str = "") -> QAction:
    """An action that calls ``slot()`` with no arguments.

    ``triggered`` carries ``checked``; PySide passes it to any slot with a parameter to spare, so a
    slot with optional parameters (``paste_settings(names=None)``) would get ``False`` as its first
    argument. Connecting through a lambda without parameters keeps ``checked`` out of every slot."""
    action = QAction(text, parent)
    if shortcut is not None:
        if isinstance(shortcut, (list, tuple)):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setToolTip(tip + (f" ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                                 if shortcut else ""))
    action.triggered.connect(lambda: slot())
    return action


class ActionsWindow(Protocol):
    """What the actions need of the editor window: the QMainWindow's menu bar, toolbar and shortcuts,
    the parts they drive and the slots they trigger (the main window is one)."""
    # read-only (properties), so that the window's own types (a HistoryDock) fit
    @property
    def canvas(self) -> Canvas: ...  # noqa: E704
    @property
    def filmstrip(self) -> Filmstrip: ...  # noqa: E704
    @property
    def models(self) -> "ModelChoice": ...  # noqa: E704
    @property
    def local(self) -> "LocalTools": ...  # noqa: E704
    @property
    def culling(self) -> "FolderCulling": ...  # noqa: E704
    @property
    def folder_editing(self) -> "FolderEditing": ...  # noqa: E704
    @property
    def history_dock(self) -> QDockWidget: ...  # noqa: E704

    def window(self) -> QWidget: ...             # the window itself, as the actions' parent
    def menuBar(self) -> QMenuBar: ...  # noqa: N802, E704 - Qt's names
    def addToolBar(self, title: str) -> QToolBar: ...  # noqa: N802, E704
    def close(self) -> bool: ...  # noqa: E704
    def open_dialog(self) -> None: ...  # noqa: E704
    def export_dialog(self) -> None: ...  # noqa: E704
    def batch_export_dialog(self) -> None: ...  # noqa: E704
    def training_panel_dialog(self) -> object: ...  # noqa: E704
    def undo(self) -> None: ...  # noqa: E704
    def redo(self) -> None: ...  # noqa: E704
    def reset_edit(self) -> None: ...  # noqa: E704
    def copy_settings(self) -> None: ...  # noqa: E704
    def paste_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]: ...  # noqa: E704
    def sync_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]: ...  # noqa: E704


class WindowActions:
    """Every action of the editor window, its menu bar and its toolbar.

    ``window`` is the main window: it owns the actions and provides the slots they trigger."""

    def __init__(self, window: ActionsWindow, link: EditorLink, open_file: Callable[[str], None]) -> None:
        self.window, self.settings = window, link.settings
        settings, canvas = link.settings, window.canvas
        w = window.window()          # the QMainWindow: the actions' parent, so their shortcuts are the window's

        def action(*args, **kw) -> QAction:
            return make_action(w, *args, **kw)

        self.open_action = action("Open…", window.open_dialog, QKeySequence.StandardKey.Open, "Open a photo")
        self.export_action = action("Export…", window.export_dialog, "Ctrl+E",
                                    "Export the enhanced photo at full resolution")
        self.quit_action = action("Quit", window.close, QKeySequence.StandardKey.Quit)
        self.prefs_action = action("Preferences…", window.models.preferences_dialog, "Ctrl+,", "Device and model")
        self.fit_action = action("Fit", canvas.fit_to_window, "Ctrl+0", "Fit the photo in the window")
        self.actual_action = action("100 %", lambda: canvas.actual_size(), "Ctrl+1",
                                    "One photo pixel per screen pixel")
        self.zoom_in_action = action("Zoom in", lambda: canvas.zoom_by(2 ** 0.5), ["Ctrl++", "Ctrl+="], "Zoom in")
        self.zoom_out_action = action("Zoom out", lambda: canvas.zoom_by(2 ** -0.5), "Ctrl+-", "Zoom out")
        for a, name in ((self.open_action, "open"), (self.export_action, "export"),
                        (self.fit_action, "fit"), (self.actual_action, "actual-size"),
                        (self.zoom_in_action, "zoom-in"), (self.zoom_out_action, "zoom-out"),
                        (self.prefs_action, "preferences")):
            a.setIcon(theme.icon(name))
        self.cycle_action = action("Next compare mode", self.cycle_compare_mode, "Y")
        self.mode_group = QActionGroup(w)
        self.mode_actions: dict[str, QAction] = {}
        for mode in MODES:
            a = QAction(theme.icon(f"compare-{mode}"), MODE_NAMES[mode], w, checkable=True)
            a.setToolTip(COMPARE_TIPS[mode] + " (Y cycles, hold \\ for the original)")
            a.triggered.connect(lambda checked=False, m=mode: self.set_compare_mode(m))
            self.mode_group.addAction(a)
            self.mode_actions[mode] = a
        self.open_folder_action = action("Open Folder…", window.folder_editing.open_folder_dialog, "Ctrl+Shift+O",
                                         "Open a folder of photos in the filmstrip")
        self.open_folder_action.setIcon(theme.icon("open"))
        self.undo_action = action("Undo", window.undo, QKeySequence.StandardKey.Undo, "Undo the last change")
        self.redo_action = action("Redo", window.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo")
        self.reset_action = action("Reset to Default", window.reset_edit, "Ctrl+R",
                                   "The model's default T and noise reduction")
        self.copy_action = action("Copy Settings", window.copy_settings, "Ctrl+Shift+C")
        self.paste_action = action("Paste Settings…", window.paste_settings, "Ctrl+Shift+V",
                                   "Paste the copied settings onto the photos selected in the strip")
        self.sync_action = action("Sync Settings to Selection…", window.sync_settings, "Ctrl+Shift+S",
                                  "Give the selected photos this photo's settings")
        self.export_selection_action = action("Export Selection…", window.folder_editing.export_selection, None,
                                              "Batch export the photos selected in the strip")
        self.nav_actions = [action(text, lambda checked=False, d=d: window.filmstrip.step(d), key)
                            for text, d, key in (("Previous Photo", -1, "Left"), ("Next Photo", 1, "Right"),
                                                 ("First Photo", -10 ** 9, "Home"), ("Last Photo", 10 ** 9, "End"))]
        for a in self.nav_actions:
            w.addAction(a)
            a.setEnabled(False)
        # -- local exposure: the tools take the canvas's drags (``local_tools``) --
        from .local_tools import BRUSH, LINEAR, RADIAL
        self.tool_actions = {
            BRUSH: action("Brush", lambda: window.local.set_tool(BRUSH), "B",
                          "Paint exposure: drag; Alt+drag erases; Ctrl+wheel: size, Shift+wheel: feather"),
            LINEAR: action("Linear Gradient", lambda: window.local.set_tool(LINEAR), "G",
                           "Drag from where the effect is full to where it ends"),
            RADIAL: action("Radial Gradient", lambda: window.local.set_tool(RADIAL), "Shift+G",
                           "Drag from the centre out to the radius"),
        }
        for a in self.tool_actions.values():
            a.setCheckable(True)
        self.leave_tool_action = action("Leave Tool", lambda: window.local.set_tool(None), "Esc")
        self.leave_tool_action.setEnabled(False)        # Esc is the tools' only while one is active
        self.overlay_action = action("Show Mask Overlay", window.local.toggle_overlay, "O",
                                     "The selected layer's mask in red over the photo")
        self.overlay_action.setCheckable(True)
        #: enabled only while a photo is open and a model is loaded
        self.editing_actions = [self.export_action, self.undo_action, self.redo_action, self.reset_action,
                                self.copy_action, *self.tool_actions.values(), self.overlay_action]
        self._build_menus(settings, open_file)
        # -- culling: the Folder menu (stars, flags, labels, filter, export the filtered photos) --
        from ..folder.folder_culling import build_folder_menu
        self.folder_menu = build_folder_menu(w, window.menuBar(), window.culling)
        self._build_toolbar()
        # the compare-mode actions and the zoom level follow the canvas, however it changed
        canvas.modeChanged.connect(self._mode_changed)
        canvas.zoomChanged.connect(self._zoom_changed)

    def _build_menus(self, settings: Settings, open_file: Callable[[str], None]) -> None:
        window = self.window
        w = window.window()
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent = RecentMenu(file_menu.addMenu("Open &Recent"), settings, open_file)
        file_menu.addAction(self.export_action)
        file_menu.addAction(make_action(w, "Batch Export…", window.batch_export_dialog, "Ctrl+Shift+E",
                                        "Enhance a whole folder of photos"))
        file_menu.addAction(self.export_selection_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        for a in (self.undo_action, self.redo_action, self.reset_action, None, self.copy_action,
                  self.paste_action, self.sync_action, None):
            edit_menu.addAction(a) if a is not None else edit_menu.addSeparator()
        self.local_menu = edit_menu.addMenu("&Local Exposure")
        for a in (*self.tool_actions.values(), self.leave_tool_action, None, self.overlay_action):
            self.local_menu.addAction(a) if a is not None else self.local_menu.addSeparator()
        edit_menu.addSeparator()
        edit_menu.addAction(self.prefs_action)
        edit_menu.addAction(make_action(w, "Train a model on my photos…", window.training_panel_dialog, "Ctrl+T",
                                        "Fine-tune the model on your own photos"))
        view_menu = bar.addMenu("&View")
        for a in (self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action):
            view_menu.addAction(a)
        view_menu.addSeparator()
        for a in self.mode_actions.values():
            view_menu.addAction(a)
        view_menu.addAction(self.cycle_action)
        view_menu.addSeparator()
        for a in self.nav_actions:
            view_menu.addAction(a)
        view_menu.addSeparator()
        self.history_action = window.history_dock.toggleViewAction()
        self.history_action.setText("History")
        self.history_action.setShortcut(QKeySequence("Ctrl+H"))
        self.history_action.setToolTip("Show or hide the list of this photo's edits (click one to go back to it)")
        view_menu.addAction(self.history_action)
        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = make_action(w, "Keyboard Shortcuts…", lambda: show_shortcuts(window.window()),
                                            QKeySequence.StandardKey.HelpContents, "Every shortcut, searchable")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(make_action(w, "About CLODE Desktop", lambda: show_about(w)))
        self.recent.update()

    def _build_toolbar(self) -> None:
        tb: QToolBar = self.window.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(self.open_action)
        tb.addAction(self.export_action)
        tb.addSeparator()
        tb.addAction(self.zoom_out_action)
        self.zoom_label = QLabel("Fit")
        self.zoom_label.setObjectName("zoomLabel")
        self.zoom_label.setMinimumWidth(70)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        tb.addWidget(self.zoom_label)
        tb.addAction(self.zoom_in_action)
        tb.addAction(self.fit_action)
        tb.addAction(self.actual_action)
        tb.addSeparator()
        compare = QLabel("Compare:")
        compare.setObjectName("hint")
        tb.addWidget(compare)
        for a in self.mode_actions.values():
            tb.addAction(a)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        tb.addAction(self.prefs_action)
        for a in (self.zoom_out_action, self.zoom_in_action, self.fit_action, self.actual_action):
            # the zoom group reads as icons beside the zoom level; their names are in the tooltips
            button = tb.widgetForAction(a)
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.toolbar = tb

    def set_compare_mode(self, mode: str) -> None:
        self.window.canvas.set_mode(mode)
        self.mode_actions[mode].setChecked(True)

    def cycle_compare_mode(self) -> None:
        i = MODES.index(self.window.canvas.mode())
        self.set_compare_mode(MODES[(i + 1) % len(MODES)])

    def _mode_changed(self, mode: str) -> None:
        self.mode_actions[mode].setChecked(True)
        self.settings.set_compare_mode(mode)

    def _zoom_changed(self, zoom: float, fitted: bool) -> None:
        self.zoom_label.setText(f"Fit {zoom * 100:.0f} %" if fitted else f"{zoom * 100:.0f} %")

    def tool_changed(self, tool) -> None:
        """The active local exposure tool is ``tool`` (None: none): its action is checked."""
        for name, a in self.tool_actions.items():
            a.setChecked(name == tool)
        self.leave_tool_action.setEnabled(tool is not None)

    def set_navigable(self, on: bool) -> None:
        for a in self.nav_actions:
            a.setEnabled(on)

    def set_editing_enabled(self, on: bool) -> None:
        for a in self.editing_actions:
            a.setEnabled(on)
        if not on and self.window.local.tool is not None:
            self.window.local.set_tool(None)


class RecentMenu:
    """File › Open Recent: the recent files from the settings; choosing one opens it."""

    def __init__(self, menu: QMenu, settings: Settings, open_file: Callable[[str], None]) -> None:
        self.menu, self.settings, self.open_file = menu, settings, open_file

    def update(self, files: Optional[list[str]] = None) -> None:
        files = self.settings.recent_files() if files is None else files
        self.menu.clear()
        for f in files:
            a = self.menu.addAction(Path(f).name)
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda checked=False, p=f: self.open_file(p))
        if files:
            self.menu.addSeparator()
            self.menu.addAction("Clear the list", self.clear)
        self.menu.setEnabled(bool(files))

    def clear(self) -> None:
        self.settings.clear_recent_files()
        self.update()


def show_about(parent: QWidget) -> None:
    import clode
    QMessageBox.about(parent, "About CLODE Desktop",
                      f"CLODE Desktop {clode.__version__}\n\nRescue dark photos with CLODE, a neural ODE "
                      "in exposure time (Chung et al., ICLR 2025). Turn the dial to choose the exposure.")
