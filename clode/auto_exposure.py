"""Automatic exposure: an end time T per photo, without ground truth.

The trained model's default T is already adaptive -- its curves brighten a
dark scene more than a dim one -- and on the project's lowlight-dev set no
global statistic we measured (mean or log-average brightness, histogram
entropy, well-exposedness, contrast, percentiles) picked a better T than the
default: each lost 1.5-3 dB against it. So the automatic choice keeps the
default unless its result is plainly mis-exposed, and then moves T only as far
as needed to bring the mean luminance back into a normal band. That is what a
photographer needs from "Auto" on photos that are not very dark: an already
bright photo is not pushed into white, a backlit one is not left murky.

Brightness is monotonic in T, so a bisection on cheap proxy-sized renders of a
prepared session (no network evaluations) finds T in milliseconds.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Mean luminance (Rec. 709, sRGB-encoded values) of a normally exposed result.
BAND = (0.30, 0.62)
ITERATIONS = 14


def mean_luminance(img: np.ndarray) -> float:
    return float((img @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def choose_T(brightness: Callable[[float], float], default_T: float, t_min: float, t_max: float,
             band: tuple[float, float] = BAND) -> float:
    """The default T if its brightness is inside ``band``; else the T that reaches the band's nearest edge."""
    level = brightness(default_T)
    if band[0] <= level <= band[1]:
        return float(default_T)
    too_bright = level > band[1]
    target = band[1] if too_bright else band[0]
    lo, hi = (t_min, default_T) if too_bright else (default_T, t_max)
    far = lo if too_bright else hi
    if (brightness(far) - target) * (level - target) > 0:
        return float(far)     # the band cannot be reached: go as far as allowed
    for _ in range(ITERATIONS):
        mid = 0.5 * (lo + hi)
        if brightness(mid) < target:
            lo = mid
        else:
            hi = mid
    return round(0.5 * (lo + hi), 2)


def auto_T(session, default_T: float) -> float:
    """Automatic T for a prepared ``clode.session.Session`` (renders at the proxy size, no denoiser)."""
    size = session.proxy_size
    t_lo, t_hi = session.t_range
    return choose_T(lambda T: mean_luminance(session.render(T, size=size, denoise=0.0)), default_T, t_lo, t_hi)
