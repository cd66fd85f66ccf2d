"""How noisy a result is, estimated from the picture itself (no camera data needed).

The denoiser and the colour-noise reduction should work as hard as a photo needs: a
clean, well-lit photo must not be smeared, a dark one pushed five stops must come
out clean. ``estimate_sigma`` measures the noise of an image with Immerkaer's
Laplacian-difference operator (Immerkaer 1996, "Fast noise variance estimation"),
made robust to texture by taking the median response instead of the mean; the
session measures its own render at T on full-resolution crops, so the preview and
the export of one photo get the same strength.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

# The 3 x 3 difference of two Laplacians: zero on any locally planar image, and for white
# noise of std s its response has std 6 s (the kernel's squared weights sum to 36).
_KERNEL = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])
# Median of |N(0, 1)|.
_MEDIAN_ABS = 0.6744897501960817

#: 8-bit levels of output noise (per channel, ``estimate_noise``) from which the noise is
#: fully treated: lowlight-dev at the default T reads 4.5-18.5 before the denoiser.
FULL_STRENGTH_SIGMA = 4.0
#: Below this many levels nothing is done: the photo is clean at this exposure (clean,
#: well-lit photos read 0.3-0.8).
NO_STRENGTH_SIGMA = 1.0
#: Crops measured: CROPS x CROPS of CROP_SIDE pixels.
CROPS = 3
CROP_SIDE = 96


def estimate_sigma(image: torch.Tensor) -> float:
    """Noise std of [N, 3, H, W] (or [3, H, W]) images in [0, 1], in the same units, per channel
    and averaged; 0 for images under 3 pixels a side."""
    x = image if image.dim() == 4 else image[None]
    if x.shape[-1] < 3 or x.shape[-2] < 3:
        return 0.0
    c = x.shape[1]
    response = F.conv2d(x.float(), _KERNEL.to(x.device).view(1, 1, 3, 3).expand(c, 1, 3, 3), groups=c)
    return float(response.abs().flatten(2).median(-1).values.mean()) / (6 * _MEDIAN_ABS)


def estimate_noise(image: torch.Tensor) -> float:
    """Noise of [N, 3, H, W] images counting the coarse kind too: the larger of the pixel-level
    estimate and twice the estimate at half resolution. White noise reads the same at both
    (averaging 2 x 2 pixels halves it), while the blotchy noise of demosaicked, JPEG-compressed
    photos, which the pixel-level operator hardly sees, shows up at half resolution."""
    x = image if image.dim() == 4 else image[None]
    fine = estimate_sigma(x)
    if min(x.shape[-2:]) < 6:
        return fine
    return max(fine, 2 * estimate_sigma(F.avg_pool2d(x, 2)))


def sample_regions(height: int, width: int, side: int = CROP_SIDE, count: int = CROPS) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of up to ``count`` x ``count`` crops of ``side`` pixels spread evenly over the
    image (the whole image when it is that small): enough pixels for a stable estimate, few
    enough to cost milliseconds at any photo size."""
    w, h = min(side, width), min(side, height)
    xs = sorted({round(i * (width - w) / max(count - 1, 1)) for i in range(count)})
    ys = sorted({round(i * (height - h) / max(count - 1, 1)) for i in range(count)})
    return [(x, y, w, h) for y in ys for x in xs]


def strength_for(sigma: float) -> float:
    """How much of the noise treatment a result with noise ``sigma`` (in [0, 1] units) needs:
    0 for a clean one, 1 from ``FULL_STRENGTH_SIGMA`` levels on, smooth in between."""
    levels = sigma * 255
    u = (levels - NO_STRENGTH_SIGMA) / (FULL_STRENGTH_SIGMA - NO_STRENGTH_SIGMA)
    u = min(max(u, 0.0), 1.0)
    return u * u * (3 - 2 * u) if not math.isnan(u) else 1.0


def measured_strength(crop: Callable[[tuple[int, int, int, int]], torch.Tensor], height: int, width: int) -> float:
    """``strength_for`` the noise of a result, measured on ``crop(region)`` ([1, 3, h, w] pixels of
    the result, before any noise treatment) for each of ``sample_regions(height, width)``."""
    return strength_for(estimate_noise(torch.cat([crop(region) for region in sample_regions(height, width)])))
