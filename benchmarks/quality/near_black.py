"""Near-black stays neutral as it rises (issue 28.5), in numbers; prints JSON.

    PYTHONPATH=. .venv/bin/python benchmarks/near_black.py [--model FILE] [--T 3] [--auto] [--threads 2]

For each dim photo of ``../shared/datasets/photos`` (``benchmarks/look.py``'s list) and each very dark
test photo made here (``dark_photos``), rendered with the product's finish (``Adjustments().finish``,
fast path, one session per photo) with ``clode.engine.near_black`` off and on:

* ``chroma``: the mean CIELAB chroma of the output over the pixels whose input's brightest channel is
  at most ``DARK_LEVEL`` of 255 (acceptance: at most 3 on every photo, with it on);
* ``hue``: ``clode.training.metrics.hue_shift`` from input to output (acceptance: the dim photos' mean within 5°);
* ``dark_share``: the share of the photo's pixels that count as near-black.

``--auto`` adds the same at each photo's automatic T (``session.auto_T()``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import print_results  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped one)")
    ap.add_argument("--T", type=float, help="the fixed end time (default: the model's)")
    ap.add_argument("--auto", action="store_true", help="also at each photo's automatic T")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import io  # noqa: E402
import json  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode.training.metrics import hue_shift, srgb_to_lab  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks" / "quality"))
from look import DIM, SHARED  # noqa: E402

#: Pixels whose input's brightest channel is at most this many levels count as near-black.
DARK_LEVEL = 4


def _jpeg(levels: np.ndarray, quality: int = 85) -> np.ndarray:
    """An 8-bit image through a JPEG encoder (4:2:0, as cameras and phones store it), as float [0, 1]."""
    buf = io.BytesIO()
    Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0


def dark_photos(seed: int = 0) -> dict[str, np.ndarray]:
    """Very dark photos with a known truth: their near-black colour is cast and noise only.

    * ``museum_sky``: a black night sky of RGB (0.9, 0.9, 0.2) on average plus noise (the JPEG cast
      of issue 28's museum), over a dim warm facade with lit windows; JPEG 85.
    * ``lamp_room``: every channel 0-3 of 255 at random, a small bright lamp in the middle; JPEG 90.
    * ``blue_night``: a sky cast the other way, (0.3, 0.2, 1.4) plus noise, above dim green trees
      whose colour is real (10-20 levels); JPEG 85.
    """
    rng = np.random.default_rng(seed)
    h, w = 420, 640
    yy, xx = np.mgrid[0:h, 0:w]

    sky = np.array([0.9, 0.9, 0.2]) + rng.normal(0, 0.7, (h, w, 3))
    facade = np.array([34.0, 24.0, 15.0]) * (0.8 + 0.4 * rng.random((h, w, 1)))
    museum = np.where((yy > 0.55 * h)[..., None], facade, sky)
    windows = (yy > 0.62 * h) & (yy % 40 < 16) & (xx % 60 < 22) & (yy < 0.95 * h)
    museum[windows] = [210, 175, 95]

    room = rng.integers(0, 4, (h, w, 3)).astype(np.float64)
    r = np.hypot(yy - h / 2, xx - w / 2)
    room += np.array([235.0, 140.0, 50.0]) * np.clip(1.2 - r / 18, 0, 1)[..., None]
    room += np.array([30.0, 16.0, 5.0]) * np.exp(-r / 40)[..., None]

    night = np.array([0.3, 0.2, 1.4]) + rng.normal(0, 0.6, (h, w, 3))
    trees = np.array([6.0, 16.0, 7.0]) * (0.7 + 0.6 * rng.random((h, w, 1)))
    line = 0.5 * h + 30 * np.sin(xx / 45)
    night = np.where((yy > line)[..., None], trees, night)
    return {"museum_sky": _jpeg(museum, 85), "lamp_room": _jpeg(room, 90), "blue_night": _jpeg(night, 85)}


def near_black_chroma(img: np.ndarray, out: np.ndarray, level: int = DARK_LEVEL) -> tuple[float, float]:
    """(mean CIELAB chroma of ``out`` over the pixels whose input's brightest channel is at most
    ``level`` of 255, their share of the photo); (0, 0) when there are none."""
    mask = np.rint(img * 255).max(-1) <= level
    if not mask.any():
        return 0.0, 0.0
    lab = srgb_to_lab(out)
    return float(np.hypot(lab[..., 1], lab[..., 2])[mask].mean()), float(mask.mean())


def measure(enh: Enhancer, name: str, img: np.ndarray, T_fixed: float, auto: bool) -> dict:
    session = enh.prepare(img)
    finish = Adjustments().finish
    row: dict = {"photo": name}
    ends = [("T", T_fixed)] + ([("auto", float(session.auto_T()))] if auto else [])
    for label, T in ends:
        if label == "auto":
            row["auto_T"] = round(T, 3)
        for on in (False, True):
            out = session.render(T, replace(finish, near_black=on))
            chroma, share = near_black_chroma(img, out)
            key = f"{label}_{'on' if on else 'off'}"
            row[f"chroma_{key}"] = round(chroma, 3)
            row[f"hue_{key}"] = round(hue_shift(img, out), 3)
            row["dark_share"] = round(share, 4)
    return row


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    enh = Enhancer(load_model(args.model), device="cpu")
    T = enh.default_T if args.T is None else args.T
    photos = [(n, load_image(SHARED / "photos" / n).pixels) for n in DIM] + list(dark_photos().items())
    rows = []
    for name, img in photos:
        rows.append(measure(enh, name, img, T, args.auto))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    dim = [r for r in rows if r["photo"] in DIM]
    summary = {"T": T, "dark_level": DARK_LEVEL}
    for key in [k for k in rows[0] if k.startswith("chroma_")]:
        summary[f"{key}_mean"] = round(float(np.mean([r[key] for r in rows if r["dark_share"] > 0])), 3)
        summary[f"{key}_max"] = round(float(np.max([r[key] for r in rows])), 3)
    for key in [k for k in rows[0] if k.startswith("hue_")]:
        summary[f"{key}_dim_mean"] = round(float(np.mean([r[key] for r in dim])), 3)
    print_results(__file__, args, "near_black", {"summary": summary, "photos": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
