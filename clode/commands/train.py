"""``clode train``: unsupervised training / fine-tuning on folders of photos."""

from __future__ import annotations

import json
import signal
import sys
import threading
from dataclasses import fields

from ..adjustments import Limits
from ..errors import ClodeError
from ..losses import LossWeights
from ..network import CURVE_MODES
from ..progress import CancelToken
from ..paths import model_path_for
from ..train import TrainConfig, train

#: What each numeric training option accepts (checked before any work, one line naming the option).
LIMITS = {
    "steps": Limits(1, 10_000_000), "minutes": Limits(0.01, 1e6), "crop": Limits(16, 4096), "batch": Limits(1, 1024),
    "lr": Limits(1e-9, 1.0), "E": Limits(0.01, 0.99), "checkpoint_every": Limits(1, 10_000_000),
    "max_side": Limits(16, 16384),
    "T": Limits(0.25, 6.0),      # the saved model's default T: within its range (save_model's t_max, 6)
}
#: The loss weights: finite, from 0 to this.
MAX_LOSS_WEIGHT = 1e6


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
    out = model_path_for(args.out)
    if out.is_dir():
        raise ClodeError(f"--out {args.out}: {out} is a folder; give a model name or a .safetensors file path")
    if out.exists() and not out.is_file():
        raise ClodeError(f"--out {args.out}: {out} is not a regular file")


def register(sub) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on folders of photos (no ground truth needed)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="folders of JPEG/PNG/TIFF/RAW photos")
    p.add_argument("--init", metavar="MODEL", help="start from this model (default: random initialisation)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--minutes", type=float, help="stop after this many minutes even if --steps is not reached")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--E", type=float, default=0.6, help="exposure target: mean gray level of 16x16 patches at T")
    p.add_argument("--T", type=float, default=3.0, help="end time the losses are computed at")
    p.add_argument("--out", default="my-model", metavar="NAME_OR_PATH",
                   help="model name (saved in the user's models folder) or a .safetensors path")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint (folder or the run's .checkpoints folder)")
    p.add_argument("--calibrate-T", dest="calibrate_T", action="store_true",
                   help="at the end, store as the model's default T the one that best restores the training "
                        "photos darkened as in training (measured, fast path)")
    p.add_argument("--finish", action="store_true",
                   help="with --resume: write that checkpoint as the run's model (card, validation), no more steps")
    p.add_argument("--val-low", metavar="DIR")
    p.add_argument("--val-high", metavar="DIR")
    p.add_argument("--progress", metavar="JSONL", help="append progress events as JSON lines to this file ('-' = stdout)")
    p.add_argument("--device", default="auto")
    p.add_argument("--solver", default="dopri5:1e-3", help="e.g. dopri5:1e-3, rk4:0.5, euler:0.5")
    p.add_argument("--adjoint", action="store_true", help="adjoint back-propagation (less memory, slower)")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="use the photos as they are (no synthetic exposure)")
    p.add_argument("--max-side", type=int, default=640, help="photos are downscaled to this long side before cropping")
    p.add_argument("--name", help="display name stored in the model")
    p.add_argument("--curve", default="rgb_ratio", choices=CURVE_MODES,
                   help="how the exposure curve treats R, G and B: rgb_ratio (default) keeps each pixel's hue "
                        "and saturation; shared gives one curve per channel-triple; per_channel is the published model")
    p.add_argument("--denoiser-only", action="store_true",
                   help="refit only the denoiser, supervised on simulated sensor noise (no ODE solve: fast); "
                        "use with --init")
    p.add_argument("--fit-exposure", dest="fit_exposure", metavar="MODEL",
                   help="no training: refit MODEL's automatic-exposure predictor on synthetic night shots made "
                        "from --data, written beside it as <MODEL>.exposure.json (about 3 s per shot on one "
                        "core, 2 shots per photo)")
    for f in fields(LossWeights):
        p.add_argument(f"--w-{f.name}", type=float, default=f.default, help=f"weight of the {f.name} loss")
    p.set_defaults(func=run)


def fit_exposure(args) -> int:
    """``--fit-exposure MODEL``: the exposure predictor for a model file (``clode.exposure_fit``)."""
    from ..enhancer import Enhancer
    from ..exposure_fit import fit_for_model
    from ..imageio import find_images
    from ..weights import load_model

    model = load_model(args.fit_exposure)
    photos = sorted(p for folder in args.data for p in find_images(folder))
    out = fit_for_model(Enhancer(model, device=args.device), model.info.path, photos, seed=args.seed,
                        log=lambda m: print(m, flush=True))
    print(f"exposure predictor written to {out}")
    return 0


def run(args) -> int:
    if args.fit_exposure:
        return fit_exposure(args)
    if (args.val_low is None) != (args.val_high is None):
        raise ClodeError("--val-low and --val-high go together")
    check_options(args)
    config = TrainConfig(
        data=args.data, out=args.out, steps=args.steps, minutes=args.minutes, crop=args.crop, batch=args.batch, lr=args.lr, E=args.E,
        T=args.T, weights={f.name: getattr(args, f"w_{f.name}") for f in fields(LossWeights)}, solver=args.solver,
        adjoint=args.adjoint, seed=args.seed, checkpoint_every=args.checkpoint_every, init=args.init,
        device=args.device, augment=not args.no_augment, max_side=args.max_side, val_low=args.val_low,
        val_high=args.val_high, name=args.name, curve=args.curve, denoiser_only=args.denoiser_only,
        calibrate_T=args.calibrate_T)
    sink = None
    if args.progress == "-":
        sink = sys.stdout
    elif args.progress:
        sink = open(args.progress, "a", buffering=1, encoding="utf-8")

    def progress(event: dict) -> None:
        if sink is not None:
            sink.write(json.dumps(event) + "\n")
            sink.flush()
        elif event["event"] == "step" and (event["step"] % 10 == 0 or event["step"] == event["steps"]):
            print(f"step {event['step']}/{event['steps']}  loss {event['loss']:.4f}  eta {event['eta']:.0f}s", flush=True)
        elif event["event"] != "step":
            print(json.dumps(event), flush=True)

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
            sink.close()
    if sink is not sys.stdout:
        print(f"model written to {result.model_path} ({result.steps} steps, {result.seconds:.0f} s)")
    return 0
