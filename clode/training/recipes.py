"""Training recipes that suit the device: presets, and the memory and time a setting needs.

A recipe is the handful of settings that decide a run's cost (crop, batch, solver, backward
pass, steps). ``recipe(preset, device)`` picks them from the device and its free memory:

- on a CPU, small crops and batches, a fixed-step solver with few steps and, when memory is
  short, the adjoint (memory-lean) backward pass;
- on a GPU, the recipe the shipped model was trained with (128 px crops, batch 8, adaptive
  dopri5), scaled down until it fits the GPU's free memory.

``estimate(config, device)`` predicts a step's peak memory and time *before* anything starts,
from a model fitted to measured runs (``benchmarks/tools/fit_train_memory.py``: peak RSS and step
time of two-step runs of the shipped model on CPU, one fresh process per setting):

    peak  = BASE + BYTES_PER_UNIT * batch * crop^2 * units
    time  = SECONDS_PER_UNIT * batch * crop^2 * evaluations          (CPU, per thread)

where ``units`` are the network evaluations whose activations the backward pass keeps: all of
a solve's with direct back-propagation, a constant few with the adjoint. A table fitted once
was chosen over probing a step at Start because a probe costs a full step (seconds to minutes
with the GPU recipe on a CPU: the very wait this avoids), while the fit's error is small
against the safety margin. ``check_fits`` refuses a setting whose estimate exceeds the memory
budget, with one line saying why; the presets scale themselves down instead.

Measured peaks (MiB; six 1 MP photos, shipped model, 2 threads) and what the model says:

    rk4:0.5  crop 32 batch 1: 568 (est. 628)     rk4:0.5 crop 64 batch 2: 1754 (1876)
    rk4:0.5  crop 64 batch 1: 1086 (1163)        rk4:1.0 crop 64 batch 2: 1039 (1191)
    rk4:1.0  crop 48 batch 2:  771 (867)         rk4:1.0 crop 96 batch 2: 1943 (2118)
    adjoint: rk4:0.5 crop 64 batch 2: 481 (621); rk4:1.0 crop 96 batch 2: 583 (835)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import torch

from clode.base.errors import ClodeError
from clode.engine.ode import Solver

PRESETS = ("quick", "thorough")
#: What the presets are called where a person reads them.
PRESET_LABELS = {"quick": "Quick on this computer", "thorough": "Thorough", "custom": "Custom"}

# -- the fitted model (benchmarks/tools/fit_train_memory.py; AMD EPYC, 2 threads, shipped model) --------
#: a trainer process with torch, the model and six 1 MP photos loaded (measured: 396-400 MB)
BASE_BYTES = 450 * 2**20
#: activation bytes kept per pixel of the batch per network evaluation (direct back-propagation)
BYTES_PER_UNIT = 7.3e3
#: units the adjoint backward keeps, whatever the solver (one evaluation's graph at a time; measured 1.4)
ADJOINT_UNITS = 2.0
#: evaluations an adaptive solve takes on average, at its tolerance (dopri5: 6 per accepted step).
#: Issue 19's measured 22.3 GB peak for crop 128, batch 8, dopri5:1e-3 gives 24 by the model above;
#: the finer tolerances are scaled from it (more steps per solve).
ADAPTIVE_EVALUATIONS = {1e-3: 24.0, 1e-4: 36.0, 1e-5: 54.0}
#: CPU seconds per pixel of the batch per evaluation, forward and backward, on one thread. Measured
#: on the quiet 2-core machine (benchmarks/speed/bench_finetune.py: crop 64, batch 2, rk4:1.0, 2 threads,
#: 1.2-1.6 s a step, median 1.35); the first fit, 1.25e-4, was made while the machine was loaded
#: about 5-fold and planned the 10-minute Quick run as 90 steps that took 2 minutes. On a busy
#: computer steps take longer: the running ETA follows the measured steps.
SECONDS_PER_UNIT = 2.6e-5
#: evaluations per fixed step
STAGES = {"euler": 1, "midpoint": 2, "rk4": 4, "explicit_adams": 1, "implicit_adams": 2}

#: How much of the free memory a run may plan to use: the editor and the rest of the computer
#: keep the remainder (and the estimate's error falls inside it).
MEMORY_SHARE = {"cpu": 0.6, "gpu": 0.85}
#: How long the presets aim to run on a CPU (the step count follows from the step time).
CPU_MINUTES = {"quick": 10.0, "thorough": 60.0}


@dataclass(frozen=True)
class Recipe:
    preset: str
    crop: int
    batch: int
    solver: str
    adjoint: bool
    steps: int
    lr: float = 1e-4

    def args(self) -> list[str]:
        """As ``clode train`` arguments."""
        return ["--crop", str(self.crop), "--batch", str(self.batch), "--solver", self.solver,
                "--steps", str(self.steps)] + (["--adjoint"] if self.adjoint else [])


@dataclass(frozen=True)
class Estimate:
    peak_bytes: int
    step_seconds: Optional[float]        # None where no timing model exists (GPUs)
    budget_bytes: int                    # what the run may use on this device now

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.budget_bytes

    def describe(self, steps: Optional[int] = None) -> str:
        """One line: peak memory, and time per step and in all when known."""
        text = f"about {gigabytes(self.peak_bytes)} of memory (of {gigabytes(self.budget_bytes)} it may use)"
        if self.step_seconds is not None:
            text += f", about {self.step_seconds:.0f} s a step" if self.step_seconds >= 1.5 else \
                    f", about {self.step_seconds:.1f} s a step"
            if steps:
                text += f", {duration(self.step_seconds * steps)} for {steps} steps"
        return text


def gigabytes(n: float) -> str:
    return f"{n / 2**30:.1f} GB"


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def seconds_per_step(ends: list[float], recent: int = 10) -> float:
    """The pace of a run from the times its steps ended (``ends[0]``: when the first began): the
    median of the last ``recent`` step times, leaving out the first step once there are others
    (it carries one-time set-up, often several times a step), so the ETA follows the run as it is now."""
    times = [b - a for a, b in zip(ends, ends[1:])]
    if len(times) > 1:
        times = times[1:]
    times = sorted(times[-recent:])
    return times[len(times) // 2] if times else 0.0


def _is_gpu(device: torch.device) -> bool:
    return device.type in ("cuda", "mps")


def free_memory(device: torch.device) -> int:
    """Bytes the device has free now: the GPU's free memory, or the system's available memory
    (``MemAvailable`` in /proc/meminfo; elsewhere the free physical pages)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30           # no way to ask (Windows without psutil): assume a modest laptop


