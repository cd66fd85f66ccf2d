"""The fast engine: solve once on a small proxy, render any exposure at any size.

For a fixed curve map A(x, t) each pixel's ODE dI/dt = A (I^2 - I) is a
logistic equation with the closed form

    I(T) = I0 / (I0 + (1 - I0) exp(Lambda(T))) = sigmoid(logit(I0) - Lambda(T)),
    Lambda(x, T) = int_0^T A(x, t) dt

(for an RGB-ratio model, ``I0 / (m0 + (1 - m0) exp(Lambda))`` with m0 the
pixel's brightest channel: see ``clode.engine.network.CURVE_MODES``).

``prepare`` solves the network ODE once per direction on a proxy (long side
``PROXY_SIDE``) carrying Lambda as extra channels, and records Lambda on a grid
of end times over [-t_max, t_max]. ``Session.render`` then interpolates Lambda
linearly in t, upsamples it to the output pixels, and applies the closed form
to the full-resolution input: no curve network runs after ``prepare``, only the
optional denoiser, in tiles. At the proxy's own size the render equals the
exact solve (up to solver tolerance and the linear interpolation in t between
grid points); above it, the curve is the proxy's, as in Zero-DCE++.

Local exposure layers (``clode.base.local_exposure``) give each pixel its own end time: ``LocalMaps``
makes the map on a grid finer than the proxy (``clode.engine.masks``), ``lambda_on_grid`` reads Lambda
there, and the render upsamples from that grid instead of from the proxy.

For an exposure dial: render the view with ``Finish(denoise=0)`` (and ``dtype=np.uint8``)
while the dial moves (a few memory passes over the view, no network at all),
and once more with the denoiser when it stops. A session is not thread-safe:
render from one thread at a time.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from clode.engine.taste import auto_T as _auto_T
from clode.engine.colour_noise import radius, reduce_colour_noise, sigma_for
from clode.engine.denoise_speed import as_net
from clode.base.adjustments import DEFAULT_T
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.engine.guided_filter import coefficients, luminance
from clode.engine.highlights import at_times, end_times
from clode.base.local_exposure import Layer, active_layers
from clode.engine.masks import Grid, grid_shape, needs_guide, rasterise, sample, stops
from clode.engine.network import CLODENet
from clode.engine.near_black import fade_near_black, input_noise
from clode.engine.neutral import photo_gains
from clode.engine.noise_level import measured_strength
from clode.engine.ode import Solver, integrate_lambda
from clode.base.pixels import Size, fit_size, image_tensor, resize
from clode.base.progress import CancelToken, ProgressCallback, check, report
from clode.engine.small import pad_small
from clode.engine.tiles import denoise_tiled

#: Long side of the proxy the network is solved on.
PROXY_SIDE = 128
#: Spacing of the recorded end times; Lambda is linear in t between them.
T_STEP = 0.25
#: The proxy solve needs far less accuracy than the official 1e-5: an error
#: of 1e-3 in Lambda moves a pixel by < 2.5e-4.
PROXY_SOLVER = Solver("dopri5", rtol=1e-3, atol=1e-3, error_norm="rms")
#: The first preview of a newly opened photo: a smaller proxy and a coarser
#: solve (usually over [0, default T] only), replaced by the full prepare.
QUICK_PROXY_SIDE = 64
QUICK_SOLVER = Solver("dopri5", rtol=1e-2, atol=1e-2, error_norm="rms")
#: Rows of output per strip are chosen so one strip holds about this many
#: pixels (with the denoiser); without it, strips are cache-sized chunks. Taller strips waste less
#: on their context rows (a 24 MP render: 4.94 s with 5 MP strips, 5.30 s with these), but hold
#: more memory: see clode.engine.tiles.DENOISE_TILE_CPU.
STRIP_PIXELS = 2_500_000
CHUNK_PIXELS = 1_048_576
#: Renders of at least this many output pixels (exports, not views on a screen) run their
#: element-wise passes on all threads (``_one_thread``).
ALL_THREADS_PIXELS = 8_000_000

#: How Lambda goes from the proxy to the output: "bilinear", or "guided" (fast
#: guided filter with the input's luminance as guide, edge-aware).
UPSAMPLERS = ("bilinear", "guided")
UPSAMPLE = "bilinear"
GUIDED_RADIUS = 1           # proxy pixels
GUIDED_EPS = 1e-3

Region = tuple[int, int, int, int]   # x, y, w, h in input pixels


def proxy_size(height: int, width: int, side: int = PROXY_SIDE) -> Size:
    return fit_size(height, width, side)


#: Grid points closer than this (in steps) to an end or to 0 are left out: the solver's float32
#: times could not tell them apart (T = 3.0000001 beside 3.0 failed with "t must be strictly
#: increasing"), and Lambda is linear between the points anyway.
_GRID_GAP = 1e-3


def time_grid(t_min: float, t_max: float, step: float = T_STEP) -> list[float]:
    """End times from ``t_min`` to ``t_max`` (both included, and 0) spaced at most ``step``; an end
    within ``_GRID_GAP`` steps of 0 is 0 (``Session`` renders that far outside its range)."""
    gap = _GRID_GAP * step
    ends = {0.0 if abs(t) <= gap else float(t) for t in (t_min, t_max)} | {0.0}
    lo, hi = math.ceil(t_min / step), math.floor(t_max / step)
    inner = {k * step for k in range(lo, hi + 1)
             if t_min < k * step < t_max and all(abs(k * step - e) > gap for e in ends)}
    return sorted(inner | ends)


def strength_time(T: float) -> float:
    """The end time whose render the noise strength for ``T`` is measured on: one measurement per
    0.1 of T (the noise changes slowly with T), so an export's pixels do not depend on where the
    dial passed first."""
    return round(float(T), 1)


def covering_range(T: float, t_max: float, step: float = T_STEP, also: Sequence[float] = ()) -> tuple[float, float]:
    """The span a session must be prepared over to render ``T`` as a session over [-t_max, t_max]
    renders it: from 0 to T and to ``strength_time(T)``, widened to whole grid steps (within
    ``t_max``). On the same grid points the solver takes the same steps, so Lambda, and so the
    pixels, are those of the editor's full session (T = 1.58 is interpolated between 1.5 and 1.75
    in both), and the noise is measured at a time inside the span (T = 1.58 was measured at 1.6,
    outside a session prepared to 1.58). ``also``: more end times to cover (local exposure's)."""
    ts = (0.0, float(T), strength_time(T), *(float(t) for t in also))
    lo = math.floor(min(ts) / step + 1e-9) * step
    hi = math.ceil(max(ts) / step - 1e-9) * step
    return max(lo, -t_max), min(hi, t_max)


@contextmanager
def _one_thread(pixels: int = 0):
    """Run the closed form's memory-bound element-wise passes on one thread, unless the render
    has at least ``ALL_THREADS_PIXELS`` pixels.

    Measured on the 2-core machine while others used it: a 2 MP dial render
    took 23 ms on one thread and 150-1400 ms on two (each of its ~20 ops
    waits for both threads to be scheduled); on an idle machine one thread
    still meets the dial's budget. An export's strips are large enough to pay for the second
    thread: the colour-noise pass of a 2.7 MP strip took 185 ms on one thread and 65 ms on two
    (quiet machine). The denoiser's convolutions keep all threads.
    """
    threads = torch.get_num_threads()
    if threads == 1 or pixels >= ALL_THREADS_PIXELS:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Axis:
    """Linear interpolation along one axis: out[j] = lerp(src[i0[j]], src[i1[j]], w[j])."""
    i0: torch.Tensor
    i1: torch.Tensor
    w: torch.Tensor

    @classmethod
    def make(cls, n_out: int, start: float, length: float, n_src: int, n_full: int, device) -> "_Axis":
        # Pixel centres of the output, mapped into the source grid (align_corners=False).
        j = torch.arange(n_out, dtype=torch.float64, device=device)
        s = ((start + (j + 0.5) * length / n_out) * n_src / n_full - 0.5).clamp_(0, n_src - 1)
        i0 = s.floor().long()
        return cls(i0, (i0 + 1).clamp_(max=n_src - 1), (s - i0).float())


def _resample(field: torch.Tensor, rows: _Axis, cols: _Axis) -> torch.Tensor:
    """``field`` ([h, w, ...]) read bilinearly at the points of ``rows`` x ``cols``."""
    wx = cols.w.to(field.dtype).view(1, -1, *([1] * (field.dim() - 2)))
    wy = rows.w.to(field.dtype).view(-1, 1, *([1] * (field.dim() - 2)))
    fx = torch.lerp(field[:, cols.i0], field[:, cols.i1], wx)
    return torch.lerp(fx[rows.i0], fx[rows.i1], wy)


def lambda_on_grid(times: torch.Tensor, field: torch.Tensor, t_map: torch.Tensor, rows: _Axis,
                   cols: _Axis) -> torch.Tensor:
    """``field`` ([K, ph, pw, C] recorded at ``times``) at each grid pixel's own time ``t_map``
    ([gh, gw]): bilinear in space (``rows`` and ``cols`` map the grid onto the proxy) and linear
    in t. The recorded times the map reaches are interpolated along x first ([K', ph, gw, C],
    small), then each grid pixel gathers its two rows at its two times (no [K', gh, gw] stack)."""
    K, ph, pw, C = field.shape
    times = times.to(t_map.device, torch.float64)
    if K == 1:
        k = torch.zeros_like(t_map, dtype=torch.long)
        a = None
    else:
        k = torch.searchsorted(times, t_map.contiguous()).clamp_(1, K - 1)
        t0, t1 = times[k - 1], times[k]
        a = ((t_map - t0) / (t1 - t0)).clamp_(0, 1).to(field.dtype)[..., None]
        k = k - 1
    k_lo, k_hi = int(k.min()), int(k.max()) + (2 if a is not None else 1)
    part = field[k_lo:k_hi]
    fx = torch.lerp(part[:, :, cols.i0], part[:, :, cols.i1], cols.w[None, None, :, None].to(field.dtype))
    gw = fx.shape[2]
    flat = fx.reshape(-1, C)
    j = torch.arange(gw, device=t_map.device)[None, :]
    r0, r1 = rows.i0[:, None] * gw + j, rows.i1[:, None] * gw + j       # [gh, gw]
    wy = rows.w[:, None, None].to(field.dtype)
    step = ph * gw
    base = (k - k_lo) * step

    def at(offset: torch.Tensor) -> torch.Tensor:
        return torch.lerp(flat[offset + r0], flat[offset + r1], wy)

    if a is None:
        return at(base)
    return torch.lerp(at(base), at(base + step), a)


class LocalMaps:
    """Per-pixel end times from local exposure layers (``clode.engine.masks``) for one image, with the
    masks of recent layers and grids kept: while a brush paints, only its own layer is drawn
    again, and the dial moving over a photo with layers draws none."""

    def __init__(self, image: np.ndarray, proxy: torch.Tensor):
        self.image = image
        self.proxy = proxy
        self._masks: OrderedDict = OrderedDict()
        self._guides: OrderedDict = OrderedDict()
        self._reference: Optional[torch.Tensor] = None

    @property
    def size(self) -> Size:
        return self.image.shape[0], self.image.shape[1]

    def _guide(self, grid: Grid) -> torch.Tensor:
        guide = self._guides.get(grid)
        if guide is None:
            x, y, w, h = grid.region
            crop = image_tensor(self.image[y:y + h, x:x + w]).to(self.proxy.device)
            guide = stops(resize(crop, grid.shape)[0].mean(0))
            self._guides[grid] = guide
            while len(self._guides) > 2:
                self._guides.popitem(last=False)
        return guide

    def _sample_reference(self, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        if self._reference is None:
            self._reference = stops(self.proxy[0].mean(0))
        return sample(self._reference, xs, ys, self.size)

    def _mask(self, layer: Layer, grid: Grid, guide: Optional[torch.Tensor]) -> torch.Tensor:
        key = (layer.shape, layer.edges, grid)
        mask = self._masks.get(key)
        if mask is None:
            mask = rasterise(layer, grid, guide, self._sample_reference, self.proxy.device)
            self._masks[key] = mask
            while len(self._masks) > 16:
                self._masks.popitem(last=False)
        else:
            self._masks.move_to_end(key)
        return mask

    def offset(self, layers: tuple[Layer, ...], grid: Grid) -> torch.Tensor:
        """Sum of amount x mask on ``grid``, [gh, gw] float32."""
        guide = self._guide(grid) if needs_guide(layers) else None
        total = torch.zeros(grid.shape, device=self.proxy.device)
        for layer in active_layers(layers):
            total.add_(self._mask(layer, grid, guide if layer.edges else None), alpha=layer.amount)
        return total

    def end_times(self, T: float, protect: float, layers: tuple[Layer, ...], grid: Grid,
                  t_range: tuple[float, float]) -> torch.Tensor:
        """Each grid pixel's end time: highlight protection's map (``clode.engine.highlights``, read
        bilinearly from the proxy) plus the layers, clamped to ``t_range``: [gh, gw] float64."""
        (ph, pw), (H, W) = self.proxy.shape[-2:], self.size
        x, y, w, h = grid.region
        rows = _Axis.make(grid.shape[0], y, h, ph, H, self.proxy.device)
        cols = _Axis.make(grid.shape[1], x, w, pw, W, self.proxy.device)
        if protect > 0 and T > 0:
            t = _resample(end_times(self.proxy, T, protect), rows, cols)
        else:
            t = torch.full(grid.shape, float(T), dtype=torch.float64, device=self.proxy.device)
        return (t + self.offset(layers, grid)).clamp_(*t_range)


class Session:
    """One image prepared for fast rendering (see the module doc).

    Holds a reference to the caller's image (not a copy): do not modify it while
    the session is in use.
    """

    def __init__(self, net: CLODENet, image: np.ndarray, proxy: torch.Tensor, times: Sequence[float],
                 lam: torch.Tensor, device: torch.device, t_max: float, upsample: str = "bilinear",
                 denoiser: Optional[torch.nn.Module] = None):
        if upsample not in UPSAMPLERS:
            raise ClodeError(f"unknown upsampling {upsample!r} (expected one of: {', '.join(UPSAMPLERS)})")
        self.net = net
        self.image = image
        self.proxy = proxy                  # [1, 3, ph, pw] the image the network saw
        self.times = torch.tensor(list(times), dtype=torch.float64)
        self.lam = lam                      # [K, ph, pw, 3] Lambda at self.times
        self.device = device
        self.t_max = t_max
        self.upsample = upsample
        #: what runs the output denoiser (``clode.engine.denoise_speed``; default: the model's own, float32)
        self.denoiser = denoiser if denoiser is not None else net.output_denoiser
        #: The RGB-ratio curve has one exposure field for R, G and B (its three channels are equal):
        #: the closed form then upsamples and exponentiates one channel, not three.
        self._one_field = net.curve_mode == "rgb_ratio"
        field = lam[..., :1] if self._one_field else lam
        if upsample == "guided":
            guide = luminance(proxy[0].permute(1, 2, 0))
            # Lambda ~ a * luminance + b per window; a and b ride the time grid like Lambda.
            self.fields = list(coefficients(guide, field, GUIDED_RADIUS, GUIDED_EPS))
        else:
            self.fields = [field]
        self._views: OrderedDict = OrderedDict()
        self._strengths: dict = {}
        self._gains: Optional[np.ndarray] = None
        self._local = LocalMaps(image, proxy)
        self._input_noise: Optional[float] = None

    def with_upsample(self, upsample: str) -> "Session":
        """The same solve rendered with another upsampling (shares the recorded Lambda)."""
        return Session(self.net, self.image, self.proxy, self.times.tolist(), self.lam, self.device,
                       self.t_max, upsample, self.denoiser)

    def with_image(self, image: np.ndarray) -> "Session":
        """The same solve applied to another decode of the same picture (e.g. the full-size
        decode after a session was prepared on a preview): Lambda lives on the proxy, so it
        fits any resolution of the same framing."""
        (h, w), (H, W) = self.size, image.shape[:2]
        if abs(h / w - H / W) > 0.02:
            raise ClodeError(f"image of {W} x {H} does not have the framing of the prepared {w} x {h}")
        return Session(self.net, image, self.proxy, self.times.tolist(), self.lam, self.device,
                       self.t_max, self.upsample, self.denoiser)

    @property
    def size(self) -> Size:
        return self.image.shape[0], self.image.shape[1]

    @property
    def proxy_size(self) -> Size:
        return int(self.proxy.shape[-2]), int(self.proxy.shape[-1])

    @property
    def t_range(self) -> tuple[float, float]:
        return float(self.times[0]), float(self.times[-1])

    def auto_T(self, taste: bool = True) -> float:
        """Automatic exposure for this image (see ``clode.engine.auto_exposure``); ``taste``: with the
        photographer's learned correction for this model (``clode.engine.taste``), where there is one."""
        info = getattr(self.net, "info", None)
        return _auto_T(self, info.default_T if info is not None else DEFAULT_T, taste)

    def lambda_at(self, T: float) -> torch.Tensor:
        """Lambda(T) on the proxy, [ph, pw, 3], linear in t between recorded times."""
        return self._at(self.lam, T)

    def _at(self, field: torch.Tensor, T: float) -> torch.Tensor:
        lo, hi = self.t_range
        slack = _GRID_GAP * T_STEP
        if not lo - slack <= T <= hi + slack:
            raise ClodeError(f"T = {T:g} is outside the prepared range [{lo:g}, {hi:g}]")
        if len(self.times) == 1:     # a session prepared for T = 0 only
            return field[0]
        k = int(torch.searchsorted(self.times, torch.tensor(float(T), dtype=torch.float64)).clamp(1, len(self.times) - 1))
        t0, t1 = float(self.times[k - 1]), float(self.times[k])
        a = min(max((T - t0) / (t1 - t0), 0.0), 1.0)
        if a == 0.0:
            return field[k - 1]
        if a == 1.0:
            return field[k]
        return torch.lerp(field[k - 1], field[k], a)

    def _view(self, size: Size, region: Region, keep_input: bool, remember: bool = True) -> dict:
        key = (size, region)
        view = self._views.get(key)
        if view is None:
            (H, W), (ph, pw) = self.size, self.proxy_size
            x, y, w, h = region
            view = {"rows": _Axis.make(size[0], y, h, ph, H, self.device),
                    "cols": _Axis.make(size[1], x, w, pw, W, self.device)}
            if not remember:      # a one-off (the noise crops): keep the views the dial reuses
                return view
            self._views[key] = view
            while len(self._views) > 4:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        if keep_input and "logit" not in view and "i0" not in view:
            # The view's input, resized once: a dial render is then one upsampling and a few
            # element-wise passes. Per channel it is kept as logit(I0) (the closed form is then
            # a subtraction and a sigmoid); the RGB-ratio form needs I0 itself.
            i0 = self._input_rows(size, region, 0, size[0])
            if self._one_field:
                view["i0"] = i0
                view["base"] = i0.amax(-1, keepdim=True)
                view["1-base"] = 1 - view["base"]
            else:
                view["logit"] = torch.logit(i0)
            if self.upsample == "guided":
                view["guide"] = luminance(i0)
        return view

    def _input_rows(self, size: Size, region: Region, r0: int, r1: int) -> torch.Tensor:
        """The input resampled to the output grid, rows [r0, r1), as [rows, W, 3] on the device."""
        x, y, w, h = region
        if (h, w) == tuple(size):
            rows = torch.from_numpy(np.asarray(self.image[y + r0:y + r1, x:x + w], dtype=np.float32))
            return rows.to(self.device)
        # Resampled views are screen-sized: resize the whole region at once.
        crop = image_tensor(self.image[y:y + h, x:x + w]).to(self.device)
        # clamp: float rounding in the filter can give 1.0000001 next to clipped highlights,
        # whose logit is NaN
        return resize(crop, size)[0, :, r0:r1].permute(1, 2, 0).clamp(0, 1).contiguous()

    def _brightest_input(self, view: dict, size: Size, region: Region, r0: int, r1: int) -> torch.Tensor:
        """The input's brightest channel at output rows [r0, r1), [rows, W, 1] (from the view's
        resized input where it keeps one)."""
        if "base" in view:
            return view["base"][r0:r1]
        if "logit" in view:
            return torch.sigmoid(view["logit"][r0:r1].amax(-1, keepdim=True))
        return self._input_rows(size, region, r0, r1).amax(-1, keepdim=True)

    def _closed_form(self, view: dict, fields: list, size: Size, region: Region,
                     a: int, b: int, out: torch.Tensor) -> None:
        """I(T) for output rows [a, b) into ``out`` ([b - a, W, 3]), in cache-sized chunks.

        ``fields`` holds (x-interpolated field, its row differences) for Lambda,
        or for the guided filter's a and b; a field's rows are
        ``fx[i0] + w * diff[i0]`` (bilinear in y). The chunks keep every pass
        over the data in cache.
        """
        rows = view["rows"]
        # On a GPU the whole strip is one chunk: launches cost more than memory passes there.
        step = b - a if out.is_cuda else max(8, CHUNK_PIXELS // max(size[1], 1))
        tmp = None
        one = torch.empty(step, size[1], 1, device=out.device) if self._one_field else None
        for c0 in range(a, b, step):
            c1 = min(c0 + step, b)
            i0, w = rows.i0[c0:c1], rows.w[c0:c1, None, None]
            # Lambda goes to the output rows, or for one field to a one-channel buffer
            o = out[c0 - a:c1 - a] if one is None else one[:c1 - c0]
            fx, diff = fields[0]
            torch.index_select(fx, 0, i0, out=o)
            o.addcmul_(w, diff.index_select(0, i0))
            if "logit" in view:
                i0_img = None
            else:
                i0_img = view["i0"][c0:c1] if "i0" in view else self._input_rows(size, region, c0, c1)
            if len(fields) == 2:
                # Guided: Lambda = a * guide + b.
                if "guide" in view:
                    guide = view["guide"][c0:c1]
                else:
                    assert i0_img is not None       # a view keeping logit(I0) keeps its guide too
                    guide = luminance(i0_img)
                o.mul_(guide)
                fx, diff = fields[1]
                tmp = torch.index_select(fx, 0, i0, out=tmp if tmp is not None and tmp.shape == o.shape else None)
                o.add_(tmp.addcmul_(w, diff.index_select(0, i0)))
            if i0_img is None:
                torch.sub(view["logit"][c0:c1], o, out=o).sigmoid_()
            else:
                # I0 / (B + (1 - B) e^Lambda) in place, B = I0 per channel or the brightest
                # channel of I0 for the RGB-ratio curve (clode.engine.ode.logistic).
                if "base" in view:
                    base, rest = view["base"][c0:c1], view["1-base"][c0:c1]
                else:
                    base = i0_img.amax(-1, keepdim=True) if self._one_field else i0_img
                    rest = 1 - base
                o.exp_().mul_(rest).add_(base)
                torch.div(i0_img, o, out=out[c0 - a:c1 - a])

    @torch.no_grad()
    def noise_strength(self, T: float) -> float:
        """How much noise treatment the result at ``T`` needs, 0-1 (``clode.engine.noise_level``): measured
        on full-resolution crops of the render without it, so every view of the photo and its
        export get the same strength."""
        # Kept inside the prepared span for a session not made by ``covering_range``.
        lo, hi = self.t_range
        key = min(max(strength_time(T), lo), hi)
        strength = self._strengths.get(key)
        if strength is None:
            strength = measured_strength(
                lambda region: image_tensor(self._render(key, Finish(denoise=0.0), region=region,
                                                         remember_view=False)),
                *self.size)
            self._strengths[key] = strength
        return strength

    def input_noise(self) -> float:
        """The input's noise in 8-bit levels (``clode.engine.near_black.input_noise``), measured once on
        full-resolution crops of the photo."""
        if self._input_noise is None:
            self._input_noise = input_noise(lambda r: image_tensor(self.image[r[1]:r[1] + r[3], r[0]:r[0] + r[2]]),
                                            *self.size)
        return self._input_noise

    def neutral_gains(self) -> np.ndarray:
        """Per-channel gains (encoded values) that make the photo's average colour neutral
        (``clode.engine.neutral``)."""
        if self._gains is None:
            self._gains = photo_gains(image_tensor(self.image))
        return self._gains

    @torch.no_grad()
    def render(self, T: float, finish: Finish = Finish(), *, size: Optional[Size] = None,
               region: Optional[Region] = None, dtype: type = np.float32, cancel: Optional[CancelToken] = None,
               progress: Optional[ProgressCallback] = None) -> np.ndarray:
        """The result at end time ``T``, finished by ``finish``, as an H x W x 3 array (float32 in
        [0, 1], or uint8).

        ``finish`` (``clode.base.finish.Finish``; default: the engine's raw finish, the denoiser
        as trained and nothing else; a photo's edit gives ``Adjustments.finish``):
        ``denoise`` is the denoiser's strength (0 = off, 1 = as trained), run at
        the output resolution; ``colour_noise`` the strength of the colour-noise
        reduction after it (``clode.engine.colour_noise``; 0 = off, 1 = a 2-pixel chroma
        blur at full resolution, scaled with the output size). For a model with
        ``adaptive_denoise`` both are scaled by ``noise_strength(T)``: a clean
        result is left alone, a noisy one gets the full treatment. ``neutral`` removes the photo's
        colour cast (``clode.engine.neutral``). ``protect`` (0-1) gives highlights a shorter end time
        (``clode.engine.highlights``); ``local`` layers add to each pixel's end time where their masks
        are (``clode.engine.masks``; the noise treatment's strength stays the one measured at ``T``).
        ``near_black`` fades the colour of pixels at the input's noise floor toward gray as they are
        lifted (``clode.engine.near_black``; on in the product's finish).

        ``region`` = (x, y, w, h) of the input in input pixels (None = all of
        it), ``size`` = (H, W) of the output (None = the region's size).
        ``dtype=np.uint8`` converts strip by strip (for
        display, no float copy of the whole output).
        """
        if finish.treats_noise and self.net.adaptive_denoise:
            finish = finish.noise_scaled(self.noise_strength(T))
        return self._render(T, finish, size=size, region=region, dtype=dtype, cancel=cancel, progress=progress)

    def _render(self, T: float, finish: Finish, *, size: Optional[Size] = None, region: Optional[Region] = None,
                dtype: type = np.float32, cancel: Optional[CancelToken] = None,
                progress: Optional[ProgressCallback] = None, remember_view: bool = True) -> np.ndarray:
        """``render`` with ``finish`` as given (its noise treatment already scaled); ``remember_view``
        False for a one-off region (the noise crops), so the views the dial reuses are kept."""
        H, W = self.size
        x, y, w, h = (0, 0, W, H) if region is None else (int(v) for v in region)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W or y + h > H:
            raise ClodeError(f"region {(x, y, w, h)} is not inside the {W} x {H} image")
        box: Region = (x, y, w, h)
        out_h, out_w = (h, w) if size is None else (int(size[0]), int(size[1]))
        out_size: Size = (out_h, out_w)
        view = self._view(out_size, box, keep_input=(h, w) != out_size, remember=remember_view)
        cols = view["cols"]
        gains = torch.from_numpy(self.neutral_gains()).to(self.device) if finish.neutral else None
        noise = self.input_noise() if finish.near_black else None
        denoise, protect = finish.denoise, finish.protect
        fields: list[tuple[torch.Tensor, torch.Tensor]] = []
        layers = active_layers(finish.local)
        t_map = end_times(self.proxy, float(T), protect) if protect > 0 and T > 0 and not layers else None
        pixels = out_h * out_w
        with _one_thread(pixels):
            if layers:
                # Lambda at each pixel's own time on a grid finer than the proxy (clode.engine.masks);
                # the render then upsamples from that grid instead of from the proxy.
                self._at(self.fields[0], float(T))         # T itself must lie in the prepared range
                grid = Grid(self.size, box, grid_shape(out_size))
                (ph, pw), (gh, gw) = self.proxy_size, grid.shape
                t_grid = self._local.end_times(float(T), protect, layers, grid, self.t_range)
                g_rows = _Axis.make(gh, y, h, ph, H, self.device)
                g_cols = _Axis.make(gw, x, w, pw, W, self.device)
                sources = [lambda_on_grid(self.times, field, t_grid, g_rows, g_cols) for field in self.fields]
                view = dict(view, rows=_Axis.make(out_h, 0, gh, gh, gh, self.device))
                cols = _Axis.make(out_w, 0, gw, gw, gw, self.device)
            for i, field in enumerate(self.fields):
                if layers:
                    f = sources[i]
                else:
                    f = self._at(field, float(T)) if t_map is None else at_times(self.times, field, t_map)
                fx = torch.lerp(f[:, cols.i0], f[:, cols.i1], cols.w[None, :, None])   # [ph, out_w, C]
                fields.append((fx, torch.cat([fx[1:] - fx[:-1], fx.new_zeros(1, out_w, fx.shape[-1])])))
        out: np.ndarray = np.empty((out_h, out_w, 3), dtype)
        out_t = torch.from_numpy(out)
        sigma = sigma_for(finish.colour_noise, out_w / w)
        halo: int = (getattr(self.net.output_denoiser, "halo") if denoise else 0) + radius(sigma)
        on_cpu = self.device.type == "cpu"
        strip = max(16, (STRIP_PIXELS if denoise or not on_cpu else CHUNK_PIXELS) // max(out_w, 1))
        buf = torch.empty(min(strip + 2 * halo, out_h), out_w, 3, device=self.device)
        for r0 in range(0, out_h, strip):
            check(cancel)
            r1 = min(r0 + strip, out_h)
            a, b = max(r0 - halo, 0), min(r1 + halo, out_h)
            res = buf[:b - a]
            with _one_thread(pixels):
                self._closed_form(view, fields, out_size, box, a, b, res)
            if denoise:
                # In the denoiser's layout: float32 convolutions ran 2-3x faster on contiguous
                # NCHW than on the strip's channels-last view (measured, 2-core CPU);
                # bfloat16 ones run fastest on that view as it is (no copy).
                layout = getattr(self.denoiser, "layout", torch.contiguous_format)
                block = res.permute(2, 0, 1)[None].contiguous(memory_format=layout)
                res = denoise_tiled(as_net(self.denoiser), block, denoise, cancel=cancel)[0].permute(1, 2, 0)
            with _one_thread(pixels):
                if not denoise:
                    res = res.clamp_(0, 1)
                res = reduce_colour_noise(res, sigma)
                res = res[r0 - a:r0 - a + (r1 - r0)]
                if gains is not None:
                    res = res.mul_(gains).clamp_(0, 1)
                if noise is not None:
                    # after the gains: the near-black ends gray, not tinted by the white balance
                    res = fade_near_black(res, self._brightest_input(view, out_size, box, r0, r1), noise)
                if out.dtype == np.uint8:
                    res = res.mul_(255).add_(0.5)
                out_t[r0:r1] = res.to(device="cpu")     # the cast to uint8 truncates: +0.5 rounds
            report(progress, r1 / out_h, "rendering")
        return out


@torch.no_grad()
def prepare(net: CLODENet, img: np.ndarray, *, t_max: float = 6.0, t_min: Optional[float] = None,
            proxy_side: int = PROXY_SIDE, solver: Solver = PROXY_SOLVER, step: float = T_STEP,
            upsample: str = UPSAMPLE,
            device: torch.device = torch.device("cpu"), progress: Optional[ProgressCallback] = None,
            cancel: Optional[CancelToken] = None, denoiser: Optional[torch.nn.Module] = None) -> Session:
    """Solve the curve ODE on a proxy of ``img`` over [t_min, t_max] (t_min defaults to -t_max);
    ``denoiser`` runs the denoiser in renders (default: the model's own, float32)."""
    t_min = -t_max if t_min is None else t_min
    if not t_min <= 0 <= t_max:
        raise ClodeError(f"the prepared range [{t_min:g}, {t_max:g}] must contain 0")
    x = image_tensor(img)
    ph, pw = proxy_size(x.shape[2], x.shape[3], proxy_side)
    proxy = resize(x, (ph, pw)).to(device=device, memory_format=torch.contiguous_format)
    check(cancel)
    times = time_grid(t_min, t_max, step)
    solve_times = [t for t in times if t != 0]
    lam = torch.zeros(len(times), ph, pw, 3, device=device)
    if solve_times:
        states = integrate_lambda(net, pad_small(proxy), solve_times, solver, progress=progress, cancel=cancel)
        for t, state in zip(solve_times, states):
            lam[times.index(t)] = state[0, 3:6, :ph, :pw].permute(1, 2, 0)
    report(progress, 1.0, "prepared")
    return Session(net, img, proxy, times, lam, device, max(abs(t_min), t_max), upsample, denoiser)
