"""Validation on a held-out part of the training photos: did the run make the model better on
the user's own kind of photo?

Some photos of the user's folder are kept out of training (``hold_out``); at the end the model
the run started from and the trained one are both scored on them (``held_out_report``): the
training losses on fixed crops, and the colour and noise figures of ``clode.training.metrics`` on the
whole photos (hue shift from input to output, noise in the output's smooth blocks), as
``benchmarks/quality/look.py`` measures them.
"""

from __future__ import annotations

import copy
from typing import Callable, Optional

import numpy as np
import torch

from clode.engine.network import CLODENet
from clode.training.metrics import flat_noise, flat_patches, hue_shift

#: The fewest photos a folder needs before any is held out (fewer: all are trained on).
MIN_PHOTOS = 4
#: At most this many held-out photos are rendered for the figures (the losses use all).
MAX_RENDERED = 8
VALIDATION_SEED = 12345


def held_out_indices(count: int, share: float) -> list[int]:
    """Which of ``count`` photos (in the trainer's order) to hold out: evenly spread, the first
    one included (the panel previews it), none when there are too few photos to spare any."""
    if share <= 0 or count < MIN_PHOTOS:
        return []
    n = min(max(1, round(count * share)), count - 2)
    return sorted({round(i * count / n) for i in range(n)})


def hold_out(images, share: float):
    """Remove the held-out photos from ``images`` (a ``TrainingImages``) and return them as a
    second one (None when none are held out)."""
    picked = held_out_indices(len(images), share)
    if not picked:
        return None
    held = copy.copy(images)
    held.images = [images.images[i] for i in picked]
    held.skipped = []
    images.images = [img for i, img in enumerate(images.images) if i not in set(picked)]
    return held


def _figures(net, held, device, T: float) -> dict:
    from clode.engine.enhancer import Enhancer
    enh = Enhancer(net, device=device)
    hues, noises = [], []
    for img in held.images[:MAX_RENDERED]:
        pixels = img.permute(1, 2, 0).numpy().astype(np.float32)
        out = enh.enhance(pixels, T)
        hues.append(hue_shift(pixels, out))
        noises.append(flat_noise(out, flat_patches(pixels)))
    return {"hue_shift": float(np.mean(hues)), "flat_noise": float(np.mean(noises))}


def held_out_report(net, start: Optional[CLODENet], held, device, T: float,
                    losses: Callable[[CLODENet], Callable[..., dict]], batch: int, crop: int) -> dict:
    """Scores of the trained ``net`` ("after") and of the ``start`` model ("before", when the run
    started from one) on the held-out photos. ``losses(net)`` gives the loss terms of a
    ``Batch`` drawn here with a fixed seed, so both models see the same crops."""
    def score(model) -> dict:
        was_training = model.training
        model.eval()
        try:
            gen = torch.Generator().manual_seed(VALIDATION_SEED)
            data = held.pairs(batch, crop, gen).to(device)
            with torch.no_grad():
                loss = float(losses(model)(data, gen)["total"])
            return {"loss": loss, **_figures(model, held, device, T)}
        finally:
            model.train(was_training)

    report = {"photos": len(held), "after": score(net)}
    if start is not None:
        report["before"] = score(start.to(device))
    return report


def summary(report: dict) -> str:
    """One line of a ``held_out_report``: the starting model's figures and the trained one's."""
    n = report.get("photos", 0)
    after, before = report.get("after", {}), report.get("before")
    head = f"On {n} photo{'s' if n != 1 else ''} kept out of training"
    if before is None:
        return (f"{head}: loss {after['loss']:.4g}, hue shift {after['hue_shift']:.1f}°, "
                f"noise {after['flat_noise']:.2f}.")
    return (f"{head} (starting model → yours): loss {before['loss']:.4g} → {after['loss']:.4g}, "
            f"hue shift {before['hue_shift']:.1f}° → {after['hue_shift']:.1f}°, "
            f"noise {before['flat_noise']:.2f} → {after['flat_noise']:.2f} (lower is better).")
