"""Automatic exposure: keeps a well-exposed default, pulls a mis-exposed one back into the band."""

import subprocess
import sys

import numpy as np
import pytest

from clode import Enhancer
from clode.auto_exposure import BAND, choose_T, mean_luminance


def test_choose_T_keeps_default_inside_band():
    assert choose_T(lambda T: 0.45, 3.0, -6, 6) == 3.0


@pytest.mark.parametrize("slope,expected_side", [(0.1, "below"), (0.02, "above")])
def test_choose_T_reaches_nearest_band_edge(slope, expected_side):
    brightness = lambda T: 0.35 + slope * T    # monotonic, like a CLODE trajectory
    T = choose_T(brightness, 3.0, -6, 6)
    if expected_side == "below":     # 0.65 at T=3: too bright -> down to the upper edge
        assert T < 3.0 and brightness(T) == pytest.approx(BAND[1], abs=1e-3)
    else:                            # 0.41 at T=3 is inside the band
        assert T == 3.0


def test_choose_T_stops_at_range_when_band_unreachable():
    assert choose_T(lambda T: 0.05 + 0.001 * T, 3.0, -6, 6) == 6.0


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


def test_auto_T_darkens_an_already_bright_photo(enhancer):
    rng = np.random.default_rng(0)
    bright = np.clip(0.75 + 0.1 * rng.standard_normal((16, 24, 3)), 0, 1).astype(np.float32)
    session = enhancer.prepare(bright)
    assert mean_luminance(session.render(enhancer.default_T, denoise=0)) > BAND[1]
    T = session.auto_T()
    assert T < enhancer.default_T
    assert mean_luminance(session.render(T, size=session.proxy_size, denoise=0)) == pytest.approx(BAND[1], abs=0.01)


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
