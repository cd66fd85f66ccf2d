"""Unsupervised CLODE training with resumable, atomic checkpoints.

``train(config)`` optimises the CLODE losses (``clode.training.losses``) on random crops
of the photos in ``config.data``. Checkpoints live in ``<out>.checkpoints/``:
each is a folder ``step-NNNNNN`` (model.safetensors, optimizer.safetensors,
state.json) that appears only complete (written under a temporary name, then
renamed), and ``latest.json`` names the newest. A resumed run takes its
configuration from the checkpoint (``steps`` may be extended) and, because
every batch is drawn from a generator seeded by (seed, step, rank), sees the
same data as an uninterrupted run.

Under ``torchrun`` (WORLD_SIZE > 1) the same call trains data-parallel with
PyTorch DDP: each rank draws its own crops, gradients are averaged, rank 0
writes the files.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import socket
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from safetensors.torch import load_file, save_file

from clode.base.version import __version__
from clode.base.atomic import parts_of, write_text
from clode.engine.devices import resolve_device
from clode.base.errors import Cancelled, ClodeError
from clode.training.losses import LossWeights, clode_loss, denoising, trajectory_terms
from clode.engine.network import CURVE_MODES, DENOISERS, CLODENet
from clode.engine.ode import Solver, integrate, logistic
from clode.base.paths import model_path_for
from clode.base.progress import CancelToken, check
from clode.training import events as events
from clode.training.data import Batch, ExposureAugment, TrainingImages
from clode.training.recipes import check_fits, seconds_per_step
from clode.training.validation import held_out_report, hold_out
from clode.engine.weights import load_model, save_model

#: progress(event) with event a dict: ``clode.training.events`` ``TrainerEvent.to_dict()`` (parse() reads it back)
EventCallback = Callable[[dict], None]


@dataclass
class TrainConfig:
    data: list = field(default_factory=list)
    out: str = "my-model"
    steps: int = 1000
    minutes: Optional[float] = None   # stop earlier than ``steps`` once this much time has passed
    crop: int = 128
    batch: int = 8
    lr: float = 1e-4
    lr_final: float = 0.1          # cosine decay to lr * lr_final
    E: float = 0.6
    T: float = 3.0
    weights: dict = field(default_factory=lambda: LossWeights().as_dict())
    solver: str = "dopri5:1e-3"
    adjoint: bool = False
    clip: float = 0.1
    seed: int = 0
    checkpoint_every: int = 200
    init: Optional[str] = None
    device: str = "auto"
    augment: bool = True
    max_side: int = 640
    val_low: Optional[str] = None
    val_high: Optional[str] = None
    name: Optional[str] = None
    curve: str = "rgb_ratio"       # clode.engine.network.CURVE_MODES; an --init model is switched to it
    denoiser_only: bool = False    # refit the denoiser alone (supervised, no ODE solve: fast)
    denoiser: Optional[str] = None  # clode.engine.network.DENOISERS: a fresh one of this kind replaces --init's
    adaptive_denoise: bool = True  # the model's denoiser strength follows the measured noise (clode.engine.noise_level)
    calibrate_T: bool = False      # store as default_T the T that best restores darkened training photos
    holdout: float = 0.0           # share of the photos kept out of training to validate on (clode.training.validation)

    @property
    def out_path(self) -> Path:
        return model_path_for(self.out)

    @property
    def run_dir(self) -> Path:
        return self.out_path.with_suffix(".checkpoints")


@dataclass
class TrainResult:
    model_path: Path
    steps: int
    seconds: float
    final_loss: float
    validation: Optional[dict] = None


class _StepLoss(nn.Module):
    """One forward pass to the losses; a module so DDP can wrap it and average the gradients."""

    def __init__(self, net: CLODENet, config: TrainConfig):
        super().__init__()
        self.net = net
        self.solver = Solver.parse(config.solver)
        self.config = config
        self.weights = LossWeights(**config.weights)
        self.cancel: Optional[CancelToken] = None

    def forward(self, data: Batch, gen: torch.Generator) -> dict:
        weights, net = self.weights, self.net
        batch, clean = data.input, data.clean
        # How far along the brightening the denoiser is taught: everywhere from the dark input
        # (it also cleans the curve network's input) to a little past the trained end time.
        along = torch.rand(batch.shape[0], 1, 1, 1, generator=gen).to(batch) * 1.3
        if self.config.denoiser_only:
            lam = global_lambda(clean, 0.35 + 0.25 * torch.rand(batch.shape[0], 1, 1, 1, generator=gen).to(batch))
            zero = batch.new_zeros(())
            terms = {name: zero for name in weights.as_dict()}
            terms["denoise"] = denoising(net.output_denoiser, logistic(batch, lam * along, net.curve_mode),
                                         logistic(clean, lam * along, net.curve_mode))
            terms["total"] = weights.denoise * terms["denoise"]
            if weights.restore:
                # The curves stay as they are: solved without gradients, they only show the output
                # denoiser what it finishes (and that its result should be the photo before darkening).
                with torch.no_grad():
                    (final,) = integrate(net, batch, [self.config.T], self.solver, cancel=self.cancel)
                terms["restore"] = _restore_error(net, final[:, :3], data)
                terms["total"] = terms["total"] + weights.restore * terms["restore"]
            return terms
        (final,) = integrate(net, batch, [self.config.T], self.solver, track_lambda=True,
                             loss_terms=trajectory_terms(net, weights), adjoint=self.config.adjoint,
                             cancel=self.cancel)
        terms = clode_loss(batch, final, weights, self.config.E, first_term=6)
        if weights.denoise:
            lam = final[:, 3:6].detach() * along
            terms["denoise"] = denoising(net.output_denoiser, logistic(batch, lam, net.curve_mode),
                                         logistic(clean, lam, net.curve_mode))
            terms["total"] = terms["total"] + weights.denoise * terms["denoise"]
        if weights.restore:
            terms["restore"] = _restore_error(net, final[:, :3], data)
            terms["total"] = terms["total"] + weights.restore * terms["restore"]
        return terms


def _restore_error(net: CLODENet, image: torch.Tensor, data: Batch) -> torch.Tensor:
    """Mean squared error of the finished result against the photo before darkening; only darkened
    samples have that right answer at T."""
    dark = data.darkened.view(-1, 1, 1, 1).to(image)
    return (((net.finish(image) - data.original) ** 2) * dark).mean() / dark.mean().clamp_min(1e-6)


def global_lambda(clean: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sample, the uniform Lambda that brings the clean image's mean to ``target`` (bisection)."""
    lo = clean.new_full(target.shape, -12.0)
    hi = clean.new_full(target.shape, 4.0)
    with torch.no_grad():
        for _ in range(24):
            mid = (lo + hi) / 2
            too_bright = logistic(clean, mid).mean((1, 2, 3), keepdim=True) > target
            lo, hi = torch.where(too_bright, mid, lo), torch.where(too_bright, hi, mid)
    return (lo + hi) / 2


