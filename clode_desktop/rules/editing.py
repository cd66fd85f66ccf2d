"""The editing session of the open photo, without Qt: what the window shows and when it must act.

``Editing`` keeps the photo, its ``Adjustments``, where the curves' passes stand, the auto-on-open
policy, which results are stale, and when the sidecar is due. It does no work and owns no widget:
the window tells it what happened (the user moved the dial, a pass finished, a render came back)
and does what it answers (render, prepare, run Auto, save). Each photo's edit has its ``History``
(undo, redo); a photo that fails to open gives the editor back to the photo that was open. So the editing rules are tested
synchronously (``tests/test_editing.py``), and the window only maps events and results.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from clode.base.adjustments import DEFAULT_T, Adjustments
from clode.io.sidecar import Saved

from .history import History

#: A full render slower than this (seconds) makes dial moves render drafts first.
DRAFT_WHEN_SLOWER_THAN = 0.12

#: The history's name for Edit › Reset to Default.
RESET_LABEL = "Reset to default"

# What ``render_request`` answers.
RENDER, PREPARE, WAIT = "render", "prepare", "wait"


#: What a failed open puts back: the photo open before.
_PHOTO_STATE = ("path", "opened", "saved", "adjustments", "prepared", "own_T", "auto_on_open", "history",
                "auto_reading", "auto_T", "hand_T")
#: A T this far from Auto's, set by hand, is a choice the taste learns from (``clode.engine.taste``).
TASTE_MIN_MOVE = 0.05


@dataclass(frozen=True)
class Opening:
    """What opening a photo decided."""
    adjustments: Adjustments      # to show until the photo is decoded
    auto: bool                    # Auto will set T once the curves are final
    warning: str                  # "" or one line about unusable saved settings


class Editing:
    def __init__(self, default_T: float = DEFAULT_T) -> None:
        self.default_T = default_T          # the model's; a photo without a saved T starts there
        self.adjustments = Adjustments(T=default_T)
        self.path: Optional[Path] = None    # the photo being opened or shown
        self.opened: Any = None             # its full decode (the engine's ``Opened``), once done
        self.saved: Optional[Saved] = None  # its sidecar
        self.model_ready = False
        self.model_loading = False
        self.prepared = False               # curves exist: renders can run
        self.preparing = False              # a pass is running (or another one follows)
        self.dirty = False                  # edited since the sidecar was written
        self.auto_on_open = False           # set Auto once the curves of the new photo are final
        self.full_render_seconds = 0.0
        self.detail_key: Optional[Adjustments] = None   # what the zoomed-in detail shows
        self.own_T = False                  # the photo's T is its own (saved, edited, Auto), not the model's
        self.history = History(self.adjustments)
        self._previous: Optional[dict] = None   # the photo open before the one being opened
        self.auto_reading: Any = None       # Auto's reading of the photo (``clode.engine.auto_exposure.Reading``)
        self.auto_T: Optional[float] = None  # and its T (with the learned taste), once known
        self.hand_T = False                 # T was set by hand since the photo was opened

    # -- the model ---------------------------------------------------------------------------------
    def model_loading_started(self) -> None:
        self.model_loading = True
        self.prepared = False

    def model_loaded(self, default_T: float) -> bool:
        """A model is ready. Returns whether the open photo must be prepared (again)."""
        self.model_loading = False
        self.model_ready = True
        self.default_T = default_T
        if not self.own_T:                 # a photo's own T (saved or chosen) survives a model switch
            self.adjustments = self.adjustments.replace(T=default_T)
            self.history.rebase(self.adjustments)
        return self.opened is not None

    def model_failed(self, still_working: bool) -> bool:
        """Loading failed; ``still_working``: the previous model is kept. Returns whether to prepare."""
        self.model_loading = False
        self.model_ready = still_working
        return still_working and self.opened is not None

    # -- the photo ---------------------------------------------------------------------------------
    def open(self, path: Path, saved: Optional[Saved], start_at_auto: bool) -> Opening:
        """A new photo: its saved settings (bad values fall back to the defaults, with a warning)."""
        if self.opened is not None:
            self._previous = {k: getattr(self, k) for k in _PHOTO_STATE}
        elif self.path is None:
            self._previous = None           # else an open in progress is replaced: the one before stays
        self.path = Path(path)
        self.opened = None
        self.saved = saved
        self.prepared = False
        self.dirty = False
        self.detail_key = None
        self.auto_on_open = start_at_auto and (saved is None or "T" not in saved.settings)
        self.auto_reading, self.auto_T, self.hand_T = None, None, False
        self.history = History(self.adjustments)
        return Opening(self.apply_saved(), self.auto_on_open, saved.warning() if saved else "")

    def apply_saved(self) -> Adjustments:
        """The photo's remembered adjustments, else the defaults (T: the model's)."""
        base = Adjustments(T=self.default_T)
        self.adjustments = self.saved.adjustments(base) if self.saved is not None else base
        self.own_T = self.saved is not None and "T" in self.saved.settings
        if self.saved is not None and self.saved.history is not None:
            self.history.load(self.saved.history, self.adjustments)     # its undo steps, from its sidecar
        else:
            self.history.restart(self.adjustments)
        return self.adjustments

    def take_shown(self, adjustments: Adjustments) -> None:
        """The widgets show ``adjustments`` (the dial rounds T): that is the edit, and where the
        history stands (else a history saved with the unrounded value would not match the saved
        settings when the photo is opened again)."""
        self.adjustments = adjustments
        self.history.rebase(adjustments)

    def decoded(self, opened: Any) -> bool:
        """The full decode arrived; False when it is stale (another photo was opened since)."""
        if Path(opened.path) != self.path:
            return False
        self.opened = opened
        self._previous = None
        return True

    def forget_previous(self) -> None:
        """The new photo has replaced the previous one (its preview is shown): no way back."""
        self._previous = None

    def open_failed(self, path: Path) -> bool:
        """True when the failure is the current photo's. The photo open before it, if any, is the
        current one again (``opened`` is then set); else nothing is open."""
        if Path(path) != self.path:
            return False
        previous, self._previous = self._previous, None
        if previous is not None:
            for k, v in previous.items():
                setattr(self, k, v)
            self.dirty = False
            self.preparing = False
            self.detail_key = None
            return True
        self.path = None
        self.opened = None
        return True

    def is_current(self, path: Optional[Path]) -> bool:
        return path is not None and self.path is not None and Path(path) == self.path

    @property
    def can_edit(self) -> bool:
        return self.opened is not None and self.model_ready

    # -- the user's edits --------------------------------------------------------------------------
    def edit(self, **changes: Any) -> bool:
        """The user changed settings. Returns whether the sidecar is now due (a photo is open).

        The user's own T cancels a pending Auto on open; the noise reduction does not."""
        return self._edit(changes, None)

    def edit_step(self, label: str, **changes: Any) -> bool:
        """A change that is one step of its own named ``label`` (a brush stroke, a layer's amount).
        Returns whether the sidecar is now due."""
        self.history.seal()
        due = self._edit(changes, label)
        self.history.seal()
        return due

    def _edit(self, changes: dict, label: Optional[str]) -> bool:
        before = self.adjustments
        self.adjustments = before.replace(**changes)
        if "T" in changes:
            self.auto_on_open = False
            self.own_T = True
            self.hand_T = True
        self.history.record(self.adjustments, label)
        return self._changed(before)

    def _changed(self, before: Adjustments) -> bool:
        if any(getattr(before, k) != getattr(self.adjustments, k) for k in Adjustments.names() if k != "T"):
            self.detail_key = None          # the zoomed-in detail shows the old noise reduction
        if self.opened is None:
            return False
        self.dirty = True
        return True

    # -- history -----------------------------------------------------------------------------------
    def undo(self) -> Optional[Adjustments]:
        """Back one step: the adjustments to show, or None (nothing to undo)."""
        return self._step(self.history.undo())

    def redo(self) -> Optional[Adjustments]:
        return self._step(self.history.redo())

    def go_to(self, index: int) -> Optional[Adjustments]:
        """Back (or forward) to entry ``index`` of the history list."""
        return self._step(self.history.go_to(index))

    def _step(self, adjustments: Optional[Adjustments]) -> Optional[Adjustments]:
        if adjustments is None:
            return None
        before, self.adjustments = self.adjustments, adjustments
        self.auto_on_open = False
        self.own_T = True
        self.hand_T = True
        self._changed(before)
        return adjustments

    def apply(self, adjustments: Adjustments, label: Optional[str] = None) -> bool:
        """Set the whole edit as one step of its own (Reset, a paste), named ``label`` in the history
        (else by what changed). Returns whether the sidecar is due."""
        self.history.seal()
        changes = {k: getattr(adjustments, k) for k in Adjustments.names()}
        due = self._edit(changes, label)
        self.history.seal()
        return due

    def reset_to_default(self) -> bool:
        """The model's default T and the default finishing, as one step."""
        return self.apply(Adjustments(T=self.default_T), RESET_LABEL)

    @property
    def wants_drafts(self) -> bool:
        """Whether dial moves render a draft first (full renders are slow)."""
        return self.full_render_seconds > DRAFT_WHEN_SLOWER_THAN

    # -- curves and renders ------------------------------------------------------------------------
    def render_request(self) -> Optional[str]:
        """What a render request does now: RENDER, PREPARE (no curves yet), WAIT, or None (nothing open)."""
        if self.opened is None or not self.model_ready:
            return None
        if self.prepared:
            return RENDER
        return PREPARE if not self.preparing and not self.model_loading else WAIT

    def prepare_started(self) -> None:
        self.prepared = False
        self.preparing = True

    def pass_done(self, last: bool) -> bool:
        """A pass of the curves finished. Returns whether Auto is now due (the final curves of a
        photo opened at Auto)."""
        self.preparing = not last
        self.prepared = True
        self.detail_key = None              # the detail came from coarser curves
        return last and self.auto_on_open

    def prepared_from_preview(self) -> None:
        """The curves solved on the preview carry over to the full decode."""
        self.prepared = True

    def prepare_failed(self) -> None:
        self.preparing = False

    def prepare_cancelled(self) -> Optional[str]:
        """The overlay to show: "" to clear it, a message, or None to leave it."""
        self.preparing = False
        if self.prepared:
            return ""                       # the refining pass was cancelled; the quick result stays
        if self.opened is not None and not self.model_loading:
            return "Cancelled: move the dial to prepare again"
        return None

    def render_done(self, rendered: Any) -> Optional[bool]:
        """A render came back. None: stale (another photo), drop it. Else whether the zoomed-in
        detail must be cleared (it shows other settings)."""
        if not self.is_current(rendered.path):
            return None
        if not rendered.draft:
            self.full_render_seconds = rendered.seconds
        if self.detail_key != rendered.adjustments:
            self.detail_key = None
            return True
        return False

    def detail_done(self, detail: Any) -> bool:
        """Whether a zoomed-in render is still current (same photo, same settings)."""
        if not self.is_current(detail.path) or detail.adjustments != self.adjustments:
            return False
        self.detail_key = detail.adjustments
        return True

    def auto_read(self, path: Optional[Path], reading: Any, T: float) -> bool:
        """Auto's reading of ``path`` and its T arrived; False when stale (another photo is open)."""
        if not self.is_current(path):
            return False
        self.auto_reading, self.auto_T = reading, float(T)
        return True

    def taste_choice(self) -> Optional[tuple[Any, float, bool]]:
        """(Auto's reading, the T now, whether it lies away from Auto's) once T was set by hand since
        the photo was opened and Auto's reading is known: a choice the learned taste records, or takes
        back when the dial went back to Auto (``clode.engine.taste``). None otherwise: Auto left untouched
        is not a choice."""
        if self.auto_reading is None or self.auto_T is None or not self.hand_T:
            return None
        T = float(self.adjustments.T)
        return self.auto_reading, T, abs(T - self.auto_T) >= TASTE_MIN_MOVE

    def auto_provisional(self, T: float, path: Optional[Path]) -> Optional[float]:
        """Auto's T read on the quick curves of a photo opened at Auto: shown until the final curves
        give the final Auto, so the first result is not the model's default (which washes out a good
        photo) for the seconds the refining takes. Returns the T to show, or None when it no longer
        applies. Nothing is recorded: the final Auto replaces it."""
        if not self.auto_on_open or not self.is_current(path):
            return None
        self.adjustments = self.adjustments.replace(T=T)
        self.history.rebase(self.adjustments)
        return T

    def auto_done(self, T: float, path: Optional[Path], remember: bool) -> Optional[float]:
        """Auto chose ``T``. Returns the T to show, or None when it no longer applies. ``remember``
        (the user pressed Auto) makes it an edit; Auto on open is not (viewing writes no sidecar)."""
        if remember:
            return T
        if self.auto_provisional(T, path) is None:
            return None                     # the user set T meanwhile, or opened another photo
        self.auto_on_open = False
        self.own_T = True
        return T

    # -- the sidecar -------------------------------------------------------------------------------
    def sidecar_due(self, model: Optional[str] = None) -> Optional[dict]:
        """The settings to save now, or None when nothing changed since the last save."""
        if not self.dirty or self.path is None:
            return None
        self.dirty = False
        settings = self.adjustments.to_dict()
        if model is not None:
            settings["model"] = model
        return settings
