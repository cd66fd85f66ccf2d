"""Automatic exposure: an end time T per photo, without ground truth -- safe by construction.

What Auto does (``auto_T``; why each rule exists and what it was measured on: docs/auto-exposure.md):

* **A clearly dark photo gets the model's default T** (``DARK_MEAN``: the input's mean luminance at
  or below 0.22). The tones of a dark photo cannot say how bright its scene was (a dim bar and a
  bright one shot too short look alike). On 15 real captured low/normal pairs held by the team the
  default (T = 3) scored 18.59 dB, the learned estimate below 16.40 dB, and its T was unrelated to the
  best one; the synthetic night shots it was fitted on had said +1.5 to +2.1 dB (issue 28). So the
  learned estimate may move T from the default by at most ``LEARNED_REACH``, which is 0: a move of
  half a T in the wrong direction costs 1.7 to 5.8 dB on every dark pair we have (lowlight-dev and
  night shots; benchmarks/quality/auto_check.py prints it), and on real captures the direction is a coin toss.
* **A photo that is not dark keeps how it was shot**: T = 0 from ``LIT_MEAN`` (0.29) up. Of the 49
  photos of ``photos/`` that are not dim, 47 change by less than 10 % (the darkest, FreshFlower at
  0.28, gets T 0.14); the two dark forests (plasma-Path 0.16, plasma-OneStandsOut 0.18) are darker
  than a dim bar photo (bar55, 0.195), and no tone statistic tells them apart.
* **In between, a smooth blend** (``darkness``: a smoothstep in stops of the mean luminance), so
  two nearly identical photos get nearly the same T, and a brighter photo never a higher one. A
  scene only a little short lands here and gets less than the default.
* **Room below white lifts a photo that is not dark** (``HEADROOM_STOPS``): a photo whose brightest
  pixels stay well below white (0.7 stops and more) was shot short or dim, whatever its mean; its T
  rises toward the white-point rule's T (the white point pushed to white), never above the default.
  The 49 photos of ``photos/`` that are not dim all reach within 0.59 stops of white; the dim
  DarkestHour lies 1.06 below (and brightens); a lamp in the frame keeps the rule out.
* **Mid-tones never clip** (kept from the rules before): T is lowered until at most
  ``MIDTONE_CLIP`` of the pixels between the input's ``MIDTONES`` percentiles of luminance render
  above the clip level -- what the photo itself shows about a scene that the default would wash out
  (a lamp-lit face, a bright wall). It only ever lowers T, and never below 0.
* **Upper tones do not wash out** (``UPPER_TONES``, ``UPPER_CLIP``): the same for the pixels between
  the 80th and 97th percentiles, at most 5 % of them: a face lit by a flash in a dark bar, a sunset's
  glow, the part of a dark photo that was exposed well. No dark pair we have comes near it at the
  default T (at most 1.1 %), so it never moves a dark pair's T.
* **The photographer's taste** (``clode.engine.taste``): once a person has set T by hand on 5 or more
  photos for this model, their correction is added to the T above (``clode.engine.taste.auto_T``).

Everything Auto reads (``reading``) comes from the prepared session's proxy; the reading's
``features`` are what the taste learns from.

Kept for the studies and for ``clode train --fit-exposure`` (not used by ``auto_T`` while
``LEARNED_REACH`` is 0): the learned estimate (``clode.engine.exposure_model``: two ridge regressions fitted
on synthetic night shots; ``estimate_T``, ``learned_T``, ``held_by_rules``) and the white-point rule
(``choose_T``: the input's white point pushed to white; +1.2 dB over T = 3 on lowlight-dev, but
misled by any lamp in the frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch

from clode.base.adjustments import Adjustments
from clode.base.finish import Finish
from clode.engine.exposure_model import (CLIP_LEVEL, FEATURE_TS, Predictor, for_model, input_features, pushed_mean,
                             render_features, shortfall_features)
from clode.base.pixels import fit_size, image_tensor, resize
from clode.base.srgb import srgb_to_linear

#: The result's mean luminance (Rec. 709 of sRGB-encoded values) is kept at or below
#: this when Auto keeps the default T.
BRIGHTEST = 0.55
#: The white point: this percentile of each pixel's largest linear channel, measured
#: on a view of the input with this long side (averaging over a fixed area makes it
#: independent of resolution and steadies it against noise).
WHITE_PERCENTILE = 99.95
MEASURE_SIDE = 256
#: The linear level the white point is pushed to.
WHITE_LEVEL = 0.975
#: White points at or below the first (2 stops of headroom) follow the white point
#: alone; at or above the second (half a stop) they keep the default T; between, both blend.
TRUSTED_WHITE, IGNORED_WHITE = 1 / 4, 2 ** -0.5
ITERATIONS = 14

#: The rules around the learned estimate (see the module doc). Their settings, and LEARNED_TRUST,
#: were chosen by replaying them out of fold on the fitting photos (5 folds by photo: each shot's
#: estimate from the predictor fitted without its photo) with the product's finish, one setting
#: changed at a time (benchmarks/quality/study_night_exposure.py --stage rules). As shipped, the 315 night
#: shots gain +2.26 dB over T = 3 on average, 39 of them lose over 1 dB, and 5 of the 45 photos as
#: they are change their brightness by 10 % or more. The alternatives are quoted beside each setting.
#: Mid-tones: pixels between these percentiles of the input's luminance.
MIDTONES = (25, 75)
MIDTONE_CLIP = 0.02
#: Beside the learned estimate the white point is trusted less than alone (a small or dim lamp can
#: sit a stop or two below white in a short exposure): it decides alone at 4 stops or more below
#: white, not at all within 2 stops. From 0.5-2 stops (the rule's own) instead: +2.25 dB, 45 shots;
#: 1-3: +2.25, 44; 3-5: +2.21, 39. The photos as they are: unchanged.
LEARNED_TRUST = (1 / 16, 1 / 4)
#: "Not dark": 0.3 gives +2.25 dB, 40 shots, 5 photos; 0.4: +2.34, 39, but 6 photos; none: +2.44,
#: 38, 8 photos. 0.35 is the highest that keeps the 5.
NOT_DARK = 0.35
NOT_DARK_RISE = 0.05
#: Without this exception +2.12 dB and 43 shots (the worst: shots 1-2 EV short of a bright scene,
#: kept near T = 0); from 0.75 stops +2.38 and 38, but 6 photos; from 1.25 +2.23 and 40.
NOT_DARK_SHORT = 1.0
VERY_DARK = 0.15
#: How many of the predictor's RMS errors a very dark photo may stay below the default T: two, a
#: 95 % bound. No floor: +2.23 dB, 39 shots, 4 photos; one error: +2.15, 38, 5; 2.5: +2.26, 39, 5.
FLOOR_ERRORS = 2.0
#: The widest zone that costs under 0.05 dB of the mean gain: without it +2.29 dB and 47 shots; 0.2:
#: +2.26, 44; 0.3: +2.19, 37; 0.4: +2.12, 33.
DEFAULT_ZONE = 0.25

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def mean_luminance(img: np.ndarray) -> float:
    """Mean Rec. 709 luminance of an H x W x 3 image in sRGB-encoded values."""
    return float((img @ _LUMA).mean())


def white_point(view: np.ndarray, percentile: float = WHITE_PERCENTILE) -> float:
    """The linear white point of an H x W x 3 sRGB view (see WHITE_PERCENTILE)."""
    linear = srgb_to_linear(torch.from_numpy(np.asarray(view, np.float32)))
    return float(np.percentile(linear.amax(dim=-1).numpy(), percentile))


def pushed_brightness(view: np.ndarray, white: float, level: float = WHITE_LEVEL) -> float:
    """Mean luminance of ``view`` after an exposure push that takes ``white`` to ``level``."""
    return float(pushed_mean(view, math.log2(level / max(white, 1e-4))))


def trust(white: float, trusted: float = TRUSTED_WHITE, ignored: float = IGNORED_WHITE) -> float:
    """How much the white point decides T: 1 at or below ``trusted`` (2 stops of headroom), 0 at or
    above ``ignored`` (half a stop), linear in stops between."""
    stops = -math.log2(max(white, 1e-6))
    lo, hi = -math.log2(ignored), -math.log2(trusted)
    return min(1.0, max(0.0, (stops - lo) / (hi - lo)))


def match(brightness: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The T in [lo, hi] where the increasing ``brightness(T)`` reaches ``target`` (an end if
    it does not), rounded down to 0.01 so that ``brightness(T)`` stays at or below ``target``."""
    if brightness(hi) <= target:
        return float(hi)
    if brightness(lo) > target:
        return float(lo)
    for _ in range(ITERATIONS):
        mid = 0.5 * (lo + hi)
        if brightness(mid) > target:
            hi = mid
        else:
            lo = mid
    return math.floor(lo * 100) / 100


