"""Per-photo settings sidecars: beside the photo, or in the user data dir when that fails."""

import json
import os

import pytest

from clode import sidecar
from clode.errors import ClodeError


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
    assert not data_dir.exists()
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
