"""The fast engine (clode.engine.session, clode.engine.tiles): proxy solve + closed-form render."""

import copy

import numpy as np
import pytest
import torch

from clode import CancelToken, Cancelled, ClodeError, Enhancer
from clode.base.finish import Finish
from clode.engine import session as session_mod
from clode.engine.ode import Solver, integrate
from clode.engine.tiles import denoise_tiled

TIGHT = Solver("dopri5", rtol=1e-5, atol=1e-5)   # the official tolerance


def dark_image(h, w, seed=0):
    """A dim image with structure: a gradient, a bright block with hard edges, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.05 + 0.15 * (xx / w)[..., None] * np.array([1.0, 0.8, 0.6], np.float32)
    img[h // 4:h // 2, w // 3:w // 2] = 0.6
    img += rng.normal(0, 0.01, img.shape).astype(np.float32)
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture(autouse=True)
def no_grad():
    with torch.no_grad():
        yield


@pytest.fixture(scope="module")
def enhancer(fixture_model):
    return Enhancer(fixture_model, device="cpu")


@pytest.fixture(scope="module")
def prepared(fixture_model):
    """A 42 x 56 image on a 24 x 32 proxy, solved tightly over [-1, 2]."""
    img = dark_image(42, 56)
    return session_mod.prepare(fixture_model, img, t_min=-1.0, t_max=2.0, proxy_side=32, solver=TIGHT)


class CurveCounter:
    """Counts calls of ``net.curve`` (the network stays real)."""

    def __init__(self, net):
        self.net, self.calls = net, 0

    def __enter__(self):
        original = self.net.curve

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)
        self.net.curve = counted
        return self

    def __exit__(self, *exc):
        del self.net.curve


def test_the_rgb_ratio_curve_renders_its_one_field_as_the_exact_solve(fixture_model):
    net = copy.deepcopy(fixture_model)
    net.curve_mode = "rgb_ratio"           # the default model's: one exposure field for R, G and B
    s = session_mod.prepare(net, dark_image(42, 56), t_min=-1.0, t_max=2.0, proxy_side=32, solver=TIGHT)
    for T in (2.0, -1.0):
        augmented = integrate(net, s.proxy, [T], TIGHT, track_lambda=True)[0][:, :3]
        exact = net.finish(augmented, 0.0)[0].permute(1, 2, 0).numpy()
        # the view's kept input
        assert np.abs(s.render(T, Finish(denoise=0.0), size=s.proxy_size) - exact).max() <= 1e-5
    full = s.render(1.5, Finish(denoise=0.0))
    # read per strip
    assert np.array_equal(s.render(1.5, Finish(denoise=0.0), region=(8, 6, 20, 10)), full[6:16, 8:28])
    assert np.abs(full[..., 0] - full[..., 1]).max() > 0.01       # colour kept: one field, three channels


@pytest.mark.parametrize("T", [2.0, -1.0, 0.5])
def test_render_at_proxy_size_equals_exact_solve(prepared, fixture_model, T):
    s = prepared
    assert s.proxy_size == (24, 32)
    # The same ODE with Lambda riding along: the closed form reproduces its image channels.
    augmented = integrate(fixture_model, s.proxy, [T], TIGHT, track_lambda=True)[0][:, :3]
    # The plain solve takes other adaptive steps: equal within the solver's error.
    plain = integrate(fixture_model, s.proxy, [T], TIGHT)[0]
    for denoise in (0.0, 1.0):
        fast = s.render(T, Finish(denoise=denoise), size=s.proxy_size)
        for exact, tolerance in ((augmented, 1e-5), (plain, 2e-3)):
            exact = fixture_model.finish(exact, denoise)[0].permute(1, 2, 0).numpy()
            assert fast.shape == exact.shape
            assert np.abs(fast - exact).max() <= tolerance


def test_between_grid_times_linear_interpolation_is_close(prepared, fixture_model):
    s = prepared
    T = 1.6  # between the grid points 1.5 and 1.75
    state = integrate(fixture_model, s.proxy, [T], TIGHT, track_lambda=True)[0][:, :3]
    exact = fixture_model.finish(state, 0)[0].permute(1, 2, 0).numpy()
    assert np.abs(s.render(T, Finish(denoise=0), size=s.proxy_size) - exact).max() <= 2e-3


def test_T_zero_returns_the_input(prepared):
    out = prepared.render(0.0, Finish(denoise=0))
    assert out.shape == prepared.image.shape and out.dtype == np.float32
    assert np.abs(out - prepared.image).max() <= 1e-6


def test_render_is_monotonic_in_T(prepared):
    means = [prepared.render(T, Finish(denoise=0)).mean() for T in np.arange(-1.0, 2.01, 0.5)]
    assert all(a < b for a, b in zip(means, means[1:]))


def test_region_render_is_the_crop_of_the_full_render(prepared):
    full = prepared.render(1.5, Finish(denoise=0))
    crop = prepared.render(1.5, Finish(denoise=0), region=(7, 5, 30, 20))
    np.testing.assert_allclose(crop, full[5:25, 7:37], atol=1e-6)


def test_resized_view_and_uint8(prepared):
    view = prepared.render(1.5, Finish(denoise=0), size=(21, 28))
    assert view.shape == (21, 28, 3)
    # Each view pixel averages the full render's 2x2 block (within the curve's smoothness).
    full = prepared.render(1.5, Finish(denoise=0))[:42, :56].reshape(21, 2, 28, 2, 3).mean((1, 3))
    assert np.abs(view - full).mean() < 0.01
    as_u8 = prepared.render(1.5, Finish(denoise=0), size=(21, 28), dtype=np.uint8)
    assert as_u8.dtype == np.uint8
    assert np.abs(as_u8.astype(int) - np.round(view * 255).astype(int)).max() <= 1


def test_clipped_pixels_render_finite_in_resized_views(fixture_model):
    """Pure black and clipped white (lamps in a night photo) survive resampling: the antialiasing
    filter's rounding can step past 1.0, whose logit is NaN (a real photo showed NaNs here)."""
    rng = np.random.default_rng(5)
    img = np.where(rng.random((60, 90, 1)) < 0.5, 1.0, 0.0).astype(np.float32) * np.ones(3, np.float32)
    img[:20] = rng.random((20, 90, 3)).astype(np.float32)
    s = session_mod.prepare(fixture_model, img, t_min=-1.0, t_max=2.0, proxy_side=24)
    for T in (0.0, 1.5, -1.0):
        for size in (s.proxy_size, (37, 55), (60, 90)):
            out = s.render(T, Finish(denoise=0), size=size)
            assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert s.auto_T() == s.auto_T() and np.isfinite(s.auto_T())


