"""The CLODE networks, exactly as published (ICLR 2025, official code).

Parameter names match the official checkpoint with its ``odefunc.`` prefix
removed, so an official state dict maps onto this module one to one.
The official model also carries layers its forward pass never uses
(``conv1``, ``e_conv1``..``e_conv7``); they are not built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHITECTURE = "clode-v1"
NUM_FILTERS = 32

#: How the curve map A is applied to the colour channels.
#: "per_channel": the published model, one curve per channel (R, G and B brighten
#: differently, so hues and white balance move with the exposure).
#: "shared": one curve for all three (the channel mean of A), so the exposure field
#: Lambda is the same for R, G and B; each channel still follows its own logistic, whose
#: compression towards 1 skews saturated colours (orange lights drift to yellow).
#: "rgb_ratio": one curve, acting on the pixel's brightest channel m:
#: dI/dt = A * I * (m - 1). All three channels scale by the same factor, so the RGB ratios,
#: hence hue and saturation, are kept exactly, and m follows CLODE's own logistic
#: dm/dt = A (m^2 - m), so no channel ever leaves [0, 1].
CURVE_MODES = ("per_channel", "shared", "rgb_ratio")


@dataclass
class ModelInfo:
    """What a model file says about its model: ``clode.engine.weights.load_model`` sets it as the
    loaded network's ``.info``."""
    name: str
    path: Optional[Path]
    default_T: float = 3.0
    t_max: float = 6.0          # the dial's hard range is [-t_max, t_max]
    architecture: str = ARCHITECTURE
    official: bool = False
    card: dict = field(default_factory=dict)
    # How T < 0 is computed. "integrate": solve backwards in time, as the paper does (the official
    # models). "mirror": apply the inverse of the curve learned for |T|, Lambda(-T) = -Lambda(T).
    # Our trainer only ever shows the network t in [0, T]; integrating backwards feeds it t < 0,
    # where our models were measured to brighten again below T = -1.
    darken: str = "integrate"
    # "per_channel" (the published behaviour, and every model file older than this key) or
    # "shared" / "rgb_ratio" (one exposure field for R, G and B: see ``clode.engine.network.CURVE_MODES``).
    curve: str = "per_channel"
    # "published" (the official 5 x 5 denoiser, and every file older than this key) or "dilated"
    # (17 x 17, ``clode.engine.network.DilatedDenoiser``).
    denoiser: str = "published"


