"""The edit of one photo as a value: ``Adjustments`` (exposure T, denoise, colour noise, neutral colours,
highlight protection, local exposure layers).

One frozen value with its defaults and one validating constructor from a mapping
(``Adjustments.from_mapping``), shared by the sidecar, the batch, the CLI, provenance and the
app. To add a setting: add a field below, with its ``Limits`` in the field's metadata; a setting the
engine acts on also gets its field in ``clode.base.finish.Finish`` and its line in ``finish``
below. Then wire its widget or command-line flag; reading, checking, saving and provenance follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Mapping, Optional

from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.base.local_exposure import Layer, LayersSetting, layers_to_json

#: The exposure the shipped model was trained for (a model file may carry its own).
DEFAULT_T = 3.0
#: The denoiser as trained.
DEFAULT_DENOISE = 1.0
#: Colour-noise reduction: 0.5 is a 1 px chroma blur, which scored 20.17 dB on lowlight-dev
#: (2 px: 20.19, off: 19.55) and keeps more colour detail. The editor, the CLI and the batch share it.
DEFAULT_COLOUR_NOISE = 0.5
#: Near-black stays neutral as it rises (``clode.engine.near_black``): part of the product's look, always on
#: (a measured rule, not a setting); the engine's own default is off, so raw model outputs stay raw.
NEAR_BLACK = True
#: The largest strength the denoiser and the colour-noise reduction accept (the app's sliders stop
#: at 1 or 2; more only smears the photo).
MAX_STRENGTH = 4.0
#: The largest |T| any setting may ask for, whatever the model: a model's own range (``t_max``,
#: at most this) narrows it further where the model is known (``check_T``). The proxy solve's
#: time grid grows with T, so an unbounded T would grow memory without limit.
MAX_T = 20.0


@dataclass(frozen=True)
class Limits:
    """What a numeric setting accepts (a finite number in [lo, hi])."""
    lo: float = -math.inf
    hi: float = math.inf
    label: str = ""

    def check(self, name: str, value: Any) -> float:
        label = self.label or name
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ClodeError(f"{label} {_short(value)} is not a number")
        try:
            number = float(value)
        except (ValueError, OverflowError):   # OverflowError: an integer beyond any float
            raise ClodeError(f"{label} {_short(value)} is not a usable number") from None
        if not math.isfinite(number):
            raise ClodeError(f"{label} {_short(value)} is not a finite number")
        if not self.lo <= number <= self.hi:
            bounds = (f"{self.lo:g} or more" if self.hi == math.inf else
                      f"{self.hi:g} or less" if self.lo == -math.inf else f"{self.lo:g} to {self.hi:g}")
            raise ClodeError(f"{label} {_as_given(value, number)}: must be {bounds}")
        return number

    def where(self, source: str) -> "Limits":
        """These limits with the label naming where the value came from (``--T``, a model file)."""
        return replace(self, label=source)


@dataclass(frozen=True)
class Switch:
    """What an on/off setting accepts: true or false (JSON booleans, or 0 and 1)."""
    label: str = ""

    def check(self, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise ClodeError(f"{self.label or name} {value!r} is not true or false")


def _setting(default, limits):
    return field(default=default, metadata={"limits": limits})


@dataclass(frozen=True)
class Adjustments:
    """One photo's edit. Immutable: derive a changed one with ``replace(**changes)``."""

    #: exposure: the ODE's end time (negative darkens)
    T: float = _setting(DEFAULT_T, Limits(-MAX_T, MAX_T, "T"))
    #: the denoiser's strength: 0 = off, 1 = as trained
    denoise: float = _setting(DEFAULT_DENOISE, Limits(0.0, MAX_STRENGTH, "denoise"))
    #: colour-noise reduction after the denoiser: 0 = off, 1 = a 2-pixel chroma blur
    colour_noise: float = _setting(DEFAULT_COLOUR_NOISE, Limits(0.0, MAX_STRENGTH, "colour noise"))
    #: take out the photo's colour cast (``clode.engine.neutral``); off: the photo keeps its own colours
    neutral: bool = _setting(False, Switch("neutral colours"))
    #: highlight protection (``clode.engine.highlights``): 0 = off, 1 = lights and bright sky keep the
    #: exposure they were photographed with while the shadows get the full T
    protect: float = _setting(0.0, Limits(0.0, 1.0, "protect"))
    #: local exposure layers (``clode.base.local_exposure``): T + amount where each layer's mask is 1
    local: tuple[Layer, ...] = _setting((), LayersSetting())

    @classmethod
    def limits(cls, name: str):
        """The ``Limits`` (or ``Switch``) of setting ``name``."""
        return next(f.metadata["limits"] for f in fields(cls) if f.name == name)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: Optional["Adjustments"] = None,
                     on_problem: Optional[Callable[[str], None]] = None) -> "Adjustments":
        """``base`` (default: the defaults) with the settings ``data`` holds; other keys are ignored.

        A bad value (not a number, NaN, out of range) raises ClodeError, or, when ``on_problem``
        is given, is reported to it in one line and leaves that setting at ``base``'s value.
        """
        values = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            try:
                values[f.name] = f.metadata["limits"].check(f.name, data[f.name])
            except ClodeError as e:
                if on_problem is None:
                    raise
                on_problem(f"{e}; using {_show(getattr(base or cls(), f.name))}")
        return replace(base or cls(), **values)

    @classmethod
    def valid_keys(cls, data: Mapping[str, Any]) -> set[str]:
        """The settings ``data`` holds with a usable value."""
        good = set()
        for f in fields(cls):
            if f.name in data:
                try:
                    f.metadata["limits"].check(f.name, data[f.name])
                    good.add(f.name)
                except ClodeError:
                    pass
        return good

    def replace(self, **changes: Any) -> "Adjustments":
        """A copy with ``changes`` (checked like ``from_mapping``, which raises on a bad value)."""
        return Adjustments.from_mapping(changes, base=self)

    def to_dict(self) -> dict:
        """The settings as JSON values (the layers in their sidecar form)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["local"] = layers_to_json(self.local)
        return out

    @property
    def finish(self) -> Finish:
        """The finishing settings as the engine takes them (``Session.render(T, finish)``), with the
        fixed parts of the look that are not settings (``NEAR_BLACK``)."""
        return Finish(denoise=self.denoise, colour_noise=self.colour_noise, neutral=self.neutral,
                      protect=self.protect, local=self.local, near_black=NEAR_BLACK)

    def provenance(self, model: Optional[str] = None) -> dict:
        """What an exported file records about how it was made (one rule for CLI, batch and app)."""
        out: dict = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "local"}
        out = {k: v if isinstance(v, bool) else round(float(v), 3) for k, v in out.items()}
        if self.local:
            out["local"] = len(self.local)      # how many layers (their shapes are in the sidecar)
        if model is not None:
            out["model"] = model
        return out


def t_limits(t_max: float, label: str = "T") -> Limits:
    """What T may be with a model whose range is [-t_max, t_max]."""
    return Limits(-t_max, t_max, label)


#: End times closer to 0 than this are 0 (the solver cannot tell 1e-300 from 0 in float32).
T_RESOLUTION = 1e-6


def check_T(value: Any, t_max: float, source: str = "T") -> float:
    """``value`` as an end time within the model's range, or ClodeError naming ``source``."""
    T = t_limits(min(float(t_max), MAX_T), source).check("T", value)
    return 0.0 if abs(T) < T_RESOLUTION else T


#: A model's exposure range (its metadata ``t_max``) and the training end time.
T_MAX_LIMITS = Limits(0.25, MAX_T, "t_max")


def _short(value: Any) -> str:
    """A value as an error message shows it: never a 10,000-digit integer or a deep structure."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10 ** 30 else "(a huge integer)"
    return text if len(text) <= 40 else text[:37] + "..."


def _as_given(value: Any, number: float) -> str:
    """A refused number as the user wrote it: ``--T 6.0000001`` is not "6" (it would read as a
    refusal of a value in range)."""
    if isinstance(value, str) and len(value.strip()) <= 40:
        return value.strip()
    if isinstance(value, int):
        return _short(value)
    return f"{number:g}" if float(f"{number:g}") == number else repr(number)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return f"{len(value)} layers" if value else "no layers"
    return ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"
