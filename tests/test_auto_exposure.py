"""Automatic exposure, safe by construction (issue 28): a clearly dark photo gets the model's default
T (the learned estimate and a lamp in the frame do not move it), a photo that is not dark stays as
shot, a smooth and monotonic blend between, mid-tones never clip; the same T in the CLI, the batch
and the editor, with the same learned taste. The learned predictor and the white-point rule, kept
for the studies, are checked as functions."""

import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from conftest import DATASETS

from clode import Enhancer, load_model
from clode.engine import auto_exposure
from clode.engine.auto_exposure import (BRIGHTEST, IGNORED_WHITE, TRUSTED_WHITE, choose_T,
                                 measuring_view, mean_luminance, pushed_brightness, trust, white_point)
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.training.exposure_fit import read_photo
from clode.engine.exposure_model import (FORMAT_1, Predictor, fit, for_model, predictor_path, pushed_mean,
                                  shortfall_features)
from clode.io.imageio import load_image
from clode.training.metrics import psnr
from clode.training.night_pairs import night_pair
from clode.base.srgb import linear_to_srgb, srgb_to_linear
from clode.engine.weights import DEFAULT_MODEL


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


def with_lamp(img: np.ndarray) -> np.ndarray:
    """``img`` with a lamp in its top-left corner: 2 % of the pixels at white (the headroom rule stays out)."""
    out = img.copy()
    h, w = out.shape[:2]
    side = max(1, int(round((0.02 * h * w) ** 0.5)))
    out[:side, :side] = 1.0
    return out


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


def test_auto_T_leaves_an_already_bright_photo_as_shot(enhancer):
    """Every model, with a predictor or not: a photo that is not dark keeps T = 0 and its brightness
    (the default T would push it towards white)."""
    rng = np.random.default_rng(0)
    bright = np.clip(0.75 + 0.1 * rng.standard_normal((16, 24, 3)), 0, 1).astype(np.float32)
    session = enhancer.prepare(bright)
    assert mean_luminance(session.render(enhancer.default_T)) > BRIGHTEST
    T = session.auto_T()
    assert T == 0.0
    assert abs(mean_luminance(session.render(T)) / mean_luminance(bright) - 1) < 0.10


def test_darkness_is_one_for_dark_zero_for_lit_and_smooth_and_monotonic_between():
    means = np.geomspace(0.02, 0.9, 400)
    d = np.array([auto_exposure.darkness(m) for m in means])
    assert np.all(d[means <= auto_exposure.DARK_MEAN] == 1.0) and np.all(d[means >= auto_exposure.LIT_MEAN] == 0.0)
    assert np.all(np.diff(d) <= 0)
    # a smoothstep in stops: never steeper than 1.5 per width of the ramp
    width = np.log2(auto_exposure.LIT_MEAN / auto_exposure.DARK_MEAN)
    assert np.max(np.abs(np.diff(d)) / np.diff(np.log2(means))) <= 1.5 / width + 1e-6


def tiny_scene(seed: int, brightest: tuple[float, float] = (0.7, 1.0)) -> np.ndarray:
    """A 24 x 32 scene with a gradient, texture and a bright patch (linear level drawn from
    ``brightest``), in sRGB."""
    rng = np.random.default_rng(seed)
    lin = np.linspace(0.05, 0.6, 32)[None, :, None] * rng.uniform(0.5, 1.0, 3) + rng.uniform(0, 0.1, (24, 32, 3))
    lin[2:6, 3:9] = rng.uniform(*brightest)
    return linear_to_srgb(torch.from_numpy(np.clip(lin, 0, 1))).numpy().astype(np.float32)


class CurveSession:
    """A stand-in for a prepared session whose curves push linear light by 0.6 stops per unit of T
    (monotonic, like a CLODE trajectory): the rules of ``auto_exposure.reading`` without a solve, so
    that hypothesis can try many photos."""
    net = None
    t_range = (-6.0, 6.0)

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.proxy = torch.from_numpy(image).permute(2, 0, 1)[None]
        self.proxy_size = image.shape[:2]

    def render(self, T: float, finish=None, *, size=None) -> np.ndarray:
        lin = srgb_to_linear(torch.from_numpy(self.image)) * 2.0 ** (0.6 * T)
        return linear_to_srgb(lin.clamp(0, 1)).numpy()


