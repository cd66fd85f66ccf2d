"""Colour-noise reduction: blur a result's chroma, keep its luminance.

A dark photo's noise is strongest in colour (a few photons per channel, each
channel brightened by its own curve), and the eye forgives soft colour far
more than soft detail -- the reason JPEG halves chroma resolution and photo
editors ship a colour-noise slider that is on by default. Measured on
lowlight-dev (fast path, T = 3, denoiser on), a Gaussian on the BT.601 chroma
with sigma = 1 / 2 / 3 px raised PSNR from 19.55 to 20.17 / 20.19 / 20.18 dB
and SSIM from 0.686 to 0.777 / 0.780 / 0.778. Strength 1 is sigma = 2 px of the
input photo; a view rendered smaller than the photo scales sigma with it.
"""

from __future__ import annotations

import math

import torch

#: Sigma in input pixels at strength 1.
SIGMA = 2.0
#: Below this sigma (in output pixels) the blur changes nothing visible: skipped.
MIN_SIGMA = 0.3

_TO_YCC = torch.tensor([[0.299, 0.587, 0.114],
                        [-0.168736, -0.331264, 0.5],
                        [0.5, -0.418688, -0.081312]])
_TO_RGB = torch.linalg.inv(_TO_YCC)


def sigma_for(strength: float, scale: float = 1.0) -> float:
    """Sigma in output pixels for a strength, when the output has ``scale`` output pixels per input pixel."""
    sigma = max(0.0, float(strength)) * SIGMA * scale
    return sigma if sigma >= MIN_SIGMA else 0.0


def radius(sigma: float) -> int:
    """Rows of context the blur needs on each side (0 when it is skipped)."""
    return math.ceil(3 * sigma) if sigma > 0 else 0


def _kernel(sigma: float, device) -> torch.Tensor:
    r = radius(sigma)
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    return k / k.sum()


def _blur(planes: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of [C, H, W] planes, borders replicated.

    As a sum of shifted slices: about 5x faster on a CPU than a depthwise
    conv2d, which runs these two-channel convolutions at a fraction of its
    usual speed (measured: 0.11 vs 0.51 s for a 2.5 MP strip, one thread).
    """
    k, r = _kernel(sigma, planes.device).tolist(), radius(sigma)
    for dim in (2, 1):
        n = planes.shape[dim]
        first, last = planes.narrow(dim, 0, 1), planes.narrow(dim, n - 1, 1)
        size = list(planes.shape)
        size[dim] = r
        padded = torch.cat([first.expand(size), planes, last.expand(size)], dim)
        out = padded.narrow(dim, 0, n) * k[0]
        for i in range(1, 2 * r + 1):
            out.add_(padded.narrow(dim, i, n), alpha=k[i])
        planes = out
    return planes


def reduce_colour_noise(rows: torch.Tensor, sigma: float) -> torch.Tensor:
    """``rows`` ([H, W, 3], RGB) with its chroma blurred by a Gaussian of ``sigma`` pixels.

    The borders are replicated: callers that process an image in strips pass
    ``radius(sigma)`` extra rows above and below and drop them afterwards.
    """
    if sigma <= 0:
        return rows
    h, w, _ = rows.shape
    ycc = rows.reshape(-1, 3) @ _TO_YCC.to(rows.device).T
    chroma = _blur(ycc[:, 1:].T.reshape(2, h, w), sigma)
    ycc = torch.cat([ycc[:, :1], chroma.reshape(2, -1).T], dim=1)
    return (ycc @ _TO_RGB.to(rows.device).T).reshape(h, w, 3).clamp_(0, 1)