class TimeConv2d(nn.Conv2d):
    """A convolution that sees the time t as a constant channel in front of its input."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int):
        super().__init__(in_channels + 1, out_channels, kernel_size, padding=padding,
                         padding_mode="reflect" if padding else "zeros")

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        t_plane = torch.ones_like(x[:, :1]) * t
        return super().forward(torch.cat([t_plane, x], 1))


class Denoiser(nn.Module):
    """The published denoiser: predicts the noise of an image; the clean image is ``x - D(x)``.

    Three convolutions (3x3, 3x3, 1x1): it sees 5 x 5 pixels, enough for the fine grain
    of a raw file but not for the blotches of a dark camera JPEG.
    """

    #: Pixels each side that the output depends on (tiles need at least this much context).
    halo: int = 2

    def __init__(self, channels: int = 3, width: int = 48):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        return self.conv3(x)


class DilatedDenoiser(nn.Module):
    """A denoiser that sees 17 x 17 pixels for the cost of the published 5 x 5 one.

    Dark camera JPEGs carry their noise in blotches a few pixels wide (demosaicking, in-camera
    noise reduction) and in 8 x 8 compression blocks; brightening makes both plain. Dilations
    1, 2, 4 cover the 17 x 17 window without holes; 32 channels instead of 48 keep it at about
    20 k multiply-adds per pixel (the published one: 22 k).
    """

    halo: int = 8

    def __init__(self, channels: int = 3, width: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=2, dilation=2)
        self.conv3 = nn.Conv2d(width, width, 3, padding=4, dilation=4)
        self.conv4 = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        x = F.leaky_relu(self.conv3(x), 0.2)
        return self.conv4(x)


#: The output denoiser a model file names ("published" for official files and every file older than
#: the key: the curve network's own denoiser does both jobs).
OutputDenoiser = Union[Denoiser, DilatedDenoiser]
DENOISERS: dict[str, type[OutputDenoiser]] = {"published": Denoiser, "dilated": DilatedDenoiser}


class CLODENet(nn.Module):
    """Curve network g (A = tanh g) and denoiser D of CLODE.

    The image follows dI/dt = A(t, I) * (I^2 - I); the result at end time T is
    ``clamp(I(T) - D(I(T)), 0, 1)``.
    """

    #: Set by ``clode.engine.weights.load_model`` (a network built here, not loaded, has none).
    info: ModelInfo
    #: Registered in ``__init__``: the output stage's own denoiser, or None for the curve network's.
    output_denoise: Optional[OutputDenoiser]

    def __init__(self, nf: int = NUM_FILTERS, curve_mode: str = "per_channel", denoiser: str = "published"):
        super().__init__()
        if curve_mode not in CURVE_MODES:
            raise ValueError(f"curve_mode must be one of {CURVE_MODES}, not {curve_mode!r}")
        if denoiser not in DENOISERS:
            raise ValueError(f"denoiser must be one of {tuple(DENOISERS)}, not {denoiser!r}")
        self.curve_mode = curve_mode
        # The published model subtracts the denoiser's prediction as it is; ours scale it (and the
        # colour-noise reduction) by the noise measured in the result (clode.engine.noise_level).
        self.adaptive_denoise = False
        # GroupNorm modules are shared between layers in the official model.
        self.norm32 = nn.GroupNorm(1, nf)
        self.norm64 = nn.GroupNorm(1, nf * 2)
        self.up_conv = TimeConv2d(6, nf, 3, 1)
        self.conv_3_1 = TimeConv2d(nf, nf, 3, 1)
        self.conv_5_1 = TimeConv2d(nf, nf, 5, 2)
        self.conv_3_2 = TimeConv2d(nf * 2, nf * 2, 3, 1)
        self.conv_5_2 = TimeConv2d(nf * 2, nf * 2, 5, 2)
        self.confusion = TimeConv2d(nf * 4, nf, 1, 0)
        self.down_conv = TimeConv2d(nf, 3, 3, 1)
        # The published denoiser also cleans the curve network's input; a model may give its output
        # stage a denoiser of its own, so a better one does not move the curves it was trained with.
        self.denoise = Denoiser(3)
        self.register_module("output_denoise", None if denoiser == "published" else DENOISERS[denoiser](3))

    @property
    def output_denoiser(self) -> OutputDenoiser:
        """The denoiser of the output stage (``finish``)."""
        return self.output_denoise if self.output_denoise is not None else self.denoise

    @property
    def denoiser_kind(self) -> str:
        return next(name for name, cls in DENOISERS.items() if type(self.output_denoiser) is cls)

    def replace_denoiser(self, kind: str) -> None:
        """A freshly initialised output denoiser of ``kind`` (to train it); "published" goes back to
        the curve network's own."""
        if kind != self.denoiser_kind:
            p = next(self.denoise.parameters())
            self.output_denoise = None if kind == "published" else DENOISERS[kind](3).to(device=p.device, dtype=p.dtype)

    def curve(self, t: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The curve map A(t, I) in [-1, 1], same shape as ``image``."""
        p = image - self.denoise(image)
        x = torch.cat([p, 1 - p], 1)
        x = F.relu(self.norm32(self.up_conv(t, x)))
        x = torch.cat([F.relu(self.norm32(self.conv_3_1(t, x))),
                       F.relu(self.norm32(self.conv_5_1(t, x)))], 1)
        x = torch.cat([F.relu(self.norm64(self.conv_3_2(t, x))),
                       F.relu(self.norm64(self.conv_5_2(t, x)))], 1)
        x = F.relu(self.norm32(self.confusion(t, x)))
        curve = torch.tanh(self.down_conv(t, x))
        if self.curve_mode != "per_channel":
            # An explicit rule rather than a one-channel head: the tensor layout stays the
            # published one, so official and older weights load and fine-tune in either mode.
            curve = curve.mean(1, keepdim=True).expand_as(curve)
        return curve

    def flow(self, curve: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """dI/dt for the curve map ``curve`` at ``image``."""
        if self.curve_mode == "rgb_ratio":
            return curve * image * (image.amax(1, keepdim=True) - 1)
        return curve * (image * image - image)

    def velocity(self, t: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """dI/dt."""
        return self.flow(self.curve(t, image), image)

    def finish(self, image: torch.Tensor, denoise: float = 1.0) -> torch.Tensor:
        """The output stage: subtract the predicted noise (scaled by ``denoise``) and clamp."""
        if denoise:
            image = image - denoise * self.output_denoiser(image)
        return image.clamp(0, 1)
