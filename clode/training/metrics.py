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

from clode.base.errors import ClodeError

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


# ---------------------------------------------------------------- colour and noise figures

#: sRGB (D65) -> CIE XYZ.
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(img: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an sRGB image in [0, 1] (or uint8), H x W x 3 float64."""
    x = quantize(img) / 255.0
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _RGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def hue_shift(before: np.ndarray, after: np.ndarray, min_chroma: float = 6.0, min_lightness: float = 2.0) -> float:
    """Mean CIELAB hue-angle change in degrees from ``before`` to ``after``.

    Over the pixels where both have chroma >= ``min_chroma`` and ``before`` has
    L >= ``min_lightness``; each pixel's absolute angle difference (0-180) is
    weighted by min(chroma before, chroma after), so near-gray pixels, whose hue
    is mostly noise, count little. 0 when no pixel qualifies.
    """
    a, b = srgb_to_lab(before), srgb_to_lab(after)
    if a.shape != b.shape:
        raise ClodeError(f"images differ in size: {a.shape} vs {b.shape}")
    ca, cb = np.hypot(a[..., 1], a[..., 2]), np.hypot(b[..., 1], b[..., 2])
    mask = (ca >= min_chroma) & (cb >= min_chroma) & (a[..., 0] >= min_lightness)
    if not mask.any():
        return 0.0
    ha = np.arctan2(a[..., 2], a[..., 1])[mask]
    hb = np.arctan2(b[..., 2], b[..., 1])[mask]
    diff = np.degrees(np.abs(np.angle(np.exp(1j * (hb - ha)))))
    weight = np.minimum(ca, cb)[mask]
    return float((diff * weight).sum() / weight.sum())


def _box_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Means of the non-overlapping k x k blocks of the first two axes (the rest cropped)."""
    h, w = (x.shape[0] // k) * k, (x.shape[1] // k) * k
    x = x[:h, :w]
    return x.reshape(h // k, k, w // k, k, *x.shape[2:]).mean((1, 3))


def flat_patches(reference: np.ndarray, patch: int = 16, share: float = 0.2) -> np.ndarray:
    """Boolean grid of the ``patch``-pixel blocks of ``reference`` that are smooth in the scene.

    The scene is the reference blurred (4 x 4 block means, which average the
    noise away); a block is smooth when its blurred gradient energy is among the
    lowest ``share`` of the blocks that are neither black nor clipped.
    """
    ref = quantize(reference).mean(2) / 255.0
    small = _box_mean(ref, 4)
    gy, gx = np.gradient(small)
    energy = _box_mean((gy * gy + gx * gx)[..., None], patch // 4)[..., 0]
    level = _box_mean(ref[..., None], patch)[..., 0][:energy.shape[0], :energy.shape[1]]
    usable = (level > 0.02) & (level < 0.95)
    if not usable.any():
        return np.zeros_like(usable)
    cut = np.quantile(energy[usable], share)
    return usable & (energy <= cut)


def untextured_patches(reference: np.ndarray, patch: int = 16, share: float = 0.2, spread: float = 2.0) -> np.ndarray:
    """``flat_patches`` without the blocks that hold fine texture: a pinstriped shirt or wood grain with a
    period of 4 px or less vanishes under ``flat_patches``' 4 x 4 block means, and in a dark photo it
    then reads as flat, so lifting it is counted as noise (bar55_2: 185 of its 322 blocks).

    A kept block's fine residual in ``reference`` (RMS of the luminance minus its 3 x 3 box blur,
    8-bit levels) is at most ``spread`` times the photo's own floor: the lower quartile of the flat
    blocks' residuals (at least half a level, the quantisation's). Noise keeps blocks near that floor;
    texture stands far above it."""
    flat = flat_patches(reference, patch, share)
    if not flat.any():
        return flat
    fine = _residual_rms(quantize(reference).mean(2, keepdims=True), patch)[:flat.shape[0], :flat.shape[1]]
    floor = max(float(np.percentile(fine[flat], 25)), 0.5)
    return flat & (fine <= spread * floor)


def _residual_rms(x: np.ndarray, patch: int) -> np.ndarray:
    """Per ``patch`` block: the RMS over pixels and channels of ``x`` (H x W x C, levels) minus its
    3 x 3 box blur, scaled so white Gaussian noise of std s reads s."""
    h, w = x.shape[:2]
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    blur = sum(pad[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    # For white noise, x - box3(x) has variance s^2 (1 - 1/9): undo that factor.
    return np.sqrt(_box_mean((x - blur) ** 2, patch).mean(-1) / (1 - 1 / 9))


def flat_noise(img: np.ndarray, patches: np.ndarray, patch: int = 16) -> float:
    """Noise in 8-bit levels: the median over the chosen blocks of the RMS of the image
    minus its 3 x 3 box blur (all channels), scaled so white Gaussian noise of std s reads s."""
    rms = _residual_rms(quantize(img), patch)[:patches.shape[0], :patches.shape[1]]
    return float(np.median(rms[patches])) if patches.any() else 0.0
