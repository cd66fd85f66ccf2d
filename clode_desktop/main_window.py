"""The editor window: canvas, side panel, menus, toolbar, status bar; wires the UI to the worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Union

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QApplication, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QSizePolicy, QToolButton, QVBoxLayout, QWidget)

from clode import sidecar
from clode.adjustments import Adjustments
from clode.errors import ClodeError
from clode.imageio import SUPPORTED_EXTENSIONS, is_supported
from clode.weights import DEFAULT_MODEL

from . import theme
from .canvas import MODE_NAMES, MODES, SPLIT, Canvas
from .editing import PREPARE, RENDER, Editing
from .engine import Engine, ModelState, Opened, Rendered
from .filmstrip import Filmstrip
from .folder_session import FolderSession
from .settings import Settings
from .side_panel import SidePanel
from .worker import Job, TaskManager

log = logging.getLogger(__name__)

APP_TITLE = "CLODE Desktop"
PEEK_KEYS = (Qt.Key.Key_Backslash,)
FINAL_RENDER_DELAY_MS = 250      # after the last dial move, the full-quality render
SIDECAR_DELAY_MS = 1000
DETAIL_DELAY_MS = 120            # after zooming or panning stops, the visible region is rendered sharply
MAX_DETAIL_PIXELS = 6_000_000          # after the last change, the sidecar is written


def show_error(parent: Optional[QWidget], message: str, title: str = APP_TITLE) -> QMessageBox:
    """A non-blocking warning dialog with a one-line message (module-level so tests can find it)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def open_filter() -> str:
    exts = " ".join(f"*{e} *{e.upper()}" for e in sorted(SUPPORTED_EXTENSIONS))
    return f"Photos ({exts});;All files (*)"


