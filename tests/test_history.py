"""Undo/redo of an edit without Qt: ``clode_desktop.rules.history.History`` with a fake clock."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clode.base.adjustments import Adjustments
from clode_desktop.rules.history import CHANGED_ELSEWHERE, COALESCE_SECONDS, LIMIT, History


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


# -- named steps, going back to one, and the copy kept in the sidecar ------------------------------

def test_steps_are_named_by_what_changed_and_go_to_walks_back_and_forth():
    clock = Clock()
    h = History(Adjustments(T=3.0), clock)
    h.record(Adjustments(T=4.25))
    clock.t += 5
    h.record(Adjustments(T=4.25, denoise=0.3))
    clock.t += 5
    h.record(Adjustments(), label="Reset to default")
    assert [label for label, _ in h.entries()] == ["Original", "Exposure (T) 4.25", "Denoiser 30 %",
                                                   "Reset to default"]
    assert h.go_to(1) == Adjustments(T=4.25) and h.index == 1 and h.can_redo()
    assert h.go_to(3) == Adjustments() and h.go_to(7) is None and h.index == 3
    h.go_to(0)
    h.record(Adjustments(T=1.0, neutral=True))       # a new step drops the steps that could be redone
    assert [label for label, _ in h.entries()] == ["Original", "Exposure (T), Neutral colours"]


def test_a_drag_renames_its_step_to_where_it_ended():
    h = History(Adjustments(T=3.0), Clock())
    h.begin()
    for T in (3.1, 3.5, 4.0):
        h.record(Adjustments(T=T))
    h.seal()
    assert h.entries()[-1][0] == "Exposure (T) 4.00"


def test_history_is_bounded_and_the_oldest_kept_state_becomes_the_original():
    clock = Clock()
    h = History(Adjustments(T=0.0), clock)
    for i in range(1, LIMIT + 30):
        clock.t += 5
        h.record(Adjustments(T=i / 100))
    assert len(h) == LIMIT and h.entries()[0] == ("Original", Adjustments(T=29 / 100))
    assert len(h.to_dict()["steps"]) == LIMIT + 1


def test_round_trip_through_a_dict_keeps_steps_names_and_position():
    clock = Clock()
    h = History(Adjustments(T=3.0), clock)
    for T in (3.5, 4.0, 4.5):
        clock.t += 5
        h.record(Adjustments(T=T))
    h.undo()
    data = json.loads(json.dumps(h.to_dict()))       # as the sidecar stores it
    again = History(Adjustments(), Clock())
    again.load(data, Adjustments(T=4.0))
    assert again.entries() == h.entries() and again.index == 2
    assert again.redo() == Adjustments(T=4.5) and again.undo() == Adjustments(T=4.0)


def test_a_history_not_standing_at_the_saved_settings_gets_them_as_a_step():
    h = History(Adjustments(T=3.0), Clock())
    h.record(Adjustments(T=4.0))
    again = History(Adjustments(), Clock())
    again.load(h.to_dict(), Adjustments(T=4.0, denoise=0.2))    # another program changed the denoiser
    assert again.entries()[-1] == (CHANGED_ELSEWHERE, Adjustments(T=4.0, denoise=0.2))
    assert again.undo() == Adjustments(T=4.0)


@pytest.mark.parametrize("data", [None, [], "steps", {"steps": "x"}, {"steps": []}, {"steps": [1, None]},
                                  {"steps": [{"settings": {"T": "NaN"}}]}, {"steps": [{"settings": {"T": 99}}]}])
def test_an_unusable_saved_history_restarts_at_the_saved_settings(data):
    h = History(Adjustments(), Clock())
    h.load(data, Adjustments(T=2.0))
    assert h.entries() == [("Original", Adjustments(T=2.0))] and not h.can_undo()


def test_bad_entries_are_left_out_and_the_position_follows():
    good = [{"label": "a", "settings": {"T": 1.0}}, {"label": "b", "settings": {"T": 2.0}},
            {"label": "c", "settings": {"T": 3.0}}]
    data = {"steps": [good[0], {"settings": {"T": float("inf")}}, good[1], "junk", good[2]], "at": 4}
    h = History(Adjustments(), Clock())
    h.load(data, Adjustments(T=3.0))
    assert [s.T for _, s in h.entries()] == [1.0, 2.0, 3.0] and h.index == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["T", "denoise", "neutral", "undo", "redo", "seal"]), max_size=40),
       st.integers(0, 5))
def test_any_sequence_round_trips_through_the_sidecar_form(ops, back):
    """Whatever was done, the saved form restores the same entries and position, bounded."""
    clock = Clock()
    h = History(Adjustments(), clock)
    for i, op in enumerate(ops):
        clock.t += 0.3
        if op in ("undo", "redo", "seal"):
            getattr(h, op)()
        elif op == "neutral":
            h.record(h.current.replace(neutral=not h.current.neutral))
        else:
            h.record(h.current.replace(**{op: round((i % 7) / 10, 2)}))
    h.go_to(max(h.index - back, 0))
    again = History(Adjustments(), Clock())
    again.load(json.loads(json.dumps(h.to_dict())), h.current)
    assert again.entries() == h.entries() and again.index == h.index and len(again) <= LIMIT


def test_a_paste_into_another_photo_is_a_step_of_its_saved_history(tmp_path, monkeypatch):
    from clode.io import sidecar
    from clode_desktop.rules.folder import paste_settings
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"never read")
    base = Adjustments(T=3.0)
    assert paste_settings([photo], Adjustments(T=4.5, denoise=0.2), ["T"], base) == []
    assert paste_settings([photo], Adjustments(T=1.0, denoise=0.2), ["denoise"], base) == []
    saved = sidecar.load(photo)
    h = History(Adjustments(), Clock())
    h.load(saved.history, saved.adjustments(base))
    assert h.entries() == [("Original", base), ("Pasted Exposure (T)", Adjustments(T=4.5)),
                           ("Pasted Denoiser", Adjustments(T=4.5, denoise=0.2))]
    assert h.undo() == Adjustments(T=4.5)            # opening it, Ctrl+Z undoes the last paste
