"""Local exposure layers: where the light should go, as values (no pixels, no torch).

A layer is an amount of exposure time (added to the photo's T where its mask is 1) and a shape
that says where: brush strokes, a linear gradient or a radial gradient. Shapes are vectors in
photo coordinates measured in units of the photo's long side, origin at the top-left corner
(x in [0, W / L], y in [0, H / L]), so a layer is resolution-free, a few hundred bytes in a
sidecar, and means the same on the proxy, a screen view and the full-size export.
``clode.engine.masks`` turns layers into masks on a pixel grid.

Everything here is frozen and made of tuples, so an ``Adjustments`` holding layers stays a
hashable value. ``parse_layers`` is the one checked way in (sidecar JSON, history, the app);
``layers_to_json`` the way out; the two round-trip exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

from clode.base.errors import ClodeError

Point = tuple[float, float]

#: How far an amount may move T (in end-time units) around the photo's T.
MAX_AMOUNT = 3.0
#: Points may lie a little outside the photo (a stroke that runs off its edge).
COORD_LO, COORD_HI = -1.0, 2.0
#: Bounds that keep a damaged or hostile sidecar from costing memory or time.
MAX_LAYERS = 32
#: The largest radius of a radial gradient (long-side units): reaches across the whole coordinate range.
MAX_RADIUS = 4.0
MAX_STROKES = 2000
MAX_POINTS = 20000


@dataclass(frozen=True)
class Stroke:
    """One brush stroke: a polyline and the brush it was painted with."""
    points: tuple[Point, ...]
    #: the brush's radius, in long-side units
    radius: float = 0.05
    #: the soft part of the radius: 0 = a hard edge, 1 = soft from the centre out
    feather: float = 0.5
    #: how much one stroke adds (or takes away), 0-1
    flow: float = 1.0
    erase: bool = False


@dataclass(frozen=True)
class Brush:
    strokes: tuple[Stroke, ...] = ()


@dataclass(frozen=True)
class Linear:
    """Full effect on ``start``'s side of the line through ``start``, none beyond ``end``."""
    start: Point
    end: Point


@dataclass(frozen=True)
class Radial:
    """An ellipse (radii in long-side units) with a soft rim ``feather`` (a fraction of the radii);
    ``inside``: the effect is inside the ellipse, else outside it."""
    centre: Point
    radii: tuple[float, float]
    feather: float = 0.5
    inside: bool = True


Shape = Union[Brush, Linear, Radial]
KINDS = {Brush: "brush", Linear: "linear", Radial: "radial"}


@dataclass(frozen=True)
class Layer:
    shape: Shape
    #: end time added where the mask is 1 (negative darkens)
    amount: float = 1.0
    visible: bool = True
    #: the mask follows the photo's edges (``clode.engine.masks``: a guided filter on the luminance)
    edges: bool = False

    @property
    def active(self) -> bool:
        """Whether the layer changes anything."""
        return self.visible and self.amount != 0 and not (isinstance(self.shape, Brush) and not self.shape.strokes)


