"""Decode times of a 24 MP JPEG and a 24 MP DNG: the full decode (export path) and the fast preview.

    .venv/bin/python benchmarks/speed/bench_decode.py [--runs 5] [--preview-side 2048]

The inputs are made in a temporary folder from a real photo (shared/datasets/photos), upscaled to
6000 x 4000 with some grain added: a quality-92 JPEG, and a 16-bit RGGB DNG (uncompressed, made with
tests/dng.py).
Times are medians of ``--runs`` runs after one warm-up, wall-clock and CPU (the CPU time is the
steadier one on a busy machine); they include reading the file, decoding, orientation and the
conversion to float32. Ends with one JSON line: the machine, the arguments and each decode's times.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, ROOT, Report, describe  # noqa: E402

PHOTO = DATASETS / "photos" / "kphotoalbum-grand_canyon_1.jpg"
SIZE = (6000, 4000)   # 24 MP


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preview-side", type=int, default=2048)
    parser.add_argument("--photo", type=Path, default=PHOTO)
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before clode (and torch) load

sys.path.insert(0, str(ROOT / "tests"))
from clode.io.imageio import load_image, load_preview  # noqa: E402
from dng import make_dng  # noqa: E402  (tests/dng.py)


def libraries() -> str:
    import PIL
    import rawpy
    return (f"{platform.system()} {platform.release()}; Pillow {PIL.__version__}, rawpy {rawpy.__version__} "
            f"(LibRaw {rawpy.libraw_version[0]}.{rawpy.libraw_version[1]}.{rawpy.libraw_version[2]})")


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds (CPU time is the steadier figure on a shared machine)."""
    result = fn()   # warm-up (imports, page cache)
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu), result


def main(args: argparse.Namespace) -> int:
    report = Report(__file__, args)
    report["libraries"] = libraries()
    print(f"machine: {describe()}; {report.results['libraries']}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Image.open(args.photo) as im:
            big = np.asarray(im.convert("RGB").resize(SIZE, Image.Resampling.BICUBIC), np.float32)
        # sensor-like grain, so the files have a camera's entropy (an upscaled photo alone makes a
        # JPEG several times smaller, and faster to decode, than a real 24 MP one)
        big += np.random.default_rng(0).normal(0, 4, big.shape).astype(np.float32)
        big = Image.fromarray(np.clip(big, 0, 255).astype(np.uint8))
        jpeg = tmp / "photo_24mp.jpg"
        big.save(jpeg, quality=92)
        dng = make_dng(tmp / "photo_24mp.dng", np.asarray(big, np.float32) / 255, "RGGB", 16)
        del big
        print(f"inputs: {SIZE[0]} x {SIZE[1]} from {args.photo.name}; JPEG {jpeg.stat().st_size / 1e6:.1f} MB, "
              f"DNG {dng.stat().st_size / 1e6:.1f} MB (16-bit, uncompressed); median of {args.runs} runs")
        print(f"{'file':6} {'path':28} {'wall s':>8} {'CPU s':>8} {'output':>14}")
        for name, path in (("JPEG", jpeg), ("DNG", dng)):
            for label, fn in (("full (load_image)", lambda p=path: load_image(p)),
                              (f"preview (max side {args.preview_side})",
                               lambda p=path: load_preview(p, args.preview_side))):
                wall, cpu, photo = timed(fn, args.runs)
                h, w = photo.pixels.shape[:2]
                print(f"{name:6} {label:28} {wall:8.3f} {cpu:8.3f} {f'{w} x {h}':>14}", flush=True)
                report.add("decodes", {"file": name, "path": label, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                                       "output": [w, h]})
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
