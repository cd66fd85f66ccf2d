"""Local exposure layers (``clode.base.local_exposure``) as masks and end-time maps on a pixel grid.

The fast engine's Lambda lives on the proxy (long side 128), far too coarse for a brush: a
6000-pixel photo has 47 pixels per proxy cell. So the end-time map is made on a *grid* that
covers the rendered region at the output's resolution, capped at ``MASK_SIDE`` on the long side:
each grid pixel gets its own end time, Lambda is read there bilinearly in space (from the proxy)
and linearly in t (between the recorded times, ``lambda_on_grid``), and the render upsamples that
field from the grid exactly as it upsamples the proxy's otherwise (``GRID_STEP`` output pixels
per grid pixel).

Edge-aware masks (``Layer.edges``) follow the photo's luminance: a brush weights each pixel by
how close its luminance (in stops) is to the luminance under the stroke (so a brush over a bright
face does not reach the dark background beside it), and every edge-aware mask then goes through
a guided filter (He et al.) with the luminance as guide, which keeps its transitions on the
photo's edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from clode.base.local_exposure import Brush, Layer, Linear, Radial, Stroke, active_layers
from clode.base.pixels import Size, fit_size

#: The grid the end-time map is made on: one grid pixel per GRID_STEP x GRID_STEP output pixels
#: (a 2 MP view: 433 x 289, drawn again for each brush dab), at most MASK_SIDE long (a 24 MP
#: export: 1500 x 1000); small outputs get a grid of their own size. An edge-aware brush's change
#: 8 px outside a hard edge stays under 1 % of its change inside at 4 px per grid pixel
#: (benchmarks/quality/local_exposure.py).
GRID_STEP = 4
MASK_SIDE = 1536
SMALL_SIDE = 256
#: The guided filter of edge-aware masks: window radius (long-side units) and regularisation
#: (stops^2: edges weaker than about a third of a stop are smoothed over).
EDGE_RADIUS = 0.006
EDGE_EPS = 0.1
#: An edge-aware brush's tolerance: a pixel one stop away from the luminance under the stroke
#: gets e^-0.5 of the effect, two stops e^-2.
RANGE_STOPS = 1.0
#: Luminance below this counts as this (log of 0).
DARKEST = 2.0 ** -12

Region = tuple[int, int, int, int]
#: photo points (long-side units, x and y tensors) -> the luminance there, in stops
Reference = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def grid_shape(out_size: Size) -> Size:
    """The grid's (gh, gw) for an output of ``out_size``: one grid pixel per ``GRID_STEP`` output
    pixels (an output of at most ``SMALL_SIDE`` gets its own size), at most ``MASK_SIDE`` long."""
    h, w = int(out_size[0]), int(out_size[1])
    long = max(h, w)
    side = min(MASK_SIDE, max(min(long, SMALL_SIDE), -(-long // GRID_STEP)))
    return fit_size(h, w, side)


def stops(luminance: torch.Tensor) -> torch.Tensor:
    return torch.log2(luminance.clamp(min=DARKEST))


@dataclass(frozen=True)
class Grid:
    """Pixels of shape ``shape`` covering ``region`` (x, y, w, h) of an image of ``image`` (H, W)."""
    image: Size
    region: Region
    shape: Size

    @property
    def long(self) -> float:
        return float(max(self.image))

    def xs(self, device=None) -> torch.Tensor:
        """Pixel centres' x, long-side units."""
        x, _, w, _ = self.region
        j = torch.arange(self.shape[1], dtype=torch.float32, device=device)
        return (x + (j + 0.5) * w / self.shape[1]) / self.long

    def ys(self, device=None) -> torch.Tensor:
        _, y, _, h = self.region
        i = torch.arange(self.shape[0], dtype=torch.float32, device=device)
        return (y + (i + 0.5) * h / self.shape[0]) / self.long

    def pixels(self, length: float) -> float:
        """A length in long-side units as grid pixels."""
        return length * self.long * self.shape[1] / self.region[2]


def _smoothstep(u: torch.Tensor) -> torch.Tensor:
    u = u.clamp(0, 1)
    return u * u * (3 - 2 * u)


def _falloff(distance: torch.Tensor, radius: float, feather: float) -> torch.Tensor:
    """1 within the hard core, a smooth step down to 0 at ``radius``."""
    soft = radius * feather
    if soft <= 0:
        return (distance <= radius).float()
    return _smoothstep((radius - distance) / soft)


