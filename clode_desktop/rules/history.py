"""Undo and redo of one photo's edit, without Qt: a list of ``Adjustments``, a name for each step,
and where we stand in it.

Every change of the edit is one step, except that changes of the same setting coalesce while a
gesture is open (a dial or slider drag, from press to release) or follow each other quickly (arrow
keys on the dial): a drag is undone in one step. ``seal()`` ends the coalescing (the window calls it
on release, and before Auto, Reset or a paste, which are steps of their own).

The history is kept with the photo's sidecar (``to_dict`` / ``load``), so it survives moving to
another photo and back, and restarting the app; it is shown as a list the user can click back to
(``entries``, ``go_to``), as darktable's history stack.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from clode.base.adjustments import Adjustments
from clode.base.errors import ClodeError

#: Changes of the same setting closer than this (seconds) are one step, even without a gesture.
COALESCE_SECONDS = 1.0
#: Steps kept per photo (in memory and in its sidecar); older ones are dropped.
LIMIT = 100
#: The first entry of every history: the edit as the photo was opened the first time.
ORIGINAL = "Original"
#: A step found in the sidecar that the history did not make (another program changed the settings).
CHANGED_ELSEWHERE = "Changed elsewhere"

#: The settings' names as the panel and the dialogs show them.
LABELS = {"T": "Exposure (T)", "denoise": "Denoiser", "colour_noise": "Colour noise", "neutral": "Neutral colours",
          "protect": "Protect highlights", "local": "Local exposure"}


def describe(name: str, value: Any) -> str:
    """A setting's value as the user reads it: T 3.40, 50 %, on."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (tuple, list)):  # local exposure layers (as values or as JSON)
        return f"{len(value)} layer{'s' if len(value) != 1 else ''}" if value else "none"
    return f"{value:.2f}" if name == "T" else f"{value * 100:.0f} %"


