"""Which zlib level for PNG output: file size against encoding time on a 24 MP photo.

Two 6000 x 4000 test images: a real photo from the shared photos upscaled (smooth, compresses
well) and a low-light photo of lowlight-dev brightened to the reference's mean and tiled (the
amplified sensor noise of an enhanced photo, which compresses badly). Each 8-bit PNG is encoded in
memory by Pillow, as ``clode.io.export`` does; the time is the best of ``--repeat`` runs (the machine
may be shared). JPEG at quality 95 is listed for comparison.

    python benchmarks/speed/bench_png_level.py [--levels 0,1,2,3,4,6] [--repeat 2]

Ends with one JSON line: the machine, the arguments and each level's seconds and MB.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS as SHARED, Report  # noqa: E402

SIZE = (6000, 4000)


def upscaled_photo() -> Image.Image:
    photos = sorted((SHARED / "photos").glob("*.jpg"))
    best = max(photos, key=lambda p: Image.open(p).size[0] * Image.open(p).size[1])
    return Image.open(best).convert("RGB").resize(SIZE, Image.LANCZOS)


def noisy_lowlight() -> Image.Image:
    low = np.asarray(Image.open(SHARED / "lowlight-dev" / "low" / "00.png").convert("RGB"), np.float32)
    high = np.asarray(Image.open(SHARED / "lowlight-dev" / "high" / "00.png").convert("RGB"), np.float32)
    bright = np.clip(low * (high.mean() / max(low.mean(), 1e-3)), 0, 255).astype(np.uint8)
    h, w = bright.shape[:2]
    reps = (-(-SIZE[1] // h), -(-SIZE[0] // w), 1)
    return Image.fromarray(np.ascontiguousarray(np.tile(bright, reps)[:SIZE[1], :SIZE[0]]))


def timed(image: Image.Image, repeat: int, **save) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(repeat):
        buf = io.BytesIO()
        start = time.perf_counter()
        image.save(buf, **save)
        best = min(best, time.perf_counter() - start)
        size = buf.tell()
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="0,1,2,3,4,6")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    report = Report(__file__, args)
    for name, make in (("upscaled photo", upscaled_photo), ("noisy low-light", noisy_lowlight)):
        image = make()
        print(f"{name}, {SIZE[0]}x{SIZE[1]} 8-bit RGB:")
        for level in (int(x) for x in args.levels.split(",")):
            seconds, size = timed(image, args.repeat, format="PNG", compress_level=level)
            print(f"  PNG level {level}: {seconds:6.2f} s  {size / 1e6:7.1f} MB", flush=True)
            report.add("encodings", {"image": name, "format": f"PNG level {level}", "seconds": round(seconds, 3),
                                     "mb": round(size / 1e6, 2)})
        seconds, size = timed(image, args.repeat, format="JPEG", quality=95)
        print(f"  JPEG q95:    {seconds:6.2f} s  {size / 1e6:7.1f} MB", flush=True)
        report.add("encodings", {"image": name, "format": "JPEG q95", "seconds": round(seconds, 3),
                                 "mb": round(size / 1e6, 2)})
    report.emit()


if __name__ == "__main__":
    main()