#: The blend's steepest slope in T per stop of the input's mean luminance (a smoothstep: 1.5 times
#: the default T over the ramp's width in stops).
STEEPEST = 1.5 * 3.0 / np.log2(auto_exposure.LIT_MEAN / auto_exposure.DARK_MEAN)
#: The headroom rule's steepest slope in T per stop of a push of the input (linear light): its weight's
#: (a smoothstep over HEADROOM_STOPS, times the default T at most) plus the white-point T's own fall
#: (the stand-in's curves push 0.6 stops per unit of T).
ROOM_STEEPEST = 1.5 * 3.0 / (auto_exposure.HEADROOM_STOPS[1] - auto_exposure.HEADROOM_STOPS[0]) + 1 / 0.6


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 20), ev=st.floats(-0.5, 4.0), delta=st.floats(0.005, 0.2))
def test_a_slightly_brighter_photo_never_gets_a_higher_T_nor_a_much_lower_one(seed, ev, delta):
    """Two nearly identical photos (the same scene, ``delta`` stops apart) get nearly the same T, and
    the brighter never the higher one: no jumps, by construction."""
    scene_ = tiny_scene(seed)
    dark, bright = darken(scene_, ev), darken(scene_, ev - delta)
    T_dark = auto_exposure.reading(CurveSession(dark), 3.0).T
    T_bright = auto_exposure.reading(CurveSession(bright), 3.0).T
    assert T_bright <= T_dark + 0.01
    # the sRGB mean moves by less than the linear push
    stops = np.log2(mean_luminance(bright) / mean_luminance(dark))
    assert 0 < stops <= delta + 1e-6
    assert T_dark - T_bright <= STEEPEST * stops + ROOM_STEEPEST * delta + 0.02


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 20), ev=st.floats(0.0, 2.5), delta=st.floats(0.005, 0.2),
       white=st.floats(0.4, 0.9))
def test_with_room_below_white_a_brighter_photo_still_never_gets_a_higher_T(seed, ev, delta, white):
    """The same where the headroom rule decides (no lamp: the brightest patch below white, the photo
    0-2.5 stops short): T never rises with the brightness, and falls no faster than both rules allow."""
    scene_ = tiny_scene(seed, brightest=(white, white))
    dark, bright = darken(scene_, ev), darken(scene_, ev - delta)
    T_dark = auto_exposure.reading(CurveSession(dark), 3.0).T
    T_bright = auto_exposure.reading(CurveSession(bright), 3.0).T
    assert 0.0 <= T_bright <= T_dark + 0.01 <= 3.01
    stops = np.log2(mean_luminance(bright) / mean_luminance(dark))
    assert T_dark - T_bright <= STEEPEST * stops + ROOM_STEEPEST * delta + 0.02


def test_headroom_weight_is_zero_near_white_one_far_below_and_smooth_and_monotonic_between():
    stops = np.linspace(0.0, 3.0, 601)
    w = np.array([auto_exposure.headroom_weight(x) for x in stops])
    lo, hi = auto_exposure.HEADROOM_STOPS
    assert np.all(w[stops <= lo] == 0.0) and np.all(w[stops >= hi] == 1.0)
    assert np.all(np.diff(w) >= 0)
    assert np.max(np.diff(w) / np.diff(stops)) <= 1.5 / (hi - lo) + 1e-6


