"""Highlight protection (clode.engine.highlights): a shorter end time for what is already near white,
the same in the fast and the exact path, monotonic, a setting of the edit like the others."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from clode import Enhancer
from clode.engine import highlights
from clode.base.adjustments import Adjustments
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.io.sidecar import load_settings, save_settings


def lamp_scene(h: int = 40, w: int = 56, seed: int = 0) -> np.ndarray:
    """A dark room (0.03-0.15 sRGB) with a bright lamp (0.9) in its upper left."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = (0.03 + 0.12 * xx / w)[..., None] * np.array([1.0, 0.85, 0.7], np.float32)
    lamp = np.hypot(yy - h / 4, xx - w / 4) < h / 6
    img[lamp] = [0.92, 0.85, 0.7]
    img += rng.normal(0, 0.005, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


def test_the_map_shortens_only_highlights_and_only_when_brightening():
    proxy = torch.from_numpy(lamp_scene()).permute(2, 0, 1)[None]
    t = highlights.end_times(proxy, 3.0, 1.0)
    lamp = proxy[0].amax(0) >= highlights.HIGH
    shadow = proxy[0].amax(0) <= highlights.LOW
    assert t[lamp].abs().max() < 1e-9 and (t[shadow] - 3.0).abs().max() < 1e-9
    half = highlights.end_times(proxy, 3.0, 0.5)
    assert torch.all(half <= 3.0) and torch.all(half >= t) and (half[lamp] - 1.5).abs().max() < 1e-9
    assert torch.all(highlights.end_times(proxy, -1.0, 1.0) == -1.0)      # darkening: untouched


def test_at_times_interpolates_each_pixel_in_time():
    times = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    field = torch.stack([torch.full((2, 2, 3), v) for v in (0.0, 10.0, 30.0)])
    t_map = torch.tensor([[0.0, 0.5], [1.5, 2.0]], dtype=torch.float64)
    out = highlights.at_times(times, field, t_map)
    assert out[..., 0].tolist() == [[0.0, 5.0], [20.0, 30.0]]


def test_protection_darkens_the_lamp_keeps_the_shadows_and_is_monotonic(enhancer):
    img = lamp_scene()
    s = enhancer.prepare(img, t_range=(0.0, 2.0))
    lamp = img.max(-1) >= highlights.HIGH
    shadow = img.max(-1) <= highlights.LOW - 0.05
    outs = [s.render(2.0, Finish(denoise=0, protect=p)) for p in (0.0, 0.25, 0.5, 1.0)]
    for a, b in zip(outs, outs[1:]):
        assert np.all(b <= a + 1e-6)                                   # more protection never brightens
    assert outs[-1][lamp].mean() < outs[0][lamp].mean() - 0.01
    # the map is bilinear on the proxy: shadows away from the lamp keep their brightness exactly
    far = shadow & (np.arange(img.shape[1])[None, :] > img.shape[1] // 2)
    np.testing.assert_allclose(outs[-1][far], outs[0][far], atol=1e-6)
    assert np.abs(outs[-1][lamp] - img[lamp]).max() < 0.02            # 100 %: the lamp as photographed


def test_fast_and_exact_paths_agree_with_protection(enhancer):
    img = lamp_scene(24, 32)          # smaller than the proxy: the fast path is the exact solve
    for p in (0.5, 1.0):
        fast = enhancer.enhance(img, 2.0, Finish(protect=p, denoise=0))
        exact = enhancer.enhance(img, 2.0, Finish(protect=p, denoise=0), mode="exact")
        assert np.abs(fast - exact).max() <= 5e-3
        assert np.abs(fast - enhancer.enhance(img, 2.0, Finish(denoise=0))).max() > 0.02


def test_protect_is_an_edit_setting_checked_and_saved_in_the_sidecar(tmp_path):
    a = Adjustments(T=2.5, protect=0.4)
    assert a.finish.protect == 0.4 and a.provenance()["protect"] == 0.4
    for bad in (-0.1, 1.5, float("nan"), "x", True):
        with pytest.raises(ClodeError, match="protect"):
            Adjustments.from_mapping({"protect": bad})
    photo = tmp_path / "night.png"
    Image.fromarray((lamp_scene() * 255).astype(np.uint8)).save(photo)
    save_settings(photo, a.to_dict())
    assert Adjustments.from_mapping(load_settings(photo)).protect == 0.4


def test_cli_and_batch_take_protect(tmp_path, fixture_model_path):
    photo_dir = tmp_path / "in"
    photo_dir.mkdir()
    Image.fromarray((lamp_scene() * 255).astype(np.uint8)).save(photo_dir / "night.png")
    common = ["--T", "2", "--model", str(fixture_model_path), "--device", "cpu"]
    outs = {}
    for p in ("0", "1"):
        proc = subprocess.run([sys.executable, "-m", "clode", "enhance", str(photo_dir / "night.png"), "-o",
                               str(tmp_path / f"e{p}"), "--protect", p, *common], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        outs[p] = np.asarray(Image.open(tmp_path / f"e{p}" / "night.png"), np.float32)
    assert outs["1"].mean() < outs["0"].mean()
    proc = subprocess.run([sys.executable, "-m", "clode", "batch", str(photo_dir), "-o", str(tmp_path / "b"),
                           "--format", "png", "--protect", "1", *common], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    batch = np.asarray(Image.open(next((tmp_path / "b").glob("night*.png"))), np.float32)
    assert np.abs(batch - outs["1"]).max() <= 1
    assert "protect highlights=1" in next((tmp_path / "b").glob("*.log")).read_text()
    bad = subprocess.run([sys.executable, "-m", "clode", "enhance", str(photo_dir / "night.png"), "-o",
                          str(tmp_path / "x"), "--protect", "2", *common], capture_output=True, text=True)
    assert bad.returncode == 2 and "protect" in bad.stderr
    assert json.dumps(Adjustments(protect=1.0).provenance())      # recorded in the file's provenance
