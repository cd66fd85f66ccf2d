"""Integrating the CLODE ODE dI/dt = A(t, I) * (I^2 - I) in exposure time.

One module owns the solver: the exact (official) settings, fixed-step
alternatives, negative end times (integrating backwards darkens), and the
optional state channels that ride along the trajectory:

* ``track_lambda`` adds Lambda(t) = int_0^t A dt (3 channels), which the fast
  engine needs for the closed-form logistic solution;
* ``loss_terms`` adds the training integrals (total variation of A and the
  zero-shot Noise2Noise loss of the denoiser), one channel each.

Inference never computes the loss terms: they cost time and change the image
only through the adaptive step-size control.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence

import torch
import torch.nn as nn

from clode.base.errors import ClodeError
from clode.engine.network import CLODENet
from clode.base.progress import CancelToken, ProgressCallback, check, report


def _without_scipy() -> None:
    """Keep torchdiffeq from importing scipy.

    Its ``odeint`` module imports scipy.integrate (0.35-0.45 s, a tenth of a whole ``clode
    enhance`` on the 2-core machine) only for ``method="scipy_solver"``, which clode never
    asks for; a stand-in module takes its place unless the real one is already loaded.
    """
    name = "torchdiffeq._impl.scipy_wrapper"
    if name in sys.modules:
        return

    class ScipyWrapperODESolver:
        def __init__(self, *args, **kwargs):
            raise NotImplementedError("clode loads torchdiffeq without its scipy_solver method")

    stub = types.ModuleType(name)
    stub.ScipyWrapperODESolver = ScipyWrapperODESolver  # type: ignore[attr-defined]
    sys.modules[name] = stub


_without_scipy()
from torchdiffeq import odeint, odeint_adjoint  # noqa: E402


FIXED_STEP_METHODS = {"euler", "midpoint", "rk4", "explicit_adams", "implicit_adams"}
ADAPTIVE_METHODS = {"dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun"}
ERROR_NORMS = ("published", "rms")
#: The tolerances ``Solver.parse`` accepts. Tighter ones exceed max_num_steps (torchdiffeq's
#: AssertionError, per photo) at T = 6: adaptive_heun (second order) below 1e-6, fehlberg2 below
#: 1e-8 on a 4 x 4 image; looser than 0.1 is hardly error control (dopri5:1 ends 0.34 darker than
#: 1e-5 at T = 3).
TOLERANCE_RANGE = (1e-8, 0.1)
MIN_TOLERANCE = {"adaptive_heun": 1e-6}
#: The fixed steps ``Solver.parse`` accepts, in exposure time: a smaller one would solve for hours;
#: a larger one than twice the longest T (adjustments.MAX_T) would never be taken whole.
STEP_RANGE = (0.01, 40.0)


@dataclass(frozen=True)
class Solver:
    """How to integrate: an adaptive method with tolerances, or a fixed-step one.

    For fixed-step methods ``step_size`` is the step in exposure time (the
    official model is trained to T = 3, so ``step_size=1.0`` with ``rk4`` is
    "RK4, 3 steps").
    """

    method: str = "dopri5"
    rtol: float = 1e-5
    atol: float = 1e-5
    step_size: Optional[float] = None
    max_num_steps: int = 1000
    #: how an adaptive method measures the error of a step: "published", as the official code
    #: does (``published_norm``), or "rms", torchdiffeq's RMS over the state (tighter: more steps)
    error_norm: str = "published"

    @property
    def fixed_step(self) -> bool:
        return self.method in FIXED_STEP_METHODS

    def options(self, channels: int) -> dict:
        """torchdiffeq's options for a state of ``channels``."""
        if self.fixed_step:
            return {"step_size": self.step_size or 0.25}
        if self.error_norm not in ERROR_NORMS:
            raise ClodeError(f"unknown error norm {self.error_norm!r} (use {' or '.join(ERROR_NORMS)})")
        options = {"max_num_steps": self.max_num_steps}
        if self.error_norm == "published":
            options["norm"] = published_norm(channels)
        return options

    def describe(self) -> str:
        if self.fixed_step:
            return f"{self.method}, step {self.step_size or 0.25}"
        return f"{self.method}, tol {self.rtol:g}"

    @classmethod
    def parse(cls, text: str) -> "Solver":
        """``dopri5``, ``dopri5:1e-3``, ``rk4:0.5`` (method[:tolerance or step size])."""
        method, _, arg = text.strip().lower().partition(":")
        shown = _quoted(text)
        if method not in FIXED_STEP_METHODS | ADAPTIVE_METHODS:
            known = ", ".join(sorted(FIXED_STEP_METHODS | ADAPTIVE_METHODS))
            raise ClodeError(f"unknown solver {shown} (use one of {known}, e.g. dopri5:1e-5 or rk4:0.5)")
        solver = cls(method=method)
        if arg:
            try:
                value = float(arg)
            except ValueError:
                value = -1.0
            if not (0 < value < float("inf")):
                raise ClodeError(f"solver {shown}: {_quoted(arg)} is not a positive number")
            # Bounded here, where the text is read: outside these the solver fails per photo with its
            # own assertions (a tolerance below float precision never accepts a step; a step beyond
            # any T leaves a one-point grid) or runs for hours (a tiny step).
            if solver.fixed_step:
                (lo, hi), what = STEP_RANGE, "step"
            else:
                (lo, hi), what = TOLERANCE_RANGE, "tolerance"
                lo = MIN_TOLERANCE.get(method, lo)
            if not lo <= value <= hi:
                raise ClodeError(f"solver {shown}: the {what} must be {lo:g} to {hi:g}")
            solver = replace(solver, step_size=value) if solver.fixed_step else replace(solver, rtol=value, atol=value)
        return solver


