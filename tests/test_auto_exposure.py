"""Automatic exposure: the model's default T, lowered only when the result would be too bright."""

import subprocess
import sys

import numpy as np
import pytest

from clode import Enhancer
from clode.auto_exposure import BRIGHTEST, choose_T, mean_luminance


def test_choose_T_keeps_the_default_unless_the_result_is_too_bright():
    assert choose_T(lambda T: 0.45, 3.0, -6) == 3.0
    assert choose_T(lambda T: 0.02 + 0.01 * T, 3.0, -6) == 3.0      # a dark result is not pushed up


def test_choose_T_lowers_T_until_the_result_is_no_brighter_than_the_guard():
    brightness = lambda T: 0.35 + 0.12 * T    # monotonic, like a CLODE trajectory; 0.71 at T = 3
    T = choose_T(brightness, 3.0, -6)
    assert T < 3.0 and brightness(T) == pytest.approx(BRIGHTEST, abs=1e-3) and brightness(T) <= BRIGHTEST + 1e-3
    assert choose_T(lambda T: 0.9 + 0.001 * T, 3.0, -6) == -6.0     # unreachable: as dark as allowed


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


def test_auto_T_darkens_an_already_bright_photo(enhancer):
    rng = np.random.default_rng(0)
    bright = np.clip(0.75 + 0.1 * rng.standard_normal((16, 24, 3)), 0, 1).astype(np.float32)
    session = enhancer.prepare(bright)
    assert mean_luminance(session.render(enhancer.default_T, denoise=0)) > BRIGHTEST
    T = session.auto_T()
    assert T < enhancer.default_T
    assert mean_luminance(session.render(T, size=session.proxy_size, denoise=0)) == pytest.approx(BRIGHTEST, abs=0.01)


def test_auto_T_keeps_the_default_for_a_dark_photo(enhancer):
    rng = np.random.default_rng(2)
    dark = (0.08 * rng.random((16, 24, 3))).astype(np.float32)
    session = enhancer.prepare(dark)
    assert mean_luminance(session.render(enhancer.default_T, size=session.proxy_size, denoise=0)) <= BRIGHTEST
    assert session.auto_T() == enhancer.default_T


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