def guarded_default(brightness: Callable[[float], float], default_T: float, t_min: float) -> float:
    """``default_T``, lowered (not below ``t_min``) until ``brightness(T) <= BRIGHTEST``."""
    if brightness(default_T) <= BRIGHTEST:
        return float(default_T)
    return match(brightness, BRIGHTEST, t_min, default_T)


def choose_T(brightness: Callable[[float], float], view: np.ndarray, default_T: float,
             t_range: tuple[float, float]) -> float:
    """Auto T for an input ``view`` (sRGB, H x W x 3) whose result at T has mean luminance
    ``brightness(T)``, increasing with T."""
    t_min, t_max = t_range
    default_T = min(max(default_T, t_min), t_max)
    white = white_point(view)
    weight = trust(white)
    T_default = guarded_default(brightness, default_T, t_min) if weight < 1 else default_T
    if weight == 0:
        return T_default
    T_white = match(brightness, pushed_brightness(view, white), t_min, t_max)
    return round(weight * T_white + (1 - weight) * T_default, 2)


def measuring_view(image: np.ndarray) -> np.ndarray:
    """The input at MEASURE_SIDE on its long side (area-averaged), as H x W x 3 float32."""
    small = resize(image_tensor(image), fit_size(image.shape[0], image.shape[1], MEASURE_SIDE))
    return small[0].permute(1, 2, 0).clamp(0, 1).numpy()


