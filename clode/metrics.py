"""Image quality scores with the LOL protocol used by the CLODE paper.

* PSNR on 8-bit images: both images are quantised as round(x * 255), peak 255.
* SSIM as MATLAB computes it (Wang et al.'s ``ssim_index.m``): 11 x 11
  Gaussian window with sigma 1.5, 'valid' filtering, constants
  C1 = (0.01 * 255)^2 and C2 = (0.03 * 255)^2 on 8-bit values, computed per
  colour channel and averaged, after dropping a 5-pixel border.

Inputs are H x W x 3 float arrays in [0, 1] (values outside are clipped) or
uint8 arrays. Scores are computed in float64 so that identical images give
exactly inf and 1.0.
"""

from __future__ import annotations

import numpy as np

from .errors import ClodeError

WINDOW = 11
SIGMA = 1.5
BORDER = 5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def quantize(img: np.ndarray) -> np.ndarray:
    """8-bit values (as float64) of an image in [0, 1], or of a uint8 image."""
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    return np.round(np.clip(img.astype(np.float64), 0.0, 1.0) * 255.0)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = quantize(a), quantize(b)
    if a.shape != b.shape:
        raise ClodeError(f"images differ in size: {a.shape} vs {b.shape}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images after 8-bit quantisation; inf when they are identical."""
    a, b = _pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0 ** 2 / mse))


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    """The normalised 1-D Gaussian; its outer product is MATLAB's fspecial('gaussian', size, sigma)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of the first two axes (the window is symmetric, so no flip)."""
    n = len(g)
    rows = np.lib.stride_tricks.sliding_window_view(x, n, axis=0) @ g
    return np.lib.stride_tricks.sliding_window_view(rows, n, axis=1) @ g


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MATLAB-style SSIM of two images (8-bit values, per channel, averaged, 5-px border dropped)."""
    a, b = _pair(a, b)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    a = a[BORDER:-BORDER, BORDER:-BORDER]
    b = b[BORDER:-BORDER, BORDER:-BORDER]
    if a.shape[0] < WINDOW or a.shape[1] < WINDOW:
        raise ClodeError(f"image too small for SSIM: need at least {WINDOW + 2 * BORDER} pixels a side")
    g = gaussian_window()
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    mu_aa, mu_bb, mu_ab = mu_a * mu_a, mu_b * mu_b, mu_a * mu_b
    var_a = _filter_valid(a * a, g) - mu_aa
    var_b = _filter_valid(b * b, g) - mu_bb
    cov = _filter_valid(a * b, g) - mu_ab
    ssim_map = ((2 * mu_ab + C1) * (2 * cov + C2)) / ((mu_aa + mu_bb + C1) * (var_a + var_b + C2))
    # Mean per channel, then over channels (equal sizes, so the same as one mean).
    return float(ssim_map.mean(axis=(0, 1)).mean())
