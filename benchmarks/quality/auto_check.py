"""Issue 28's acceptance for the safe Auto, printed as JSON.

    .venv/bin/python benchmarks/quality/auto_check.py [--night N] [--side 256] [--out FILE]

* ``dark``: every dark pair set here -- lowlight-dev (7 pairs, full size) and synthetic night shots
  (``study_night_exposure.held_out_pairs``: the held-out photos, ``--per`` shots each (3: the study's
  held-out set), or ``--night`` of them; made at 256 px) -- scored with the product's finish on the fast engine (Enhancer.prepare,
  session.auto_T, session.render): PSNR / SSIM at the model's default T and at Auto, per pair, the
  worst Auto - default, the mean. Beside them, what a move of ``REACH`` from the default would cost
  at worst (why Auto does not let the learned estimate move a dark photo's T: issue 28).
* ``photos``: each photo of photos/ as it is (at ``--side``), its mean brightness change at Auto
  (finished render against the input), split into the dim ones (the dataset README) and the rest.

Auto runs without the learned taste (``taste=False``): the check is of the model's Auto.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import Report  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--night", type=int, default=11, help="held-out photos to make night shots of (at most 11)")
    ap.add_argument("--per", type=int, default=1, help="night shots per photo (3: the study's held-out set)")
    ap.add_argument("--side", type=int, default=256, help="long side of photos/ read as they are (the night shots are made at 256)")
    ap.add_argument("--sections", default="lowlight,night,photos")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine OpenMP threads of small solves spin-wait on each other)")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import json  # noqa: E402
from dataclasses import asdict  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.training import exposure_fit as ef  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.engine.auto_exposure import mean_luminance  # noqa: E402
from clode.io.imageio import find_images, load_image  # noqa: E402
from clode.training.metrics import psnr, ssim  # noqa: E402
from study_night_exposure import DIM, SHARED, held_out_pairs, split  # noqa: E402

#: The move from the default whose worst cost is printed beside the pairs.
REACH = 0.5


def finish(session, T: float) -> np.ndarray:
    return session.render(float(T), Adjustments().finish)


def score_pairs(enh, pairs) -> dict:
    default_T = enh.default_T
    rows = []
    for name, low, high, info in pairs:
        s = enh.prepare(low)
        T = s.auto_T(taste=False)
        at_default, at_auto = finish(s, default_T), finish(s, T)
        moves = [psnr(finish(s, default_T + d), high) for d in (-REACH, REACH)]
        p0 = psnr(at_default, high)
        rows.append({"pair": name + (f" ({info['ev']:.1f} EV)" if "ev" in info else ""), "auto_T": T,
                     "psnr_default": round(p0, 2), "psnr_auto": round(psnr(at_auto, high), 2),
                     "ssim_default": round(ssim(at_default, high), 4), "ssim_auto": round(ssim(at_auto, high), 4),
                     "input_mean": round(mean_luminance(low), 3),
                     f"worst_move_{REACH:g}": round(min(moves) - p0, 2)})
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    gain = np.array([r["psnr_auto"] - r["psnr_default"] for r in rows])
    return {"pairs": rows, "mean_psnr_default": round(float(np.mean([r["psnr_default"] for r in rows])), 2),
            "mean_psnr_auto": round(float(np.mean([r["psnr_auto"] for r in rows])), 2),
            "mean_ssim_default": round(float(np.mean([r["ssim_default"] for r in rows])), 4),
            "mean_ssim_auto": round(float(np.mean([r["ssim_auto"] for r in rows])), 4),
            "worst_auto_minus_default": round(float(gain.min()), 2),
            "pairs_more_than_1dB_below_default": int((gain < -1).sum()),
            f"worst_cost_of_a_{REACH:g}_move": round(min(r[f"worst_move_{REACH:g}"] for r in rows), 2),
            "ok": bool(gain.min() >= -1.0 and gain.mean() >= 0.0)}


def photos_check(enh, side: int) -> dict:
    rows = []
    for path in sorted(find_images(SHARED / "photos")):
        img = ef.read_photo(path, side)
        s = enh.prepare(img)
        T = s.auto_T(taste=False)
        change = mean_luminance(finish(s, T)) / mean_luminance(img) - 1
        rows.append({"photo": path.name, "dim": path.name in DIM, "auto_T": T, "change": round(float(change), 3)})
        print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    normal = [r for r in rows if not r["dim"]]
    dim = [r for r in rows if r["dim"]]
    changing = [f"{r['photo']} {r['change'] * 100:+.0f} %" for r in normal if abs(r["change"]) >= 0.10]
    return {"photos": rows, "not_dim": len(normal), "not_dim_changing_10pct_or_more": changing,
            "median_change_not_dim": round(float(np.median([r["change"] for r in normal])), 3),
            "dim": {r["photo"]: {"auto_T": r["auto_T"], "change": r["change"]} for r in dim},
            "dim_not_brightened": [r["photo"] for r in dim if r["change"] <= 0.0],
            "ok": len(changing) <= 2}


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    enh = Enhancer(load_model(), device="cpu")
    sections = args.sections.split(",")
    out: dict = {"model": enh.model_name, "default_T": enh.default_T, "finish": asdict(Adjustments().finish)}
    t0 = time.monotonic()
    if "lowlight" in sections:
        d = SHARED / "lowlight-dev"
        pairs = [(p.name, load_image(p).pixels, load_image(d / "high" / p.name).pixels, {})
                 for p in sorted((d / "low").glob("*.png"))]
        out["lowlight_dev"] = score_pairs(enh, pairs)
    if "night" in sections:
        _, held = split(sorted(find_images(SHARED / "photos")))
        pairs = [(n, low, high, info) for n, low, high, info in held_out_pairs(held[:args.night], per=args.per)]
        out["night_shots"] = score_pairs(enh, pairs)
    if "photos" in sections:
        out["photos"] = photos_check(enh, args.side)
    out["seconds"] = round(time.monotonic() - t0)
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    report = Report(__file__, args)
    report["auto_check"] = out
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
