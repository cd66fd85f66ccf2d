"""Automatic exposure: an end time T per photo, without ground truth.

The trained model's default T is already adaptive -- its curves brighten a
dark scene more than a dim one -- and ``benchmarks/study_auto_exposure.py``
found nothing blind that beats it where it matters. On lowlight-dev and on
pairs made from ``photos/`` with the same darkening, an estimate of T from the
input's mean luminance (T = 4.261 + 0.461 ln(mean), fitted on the pairs) gains
+0.50 dB on lowlight-dev and +0.10 dB on the pairs, but it assumes every photo
is 3.5-5.5 stops under: on real, merely dim photos (the bar, the foggy lake at
blue hour) it raises T to 3.5-3.7 and washes them out. Estimates from the
result's brightness, and fixed brightness targets, lost on one set or both.

So Auto keeps the default T and only guards against white: if the result's
mean luminance is above BRIGHTEST, T is lowered until it is not (an already
bright photo is not pushed into white; a misty night is not washed out). The
first rule also raised T when the result was darker than 0.30; that edge went,
as it cost 0.43 dB on the synthetic pairs, whose ground truths are dark scenes.

Brightness is monotonic in T, so a bisection on cheap proxy-sized renders of a
prepared session (no network evaluations) finds the guard's T in milliseconds.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: The result's mean luminance (Rec. 709 of sRGB-encoded values) is kept at or below this.
BRIGHTEST = 0.62
ITERATIONS = 14


def mean_luminance(img: np.ndarray) -> float:
    """Mean Rec. 709 luminance of an H x W x 3 image in sRGB-encoded values."""
    return float((img @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def choose_T(brightness: Callable[[float], float], default_T: float, t_min: float) -> float:
    """``default_T``, lowered (not below ``t_min``) until ``brightness(T) <= BRIGHTEST``.

    ``brightness(T)`` is the result's mean luminance at T, increasing with T.
    """
    if brightness(default_T) <= BRIGHTEST:
        return float(default_T)
    lo, hi = t_min, default_T
    if brightness(lo) > BRIGHTEST:
        return float(lo)      # too bright even at the darkest end: go as far as allowed
    for _ in range(ITERATIONS):
        mid = 0.5 * (lo + hi)
        if brightness(mid) > BRIGHTEST:
            hi = mid
        else:
            lo = mid
    return round(lo, 2)


def auto_T(session, default_T: float) -> float:
    """Automatic T for a prepared ``clode.session.Session`` (renders at the proxy size, no denoiser)."""
    size = session.proxy_size
    t_lo, t_hi = session.t_range
    return choose_T(lambda T: mean_luminance(session.render(T, size=size, denoise=0.0)),
                    min(max(default_T, t_lo), t_hi), t_lo)
