"""Synthetic night shots with their well-exposed originals, for fitting and scoring automatic exposure.

A real night photo is not just a photo made darker: the scene is lit by lamps (a warm or
green cast), and the lights themselves -- lamps, lit windows -- are far brighter than anything
they light, so they are near white even in a shot that leaves the room or the street dark.
That is what fools a white-point rule (it takes the lamp for the scene's white and leaves the
scene dark). ``night_pair`` builds such a shot from an ordinary photo, in linear light:

    scene  = photo * cast  (+ lights: glowing lamps and lit windows, radiance 2^ev x 0.4-3)
    high   = clip(scene)                                          the well-exposed original
    low    = clip(scene * 2^-ev + shot and read noise), 8 bits    the night shot, 1-7 EV under

(the lights are blown in the original, as in any well-exposed night photo, and near white in the
short exposure). The noise follows lowlight-dev's profile (``clode.training.data`` uses the same
model), with a camera's gain rising as the exposure shortens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from clode.base.srgb import linear_to_srgb, srgb_to_linear

#: Colours of artificial light (linear RGB, luminance about 1): tungsten, sodium, white LED,
#: fluorescent green, cool LED.
LIGHT_COLOURS = np.array([[1.25, 0.92, 0.55], [1.45, 0.85, 0.30], [1.0, 1.0, 1.0],
                          [0.85, 1.08, 0.85], [0.85, 0.98, 1.25]], np.float32)


@dataclass(frozen=True)
class NightProfile:
    ev: tuple = (1.0, 7.0)           # how many stops the shot is short
    lights: float = 1.0              # share of pairs with light sources in the frame
    cast: float = 0.7                # share whose scene has a colour cast of artificial light
    gain: tuple = (3000.0, 12000.0)  # photons at white for a shot 3.5 EV short (lowlight-dev's)
    read: tuple = (2e-4, 8e-4)


def _uniform(rng: np.random.Generator, lo_hi) -> float:
    return float(rng.uniform(*lo_hi))


def add_lights(shape: tuple, rng: np.random.Generator, ev: float) -> np.ndarray:
    """Linear radiance of 1-3 glowing lamps and 0-4 lit windows on an H x W x 3 frame."""
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = np.zeros((h, w, 3), np.float32)
    side = min(h, w)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.uniform(0.05, 0.7) * h, rng.uniform(0.05, 0.95) * w
        core = rng.uniform(0.006, 0.03) * side
        r2 = (yy - cy) ** 2 + (xx - cx) ** 2
        shape_ = np.exp(-r2 / (2 * core ** 2)) + 0.01 * np.exp(-np.sqrt(r2) / (3 * core))
        light += shape_[..., None] * LIGHT_COLOURS[rng.integers(len(LIGHT_COLOURS))] \
            * 2.0 ** ev * rng.uniform(0.8, 4.0)
    for _ in range(int(rng.integers(0, 5))):
        wh, ww = rng.uniform(0.04, 0.14) * h, rng.uniform(0.03, 0.10) * w
        y0, x0 = rng.uniform(0, h - wh), rng.uniform(0, w - ww)
        box = ((yy >= y0) & (yy < y0 + wh) & (xx >= x0) & (xx < x0 + ww)).astype(np.float32)
        light += box[..., None] * LIGHT_COLOURS[rng.integers(2)] * 2.0 ** ev * rng.uniform(0.3, 1.5)
    return light


def night_pair(photo: np.ndarray, rng: np.random.Generator, profile: NightProfile = NightProfile(),
               ev: float | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(night shot, well-exposed original, what was done) from an H x W x 3 sRGB float photo."""
    ev = _uniform(rng, profile.ev) if ev is None else float(ev)
    lin = srgb_to_linear(torch.from_numpy(np.asarray(photo, np.float32))).numpy()
    cast = LIGHT_COLOURS[rng.integers(len(LIGHT_COLOURS))] if rng.random() < profile.cast else np.ones(3, np.float32)
    scene = lin * (cast / cast.max())
    lights = rng.random() < profile.lights
    if lights:
        scene = scene + add_lights(photo.shape, rng, ev)
    # Shorter exposures come from higher ISO: fewer photons at white.
    gain = _uniform(rng, profile.gain) * 2.0 ** (3.5 - ev) if ev > 0 else np.inf
    read = _uniform(rng, profile.read)
    dark = scene * 2.0 ** -ev
    noise = rng.standard_normal(dark.shape).astype(np.float32) * np.sqrt(np.clip(dark, 0, None) / gain + read ** 2)
    low = linear_to_srgb(torch.from_numpy(np.clip(dark + noise, 0, 1))).numpy()
    high = linear_to_srgb(torch.from_numpy(np.clip(scene, 0, 1))).numpy()
    low = np.round(low * 255) / 255
    return low.astype(np.float32), high.astype(np.float32), {"ev": ev, "lights": lights, "gain": float(gain),
                                                               "read": read}
