"""The ground floor for pixels: one resize, one quantize (imports nothing else of ``clode``).

Sizes are always ``(H, W)``, as numpy and torch shape images.
"""

from __future__ import annotations

from typing import TypeVar, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from clode.base.errors import ClodeError

Size = tuple[int, int]               # H, W
Pixels = TypeVar("Pixels", np.ndarray, torch.Tensor)


def fit_size(height: int, width: int, side: int) -> Size:
    """(H, W) scaled down (never up) so the long side is at most ``side``."""
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def image_tensor(img: np.ndarray) -> torch.Tensor:
    """[1, 3, H, W] view of an H x W x 3 float32 array (channels-last memory, no copy)."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ClodeError(f"expected an H x W x 3 image, got shape {img.shape}")
    return torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)[None]


def resize(a: Pixels, size: Size) -> Pixels:
    """``a`` resized to ``size`` = (H, W).

    A numpy H x W [x C] float32 image is area-averaged when shrinking (bilinear when growing) and
    clipped to [0, 1]; a torch [N, C, h, w] tensor gets an antialiased bilinear resize (the one
    resampler of proxies and views) and is returned as is when it already has that size.
    """
    h, w = int(size[0]), int(size[1])
    if isinstance(a, torch.Tensor):
        if tuple(a.shape[-2:]) == (h, w):
            return a
        return F.interpolate(a, size=(h, w), mode="bilinear", align_corners=False,
                             antialias=h < a.shape[-2] or w < a.shape[-1])
    planes = a[..., None] if a.ndim == 2 else a
    out = np.empty((h, w, planes.shape[2]), np.float32)
    for c in range(planes.shape[2]):
        ch = Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32), mode="F")
        out[..., c] = np.asarray(ch.resize((w, h), Image.Resampling.BOX if w < a.shape[1]
                                           else Image.Resampling.BILINEAR))
    np.clip(out, 0.0, 1.0, out=out)
    return out[..., 0] if a.ndim == 2 else out


def fit_long_edge(a: np.ndarray, side: int) -> np.ndarray:
    """An H x W x 3 image (float in [0, 1], or uint8) shrunk so its long side is ``side`` pixels (never
    enlarged; returned as is when it fits): the export's resize. Lanczos-3 on float data, as darktable
    and Lightroom resize exports (sharper than area averaging, and the float data keeps the low
    levels of a dark photo that 8 bits would band); its slight overshoot is clipped to [0, 1]."""
    h, w = a.shape[:2]
    size = fit_size(h, w, side)
    if size == (h, w):
        return a
    planes = a.astype(np.float32) / np.float32(255) if a.dtype == np.uint8 else np.asarray(a, np.float32)
    out = np.empty((size[0], size[1], planes.shape[2]), np.float32)
    for c in range(planes.shape[2]):
        ch = Image.fromarray(np.ascontiguousarray(planes[..., c]), mode="F")
        out[..., c] = np.asarray(ch.resize((size[1], size[0]), Image.Resampling.LANCZOS, reducing_gap=3.0))
    return np.clip(out, 0.0, 1.0, out=out)


def quantize(a: np.ndarray, bits: int = 8) -> np.ndarray:
    """Integer levels (8 or 16 bits) of ``a`` in [0, 1] (rounded; values outside are clipped);
    uint8 input is kept (or widened)."""
    if a.dtype == np.uint8:
        return a if bits == 8 else a.astype(np.uint16) * np.uint16(257)
    top = 65535.0 if bits == 16 else 255.0
    return np.rint(np.clip(a, 0.0, 1.0) * np.float32(top)).astype(np.uint16 if bits == 16 else np.uint8)


def to_uint8(img: Union[np.ndarray, torch.Tensor]) -> np.ndarray:
    """An H x W x 3 image in [0, 1] as contiguous uint8 (for display)."""
    return np.ascontiguousarray(quantize(np.asarray(img), 8))
