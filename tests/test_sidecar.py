"""Per-photo settings sidecars: beside the photo, or in the user data dir when that fails."""

import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clode.io import sidecar
from clode.base.local_exposure import Layer
from clode.base.adjustments import MAX_T, Adjustments, check_T
from clode.base.errors import ClodeError


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    return tmp_path / "userdata" / "sidecars"


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photos" / "IMG 0001.JPG"
    p.parent.mkdir()
    p.write_bytes(b"not really a jpeg, never read")
    return p


def test_round_trip_beside_the_photo(photo, data_dir):
    assert sidecar.load_settings(photo) is None
    where = sidecar.save_settings(photo, {"T": 2.25, "denoise": 0.5, "model": "default"})
    assert where == photo.parent / "IMG 0001.JPG.clode.json"
    assert json.loads(where.read_text())["settings"]["T"] == 2.25
    assert sidecar.load_settings(photo) == {"T": 2.25, "denoise": 0.5, "model": "default"}
    assert photo.read_bytes() == b"not really a jpeg, never read"
    assert not list(data_dir.glob("*" + sidecar.SUFFIX))   # (the data dir holds only the save lock)
    # no temporary files left behind
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG 0001.JPG", "IMG 0001.JPG.clode.json"]


def test_overwrite_keeps_the_newest(photo, data_dir):
    sidecar.save_settings(photo, {"T": 1.0})
    sidecar.save_settings(photo, {"T": -1.5})
    assert sidecar.load_settings(photo)["T"] == -1.5


def test_falls_back_to_user_data_dir_when_beside_fails(photo, data_dir):
    # A folder where the sidecar file should be makes the write fail for real (even as root).
    sidecar.sidecar_path(photo).mkdir()
    where = sidecar.save_settings(photo, {"T": 4.5})
    assert where.parent == data_dir and where.name.endswith("IMG 0001.JPG.clode.json")
    assert sidecar.load_settings(photo) == {"T": 4.5}


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(photo, data_dir):
    sidecar.save_settings(photo, {"T": 1.0})
    os.chmod(photo.parent, 0o555)
    try:
        where = sidecar.save_settings(photo, {"T": 2.0})
        assert where.parent == data_dir
        assert sidecar.load_settings(photo)["T"] == 2.0  # the newer of the two wins
    finally:
        os.chmod(photo.parent, 0o755)


def test_different_folders_same_name_do_not_collide(tmp_path, data_dir):
    assert sidecar.fallback_path(tmp_path / "a" / "x.jpg") != sidecar.fallback_path(tmp_path / "b" / "x.jpg")


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"settings": 3}'])
def test_damaged_sidecar_is_ignored(photo, data_dir, content):
    sidecar.sidecar_path(photo).write_text(content)
    assert sidecar.load_settings(photo) is None


def test_bad_numbers_are_dropped(photo, data_dir):
    sidecar.sidecar_path(photo).write_text(json.dumps({"settings": {"T": "NaN", "denoise": "0.3", "x": 1}}))
    assert sidecar.load_settings(photo) == {"denoise": 0.3, "x": 1}