def white_point_features(session, view: Optional[np.ndarray] = None) -> list[float]:
    """The white-point rule's reading (``clode.engine.auto_exposure``): the T that brings the input's
    white point to white, and how far that point lies below white (stops, capped at 6). ``view``:
    the session's ``measuring_view``, where the caller has it already."""
    view = measuring_view(session.image) if view is None else view
    white = white_point(view)
    lo, hi = session.t_range
    size = session.proxy_size
    T = match(lambda t: mean_luminance(session.render(t, Finish(denoise=0.0), size=size)),
              pushed_brightness(view, white), max(lo, 0.0), min(hi, FEATURE_TS[-1]))
    return [T, min(-math.log2(max(white, 1e-6)), 6.0)]


def session_features(session, view: Optional[np.ndarray] = None) -> np.ndarray:
    """The predictor's features of a prepared ``clode.engine.session.Session`` (T outside its prepared
    range is read at the range's end); the last two are ``white_point_features`` (which
    ``learned_T`` also reads)."""
    lo, hi = session.t_range
    size = session.proxy_size
    feats = input_features(session.proxy, session.image) + render_features(
        lambda T: session.render(min(max(T, lo), hi), Finish(denoise=0.0), size=size)
    ) + white_point_features(session, view)
    return np.array(feats, np.float64)


def finished_brightness(session) -> Callable[[float], float]:
    """T -> mean luminance of the session's proxy render with the default finish (denoiser and
    colour-noise reduction), as the photo will look at that T."""
    finish = Adjustments().finish
    return lambda T: mean_luminance(session.render(T, finish, size=session.proxy_size))


