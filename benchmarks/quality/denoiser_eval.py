"""The denoiser alone, on photos it never saw: dark camera files brightened, against the clean truth.

    .venv/bin/python benchmarks/quality/denoiser_eval.py MODEL [MODEL ...]

Each well-exposed photo of ``lowlight-dev/high`` (not in any training set) is darkened by 3 and 5
stops with sensor noise (``clode.training.data.simulate_exposure``: shot and read noise, colour
noise through a camera matrix, demosaicking blotches), kept as it is ("raw") or saved as a camera
JPEG of quality 75 or 90, then brightened back to the photo's mean by one global exposure of the
model's own curve. The printed figure is the PSNR (dB) of the brightened image after the model's
denoiser (strength 1) against the brightened clean image, and the same without a denoiser: what the
denoiser buys where the noise is plainest. The last line is the table as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model files to compare (.safetensors or official .pth)")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

from clode import load_model  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode.training.metrics import psnr  # noqa: E402
from clode.engine.ode import logistic  # noqa: E402
from clode.training.train import global_lambda  # noqa: E402
from clode.training.data import ExposureAugment, jpeg_round_trip, simulate_exposure  # noqa: E402

HIGH = DATASETS / "lowlight-dev" / "high"
EVS = (3.0, 5.0)
KINDS = ("raw", "jpeg90", "jpeg75")


def cases():
    """(name, noisy dark, clean dark) for every photo, darkening and file kind; fixed seeds."""
    for i, path in enumerate(sorted(HIGH.glob("*.png"))):
        clean = torch.from_numpy(load_image(path).pixels).permute(2, 0, 1)[None]
        for ev in EVS:
            aug = ExposureAugment(dark=1.0, ev=(ev, ev), gain=(3000.0, 3000.0), read=(5e-4, 5e-4),
                                  sensor_colour=1.0, demosaic=1.0, jpeg=0.0)
            pair = simulate_exposure(clean, torch.Generator().manual_seed(1000 * i + int(ev * 10)), aug)
            for kind in KINDS:
                noisy = pair.input if kind == "raw" else jpeg_round_trip(pair.input[0], int(kind[4:]))[None]
                yield f"{path.stem} {ev:g}EV {kind}", noisy, pair.clean


@torch.no_grad()
def score(net, noisy, clean):
    lam = global_lambda(clean, clean.new_full((1, 1, 1, 1), 0.45))
    target = logistic(clean, lam, net.curve_mode)
    bright = logistic(noisy, lam, net.curve_mode)
    as_np = lambda t: t[0].permute(1, 2, 0).clamp(0, 1).numpy()     # noqa: E731
    return psnr(as_np(net.finish(bright)), as_np(target)), psnr(as_np(bright), as_np(target))


def main(args: argparse.Namespace) -> int:
    report = Report(__file__, args)
    columns = [Path(m).stem for m in args.models] + ["no denoiser"]
    torch.set_num_threads(2)
    nets = [load_model(m) for m in args.models]
    rows = {}
    for name, noisy, clean in cases():
        scores = [score(net, noisy, clean) for net in nets]
        rows[name] = [s[0] for s in scores] + [scores[0][1]]
    print("case".ljust(24) + "".join(Path(m).stem[:14].rjust(16) for m in args.models) + "no denoiser".rjust(16))
    for group in [k for k in KINDS] + [f"{ev:g}EV" for ev in EVS]:
        sel = np.array([v for k, v in rows.items() if f" {group}" in k])
        print(f"mean {group}".ljust(24) + "".join(f"{x:16.2f}" for x in sel.mean(0)))
        report[f"mean {group}"] = {c: round(float(x), 3) for c, x in zip(columns, sel.mean(0))}
    allv = np.array(list(rows.values()))
    print("mean all".ljust(24) + "".join(f"{x:16.2f}" for x in allv.mean(0)))
    report["mean all"] = {c: round(float(x), 3) for c, x in zip(columns, allv.mean(0))}
    report.emit("cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