def test_strips_are_seamless_with_the_denoiser(prepared, monkeypatch):
    whole = prepared.render(2.0, Finish(denoise=1.0))
    monkeypatch.setattr(session_mod, "STRIP_PIXELS", 5 * 56)     # 5-row strips
    monkeypatch.setattr(session_mod, "CHUNK_PIXELS", 3 * 56)
    strips = prepared.render(2.0, Finish(denoise=1.0))
    assert np.abs(whole - strips).max() <= 1e-5
    # ... and the denoiser ran at full resolution on the closed-form image.
    plain = torch.from_numpy(prepared.render(2.0, Finish(denoise=0))).permute(2, 0, 1)[None]
    finished = prepared.net.finish(plain, 1.0)[0].permute(1, 2, 0).numpy()
    assert np.abs(whole - finished).max() <= 1e-5


def test_tiled_denoise_equals_untiled(fixture_model):
    img = torch.from_numpy(dark_image(70, 150, seed=1)).permute(2, 0, 1)[None]
    with torch.no_grad():
        whole = fixture_model.finish(img, 0.7)
        tiled = denoise_tiled(fixture_model, img, 0.7, tile=32)     # 3 x 5 tiles
    assert np.abs((whole - tiled).numpy()).max() <= 1e-5
    assert torch.equal(denoise_tiled(fixture_model, img, 0.0), img.clamp(0, 1))


def test_render_after_prepare_runs_no_curve_network(fixture_model):
    img = dark_image(30, 40, seed=2)
    with CurveCounter(fixture_model) as counter:
        s = session_mod.prepare(fixture_model, img, t_min=-1.0, t_max=2.0, proxy_side=16)
        assert counter.calls > 0
        before = counter.calls
        for T in (-1.0, 0.3, 1.7, 2.0):
            s.render(T)
            s.render(T, Finish(denoise=0.5), size=(12, 16), region=(4, 2, 24, 20))
        assert counter.calls == before


def test_cancel_stops_the_solve_within_one_step(fixture_model):
    token = CancelToken()
    with CurveCounter(fixture_model) as counter:
        at_cancel = []

        def progress(fraction, message):
            if not token.cancelled and counter.calls >= 3:
                token.cancel()
                at_cancel.append(counter.calls)
        with pytest.raises(Cancelled):
            session_mod.prepare(fixture_model, dark_image(30, 40), t_max=3.0, proxy_side=16,
                                progress=progress, cancel=token)
    # The evaluation that reported the progress finishes; no further one starts.
    assert at_cancel and counter.calls - at_cancel[0] <= 1