def test_room_below_white_lifts_a_photo_that_is_not_dark_toward_its_white_point_and_a_lamp_keeps_it_out():
    """A scene shot 1.5 stops short with nothing near white: as bright in the mean as a well-exposed
    photo, but its white point says it is short; Auto lifts it (never beyond the default). The same
    with a lamp at white: the rule stays out and the mean decides (T 0)."""
    scene_ = tiny_scene(3, brightest=(0.9, 0.9))
    short = darken(scene_, 1.5)
    assert mean_luminance(short) >= auto_exposure.LIT_MEAN
    view = measuring_view(short)
    assert auto_exposure.headroom_weight(-np.log2(white_point(view))) == 1.0
    session = CurveSession(short)
    T = auto_exposure.reading(session, 3.0).T
    assert 0.5 < T <= 3.0
    # the white-point rule's T: the mean of the input pushed until its white point reaches white
    assert mean_luminance(session.render(T)) == pytest.approx(pushed_brightness(view, white_point(view)), abs=0.02)
    assert auto_exposure.reading(CurveSession(with_lamp(short)), 3.0).T == 0.0


def test_the_real_model_gives_nearly_identical_photos_nearly_the_same_T(default_enhancer):
    """The same on the shipped model's own curves, on the ramp where T moves fastest."""
    photo = read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 96)
    # a lamp at white keeps the headroom rule out: the mean's ramp decides
    T_dark = default_enhancer.prepare(with_lamp(darken(photo, 2.5))).auto_T(taste=False)
    T_bright = default_enhancer.prepare(with_lamp(darken(photo, 2.45))).auto_T(taste=False)
    stops = np.log2(mean_luminance(with_lamp(darken(photo, 2.45))) / mean_luminance(with_lamp(darken(photo, 2.5))))
    assert 0.0 < T_dark < 3.0 and T_bright <= T_dark + 0.01
    assert T_dark - T_bright <= STEEPEST * stops + 0.02, (T_dark, T_bright)


@pytest.fixture(scope="module")
def default_enhancer():
    return Enhancer(load_model(), device="cpu")


def test_auto_T_rises_with_the_exposure_a_photo_lacks_up_to_the_default(default_enhancer):
    """As shot, a little short, clearly dark: T 0, between, the default (never beyond it)."""
    photo = load_image(DATASETS / "lowlight-dev" / "high" / "03.png").pixels[::8, ::8]
    means = [mean_luminance(darken(photo, ev)) for ev in (0.0, 1.5, 3.0, 5.0)]
    Ts = [default_enhancer.prepare(darken(photo, ev)).auto_T() for ev in (0.0, 1.5, 3.0, 5.0)]
    assert means[0] >= auto_exposure.LIT_MEAN and auto_exposure.DARK_MEAN < means[1] < auto_exposure.LIT_MEAN
    assert means[2] <= auto_exposure.DARK_MEAN
    assert Ts[0] == 0.0 and 0.0 < Ts[1] < 3.0 and Ts[2] == Ts[3] == 3.0, (means, Ts)
    # the white-point rule (models without a predictor) brings the white point to WHITE_LEVEL
    session = default_enhancer.prepare(darken(photo, 4.0))
    view = measuring_view(session.image)
    brightness = lambda T: mean_luminance(session.render(T, size=session.proxy_size))   # noqa: E731
    T_white = choose_T(brightness, view, 3.0, session.t_range)
    assert brightness(T_white) == pytest.approx(pushed_brightness(view, white_point(view)), abs=0.01)


def test_the_shipped_model_has_its_exposure_predictor():
    predictor = for_model(load_model())
    assert predictor is not None and predictor_path(DEFAULT_MODEL).is_file()
    assert len(predictor.T.coef) + len(predictor.shortfall.coef) < 100 and 0 < predictor.error < 1.5
    assert predictor.card["model"] == DEFAULT_MODEL.name and "night" in predictor.card["data"]