def _spaced(points: tuple, spacing: float) -> list:
    """The stroke's points, dropping those closer than ``spacing`` to the last one kept (a mouse
    stroke has far more points than its shape needs; the last point is always kept)."""
    kept = [points[0]]
    for p in points[1:]:
        if math.hypot(p[0] - kept[-1][0], p[1] - kept[-1][1]) >= spacing:
            kept.append(p)
    if len(points) > 1 and kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _span(coords: torch.Tensor, lo: float, hi: float) -> tuple[int, int]:
    """Indices [a, b) of the increasing ``coords`` within [lo, hi]."""
    a = int(torch.searchsorted(coords, torch.tensor(lo, dtype=coords.dtype)))
    b = int(torch.searchsorted(coords, torch.tensor(hi, dtype=coords.dtype), right=True))
    return a, b


def _stroke(stroke: Stroke, xs: torch.Tensor, ys: torch.Tensor, guide: Optional[torch.Tensor],
            reference: Optional[Reference]) -> Optional[tuple[tuple[int, int, int, int], torch.Tensor]]:
    """The stroke's coverage (0-1, before flow) on the part of the grid it touches: (i0, i1, j0, j1)
    and a [i1 - i0, j1 - j0] patch, or None when it misses the grid."""
    r = stroke.radius
    pts = _spaced(stroke.points, r / 4)
    px = [p[0] for p in pts]
    py = [p[1] for p in pts]
    i0, i1 = _span(ys, min(py) - r, max(py) + r)
    j0, j1 = _span(xs, min(px) - r, max(px) + r)
    if i1 <= i0 or j1 <= j0:
        return None
    patch = torch.zeros(i1 - i0, j1 - j0, device=xs.device)
    refs = None
    if guide is not None and reference is not None:
        refs = reference(torch.tensor(px, device=xs.device), torch.tensor(py, device=xs.device)).tolist()
    segments = list(zip(range(len(pts) - 1), range(1, len(pts)))) or [(0, 0)]
    for a, b in segments:
        (ax, ay), (bx, by) = pts[a], pts[b]
        si0, si1 = _span(ys, min(ay, by) - r, max(ay, by) + r)
        sj0, sj1 = _span(xs, min(ax, bx) - r, max(ax, bx) + r)
        if si1 <= si0 or sj1 <= sj0:
            continue
        X = xs[sj0:sj1][None, :]
        Y = ys[si0:si1][:, None]
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        u = ((X - ax) * dx + (Y - ay) * dy) / length2 if length2 > 0 else torch.zeros_like(X * Y)
        u = u.clamp(0, 1)
        distance = torch.hypot(X - ax - u * dx, Y - ay - u * dy)
        value = _falloff(distance, r, stroke.feather)
        if refs is not None and guide is not None:      # (refs are read only with a guide)
            ref = refs[a] + u * (refs[b] - refs[a])
            value = value * torch.exp(-0.5 * ((guide[si0:si1, sj0:sj1] - ref) / RANGE_STOPS) ** 2)
        view = patch[si0 - i0:si1 - i0, sj0 - j0:sj1 - j0]
        torch.maximum(view, value, out=view)
    return (i0, i1, j0, j1), patch


def _brush(brush: Brush, grid: Grid, xs, ys, guide, reference) -> torch.Tensor:
    mask = torch.zeros(grid.shape, device=xs.device)
    for stroke in brush.strokes:
        found = _stroke(stroke, xs, ys, guide, reference)
        if found is None:
            continue
        (i0, i1, j0, j1), cover = found
        cover = cover.mul_(stroke.flow)
        view = mask[i0:i1, j0:j1]
        if stroke.erase:
            view.mul_(1 - cover)
        else:
            view.add_(cover * (1 - view))     # builds up towards 1, like paint of this flow
    return mask


def _linear(shape: Linear, xs, ys) -> torch.Tensor:
    (ax, ay), (bx, by) = shape.start, shape.end
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 < 1e-12:
        # Shorter than a millionth of the photo: no gradient to draw (and in float32 the division
        # below would be 0 / 0).
        return torch.ones(len(ys), len(xs), device=xs.device)
    u = ((xs[None, :] - ax) * dx + (ys[:, None] - ay) * dy) / length2
    return _smoothstep(1 - u)


