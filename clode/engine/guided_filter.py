"""Fast guided filter (He and Sun, 2015) coefficients for edge-aware upsampling.

On the low-resolution grid, the filtered signal is modelled in each window as
``a * guide + b``; the smoothed coefficients are upsampled and applied to the
full-resolution guide, so edges of the output follow the guide's edges rather
than the low-resolution grid. ``a`` and ``b`` are linear in the signal, so the
coefficients of a signal interpolated in time are the interpolated coefficients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def luminance(image: torch.Tensor) -> torch.Tensor:
    """The guide: mean of the colour channels of an [..., 3] tensor, as [..., 1]."""
    return image.mean(-1, keepdim=True)


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window (shrunk at the borders) of [N, h, w, C]."""
    y = F.avg_pool2d(x.permute(0, 3, 1, 2), 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    return y.permute(0, 2, 3, 1)


def coefficients(guide: torch.Tensor, signal: torch.Tensor, radius: int, eps: float
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Smoothed (a, b) with ``signal ~ a * guide + b``; guide [h, w, 1], signal [N, h, w, C]."""
    g = guide[None].expand(signal.shape[0], *guide.shape)
    mean_g, mean_p = _box(g, radius), _box(signal, radius)
    cov = _box(g * signal, radius) - mean_g * mean_p
    var = _box(g * g, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    return _box(a, radius), _box(b, radius)
