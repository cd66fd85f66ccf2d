"""How a render is finished around the exposure curve: ``Finish``, one value for the engine.

The engine (``Session.render``, ``Enhancer.enhance``) takes an end time T and a ``Finish``: the
settings that act on the curve's result or on each pixel's end time (denoise, colour noise,
neutral colours, highlight protection, local exposure layers, near-black). Its defaults are the
engine's raw ones, everything that changes the network's output off but the denoiser as trained,
so a model's own result stays its own (the evaluation, the fixtures, the calibration read it).
A photo's edit gives the product's finish: ``Adjustments.finish`` (with ``NEAR_BLACK`` on and
colour noise at its default).

To add a setting that acts in the engine: a field in ``Adjustments`` (its limits and default),
the same field here (with the value that leaves the engine's result as it was), the line in
``Adjustments.finish`` that passes it, and the code where it acts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from clode.base.local_exposure import Layer


@dataclass(frozen=True)
class Finish:
    """The finishing of one render; immutable (derive a changed one with ``dataclasses.replace``)."""

    #: the output denoiser's strength: 0 = off, 1 = as trained
    denoise: float = 1.0
    #: colour-noise reduction after the denoiser (``clode.engine.colour_noise``): 0 = off, 1 = a
    #: 2-pixel chroma blur at full resolution
    colour_noise: float = 0.0
    #: take out the photo's colour cast (``clode.engine.neutral``)
    neutral: bool = False
    #: highlight protection (``clode.engine.highlights``), 0-1: highlights get a shorter end time
    protect: float = 0.0
    #: local exposure layers (``clode.base.local_exposure``): each adds end time where its mask is
    local: tuple[Layer, ...] = ()
    #: fade the colour of near-black pixels toward gray as they are lifted (``clode.engine.near_black``)
    near_black: bool = False

    def __post_init__(self) -> None:
        # a list of layers is accepted, kept as a tuple (the value stays hashable)
        if not isinstance(self.local, tuple):
            object.__setattr__(self, "local", tuple(self.local))

    @property
    def treats_noise(self) -> bool:
        """Whether the denoiser or the colour-noise reduction runs."""
        return bool(self.denoise or self.colour_noise)

    def noise_scaled(self, strength: float) -> "Finish":
        """This finish with its noise treatment (denoise and colour noise) scaled by ``strength``
        (the measured need of an ``adaptive_denoise`` model, ``clode.engine.noise_level``)."""
        return replace(self, denoise=self.denoise * strength, colour_noise=self.colour_noise * strength)