def test_render_checks_T_and_region(prepared):
    with pytest.raises(ClodeError, match="outside the prepared range"):
        prepared.render(2.5)
    with pytest.raises(ClodeError, match="not inside"):
        prepared.render(1.0, region=(50, 0, 10, 10))


def test_enhancer_modes(enhancer, fixture_model):
    img = dark_image(12, 16, seed=3)
    fast = enhancer.enhance(img, 2.0)
    exact = enhancer.enhance(img, 2.0, mode="exact")
    # The image is smaller than the proxy: fast is the exact solve (looser solver tolerance).
    assert np.abs(fast - exact).max() <= 5e-3
    with pytest.raises(ClodeError, match="unknown mode"):
        enhancer.enhance(img, 2.0, mode="quick")
    s = enhancer.prepare(img, quick=True, proxy_side=6)
    assert s.t_range == (-fixture_model.info.t_max, fixture_model.info.t_max)


def test_enhance_in_uint8_is_the_rounded_float_result(enhancer):
    """Exports of 8-bit files render straight to uint8; both modes round the float result."""
    img = dark_image(12, 16, seed=4)
    for mode in ("fast", "exact"):
        as_float = enhancer.enhance(img, 2.5, mode=mode)
        as_bytes = enhancer.enhance(img, 2.5, mode=mode, dtype=np.uint8)
        assert as_bytes.dtype == np.uint8
        assert np.abs(as_bytes.astype(np.int16) - np.rint(as_float * 255)).max() <= 1
    out, T = enhancer.enhance_auto(img, dtype=np.uint8)
    assert out.dtype == np.uint8 and out.shape == img.shape


def test_colour_noise_reduction_keeps_luminance_and_smooths_chroma():
    from clode.engine.colour_noise import radius, reduce_colour_noise, sigma_for
    rng = np.random.default_rng(6)
    grey = np.full((40, 50, 3), 0.4, np.float32)
    noisy = torch.from_numpy(np.clip(grey + rng.normal(0, 0.05, grey.shape).astype(np.float32), 0, 1))
    out = reduce_colour_noise(noisy, sigma_for(1.0))
    lum = torch.tensor([0.299, 0.587, 0.114])
    assert torch.allclose(out @ lum, noisy @ lum, atol=1e-5)                  # detail (luminance) untouched
    spread = lambda x: (x - (x @ lum)[..., None]).std()                       # colour deviation from grey
    assert spread(out) < 0.3 * spread(noisy)
    assert reduce_colour_noise(noisy, sigma_for(0.0)) is noisy                # off: nothing done
    assert sigma_for(1.0, scale=0.1) == 0.0 and radius(sigma_for(1.0)) == 6   # tiny views skip it


def test_colour_noise_in_strips_is_seamless_and_matches_the_exact_path(prepared, enhancer, monkeypatch):
    whole = prepared.render(1.5, Finish(denoise=1.0, colour_noise=1.0))
    monkeypatch.setattr(session_mod, "STRIP_PIXELS", 56 * 5)                 # strips of 5 rows
    monkeypatch.setattr(session_mod, "CHUNK_PIXELS", 56 * 5)
    assert np.abs(prepared.render(1.5, Finish(denoise=1.0, colour_noise=1.0)) - whole).max() < 1e-5
    assert np.abs(prepared.render(1.5, Finish(denoise=1.0)) - whole).max() > 1e-3   # it does something
    img = dark_image(12, 16, seed=3)
    fast = enhancer.enhance(img, 2.0, Finish(colour_noise=1.0))
    exact = enhancer.enhance(img, 2.0, Finish(colour_noise=1.0), mode="exact")
    assert np.abs(fast - exact).max() <= 5e-3    # smaller than the proxy: the same solve, the same blur


def test_dilated_denoiser_is_seamless_in_tiles_and_strips(fixture_model, monkeypatch):
    # The 17 x 17 denoiser needs 8 pixels of context, where the published one needs 2.
    import copy
    net = copy.deepcopy(fixture_model)
    torch.manual_seed(5)
    net.replace_denoiser("dilated")
    assert net.denoiser_kind == "dilated" and net.output_denoiser.halo == 8
    img = dark_image(70, 150, seed=1)
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    whole = net.finish(x, 0.7)
    assert np.abs((whole - denoise_tiled(net, x, 0.7, tile=32)).numpy()).max() <= 1e-5
    s = session_mod.prepare(net, img, t_min=0.0, t_max=2.0, proxy_side=32, solver=TIGHT)
    one_strip = s.render(2.0, Finish(denoise=1.0))
    monkeypatch.setattr(session_mod, "STRIP_PIXELS", 5 * 150)     # 5-row strips, less than the halo
    assert np.abs(one_strip - s.render(2.0, Finish(denoise=1.0))).max() <= 1e-5