def step_label(before: Adjustments, after: Adjustments) -> str:
    """What changed from ``before`` to ``after``, in a few words: "Exposure (T) 3.40", "Denoiser, Colour noise"."""
    changed = [n for n in Adjustments.names() if getattr(before, n) != getattr(after, n)]
    if len(changed) == 1:
        return f"{LABELS.get(changed[0], changed[0])} {describe(changed[0], getattr(after, changed[0]))}"
    names = [LABELS.get(n, n) for n in changed]
    return ", ".join(names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")


def paste_label(names) -> str:
    """The history's name for a paste (or a sync) of the settings ``names``."""
    return "Pasted " + ", ".join(LABELS.get(n, n) for n in names)


class History:
    def __init__(self, current: Adjustments = Adjustments(), clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.restart(current)

    def restart(self, current: Adjustments) -> None:
        """A new photo (or its settings were loaded): nothing to undo."""
        self._states = [current]
        self._labels = [ORIGINAL]
        self._index = 0
        self._open_key: Optional[tuple] = None    # the setting(s) the top step may still absorb
        self._last_time = -float("inf")
        self._gesture = False

    @property
    def current(self) -> Adjustments:
        return self._states[self._index]

    @property
    def index(self) -> int:
        """Where we stand: 0 is the original, ``len(self)`` the newest step."""
        return self._index

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def __len__(self) -> int:
        """The number of steps recorded (undoable or redoable)."""
        return len(self._states) - 1

    def entries(self) -> list[tuple[str, Adjustments]]:
        """(name, edit) of the original and of every step, oldest first (the list the panel shows)."""
        return list(zip(self._labels, self._states))

    # -- recording -----------------------------------------------------------------------------
    def begin(self) -> None:
        """A gesture starts (the dial or a slider is pressed): its changes are one step."""
        self.seal()
        self._gesture = True

    def seal(self) -> None:
        """The next change starts a new step."""
        self._open_key = None
        self._gesture = False

    def record(self, after: Adjustments, label: Optional[str] = None) -> bool:
        """The edit became ``after`` (``label``: the step's name, else what changed). Returns whether
        a step was added (False: merged or no change)."""
        before = self.current
        if after == before:
            return False
        key = tuple(n for n in Adjustments.names() if getattr(after, n) != getattr(before, n))
        now = self._clock()
        merge = (label is None and self._open_key is not None and set(key) <= set(self._open_key)
                 and self._index > 0 and (self._gesture or now - self._last_time < COALESCE_SECONDS))
        self._last_time = now
        if merge:
            self._states[self._index] = after
            start = self._states[self._index - 1]
            if after == start:                              # dragged back to where it started
                del self._states[self._index]
                del self._labels[self._index]
                self._index -= 1
                self._open_key = None
            else:
                self._labels[self._index] = step_label(start, after)
            return False
        self._push(after, label or step_label(before, after))
        self._open_key = None if label is not None else key
        return True

    def _push(self, state: Adjustments, label: str) -> None:
        del self._states[self._index + 1:]                  # a new step drops what could be redone
        del self._labels[self._index + 1:]
        self._states.append(state)
        self._labels.append(label)
        if len(self._states) > LIMIT + 1:
            # The oldest step goes; the entry before it becomes the starting point.
            del self._states[0]
            del self._labels[0]
            self._labels[0] = ORIGINAL
        self._index = len(self._states) - 1

    def rebase(self, current: Adjustments) -> None:
        """The edit changed without being a step of the user's (Auto on open, a model's default T)."""
        self._states[self._index] = current

    # -- moving ----------------------------------------------------------------------------------
    def undo(self) -> Optional[Adjustments]:
        return self.go_to(self._index - 1) if self.can_undo() else self._sealed(None)

    def redo(self) -> Optional[Adjustments]:
        return self.go_to(self._index + 1) if self.can_redo() else self._sealed(None)

    def go_to(self, index: int) -> Optional[Adjustments]:
        """Stand at entry ``index`` (clicked in the list); the entries after it stay, to redo. None
        when ``index`` is not an entry."""
        self.seal()
        if not 0 <= index < len(self._states):
            return None
        self._index = index
        return self.current

    def _sealed(self, value):
        self.seal()
        return value

    # -- kept in the sidecar ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """What the sidecar keeps: the entries (name and settings) and where we stand."""
        return {"steps": [{"label": label, "settings": state.to_dict()}
                          for label, state in zip(self._labels, self._states)],
                "at": self._index}

    def load(self, data: Any, current: Adjustments) -> None:
        """Restore a history saved by ``to_dict``; ``current`` is the photo's saved edit.

        What cannot be read (another version's file, a hand-edited one) is left out: an unusable
        history restarts at ``current``, and a history that does not stand at ``current`` (the
        settings were changed by another program, or pasted from another photo without a history)
        gets ``current`` as a step of its own, so the photo always shows its saved edit."""
        self.restart(current)
        states, labels, at = _read_steps(data)
        if not states:
            return
        self._states, self._labels = states[-(LIMIT + 1):], labels[-(LIMIT + 1):]
        self._labels[0] = ORIGINAL
        self._index = min(max(at - (len(states) - len(self._states)), 0), len(self._states) - 1)
        if self.current != current:
            self._push(current, CHANGED_ELSEWHERE)


def _read_steps(data: Any) -> tuple[list[Adjustments], list[str], int]:
    """The usable entries of a saved history and where it stood (0, empty lists when unusable)."""
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        return [], [], 0
    at = data.get("at")
    at = at if isinstance(at, int) and not isinstance(at, bool) else len(data["steps"]) - 1
    states, labels = [], []
    for i, step in enumerate(data["steps"]):
        if not isinstance(step, dict) or not isinstance(step.get("settings"), dict):
            at -= i < at
            continue
        try:
            state = Adjustments.from_mapping(step["settings"])
        except ClodeError:
            at -= i < at
            continue
        label = step.get("label")
        states.append(state)
        labels.append(label[:80] if isinstance(label, str) and label else "Step")
    return states, labels, at
