"""Any end time in the model's range renders, whatever its digits: the values the app itself makes
(Auto's 1.58, a dial's 3.15, a sum of 0.05 steps's 2.000000000000001) as well as round ones, on
any image size and darkness. A one-photo render (``Enhancer.enhance``, what the CLI and the batch
run) gives the pixels of the editor's full session at the same T."""

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from clode import Enhancer, load_model
from clode.base.finish import Finish
from clode.engine.session import covering_range, strength_time, time_grid

#: Values the app makes, and values a hair from the grid that once broke the solver.
AWKWARD_T = [1.58, 3.15, 2.47, 1.55, 0.75, 2.000000000000001, 3.0000001, 1.0000000000000002, -1e-3,
             1e-12, -2.9999999, 5.999999, 6.0, -6.0, 0.05 * 61]

PROPERTY = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def enhancer():
    return Enhancer(load_model(), device="cpu")


def end_times():
    return st.one_of(st.sampled_from(AWKWARD_T),
                     st.floats(-6.0, 6.0, allow_nan=False, allow_subnormal=True),
                     st.integers(-120, 120).map(lambda k: sum([0.05] * abs(k)) * (1 if k >= 0 else -1)))


def a_photo(height: int, width: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.random((height, width, 3)) * level, 0, 1).astype(np.float32)


@given(T=end_times())
@settings(max_examples=300, deadline=None)
def test_the_time_grid_is_strictly_increasing_and_holds_its_ends(T):
    for lo, hi in [(min(T, 0.0), max(T, 0.0)), covering_range(T, 6.0), (-6.0, 6.0)]:
        grid = time_grid(lo, hi)
        gap = 1e-3 * 0.25
        assert abs(grid[0] - lo) <= gap and abs(grid[-1] - hi) <= gap and 0.0 in grid
        steps = np.diff(np.asarray(grid, dtype=np.float32))      # as the solver sees them
        assert np.all(steps > 0)


@given(T=end_times())
@settings(max_examples=300, deadline=None)
def test_a_covering_range_holds_T_and_where_its_noise_is_measured(T):
    lo, hi = covering_range(T, 6.0)
    slack = 1e-3 * 0.25        # a session renders this far past its ends (the grid's gap)
    assert -6.0 <= lo <= min(0.0, T) + slack and max(0.0, T) - slack <= hi <= 6.0
    assert lo <= min(max(strength_time(T), -6.0), 6.0) <= hi


@PROPERTY
@given(T=end_times(), height=st.integers(1, 24), width=st.integers(1, 24),
       level=st.sampled_from([0.01, 0.1, 0.5, 1.0]), seed=st.integers(0, 3))
def test_any_T_renders_any_image(enhancer, T, height, width, level, seed):
    img = a_photo(height, width, level, seed)
    out = enhancer.enhance(img, T)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.fixture(scope="module")
def editor_session(enhancer):
    """The editor's session: one photo prepared over the model's whole range."""
    img = a_photo(16, 20, 0.2, 0)
    return img, enhancer.prepare(img)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(T=end_times(), protect=st.sampled_from([0.0, 0.6]))
def test_one_photo_render_has_the_editor_sessions_pixels(enhancer, editor_session, T, protect):
    img, full = editor_session
    editor = full.render(T, Finish(denoise=1.0, colour_noise=0.5, protect=protect))
    cli = enhancer.enhance(img, T, Finish(denoise=1.0, colour_noise=0.5, protect=protect))
    np.testing.assert_allclose(cli, editor, atol=2e-6)


@pytest.mark.parametrize("T", [1.58, 3.0000001, -1e-3, 2.000000000000001])
def test_the_exact_path_takes_awkward_times(enhancer, T):
    img = a_photo(12, 16, 0.2, 0)
    out = enhancer.enhance(img, T, Finish(protect=0.5), mode="exact")
    assert np.isfinite(out).all() and out.shape == img.shape


def very_dark_jpeg() -> np.ndarray:
    """A night shot like the one that broke the quick pass: a 640 x 480 camera JPEG of levels 0-3 of
    255 (mean about 0.012) with a small lit object."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, (480, 640, 3)).astype(np.uint8)
    a[..., 2] //= 2
    a[100:148, 300:364] = [255, 230, 180]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(buf)).astype(np.float32) / 255


def test_the_quick_first_pass_solves_a_very_dark_photo(enhancer):
    img = very_dark_jpeg()
    assert img.mean() < 0.02
    quick = enhancer.prepare(img, quick=True)           # the editor's first pass: the whole range
    full = enhancer.prepare(img, t_range=(0.0, 3.0))
    for T in (1.58, 3.0):
        a, b = quick.render(T, size=(60, 80)), full.render(T, size=(60, 80))
        assert np.isfinite(a).all()
        # A coarse preview of the same picture: close to the full pass on average.
        assert abs(float(a.mean()) - float(b.mean())) < 0.05
    for T in (-3.0, 6.0):
        assert np.isfinite(quick.render(T, size=(60, 80))).all()
