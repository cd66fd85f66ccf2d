"""Near-black stays neutral as it rises: the colour of pixels at the noise floor fades toward gray.

In the darkest pixels of a photo the colour is not the scene's: it is the JPEG encoder's cast, the
sensor's noise and 8-bit quantisation (a night sky stored as RGB (1, 1, 0) of 255). The exposure
curve lifts those pixels tenfold and more, and their colour with them: a black museum sky,
(0.9, 0.9, 0.2) of 255 on average, came out olive (11.6, 12.8, 1.8) at T = 3, grainy and green.

The rule, per pixel: how far the input stands above the noise floor is ``snr`` = the input's
brightest channel over the noise its colour carries: the photo's measured noise
(``clode.engine.noise_level.estimate_noise`` on the input) as the finish's colour-noise reduction leaves it
(``CHROMA_AVERAGING``), never taken below ``NOISE_FLOOR`` levels (quantisation alone leaves that). Above
``SIGNAL_SNR`` the colour is signal and is kept exactly; below ``NOISE_SNR`` it is noise; between
them a smooth step ``w`` says how much of it is signal. The noise part of the colour is not lifted:
the pixel's chroma (its deviation from its own BT.601 luma) is scaled by

    keep = w + (1 - w) * min(1, brightest in / brightest out)

so a noise-floor pixel keeps the chroma it had in the input (a level or two, invisible) while its
brightness rises, and a pixel that is not brightened (T <= 0, a highlight) keeps all of it. The luma
is untouched: the brightness, the tones and every pixel with real colour stay as rendered.

Measured (``benchmarks/quality/near_black.py``, T = 3, product finish): the mean CIELAB chroma of the pixels
whose input is at most 4 of 255 went from 4.70 to 0.74 on average (2.46 at most, was up to 10.3) over
the dim photos that have such pixels and three very dark test photos; the dim photos' hue shift
stayed 1.95°, at Auto 2.14°.
"""

from __future__ import annotations

from typing import Callable

import torch

from clode.engine.noise_level import estimate_noise, sample_regions

#: The least noise (8-bit levels) the input is taken to have: an 8-bit pixel's colour is uncertain by
#: a level even in a noiseless file (quantisation and JPEG's chroma rounding), and the measurement
#: reads ~0 on photos whose dark parts were flattened to a few levels by the encoder.
NOISE_FLOOR = 1.0
#: How much the product's colour-noise reduction (a 1-px chroma blur at the default strength) divides
#: white noise in the colour: 2 sqrt(pi) for a Gaussian of 1 px. Without it the per-pixel noise of
#: noisy photos widened the rule to colours that are signal once averaged: lowlight-dev at T = 3 fell
#: from 21.53 dB / 0.843 to 21.37 / 0.830 (its input noise reads 1.7-5.1 levels); with it, 21.53 / 0.837.
CHROMA_AVERAGING = 3.54
#: Brightest channel over the noise below which a pixel's colour counts as noise...
NOISE_SNR = 2.0
#: ... and above which it is the scene's (kept exactly). With the floor of one level: pixels whose
#: brightest channel is under 2 levels are all noise, over 10 levels all signal.
SIGNAL_SNR = 10.0

# BT.601 luma, as the colour-noise reduction splits luma and chroma (clode.engine.colour_noise).
_LUMA = (0.299, 0.587, 0.114)


def input_noise(crop: Callable[[tuple[int, int, int, int]], torch.Tensor], height: int, width: int) -> float:
    """The noise of the input's colour in 8-bit levels: the measured noise over ``CHROMA_AVERAGING``,
    at least ``NOISE_FLOOR``; measured on ``crop(region)``
    ([1, 3, h, w] input pixels in [0, 1]) for each of ``clode.engine.noise_level.sample_regions``: the same
    crops, so the same number, for a photo whichever path renders it."""
    measured = estimate_noise(torch.cat([crop(region) for region in sample_regions(height, width)]))
    return max(measured * 255.0 / CHROMA_AVERAGING, NOISE_FLOOR)


def signal_weight(brightest: torch.Tensor, noise: float) -> torch.Tensor:
    """How much of a pixel's colour is signal (0-1) for the input's brightest channel ``brightest``
    (in [0, 1]) and the input's ``noise`` (levels)."""
    u = (brightest * (255.0 / noise) - NOISE_SNR) / (SIGNAL_SNR - NOISE_SNR)
    u = u.clamp_(0, 1)
    return u * u * (3 - 2 * u)


def fade_near_black(rows: torch.Tensor, brightest_in: torch.Tensor, noise: float) -> torch.Tensor:
    """``rows`` ([H, W, 3] RGB in [0, 1], a finished render) with the chroma of its near-black pixels
    faded (module doc), in place where it can be; ``brightest_in`` ([H, W, 1]) is the input's brightest
    channel at the same pixels, ``noise`` the input's noise in levels (``input_noise``)."""
    w = signal_weight(brightest_in.to(rows.dtype), noise)
    if not bool((w < 1).any()):
        return rows
    brightest_out = rows.amax(-1, keepdim=True).clamp_(min=1e-6)
    # keep - 1 = (1 - w) (ratio - 1): exactly 0 for signal (w = 1) and for pixels not lifted (ratio 1),
    # which then stay bit for bit as rendered
    change = (brightest_in / brightest_out).clamp_(max=1.0).sub_(1).mul_(1 - w)
    luma = rows[..., 0:1] * _LUMA[0] + rows[..., 1:2] * _LUMA[1] + rows[..., 2:3] * _LUMA[2]
    # rows + change * (rows - luma): the luma weights sum to 1, so the luma stays
    return rows.addcmul_(rows - luma, change).clamp_(0, 1)