def test_nowhere_to_write_is_one_clear_error(photo, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    monkeypatch.setenv("CLODE_DATA_DIR", str(blocker / "sub"))
    sidecar.sidecar_path(photo).mkdir()
    with pytest.raises(ClodeError, match="cannot save its settings"):
        sidecar.save_settings(photo, {"T": 1.0})


def test_edit_history_is_optional_kept_and_older_sidecars_still_load(photo, data_dir):
    """The app keeps each photo's undo steps in its sidecar: an older sidecar (no history) loads as
    before; a save that gives no history (the command line, a paste) keeps the one there."""
    # a sidecar as the previous version wrote it
    sidecar.sidecar_path(photo).write_text(json.dumps({"format": "clode-sidecar", "version": 1, "photo": photo.name,
                                                       "settings": {"T": 2.0}}))
    saved = sidecar.load(photo)
    assert saved.settings == {"T": 2.0} and saved.history is None
    history = {"steps": [{"label": "Original", "settings": {"T": 3.0}}, {"label": "x", "settings": {"T": 2.0}}],
               "at": 1}
    sidecar.save_settings(photo, {"T": 2.0}, history)
    assert sidecar.load(photo).history == history
    sidecar.save_settings(photo, {"T": 2.5})
    assert sidecar.load(photo).history == history and sidecar.load_settings(photo) == {"T": 2.5}
    # a history that is not an object is ignored, the settings still load
    data = json.loads(sidecar.sidecar_path(photo).read_text())
    data["history"] = [1, 2]
    sidecar.sidecar_path(photo).write_text(json.dumps(data))
    assert sidecar.load(photo).history is None and sidecar.load_settings(photo) == {"T": 2.5}


# ----------------------------------------------------------------------------------------------
# issue 29: damaged as a whole warns; concurrent pastes keep every update; the newer save wins by
# its revision, not its mtime

WHOLE_DAMAGE = {
    "invalid JSON": lambda p: p.write_text("{not json"),
    "deep nesting": lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
    "5000-digit integer": lambda p: p.write_text('{"T": ' + "7" * 5000 + "}"),
    "top-level list": lambda p: p.write_text("[1, 2]"),
    "settings not an object": lambda p: p.write_text('{"settings": 3}'),
    "over 1 MB": lambda p: p.write_text('{"T": 1, "pad": "' + "x" * (sidecar.MAX_BYTES + 10) + '"}'),
    "FIFO": lambda p: os.mkfifo(p),
    "folder": lambda p: p.mkdir(),
    "empty": lambda p: p.write_text(""),
}


@pytest.mark.parametrize("damage", sorted(WHOLE_DAMAGE))
def test_sidecar_damaged_as_a_whole_warns(photo, data_dir, damage):
    if damage == "FIFO" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    WHOLE_DAMAGE[damage](sidecar.sidecar_path(photo))
    saved = sidecar.load(photo)
    assert saved is not None and saved.settings == {}
    warning = saved.warning()
    assert "damaged sidecar" in warning and "\n" not in warning and len(warning) < 300, warning
    assert saved.adjustments() == sidecar.Adjustments()
    assert sidecar.load_settings(photo) is None


def test_byte_order_mark_is_read(photo, data_dir):
    sidecar.sidecar_path(photo).write_bytes(b"\xef\xbb\xbf" + json.dumps({"settings": {"T": 1.5}}).encode())
    assert sidecar.load_settings(photo) == {"T": 1.5}


def test_a_usable_sidecar_wins_over_a_damaged_one(photo, data_dir):
    sidecar.sidecar_path(photo).mkdir()
    sidecar.save_settings(photo, {"T": 2.0})   # to the user data dir
    assert sidecar.load_settings(photo) == {"T": 2.0}


def test_newer_save_wins_by_revision_not_mtime(photo, data_dir, monkeypatch):
    """A card's sidecar with a future mtime must not hide a newer edit saved in the fallback folder."""
    beside = sidecar.sidecar_path(photo)
    sidecar.save_settings(photo, {"T": 1.0})
    future = beside.stat().st_mtime + 10 * 365 * 86400
    os.utime(beside, (future, future))
    real_write = sidecar.write_text

    def read_only_card(path, text):
        if path == beside:
            raise PermissionError(13, "Read-only file system")
        return real_write(path, text)

    monkeypatch.setattr(sidecar, "write_text", read_only_card)
    where = sidecar.save_settings(photo, {"T": 2.5})
    assert where.parent == data_dir
    assert sidecar.load_settings(photo) == {"T": 2.5}
    sidecar.update_settings(photo, {"denoise": 0.5})
    assert sidecar.load_settings(photo) == {"T": 2.5, "denoise": 0.5}


def _paste_many(photo: str, data_dir: str, tag: str, count: int) -> None:
    os.environ["CLODE_DATA_DIR"] = data_dir
    for i in range(count):
        sidecar.update_settings(photo, {f"{tag}{i}": i})


def test_two_processes_pasting_keep_every_update(photo, data_dir):
    import multiprocessing

    count = 120
    ctx = multiprocessing.get_context("spawn")
    userdata = str(data_dir.parent)
    workers = [ctx.Process(target=_paste_many, args=(str(photo), userdata, tag, count)) for tag in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=240)
        assert w.exitcode == 0
    settings = sidecar.load_settings(photo)
    lost = [f"{tag}{i}" for tag in "ab" for i in range(count) if f"{tag}{i}" not in settings]
    assert lost == []
    assert sidecar.load(photo).revision == 2 * count


def _json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=12)


def _sidecar_documents():
    keys = st.sampled_from(list(Adjustments.names()) + ["model", "revision", "settings", "x"])
    settings = st.dictionaries(keys, _json_values(), max_size=6)
    return st.one_of(
        _json_values().map(json.dumps),
        settings.map(json.dumps),
        st.tuples(settings, _json_values()).map(lambda p: json.dumps({"settings": p[0], "revision": p[1]})),
        st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_sidecar_documents())
def test_any_sidecar_content_loads_to_sane_settings(photo, data_dir, text):
    sidecar.sidecar_path(photo).write_text(text, encoding="utf-8", errors="surrogateescape")
    saved = sidecar.load(photo)       # never raises
    assert saved is not None
    adjustments = saved.adjustments()  # usable values only: every one within its limits
    for name in Adjustments.names():
        value = getattr(adjustments, name)
        if name == "local":             # local exposure layers: checked values, or none
            assert isinstance(value, tuple) and all(isinstance(layer, Layer) for layer in value)
            continue
        assert isinstance(value, (int, float)) and math.isfinite(value)
        Adjustments.limits(name).check(name, value) if name != "T" else check_T(value, MAX_T)
    assert "\n" not in saved.warning()
    assert isinstance(saved.revision, int) and saved.revision >= 0
