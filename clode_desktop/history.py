"""Undo and redo of one photo's edit, without Qt: a list of ``Adjustments`` and where we stand in it.

Every change of the edit is one step, except that changes of the same setting coalesce while a
gesture is open (a dial or slider drag, from press to release) or follow each other quickly (arrow
keys on the dial): a drag is undone in one step. ``seal()`` ends the coalescing (the window calls it
on release, and before Auto, Reset or a paste, which are steps of their own).
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from clode.adjustments import Adjustments

#: Changes of the same setting closer than this (seconds) are one step, even without a gesture.
COALESCE_SECONDS = 1.0
#: Steps kept per photo.
LIMIT = 200


class History:
    def __init__(self, current: Adjustments = Adjustments(), clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.restart(current)

    def restart(self, current: Adjustments) -> None:
        """A new photo (or its settings were loaded): nothing to undo."""
        self._states = [current]
        self._index = 0
        self._open_key: Optional[tuple] = None    # the setting(s) the top step may still absorb
        self._last_time = -float("inf")
        self._gesture = False

    @property
    def current(self) -> Adjustments:
        return self._states[self._index]

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._states) - 1

    def __len__(self) -> int:
        """The number of steps recorded (undoable or redoable)."""
        return len(self._states) - 1

    # -- recording -----------------------------------------------------------------------------
    def begin(self) -> None:
        """A gesture starts (the dial or a slider is pressed): its changes are one step."""
        self.seal()
        self._gesture = True

    def seal(self) -> None:
        """The next change starts a new step."""
        self._open_key = None
        self._gesture = False

    def record(self, after: Adjustments) -> bool:
        """The edit became ``after``. Returns whether a step was added (False: merged or no change)."""
        before = self.current
        if after == before:
            return False
        key = tuple(n for n in Adjustments.names() if getattr(after, n) != getattr(before, n))
        now = self._clock()
        merge = (self._open_key is not None and set(key) <= set(self._open_key) and self._index > 0
                 and (self._gesture or now - self._last_time < COALESCE_SECONDS))
        self._last_time = now
        if merge:
            self._states[self._index] = after
            if after == self._states[self._index - 1]:      # dragged back to where it started
                del self._states[self._index]
                self._index -= 1
                self._open_key = None
            return False
        del self._states[self._index + 1:]                  # a new step drops what could be redone
        self._states.append(after)
        if len(self._states) > LIMIT + 1:
            del self._states[0]
        self._index = len(self._states) - 1
        self._open_key = key
        return True

    def rebase(self, current: Adjustments) -> None:
        """The edit changed without being a step of the user's (Auto on open, a model's default T)."""
        self._states[self._index] = current

    # -- moving ----------------------------------------------------------------------------------
    def undo(self) -> Optional[Adjustments]:
        self.seal()
        if not self.can_undo():
            return None
        self._index -= 1
        return self.current

    def redo(self) -> Optional[Adjustments]:
        self.seal()
        if not self.can_redo():
            return None
        self._index += 1
        return self.current
