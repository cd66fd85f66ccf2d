"""Training inputs: photos from folders, random crops and flips, synthetic exposure changes.

The CLODE losses need no ground truth, so any photo is usable. To teach the
curve both directions, a batch mixes photos as they are, photos darkened in
linear light with shot and read noise (a simulated short exposure, as in the
project's lowlight-dev set), and over-exposed ones.

Every random choice comes from a generator seeded by (seed, step, rank), so a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from clode.base.errors import ClodeError
from clode.base.srgb import linear_to_srgb, srgb_to_linear


@dataclass(frozen=True)
class ExposureAugment:
    dark: float = 0.6            # share of darkened samples
    bright: float = 0.15         # share of over-exposed samples (the rest stay as they are)
    ev: tuple = (0.5, 6.0)       # darkening, in stops: from barely dark to very dark
    bright_ev: tuple = (0.5, 2.0)
    gain: tuple = (1000.0, 12000.0)   # photons at white (shot noise)
    read: tuple = (2e-4, 1e-3)        # read noise, linear units
    # Real sensors: noise arises per photosite in the camera's own colour space and reaches RGB
    # through its colour matrix (which mixes and amplifies it: colour noise), and demosaicking
    # spreads each photosite's noise over its neighbours (blotches rather than single pixels).
    sensor_colour: float = 0.5   # share of darkened samples whose noise goes through CAMERA_MATRIX
    demosaic: float = 0.5        # share whose noise is spatially correlated as after demosaicking
    # Most dark photos people rescue are camera or phone JPEGs: the noisy dark frame was rounded
    # to 8 bits and compressed, and brightening it makes the 8 x 8 blocks and the banding plain.
    jpeg: float = 0.5            # share of darkened samples saved as a JPEG of this quality
    jpeg_quality: tuple = (60, 95)


#: A typical camera-to-sRGB matrix (rows sum to 1: white stays white), of the size DSLRs and
#: phones report; its inverse takes sRGB-linear light back to "camera" values.
CAMERA_MATRIX = torch.tensor([[1.80, -0.65, -0.15],
                              [-0.25, 1.55, -0.30],
                              [0.05, -0.55, 1.50]])


def _demosaic_blur(noise: torch.Tensor) -> torch.Tensor:
    """Noise correlated over neighbouring pixels ([1, 2, 1] / 4 each way), its std kept."""
    k = noise.new_tensor([0.25, 0.5, 0.25])
    c = noise.shape[1]
    x = torch.nn.functional.conv2d(F.pad(noise, (1, 1, 0, 0), mode="replicate"), k.view(1, 1, 1, 3).expand(c, 1, 1, 3), groups=c)
    x = torch.nn.functional.conv2d(F.pad(x, (0, 0, 1, 1), mode="replicate"), k.view(1, 1, 3, 1).expand(c, 1, 3, 1), groups=c)
    return x / 0.375      # std of white noise after the blur: 0.375 of before


@dataclass
class Batch:
    """A training batch: what the network sees, and what it should have seen or should make."""
    input: torch.Tensor       # the crops after the simulated exposure change, with sensor noise
    clean: torch.Tensor       # the same without the noise (the denoiser's target)
    original: torch.Tensor    # the crops as photographed (a darkened sample's restoration target)
    darkened: torch.Tensor    # [N] bool: which samples were darkened

    def to(self, device) -> "Batch":
        return Batch(*(t.to(device) for t in (self.input, self.clean, self.original, self.darkened)))


def simulate_exposure(batch: torch.Tensor, gen: torch.Generator, aug: ExposureAugment) -> Batch:
    """Each sample darkened (with sensor noise) or brightened in linear light, or left as it is,
    per ``aug``'s shares."""
    n = batch.shape[0]
    u = torch.rand(n, generator=gen)
    lin = srgb_to_linear(batch)

    def uniform(lo_hi):
        lo, hi = lo_hi
        return (lo + (hi - lo) * torch.rand(n, generator=gen)).view(n, 1, 1, 1)

    ev, bright_ev, gain, read = uniform(aug.ev), uniform(aug.bright_ev), uniform(aug.gain), uniform(aug.read)
    noise = torch.randn(lin.shape, generator=gen)
    coloured = (torch.rand(n, generator=gen) < aug.sensor_colour).view(n, 1, 1, 1)
    blotchy = (torch.rand(n, generator=gen) < aug.demosaic).view(n, 1, 1, 1)
    dark = lin * 2.0 ** (-ev)
    matrix = CAMERA_MATRIX.to(lin)
    camera = torch.where(coloured, torch.einsum("ij,njhw->nihw", torch.linalg.inv(matrix), dark).clamp_min(0), dark)
    noise = torch.where(blotchy, _demosaic_blur(noise), noise) * torch.sqrt(camera / gain + read ** 2)
    noise = torch.where(coloured, torch.einsum("ij,njhw->nihw", matrix, noise), noise)
    bright = lin * 2.0 ** bright_ev
    kind = u.view(n, 1, 1, 1)
    clean = torch.where(kind < aug.dark, dark, torch.where(kind < aug.dark + aug.bright, bright, lin))
    noisy = linear_to_srgb(torch.where(kind < aug.dark, dark + noise, clean))
    as_jpeg = (u < aug.dark) & (torch.rand(n, generator=gen) < aug.jpeg)
    quality = torch.randint(aug.jpeg_quality[0], aug.jpeg_quality[1] + 1, (n,), generator=gen)
    for i in torch.nonzero(as_jpeg).flatten().tolist():
        noisy[i] = jpeg_round_trip(noisy[i], int(quality[i]))
    return Batch(noisy, linear_to_srgb(clean), batch, u < aug.dark)


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """A 3 x H x W image in [0, 1] as it comes back from a JPEG file of ``quality`` (4:2:0)."""
    from PIL import Image

    pixels = (image.clamp(0, 1).permute(1, 2, 0) * 255 + 0.5).to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    decoded = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(decoded).permute(2, 0, 1).to(image)



