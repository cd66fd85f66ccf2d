"""Automatic exposure: the white point decides T for an underexposed photo; the model's default
T, guarded against white, decides it for an ordinary or merely dim one."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import DATASETS

from clode import Enhancer, load_model
from clode.auto_exposure import (BRIGHTEST, IGNORED_WHITE, TRUSTED_WHITE, choose_T,
                                 measuring_view, mean_luminance, pushed_brightness, trust, white_point)
from clode.imageio import load_image
from clode.metrics import psnr
from clode.srgb import linear_to_srgb, srgb_to_linear


def darken(img: np.ndarray, ev: float) -> np.ndarray:
    """A shorter exposure of ``img`` (sRGB) by ``ev`` stops, in linear light, without noise."""
    lin = srgb_to_linear(torch.from_numpy(img)) * 2.0 ** -ev
    return linear_to_srgb(lin).numpy().astype(np.float32)


def scene(white: float = 1.0, seed: int = 0) -> np.ndarray:
    """A 32 x 48 sRGB picture whose brightest 2 % reach ``white`` (linear); the rest is mid-tone."""
    rng = np.random.default_rng(seed)
    lin = rng.uniform(0.02, 0.25, (32, 48, 3))
    lin[:2, :15] = 1.0
    return linear_to_srgb(torch.from_numpy(lin * white)).numpy().astype(np.float32)


def linear_brightness(T: float) -> float:
    return 0.1 + 0.1 * T          # monotonic, like a CLODE trajectory; 0.4 at T = 3


def test_white_point_reads_how_many_stops_the_exposure_fell_short():
    for ev in (0.0, 2.0, 4.0, 5.5):
        assert white_point(scene(2.0 ** -ev)) == pytest.approx(2.0 ** -ev, rel=0.02)


def test_trust_goes_from_the_white_point_to_the_default_without_a_jump():
    whites = np.geomspace(1 / 64, 1, 61)
    weights = [trust(w) for w in whites]
    assert trust(TRUSTED_WHITE) == 1.0 and trust(1 / 64) == 1.0
    assert trust(IGNORED_WHITE) == 0.0 and trust(1.0) == 0.0
    assert all(a >= b for a, b in zip(weights, weights[1:]))
    assert max(abs(a - b) for a, b in zip(weights, weights[1:])) < 0.07      # 0.1 stop apart


def test_an_ordinary_photo_keeps_the_default_T_unless_the_result_is_too_bright():
    view = scene(1.0)
    assert choose_T(linear_brightness, view, 3.0, (-6, 6)) == 3.0
    assert choose_T(lambda T: 0.02 + 0.01 * T, view, 3.0, (-6, 6)) == 3.0     # a dark result is not pushed up
    too_bright = lambda T: 0.35 + 0.12 * T                                       # 0.71 at T = 3
    T = choose_T(too_bright, view, 3.0, (-6, 6))
    assert T < 3.0 and too_bright(T) == pytest.approx(BRIGHTEST, abs=1e-3)
    assert choose_T(lambda T: 0.9 + 0.001 * T, view, 3.0, (-6, 6)) == -6.0     # unreachable: as dark as allowed


def test_an_underexposed_photo_gets_the_brightness_of_its_white_point_pushed_to_white():
    normal = scene(1.0)
    for ev in (3.0, 4.5):
        view = darken(normal, ev)
        target = pushed_brightness(view, white_point(view))
        assert target == pytest.approx(pushed_brightness(normal, 1.0), rel=0.01)  # the photo, restored
        T = choose_T(linear_brightness, view, 3.0, (-6, 6))
        assert linear_brightness(T) == pytest.approx(target, abs=2e-3)
    # the guard is for the default T only: a target above BRIGHTEST is reached
    bright_scene = np.clip(scene(1.0) + 0.4, 0, 1)
    view = darken(bright_scene, 4.0)
    assert pushed_brightness(view, white_point(view)) > BRIGHTEST
    T = choose_T(linear_brightness, view, 3.0, (-6, 6))
    assert linear_brightness(T) > BRIGHTEST


def test_between_half_a_stop_and_two_stops_of_headroom_the_choices_blend():
    T_default = choose_T(linear_brightness, scene(1.0), 3.0, (-6, 6))
    view = scene(2 ** -1.25)                         # 1.25 stops: half and half
    target = pushed_brightness(view, white_point(view))
    T_white = (target - 0.1) / 0.1
    assert trust(white_point(view)) == pytest.approx(0.5, abs=0.02)
    assert choose_T(linear_brightness, view, 3.0, (-6, 6)) == pytest.approx(
        0.5 * (T_white + T_default), abs=0.05)


def test_measuring_view_is_small_and_keeps_the_white_point():
    big = np.repeat(np.repeat(scene(0.1), 20, axis=0), 20, axis=1)       # 640 x 960
    view = measuring_view(big)
    assert max(view.shape[:2]) == 256 and view.dtype == np.float32
    assert white_point(view) == pytest.approx(0.1, rel=0.02)


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


def test_auto_T_darkens_an_already_bright_photo(enhancer):
    rng = np.random.default_rng(0)
    bright = np.clip(0.75 + 0.1 * rng.standard_normal((16, 24, 3)), 0, 1).astype(np.float32)
    session = enhancer.prepare(bright)
    assert mean_luminance(session.render(enhancer.default_T)) > BRIGHTEST
    T = session.auto_T()
    assert T < enhancer.default_T
    assert mean_luminance(session.render(T, size=session.proxy_size)) == pytest.approx(BRIGHTEST, abs=0.01)


@pytest.fixture(scope="module")
def default_enhancer():
    return Enhancer(load_model(), device="cpu")


def test_auto_T_rises_with_the_exposure_a_photo_lacks(default_enhancer):
    photo = load_image(DATASETS / "lowlight-dev" / "high" / "03.png").pixels[::8, ::8]
    Ts = [default_enhancer.prepare(darken(photo, ev)).auto_T() for ev in (3.0, 4.0, 5.0)]
    assert Ts[0] < Ts[1] < Ts[2], Ts
    session = default_enhancer.prepare(darken(photo, 4.0))
    target = pushed_brightness(measuring_view(session.image), white_point(measuring_view(session.image)))
    assert mean_luminance(session.render(Ts[1], size=session.proxy_size)) == pytest.approx(target, abs=0.01)


def test_auto_T_beats_T3_by_a_decibel_on_lowlight_dev(default_enhancer):
    """The issue's bar, on the fast path the editor uses (the study in benchmarks/ has the details)."""
    enh = default_enhancer
    gains = []
    for low_path in sorted((DATASETS / "lowlight-dev" / "low").glob("*.png")):
        low = load_image(low_path).pixels
        high = load_image(DATASETS / "lowlight-dev" / "high" / low_path.name).pixels
        session = enh.prepare(low)
        gains.append(psnr(session.render(session.auto_T()), high) - psnr(session.render(3.0), high))
    assert np.mean(gains) >= 1.0, gains


def test_cli_enhance_with_auto_T(tmp_path, fixture_model_path):
    from PIL import Image
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((40, 56, 3)) * 60).astype(np.uint8)).save(tmp_path / "dark.png")
    proc = subprocess.run([sys.executable, "-m", "clode", "enhance", str(tmp_path / "dark.png"), "-o",
                           str(tmp_path / "out"), "--T", "auto", "--model", str(fixture_model_path),
                           "--device", "cpu"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "dark.png").exists() and "T=" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "clode", "enhance", str(tmp_path / "dark.png"), "-o",
                          str(tmp_path / "out2"), "--T", "bright"], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected a number or auto" in bad.stderr
