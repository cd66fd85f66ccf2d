"""Real-capture-like pairs (issue 28.4): T = default, Auto and the oracle T, beside lowlight-dev; prints JSON.

    PYTHONPATH=.:tests .venv/bin/python benchmarks/raw_pairs.py [--model FILE] [--side 640] [--keep DIR]
                                                                 [--no-lowlight] [--threads 2]

The pairs (``clode.training.raw_pairs``): four scenes -- the real camera RAW ``../shared/datasets/raw/kodak_c330.raw``
(its linear sensor data, 2 x 2 binned) and three ordinary photos of ``../shared/datasets/photos`` taken
back to linear light -- become a 14-bit RGGB mosaic (black 512 DN) at base ISO, the long exposure; each
is shot again ``EV`` stops shorter at a raised ISO (``SHOTS``: Poisson shot noise at the ISO's gain,
read noise, the black pedestal, integer DN, clipping at white). Both frames are written as DNGs with
the same tags (``tests/dng.py``) and developed by the app's RAW path (``clode.io.imageio.load_image``): the
long one is the ground truth, the short one the input.

Each input is prepared once (fast engine, the full T range) and rendered with the product's finish
(``Adjustments().finish``) at the model's default T, at ``session.auto_T()`` (whatever Auto is
now), and at the oracle T: the best PSNR over a grid of T (whole steps over [0, t_max], then 0.5 and
0.25 either side of the best) chosen with the ground truth -- a bound, not a method. PSNR / SSIM by the
LOL protocol (``clode.training.metrics``). The same three on ``../shared/datasets/lowlight-dev``.
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
    ap.add_argument("--side", type=int, default=640, help="long side of the photo scenes (default 640)")
    ap.add_argument("--keep", help="folder to keep the DNGs in (default: a temporary one)")
    ap.add_argument("--no-lowlight", action="store_true", help="skip lowlight-dev")
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import json  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode.training.metrics import psnr, ssim  # noqa: E402
from clode.base.pixels import fit_size, resize  # noqa: E402
from clode.training.raw_pairs import Sensor, electrons_at_white, long_exposure, short_exposure  # noqa: E402
from dng import cfa_dng_bytes, srgb_to_linear  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
KODAK = SHARED / "raw" / "kodak_c330.raw"
#: Photos taken back to linear light as scenes: a portrait on a beach, a garden, bright colours.
PHOTOS = ["kphotoalbum-anne_helene.jpg", "mate_nature-Garden.jpg", "plasma-ColorfulCups.jpg"]
#: (EV stops shorter, ISO): 195, 138 and 98 electrons at white in the short frame with ``Sensor()``
#: (lowlight-dev's synthetic noise: 130-530), the ISO raised less as the shot gets shorter.
SHOTS = [(3.0, 1600), (4.5, 800), (6.0, 400)]
SENSOR = Sensor()


def even(a: np.ndarray) -> np.ndarray:
    return a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2]


def kodak_scene() -> np.ndarray:
    """The Kodak C330's linear sensor data (LibRaw's RGB stack, no black offset, 16-bit range),
    2 x 2 binned, as linear RGB in [0, 1]."""
    import rawpy

    with rawpy.imread(str(KODAK)) as raw:
        data = raw.raw_image_visible[..., :3].astype(np.float64) / 65535.0
    data = even(data)
    h, w = data.shape[:2]
    return data.reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3))


def photo_scene(name: str, side: int) -> np.ndarray:
    """A photo of ``../shared/datasets/photos`` at long side ``side``, taken back to linear light."""
    img = load_image(SHARED / "photos" / name).pixels
    return srgb_to_linear(resize(img, fit_size(*img.shape[:2], side)))


def develop(cfa: np.ndarray, path: Path) -> np.ndarray:
    """The mosaic written as a DNG (``SENSOR``'s levels in 16-bit samples) and developed by the app."""
    path.write_bytes(cfa_dng_bytes(cfa, bits=16, black=SENSOR.black, white=SENSOR.white,
                                   make="CLODE", model="Simulated 14-bit sensor"))
    return load_image(path).pixels


def make_pairs(folder: Path, side: int, seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray, dict]]:
    """(name, low, high, info) for every scene and shot, the DNGs kept in ``folder``."""
    scenes = [("kodak_c330", kodak_scene())] + [(Path(n).stem, photo_scene(n, side)) for n in PHOTOS]
    pairs = []
    for i, (name, scene) in enumerate(scenes):
        long = long_exposure(even(scene), SENSOR)
        high = develop(long, folder / f"{name}_long.dng")
        for ev, iso in SHOTS:
            rng = np.random.default_rng([seed, i, int(ev * 10), iso])
            low = develop(short_exposure(long, ev, iso, SENSOR, rng), folder / f"{name}_ev{ev:g}_iso{iso}.dng")
            info = {"ev": ev, "iso": iso, "electrons_at_white": round(electrons_at_white(ev, iso, SENSOR), 1),
                    "read_dn": round(SENSOR.read_dn(iso), 2), "low_mean": round(float(low.mean()), 4),
                    "high_mean": round(float(high.mean()), 4)}
            pairs.append((f"{name}_ev{ev:g}_iso{iso}", low, high, info))
    return pairs