def _radial(shape: Radial, xs, ys) -> torch.Tensor:
    (cx, cy), (rx, ry) = shape.centre, shape.radii
    rho = torch.hypot((xs[None, :] - cx) / rx, (ys[:, None] - cy) / ry)
    inside = _falloff(rho, 1.0, shape.feather)
    return inside if shape.inside else 1 - inside


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, shrunk at the borders, of [h, w] (running sums: the cost does
    not grow with r)."""
    def along(t: torch.Tensor, dim: int) -> torch.Tensor:
        n = t.shape[dim]
        c = torch.cumsum(t.double(), dim)
        c = torch.cat([torch.zeros_like(c.narrow(dim, 0, 1)), c], dim)
        idx = torch.arange(n, device=t.device)
        hi, lo = (idx + r + 1).clamp(max=n), (idx - r).clamp(min=0)
        shape = [1, 1]
        shape[dim] = n
        count = (hi - lo).view(shape)
        return ((c.index_select(dim, hi) - c.index_select(dim, lo)) / count).float()
    return along(along(x, 0), 1)


def guided(mask: torch.Tensor, guide: torch.Tensor, radius: int, eps: float = EDGE_EPS) -> torch.Tensor:
    """``mask`` filtered with ``guide`` (both [h, w]) as the guided filter's guide."""
    mean_g, mean_p = _box(guide, radius), _box(mask, radius)
    cov = _box(guide * mask, radius) - mean_g * mean_p
    var = _box(guide * guide, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    return (_box(a, radius) * guide + _box(b, radius)).clamp_(0, 1)


def rasterise(layer: Layer, grid: Grid, guide: Optional[torch.Tensor] = None,
              reference: Optional[Reference] = None, device=None) -> torch.Tensor:
    """The layer's mask on ``grid``, [gh, gw] float32 in [0, 1]. ``guide`` (the input's luminance
    on the grid, in stops) and ``reference`` (luminance at photo points, in stops) make an
    edge-aware layer follow edges; without them it is drawn as if it were not edge-aware."""
    xs, ys = grid.xs(device), grid.ys(device)
    guide = guide if layer.edges else None      # a layer that is not edge-aware ignores it
    shape = layer.shape
    if isinstance(shape, Brush):
        mask = _brush(shape, grid, xs, ys, guide, reference)
    elif isinstance(shape, Linear):
        mask = _linear(shape, xs, ys)
    else:
        mask = _radial(shape, xs, ys)
    if guide is not None:
        radius = max(1, round(grid.pixels(EDGE_RADIUS)))
        # A brush's mask is 0 away from its strokes, and so is the filter's output there (more
        # than two windows away): filter only around the strokes (a dab then costs its own size).
        area = _painted(mask, 2 * radius + 1) if isinstance(shape, Brush) else None
        if area is None:
            mask = guided(mask, guide, radius)
        elif area != ():
            i0, i1, j0, j1 = area
            mask[i0:i1, j0:j1] = guided(mask[i0:i1, j0:j1], guide[i0:i1, j0:j1], radius)
    return mask


def _painted(mask: torch.Tensor, margin: int):
    """(i0, i1, j0, j1): the box around ``mask``'s non-zero pixels grown by ``margin``, or () when
    the mask is all 0."""
    rows, cols = mask.any(1).nonzero(), mask.any(0).nonzero()
    if not len(rows):
        return ()
    h, w = mask.shape
    return (max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, h),
            max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, w))


def needs_guide(layers: tuple[Layer, ...]) -> bool:
    return any(layer.edges for layer in active_layers(layers))


def exposure_offset(layers: tuple[Layer, ...], grid: Grid, guide: Optional[torch.Tensor] = None,
                    reference: Optional[Reference] = None, device=None) -> torch.Tensor:
    """Sum of amount x mask over the active layers on ``grid``: [gh, gw] float64."""
    total = torch.zeros(grid.shape, dtype=torch.float64, device=device)
    for layer in active_layers(layers):
        total += layer.amount * rasterise(layer, grid, guide, reference, device).double()
    return total


def sample(field: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, image: Size) -> torch.Tensor:
    """``field`` ([h, w], covering the whole image of size ``image``) read bilinearly at photo
    points (long-side units; pixel centres as ``align_corners=False``)."""
    h, w = field.shape
    long = float(max(image))
    fx = (xs * long * w / image[1] - 0.5).clamp(0, w - 1)
    fy = (ys * long * h / image[0] - 0.5).clamp(0, h - 1)
    x0, y0 = fx.floor().long(), fy.floor().long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    ax, ay = (fx - x0).to(field.dtype), (fy - y0).to(field.dtype)
    top = torch.lerp(field[y0, x0], field[y0, x1], ax)
    bottom = torch.lerp(field[y1, x0], field[y1, x1], ax)
    return torch.lerp(top, bottom, ay)
