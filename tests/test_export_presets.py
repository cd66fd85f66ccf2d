"""Export presets, the long-edge resize (one function for the app and the CLI) and the one set of
export defaults (issue 26)."""

import datetime
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from clode.base.errors import ClodeError, ImageWriteError
from clode.io.export import DEFAULT_QUALITY, ExportOptions, save_image
from clode.io.export_presets import (BUILT_IN, DEFAULT_FOLDER, ExportPreset, expand_folder, folder_template,
                                  presets_from_json, presets_to_json, with_preset)
from clode.base.pixels import fit_long_edge
from conftest import ROOT


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), side=st.integers(1, 120), uint8=st.booleans())
def test_long_edge_shrinks_never_enlarges_and_keeps_the_range(h, w, side, uint8):
    rng = np.random.default_rng(h * 1000 + w)
    img = rng.random((h, w, 3), dtype=np.float32)
    if uint8:
        img = (img * 255).astype(np.uint8)
    out = fit_long_edge(img, side)
    if max(h, w) <= side:
        assert out is img
        return
    assert max(out.shape[:2]) == side and out.dtype == np.float32
    # the short side is the exact one rounded, and never below one pixel (a 1 x 3 strip at 1 px is 1 x 1)
    exact = min(h, w) * side / max(h, w)
    short = min(out.shape[:2])
    assert abs(short - exact) <= 0.5 + 1e-9 or (short == 1 and exact < 1), (out.shape, exact)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_long_edge_filter_keeps_flat_areas_and_averages_detail():
    flat = np.full((300, 400, 3), 0.25, np.float32)
    assert np.allclose(fit_long_edge(flat, 100), 0.25, atol=1e-5)
    stripes = np.zeros((300, 400, 3), np.float32)
    stripes[:, ::2] = 1.0                           # finer than the new pixels: averaged, not aliased
    small = fit_long_edge(stripes, 100)
    assert abs(small.mean() - 0.5) < 0.01 and small.std() < 0.05


def test_save_image_at_a_long_edge(tmp_path):
    img = np.random.default_rng(0).random((60, 90, 3), dtype=np.float32)
    path = save_image(tmp_path / "a.jpg", img, options=ExportOptions(long_edge=30))
    with Image.open(path) as im:
        assert im.size == (30, 20)
    path = save_image(tmp_path / "b.png", img, options=ExportOptions(long_edge=200, bits=16))
    with Image.open(path) as im:
        assert im.size == (90, 60)                  # never enlarged
    with pytest.raises(ImageWriteError, match="long edge"):
        save_image(tmp_path / "c.jpg", img, options=ExportOptions(long_edge=0))


def test_one_definition_of_the_export_defaults():
    assert ExportOptions().quality == DEFAULT_QUALITY == ExportPreset("x").quality
    # the app's settings and dialogs and the CLI take it from there: no number of their own
    import clode_desktop.dialogs.batch_dialog
    import clode_desktop.dialogs.export_dialog
    import clode_desktop.dialogs.export_form
    import clode_desktop.base.settings
    from clode.commands import batch as batch_command
    for module in (clode_desktop.base.settings, clode_desktop.dialogs.export_dialog, clode_desktop.dialogs.batch_dialog,
                   clode_desktop.dialogs.export_form, batch_command):
        assert "92" not in open(module.__file__).read(), module.__name__


def test_presets_round_trip_and_a_damaged_list_is_left_out():
    mine = ExportPreset("Print", format="tiff", bits=16, long_edge=4000, folder="{folder}/print/{date}")
    text = presets_to_json(with_preset(list(BUILT_IN[:1]), mine))
    assert presets_from_json(text) == [BUILT_IN[0], mine]
    assert presets_from_json(presets_to_json([mine, ExportPreset("Print", quality=50)]))[-1].quality == 50
    assert with_preset([mine], ExportPreset("Print"))[0] == ExportPreset("Print")
    bad = json.dumps([{"name": "ok"}, {"name": "q", "quality": 0}, {"name": ""}, {"name": "f", "format": "gif"},
                      {"name": "e", "long_edge": -3}, {"name": "t", "folder": "{nope}"}, "text", {"quality": 80}])
    assert [p.name for p in presets_from_json(bad)] == ["ok"]
    assert presets_from_json("not json") == [] and presets_from_json(None) == []
    assert mine.options() == ExportOptions(format="tiff", bits=16, long_edge=4000)
    assert ExportPreset("x", bits=16).options().bits == 8       # JPEG holds 8


def test_folder_templates(tmp_path):
    day = datetime.date(2026, 12, 4)
    assert expand_folder(DEFAULT_FOLDER, tmp_path) == tmp_path / "clode"
    assert expand_folder("{folder}/web/{date}", tmp_path, day) == tmp_path / "web" / "2026-12-04"
    assert expand_folder("out", tmp_path) == tmp_path / "out"
    assert expand_folder(str(tmp_path / "elsewhere"), tmp_path / "x") == tmp_path / "elsewhere"
    with pytest.raises(ClodeError, match="unknown field"):
        expand_folder("{stem}", tmp_path)
    assert folder_template(tmp_path / "web", tmp_path) == "{folder}/web"
    assert folder_template(tmp_path, tmp_path) == "{folder}"
    assert folder_template(tmp_path / "b", tmp_path / "a") == str(tmp_path / "b")
    assert expand_folder(folder_template(tmp_path / "web", tmp_path), tmp_path / "next") == tmp_path / "next" / "web"


def test_cli_long_edge(tmp_path, fixture_model_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((40, 60, 3)) * 60).astype(np.uint8)).save(src / "a.jpg")

    def clode(*args):
        return subprocess.run([sys.executable, "-m", "clode", *map(str, args), "--model", fixture_model_path,
                               "--device", "cpu", "--solver", "rk4:1.0"],
                              capture_output=True, text=True, cwd=ROOT, timeout=240)
    r = clode("enhance", src / "a.jpg", "-o", tmp_path / "e", "--long-edge", 30)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "e" / "a.jpg") as im:
        assert im.size == (30, 20)
    r = clode("batch", src, "-o", tmp_path / "b", "--long-edge", 24)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "b" / "a_clode.jpg") as im:
        assert im.size == (24, 16)
    assert "long edge=24 px" in next((tmp_path / "b").glob("clode-batch*")).read_text()
    r = clode("enhance", src / "a.jpg", "-o", tmp_path / "x", "--long-edge", "big")
    assert r.returncode != 0 and "Traceback" not in r.stderr and "--long-edge" in r.stderr
