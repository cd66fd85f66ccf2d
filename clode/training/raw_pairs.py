"""Real-capture-like low/normal pairs: a shorter exposure simulated in a sensor's linear data.

Synthetic darkenings of finished sRGB photos (``lowlight-dev``, the night shots) misled the exposure
choice twice: their noise is added after the camera's processing, not where a sensor makes it. Here
the short exposure is made where a camera makes it, in the RAW mosaic's digital numbers (DN):

    signal   = (long - black) * 2^-EV                       the same scene, EV stops less light
    electrons ~ Poisson(signal * gain)                      photon shot noise; gain in electrons/DN
    short    = round(electrons / gain + N(0, read) + black)  read noise in DN, the black pedestal,
               clipped to [0, white]                          the bit depth's integer levels and white

so the short frame's variance is signal / gain + read^2 (+ 1/12 for the rounding). ``Sensor`` turns
an ISO into the gain and the read noise of a typical sensor (a full well at base ISO, a read noise in
electrons); the long frame is the scene at base ISO, noiseless beyond its own quantisation. Both
frames are then written as DNGs with the same tags and developed by the app's RAW path
(``clode.io.imageio.load_image``), so the pair differs only in the exposure and the sensor's noise.

Numpy only (no DNG writer here: ``benchmarks/quality/raw_pairs.py`` and the tests write the files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: Colour filter patterns: the channel (0 R, 1 G, 2 B) of each pixel of the 2 x 2 tile, row by row.
PATTERNS = {"RGGB": (0, 1, 1, 2), "BGGR": (2, 1, 1, 0), "GRBG": (1, 0, 2, 1), "GBRG": (1, 2, 0, 1)}


@dataclass(frozen=True)
class Sensor:
    """A typical modern sensor: 14-bit data (stored in 16-bit DNG samples, as RAW converters store
    it), a black pedestal of 512 DN, 25,000 electrons of full well at ISO 100 and a read noise of
    2.5 electrons at raised ISO (input-referred), plus one DN of noise after the amplifier."""
    bits: int = 14
    black: int = 512
    full_well: float = 25_000.0
    base_iso: float = 100.0
    read_electrons: float = 2.5
    read_dn_floor: float = 1.0

    @property
    def white(self) -> int:
        return (1 << self.bits) - 1

    def gain(self, iso: float) -> float:
        """Electrons per DN at ``iso``: the full well fills the range at base ISO, and each doubling
        of the ISO halves the electrons one DN stands for."""
        return self.full_well * (self.base_iso / iso) / (self.white - self.black)

    def read_dn(self, iso: float) -> float:
        """Read noise in DN at ``iso``: the input-referred read noise amplified, and the noise after
        the amplifier."""
        return float(np.hypot(self.read_electrons / self.gain(iso), self.read_dn_floor))


def mosaic(linear_rgb: np.ndarray, pattern: str = "RGGB") -> np.ndarray:
    """H x W x 3 -> H x W: each pixel keeps the channel its colour filter passes."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {', '.join(PATTERNS)}")
    cfa = np.array(PATTERNS[pattern]).reshape(2, 2)
    h, w = linear_rgb.shape[:2]
    channel = np.tile(cfa, (h // 2 + 1, w // 2 + 1))[:h, :w]
    return np.take_along_axis(linear_rgb, channel[..., None], axis=2)[..., 0]


def long_exposure(linear_rgb: np.ndarray, sensor: Sensor = Sensor(), pattern: str = "RGGB") -> np.ndarray:
    """The scene (linear RGB in [0, 1], 1 = white) as the sensor's mosaic at base ISO, uint16 DN:
    black + value * (white - black), rounded."""
    span = sensor.white - sensor.black
    dn = sensor.black + np.clip(mosaic(np.asarray(linear_rgb, np.float64), pattern), 0, 1) * span
    return np.rint(dn).astype(np.uint16)


def expose(signal: np.ndarray, gain: float, read: float, black: int, white: int,
           rng: np.random.Generator) -> np.ndarray:
    """A frame of expected ``signal`` (DN above black, float): Poisson shot noise at ``gain``
    electrons/DN, Gaussian read noise of ``read`` DN, the black pedestal, rounding to integer DN and
    clipping to [0, white]; uint16."""
    if gain <= 0 or read < 0:
        raise ValueError("the gain must be positive and the read noise not negative")
    electrons = rng.poisson(np.clip(signal, 0, None) * gain)
    dn = electrons / gain + rng.normal(0.0, read, np.shape(signal)) + black
    return np.clip(np.rint(dn), 0, white).astype(np.uint16)


def short_exposure(long: np.ndarray, ev: float, iso: float, sensor: Sensor = Sensor(),
                   rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """The frame ``ev`` stops shorter than the mosaic ``long`` (uint16 DN of ``sensor``), taken at
    ``iso``: its DN are the long frame's above black times 2^-ev, with the noise of that ISO."""
    rng = np.random.default_rng() if rng is None else rng
    signal = (long.astype(np.float64) - sensor.black) * 2.0 ** -ev
    return expose(signal, sensor.gain(iso), sensor.read_dn(iso), sensor.black, sensor.white, rng)


def electrons_at_white(ev: float, iso: float, sensor: Sensor = Sensor()) -> float:
    """Electrons a white pixel collects in the short frame (its shot-noise SNR is the square root)."""
    return (sensor.white - sensor.black) * 2.0 ** -ev * sensor.gain(iso)