def _lr_at(config: TrainConfig, step: int) -> float:
    progress = min(step / max(config.steps, 1), 1.0)
    return config.lr * (config.lr_final + (1 - config.lr_final) * 0.5 * (1 + math.cos(math.pi * progress)))


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


# ---------------------------------------------------------------- checkpoints

def _save_checkpoint(run_dir: Path, step: int, net: CLODENet, opt: torch.optim.Optimizer, config: TrainConfig,
                     elapsed: float, keep: int = 2, card: Optional[dict] = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"step-{step:06d}"
    tmp = run_dir / f".tmp-step-{step:06d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(net, tmp / "model.safetensors", name=config.name or config.out_path.stem, default_T=config.T,
               card={**(card or {}), "checkpoint_step": step, "steps": step, "seconds": round(elapsed, 1)})
    names: dict[torch.Tensor, str] = {p: n for n, p in net.named_parameters()}     # opt.state's keys
    moments, scalars = {}, {}
    for param, state in opt.state.items():
        name = names[param]
        moments[f"{name}.exp_avg"] = state["exp_avg"].detach().cpu().contiguous()
        moments[f"{name}.exp_avg_sq"] = state["exp_avg_sq"].detach().cpu().contiguous()
        scalars[name] = float(state["step"])
    save_file(moments, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps({"step": step, "elapsed": elapsed, "adam_steps": scalars,
                                                "config": asdict(config)}, indent=1))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_text(run_dir / "latest.json", json.dumps({"step": step, "checkpoint": final.name}))
    for old in sorted(run_dir.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def find_checkpoint(path) -> Path:
    """A checkpoint folder, or the newest one of a run folder (``<out>.checkpoints``) or of a model's run."""
    path = Path(path).expanduser()
    if path.suffix == ".safetensors" and not (path / "state.json").exists():
        path = path.with_suffix(".checkpoints")
    if (path / "latest.json").exists():
        path = path / json.loads((path / "latest.json").read_text())["checkpoint"]
    if not (path / "state.json").exists():
        raise ClodeError(f"{path}: no training checkpoint there")
    return path


def remove_partial_files(out, pid: int) -> list[Path]:
    """Delete what a run killed mid-write (by process ``pid``) left: its half-written checkpoint
    folder and the temporary files of atomic writes beside the checkpoints and the model."""
    out_path = model_path_for(str(out))
    run_dir = out_path.with_suffix(".checkpoints")
    found = list(run_dir.glob(f".tmp-step-*-{pid}")) + parts_of(run_dir, pid) + parts_of(out_path.parent, pid)
    for p in found:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return found


def _load_checkpoint(ckpt: Path, net: CLODENet, opt: torch.optim.Optimizer, device) -> dict:
    state = json.loads((ckpt / "state.json").read_text())
    net.load_state_dict(load_model(ckpt / "model.safetensors").state_dict())
    moments = load_file(str(ckpt / "optimizer.safetensors"))
    for name, param in net.named_parameters():
        if name in state["adam_steps"]:
            opt.state[param] = {
                "step": torch.tensor(state["adam_steps"][name]),
                "exp_avg": moments[f"{name}.exp_avg"].to(device),
                "exp_avg_sq": moments[f"{name}.exp_avg_sq"].to(device),
            }
    return state


# ---------------------------------------------------------------- training

def train(config: TrainConfig, progress: Optional[EventCallback] = None, cancel: Optional[CancelToken] = None,
          resume=None, finish: bool = False) -> TrainResult:
    """Train a CLODE model; returns where the final model was written.

    ``progress`` receives event dicts; ``cancel`` stops within one step (inside
    the ODE solve), leaving the last checkpoint as it was. ``finish`` with ``resume``
    writes the checkpoint as the run's final model (card, validation) without more steps:
    how a checkpoint chosen by measurement becomes a model file.
    """
    if finish and resume is None:
        raise ClodeError("finishing needs a checkpoint to resume from")
    start_step, elapsed_before = 0, 0.0
    ckpt = None
    if resume is not None:
        ckpt = find_checkpoint(resume)
        saved = json.loads((ckpt / "state.json").read_text())["config"]
        # Runs from before these settings existed trained the published way.
        saved.setdefault("curve", "per_channel")
        saved.setdefault("adaptive_denoise", True)
        saved["weights"] = {**{k: 0.0 for k in LossWeights().as_dict()}, **saved["weights"]}
        config = replace(TrainConfig(**saved), steps=max(config.steps, saved["steps"]) if config.steps else saved["steps"],
                         minutes=config.minutes, device=config.device,
                         val_low=config.val_low or saved.get("val_low"), val_high=config.val_high or saved.get("val_high"),
                         calibrate_T=config.calibrate_T or saved.get("calibrate_T", False))

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if config.device.startswith("cuda") else "gloo")
    rank, world = _world()
    emit = progress if (progress is not None and rank == 0) else (lambda event: None)
    device = resolve_device(config.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if not finish:
        check_fits(config, device)      # refuse a setting that would not fit in memory, before any work
    torch.manual_seed(config.seed)
    if config.curve not in CURVE_MODES:
        raise ClodeError(f"unknown curve mode {config.curve!r} (expected one of: {', '.join(CURVE_MODES)})")
    net = load_model(config.init) if config.init else CLODENet()
    # The card of the model this run started from, so a fine-tuned file keeps its whole history.
    init_card = net.info.card if config.init else None
    net.curve_mode = config.curve
    net.adaptive_denoise = config.adaptive_denoise
    if config.denoiser:
        if config.denoiser not in DENOISERS:
            raise ClodeError(f"unknown denoiser {config.denoiser!r} (expected one of: {', '.join(DENOISERS)})")
        net.replace_denoiser(config.denoiser)
    net = net.to(device).train()
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    if ckpt is not None:
        state = _load_checkpoint(ckpt, net, opt, device)
        start_step, elapsed_before = state["step"], state["elapsed"]

    images = TrainingImages(config.data, max_side=config.max_side)
    held = hold_out(images, config.holdout)
    n_held = len(held or ())
    emit(events.Data(len(images) + n_held, [[str(p), why] for p, why in images.skipped], n_held).to_dict())
    step_loss = _StepLoss(net, config)
    step_loss.cancel = cancel
    model = nn.parallel.DistributedDataParallel(step_loss) if world > 1 else step_loss
    augment = ExposureAugment() if config.augment else None
    # The model card: how this model was made (checkpoints carry it too, so any of them can ship).
    card = {
        "software": f"clode {__version__}",
        "data": [str(d) for d in config.data],
        "images": len(images) + n_held, "held_out_photos": n_held,
        "batch": config.batch, "crop": config.crop, "lr": config.lr,
        "E": config.E, "T": config.T, "loss_weights": config.weights,
        "solver": config.solver, "adjoint": config.adjoint,
        "augment": asdict(augment) if augment else None,
        "init": config.init, "init_card": init_card, "seed": config.seed, "curve": config.curve,
        "denoiser_only": config.denoiser_only, "denoiser": net.denoiser_kind,
        "device": _device_name(device), "processes": world, "host": socket.gethostname(),
        "python": platform.python_version(), "torch": torch.__version__,
    }
    per_rank = max(1, config.batch // world)

    t0 = time.monotonic()
    step_ends = [t0]                    # when each step of this process ended: the running ETA's pace
    step = start_step
    last = {}
    try:
        deadline = t0 + 60 * config.minutes if config.minutes else None
        while step < config.steps and not finish:
            check(cancel)
            if deadline is not None and time.monotonic() > deadline:
                if rank == 0 and step > start_step:
                    path = _save_checkpoint(config.run_dir, step, net, opt, config,
                                            elapsed_before + time.monotonic() - t0, card=card)
                    emit(events.Checkpoint(step, str(path), str(path / "model.safetensors")).to_dict())
                break
            gen = torch.Generator().manual_seed(hash((config.seed, step, rank)) & 0x7FFF_FFFF_FFFF)
            data = images.pairs(per_rank, config.crop, gen, augment).to(device)
            for group in opt.param_groups:
                group["lr"] = _lr_at(config, step)
            terms = model(data, gen)
            opt.zero_grad(set_to_none=True)
            if torch.isfinite(terms["total"]):
                terms["total"].backward()
                nn.utils.clip_grad_norm_(net.parameters(), config.clip)
                opt.step()
            step += 1
            last = {k: float(v.detach()) for k, v in terms.items()}
            elapsed = elapsed_before + time.monotonic() - t0
            step_ends.append(time.monotonic())
            rate = seconds_per_step(step_ends)
            emit(events.Step(step, config.steps, last["total"], last, _lr_at(config, step - 1), round(elapsed, 2),
                             round(rate * (config.steps - step), 1)).to_dict())
            if rank == 0 and (step % config.checkpoint_every == 0 or step == config.steps):
                path = _save_checkpoint(config.run_dir, step, net, opt, config, elapsed, card=card)
                emit(events.Checkpoint(step, str(path), str(path / "model.safetensors")).to_dict())
    except Cancelled:
        latest = config.run_dir / "latest.json"
        emit(events.Cancelled(step, str(find_checkpoint(config.run_dir)) if latest.exists() else None).to_dict())
        raise
    seconds = elapsed_before + time.monotonic() - t0

    validation, default_T, calibration = None, config.T, None
    if rank == 0 and config.calibrate_T:
        from clode.training.calibrate import calibrate_default_T     # lazy: it renders through the session
        default_T, curve = calibrate_default_T(net, images.images, seed=config.seed, device=device)
        calibration = {"default_T": default_T, "psnr_by_T": curve,
                       "how": "the training photos darkened as in training, fast path, mean PSNR"}
    if rank == 0 and config.val_low and config.val_high:
        validation = _validate(net, config, device, default_T)
        emit(events.Validation(validation).to_dict())
    held_report = None
    if rank == 0 and held is not None:
        held_report = held_out_report(net, load_model(config.init) if config.init else None, held, device,
                                      default_T, lambda m: _StepLoss(m, config), config.batch, config.crop)
        emit(events.Validation({"held_out": held_report}).to_dict())
    if world > 1:
        dist.barrier()
    if rank == 0:
        card = {**card, "steps": step, "seconds": round(seconds, 1), "validation": validation,
                "held_out": held_report, "calibration": calibration}
        save_model(net, config.out_path, name=config.name or config.out_path.stem, default_T=default_T, card=card)
        _mark_finished(config.run_dir)
        emit(events.Done(str(config.out_path), step, round(seconds, 1)).to_dict())
    return TrainResult(config.out_path, step, seconds, last.get("total", float("nan")), validation)


def _mark_finished(run_dir: Path) -> None:
    """Note in ``latest.json`` that the run's model is written: its checkpoints stay (a resume with
    more steps extends it) but it is no longer a stopped run to offer for resuming."""
    latest = run_dir / "latest.json"
    if latest.exists():
        write_text(latest, json.dumps({**json.loads(latest.read_text()), "finished": True}))


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _validate(net: CLODENet, config: TrainConfig, device, T: float) -> dict:
    from clode.engine.enhancer import Enhancer
    from clode.training.evaluate import evaluate_pairs

    net.eval()
    try:
        report = evaluate_pairs(Enhancer(net, device=device), config.val_low, config.val_high, T=T)
    finally:
        net.train()
    return {"psnr": report.mean_psnr, "ssim": report.mean_ssim, "T": T, "low": config.val_low}