def estimated_shortfall(predictor: Predictor, view: np.ndarray) -> Optional[float]:
    """How many stops the input (its ``measuring_view``) fell short, by the predictor's shortfall
    estimate (None for a predictor without one)."""
    return None if predictor.shortfall is None else predictor.shortfall.predict(shortfall_features(view))


def estimate_T(session, predictor: Predictor, features: np.ndarray, view: Optional[np.ndarray] = None,
               shortfall: Optional[float] = None) -> float:
    """The predictor's T before the rules: the mean of its two estimates where it has both -- T read
    from the features, and the T whose finished render has the brightness of the input pushed by the
    estimated shortfall. Their errors are partly independent: on the fitting photos' night shots (5
    folds by photo, scored without the denoiser) the mean lost fewer shots by over 1 dB against T = 3
    than either (45 of 315, against 56 and 52) and gained more (+1.60 against +1.50 dB for both;
    benchmarks/quality/study_night_exposure.py). ``view`` and ``shortfall`` (``estimated_shortfall``): where the
    caller has them already."""
    T = predictor.T.predict(features)
    if predictor.shortfall is None:
        return T
    view = measuring_view(session.image) if view is None else view
    target = float(pushed_mean(view, estimated_shortfall(predictor, view) if shortfall is None else shortfall))
    return 0.5 * (T + match(finished_brightness(session), target, *session.t_range))


def learned_T(session, predictor: Predictor, default_T: float) -> float:
    """The predictor's T for a prepared session, held by the rules of the module doc."""
    view = measuring_view(session.image)
    features = session_features(session, view)
    shortfall = estimated_shortfall(predictor, view)
    T = beside_white_point(features, estimate_T(session, predictor, features, view, shortfall))
    return held_by_rules(session, T, default_T, predictor.error, shortfall=shortfall)


def beside_white_point(features: np.ndarray, estimate: float,
                       trust_range: tuple[float, float] = LEARNED_TRUST) -> float:
    """The white-point rule's T (read from ``session_features``' last two) where the white point lies
    well below white (no light in the frame: there it is the better witness), ``estimate`` where a
    lamp or a window reaches white, and a blend between (``trust_range``: trusted, ignored)."""
    T_white, stops = features[-2], features[-1]
    weight = trust(2.0 ** -stops, *trust_range)
    return weight * T_white + (1 - weight) * estimate


def held_by_rules(session, T: float, default_T: float, error: float, *, shortfall: Optional[float] = None,
                  floor_errors: Optional[float] = FLOOR_ERRORS, not_dark: Optional[float] = NOT_DARK,
                  not_dark_short: Optional[float] = NOT_DARK_SHORT, zone: Optional[float] = DEFAULT_ZONE) -> float:
    """``T`` held by the rules of the module doc (``error``: the estimate's RMS error in T;
    ``shortfall``: the estimated stops short, None where the predictor has no such estimate;
    ``floor_errors``, ``not_dark``, ``not_dark_short`` or ``zone`` None switches that rule or
    exception off, for studies)."""
    t_min, t_max = session.t_range
    T, default_T = min(max(T, t_min), t_max), min(max(default_T, t_min), t_max)
    if zone is not None and abs(T - default_T) < zone:
        T = default_T
    luma = session.proxy[0].permute(1, 2, 0).cpu().numpy() @ _LUMA
    # A scene's own darkness: the median, which the lights in the frame do not move.
    scene = float(np.median(luma))

    def render(t: float) -> np.ndarray:
        return session.render(t, Finish(denoise=0.0), size=session.proxy_size)

    if floor_errors is not None and scene < VERY_DARK:
        T = max(T, default_T - floor_errors * error)
    short = shortfall is not None and not_dark_short is not None and shortfall >= not_dark_short
    if not_dark is not None and float(luma.mean()) >= not_dark and not short:
        T = min(T, match(lambda t: mean_luminance(render(t)), mean_luminance(render(0.0)) * (1 + NOT_DARK_RISE),
                         min(0.0, T), max(0.0, T)))
    lo, hi = np.percentile(luma, MIDTONES)
    mid = (luma >= lo) & (luma <= hi)
    if mid.any():
        T = min(T, match(lambda t: float((render(t)[mid].max(-1) > CLIP_LEVEL).mean()), MIDTONE_CLIP,
                         min(0.0, T), max(0.0, T)))
    return round(float(T), 2)


