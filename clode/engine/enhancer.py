"""The inference API: ``Enhancer(model).enhance(img, T, finish)`` (or ``enhance(img, adjustments)``) on
numpy images.

Images are H x W x 3 float32 arrays in [0, 1]. Two modes: "fast" (the
default; ``clode.engine.session``: solve on a small proxy, closed-form render at full
resolution) and "exact" (the network integrated on the whole image in one
piece, as the official code does; its memory and time grow with the image).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

from clode.base.adjustments import DEFAULT_T, Adjustments, check_T
from clode.engine.colour_noise import reduce_colour_noise, sigma_for
from clode.engine.denoise_speed import AUTO, denoiser_for
from clode.engine.devices import resolve_device
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.engine.highlights import at_times, end_times
from clode.base.local_exposure import active_layers, time_span
from clode.engine.masks import Grid, grid_shape
from clode.engine.network import CLODENet
from clode.engine.ode import EXACT, Solver, integrate, integrate_lambda, logistic, mirrors_darkening
from clode.base.pixels import quantize, resize
from clode.base.progress import CancelToken, ProgressCallback
from clode.engine.near_black import fade_near_black, input_noise
from clode.engine.neutral import photo_gains
from clode.engine.noise_level import measured_strength
from clode.engine.small import pad_small
from clode.engine.session import (PROXY_SIDE, PROXY_SOLVER, QUICK_PROXY_SIDE, QUICK_SOLVER, LocalMaps, Session, prepare,
                      proxy_size, time_grid, covering_range)

MODES = ("fast", "exact")
#: The exact path solves the whole image in one piece (the network's GroupNorm
#: takes statistics over the whole image, so tiles would change the result);
#: its activations take about 2 kB per pixel, so it refuses larger images.
EXACT_MAX_PIXELS = 8_000_000


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    if img.ndim != 3 or img.shape[2] != 3:
        raise ClodeError(f"expected an H x W x 3 image, got shape {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None].to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).float().cpu().numpy().astype(np.float32, copy=False)


class Enhancer:
    """Runs a CLODE model on images, on one device."""

    def __init__(self, model: CLODENet, device: Union[str, torch.device] = "auto", solver: Solver = EXACT,
                 precision: str = AUTO):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.solver = solver
        self.precision = precision
        self._denoiser = denoiser_for(self.model.output_denoiser, self.device, precision)

    @property
    def denoiser(self) -> torch.nn.Module:
        """The fast path's output denoiser, set up once for every photo (``clode.engine.denoise_speed``; the
        exact path keeps the model's own, in float32); set up anew if the model's was replaced."""
        if self._denoiser.module is not self.model.output_denoiser:
            self._denoiser = denoiser_for(self.model.output_denoiser, self.device, self.precision)
        return self._denoiser

    @property
    def default_T(self) -> float:
        info = getattr(self.model, "info", None)
        return info.default_T if info is not None else DEFAULT_T

    @property
    def model_name(self) -> str:
        info = getattr(self.model, "info", None)
        return info.name if info is not None else "unnamed"

    @property
    def t_max(self) -> float:
        info = getattr(self.model, "info", None)
        return info.t_max if info is not None else 6.0

    def prepare(self, img: np.ndarray, *, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None, quick: bool = False, proxy_side: Optional[int] = None,
                t_range: Optional[tuple[float, float]] = None) -> Session:
        """Solve once on a proxy of ``img``; ``session.render(T, ...)`` then needs no curve network.

        ``t_range`` (default [-t_max, t_max]) is the span of end times renders may use.
        ``quick`` solves a smaller proxy coarsely: a first preview in about a second, to be
        replaced by a full ``prepare`` (run it in the background).
        """
        lo, hi = (check_T(t, self.t_max) for t in t_range) if t_range is not None else (-self.t_max, self.t_max)
        side = proxy_side or (QUICK_PROXY_SIDE if quick else PROXY_SIDE)
        return prepare(self.model, img, t_min=lo, t_max=hi, proxy_side=side, device=self.device,
                       solver=QUICK_SOLVER if quick else PROXY_SOLVER, progress=progress, cancel=cancel,
                       denoiser=self.denoiser)

    def auto_T(self, img: np.ndarray, *, progress: Optional[ProgressCallback] = None,
               cancel: Optional[CancelToken] = None, taste: bool = True) -> float:
        """An end time for ``img`` chosen without ground truth (prepare a session and use
        ``session.auto_T()`` instead when the image will be rendered too); ``taste``: with the
        photographer's learned taste (``clode.engine.taste``)."""
        return self.prepare(img, progress=progress, cancel=cancel).auto_T(taste)

    def enhance_auto(self, img: np.ndarray, finish: Finish = Finish(), *, mode: str = "fast",
                     dtype: type = np.float32, progress: Optional[ProgressCallback] = None,
                     cancel: Optional[CancelToken] = None, taste: bool = True) -> tuple[np.ndarray, float]:
        """The result at the automatic T, finished by ``finish`` (as in ``enhance``), and that T. In
        fast mode one solve serves both."""
        if mode != "fast":
            T = self.auto_T(img, cancel=cancel, taste=taste)
            return self.enhance(img, T, finish, mode=mode, dtype=dtype, progress=progress, cancel=cancel), T
        session = self.prepare(img, progress=None if progress is None else lambda f, m: progress(0.5 * f, m),
                               cancel=cancel)
        T = float(session.auto_T(taste))
        return session.render(T, finish, dtype=dtype, cancel=cancel), T

    @torch.no_grad()
    def trajectory(self, img: np.ndarray, Ts: Sequence[float], finish: Finish = Finish(), *,
                   progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        """Results at several end times from one solve per direction (T may be negative), with the
        fast path's finishing: noise treatment scaled by the measured noise, optional neutral colours and
        near-black fading. One end time for the whole image: ``finish`` may not ask for highlight
        protection (at a T > 0) or local layers (``enhance(mode="exact")`` renders those)."""
        if active_layers(finish.local) or (finish.protect > 0 and any(T > 0 for T in Ts)):
            raise ClodeError("a trajectory has one end time per image: highlight protection and local "
                             "layers need enhance(mode=\"exact\")")
        x = to_tensor(img, self.device)
        if mirrors_darkening(self.model) and any(T < 0 for T in Ts):
            states = integrate_lambda(self.model, pad_small(x), Ts, self.solver, progress=progress, cancel=cancel)
        else:
            states = integrate(self.model, pad_small(x), Ts, self.solver, progress=progress, cancel=cancel)
        return [self._finish(x, state[:, :3, :x.shape[2], :x.shape[3]], finish) for state in states]

    def _finish(self, x: torch.Tensor, image: torch.Tensor, finish: Finish,
                measured: Optional[torch.Tensor] = None) -> np.ndarray:
        """The fast path's finishing of an exact result ``image`` of the input ``x``: noise treatment
        scaled by the noise measured in ``measured`` (default: ``image``), optional neutral colours,
        optional near-black fading (``clode.engine.near_black``), in the fast path's order. (Protection
        and layers acted on ``image`` already.)"""
        seen = image if measured is None else measured
        if finish.treats_noise and self.model.adaptive_denoise:
            finish = finish.noise_scaled(measured_strength(
                lambda r: seen[:, :, r[1]:r[1] + r[3], r[0]:r[0] + r[2]], *image.shape[2:]))
        out = reduce_colour_noise(self.model.finish(image, finish.denoise)[0].permute(1, 2, 0),
                                  sigma_for(finish.colour_noise))
        if finish.neutral:
            out = out.mul(torch.from_numpy(photo_gains(x)).to(self.device)).clamp_(0, 1)
        if finish.near_black:
            noise = input_noise(lambda r: x[:, :, r[1]:r[1] + r[3], r[0]:r[0] + r[2]], *x.shape[2:])
            out = fade_near_black(out.contiguous(), x[0].amax(0)[..., None], noise)
        return to_numpy(out.permute(2, 0, 1)[None])

    @torch.no_grad()
    def _per_pixel_exact(self, img: np.ndarray, T: float, finish: Finish, progress: Optional[ProgressCallback],
                         cancel: Optional[CancelToken]) -> np.ndarray:
        """The exact path with an end time per pixel (highlight protection, local exposure layers):
        the whole image solved on the fast path's time grid, each pixel's Lambda read at its own
        end time, then the closed form. The time map is the fast path's: protection's on the
        proxy, with layers on the fast path's mask grid (``clode.engine.masks``), upsampled bilinearly
        as the fast path upsamples Lambda."""
        protect, layers = finish.protect, active_layers(finish.local)
        x = to_tensor(img, self.device)
        h, w = x.shape[2:]
        proxy = resize(x, proxy_size(h, w))
        if layers:
            grid = Grid((h, w), (0, 0, w, h), grid_shape((h, w)))
            t_map = LocalMaps(img, proxy).end_times(T, protect, layers, grid, (-self.t_max, self.t_max))
        else:
            t_map = end_times(proxy, T, protect)
        t_full = torch.nn.functional.interpolate(t_map[None, None], size=(h, w), mode="bilinear",
                                                 align_corners=False)[0, 0]
        if layers:
            times = time_grid(*covering_range(T, self.t_max, also=(float(t_full.min()), float(t_full.max()))))
        else:
            times = time_grid(0.0, T)
        solve = [t for t in times if t != 0]
        states = integrate_lambda(self.model, pad_small(x), solve, self.solver, progress=progress,
                                  cancel=cancel) if solve else []
        zero = torch.zeros_like(x[0])
        lam = torch.stack([zero if t == 0 else states[solve.index(t)][0, 3:6, :h, :w] for t in times]
                          ).permute(0, 2, 3, 1)
        recorded = torch.tensor(times, dtype=torch.float64)
        lam_x = at_times(recorded, lam, t_full).permute(2, 0, 1)[None]
        image = logistic(x, lam_x, self.model.curve_mode)
        # The noise treatment's strength is measured on the result at T everywhere, as the fast path does.
        if layers:
            lam_T = at_times(recorded, lam, torch.full_like(t_full, float(T))).permute(2, 0, 1)[None]
        else:
            lam_T = states[-1][:, 3:6, :h, :w]          # T is the grid's last time
        plain = logistic(x, lam_T, self.model.curve_mode)
        return self._finish(x, image, finish, measured=plain)

    def enhance(self, img: np.ndarray, T: Union[float, Adjustments, None] = None, finish: Optional[Finish] = None,
                *, mode: str = "fast", dtype: type = np.float32, progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> np.ndarray:
        """The result at end time ``T`` finished by ``finish``, as float32 in [0, 1] or uint8.

        Two ways to say what to render:

        - ``enhance(img, T, finish)``: end time ``T`` (None: the model's default) and a
          ``clode.base.finish.Finish`` (None: the engine's raw finish, the model's own result
          with its denoiser as trained);
        - ``enhance(img, adjustments)``: a photo's whole edit, ``clode.base.adjustments.Adjustments``,
          rendered as the app and ``clode enhance`` render it (its ``T`` and its ``finish``); then
          ``finish`` is not given.

        In the finish, ``protect`` (0-1) gives highlights a shorter end time
        (``clode.engine.highlights``), ``local`` layers add end time where their masks are
        (``clode.engine.masks``), ``near_black`` fades the colour of near-black pixels as they are lifted
        (``clode.engine.near_black``); ``Session.render`` says what each setting does.
        """
        if isinstance(T, Adjustments):
            if finish is not None:
                raise ClodeError("enhance takes Adjustments (which hold their finish) or T and a Finish, "
                                 "not both")
            finish, T = T.finish, T.T
        finish = Finish() if finish is None else finish
        end = self.default_T if T is None else check_T(T, self.t_max)
        layers = active_layers(finish.local)
        if mode == "exact":
            pixels = img.shape[0] * img.shape[1]
            if pixels > EXACT_MAX_PIXELS:
                raise ClodeError(f"exact mode solves the whole image at once and is limited to "
                                 f"{EXACT_MAX_PIXELS / 1e6:g} MP (this one has {pixels / 1e6:.1f} MP); "
                                 f"use the fast mode")
            if (finish.protect > 0 and end > 0) or layers:
                out = self._per_pixel_exact(img, end, finish, progress, cancel)
            else:
                out = self.trajectory(img, [end], finish, progress=progress, cancel=cancel)[0]
            return out if dtype == np.float32 else quantize(np.clip(out, 0, 1), 8)
        if mode != "fast":
            raise ClodeError(f"unknown mode {mode!r} (expected one of: {', '.join(MODES)})")
        # Only [0, T] (to the next grid step) is needed for one result: half the solve of a full prepare.
        # (and the span the layers reach)
        span = covering_range(end, self.t_max, also=time_span(end, layers, finish.protect) if layers else ())
        session = self.prepare(img, progress=progress, cancel=cancel, t_range=span)
        return session.render(end, finish, dtype=dtype, cancel=cancel)
