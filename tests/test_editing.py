"""The editing rules without widgets or threads: ``clode_desktop.rules.editing.Editing`` driven synchronously."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from clode.io import sidecar
from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_T, Adjustments
from clode.base.errors import ClodeError
from clode_desktop.rules.editing import PREPARE, RENDER, WAIT, Editing


@dataclass
class FakeOpened:                 # what the engine's decode hands over (only the path matters here)
    path: Path


@dataclass
class FakeRender:
    path: Path
    adjustments: Adjustments
    draft: bool = False
    seconds: float = 0.05


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "night.jpg"
    path.write_bytes(b"not read here")
    return path


def opened(photo, saved=None, start_at_auto=False, default_T=2.5):
    e = Editing()
    e.model_loading_started()
    e.model_loaded(default_T)
    opening = e.open(photo, saved, start_at_auto)
    assert e.decoded(FakeOpened(photo))
    return e, opening


def test_open_without_sidecar_starts_at_the_models_default(photo):
    e, opening = opened(photo)
    assert opening.adjustments == Adjustments(T=2.5) and not opening.auto and opening.warning == ""
    assert e.adjustments.colour_noise == DEFAULT_COLOUR_NOISE and e.can_edit


def test_open_restores_saved_settings(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))
    sidecar.save_settings(photo, {"T": 4.25, "denoise": 0.4, "colour_noise": 0.0})
    e, opening = opened(photo, sidecar.load(photo), start_at_auto=True)
    assert opening.adjustments == Adjustments(T=4.25, denoise=0.4, colour_noise=0.0)
    assert not opening.auto                       # a saved T wins over Auto on open


@pytest.mark.parametrize("bad", ['"abc"', "NaN", "null", "-1", "[1]"])
def test_damaged_sidecar_value_falls_back_to_the_default_with_a_warning(photo, tmp_path, monkeypatch, bad):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))
    sidecar.sidecar_path(photo).write_text('{"settings": {"T": 2.0, "colour_noise": %s}}' % bad)
    e, opening = opened(photo, sidecar.load(photo))
    assert opening.adjustments == Adjustments(T=2.0, colour_noise=DEFAULT_COLOUR_NOISE)
    assert "colour noise" in opening.warning and photo.name in opening.warning
    assert e.render_request() == PREPARE           # editing goes on


def test_adjustments_validate_and_fill_defaults():
    assert Adjustments() == Adjustments(T=DEFAULT_T, denoise=1.0, colour_noise=0.5)
    assert Adjustments.from_mapping({"T": "1.5", "other": 1}) == Adjustments(T=1.5)
    with pytest.raises(ClodeError, match="colour noise"):
        Adjustments.from_mapping({"colour_noise": float("nan")})
    problems = []
    assert Adjustments.from_mapping({"denoise": -2, "T": True}, Adjustments(T=1.0), problems.append) == Adjustments(T=1.0)
    assert len(problems) == 2
    assert Adjustments(T=1.23456).provenance("m") == {"T": 1.235, "denoise": 1.0, "colour_noise": 0.5,
                                                       "neutral": False, "protect": 0.0, "model": "m"}
    with pytest.raises(Exception):
        Adjustments().T = 2.0                      # frozen


def test_passes_then_render_then_auto_on_open(photo):
    e, opening = opened(photo, start_at_auto=True)
    assert opening.auto
    assert e.render_request() == PREPARE
    e.prepare_started()
    assert e.render_request() == WAIT
    assert not e.pass_done(last=False)             # the quick pass: Auto waits for the final curves
    assert e.render_request() == RENDER and e.preparing
    assert e.auto_provisional(0.25, photo) == 0.25 and e.adjustments.T == 0.25   # shown meanwhile
    assert e.auto_on_open and e.sidecar_due() is None and not e.history.can_undo()
    assert e.pass_done(last=True)                  # final curves: Auto is due
    assert e.auto_done(3.75, photo, remember=False) == 3.75 and e.adjustments.T == 3.75
    assert e.sidecar_due() is None                 # Auto on open is not an edit: viewing writes nothing


def test_the_users_T_cancels_auto_on_open_but_noise_reduction_does_not(photo):
    e, _ = opened(photo, start_at_auto=True)
    e.edit(denoise=0.5)
    assert e.auto_on_open
    e.edit(T=1.5)
    assert not e.auto_on_open
    assert e.auto_done(3.75, photo, remember=False) is None and e.adjustments.T == 1.5
    assert e.auto_provisional(3.75, photo) is None and e.adjustments.T == 1.5
    assert e.auto_done(3.75, photo, remember=True) == 3.75   # the Auto button: applied as an edit


def test_auto_result_for_another_photo_is_dropped(photo, tmp_path):
    e, _ = opened(photo, start_at_auto=True)
    other = tmp_path / "other.jpg"
    e.open(other, None, True)
    assert e.auto_done(3.0, photo, remember=False) is None
    assert e.auto_provisional(3.0, photo) is None


def test_stale_results_are_dropped(photo, tmp_path):
    e, _ = opened(photo)
    e.prepare_started()
    e.pass_done(last=True)
    assert e.render_done(FakeRender(photo, e.adjustments)) is True          # shown; no detail yet
    e.open(tmp_path / "next.jpg", None, False)
    assert e.render_done(FakeRender(photo, e.adjustments)) is None          # the old photo's
    assert not e.decoded(FakeOpened(photo))                                 # a late decode too
    assert e.open_failed(photo) is False


def test_detail_is_current_only_for_the_settings_shown(photo):
    e, _ = opened(photo)
    shown = e.adjustments
    assert e.detail_done(FakeRender(photo, shown))
    assert e.render_done(FakeRender(photo, shown)) is False    # the detail still matches
    e.edit(T=shown.T + 1)
    assert not e.detail_done(FakeRender(photo, shown))          # rendered for the old T
    e.edit(colour_noise=0.0)
    assert e.detail_key is None


def test_drafts_only_when_full_renders_are_slow(photo):
    e, _ = opened(photo)
    e.render_done(FakeRender(photo, e.adjustments, seconds=0.05))
    assert not e.wants_drafts
    e.render_done(FakeRender(photo, e.adjustments, seconds=1.0))
    assert e.wants_drafts
    e.render_done(FakeRender(photo, e.adjustments, draft=True, seconds=0.01))
    assert e.wants_drafts                                        # drafts do not count


def test_sidecar_is_due_once_after_an_edit(photo):
    e, _ = opened(photo)
    assert e.sidecar_due("m") is None
    assert e.edit(T=1.0)
    assert e.sidecar_due("m") == {"T": 1.0, "denoise": 1.0, "colour_noise": 0.5, "neutral": False, "protect": 0.0,
                                  "local": [], "model": "m"}
    assert e.sidecar_due("m") is None
    fresh = Editing()
    assert not fresh.edit(T=1.0) and fresh.sidecar_due() is None   # nothing open: nothing to save


def test_model_switch_keeps_the_users_T(photo):
    e, _ = opened(photo)
    e.edit(T=1.25)
    e.model_loading_started()
    assert e.render_request() == WAIT
    assert e.model_loaded(4.0)                   # the open photo is prepared again
    assert e.adjustments.T == 1.25
    e.sidecar_due()                              # saved: the sidecar says 1.25 ...
    e.model_loaded(4.0)
    assert e.adjustments.T == 1.25               # ... and so does the editor after another model switch
    assert not Editing().model_failed(still_working=False)


def test_model_switch_keeps_a_saved_T_and_moves_a_photo_without_one(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))
    sidecar.save_settings(photo, {"T": 0.82})
    e, _ = opened(photo, sidecar.load(photo))
    e.model_loaded(3.0)                          # "Use in the editor" of a fine-tuned model
    assert e.adjustments.T == 0.82
    other = tmp_path / "plain.jpg"
    e.open(other, None, False)
    e.decoded(FakeOpened(other))
    assert e.adjustments.T == 3.0                # the new model's default
    e.model_loaded(4.0)
    assert e.adjustments.T == 4.0 and not e.history.can_undo()   # the model's default, not an edit


def test_prepare_cancelled_overlay(photo):
    e, _ = opened(photo)
    e.prepare_started()
    assert e.prepare_cancelled() == "Cancelled: move the dial to prepare again"
    e.prepare_started()
    e.pass_done(last=False)
    assert e.prepare_cancelled() == ""


def test_undo_redo_every_setting_and_reset(photo):
    e, _ = opened(photo)
    start = e.adjustments
    e.edit(T=1.0)
    e.history.seal()
    e.edit(denoise=0.3)
    e.edit(colour_noise=0.0)
    e.edit(neutral=True)
    assert e.reset_to_default()
    assert e.adjustments == Adjustments(T=2.5)
    assert e.undo().neutral and e.adjustments.colour_noise == 0.0
    assert e.undo() == Adjustments(T=1.0, denoise=0.3, colour_noise=0.0)
    assert e.undo() == Adjustments(T=1.0, denoise=0.3)
    assert e.undo() == Adjustments(T=1.0)
    assert e.undo() == start and e.undo() is None
    assert e.redo() == Adjustments(T=1.0) and e.dirty
    e.edit(T=2.0)                                  # a new step drops the redo
    assert e.redo() is None


def test_a_failed_open_gives_back_the_open_photo(photo, tmp_path):
    e, _ = opened(photo)
    e.prepare_started()
    e.pass_done(last=True)
    e.edit(T=1.5)
    e.sidecar_due()
    broken = tmp_path / "broken.jpg"
    e.open(broken, None, False)
    assert e.open_failed(broken)
    assert e.path == photo and e.opened is not None and e.adjustments.T == 1.5 and e.prepared
    assert e.undo().T == 2.5                       # its history too
    fresh = Editing()
    fresh.open(broken, None, False)
    assert fresh.open_failed(broken) and fresh.path is None and fresh.opened is None


def test_the_history_goes_to_the_sidecar_and_comes_back_with_the_photo(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    e, _ = opened(photo)
    e.edit(T=1.5)
    e.history.seal()
    e.apply(Adjustments(T=2.5), "Reset to default")
    sidecar.save_settings(photo, e.sidecar_due("m"), e.history.to_dict())    # as the window saves it
    other, _ = opened(tmp_path / "other.jpg")                                  # another photo, another editor
    again, _ = opened(photo, sidecar.load(photo))
    assert [label for label, _ in again.history.entries()] == ["Original", "Exposure (T) 1.50", "Reset to default"]
    assert again.undo() == Adjustments(T=1.5) and again.dirty
    assert again.go_to(0) == Adjustments(T=2.5) and again.go_to(2) == Adjustments(T=2.5)
    assert not other.history.can_undo()


def test_only_a_T_set_by_hand_away_from_auto_is_a_choice_for_the_taste(photo, tmp_path):
    """Issue 28: Auto left untouched teaches nothing; the dial moved away and left is a choice; back at
    Auto it is not; a reading of another photo is stale; a new photo starts with nothing read."""
    e, _ = opened(photo, start_at_auto=True)
    reading = object()                                   # Auto's reading: opaque to the editor
    assert not e.auto_read(tmp_path / "other.jpg", reading, 2.0)
    assert e.auto_read(photo, reading, 2.0)
    assert e.auto_done(2.0, photo, remember=False) == 2.0
    assert e.taste_choice() is None                      # opened at Auto, left there
    e.edit(denoise=0.5)
    assert e.taste_choice() is None                      # the noise reduction is not an exposure choice
    e.edit(T=3.1)
    assert e.taste_choice() == (reading, 3.1, True)
    e.edit(T=2.0)                                        # back at Auto's T
    assert e.taste_choice() == (reading, 2.0, False)
    e.open(tmp_path / "next.jpg", None, True)
    assert e.auto_reading is None and e.taste_choice() is None