class MainWindow(QMainWindow):
    #: a result reached the canvas (Rendered)
    rendered = Signal(object)
    #: a photo finished opening (Opened, the full decode)
    photoOpened = Signal(object)
    #: the model is loaded (ModelState) or failed (None)
    modelChanged = Signal(object)
    #: a sharper render of the zoomed-in region reached the canvas (Detail)
    detailShown = Signal(object)
    #: an export finished (Path)
    exported = Signal(object)
    #: an error dialog was shown (message)
    errorShown = Signal(str)
    #: a folder's photos are in the filmstrip (list of Path)
    folderOpened = Signal(object)

    def __init__(self, model_path: Optional[Union[str, Path]] = None, *, device: Optional[str] = None,
                 settings: Optional[Settings] = None, threaded: bool = True,
                 proxy_side: Optional[int] = None, quick_proxy: Union[bool, int, None] = True,
                 view_side: Optional[int] = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self._explicit_model = str(model_path) if model_path else None
        self._good_choice: tuple = (None, None)       # (device, model) of the last model that loaded
        self._device = device or self.settings.device()
        self.engine = Engine(proxy_side, quick_proxy, view_side)
        self.tasks = TaskManager(self, threaded=threaded)
        self.model_state: Optional[ModelState] = None
        #: the editing rules (Qt-free): this window maps user events to it and its answers to widgets
        self.editing = Editing()
        self.last_render: Optional[Rendered] = None
        self._progress_job: Optional[Job] = None
        self._closing = False

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)

        self.canvas = Canvas()
        self.panel = SidePanel()
        self.filmstrip = Filmstrip()
        self.filmstrip.hide()                       # until a folder is opened
        self.folder = FolderSession(self.filmstrip, self, threaded=threaded)
        self._clipboard: Optional[tuple[Adjustments, list[str]]] = None   # copied settings, fields
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        left = QVBoxLayout()
        left.setSpacing(0)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.filmstrip)
        row.addLayout(left, 1)
        row.addWidget(self.panel)
        self.setCentralWidget(central)
        self.exposure = self.panel.exposure
        self.histogram = self.panel.histogram
        self.histogram.set_mode(self.settings.histogram_mode() if self.settings.histogram_mode() in ("rgb", "luminance") else "rgb")

        self._final_timer = QTimer(self, singleShot=True, interval=FINAL_RENDER_DELAY_MS)
        self._final_timer.timeout.connect(lambda: self.request_render(draft=False))
        self._detail_timer = QTimer(self, singleShot=True, interval=DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(self.request_detail)
        self._sidecar_timer = QTimer(self, singleShot=True, interval=SIDECAR_DELAY_MS)
        self._sidecar_timer.timeout.connect(self.save_sidecar)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()

        self.exposure.valueChanged.connect(self._exposure_changed)
        self.exposure.released.connect(self._final_timer.start)
        # a drag (press to release) is one step of the history
        for slider in (self.exposure.dial, self.panel.denoise.slider, self.panel.colour_noise.slider):
            slider.sliderPressed.connect(lambda: self.editing.history.begin())
            slider.sliderReleased.connect(lambda: self.editing.history.seal())
        self.filmstrip.photoChosen.connect(self.open_file)
        self.exposure.autoRequested.connect(self.auto_exposure)
        self.panel.denoiseChanged.connect(self._denoise_changed)
        self.panel.colourNoiseChanged.connect(self._colour_noise_changed)
        self.panel.neutralChanged.connect(self._neutral_changed)
        self.canvas.zoomChanged.connect(self._zoom_changed)
        self.canvas.modeChanged.connect(self._mode_changed)
        self.canvas.viewChanged.connect(self._detail_timer.start)
        self.tasks.failed.connect(lambda label, message: self.error(message))
        self.tasks.started.connect(self._job_started)
        self.tasks.progress.connect(self._job_progress)
        self.tasks.ended.connect(self._job_ended)

        mode = self.settings.compare_mode()
        self.set_compare_mode(mode if mode in MODES else SPLIT)
        self._set_editing_enabled(False)
        QApplication.instance().installEventFilter(self)
        self.exposure.dial.setFocus()       # arrow keys and Page Up/Down move T from the start
        self.load_model()

    # the editing state lives in ``self.editing``; these read it
    @property
    def photo_path(self) -> Optional[Path]:
        return self.editing.path

    @property
    def opened(self) -> Optional[Opened]:
        return self.editing.opened

    @property
    def adjustments(self) -> Adjustments:
        return self.editing.adjustments

    @property
    def _prepared(self) -> bool:
        return self.editing.prepared

    @property
    def _model_loading(self) -> bool:
        return self.editing.model_loading

    @property
    def _auto_on_open(self) -> bool:
        return self.editing.auto_on_open

    @_auto_on_open.setter
    def _auto_on_open(self, on: bool) -> None:
        self.editing.auto_on_open = on

    @property
    def _full_render_seconds(self) -> float:
        return self.editing.full_render_seconds

    @_full_render_seconds.setter
    def _full_render_seconds(self, seconds: float) -> None:
        self.editing.full_render_seconds = seconds

    def _show_adjustments(self, adjustments: Adjustments) -> None:
        """Set the widgets to ``adjustments`` (without their change signals) and take back the
        values as the widgets hold them (the dial rounds T)."""
        self.exposure.set_value(adjustments.T, emit=False)
        self.panel.set_denoise(adjustments.denoise)
        self.panel.set_colour_noise(adjustments.colour_noise)
        self.panel.set_neutral(adjustments.neutral)
        self.editing.adjustments = adjustments.replace(T=self.exposure.value(),
                                                       denoise=self.panel.denoise_value(),
                                                       colour_noise=self.panel.colour_noise_value(),
                                                       neutral=self.panel.neutral_value())

    # ------------------------------------------------------------------------------------------
    # building the UI

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip + (f" ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
                                     if shortcut else ""))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action("Open…", self.open_dialog, QKeySequence.StandardKey.Open, "Open a photo")
        self.export_action = self._action("Export…", self.export_dialog, "Ctrl+E",
                                          "Export the enhanced photo at full resolution")
        self.quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.prefs_action = self._action("Preferences…", self.preferences_dialog, "Ctrl+,",
                                         "Device and model")
        self.fit_action = self._action("Fit", self.canvas.fit_to_window, "Ctrl+0", "Fit the photo in the window")
        self.actual_action = self._action("100 %", lambda: self.canvas.actual_size(), "Ctrl+1",
                                          "One photo pixel per screen pixel")
        self.zoom_in_action = self._action("Zoom in", lambda: self.canvas.zoom_by(2 ** 0.5),
                                           ["Ctrl++", "Ctrl+="], "Zoom in")
        self.zoom_out_action = self._action("Zoom out", lambda: self.canvas.zoom_by(2 ** -0.5), "Ctrl+-",
                                            "Zoom out")
        for action, name in ((self.open_action, "open"), (self.export_action, "export"),
                             (self.fit_action, "fit"), (self.actual_action, "actual-size"),
                             (self.zoom_in_action, "zoom-in"), (self.zoom_out_action, "zoom-out"),
                             (self.prefs_action, "preferences")):
            action.setIcon(theme.icon(name))
        self.cycle_action = self._action("Next compare mode", self._cycle_mode, "Y")
        self.mode_group = QActionGroup(self)
        self.mode_actions = {}
        tips = {"result": "Only the result", "split": "Original left, result right; drag the divider",
                "side": "Original and result side by side"}
        for mode in MODES:
            a = QAction(theme.icon(f"compare-{mode}"), MODE_NAMES[mode], self, checkable=True)
            a.setToolTip(tips[mode] + " (Y cycles, hold \\ for the original)")
            a.triggered.connect(lambda checked=False, m=mode: self.set_compare_mode(m))
            self.mode_group.addAction(a)
            self.mode_actions[mode] = a
        self.open_folder_action = self._action("Open Folder…", self.open_folder_dialog, "Ctrl+Shift+O",
                                               "Open a folder of photos in the filmstrip")
        self.open_folder_action.setIcon(theme.icon("open"))
        self.undo_action = self._action("Undo", self.undo, QKeySequence.StandardKey.Undo, "Undo the last change")
        self.redo_action = self._action("Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo")
        self.reset_action = self._action("Reset to Default", self.reset_edit, "Ctrl+R",
                                         "The model's default T and noise reduction")
        self.copy_action = self._action("Copy Settings", self.copy_settings, "Ctrl+Shift+C")
        self.paste_action = self._action("Paste Settings…", self.paste_settings, "Ctrl+Shift+V",
                                         "Paste the copied settings onto the photos selected in the strip")
        self.sync_action = self._action("Sync Settings to Selection…", self.sync_settings, "Ctrl+Shift+S",
                                        "Give the selected photos this photo's settings")
        self.export_selection_action = self._action("Export Selection…", self.export_selection, None,
                                                    "Batch export the photos selected in the strip")
        self.nav_actions = [self._action(text, lambda checked=False, d=d: self.filmstrip.step(d), key)
                            for text, d, key in (("Previous Photo", -1, "Left"), ("Next Photo", 1, "Right"),
                                                 ("First Photo", -10 ** 9, "Home"), ("Last Photo", 10 ** 9, "End"))]
        for a in self.nav_actions:
            self.addAction(a)
            a.setEnabled(False)
        self.editing_actions = [self.export_action, self.undo_action, self.redo_action, self.reset_action,
                                self.copy_action]

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.export_action)
        file_menu.addAction(self._action("Batch Export…", self.batch_export_dialog, "Ctrl+Shift+E",
                                         "Enhance a whole folder of photos"))
        file_menu.addAction(self.export_selection_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        for a in (self.undo_action, self.redo_action, self.reset_action, None, self.copy_action,
                  self.paste_action, self.sync_action, None):
            edit_menu.addAction(a) if a is not None else edit_menu.addSeparator()
        edit_menu.addAction(self.prefs_action)
        edit_menu.addAction(self._action("Train a model on my photos…", self.training_panel_dialog, "Ctrl+T",
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
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("Keyboard shortcuts", self._show_shortcuts))
        help_menu.addAction(self._action("About CLODE Desktop", self._show_about))
        self._update_recent_menu()

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
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
            tb.widgetForAction(a).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.toolbar = tb

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.message_label = QLabel()
        self.message_label.setObjectName("message")
        sb.addWidget(self.message_label, 1)
        self._message_timer = QTimer(self, singleShot=True)
        self._message_timer.timeout.connect(self.message_label.clear)
        self.progress_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFixedWidth(160)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_current)
        for w in (self.progress_label, self.progress_bar, self.cancel_button):
            sb.addWidget(w)
            w.hide()
        self.device_status = QLabel("Device: —")
        self.model_status = QLabel("Model: loading…")
        self.size_status = QLabel("")
        self.time_status = QLabel("")
        for w in (self.device_status, self.model_status, self.size_status, self.time_status):
            sb.addPermanentWidget(w)

    # ------------------------------------------------------------------------------------------
    # messages

    def notify(self, text: str, ms: int = 8000) -> None:
        """A passing note in the status bar."""
        self.message_label.setText(text)
        self.message_label.setToolTip(text)
        self._message_timer.start(ms)

    def error(self, message: str) -> None:
        if self._closing:
            return
        log.info("error shown: %s", message)
        show_error(self, message)
        self.errorShown.emit(message)

    # ------------------------------------------------------------------------------------------
    # the model

    def model_choice(self) -> Optional[str]:
        return self._explicit_model or self.settings.model_path()

    def load_model(self) -> None:
        path, device = self.model_choice(), self._device
        self.editing.model_loading_started()
        self.tasks.cancel_group("curves")   # an open in progress goes on
        self.model_status.setText("Model: loading…")
        self.tasks.submit(lambda job: self.engine.load_model(Path(path) if path else None, device),
                          label="Loading the model", key="model", show_progress=True,
                          on_done=self._model_ready, on_error=self._model_failed)

    def _model_ready(self, state: ModelState) -> None:
        self.model_state = state
        self._good_choice = (self._device, self.model_choice())
        self.exposure.set_model_range(state.default_T, state.t_max)
        self.device_status.setText(f"Device: {state.device_label}")
        self.device_status.setToolTip(state.note)
        if state.note:
            self.device_status.setText(f"Device: {state.device_label} ⚠")
            self.notify(state.note)
        self.model_status.setText(f"Model: {state.name}")
        if state.official:
            kind = "official CLODE weights"
        elif state.path is not None and state.path == DEFAULT_MODEL:
            kind = "built-in"
        else:
            kind = "model file"
        self.panel.set_model_text(f"{state.name} ({kind})\nDefault T = {state.default_T:g}, "
                                  f"range ±{state.t_max:g}\n{state.device_label}"
                                  + (f"\n⚠ {state.note}" if state.note else ""))
        self.modelChanged.emit(state)
        must_prepare = self.editing.model_loaded(state.default_T)
        self._show_adjustments(self.editing.adjustments)
        if must_prepare:
            self.prepare()
        self._set_editing_enabled(self.opened is not None)

    def _model_failed(self, message: str) -> None:
        must_prepare = self.editing.model_failed(still_working=self.model_state is not None)
        if self.model_state is not None:
            # The engine still holds the previous model: keep working with it.
            self._device, self._explicit_model = self._good_choice
            self.settings.set_device(self._device)
            self.settings.set_model_path(self._explicit_model)
            self.error(f"{message} (still using {self.model_state.name})")
            if must_prepare:
                self.prepare()
            return
        self.model_state = None
        self.model_status.setText("Model: none")
        self.panel.set_model_text("No model loaded. Choose one in Edit › Preferences.")
        self.canvas.set_overlay("No model loaded: showing the original")
        self.canvas.set_result(None)
        self._set_editing_enabled(False)
        self.modelChanged.emit(None)
        self.error(message)

    def preferences_dialog(self) -> None:
        from .preferences import PreferencesDialog
        note = self.model_state.note if self.model_state else ""
        dialog = PreferencesDialog(self._device, self.model_choice(), self, note=note,
                                   start_at_auto=self.settings.start_at_auto())
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        self.settings.set_start_at_auto(dialog.start_at_auto())
        device, model = dialog.device(), dialog.model_path()
        if device == self._device and model == self.model_choice():
            return
        self._device = device
        self._explicit_model = None
        self.settings.set_device(device)
        self.settings.set_model_path(model)
        self.load_model()

    def use_model(self, path: Optional[Union[str, Path]]) -> None:
        """Make a model file (None = the built-in default) the editor's model, and remember it."""
        self._explicit_model = None
        self.settings.set_model_path(str(path) if path else None)
        self.load_model()

    def training_panel_dialog(self) -> None:
        from .training_panel import open_training_panel
        open_training_panel(self)

    def batch_export_dialog(self) -> None:
        from .batch_dialog import open_batch_dialog
        open_batch_dialog(self)

    # ------------------------------------------------------------------------------------------
    # opening photos

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a photo", self.settings.last_folder(), open_filter())
        if path:
            self.open_file(path)

    def open_file(self, path: Union[str, Path]) -> None:
        path = Path(path).expanduser()
        self.save_sidecar()
        self.filmstrip.show_current(path)
        self.tasks.cancel_group("photo")
        self.tasks.cancel_group("curves")
        self._final_timer.stop()
        self.last_render = None
        opening = self.editing.open(path, sidecar.load(path), self.settings.start_at_auto())
        if opening.warning:
            # A damaged value in the photo's sidecar: that setting starts at its default.
            log.warning("%s", opening.warning)
            self.notify(f"⚠ {opening.warning}", 20000)
        self.setWindowTitle(f"{path.name} — {APP_TITLE}")
        self.canvas.set_overlay(f"Opening {path.name}…")
        self.histogram.set_counts(None)
        self._set_editing_enabled(False)
        self.settings.set_last_folder(path.parent)
        ahead = self.folder.take_ahead(path)
        if ahead is not None:
            self._decode(path, ahead)               # decoded while the previous photo was shown
        elif self.engine.wants_preview(path):
            # Big files and RAWs: a quick preview decode first, shown and prepared (a first result)
            # before the full decode runs.
            self.tasks.submit(lambda job: self.engine.preview(path), label=f"Opening {path.name}", key="open",
                              group="photo", show_progress=True, on_done=self._preview_ready,
                              on_error=lambda m, p=path: self._open_failed(p, m))
        else:
            self._decode(path)

    def _decode(self, path: Path, ahead=None) -> None:
        engine = self.engine
        self.tasks.submit(lambda job: engine.open(path, job.token, ahead), label=f"Opening {path.name}", key="open",
                          group="photo", show_progress=True, on_done=self._opened,
                          on_error=lambda m, p=path: self._open_failed(p, m))

    def _preview_ready(self, preview: Opened) -> None:
        if preview.path != self.photo_path:
            return
        self.editing.forget_previous()          # the engine now holds the new photo
        self.canvas.set_original(preview.view, preview.full_size)
        self.size_status.setText(f"{preview.full_size[1]} × {preview.full_size[0]}")
        if self.model_state is not None:
            self._show_adjustments(self.editing.apply_saved())
            self.canvas.set_overlay("Preparing the exposure curves…")
            adjustments, engine = self.editing.adjustments, self.engine
            self.tasks.submit(lambda job: engine.prepare_preview(adjustments, job.progress, job.token),
                              label="Preparing", key="prepare", group="curves", show_progress=True,
                              on_done=self._preview_rendered)
        self._decode(preview.path)

    def _preview_rendered(self, r: Rendered) -> None:
        if r.path != self.photo_path:
            return
        self.canvas.set_overlay(f"Opening {r.path.name}…" if self.opened is None else "")
        self._render_done(r)

    def _opened(self, opened: Opened) -> None:
        if not self.editing.decoded(opened):
            return
        shown = self.canvas.has_image()
        self.canvas.set_original(opened.view, opened.full_size, same_photo=shown)
        self.canvas.set_overlay("" if self.model_state else "No model loaded: showing the original")
        self.size_status.setText(f"{opened.full_size[1]} × {opened.full_size[0]}")
        self.panel.set_photo_info({"File": opened.path.name, **opened.info})
        self._update_recent_menu(self.settings.add_recent_file(opened.path))
        self._show_adjustments(self.editing.apply_saved())
        self.photoOpened.emit(opened)
        if self.model_state is not None:
            self._set_editing_enabled(True)
            if opened.prepared:
                # The curves solved on the preview apply to the full decode: render it now and
                # refine with the full proxy (as the second pass of prepare() would).
                self.editing.prepared_from_preview()
                self.canvas.set_overlay("")
                self.request_render(draft=False)
                passes = self.engine.passes()
                if len(passes) > 1:
                    self._submit_pass(passes, len(passes) - 1)
                else:
                    self._curves_final()
            else:
                self.prepare()

    def _open_failed(self, path: Path, message: str) -> None:
        if not self.editing.open_failed(path):
            return
        self.settings.remove_recent_file(path.resolve() if path.exists() else path)
        self._update_recent_menu()
        if self.opened is not None:
            # The photo that was open stays, with its settings and history; the error is a dialog.
            self.filmstrip.show_current(self.photo_path)
            self.setWindowTitle(f"{self.photo_path.name} — {APP_TITLE}")
            self.canvas.set_overlay("")
            self._show_adjustments(self.editing.adjustments)
            self._set_editing_enabled(True)
            self.request_render(draft=False)
            self.error(message)
            return
        self.setWindowTitle(APP_TITLE)
        self.canvas.set_overlay("")
        self.canvas.clear("Could not open that photo. Open another (Ctrl+O) or drop one here")
        self.size_status.setText("")
        self.panel.set_photo_info({})
        self.error(message)

    def _update_recent_menu(self, files: Optional[list[str]] = None) -> None:
        files = self.settings.recent_files() if files is None else files
        self.recent_menu.clear()
        for f in files:
            a = self.recent_menu.addAction(Path(f).name)
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda checked=False, p=f: self.open_file(p))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear the list", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._update_recent_menu()

    # drag and drop
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        if any(u.isLocalFile() and is_supported(u.toLocalFile()) for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile() and is_supported(url.toLocalFile()):
                self.open_file(url.toLocalFile())
                event.acceptProposedAction()
                return

    # ------------------------------------------------------------------------------------------
    # preparing and rendering

    def prepare(self) -> None:
        """Solve the curves for the open photo: one pass, or a quick one and then a refining one."""
        if self.opened is None or self.model_state is None:
            return
        self.editing.prepare_started()
        self.canvas.set_overlay("Preparing the exposure curves…")
        self._submit_pass(self.engine.passes(), 0)

    def _submit_pass(self, passes: list, i: int) -> None:
        engine, tasks, options, refining = self.engine, self.tasks, passes[i], i > 0

        def work(job: Job) -> None:
            def progress(fraction: float, message: str) -> None:
                job.progress(fraction, message)
                if refining:
                    tasks.run_pending("render")     # the dial stays live while the result is refined
            engine.prepare(options, progress=progress, cancel=job.token)

        def done(_=None) -> None:
            last = i == len(passes) - 1
            auto_due = self.editing.pass_done(last)
            self.canvas.set_overlay("")
            self.request_render(draft=False)
            if auto_due:
                self.auto_exposure(remember=False)
            elif not last:
                self._submit_pass(passes, i + 1)

        tasks.submit(work, label="Refining" if refining else "Preparing", key="prepare", group="curves",
                     show_progress=True, on_done=done, on_error=self._prepare_failed,
                     on_cancelled=self._prepare_cancelled)

    def _curves_final(self) -> None:
        """The open photo's curves cover the whole range of T: a new photo can get its Auto T."""
        if self.editing.auto_on_open:
            self.auto_exposure(remember=False)

    def _prepare_failed(self, message: str) -> None:
        self.editing.prepare_failed()
        self.canvas.set_overlay("")
        self.error(message)

    def _prepare_cancelled(self) -> None:
        overlay = self.editing.prepare_cancelled()
        if overlay is not None:
            self.canvas.set_overlay(overlay)

    def request_render(self, draft: bool = False) -> None:
        """Render the current adjustments; a newer request replaces a queued one."""
        action = self.editing.render_request()
        if action == PREPARE:
            self.prepare()
        if action != RENDER:
            return
        adjustments, engine = self.editing.adjustments, self.engine
        self.tasks.submit(lambda job: engine.render(adjustments, draft, job.token),
                          label="Rendering", key="render", group="curves", on_done=self._render_done)

    def _render_done(self, r: Rendered) -> None:
        clear_detail = self.editing.render_done(r)
        if clear_detail is None:
            return
        self.last_render = r
        self.canvas.set_result(r.image)
        if clear_detail:
            self.canvas.clear_detail()          # it shows other settings: it would hide the new result
            if not r.draft:
                self._detail_timer.start()
        self.histogram.set_counts(r.histogram)
        self.time_status.setText(f"Render: {r.seconds * 1000:.0f} ms" + (" (draft)" if r.draft else ""))
        if not r.draft and self.opened is not None:
            self.folder.prepare_ahead(r.path)   # the next photo of the strip is read meanwhile
        self.rendered.emit(r)

    def request_detail(self) -> None:
        """Zoomed in beyond the view images: render the visible region at screen resolution."""
        if self.opened is None or not self.editing.prepared or not self.canvas.needs_detail():
            return
        region = self.canvas.visible_region()
        if region is None or region == self.canvas.detail_region() and self.editing.detail_key is not None:
            return
        x, y, w, h = region
        zoom = min(self.canvas.zoom(), 1.0)
        size = (max(1, round(h * zoom)), max(1, round(w * zoom)))
        if size[0] * size[1] > MAX_DETAIL_PIXELS:
            return
        adjustments, engine = self.editing.adjustments, self.engine
        self.tasks.submit(lambda job: engine.render_detail(adjustments, region, size, job.token),
                          label="Rendering the detail", key="detail", group="curves", on_done=self._detail_done)

    def _detail_done(self, d) -> None:
        if not self.editing.detail_done(d):
            return
        self.canvas.set_detail(d.region, d.original, d.result)
        self.detailShown.emit(d)

    def _exposure_changed(self, T: float) -> None:
        self._edited(T=T)                   # the user's own T wins over a pending Auto
        if self.editing.wants_drafts:
            self.request_render(draft=True)
            self._final_timer.start()
        else:
            self.request_render(draft=False)

    def _denoise_changed(self, value: float) -> None:
        self._edited(denoise=value)
        self._final_timer.start()

    def _colour_noise_changed(self, value: float) -> None:
        self._edited(colour_noise=value)
        self._final_timer.start()

    def _neutral_changed(self, on: bool) -> None:
        self._edited(neutral=on)
        self._final_timer.start()

    def _edited(self, **changes) -> None:
        if self.editing.edit(**changes):
            self._sidecar_timer.start()

    def auto_exposure(self, remember: bool = True) -> None:
        """Set T to the photo's automatic exposure. ``remember=False`` (a new photo starting at Auto)
        renders it without marking the photo edited, so merely viewing it writes no sidecar."""
        if self.opened is None or self.model_state is None:
            return
        engine, path = self.engine, self.photo_path

        def done(T: float) -> None:
            shown = self.editing.adjustments.T
            T = self.editing.auto_done(T, path, remember)
            if T is None:
                return
            if remember:
                self.exposure.set_value(T)          # as if the user had turned the dial
            elif shown != T:
                self._show_adjustments(self.editing.adjustments)
                self.request_render(draft=False)
        self.tasks.submit(lambda job: engine.auto_T(), label="Automatic exposure", key="auto", group="curves",
                          on_done=done)

    # ------------------------------------------------------------------------------------------
    # a folder: the filmstrip

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of photos", self.settings.last_folder())
        if path:
            self.open_folder(path)

    def open_folder(self, path: Union[str, Path]) -> None:
        """Show the folder's photos in the filmstrip and open the first (or keep the open one if it is there)."""
        try:
            photos = self.folder.open(Path(path))
        except ClodeError as e:
            self.error(str(e))
            return
        for a in self.nav_actions:
            a.setEnabled(bool(photos))
        self.settings.set_last_folder(Path(path))
        self.folderOpened.emit(photos)
        if not photos:
            self.notify(f"No photos in {path}")
        elif self.photo_path in photos:
            self.filmstrip.show_current(self.photo_path)
        else:
            self.open_file(photos[0])
        self.filmstrip.setFocus()

    def _selection(self, include_current: bool = True) -> list[Path]:
        chosen = self.filmstrip.selected_paths() if self.folder.active else []
        if not include_current:
            chosen = [p for p in chosen if not self.editing.is_current(p)]
        return chosen or ([self.photo_path] if include_current and self.photo_path is not None else [])

    # ------------------------------------------------------------------------------------------
    # history and settings across photos

    def _apply_edit(self, adjustments: Optional[Adjustments], step: bool = True) -> None:
        """Show ``adjustments`` (an undo, a redo: ``step`` False; Reset, a paste: a step of its own) and render."""
        if adjustments is None or not self.editing.can_edit:
            return
        due = self.editing.apply(adjustments) if step else self.editing.opened is not None
        self._show_adjustments(self.editing.adjustments)
        if due:
            self._sidecar_timer.start()
        self.request_render(draft=False)

    def undo(self) -> None:
        if self.editing.can_edit:
            self._apply_edit(self.editing.undo(), step=False)

    def redo(self) -> None:
        if self.editing.can_edit:
            self._apply_edit(self.editing.redo(), step=False)

    def reset_edit(self) -> None:
        self._apply_edit(Adjustments(T=self.editing.default_T))

    def copy_settings(self) -> None:
        if self.editing.can_edit:
            self._clipboard = (self.editing.adjustments, list(Adjustments.names()))
            self.notify("Settings copied: select photos in the strip and paste (Ctrl+Shift+V)")

    def paste_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Paste the copied settings onto the strip's selection (asks which ones unless ``names``)."""
        if self._clipboard is None:
            self.notify("Nothing copied yet: Edit › Copy Settings (Ctrl+Shift+C)")
            return None
        return self._settings_to(self._clipboard[0], self._selection(), names, "Paste Settings")

    def sync_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Give the other selected photos the open photo's settings."""
        targets = self._selection(include_current=False)
        if not self.editing.can_edit or not targets:
            self.notify("Select the photos to sync in the strip (Ctrl+click, Shift+click)")
            return None
        return self._settings_to(self.editing.adjustments, targets, names, "Sync Settings")

    def _settings_to(self, source: Adjustments, targets: list[Path], names: Optional[list[str]],
                     title: str) -> Optional[list[Path]]:
        if not targets:
            return None
        if names is None:
            from .paste_dialog import PasteDialog
            chosen = self._clipboard[1] if self._clipboard is not None and title.startswith("Paste") else None
            dialog = PasteDialog(source, len(targets), title, chosen, self)
            if dialog.exec() != PasteDialog.DialogCode.Accepted:
                return None
            names = dialog.chosen()
            if title.startswith("Paste"):
                self._clipboard = (source, names)
        others = [p for p in targets if not self.editing.is_current(p)]
        for problem in self.folder.paste(others, source, names):
            self.error(problem)
        if len(others) < len(targets):
            self._apply_edit(self.editing.adjustments.replace(**{n: getattr(source, n) for n in names}))
        self.notify(f"{title}: {', '.join(names)} on {len(targets)} photo{'s' if len(targets) != 1 else ''}")
        return targets

    def export_selection(self) -> None:
        """Batch export the strip's selected photos, each with its own saved settings."""
        from .batch_dialog import open_batch_dialog
        self.save_sidecar()
        if self.folder.active:
            open_batch_dialog(self, selection=self._selection())
        else:
            open_batch_dialog(self)

    # ------------------------------------------------------------------------------------------
    # sidecar

    def save_sidecar(self) -> None:
        self._sidecar_timer.stop()
        settings = self.editing.sidecar_due(self.model_state.name if self.model_state is not None else None)
        if settings is None:
            return
        try:
            sidecar.save_settings(self.photo_path, settings)
        except ClodeError as e:
            self.notify(str(e))
        else:
            self.filmstrip.set_marked(self.photo_path, True)

    # ------------------------------------------------------------------------------------------
    # export

    def export_dialog(self) -> None:
        from .export_dialog import ExportDialog
        if self.opened is None or self.model_state is None:
            return
        size = f"{self.opened.full_size[1]} × {self.opened.full_size[0]}"
        dialog = ExportDialog(self.opened.path, self.settings.export_options(), self.settings.export_folder(),
                              self, size_text=size)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return
        self.settings.set_export_options(dialog.options_dict())
        self.settings.set_export_folder(dialog.target().parent)
        self.export(dialog.target(), dialog.options())

    def export(self, target: Union[str, Path], options=None) -> None:
        """Export the current photo at full resolution with the current T and denoise (in the worker)."""
        if self.opened is None:
            return
        target, source = Path(target), self.opened.path
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
        self.notify(f"Exported {path}")
        self.exported.emit(path)

    # ------------------------------------------------------------------------------------------
    # progress

    def _job_started(self, job: Job) -> None:
        self._progress_job = job
        self.progress_label.setText(job.label + "…")
        self.progress_bar.setValue(0)
        for w in (self.progress_label, self.progress_bar, self.cancel_button):
            w.show()

    def _job_progress(self, job: Job, fraction: float, message: str) -> None:
        if job is self._progress_job:
            self.progress_bar.setValue(round(fraction * 1000))
            if job.label == "Preparing":
                self.canvas.set_overlay(f"Preparing the exposure curves… {fraction * 100:.0f} %")
            elif job.label == "Refining":
                self.canvas.set_overlay(f"Refining… {fraction * 100:.0f} %")

    def _job_ended(self, job: Job) -> None:
        if job is self._progress_job:
            self._progress_job = None
            for w in (self.progress_label, self.progress_bar, self.cancel_button):
                w.hide()

    def cancel_current(self) -> None:
        if self._progress_job is not None:
            self.tasks.cancel_job(self._progress_job)

    # ------------------------------------------------------------------------------------------
    # view

    def set_compare_mode(self, mode: str) -> None:
        self.canvas.set_mode(mode)
        self.mode_actions[mode].setChecked(True)

    def _cycle_mode(self) -> None:
        i = MODES.index(self.canvas.mode())
        self.set_compare_mode(MODES[(i + 1) % len(MODES)])

    def _mode_changed(self, mode: str) -> None:
        self.mode_actions[mode].setChecked(True)
        self.settings.set_compare_mode(mode)

    def _zoom_changed(self, zoom: float, fitted: bool) -> None:
        self.zoom_label.setText(f"Fit {zoom * 100:.0f} %" if fitted else f"{zoom * 100:.0f} %")

    def _set_editing_enabled(self, on: bool) -> None:
        on = bool(on and self.model_state is not None)
        self.exposure.setEnabled(on)
        self.panel.denoise.setEnabled(on)
        self.panel.colour_noise.setEnabled(on)
        self.panel.neutral.setEnabled(on)
        for a in self.editing_actions:
            a.setEnabled(on)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        # Holding the peek key shows the original, whichever widget has the focus.
        t = event.type()
        if t in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self.isActiveWindow():
            if event.key() in PEEK_KEYS and not event.isAutoRepeat():
                self.canvas.set_peek(t == QEvent.Type.KeyPress)
                return True
        return super().eventFilter(obj, event)

    def _show_shortcuts(self) -> None:
        QMessageBox.information(self, "Keyboard shortcuts", "\n".join([
            "Ctrl+O  open a photo          Ctrl+Shift+O  open a folder",
            "← / →  previous / next photo  Home / End  first / last photo",
            "Ctrl+Z  undo                  Ctrl+Shift+Z  redo          Ctrl+R  reset",
            "Ctrl+Shift+C / V  copy / paste settings   Ctrl+Shift+S  sync to the selection",
            "Ctrl+E  export",
            "Ctrl+0  fit                   Ctrl+1  100 %",
            "Ctrl++ / Ctrl+-  zoom          wheel  zoom at the pointer",
            "drag  pan (or move the split divider)",
            "Y  next compare mode          hold \\  show the original",
            "dial: Up/Down fine steps (←/→ too without a folder), Page Up/Down coarse,",
            "      drag to turn, double-click resets T",
        ]))

    def _show_about(self) -> None:
        import clode
        QMessageBox.about(self, "About CLODE Desktop",
                          f"CLODE Desktop {clode.__version__}\n\nRescue dark photos with CLODE, a neural ODE "
                          "in exposure time (Chung et al., ICLR 2025). Turn the dial to choose the exposure.")

    # ------------------------------------------------------------------------------------------
    # closing

    def closeEvent(self, event) -> None:  # noqa: N802
        self._closing = True
        self._final_timer.stop()
        self.save_sidecar()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.settings.set_geometry(self.saveGeometry())
        self.settings.set_histogram_mode(self.histogram.mode())
        self.settings.sync()
        self.folder.shutdown()
        self.tasks.shutdown()
        super().closeEvent(event)
