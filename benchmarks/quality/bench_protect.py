"""Highlight protection (clode.engine.highlights): lamps clip less, shadows keep their brightness, no halo.

    .venv/bin/python benchmarks/quality/bench_protect.py [--halo-size 256x384]

* lamps: night shots with lamps and lit windows (clode.training.night_pairs, from held-out photos/) and a
  real dim photo with lights, at the automatic T (fast path, product finish): clipped pixels
  (largest channel at 255) in the lamp region (input's largest channel 0.6-0.98 sRGB: the lights'
  glow and surroundings; pixels clipped in the input stay clipped at any T), the mean
  of the shadows (darkest 40 % of the input) relative to protection off, and PSNR against the
  original where there is one;
* halo: bench_fast's hard-edge image (a dark half beside a bright half, and a bright disc) at the
  default T, denoiser off: the change that protection makes on the dark side, by distance from
  the edge (a halo would darken the dark side near the edge), and |fast - exact| by distance with
  protection on and off (the fast engine's own halo).

The last line is the figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import BENCHMARKS, DATASETS, Report  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--halo-size", default="256x384", help="HxW of the halo test image")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sections", default="lamps,halo")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(BENCHMARKS / "speed"))
from bench_fast import edge_image  # noqa: E402  (benchmarks/speed/bench_fast.py)
from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.training.exposure_fit import photo_seed, read_photo  # noqa: E402
from clode.training.metrics import psnr  # noqa: E402
from clode.training.night_pairs import night_pair  # noqa: E402

SHARED = DATASETS
REPORT = None      # main's Report; the sections add their rows to it
PROTECT = (0.0, 0.5, 1.0)
LAMP = 0.6
BANDS = [(0, 2), (2, 6), (6, 16), (16, 48), (48, 1e9)]
#: The exact path (whole image, official tolerance) is compared only up to this size.
EXACT_MAX_PIXELS = 200_000


def lamp_rows(enh: Enhancer, name: str, low: np.ndarray, high) -> None:
    s = enh.prepare(low)
    T = s.auto_T()
    # the lights' surroundings and glow: already clipped pixels stay clipped at any T
    lamp = (low.max(-1) >= LAMP) & (low.max(-1) < 0.98)
    luma = low @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    shadows = luma <= np.percentile(luma, 40)
    base = None
    for p in PROTECT:
        out = s.render(T, Adjustments(protect=p).finish)
        clipped = int((np.round(out.max(-1) * 255) >= 255)[lamp].sum())
        shade = float(out[shadows].mean())
        base = shade if base is None else base
        score = f"{psnr(out, high):6.2f}" if high is not None else "     -"
        print(f"| {name} | {T:.2f} | {p * 100:.0f} % | {int(lamp.sum())} | {clipped} | {shade / base:.3f} | {score} |",
              flush=True)
        REPORT.add("lamps", {"photo": name, "auto_T": round(float(T), 3), "protect": p, "lamp_px": int(lamp.sum()),
                             "clipped": clipped, "shadows_vs_off": round(shade / base, 4),
                             "psnr_vs_original": None if high is None else round(float(psnr(out, high)), 3)})


def halo(enh: Enhancer, h: int, w: int) -> None:
    img = edge_image(h, w)
    T = enh.default_T
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.minimum(np.abs(xx + 0.5 - w // 2), np.abs(np.hypot(yy - h / 4, xx - w / 4) - h / 10))
    dark = (xx < w // 2) & (np.hypot(yy - h / 4, xx - w / 4) >= h / 10)
    s = enh.prepare(img, t_range=(0.0, T))
    plain = s.render(T, Finish(denoise=0))
    print(f"\n## halo: {w} x {h} hard edges, T = {T:g}, denoiser off; 8-bit levels by distance (px) from an edge")
    print("| | " + " | ".join(f"d {a:g}-{b:g}" for a, b in BANDS) + " |\n|---|" + "---|" * len(BANDS))
    for p in PROTECT[1:]:
        diff = (s.render(T, Finish(denoise=0, protect=p)) - plain).mean(-1) * 255
        print(f"| protect {p * 100:.0f} %: dark side, mean change (protected - off) | " + " | ".join(
            f"{diff[dark & (dist >= a) & (dist < b)].mean():+.2f}" for a, b in BANDS) + " |")
        REPORT.add("halo", {"protect": p, "side": "dark", "mean_change_by_band": {
            f"{a:g}-{b:g}": round(float(diff[dark & (dist >= a) & (dist < b)].mean()), 3) for a, b in BANDS}})
        print(f"| protect {p * 100:.0f} %: bright side, mean change | " + " | ".join(
            f"{diff[~dark & (dist >= a) & (dist < b)].mean():+.2f}" for a, b in BANDS) + " |", flush=True)
    for p in (0.0, 1.0) if h * w <= EXACT_MAX_PIXELS else ():
        exact = enh.enhance(img, T, Finish(denoise=0, protect=p), mode="exact")
        err = np.abs(s.render(T, Finish(denoise=0, protect=p)) - exact).max(-1) * 255
        print(f"| protect {p * 100:.0f} %: abs(fast - exact), mean / 99th pct | " + " | ".join(
            f"{err[(dist >= a) & (dist < b)].mean():.2f} / {np.percentile(err[(dist >= a) & (dist < b)], 99):.1f}"
            for a, b in BANDS) + " |", flush=True)
        REPORT.add("halo", {"protect": p, "fast_vs_exact_mean_by_band": {
            f"{a:g}-{b:g}": round(float(err[(dist >= a) & (dist < b)].mean()), 3) for a, b in BANDS}})


def main(args: argparse.Namespace) -> int:
    global REPORT
    REPORT = Report(__file__, args)
    torch.set_num_threads(args.threads)
    enh = Enhancer(load_model(), device="cpu")
    if "halo" in args.sections:
        halo(enh, *(int(v) for v in args.halo_size.split("x")))
    if "lamps" not in args.sections:
        REPORT.emit("cpu")
        return 0
    print("\n## lamps: auto T, fast path, product finish\n")
    print("| photo | auto T | protect | lamp px | clipped in lamp region | shadows vs off | PSNR vs original |")
    print("|---|---|---|---|---|---|---|")
    for name in ("kphotoalbum-donna.jpg", "mate_nature-Dune.jpg"):
        path = SHARED / "photos" / name
        if path.exists():
            low, high, info = night_pair(read_photo(path), np.random.default_rng(photo_seed(path, 7)), ev=4.0)
            lamp_rows(enh, f"{name} night shot, 4 EV", low, high)
    lamp_rows(enh, "palapeli-cincinnati-bridge.jpg (real)",
              read_photo(SHARED / "photos" / "palapeli-cincinnati-bridge.jpg", 640), None)
    REPORT.emit("cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
