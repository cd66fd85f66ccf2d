"""``clode train``: unsupervised training / fine-tuning on folders of photos."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Optional

from clode.base.adjustments import Limits
from clode.base.atomic import part_name
from clode.engine.devices import resolve_device
from clode.base.errors import ClodeError
from clode.training.losses import LossWeights
from clode.engine.network import CURVE_MODES, DENOISERS
from clode.base.progress import CancelToken
from clode.base.paths import FileId, file_id, model_path_for
from clode.training.train import TrainConfig, train
from clode.training.recipes import PRESETS, Recipe, check_fits, recipe

#: What each numeric training option accepts (checked before any work, one line naming the option).
LIMITS = {
    "steps": Limits(1, 10_000_000), "minutes": Limits(0.01, 1e6), "crop": Limits(16, 4096), "batch": Limits(1, 1024),
    "lr": Limits(1e-9, 1.0), "E": Limits(0.01, 0.99), "checkpoint_every": Limits(1, 10_000_000),
    "max_side": Limits(16, 16384), "holdout": Limits(0.0, 0.5),
    "T": Limits(0.25, 6.0),      # the saved model's default T: within its range (save_model's t_max, 6)
}
#: The loss weights: finite, from 0 to this.
MAX_LOSS_WEIGHT = 1e6
#: --seed: what torch's generator takes (a 64-bit signed integer).
MAX_SEED = 2 ** 63 - 1
#: What --init takes to start from a random model instead of the shipped one.
SCRATCH = "scratch"


def check_options(args) -> None:
    """Refuse a number that would train nothing, diverge or never end (one line naming the option),
    and an --out that cannot be written, before any photo is read."""
    for name, limits in LIMITS.items():
        value = getattr(args, name)
        if value is not None:
            limits.where("--" + name.replace("_", "-")).check(name, value)
    for f in fields(LossWeights):
        Limits(0.0, MAX_LOSS_WEIGHT, f"--w-{f.name}").check(f.name, getattr(args, f"w_{f.name}"))
    if args.crop > args.max_side:
        raise ClodeError(f"--crop {args.crop}: must be at most --max-side ({args.max_side})")
    if not 0 <= args.seed <= MAX_SEED:
        raise ClodeError(f"--seed {args.seed if abs(args.seed) < 10 ** 30 else '(a huge integer)'}: "
                         f"must be 0 to {MAX_SEED}")
    check_output(args)


def check_output(args) -> Path:
    """The model file --out names, once it is known to be safe and possible to write: never an
    existing file that is not a model, nor any of the run's inputs (photos, the starting model);
    an existing model only with --overwrite (a resumed run writes the model its run was started
    for); and its folder writable now, not after the training."""
    text = args.out
    shown = text if len(text) <= 200 else text[:90] + " ... " + text[-90:]   # a 5,000-character path
    if not text.strip():
        raise ClodeError(f"--out {text!r}: give a model name or a .safetensors file path")
    out = model_path_for(text)
    try:
        exists = os.path.lexists(out)
        if out.is_dir():
            raise ClodeError(f"--out {shown}: is a folder; give a model name or a .safetensors file path")
        if out.name.startswith(".") or out.suffix.lower() != ".safetensors":
            raise ClodeError(f"--out {shown}: a model file's name ends in .safetensors and does not start with a "
                             "dot (or give a bare name, kept in the user's models folder)")
        if exists and not out.is_file():
            raise ClodeError(f"--out {shown}: is not a regular file")
        if exists and file_id(out) in _input_files(args):
            raise ClodeError(f"--out {shown}: is one of this run's inputs; refusing to replace it")
        if exists and not _is_model_file(out):
            raise ClodeError(f"--out {shown}: exists and is not a model file; refusing to replace it")
        if exists and not args.overwrite and not args.resume:
            raise ClodeError(f"--out {shown}: exists; add --overwrite to replace it, or choose another name")
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.parent / part_name()     # a temporary name a killed run's cleanup recognises
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except (OSError, ValueError, RuntimeError) as e:   # RuntimeError: a symlink loop on the way
        raise ClodeError(f"--out {shown}: cannot write it: {getattr(e, 'strerror', None) or e}") from None
    return out


def _input_files(args) -> set:
    """(device, inode) of every file the run reads: its photos, starting model and validation pairs."""
    from clode.io.imageio import find_images
    from clode.engine.weights import DEFAULT_MODEL
    ids: set[Optional[FileId]] = set()
    for folder in [*args.data, args.val_low, args.val_high]:
        if folder and os.path.isdir(folder):
            ids.update(file_id(p) for p in find_images(folder))
        elif folder:
            ids.add(file_id(folder))
    for model in (args.init, DEFAULT_MODEL):
        if model and model != SCRATCH:
            ids.add(file_id(model_path_for(str(model))))
    ids.discard(None)
    return ids


def _is_model_file(path: Path) -> bool:
    """Whether ``path`` holds a safetensors file (its 8-byte header length, then JSON)."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    return len(head) == 9 and 0 < int.from_bytes(head[:8], "little") < 100_000_000 and head[8:9] == b"{"


def register(sub) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on folders of photos (no ground truth needed)",
                       description="Train or fine-tune a CLODE model on folders of photos. The cost settings "
                                   "(--crop, --batch, --solver, --adjoint, --steps) come from --preset, chosen "
                                   "for the device and its free memory; any of them given explicitly wins. A "
                                   "setting that would not fit in memory is refused before training starts.")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders of JPEG/PNG/TIFF/RAW photos")
    p.add_argument("--init", metavar="MODEL|scratch",
                   help="start from this model (default: the shipped model, as the app's training panel does); "
                        "scratch: a random model (needs many steps)")
    p.add_argument("--preset", choices=PRESETS, default="quick",
                   help="quick (default): about 10 minutes on a CPU (64 px crops, batch 2, RK4 with 3 steps), "
                        "the full recipe with 300 steps on a GPU; thorough: bigger crops and batches, about an "
                        "hour on a CPU, 1000 steps on a GPU. Both are scaled down to the free memory")
    p.add_argument("--steps", type=int, help="optimiser steps (default: the preset's; on a resume, the run's)")
    p.add_argument("--minutes", type=float, help="stop after this many minutes even if --steps is not reached")
    p.add_argument("--crop", type=int, help="side in pixels of the square training patches (default: the "
                                            "preset's); memory and time grow with its square")
    p.add_argument("--batch", type=int, help="patches per step (default: the preset's); bigger is steadier, "
                                             "memory and time grow with it")
    p.add_argument("--lr", type=float, default=1e-4,
                   help="learning rate (default 1e-4), decayed along a cosine to a tenth of it; "
                        "small rates keep more of what an --init model knows")
    p.add_argument("--E", type=float, default=0.6, help="exposure target: mean gray level of 16x16 patches at T")
    p.add_argument("--T", type=float, default=3.0, help="end time the losses are computed at")
    p.add_argument("--out", metavar="NAME_OR_PATH",
                   help="model name (saved in the user's models folder) or a .safetensors path (default: "
                        "my-model; on a --resume, the run's own); an existing "
                        "model is replaced only with --overwrite, any other file never")
    p.add_argument("--overwrite", action="store_true", help="replace the model file --out names if it exists")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (folder or the run's .checkpoints folder)")
    p.add_argument("--calibrate-T", dest="calibrate_T", action="store_true",
                   help="at the end, store as the model's default T the one that best restores the training "
                        "photos darkened as in training (measured, fast path)")
    p.add_argument("--finish", action="store_true",
                   help="with --resume: write that checkpoint as the run's model (card, validation), no more steps")
    p.add_argument("--holdout", type=float, default=0.15,
                   help="share of the photos kept out of training to validate on (default 0.15; none with "
                        "fewer than 4 photos; 0 = train on all): losses, hue shift and noise of the starting "
                        "and the trained model are reported at the end and stored in the model's card")
    p.add_argument("--val-low", metavar="DIR", help="dark photos of validation pairs, scored (PSNR, SSIM) at the end")
    p.add_argument("--val-high", metavar="DIR", help="their well-exposed versions, same file names")
    p.add_argument("--progress", metavar="JSONL",
                   help="append progress events as JSON lines to this file ('-' = stdout, instead of the "
                        "plain progress lines)")
    p.add_argument("--device", default="auto", help="auto (best available), cpu, cuda, cuda:N or mps")
    p.add_argument("--solver", help="ODE solver in training (default: the preset's), e.g. dopri5:1e-3 "
                                    "(adaptive, tolerance), rk4:0.5 or euler:0.5 (fixed step in T)")
    p.add_argument("--adjoint", action=argparse.BooleanOptionalAction, default=None,
                   help="adjoint back-propagation: memory no longer grows with the solver's steps, about twice "
                        "the time (default: the preset's, used when memory is short)")
    p.add_argument("--checkpoint-every", type=int, default=200,
                   help="write a resumable checkpoint every this many steps (default 200; also at the end)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the initialisation and the crops")
    p.add_argument("--no-augment", action="store_true", help="use the photos as they are (no synthetic exposure)")
    p.add_argument("--max-side", type=int, default=640, help="photos are downscaled to this long side before cropping")
    p.add_argument("--name", help="display name stored in the model")
    p.add_argument("--curve", default="rgb_ratio", choices=CURVE_MODES,
                   help="how the exposure curve treats R, G and B: rgb_ratio (default) keeps each pixel's hue "
                        "and saturation; shared gives one curve per channel-triple; per_channel is the published model")
    p.add_argument("--denoiser-only", action="store_true",
                   help="refit only the output denoiser, the curves stay as they are: supervised on simulated "
                        "sensor noise (no ODE solve: fast) and, with --w-restore, against the photo before darkening "
                        "(a solve without gradients); use with --init")
    p.add_argument("--denoiser", choices=tuple(DENOISERS),
                   help="replace --init's denoiser by a fresh one of this kind: dilated sees 17 x 17 pixels "
                        "(JPEG blotches and blocks), published 5 x 5 (default: keep --init's; a new model: published)")
    p.add_argument("--fit-exposure", dest="fit_exposure", metavar="MODEL",
                   help="no training: refit MODEL's automatic-exposure predictor on synthetic night shots made "
                        "from --data, written beside it as <MODEL>.exposure.json (about 3 s per shot on one "
                        "core; 7 night shots per photo and the photo as it is)")
    for f in fields(LossWeights):
        p.add_argument(f"--w-{f.name}", type=float, help=f"weight of the {f.name} loss (default: the --init "
                                                           f"model's, else {f.default:g})")
    p.set_defaults(func=run)


def apply_preset(args) -> Recipe:
    """Fill the cost settings the user left out from the preset for the device (a resume keeps
    the run's own)."""
    chosen = recipe(args.preset, resolve_device(args.device))
    for name in ("crop", "batch", "solver", "adjoint"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(chosen, name))
    if args.steps is None and not args.resume:
        args.steps = chosen.steps
    # A fine-tune keeps the objective its starting model was trained with (a model trained to
    # restore darkened photos drifts in colour once that term is dropped); explicit --w-* win.
    weights = {**LossWeights().as_dict(), **(_card_weights(args.init) if args.init else {})}
    for name, value in weights.items():
        if getattr(args, f"w_{name}") is None:
            setattr(args, f"w_{name}", value)
    return chosen


def _card_weights(init: str) -> dict:
    from clode.training.model_library import model_card
    weights = model_card(model_path_for(init)).get("loss_weights")
    known = set(LossWeights().as_dict())
    return {k: float(v) for k, v in weights.items() if k in known} if isinstance(weights, dict) else {}


def fit_exposure(args) -> int:
    """``--fit-exposure MODEL``: the exposure predictor for a model file (``clode.training.exposure_fit``)."""
    from clode.engine.enhancer import Enhancer
    from clode.training.exposure_fit import fit_for_model
    from clode.io.imageio import find_images
    from clode.engine.weights import load_model

    model = load_model(args.fit_exposure)
    path = model.info.path
    assert path is not None                 # load_model records the file it read
    photos = sorted(p for folder in args.data for p in find_images(folder))
    out = fit_for_model(Enhancer(model, device=args.device), path, photos, seed=args.seed,
                        log=lambda m: print(m, flush=True))
    print(f"exposure predictor written to {out}")
    return 0


def starting_model(args) -> Optional[str]:
    """What --init means: a model file, the shipped model when none is given (what the app's
    training panel starts from: a newcomer's short run then keeps its colours), or None for
    ``scratch`` (a random model). A resumed run starts from its checkpoint."""
    from clode.engine.weights import DEFAULT_MODEL
    if args.init == SCRATCH:
        return None
    if args.init is None and not args.resume and not args.finish and DEFAULT_MODEL.exists():
        return str(DEFAULT_MODEL)
    return args.init


def resumed_out(resume: str) -> str:
    """The model a resumed run writes: its own (what its checkpoint says), so the checks of --out
    look at that file; "my-model" when the checkpoint cannot be read (the resume says why)."""
    from clode.training.train import find_checkpoint
    try:
        out = json.loads((find_checkpoint(resume) / "state.json").read_text())["config"]["out"]
        return out if isinstance(out, str) else "my-model"
    except (ClodeError, OSError, ValueError, KeyError, TypeError):
        return "my-model"


def progress_sink(path: Optional[str]):
    """Where the JSON progress events go: None (plain lines instead), stdout, or the file opened
    now, so a path that cannot be written costs one line before any work."""
    if path is None:
        return None
    if path == "-":
        return sys.stdout
    try:
        return open(path, "a", buffering=1, encoding="utf-8")
    except (OSError, ValueError) as e:
        raise ClodeError(f"--progress {path}: {getattr(e, 'strerror', None) or e}") from None


def describe_event(event: dict) -> Optional[str]:
    """A training event as the plain line a person reads (None: not worth a line)."""
    kind = event.get("event")
    if kind == "step":
        if event["step"] % 10 == 0 or event["step"] in (1, event["steps"]):
            return f"step {event['step']}/{event['steps']}  loss {event['loss']:.4f}  eta {event['eta']:.0f}s"
        return None
    if kind == "data":
        held = f" ({event['held_out']} kept out to validate on)" if event.get("held_out") else ""
        skipped = event.get("skipped") or []
        note = f"; {len(skipped)} skipped: " + ", ".join(f"{p} ({why})" for p, why in skipped[:3]) if skipped else ""
        return f"{event['images']} training photos{held}{note}"
    if kind == "checkpoint":
        return f"checkpoint at step {event['step']}: {event['path']}"
    if kind == "validation":
        if isinstance(event.get("held_out"), dict):
            from clode.training.validation import summary
            return summary(event["held_out"])
        scores = [f"{k} {v:.4g}" for k, v in event.items() if isinstance(v, float)]
        return "validation: " + ", ".join(scores)
    if kind == "cancelled":
        return f"stopped at step {event['step']}" + (f"; resume from {event['checkpoint']}"
                                                      if event.get("checkpoint") else "")
    return None      # "done": the closing line says it


def run(args) -> int:
    if args.fit_exposure:
        return fit_exposure(args)
    if (args.val_low is None) != (args.val_high is None):
        raise ClodeError("--val-low and --val-high go together")
    args.init = starting_model(args)
    if args.out is None:
        args.out = resumed_out(args.resume) if args.resume else "my-model"
    apply_preset(args)
    check_options(args)
    config = TrainConfig(
        data=args.data, out=args.out, steps=args.steps or 0, minutes=args.minutes, crop=args.crop, batch=args.batch, lr=args.lr, E=args.E,
        T=args.T, weights={f.name: getattr(args, f"w_{f.name}") for f in fields(LossWeights)}, solver=args.solver,
        adjoint=args.adjoint, seed=args.seed, checkpoint_every=args.checkpoint_every, init=args.init,
        device=args.device, augment=not args.no_augment, max_side=args.max_side, val_low=args.val_low,
        val_high=args.val_high, name=args.name, curve=args.curve, denoiser_only=args.denoiser_only,
        denoiser=args.denoiser, calibrate_T=args.calibrate_T, holdout=args.holdout)
    sink = progress_sink(args.progress)
    # Plain lines for a person, JSON events for a program (--progress): never both on one stream.
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if sink is sys.stdout else \
        (lambda line: print(line, flush=True))
    if not args.resume:
        est = check_fits(config, resolve_device(args.device))
        say(f"crop {config.crop}, batch {config.batch}, {config.solver}{', adjoint' if config.adjoint else ''}, "
            f"{config.steps} steps: {est.describe(config.steps)}")

    def progress(event: dict) -> None:
        if sink is not None:
            try:
                sink.write(json.dumps(event) + "\n")
                sink.flush()
            except OSError as e:
                raise ClodeError(f"--progress {args.progress}: {e.strerror or e}") from None
        elif (line := describe_event(event)) is not None:
            say(line)

    # The app stops a run with SIGTERM: the run ends at its next cancel check, never inside a
    # checkpoint write, so the last checkpoint stays whole and the run can be resumed.
    token = CancelToken()
    main_thread = threading.current_thread() is threading.main_thread()   # signal handlers live there only
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: token.cancel()) if main_thread else None
    try:
        result = train(config, progress=progress, cancel=token, resume=args.resume, finish=args.finish)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        if sink not in (None, sys.stdout):
            with contextlib.suppress(OSError):      # its error, if any, was said already
                sink.close()
    say(f"model written to {result.model_path} ({result.steps} steps, {result.seconds:.0f} s)")
    return 0