def lowlight_pairs() -> list[tuple[str, np.ndarray, np.ndarray, dict]]:
    out = []
    for low_path in sorted((SHARED / "lowlight-dev" / "low").glob("*.png")):
        high = load_image(SHARED / "lowlight-dev" / "high" / low_path.name).pixels
        out.append((f"lowlight-dev/{low_path.stem}", load_image(low_path).pixels, high, {}))
    return out


def score(enh: Enhancer, low: np.ndarray, high: np.ndarray) -> dict:
    """T = default, Auto and the oracle T of one pair (module doc)."""
    finish = Adjustments().finish
    session = enh.prepare(low)
    lo, hi = session.t_range
    cache: dict = {}

    def render(T: float) -> np.ndarray:
        T = round(min(max(T, 0.0), hi), 4)
        if T not in cache:
            cache[T] = session.render(T, finish)
        return cache[T]

    def at(T: float) -> dict:
        out = render(T)
        return {"T": round(T, 3), "psnr": round(psnr(out, high), 3), "ssim": round(ssim(out, high), 4)}

    def by_psnr(T: float) -> float:
        return psnr(render(T), high)

    best = max(np.arange(0.0, hi + 1e-9, 1.0), key=by_psnr)
    for step in (0.5, 0.25):          # PSNR is unimodal in T here: refine around the best
        best = max([best - step, best, best + step], key=by_psnr)
    return {"default": at(enh.default_T), "auto": at(float(session.auto_T())), "oracle": at(float(best))}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for key in ("default", "auto", "oracle"):
        out[key] = {m: round(float(np.mean([r[key][m] for r in rows])), 3) for m in ("psnr", "ssim")}
    gaps = [r["auto"]["psnr"] - r["default"]["psnr"] for r in rows]
    out["auto_minus_default_psnr"] = {"mean": round(float(np.mean(gaps)), 3), "worst": round(float(np.min(gaps)), 3),
                                      "pairs_below_1dB": int(sum(g < -1 for g in gaps))}
    out["pairs"] = len(rows)
    return out


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    enh = Enhancer(load_model(args.model), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sets = {"raw_pairs": make_pairs(folder, args.side)}
        if not args.no_lowlight:
            sets["lowlight-dev"] = lowlight_pairs()
        report: dict = {"model": enh.model_name, "default_T": enh.default_T, "sensor": vars(SENSOR) | {"white": SENSOR.white}}
        for set_name, pairs in sets.items():
            rows = []
            for name, low, high, info in pairs:
                rows.append({"pair": name, **info, **score(enh, low, high)})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            report[set_name] = {"summary": summarise(rows), "pairs": rows}
    print_results(__file__, args, "raw_pairs", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