def test_a_dark_photo_gets_the_default_T_whatever_the_learned_estimate_says(default_enhancer, monkeypatch):
    """A lit lamp in a scene 5.5 EV short, and wild learned estimates either way: Auto stays at the
    default (the estimate is unrelated to the best T on real captures, issue 28)."""
    photo = read_photo(DATASETS / "photos" / "kphotoalbum-skagen.jpg", 160)
    low, high, info = night_pair(photo, np.random.default_rng(3), ev=5.5)
    assert info["lights"] and low.max() > 0.9
    s = default_enhancer.prepare(low)
    assert auto_exposure.darkness(mean_luminance(s.image)) == 1.0
    assert s.auto_T() == 3.0
    for wild in (0.5, 5.5):
        monkeypatch.setattr(auto_exposure, "estimate_T", lambda *args, w=wild: w)
        assert s.auto_T() == 3.0


def test_a_well_exposed_photo_keeps_its_brightness(default_enhancer):
    for name in ("mate_nature-Dune.jpg", "kphotoalbum-snow.jpg"):
        s = default_enhancer.prepare(read_photo(DATASETS / "photos" / name, 160))
        before = mean_luminance(s.image)
        T = s.auto_T()
        assert T == 0.0 and abs(mean_luminance(s.render(T)) / before - 1) < 0.10, name


def test_a_very_dark_photo_is_not_left_darker_than_the_predictors_error_allows(default_enhancer, monkeypatch):
    photo = load_image(DATASETS / "lowlight-dev" / "high" / "02.png").pixels[::8, ::8]
    s = default_enhancer.prepare(darken(photo, 6.0))
    predictor = for_model(default_enhancer.model)
    monkeypatch.setattr(auto_exposure, "estimate_T", lambda *args: -2.0)     # a wild estimate
    assert auto_exposure.learned_T(s, predictor, 3.0) >= 3.0 - auto_exposure.FLOOR_ERRORS * predictor.error - 1e-6


def test_a_scene_a_little_short_gets_less_than_the_default_and_is_brightened(default_enhancer):
    """Between clearly dark and not dark, with a lamp at white: the blend's share of the default T
    (mid-tones permitting), brighter than shot, closer to the original than as shot. Without the lamp
    its white point shows the 2.5 stops it lacks: the headroom rule lifts it further, closer still."""
    photo = read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 160)
    s = default_enhancer.prepare(with_lamp(darken(photo, 2.5)))
    mean = mean_luminance(s.image)
    assert auto_exposure.DARK_MEAN < mean < auto_exposure.LIT_MEAN
    T = s.auto_T(taste=False)
    assert 0.0 < T <= 3.0 * auto_exposure.darkness(mean) + 0.01
    assert mean_luminance(s.render(T)) > 1.1 * mean
    lamp = with_lamp(photo) != photo
    assert psnr(np.where(lamp, photo, s.render(T)), photo) > psnr(np.where(lamp, photo, s.render(0.0)), photo)
    bare = default_enhancer.prepare(darken(photo, 2.5))
    T_bare = bare.auto_T(taste=False)
    assert T < T_bare <= 3.0
    assert psnr(bare.render(T_bare), photo) > psnr(bare.render(T), photo)


def clipped_in_band(s, band):
    """The proxy's luminance, and the share of its pixels between the ``band`` percentiles that render
    above 0.98 at T (measured here, not with the rule's own code)."""
    luma = s.proxy[0].permute(1, 2, 0).numpy() @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    lo, hi = np.percentile(luma, band)
    inside = (luma >= lo) & (luma <= hi)

    def clipped(T: float) -> float:
        return float((s.render(T, Finish(denoise=0.0), size=s.proxy_size)[inside].max(-1) > 0.98).mean())
    return luma, clipped


def test_upper_tones_do_not_wash_out_and_the_rule_leaves_dark_pairs_alone(default_enhancer):
    """bar55, a dim bar photo whose flash-lit faces are exposed already: at the default T a quarter of
    its upper tones (80th-97th percentile) clip; Auto lowers T until at most UPPER_CLIP do. A
    lowlight-dev pair, clearly dark, keeps the default T: none of its upper tones clip there."""
    s = default_enhancer.prepare(read_photo(DATASETS / "photos" / "kphotoalbum-bar55.jpg", 160))
    luma, clipped = clipped_in_band(s, auto_exposure.UPPER_TONES)

    assert auto_exposure.darkness(mean_luminance(s.image)) == 1.0
    assert clipped(3.0) > 2 * auto_exposure.UPPER_CLIP
    T = s.auto_T(taste=False)
    assert 0.5 < T < 3.0 and clipped(T) <= auto_exposure.UPPER_CLIP
    assert auto_exposure.upper_tone_limit(s, luma, 3.0) == pytest.approx(T, abs=0.01)
    dark = default_enhancer.prepare(load_image(DATASETS / "lowlight-dev" / "low" / "00.png").pixels[::4, ::4])
    assert dark.auto_T(taste=False) == 3.0