def budget(device: torch.device, free: Optional[int] = None) -> int:
    """The memory a run may plan to use on ``device``."""
    free = free_memory(device) if free is None else free
    return int(free * MEMORY_SHARE["gpu" if _is_gpu(device) else "cpu"])


def evaluations(solver: str, T: float = 3.0) -> float:
    """Network evaluations in one solve from 0 to ``T``."""
    s = Solver.parse(solver)
    if s.fixed_step:
        return math.ceil(T / (s.step_size or 0.25) - 1e-9) * STAGES.get(s.method, 1)
    tol = min(ADAPTIVE_EVALUATIONS, key=lambda t: abs(math.log10(t) - math.log10(s.rtol)))
    return ADAPTIVE_EVALUATIONS[tol] * (T / 3.0)


def estimate(crop: int, batch: int, solver: str, adjoint: bool, device: torch.device, *, T: float = 3.0,
             denoiser_only: bool = False, free: Optional[int] = None) -> Estimate:
    """Peak memory and step time of a training setting on ``device`` (see the module's model)."""
    pixels = batch * crop * crop
    evals = 1.0 if denoiser_only else evaluations(solver, T)
    units = evals if not adjoint or denoiser_only else ADJOINT_UNITS
    peak = BASE_BYTES + BYTES_PER_UNIT * pixels * (units + 1)      # + 1: the denoiser's own term
    seconds = None
    if device.type == "cpu":
        # the adjoint solves again backwards and re-evaluates each step: about twice the work
        work = evals * (2.0 if adjoint and not denoiser_only else 1.0) + 1
        seconds = SECONDS_PER_UNIT * pixels * work / max(torch.get_num_threads(), 1)
    return Estimate(int(peak), seconds, budget(device, free))


def estimate_config(config, device: torch.device, free: Optional[int] = None) -> Estimate:
    """``estimate`` for a ``TrainConfig`` (per process: a data-parallel run splits the batch)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return estimate(config.crop, max(1, config.batch // world), config.solver, config.adjoint, device, T=config.T,
                    denoiser_only=config.denoiser_only, free=free)


def too_big(est: Estimate, crop: int, batch: int, solver: str, adjoint: bool, device: torch.device) -> str:
    """The one line that says why a setting is refused."""
    where = "the GPU" if _is_gpu(device) else "this computer"
    return (f"crop {crop}, batch {batch} with {solver}{' (adjoint)' if adjoint else ''} would need about "
            f"{gigabytes(est.peak_bytes)}, more than the {gigabytes(est.budget_bytes)} {where} can spare now: "
            "use a smaller crop or batch, the memory-lean backward (--adjoint), or the Quick preset")


def check_fits(config, device: torch.device, free: Optional[int] = None) -> Estimate:
    """The estimate, or a one-line ``ClodeError`` when the setting would not fit in memory."""
    est = estimate_config(config, device, free)
    if not est.fits:
        raise ClodeError(too_big(est, config.crop, config.batch, config.solver, config.adjoint, device))
    return est


def recipe(preset: str, device: torch.device, free: Optional[int] = None) -> Recipe:
    """The preset's settings for ``device``, scaled down until they fit its free memory."""
    if preset not in PRESETS:
        raise ClodeError(f"unknown preset '{preset}' (use {' or '.join(PRESETS)})")
    if _is_gpu(device):
        r = Recipe(preset, crop=128, batch=8, solver="dopri5:1e-3", adjoint=False,
                   steps=300 if preset == "quick" else 1000)
    elif preset == "quick":
        r = Recipe(preset, crop=64, batch=2, solver="rk4:1.0", adjoint=False, steps=0)
    else:
        r = Recipe(preset, crop=96, batch=4, solver="rk4:0.5", adjoint=False, steps=0)
    r = _fit_memory(r, device, free)
    if not r.steps:
        est = estimate(r.crop, r.batch, r.solver, r.adjoint, device, free=free)
        assert est.step_seconds is not None     # steps are left open only off the GPU, where it is timed
        r = replace(r, steps=int(min(max(CPU_MINUTES[preset] * 60 / est.step_seconds, 20), 2000)))
    return r


def _fit_memory(r: Recipe, device: torch.device, free: Optional[int]) -> Recipe:
    """Smaller until it fits: the memory-lean backward first, then the batch, then the crop."""
    def fits(x: Recipe) -> bool:
        return estimate(x.crop, x.batch, x.solver, x.adjoint, device, free=free).fits

    while not fits(r):
        if not r.adjoint:
            r = replace(r, adjoint=True)
        elif r.batch > 1:
            r = replace(r, batch=r.batch // 2)
        elif r.crop > 32:
            r = replace(r, crop=r.crop // 2)
        else:
            raise ClodeError(f"not enough free memory to train ({gigabytes(budget(device, free))} "
                             "may be used now): close other programs and try again")
    return r