#: The safe Auto's darkness measure: the input's mean luminance (Rec. 709 of sRGB values, on the
#: proxy). At or below DARK_MEAN a photo is clearly dark, at or above LIT_MEAN it is not dark. Measured
#: at 256 px: lowlight-dev's low photos lie at 0.06-0.18; night shots (study_night_exposure) 3-7 EV
#: short at 0.04-0.22; the photos of photos/ that are not dim at 0.28-0.83 but for the two dark forests
#: (plasma-Path 0.16, plasma-OneStandsOut 0.18), the dim ones at 0.15-0.30 (summer_1am 0.52). The
#: ramp sits above the forests (they cannot be told from a dim photo) and ends where the darkest
#: well-exposed photo (FreshFlower, 0.28) still gets T < 0.15, a change under 5 %. Night shots only
#: 1-2 EV short (0.24-0.28) are tonally well-exposed photos: they land on the ramp or above it.
DARK_MEAN, LIT_MEAN = 0.22, 0.29
#: How far the learned estimate may move a dark photo's T from the default: not at all (module doc).
LEARNED_REACH = 0.0


#: The upper tones never wash out: T is lowered until at most UPPER_CLIP of the pixels between these
#: percentiles of the input's luminance render above the clip level -- a face lit by a flash in a dark
#: bar, a sunset's glow: the part of a dark photo that was exposed well already. The band stops below
#: the brightest 3 % (a lamp may clip). Measured at T = 3 (proxy, no denoiser): the dim photos bar55,
#: bar55_2, sunset and cincinnati-bridge clip 26 %, 7.5 %, 20 % and 8.7 % of this band; every dark pair
#: we have at most 1.1 % (lowlight-dev 0, the RAW-like pairs 0, the 33 held-out night shots 0-1.1 %),
#: so the rule leaves every dark pair's T as it was.
UPPER_TONES = (80, 97)
UPPER_CLIP = 0.05

#: The headroom rule: how far the input's white point (``white_point`` of the ``measuring_view``) lies
#: below white, in stops. A photo shot short is short everywhere, its brightest pixels too, unless a
#: lamp in the frame reaches white; a well-exposed photo uses its range. Measured at 256 px: the 49
#: photos of photos/ that are not dim lie 0.00-0.59 stops below white (RainDrops 0.59, the forests
#: 0.31 and 0.49), the dim DarkestHour 1.06 (the only photo with that much room), night shots without
#: a lamp their shortfall and more. From the first to the second, the white-point rule's T (the
#: input's white point pushed to ``WHITE_LEVEL``) counts more and more, up to all of it; never above
#: the default T. A lamp that reaches white keeps the rule out (the photo keeps the T of the rules
#: above, no worse than before).
HEADROOM_STOPS = (0.7, 1.5)


def headroom_weight(stops: float) -> float:
    """How much the white-point rule's T counts (0-1) for a white point ``stops`` below white: 0 up to
    ``HEADROOM_STOPS[0]``, 1 from ``HEADROOM_STOPS[1]``, a smoothstep between (never falling with the
    headroom, so never rising with the photo's brightness)."""
    lo, hi = HEADROOM_STOPS
    x = min(1.0, max(0.0, (stops - lo) / (hi - lo)))
    return x * x * (3 - 2 * x)