def test_an_estimate_near_the_default_keeps_the_default(default_enhancer, monkeypatch):
    """Within DEFAULT_ZONE of the default T the default is kept; further away the estimate is."""
    photo = read_photo(DATASETS / "photos" / "kphotoalbum-skagen.jpg", 160)
    s = default_enhancer.prepare(night_pair(photo, np.random.default_rng(3), ev=4.5)[0])
    predictor = for_model(default_enhancer.model)
    near = 3.0 - 0.8 * auto_exposure.DEFAULT_ZONE
    far = 3.0 - 2.0 * auto_exposure.DEFAULT_ZONE
    for estimate, expected in ((near, 3.0), (far, far), (3.0 + 0.8 * auto_exposure.DEFAULT_ZONE, 3.0)):
        monkeypatch.setattr(auto_exposure, "estimate_T", lambda *args, e=estimate: e)
        assert auto_exposure.learned_T(s, predictor, 3.0) == pytest.approx(expected, abs=0.01), estimate


def test_midtones_never_clip(default_enhancer):
    """A bright photo's mid-tones would clip at T = 6; the rule (alone: the others switched off)
    lowers T until at most MIDTONE_CLIP of them do."""
    s = default_enhancer.prepare(read_photo(DATASETS / "photos" / "mate_nature-Wood.jpg", 96))
    luma, clipped = clipped_in_band(s, auto_exposure.MIDTONES)

    T = auto_exposure.held_by_rules(s, 6.0, 3.0, 0.7, floor_errors=None, not_dark=None, zone=None)
    assert clipped(6.0) > 10 * auto_exposure.MIDTONE_CLIP
    assert T < 6.0 and clipped(T) <= auto_exposure.MIDTONE_CLIP
    # the safe Auto's own use of the rule: the same limit, never below 0, never above what it is given
    limit = auto_exposure.midtone_limit(s, luma, 6.0)
    assert limit == pytest.approx(T, abs=0.01)
    assert auto_exposure.midtone_limit(s, luma, 0.5) <= 0.5 and auto_exposure.midtone_limit(s, luma, -1.0) == -1.0


def test_predictor_file_round_trips_and_a_damaged_one_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    X, S = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    y = X @ np.array([0.5, -1.0, 0.0, 0.2, 0.0]) + 3.0
    p = Predictor(fit(X, y, ridge=1e-3), fit(S, S @ np.array([1.0, 0.0, -0.5]) + 4.0, ridge=1e-3), 0.3)
    assert p.T.predict(X[0]) == pytest.approx(y[0], abs=0.01)
    p.save(tmp_path / "m.exposure.json")
    q = Predictor.load(tmp_path / "m.exposure.json")
    assert q.T.predict(X[1]) == pytest.approx(p.T.predict(X[1])) and q.error == 0.3
    assert q.shortfall.predict(S[1]) == pytest.approx(p.shortfall.predict(S[1]))
    (tmp_path / "bad.exposure.json").write_text('{"format": "clode-exposure-ridge-2", "T": {"mean": [1], "scale": [0], '
                                                '"coef": [1], "intercept": 3}, "shortfall": null, "error": 0.3}')
    with pytest.raises(ClodeError, match="not a usable exposure predictor"):
        Predictor.load(tmp_path / "bad.exposure.json")


