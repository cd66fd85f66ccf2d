"""Training inputs: photos from folders, random crops and flips, synthetic exposure changes.

The CLODE losses need no ground truth, so any photo is usable. To teach the
curve both directions, a batch mixes photos as they are, photos darkened in
linear light with shot and read noise (a simulated short exposure, as in the
project's lowlight-dev set), and over-exposed ones.

Every random choice comes from a generator seeded by (seed, step, rank), so a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

from .errors import ClodeError
from .srgb import linear_to_srgb, srgb_to_linear


@dataclass(frozen=True)
class ExposureAugment:
    dark: float = 0.6            # share of darkened samples
    bright: float = 0.15         # share of over-exposed samples (the rest stay as they are)
    ev: tuple = (1.0, 6.0)       # darkening, in stops
    bright_ev: tuple = (0.5, 2.0)
    gain: tuple = (1000.0, 12000.0)   # photons at white (shot noise)
    read: tuple = (2e-4, 1e-3)        # read noise, linear units


def apply_exposure(batch: torch.Tensor, gen: torch.Generator, aug: ExposureAugment) -> torch.Tensor:
    """Darken (with noise) or brighten each sample in linear light, per ``aug``'s shares."""
    n = batch.shape[0]
    u = torch.rand(n, generator=gen)
    lin = srgb_to_linear(batch)

    def uniform(lo_hi):
        lo, hi = lo_hi
        return (lo + (hi - lo) * torch.rand(n, generator=gen)).view(n, 1, 1, 1)

    ev, bright_ev, gain, read = uniform(aug.ev), uniform(aug.bright_ev), uniform(aug.gain), uniform(aug.read)
    noise = torch.randn(lin.shape, generator=gen)
    dark = lin * 2.0 ** (-ev)
    dark = dark + noise * torch.sqrt(dark / gain + read ** 2)
    bright = lin * 2.0 ** bright_ev
    kind = u.view(n, 1, 1, 1)
    out = torch.where(kind < aug.dark, dark, torch.where(kind < aug.dark + aug.bright, bright, lin))
    return linear_to_srgb(out)


class TrainingImages:
    """Photos held in memory (downscaled so crops see some context), sampled as batches."""

    def __init__(self, folders: Sequence[Path], max_side: int = 640, min_side: int = 64):
        from .imageio import find_images, load_image  # lazy: imports rawpy

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
        return apply_exposure(batch, gen, augment) if augment is not None else batch


def scan_folders(folders: Sequence[Path], max_side: int = 640,
                 min_side: int = 64) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The photos ``TrainingImages`` would use, found from file headers only (quick on big folders).

    Returns (usable, skipped) with skipped as (path, why). A file whose header reads but whose
    data is damaged passes here; the trainer skips it when it loads the pixels.
    """
    from .imageio import find_images, read_size

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
