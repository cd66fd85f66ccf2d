"""Neutral colours: an explicit, optional colour-cast removal (off by default).

The exposure curve keeps a photo's colours (``clode.engine.network.CURVE_MODES``); taking
out a cast -- the orange of sodium street light, the green of old fluorescent
tubes -- is a separate choice the photographer makes ("Neutral colours" in the
editor, ``--neutral`` in the CLI). It is a white balance: one gain per channel in
linear light, estimated by shades of gray (Finlayson & Trezzi 2004: the Minkowski
p-norm of each channel, p = 6, which sits between gray world and white patch and
beats both on standard colour-constancy sets), normalised so luminance stays.
"""

from __future__ import annotations

import numpy as np
import torch

from clode.base.pixels import fit_size, resize
from clode.base.srgb import srgb_to_linear

#: Minkowski norm of shades of gray.
P_NORM = 6
#: Gains are kept within this factor of 1: a stronger "cast" is the scene itself (a red wall).
MAX_GAIN = 2.0
#: Long side of the view the cast is measured on (the fast engine's proxy size): the same gains
#: for a photo whichever path renders it.
VIEW_SIDE = 128
#: BT.709 luminance weights (linear sRGB).
LUMA = np.array([0.2126, 0.7152, 0.0722])


def neutral_gains(image: torch.Tensor) -> np.ndarray:
    """Per-channel gains for encoded (sRGB) values of ``image`` ([H, W, 3] in [0, 1]) that
    neutralise its cast; multiply a render by them and clamp. Black and clipped pixels,
    which carry no colour information, are left out; (1, 1, 1) when nothing is left."""
    x = image.reshape(-1, 3).double()
    keep = (x.amax(1) < 0.98) & (x.amax(1) > 0.02)
    if int(keep.sum()) < 16:
        return np.ones(3, np.float32)
    lin = srgb_to_linear(x[keep]).numpy()
    illuminant = np.mean(lin ** P_NORM, axis=0) ** (1 / P_NORM)
    if not np.all(illuminant > 0):
        return np.ones(3, np.float32)
    gains = 1 / illuminant
    gains /= float(LUMA @ (gains * np.mean(lin, axis=0))) / float(LUMA @ np.mean(lin, axis=0))
    gains = np.clip(gains, 1 / MAX_GAIN, MAX_GAIN)
    # A gain g in linear light is about g^(1/2.2) on encoded values (exact for a pure power curve).
    return (gains ** (1 / 2.2)).astype(np.float32)


def photo_gains(photo: torch.Tensor) -> np.ndarray:
    """``neutral_gains`` of a [1, 3, H, W] photo, measured on its ``VIEW_SIDE`` view."""
    view = resize(photo, fit_size(photo.shape[2], photo.shape[3], VIEW_SIDE))
    return neutral_gains(view[0].permute(1, 2, 0).cpu())