def darkness(mean: float) -> float:
    """1 for a clearly dark photo (mean luminance at or below DARK_MEAN), 0 for one that is not dark
    (at or above LIT_MEAN), a smoothstep in stops between: continuous, with a continuous slope, and
    never rising with the brightness."""
    x = (math.log2(LIT_MEAN) - math.log2(max(mean, 1e-6))) / (math.log2(LIT_MEAN) - math.log2(DARK_MEAN))
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Reading:
    """What Auto read from a photo: its T before the photographer's taste, and the features the taste
    learns from (``FEATURES`` name them)."""
    T: float
    features: tuple[float, ...]


#: The reading's features: the input's mean and median luminance (stops), how far its white point
#: lies below white (stops, capped at 6), the darkness weight, and the T Auto chose.
FEATURES = ("log2 mean", "log2 median", "white stops", "darkness", "auto T")


def reading(session, default_T: float) -> Reading:
    """Auto's T for a prepared ``clode.engine.session.Session`` before the taste (module doc), and its features."""
    t_min, t_max = session.t_range
    default_T = min(max(default_T, t_min), t_max)
    luma = session.proxy[0].permute(1, 2, 0).cpu().numpy() @ _LUMA
    mean, median = float(luma.mean()), float(np.median(luma))
    dark = darkness(mean)
    T_dark = default_T
    predictor = for_model(session.net) if LEARNED_REACH > 0 else None
    if predictor is not None:
        T_dark += min(LEARNED_REACH, max(-LEARNED_REACH, learned_T(session, predictor, default_T) - default_T))
    T = min(max(dark * T_dark, t_min), t_max)      # T = 0 (the photo as shot) for a photo that is not dark
    view = measuring_view(session.image)
    white = white_point(view)
    room = headroom_weight(-math.log2(max(white, 1e-6)))
    if room > 0 and T < default_T:
        T = max(T, room * headroom_T(session, view, white, default_T))
    T = min(T, midtone_limit(session, luma, T))
    T = round(float(min(T, upper_tone_limit(session, luma, T))), 2)
    features = (math.log2(max(mean, 1e-4)), math.log2(max(median, 1e-4)), min(-math.log2(max(white, 1e-6)), 6.0),
                dark, T)
    return Reading(T, tuple(float(f) for f in features))


def headroom_T(session, view: np.ndarray, white: float, default_T: float) -> float:
    """The T in [0, ``default_T``] whose render (proxy, no denoiser) has the mean luminance of ``view``
    (the ``measuring_view``) pushed until its white point ``white`` reaches ``WHITE_LEVEL``."""
    return match(lambda t: mean_luminance(session.render(t, Finish(denoise=0.0), size=session.proxy_size)),
                 pushed_brightness(view, white), max(session.t_range[0], 0.0), max(default_T, 0.0))


def midtone_limit(session, luma: np.ndarray, T: float) -> float:
    """The highest T up to ``T`` (not below 0) at which at most MIDTONE_CLIP of the input's mid-tones
    (``luma``: the proxy's luminance) render above the clip level; ``T`` itself when it is not above 0."""
    return clip_limit(session, luma, T, MIDTONES, MIDTONE_CLIP)


def upper_tone_limit(session, luma: np.ndarray, T: float) -> float:
    """The same for the input's upper tones (``UPPER_TONES``, at most ``UPPER_CLIP`` of them clip)."""
    return clip_limit(session, luma, T, UPPER_TONES, UPPER_CLIP)


def clip_limit(session, luma: np.ndarray, T: float, band: tuple[float, float], share: float) -> float:
    """The highest T up to ``T`` (not below 0) at which at most ``share`` of the pixels between the
    ``band`` percentiles of the input's luminance (``luma``: the proxy's) render above the clip level;
    ``T`` itself when it is not above 0."""
    if T <= 0:
        return T
    lo, hi = np.percentile(luma, band)
    inside = (luma >= lo) & (luma <= hi)
    if not inside.any():
        return T
    return match(lambda t: float((session.render(t, Finish(denoise=0.0), size=session.proxy_size)[inside].max(-1)
                                  > CLIP_LEVEL).mean()), share, 0.0, T)
