"""Undo/redo of an edit without Qt: ``clode_desktop.history.History`` with a fake clock."""

from clode.adjustments import Adjustments
from clode_desktop.history import COALESCE_SECONDS, History


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_a_drag_is_one_step_and_undo_redo_walk_through_it():
    clock = Clock()
    h = History(Adjustments(T=3.0), clock)
    h.begin()                                       # the dial is pressed
    for i, T in enumerate((3.1, 3.3, 3.6, 4.0)):
        clock.t = i * 5.0                           # slow drag: still one step while pressed
        h.record(Adjustments(T=T))
    h.seal()                                        # released
    assert len(h) == 1
    h.record(Adjustments(T=4.0, denoise=0.5))
    assert h.undo() == Adjustments(T=4.0)
    assert h.undo() == Adjustments(T=3.0) and h.undo() is None
    assert h.redo() == Adjustments(T=4.0)
    assert h.redo() == Adjustments(T=4.0, denoise=0.5) and h.redo() is None


def test_quick_key_steps_coalesce_slow_ones_do_not():
    clock = Clock()
    h = History(Adjustments(T=3.0), clock)
    for T in (3.05, 3.1, 3.15):
        clock.t += 0.2
        h.record(Adjustments(T=T))
    assert len(h) == 1
    clock.t += COALESCE_SECONDS + 0.1
    h.record(Adjustments(T=3.2))
    assert len(h) == 2
    h.record(Adjustments(T=3.2, neutral=True))      # another setting: a step of its own
    assert len(h) == 3


def test_no_change_and_a_drag_back_to_the_start_record_nothing():
    h = History(Adjustments(), Clock())
    assert not h.record(Adjustments())
    h.begin()
    h.record(Adjustments(T=4.0))
    h.record(Adjustments(T=3.0))
    h.seal()
    assert len(h) == 0 and not h.can_undo()


def test_rebase_changes_the_current_state_without_a_step():
    h = History(Adjustments(), Clock())
    h.rebase(Adjustments(T=1.7))                    # Auto on open
    assert not h.can_undo() and h.current.T == 1.7
