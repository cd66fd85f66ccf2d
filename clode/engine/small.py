"""Images smaller than the network can take: a side of 1 or 2 pixels (a 1 x 1 GIF-sized PNG, a
2 x 3000 strip) breaks the curve network's reflect padding. ``pad_small`` enlarges such an image
by repeating its edge pixels before the network sees it; the caller crops the result back to
``[..., :H, :W]``. An image of at least ``MIN_SIDE`` on both sides is returned as it is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: The smallest side given to the network (its reflect padding needs more than 2 pixels; a few
#: more keep its GroupNorm statistics meaningful).
MIN_SIDE = 8


def pad_small(x: torch.Tensor, min_side: int = MIN_SIDE) -> torch.Tensor:
    """``x`` (N x C x H x W), edge-padded at the bottom and right to at least ``min_side`` each way."""
    h, w = x.shape[-2:]
    if h >= min_side and w >= min_side:
        return x
    return F.pad(x, (0, max(0, min_side - w), 0, max(0, min_side - h)), mode="replicate")