def test_a_predictor_of_the_first_format_still_decides_alone(tmp_path, default_enhancer):
    """Files fitted before the shortfall estimate (T alone) still load and drive Auto."""
    shipped = for_model(default_enhancer.model)
    (tmp_path / "old.exposure.json").write_text(json.dumps({"format": FORMAT_1, **asdict(shipped.T), "error": 0.7}))
    old = Predictor.load(tmp_path / "old.exposure.json")
    assert old.shortfall is None and old.T == shipped.T
    s = default_enhancer.prepare(darken(read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 96), 4.0))
    features = auto_exposure.session_features(s)
    assert auto_exposure.estimate_T(s, old, features) == pytest.approx(old.T.predict(features))
    assert np.isfinite(auto_exposure.learned_T(s, old, 3.0))


def test_the_shortfall_of_a_photo_darkened_without_lights_is_read_within_half_a_stop():
    predictor = for_model(load_model())
    for name in ("mate_nature-Dune.jpg", "kphotoalbum-snow.jpg", "lomiri-Wine_by_Jakkub_Mede.jpg"):
        for ev in (2.0, 4.0, 6.0):
            view = measuring_view(darken(read_photo(DATASETS / "photos" / name, 96), ev))
            assert predictor.shortfall.predict(shortfall_features(view)) == pytest.approx(ev, abs=0.5), (name, ev)


def test_the_estimate_is_the_mean_of_T_and_the_T_of_the_pushed_brightness(default_enhancer):
    s = default_enhancer.prepare(darken(read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 96), 4.0))
    predictor = for_model(default_enhancer.model)
    features = auto_exposure.session_features(s)
    T = auto_exposure.estimate_T(s, predictor, features)
    T_shortfall = 2 * T - predictor.T.predict(features)
    view = measuring_view(s.image)
    target = pushed_mean(view, predictor.shortfall.predict(shortfall_features(view)))
    assert auto_exposure.finished_brightness(s)(T_shortfall) == pytest.approx(target, abs=0.01)
    assert 2.0 < T_shortfall < 5.0


def test_pushing_a_darkened_photo_back_gives_the_original_brightness():
    photo = read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 64)
    dark = darken(photo, 3.0)
    stops = np.array([0.0, 1.0, 3.0, 5.0])
    pushed = pushed_mean(dark, stops)
    assert np.all(np.diff(pushed) > 0) and pushed[0] == pytest.approx(mean_luminance(dark), abs=1e-4)
    assert pushed[2] == pytest.approx(mean_luminance(photo), abs=0.005)
    assert pushed_mean(dark, 3.0) == pytest.approx(pushed[2])


@pytest.mark.slow       # the whole of lowlight-dev at full size through the shipped model
def test_auto_T_is_never_a_decibel_below_the_default_on_lowlight_dev(default_enhancer):
    """Issue 28's bar on the dark pairs here, on the fast path the editor uses, with the product's
    finish (benchmarks/quality/auto_check.py prints the figures)."""
    from clode.base.adjustments import Adjustments
    enh, finish = default_enhancer, Adjustments().finish
    gains = []
    for low_path in sorted((DATASETS / "lowlight-dev" / "low").glob("*.png")):
        low = load_image(low_path).pixels[::2, ::2]
        high = load_image(DATASETS / "lowlight-dev" / "high" / low_path.name).pixels[::2, ::2]
        session = enh.prepare(low)
        gains.append(psnr(session.render(session.auto_T(), finish), high)
                     - psnr(session.render(3.0, finish), high))
    assert min(gains) >= -1.0 and np.mean(gains) >= 0.0, gains


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
    assert bad.returncode == 2 and "expected a number, auto or auto:model" in bad.stderr