class TrainingImages:
    """Photos held in memory (downscaled so crops see some context), sampled as batches."""

    def __init__(self, folders: Sequence[Path], max_side: int = 640, min_side: int = 64):
        from clode.io.imageio import find_images, load_image  # lazy: imports rawpy

        self.folders = [Path(f) for f in folders]
        self.images: list[torch.Tensor] = []
        self.skipped: list[tuple[Path, str]] = []
        for folder in self.folders:
            if not folder.is_dir():
                raise ClodeError(f"{folder}: training data folder not found")
            for path in find_images(folder, recursive=True):
                try:
                    pixels = load_image(path).pixels
                except ClodeError as e:
                    self.skipped.append((path, str(e)))
                    continue
                img = torch.from_numpy(pixels).permute(2, 0, 1)[None]
                scale = max_side / max(img.shape[2:])
                if scale < 1:
                    img = F.interpolate(img, scale_factor=scale, mode="area")
                if min(img.shape[2:]) < min_side:
                    self.skipped.append((path, f"too small ({img.shape[3]}x{img.shape[2]})"))
                    continue
                self.images.append(img[0].contiguous())
        if not self.images:
            raise ClodeError(f"no usable training photos in {', '.join(map(str, self.folders))}")

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, size: int, crop: int, gen: torch.Generator,
              augment: Optional[ExposureAugment] = ExposureAugment()) -> torch.Tensor:
        """``size`` random crops (random scale, flips), resized to ``crop`` x ``crop``."""
        return self.pairs(size, crop, gen, augment).input

    def pairs(self, size: int, crop: int, gen: torch.Generator,
              augment: Optional[ExposureAugment] = ExposureAugment()) -> Batch:
        """``size`` random crops as ``batch`` makes them, with their clean and original versions."""
        crops = []
        for _ in range(size):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
            h, w = img.shape[1:]
            side_max = min(h, w)
            side = int(min(side_max, crop) + torch.rand(1, generator=gen) * max(side_max - min(side_max, crop), 0) * 0.6)
            y = int(torch.randint(h - side + 1, (1,), generator=gen))
            x = int(torch.randint(w - side + 1, (1,), generator=gen))
            patch = img[:, y:y + side, x:x + side][None]
            if side != crop:
                patch = F.interpolate(patch, size=(crop, crop), mode="area" if side > crop else "bilinear",
                                      align_corners=None if side > crop else False)
            if torch.rand(1, generator=gen) < 0.5:
                patch = patch.flip(3)
            if torch.rand(1, generator=gen) < 0.2:
                patch = patch.flip(2)
            crops.append(patch)
        batch = torch.cat(crops).clamp(0, 1)
        if augment is None:
            return Batch(batch, batch, batch, torch.zeros(size, dtype=torch.bool))
        return simulate_exposure(batch, gen, augment)


def scan_folders(folders: Sequence[Path], max_side: int = 640,
                 min_side: int = 64) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The photos ``TrainingImages`` would use, found from file headers only (quick on big folders).

    Returns (usable, skipped) with skipped as (path, why). A file whose header reads but whose
    data is damaged passes here; the trainer skips it when it loads the pixels.
    """
    from clode.io.imageio import find_images, read_size

    usable: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            skipped.append((folder, "folder not found"))
            continue
        for path in find_images(folder, recursive=True):
            try:
                w, h = read_size(path)
            except ClodeError as e:
                why = str(e)     # "<path>: <reason>"; the list shows the file beside the reason
                skipped.append((path, why.removeprefix(f"{path}: ")))
                continue
            scale = min(1.0, max_side / max(w, h, 1))
            if min(w, h) * scale < min_side:
                skipped.append((path, f"too small ({w}x{h})"))
            else:
                usable.append(path)
    return usable, skipped
