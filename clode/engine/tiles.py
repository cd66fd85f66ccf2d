"""Running the denoiser at full resolution in overlapping tiles.

The denoiser D sees ``D.halo`` pixels each side (2 for the published one, 8
for the dilated one), so a tile computed with that many extra pixels on each
inner side and cropped back equals the untiled result: the zero padding inside a tile only
reaches the discarded margin, and at the image's own borders the tile sees
the same zero padding as the whole image would. Memory is bounded by the
tile, not the image; on a GPU out-of-memory error the tile is halved and the
work retried.
"""

from __future__ import annotations

from typing import Iterator, Optional

import torch

from clode.engine.network import CLODENet
from clode.base.progress import CancelToken, check

#: Tile side (pixels) for the denoiser; 1 MP tiles keep the 48-channel
#: intermediates at ~200 MB each on a GPU.
DENOISE_TILE = 1024
#: On the CPU, tiles up to 1024 px a side: large enough that their overlap costs little. Smaller ones were
#: needed while glibc mapped every large buffer afresh (12 MP, one thread: 1024 -> 7.1 s user + 9.1 s
#: system, 256 -> 7.5 s + 0.1 s); since clode.engine.heap keeps buffers, 1024 is the fastest measured that
#: keeps memory in bounds. Quiet 2-core machine, same pixels: a 12 MP float32 render with the
#: denoiser took 4.93 s against 5.56 s with 256 (medians of 3); a 24 MP bfloat16 one 5.30 s against 5.75 s with
#: 512 (medians of 4). 2048 px tiles in 5 MP strips were faster still (4.5-4.7 s) but took a batch's peak RSS to
#: 2.3-2.9 GB, against 1.53.
DENOISE_TILE_CPU = 1024
MIN_TILE = 64


def spans(length: int, tile: int) -> Iterator[tuple[int, int]]:
    """[start, stop) intervals of at most ``tile`` covering ``range(length)``."""
    for start in range(0, length, tile):
        yield start, min(start + tile, length)


def _is_oom(error: BaseException) -> bool:
    # torch.cuda.OutOfMemoryError exists since torch 1.13 (torch.OutOfMemoryError is the same class)
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in str(error).lower()


def _denoise_tiles(net: CLODENet, image: torch.Tensor, strength: float, tile: int, overlap: int,
                   out: torch.Tensor, cancel: Optional[CancelToken]) -> None:
    _, _, h, w = image.shape
    for y0, y1 in spans(h, tile):
        for x0, x1 in spans(w, tile):
            check(cancel)
            ya, yb = max(y0 - overlap, 0), min(y1 + overlap, h)
            xa, xb = max(x0 - overlap, 0), min(x1 + overlap, w)
            patch = image[:, :, ya:yb, xa:xb]
            noise = net.output_denoiser(patch)[:, :, y0 - ya:y0 - ya + (y1 - y0), x0 - xa:x0 - xa + (x1 - x0)]
            inner = image[:, :, y0:y1, x0:x1]
            out[:, :, y0:y1, x0:x1] = (inner - strength * noise).clamp_(0, 1)


@torch.no_grad()
def denoise_tiled(net: CLODENet, image: torch.Tensor, strength: float = 1.0, *, tile: Optional[int] = None,
                  overlap: Optional[int] = None, out: Optional[torch.Tensor] = None,
                  cancel: Optional[CancelToken] = None) -> torch.Tensor:
    """``net.finish(image, strength)`` computed tile by tile (seamless).

    ``image`` is [1, 3, H, W] (any memory format); ``strength`` 0 only clamps,
    1 is the denoiser as trained. The result goes to ``out`` when given (it
    must not overlap ``image``).
    """
    if overlap is None:
        overlap = net.output_denoiser.halo
    if tile is None:
        tile = DENOISE_TILE_CPU if image.device.type == "cpu" else DENOISE_TILE
    if out is None:
        out = torch.empty_like(image)
    if not strength:
        return torch.clamp(image, 0, 1, out=out)
    while True:
        try:
            _denoise_tiles(net, image, float(strength), tile, overlap, out, cancel)
            return out
        except RuntimeError as error:
            if not _is_oom(error) or tile <= MIN_TILE:
                raise
            if image.is_cuda:
                torch.cuda.empty_cache()
            tile //= 2