def _quoted(text: str) -> str:
    """``text`` for a one-line message: quoted, control characters escaped, at most 40 characters."""
    short = text if len(text) <= 40 else text[:37] + "..."
    return f"'{short}'" if short.isprintable() else ascii(short)


#: The official inference settings: dopri5, rtol = atol = 1e-5, at most 1000 steps, the published
#: error norm (so the same steps: NFE 38, not 44, on the fixture at T = 3).
EXACT = Solver()
#: Channels of the published inference state: the image and two loss integrals, 3 channels each.
PUBLISHED_CHANNELS = 9


class Dynamics(nn.Module):
    """The right-hand side of the (possibly augmented) ODE, with cancel and progress hooks."""

    def __init__(self, net: CLODENet, track_lambda: bool = False,
                 loss_terms: Optional[Sequence[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]] = None,
                 cancel: Optional[CancelToken] = None,
                 on_eval: Optional[Callable[[float], None]] = None):
        super().__init__()
        self.net = net
        self.track_lambda = track_lambda
        self.loss_terms = list(loss_terms or [])
        self.cancel = cancel
        self.on_eval = on_eval
        self.evaluations = 0

    def forward(self, t: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        check(self.cancel)
        self.evaluations += 1
        if self.on_eval is not None:
            self.on_eval(float(t))
        image = state[:, :3]
        if not self.loss_terms:
            # The exact solution stays in [0, 1]; a coarse step (the quick proxy solve at 1e-2) can
            # overshoot it on a near-black photo, and beyond 1 the flow A (I^2 - I) grows without
            # bound (dt underflowed to 0). Evaluated on the clamped image the flow vanishes at the
            # bounds, so the solve stays stable; inside [0, 1] nothing changes (the official
            # fixture still matches). Training keeps the published, unclamped dynamics.
            image = image.clamp(0, 1)
        curve = self.net.curve(t, image)
        parts = [self.net.flow(curve, image)]
        if self.track_lambda:
            parts.append(curve)
        for term in self.loss_terms:
            # Each loss integral is one scalar per sample, stored in one channel.
            value = term(curve, image)
            parts.append(value.reshape(-1, 1, 1, 1).expand(image.shape[0], 1, *image.shape[2:]))
        return torch.cat(parts, 1)


def _loss_aware_norm(image_channels: int, loss_weight: float = 100.0):
    """Error norm for states that carry loss integrals.

    torchdiffeq's default RMS norm pools every channel, so a loss channel (one
    scalar per sample) drowns in the image's error and the adaptive step
    control ignores it. dopri5's weights include a negative one, so training
    then learns to spike the integrand where that weight applies and drive the
    integrated loss below zero (we saw exactly that). Controlling the loss
    channels separately, with a 100x tighter tolerance, removes the exploit.
    """
    def norm(ratio: torch.Tensor) -> torch.Tensor:
        image = ratio[:, :image_channels].pow(2).mean().sqrt()
        losses = ratio[:, image_channels:].pow(2).mean().sqrt()
        return torch.max(image, loss_weight * losses)
    return norm


def published_norm(channels: int):
    """The error norm of the published inference for a state of ``channels`` (at most 9).

    The published code integrates 9 channels, [I, the smoothness integral x 3, the noise integral
    x 3], with torchdiffeq's RMS norm over all of them. The loss channels are smooth scalars whose
    error is far below the tolerance, so the pooled RMS is the RMS of the channels here times
    sqrt(channels / 9): the published step control accepts larger image errors than a plain RMS
    over the image, and takes fewer steps (benchmarks/speed/bench_nfe.py). This norm gives the same
    steps without computing the losses.
    """
    scale = (min(channels, PUBLISHED_CHANNELS) / PUBLISHED_CHANNELS) ** 0.5

    def norm(ratio: torch.Tensor) -> torch.Tensor:
        return ratio.pow(2).mean().sqrt() * scale
    return norm


def integrate(net: CLODENet, image: torch.Tensor, times: Sequence[float], solver: Solver = EXACT, *,
              track_lambda: bool = False, loss_terms=None, adjoint: bool = False,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None,
              dynamics_out: Optional[list] = None) -> list[torch.Tensor]:
    """Solve from t = 0 and return the state at each of ``times`` (in the given order).

    Positive and negative times are solved as two runs from the same start
    (forward, then backward), so ``times`` may mix signs. The returned states
    have 3 image channels, then 3 Lambda channels if ``track_lambda``, then one
    channel per loss term.
    """
    times = [float(t) for t in times]
    extra = (3 if track_lambda else 0) + len(loss_terms or [])
    y0 = torch.cat([image, image.new_zeros(image.shape[0], extra, *image.shape[2:])], 1) if extra else image
    span = (max([t for t in times if t > 0], default=0.0) - min([t for t in times if t < 0], default=0.0)) or 1.0
    done = [0.0]

    def on_eval(t: float) -> None:
        report(progress, (done[0] + abs(t)) / span, "solving")

    dynamics = Dynamics(net, track_lambda, loss_terms, cancel, on_eval if progress else None)
    if dynamics_out is not None:
        dynamics_out.append(dynamics)
    results: dict[float, torch.Tensor] = {}
    if 0.0 in times:
        results[0.0] = y0
    for positive in (True, False):
        ends = sorted({t for t in times if t != 0 and (t > 0) == positive}, reverse=not positive)
        if not ends:
            continue
        grid = torch.tensor([0.0] + ends, dtype=image.dtype, device=image.device)
        solve = odeint_adjoint if adjoint else odeint
        kwargs = {"adjoint_params": tuple(net.parameters())} if adjoint else {}
        options = solver.options(y0.shape[1])
        if loss_terms and not solver.fixed_step:
            options["norm"] = _loss_aware_norm(3 + (3 if track_lambda else 0))
        states = solve(dynamics, y0, grid, rtol=solver.rtol, atol=solver.atol, method=solver.method,
                       options=options, **kwargs)
        for t, state in zip(ends, states[1:]):
            results[t] = state
        done[0] += abs(ends[-1])
    report(progress, 1.0, "solved")
    return [results[t] for t in times]


def mirrors_darkening(net: CLODENet) -> bool:
    """True if T < 0 is the inverse of the curve for |T| (see ``clode.engine.network.ModelInfo.darken``)."""
    info = getattr(net, "info", None)
    return info is not None and getattr(info, "darken", "integrate") == "mirror"


def logistic(image: torch.Tensor, lam: torch.Tensor, curve_mode: str = "per_channel") -> torch.Tensor:
    """The closed-form solution for fixed A: I0 / (I0 + (1 - I0) exp(Lambda)) per channel, or for
    ``curve_mode="rgb_ratio"`` I0 / (m0 + (1 - m0) exp(Lambda)) with m0 the brightest channel."""
    base = image.amax(1, keepdim=True) if curve_mode == "rgb_ratio" else image
    return image / (base + (1 - base) * torch.exp(lam))


def integrate_lambda(net: CLODENet, image: torch.Tensor, times: Sequence[float], solver: Solver = EXACT, *,
                     progress: Optional[ProgressCallback] = None,
                     cancel: Optional[CancelToken] = None) -> list[torch.Tensor]:
    """States [I(t), Lambda(t)] (6 channels) at ``times``, honouring the model's darkening mode.

    For a "mirror" model one forward solve to max |t| serves both signs:
    Lambda(-t) = -Lambda(t), and I(-t) follows from the closed form.
    """
    times = [float(t) for t in times]
    if not mirrors_darkening(net) or all(t >= 0 for t in times):
        return integrate(net, image, times, solver, track_lambda=True, progress=progress, cancel=cancel)
    forward = sorted({abs(t) for t in times})
    states = dict(zip(forward, integrate(net, image, forward, solver, track_lambda=True,
                                         progress=progress, cancel=cancel)))
    out = []
    for t in times:
        state = states[abs(t)]
        if t < 0:
            lam = -state[:, 3:6]
            state = torch.cat([logistic(image, lam, net.curve_mode), lam, state[:, 6:]], 1)
        out.append(state)
    return out
