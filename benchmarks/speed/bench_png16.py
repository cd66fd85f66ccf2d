"""Which 16-bit writer: file size against encoding time on a 24 MP 16-bit photo.

A real photo from the shared photos, upscaled to 6000 x 4000 and given a little grain (so the low
byte of each 16-bit sample carries noise, as in an enhanced RAW), is encoded in memory by:

- ``clode.io.export.write_png``: what clode writes, libpng (imagecodecs) at zlib level 1 with the "sub"
  row filter and run-length matching (it replaced a hand-written encoder: 3.2 s against 10.1 s);
- imagecodecs' ``png_encode`` (libpng) at level 1 with other row-filter sets;
- the 16-bit TIFF writers: tifffile with deflate + predictor (zlib level 1 and 6), and LZW
  (imagecodecs' codec).

The time is the median of ``--repeat`` runs (the machine may be shared); the size in MB.

    python benchmarks/speed/bench_png16.py [--repeat 3] [--mp 24] [--grain 0.004] [--only TEXT]

Ends with one JSON line: the machine, the arguments and each writer's seconds and MB.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report  # noqa: E402

PHOTOS = DATASETS / "photos"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mp", type=float, default=24.0)
    parser.add_argument("--grain", type=float, default=0.004, help="noise sigma (0-1 scale)")
    parser.add_argument("--only", default="", help="run the writers whose name holds this text")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before clode (and torch) load

from clode.io.export import write_png  # noqa: E402


def photo16(megapixels: float, grain: float) -> np.ndarray:
    w = int(round((megapixels * 1e6 * 3 / 2) ** 0.5))
    h = int(round(w * 2 / 3))
    src = sorted(PHOTOS.glob("*.jpg"))[0]
    a = np.asarray(Image.open(src).convert("RGB").resize((w, h), Image.BICUBIC), np.float32) / 255.0
    a += np.random.default_rng(0).normal(0, grain, a.shape).astype(np.float32)
    return (np.clip(a, 0, 1) * 65535 + 0.5).astype(np.uint16)


def timed(encode, repeat: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = encode()
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def ours(a: np.ndarray) -> int:
    buf = io.BytesIO()
    write_png(buf, a)
    return buf.tell()


def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    import imagecodecs
    import tifffile

    a = photo16(args.mp, args.grain)
    print(f"{a.shape[1]} x {a.shape[0]} 16-bit RGB ({a.nbytes / 1e6:.0f} MB raw), grain {args.grain:g}, median of {args.repeat}")
    F = imagecodecs.PNG.FILTER

    def tiff(**kw) -> int:
        buf = io.BytesIO()
        tifffile.imwrite(buf, a, photometric="rgb", **kw)
        return buf.tell()

    writers = {
        "PNG clode.io.export (libpng level 1, sub, RLE)": lambda: ours(a),
        "PNG libpng level 1, sub": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.SUB)),
        "PNG libpng level 1, up": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.UP)),
        "PNG libpng level 1, sub/up/avg": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.SUB | F.UP | F.AVG)),
        "PNG libpng level 1, all (libpng default)": lambda: len(imagecodecs.png_encode(a, level=1)),
        "TIFF deflate 1 + predictor": lambda: tiff(compression="zlib", compressionargs={"level": 1}, predictor=True),
        "TIFF deflate 6 + predictor (tifffile default)": lambda: tiff(compression="zlib", predictor=True),
        "TIFF LZW + predictor": lambda: tiff(compression="lzw", predictor=True),
        "TIFF LZW": lambda: tiff(compression="lzw"),
    }
    for name, encode in writers.items():
        if args.only not in name:
            continue
        seconds, size = timed(encode, args.repeat)
        print(f"  {name:48s} {seconds:6.2f} s  {size / 1e6:7.1f} MB", flush=True)
        report.add("writers", {"writer": name, "seconds": round(seconds, 3), "mb": round(size / 1e6, 2)})
    report["image"] = {"width": a.shape[1], "height": a.shape[0], "bits": 16}
    report.emit()


if __name__ == "__main__":
    main(ARGS)
