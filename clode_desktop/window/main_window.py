"""The editor window: canvas, side panel, menus, toolbar, status bar; wires the UI to the worker."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (QApplication, QFileDialog, QHBoxLayout, QMainWindow, QMessageBox,
                               QVBoxLayout, QWidget)

from clode.io import sidecar

from clode.engine import taste
from clode.base.adjustments import Adjustments
from clode.base.errors import ClodeError
from clode.io.imageio import SUPPORTED_EXTENSIONS, is_supported

from ..widgets.canvas import MODES, SPLIT, Canvas
from ..widgets.cull_bar import CullBar
from .detail_renders import DetailRenders
from ..rules.editing import PREPARE, RENDER, RESET_LABEL, Editing
from ..rules.engine import Engine, ModelState, Opened, Rendered
from ..widgets.filmstrip import Filmstrip
from ..folder.folder_culling import FolderCulling
from ..folder.folder_editing import FolderEditing
from ..folder.folder_session import FolderSession
from ..widgets.history_panel import HistoryDock
from ..base.link import EditorLink
from .local_tools import LocalTools
from .model_choice import ModelChoice
from .photo_export import PhotoExporter
from ..base.settings import Settings
from ..widgets.side_panel import SidePanel
from .status_bar import WindowStatusBar
from .window_actions import WindowActions
from ..base.worker import Job, TaskManager

if TYPE_CHECKING:
    from ..training.training_panel import TrainingPanel     # made on first use: its module loads torch

log = logging.getLogger(__name__)

APP_TITLE = "CLODE Desktop"
PEEK_KEYS = (Qt.Key.Key_Backslash,)
FINAL_RENDER_DELAY_MS = 250      # after the last dial move, the full-quality render
SIDECAR_DELAY_MS = 1000          # after the last change, the sidecar is written


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
    #: a big photo's or a RAW's quick preview decode is shown, before the full decode (Opened)
    previewOpened = Signal(object)
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
        self.engine = Engine(proxy_side, quick_proxy, view_side)
        self.tasks = TaskManager(self, threaded=threaded)
        self.models = ModelChoice(self.engine, self.tasks, self.settings, model_path, device, self)
        #: the editing rules (Qt-free): this window maps user events to it and its answers to widgets
        self.editing = Editing()
        self.last_render: Optional[Rendered] = None
        #: the training panel, made on first use (Edit › Train a model on my photos…)
        self.training_panel: Optional["TrainingPanel"] = None
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
        self.cull_bar = CullBar()
        self.cull_bar.hide()
        self.folder = FolderSession(self.filmstrip, self, threaded=threaded)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        left = QVBoxLayout()
        left.setSpacing(0)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.cull_bar)
        left.addWidget(self.filmstrip)
        row.addLayout(left, 1)
        row.addWidget(self.panel)
        self.setCentralWidget(central)
        # The edit history as a list to click back to.
        self.history_dock = HistoryDock(self)
        self.history_list = self.history_dock.list
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.history_dock)
        self.history_dock.setVisible(self.settings.history_shown())
        self.history_list.entryChosen.connect(self.go_to_history)
        self.exposure = self.panel.exposure
        self.histogram = self.panel.histogram
        self.histogram.set_mode(self.settings.histogram_mode() if self.settings.histogram_mode() in ("rgb", "luminance") else "rgb")

        self._final_timer = QTimer(self, singleShot=True, interval=FINAL_RENDER_DELAY_MS)
        self._final_timer.timeout.connect(lambda: self.request_render(draft=False))
        self._sidecar_timer = QTimer(self, singleShot=True, interval=SIDECAR_DELAY_MS)
        self._sidecar_timer.timeout.connect(self.save_sidecar)

        #: what the dialogs and panels may ask of this window (they get this, never the window)
        self.link = EditorLink(parent=self, tasks=self.tasks, settings=self.settings,
                               model_choice=self.models.path, device=lambda: self.models.device,
                               use_model=self.models.use, photo_path=lambda: self.editing.path,
                               photo_view=lambda: self.editing.opened.view if self.editing.opened else None,
                               adjustments=lambda: self.editing.adjustments, notify=self.notify)
        self.folder_editing = FolderEditing(self.link, self.folder, self.filmstrip, self.editing,
                                            set_navigable=lambda on: self.window_actions.set_navigable(on),
                                            open_file=self.open_file,
                                            apply_edit=self._apply_edit, save_sidecar=self.save_sidecar,
                                            notify=self.notify, error=self.error)
        self.folder_editing.folderOpened.connect(self.folderOpened)
        self.culling = FolderCulling(self.link, self.folder, self.filmstrip, self.cull_bar,
                                     targets=self.folder_editing.selection, save_sidecar=self.save_sidecar,
                                     notify=self.notify, error=self.error)
        self.folder_editing.folderOpened.connect(self.culling.folder_opened)
        #: the local exposure tools (brush, gradients, mask overlay) and the layer list's changes
        self.local = LocalTools(self)
        #: the menus, the toolbar and every action (not ``actions``: that is QWidget's list of them)
        self.window_actions = WindowActions(self, self.link, self.open_file)
        self.status = WindowStatusBar(self.statusBar(), self.tasks.cancel_job, self.canvas.set_overlay, self)
        self.exporter = PhotoExporter(self.engine, self.tasks, self.editing, self.settings, self.notify, self)
        self.exporter.exported.connect(self.exported)
        self.details = DetailRenders(self.canvas, self.editing, self.engine, self.tasks, self)
        self.details.shown.connect(self.detailShown)

        self.models.loading.connect(self._model_loading_started)
        self.models.loaded.connect(self._model_ready)
        self.models.failed.connect(self._model_failed)
        self.exposure.valueChanged.connect(self._exposure_changed)
        self.exposure.released.connect(self._final_timer.start)
        # a drag (press to release) is one step of the history
        for slider in (self.exposure.dial, self.panel.denoise.slider, self.panel.colour_noise.slider,
                       self.panel.protect.slider):
            slider.sliderPressed.connect(lambda: self.editing.history.begin())
            slider.sliderReleased.connect(lambda: self.editing.history.seal())
        self.filmstrip.photoChosen.connect(self.open_file)
        self.exposure.autoRequested.connect(self.auto_exposure)
        self.panel.denoiseChanged.connect(self._denoise_changed)
        self.panel.colourNoiseChanged.connect(self._colour_noise_changed)
        self.panel.neutralChanged.connect(self._neutral_changed)
        self.panel.protectChanged.connect(self._protect_changed)
        self.tasks.failed.connect(lambda label, message: self.error(message))
        self.tasks.started.connect(self.status.job_started)
        self.tasks.progress.connect(self.status.job_progress)
        self.tasks.ended.connect(self.status.job_ended)

        mode = self.settings.compare_mode()
        self.set_compare_mode(mode if mode in MODES else SPLIT)
        self._set_editing_enabled(False)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.exposure.dial.setFocus()       # arrow keys and Page Up/Down move T from the start
        self.models.load()

    # What the editor shows, read from its parts (the rest of their state is theirs: ``self.editing``…).
    @property
    def photo_path(self) -> Optional[Path]:
        """The open photo's file (None: none)."""
        return self.editing.path

    @property
    def opened(self) -> Optional[Opened]:
        """The open photo, decoded (None until it is)."""
        return self.editing.opened

    @property
    def adjustments(self) -> Adjustments:
        """The open photo's edit."""
        return self.editing.adjustments

    @property
    def model_state(self) -> Optional[ModelState]:
        """The loaded model (None before one loads, or when none could)."""
        return self.models.state

    def _show_adjustments(self, adjustments: Adjustments) -> None:
        """Set the widgets to ``adjustments`` (without their change signals) and take back the
        values as the widgets hold them (the dial rounds T)."""
        self.exposure.set_value(adjustments.T, emit=False)
        self.panel.set_denoise(adjustments.denoise)
        self.panel.set_colour_noise(adjustments.colour_noise)
        self.panel.set_neutral(adjustments.neutral)
        self.panel.set_protect(adjustments.protect)
        self.editing.take_shown(adjustments.replace(T=self.exposure.value(),
                                                    denoise=self.panel.denoise_value(),
                                                    colour_noise=self.panel.colour_noise_value(),
                                                    neutral=self.panel.neutral_value(),
                                                    protect=self.panel.protect_value()))
        self._show_history()
        self.local.show()

    def _show_history(self) -> None:
        """The history list follows the open photo's history (a step, an undo, another photo)."""
        history = self.editing.history
        self.history_list.show_entries(history.entries(), history.index)

    # ------------------------------------------------------------------------------------------
    # messages

    def notify(self, text: str, ms: int = 8000) -> None:
        """A passing note in the status bar."""
        self.status.notify(text, ms)

    def error(self, message: str) -> None:
        if self._closing:
            return
        log.info("error shown: %s", message)
        show_error(self, message)
        self.errorShown.emit(message)

    # ------------------------------------------------------------------------------------------
    # the model (chosen and loaded by ``self.models``)

    def model_choice(self) -> Optional[str]:
        return self.models.path()

    def load_model(self) -> None:
        self.models.load()

    def use_model(self, path: Optional[Union[str, Path]]) -> None:
        """Make a model file (None = the built-in default) the editor's model, and remember it."""
        self.models.use(path)

    def _model_loading_started(self) -> None:
        self.editing.model_loading_started()
        self.tasks.cancel_group("curves")   # an open in progress goes on
        self.status.model_status.setText("Model: loading…")

    def _model_ready(self, state: ModelState) -> None:
        self.exposure.set_model_range(state.default_T, state.t_max)
        self.status.show_model(state)
        if state.note:
            self.notify(state.note)
        self.panel.set_model_text(state.summary())
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
            self.error(f"{message} (still using {self.model_state.name})")
            if must_prepare:
                self.prepare()
            return
        self.status.model_status.setText("Model: none")
        self.panel.set_model_text("No model loaded. Choose one in Edit › Preferences.")
        self.canvas.set_overlay("No model loaded: showing the original")
        self.canvas.set_result(None)
        self._set_editing_enabled(False)
        self.modelChanged.emit(None)
        self.error(message)

    def training_panel_dialog(self) -> "TrainingPanel":
        """Edit › Train a model on my photos…: the training panel (made on first use), shown."""
        if self.training_panel is None:
            from ..training.training_panel import TrainingPanel
            panel = self.training_panel = TrainingPanel(self.link, parent=self)
            self.modelChanged.connect(lambda state: panel.refresh_models())   # the "(in use)" mark
            # The panel may be hidden when a run ends: the editor's status bar says so too.
            panel.finished.connect(lambda path: self.notify(f"Training finished: saved the model '{Path(path).stem}'"))
            panel.failed.connect(self.notify)
        self.training_panel.show()
        self.training_panel.raise_()
        self.training_panel.activateWindow()
        return self.training_panel

    def batch_export_dialog(self) -> None:
        from ..dialogs.batch_dialog import open_batch_dialog
        open_batch_dialog(self.link)

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
        self._show_history()
        self.exposure.set_auto_mark(None)
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
                              on_error=partial(self._open_failed, path))
        else:
            self._decode(path)

    def _decode(self, path: Path, ahead=None) -> None:
        engine = self.engine
        self.tasks.submit(lambda job: engine.open(path, job.token, ahead), label=f"Opening {path.name}", key="open",
                          group="photo", show_progress=True, on_done=self._opened,
                          on_error=partial(self._open_failed, path))

    def _preview_ready(self, preview: Opened) -> None:
        if preview.path != self.photo_path:
            return
        self.editing.forget_previous()          # the engine now holds the new photo
        self.canvas.set_original(preview.view, preview.full_size, photo=preview.path)
        self.status.size_status.setText(f"{preview.full_size[1]} × {preview.full_size[0]}")
        self.previewOpened.emit(preview)
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
        self.canvas.set_original(opened.view, opened.full_size, photo=opened.path)
        self.canvas.set_overlay("" if self.model_state else "No model loaded: showing the original")
        self.status.size_status.setText(f"{opened.full_size[1]} × {opened.full_size[0]}")
        self.panel.set_photo_info({"File": opened.path.name, **opened.info})
        self.window_actions.recent.update(self.settings.add_recent_file(opened.path))
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
        self.window_actions.recent.update()
        if self.opened is not None and self.photo_path is not None:
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
        self.status.size_status.setText("")
        self.panel.set_photo_info({})
        self.error(message)

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
            if auto_due or last:            # a photo with its own T gets Auto read (the dial's mark, the taste)
                self.request_render(draft=False)
                self.auto_exposure(remember=False)
            elif self.editing.auto_on_open:
                # the first result at Auto read on the quick curves, not at the default T
                self._provisional_auto(lambda: self._submit_pass(passes, i + 1))
            else:
                self.request_render(draft=False)
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

    def request_render(self, draft: bool = False, adjustments: Optional[Adjustments] = None) -> None:
        """Render the current adjustments (or ``adjustments``: a brush stroke being dragged); a newer
        request replaces a queued one."""
        action = self.editing.render_request()
        if action == PREPARE:
            self.prepare()
        if action != RENDER:
            return
        adjustments, engine = adjustments or self.editing.adjustments, self.engine
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
                self.details.schedule()
        self.histogram.set_counts(r.histogram)
        self.status.time_status.setText(f"Render: {r.seconds * 1000:.0f} ms" + (" (draft)" if r.draft else ""))
        if not r.draft and self.opened is not None:
            self.folder.prepare_ahead(r.path)   # the next photo of the strip is read meanwhile
        self.rendered.emit(r)

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

    def _protect_changed(self, value: float) -> None:
        self._edited(protect=value)
        self._final_timer.start()

    def edit_local(self, layers: tuple, label: str) -> None:
        """The local exposure layers become ``layers``: one step named ``label``, rendered."""
        if not self.editing.can_edit:
            return
        try:
            due = self.editing.edit_step(label, local=layers)
        except ClodeError as e:         # past a layer's bounds (MAX_STROKES strokes in one layer...)
            self.notify(f"{label} not applied: {e}")
            self.local.show()
            return
        if due:
            self._sidecar_timer.start()
        self._show_history()
        self.local.show()
        self.request_render(draft=False)

    def _edited(self, **changes) -> None:
        if self.editing.edit(**changes):
            self._sidecar_timer.start()
        self._show_history()

    def _provisional_auto(self, then: Callable[[], None]) -> None:
        """Show the open photo at Auto read on the curves it has now (``Editing.auto_provisional``), then
        call ``then``."""
        engine, path = self.engine, self.photo_path

        def done(choice) -> None:
            T = self.editing.auto_provisional(choice[1], path)
            if T is not None:
                self._show_adjustments(self.editing.adjustments)
            self.request_render(draft=False)
            then()

        def failed(message: str) -> None:
            self.request_render(draft=False)
            then()
        # its own key: the Auto button's job must not replace it (the refining would never start)
        self.tasks.submit(lambda job: engine.auto_choice(), label="Automatic exposure", key="provisional-auto",
                          group="curves", on_done=done, on_error=failed)

    def auto_exposure(self, remember: bool = True) -> None:
        """Set T to the photo's automatic exposure. ``remember=False`` (a new photo starting at Auto)
        renders it without marking the photo edited, so merely viewing it writes no sidecar."""
        if self.opened is None or self.model_state is None:
            return
        engine, path = self.engine, self.photo_path

        def done(choice) -> None:
            reading, T = choice
            if self.editing.auto_read(path, reading, T):
                self.exposure.set_auto_mark(T)
            shown = self.editing.adjustments.T
            T = self.editing.auto_done(T, path, remember)
            if T is None:
                return
            if remember:
                self.exposure.set_value(T)          # as if the user had turned the dial
            elif shown != T:
                self._show_adjustments(self.editing.adjustments)
                self.request_render(draft=False)
        self.tasks.submit(lambda job: engine.auto_choice(), label="Automatic exposure", key="auto", group="curves",
                          on_done=done)

    # ------------------------------------------------------------------------------------------
    # a folder: the filmstrip

    def open_folder(self, path: Union[str, Path]) -> None:
        """Show the folder's photos in the filmstrip and open the first (or keep the open one if it is there)."""
        self.folder_editing.open_folder(path)

    # ------------------------------------------------------------------------------------------
    # history and settings across photos

    def _apply_edit(self, adjustments: Optional[Adjustments], step: bool = True, label: Optional[str] = None) -> None:
        """Show ``adjustments`` (an undo, a redo: ``step`` False; Reset, a paste: a step of its own,
        named ``label`` in the history) and render."""
        if adjustments is None or not self.editing.can_edit:
            return
        due = self.editing.apply(adjustments, label) if step else self.editing.opened is not None
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

    def go_to_history(self, index: int) -> None:
        """Back (or forward) to entry ``index`` of the history list."""
        if self.editing.can_edit:
            self._apply_edit(self.editing.go_to(index), step=False)
        else:
            self._show_history()                # nothing to edit yet: the list keeps showing where we stand

    def reset_edit(self) -> None:
        self._apply_edit(Adjustments(T=self.editing.default_T), label=RESET_LABEL)

    def copy_settings(self) -> None:
        self.folder_editing.copy_settings()

    def paste_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Paste the copied settings onto the strip's selection (asks which ones unless ``names``)."""
        return self.folder_editing.paste_settings(names)

    def sync_settings(self, names: Optional[list[str]] = None) -> Optional[list[Path]]:
        """Give the other selected photos the open photo's settings."""
        return self.folder_editing.sync_settings(names)


    # ------------------------------------------------------------------------------------------
    # sidecar

    def save_sidecar(self) -> None:
        self._sidecar_timer.stop()
        settings = self.editing.sidecar_due(self.model_state.name if self.model_state is not None else None)
        path = self.photo_path
        if settings is None or path is None:
            return
        try:
            sidecar.save_settings(path, settings, self.editing.history.to_dict())
        except ClodeError as e:
            self.notify(str(e))
        else:
            self.filmstrip.set_marked(path, True)
        self._record_taste()

    def _record_taste(self) -> None:
        """A T set by hand away from Auto is a choice Auto learns from; back at Auto, it is not
        (``clode.engine.taste``)."""
        choice, key = self.editing.taste_choice(), self.engine.taste_key()
        if choice is None or key is None:
            return
        reading, T, moved = choice
        try:
            if moved:
                taste.record(key, str(self.photo_path), reading, T)
            else:
                taste.forget(key, str(self.photo_path))
        except OSError as e:
            log.warning("cannot record the exposure choice: %s", e)

    # ------------------------------------------------------------------------------------------
    # export

    def export_dialog(self) -> None:
        if self.opened is not None and self.model_state is not None:
            self.exporter.dialog()

    def export(self, target: Union[str, Path], options=None) -> None:
        """Export the current photo at full resolution with the current T and denoise (in the worker)."""
        self.exporter.export(target, options)

    # ------------------------------------------------------------------------------------------
    # view

    def set_compare_mode(self, mode: str) -> None:
        self.window_actions.set_compare_mode(mode)

    def _set_editing_enabled(self, on: bool) -> None:
        on = bool(on and self.model_state is not None)
        self.exposure.setEnabled(on)
        self.panel.denoise.setEnabled(on)
        self.panel.colour_noise.setEnabled(on)
        self.panel.neutral.setEnabled(on)
        self.panel.protect.setEnabled(on)
        self.panel.layers.setEnabled(on)
        self.window_actions.set_editing_enabled(on)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        # Holding the peek key shows the original, whichever widget has the focus.
        t = event.type()
        if isinstance(event, QKeyEvent) and t in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) \
                and self.isActiveWindow():
            if event.key() in PEEK_KEYS and not event.isAutoRepeat():
                self.canvas.set_peek(t == QEvent.Type.KeyPress)
                return True
        return super().eventFilter(obj, event)

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
        self.settings.set_history_shown(not self.history_dock.isHidden())
        self.settings.sync()
        if self.training_panel is not None:
            self.training_panel.shutdown()          # its run stops, its thread ends
        self.folder.shutdown()
        self.tasks.shutdown()
        super().closeEvent(event)
