"""The look of the product's defaults, in numbers: colour fidelity, noise, and lowlight-dev scores.

    .venv/bin/python benchmarks/quality/look.py [--model FILE] [--curve shared|per_channel] [--T 3|auto]
                                        [--denoise 1] [--colour-noise 0.5]

* hue shift (``clode.training.metrics.hue_shift``, CIELAB, chroma-weighted) from input to output on the seven
  dim real photos of ``../shared/datasets/photos`` named in issue 13, and its mean;
* flat-patch noise (``clode.training.metrics.flat_noise``, 8-bit levels) of the output in the smooth blocks of
  the same photos, chosen from the input; and the same in the blocks without fine texture
  (``untextured_patches``: a dark pinstripe passes as flat, and lifting it is not noise);
* PSNR / SSIM on ``lowlight-dev`` (LOL protocol) at the same settings, fast path.

Everything runs through ``Enhancer.enhance`` (fast mode), the path the CLI, batch and editor share.
The last line is the figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report  # noqa: E402

CURVE_MODES = ("per_channel", "shared", "rgb_ratio")     # clode.engine.network.CURVE_MODES (checked in main)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped one)")
    ap.add_argument("--curve", choices=CURVE_MODES, help="override the model's curve mode")
    ap.add_argument("--T", type=lambda v: v if v == "auto" else float(v),
                    help="end time, or auto (default: the model's)")
    ap.add_argument("--denoise", type=float)
    ap.add_argument("--colour-noise", type=float)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode.engine.network import CURVE_MODES as MODEL_CURVE_MODES  # noqa: E402
from clode.training.metrics import flat_noise, flat_patches, hue_shift, psnr, ssim, untextured_patches  # noqa: E402

assert set(CURVE_MODES) == set(MODEL_CURVE_MODES), MODEL_CURVE_MODES
SHARED = DATASETS
DIM = ["kphotoalbum-bar55.jpg", "kphotoalbum-bar55_2.jpg", "kphotoalbum-pool_2.jpg", "kphotoalbum-sunset.jpg",
       "palapeli-cincinnati-bridge.jpg", "plasma-DarkestHour.jpg", "plasma-summer_1am.jpg"]


def render_finish(args) -> Finish:
    """The product's finish (``Adjustments().finish``, as ``clode enhance`` uses it) with the options given."""
    changes = {name: getattr(args, name) for name in ("denoise", "colour_noise", "neutral")
               if getattr(args, name, None) is not None}
    return replace(Adjustments().finish, **changes)


def enhanced(enh: Enhancer, img: np.ndarray, T, finish: Finish) -> np.ndarray:
    """``img`` at ``T`` (None: the model's default; "auto": the automatic T, as ``--T auto`` picks it)."""
    return enh.enhance_auto(img, finish)[0] if T == "auto" else enh.enhance(img, T, finish)


def measure(enh: Enhancer, T, finish: Finish, quiet: bool = False) -> dict:
    hues, noises, untextured = [], [], []
    for name in DIM:
        img = load_image(SHARED / "photos" / name).pixels
        out = enhanced(enh, img, T, finish)
        hues.append(hue_shift(img, out))
        noises.append(flat_noise(out, flat_patches(img)))
        untextured.append(flat_noise(out, untextured_patches(img)))
        if not quiet:
            print(f"  {name:34s} hue {hues[-1]:6.2f} deg   noise {noises[-1]:5.2f} ({untextured[-1]:5.2f} untextured)"
                  f"   mean {img.mean():.3f} -> {out.mean():.3f}", flush=True)
    ps, ss = [], []
    for low_path in sorted((SHARED / "lowlight-dev" / "low").glob("*.png")):
        low = load_image(low_path).pixels
        high = load_image(SHARED / "lowlight-dev" / "high" / low_path.name).pixels
        out = enhanced(enh, low, T, finish)
        ps.append(psnr(out, high))
        ss.append(ssim(out, high))
    return {"hue": float(np.mean(hues)), "hue_max": float(np.max(hues)), "noise": float(np.mean(noises)),
            "noise_untextured": float(np.mean(untextured)),
            "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "hues": hues}


def main(args: argparse.Namespace) -> int:
    report = Report(__file__, args)
    torch.set_num_threads(args.threads)
    net = load_model(args.model)
    if args.curve:
        net.curve_mode = args.curve
    enh = Enhancer(net, device="cpu")
    t0 = time.perf_counter()
    print(f"model {net.info.name} ({net.info.path}), curve {net.curve_mode}, T {args.T or net.info.default_T}, "
          f"settings {render_finish(args)}")
    r = measure(enh, args.T, render_finish(args))
    print(f"hue shift mean {r['hue']:.2f} deg (max {r['hue_max']:.2f}); flat-patch noise {r['noise']:.2f} levels "
          f"({r['noise_untextured']:.2f} without fine texture); "
          f"lowlight-dev {r['psnr']:.2f} dB / {r['ssim']:.3f}   ({time.perf_counter() - t0:.0f} s)")
    report["model"] = net.info.name
    report["settings"] = asdict(render_finish(args))
    report["look"] = {**r, "photos": DIM}
    report.emit("cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