def active_layers(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    return tuple(layer for layer in layers if layer.active)


def time_span(T: float, layers: tuple[Layer, ...], protect: float = 0.0) -> tuple[float, float]:
    """The lowest and highest end time the layers can give a pixel at T (before clamping), with
    highlight protection ``protect`` (which shortens T > 0 down to T (1 - protect))."""
    up = sum(max(layer.amount, 0.0) for layer in active_layers(layers))
    down = sum(min(layer.amount, 0.0) for layer in active_layers(layers))
    lowest = T * (1 - protect) if T > 0 and protect > 0 else T
    return lowest + down, T + up


# --- checking -----------------------------------------------------------------------------------

def _number(value: Any, what: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClodeError(f"{what} is not a number")
    try:
        x = float(value)
    except OverflowError:
        raise ClodeError(f"{what} is not a usable number") from None
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ClodeError(f"{what} {x:g}: must be {lo:g} to {hi:g}")
    return x


def _flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ClodeError(f"{what} is not true or false")


def _point(value: Any, what: str) -> Point:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ClodeError(f"{what} is not a point [x, y]")
    return (_number(value[0], what, COORD_LO, COORD_HI), _number(value[1], what, COORD_LO, COORD_HI))


def _sequence(value: Any, what: str, most: int) -> Union[list, tuple]:
    if not isinstance(value, (list, tuple)):
        raise ClodeError(f"{what} is not a list")
    if len(value) > most:
        raise ClodeError(f"{what} has {len(value)} entries (at most {most})")
    return value


def _stroke(data: Any) -> Stroke:
    if isinstance(data, Stroke):
        data = _stroke_json(data)
    if not isinstance(data, dict):
        raise ClodeError("a brush stroke is not an object")
    points = tuple(_point(p, "a stroke point") for p in _sequence(data.get("points"), "a stroke's points", MAX_POINTS))
    if not points:
        raise ClodeError("a brush stroke has no points")
    return Stroke(points, radius=_number(data.get("radius"), "a brush radius", 1e-4, 1.0),
                  feather=_number(data.get("feather", 0.5), "a brush feather", 0.0, 1.0),
                  flow=_number(data.get("flow", 1.0), "a brush flow", 0.0, 1.0),
                  erase=_flag(data.get("erase", False), "a stroke's erase"))


def _layer(data: Any) -> Layer:
    if isinstance(data, Layer):
        data = layer_to_json(data)
    if not isinstance(data, dict):
        raise ClodeError("a layer is not an object")
    kind = data.get("kind")
    if kind == "brush":
        strokes = _sequence(data.get("strokes", []), "a brush's strokes", MAX_STROKES)
        shape: Shape = Brush(tuple(_stroke(s) for s in strokes))
    elif kind == "linear":
        shape = Linear(_point(data.get("start"), "a gradient's start"), _point(data.get("end"), "a gradient's end"))
    elif kind == "radial":
        radii = data.get("radii")
        if not isinstance(radii, (list, tuple)) or len(radii) != 2:
            raise ClodeError("a radial gradient's radii are not [rx, ry]")
        shape = Radial(_point(data.get("centre"), "a radial gradient's centre"),
                       (_number(radii[0], "a radius", 1e-4, MAX_RADIUS), _number(radii[1], "a radius", 1e-4, MAX_RADIUS)),
                       feather=_number(data.get("feather", 0.5), "a radial feather", 0.0, 1.0),
                       inside=_flag(data.get("inside", True), "a radial gradient's inside"))
    else:
        raise ClodeError(f"unknown layer kind {str(kind)[:20]!r}")
    return Layer(shape, amount=_number(data.get("amount", 1.0), "a layer's amount", -MAX_AMOUNT, MAX_AMOUNT),
                 visible=_flag(data.get("visible", True), "a layer's visible"),
                 edges=_flag(data.get("edges", False), "a layer's edges"))


def parse_layers(value: Any) -> tuple[Layer, ...]:
    """Layers from their JSON form (or already layers), checked; ClodeError on anything damaged."""
    return tuple(_layer(item) for item in _sequence(value, "local exposure", MAX_LAYERS))


@dataclass(frozen=True)
class LayersSetting:
    """What ``Adjustments.local`` accepts (the ``Limits`` of a list of layers)."""
    label: str = "local exposure"

    def check(self, name: str, value: Any) -> tuple[Layer, ...]:
        try:
            return parse_layers(value)
        except RecursionError:
            raise ClodeError(f"{self.label}: nested too deeply") from None
        except ClodeError as e:
            raise ClodeError(f"{self.label}: {e}") from None


# --- writing ------------------------------------------------------------------------------------

def _stroke_json(stroke: Stroke) -> dict:
    return {"points": [list(p) for p in stroke.points], "radius": stroke.radius, "feather": stroke.feather,
            "flow": stroke.flow, "erase": stroke.erase}


def layer_to_json(layer: Layer) -> dict:
    shape = layer.shape
    out: dict = {"kind": KINDS[type(shape)], "amount": layer.amount, "visible": layer.visible, "edges": layer.edges}
    if isinstance(shape, Brush):
        out["strokes"] = [_stroke_json(s) for s in shape.strokes]
    elif isinstance(shape, Linear):
        out.update(start=list(shape.start), end=list(shape.end))
    else:
        out.update(centre=list(shape.centre), radii=list(shape.radii), feather=shape.feather, inside=shape.inside)
    return out


def layers_to_json(layers: tuple[Layer, ...]) -> list:
    return [layer_to_json(layer) for layer in layers]