def test_train_refits_the_exposure_predictor_for_a_model(tmp_path, fixture_model_path):
    from clode.training.exposure_fit import fit_for_model
    photos = sorted((DATASETS / "photos").glob("*.jpg"))[:6]
    model = tmp_path / "mine.pth"
    model.write_bytes(fixture_model_path.read_bytes())
    net = load_model(model)
    out = fit_for_model(Enhancer(net, device="cpu"), model, photos, per_photo=1, side=24)
    assert out == tmp_path / "mine.exposure.json"
    fitted = for_model(load_model(model))
    assert fitted is not None and fitted.card["model"] == "mine.pth" and np.isfinite(fitted.error)
    assert np.isfinite(Enhancer(load_model(model), device="cpu").auto_T(photo_like(24)))
    bad = subprocess.run([sys.executable, "-m", "clode", "train", "--data", str(tmp_path), "--fit-exposure",
                          str(tmp_path / "missing.safetensors")], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing.safetensors" in bad.stderr and "Traceback" not in bad.stderr


def photo_like(side: int) -> np.ndarray:
    return darken(read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", side), 4.0)


@pytest.mark.slow       # the shipped model three times over: the CLI, the batch and the editor
def test_cli_batch_and_editor_choose_the_same_auto_T_with_the_same_taste(tmp_path, qtbot, monkeypatch):
    """The shipped model: one photo, three ways in, one automatic T, with the same learned taste (five
    edits that each chose 0.5 above Auto); ``--T auto:model`` ignores the taste."""
    pytest.importorskip("PySide6")
    import re
    from PIL import Image
    from clode.engine import taste
    from clode.engine.auto_exposure import FEATURES, Reading
    from clode.engine.session import PROXY_SIDE
    from clode_desktop.window.main_window import MainWindow
    from clode_desktop.base.settings import Settings
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))     # the subprocesses' too
    key = taste.model_key(load_model())
    for i in range(taste.MIN_EDITS):
        features = (-2.0 - 0.2 * i, -2.2 - 0.2 * i, 1.0, 1.0, 2.0 + 0.1 * i)[:len(FEATURES)]
        taste.record(key, f"/photos/{i}.jpg", Reading(features[-1], features), features[-1] + 0.5)
    folder = tmp_path / "in"
    folder.mkdir()
    photo = folder / "night.png"
    # a little short, with a lamp at white (so the mean's ramp decides, not the room below white)
    Image.fromarray((with_lamp(darken(read_photo(DATASETS / "photos" / "mate_nature-Dune.jpg", 200), 2.5)) * 255)
                    .round().astype(np.uint8)).save(photo)

    def cli_T(mode: str) -> float:
        cli = subprocess.run([sys.executable, "-m", "clode", "enhance", str(photo), "-o", str(tmp_path / mode.replace(":", "-")),
                              "--T", mode, "--device", "cpu"], capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        return float(re.search(r"T=([-0-9.]+)", cli.stdout).group(1))
    T_cli, T_model = cli_T("auto"), cli_T("auto:model")
    batch = subprocess.run([sys.executable, "-m", "clode", "batch", str(folder), "-o", str(tmp_path / "batch"),
                            "--T", "auto", "--device", "cpu"], capture_output=True, text=True)
    assert batch.returncode == 0, batch.stderr
    T_batch = float(re.search(r"T=([-0-9.]+)", next((tmp_path / "batch").glob("*.log")).read_text()).group(1))
    settings = Settings(tmp_path / "settings.ini")        # new photos open at Auto by default
    w = MainWindow(DEFAULT_MODEL, device="cpu", settings=settings, threaded=True, proxy_side=PROXY_SIDE)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.model_state is not None, timeout=120_000)
    w.open_file(photo)
    qtbot.waitUntil(lambda: not w.editing.auto_on_open and w.last_render is not None and not w.last_render.draft
                    and abs(w.last_render.T - w.exposure.value()) < 1e-6, timeout=240_000)
    T_editor = w.exposure.value()
    assert w.exposure.auto_mark() == pytest.approx(T_editor)          # the dial marks Auto
    w.close()
    assert T_cli == pytest.approx(T_batch, abs=0.01) and T_editor == pytest.approx(T_cli, abs=0.01)
    assert T_cli == pytest.approx(T_model + 0.5, abs=0.01)           # the taste, and only with auto
    assert 0.05 < T_model < 2.95        # the photo is one whose auto T is its own (a little short)
