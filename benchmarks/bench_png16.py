"""Which 16-bit writer: file size against encoding time on a 24 MP 16-bit photo.

A real photo from the shared photos, upscaled to 6000 x 4000 and given a little grain (so the low
byte of each 16-bit sample carries noise, as in an enhanced RAW), is encoded in memory by:

- ``clode.export.write_png16``: our own vectorised filter choice + Python's zlib (level 1);
- imagecodecs' ``png_encode`` (libpng) at level 1 with several row-filter sets;
- the 16-bit TIFF writers: tifffile with deflate + predictor (zlib level 1 and 6), and LZW
  (imagecodecs' codec).

The time is the median of ``--repeat`` runs (the machine may be shared); the size in MB.

    python benchmarks/bench_png16.py [--repeat 3] [--mp 24] [--grain 0.004] [--only TEXT]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clode.export import PNG_LEVEL, write_png16  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "datasets" / "photos"


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
    write_png16(buf, a)
    return buf.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mp", type=float, default=24.0)
    parser.add_argument("--grain", type=float, default=0.004, help="noise sigma (0-1 scale)")
    parser.add_argument("--only", default="", help="run the writers whose name holds this text")
    args = parser.parse_args()
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
        f"PNG ours (zlib {PNG_LEVEL}, sub/up/avg)": lambda: ours(a),
        "PNG libpng level 1, sub": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.SUB)),
        "PNG libpng level 1, up": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.UP)),
        "PNG libpng level 1, sub/up/avg": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.SUB | F.UP | F.AVG)),
        "PNG libpng level 1, all (libpng default)": lambda: len(imagecodecs.png_encode(a, level=1)),
        "PNG libpng level 1, sub, RLE": lambda: len(imagecodecs.png_encode(a, level=1, filter=F.SUB, strategy=3)),
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


if __name__ == "__main__":
    main()
