"""The CPU denoiser: precision, memory layout, threads and tile size, against float32.

One strip of a 24 MP photo as ``clode.engine.session`` hands it to the denoiser (6000 x 424 pixels: a
2.5 MP strip and its halo), made from a shared photo darkened with sensor grain and brightened by
the shipped model at T = 3 without the denoiser, goes through ``clode.engine.tiles.denoise_tiled`` in
each variant of ``clode.engine.denoise_speed``. Printed per variant: the median seconds of ``--repeats``
runs, the implied seconds for a 24 MP photo, and the difference of its output from the float32
reference in 8-bit levels (max and mean over all samples). Run once per OpenMP wait policy
(it must be set before torch starts):

    OMP_WAIT_POLICY=PASSIVE python benchmarks/speed/bench_denoise.py [--threads 2] [--repeats 3]
    OMP_WAIT_POLICY=ACTIVE  python benchmarks/speed/bench_denoise.py [--threads 2] [--repeats 3]

The last line is the figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report, cpu_name  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tiles", default="128,512,1024", help="tile sides to try besides 256")
    ap.add_argument("--only", default="", help="run the variants whose name holds this text")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.engine.denoise_speed import PRECISIONS, as_net, fast_denoiser  # noqa: E402
from clode.engine.tiles import denoise_tiled  # noqa: E402

PHOTOS = DATASETS / "photos"
WIDTH, ROWS = 6000, 424
FULL = 6000 * 4000


def strip(enhancer: Enhancer) -> torch.Tensor:
    src = sorted(PHOTOS.glob("*.jpg"))[0]
    with Image.open(src) as im:
        big = np.asarray(im.convert("RGB").resize((WIDTH, 4000), Image.BICUBIC), np.float32)[1800:1800 + ROWS] / 255
    dark = big ** 2.2 * 0.25 + np.random.default_rng(0).normal(0, 0.01, big.shape).astype(np.float32)
    bright = enhancer.enhance(np.clip(dark, 0, 1).astype(np.float32), 3.0, Finish(denoise=0.0))
    return torch.from_numpy(bright).permute(2, 0, 1)[None].contiguous()


def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    torch.set_num_threads(args.threads)
    net = load_model(None).eval()
    block = strip(Enhancer(net, device="cpu"))
    print(f"# {cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; strip {WIDTH} x {ROWS}, median of {args.repeats}",
          flush=True)
    reference = None
    variants = [(p, layout, 256) for p in PRECISIONS for layout in ("nchw", "channels_last")]
    variants += [(p, layout, t) for p in PRECISIONS for layout in ("nchw", "channels_last")
                 for t in (int(x) for x in args.tiles.split(",")) if t != 256]
    for precision, layout, tile in variants:
        name = f"{precision:9s} {layout:13s} tile {tile:4d}"
        if args.only not in name:
            continue
        denoiser = as_net(fast_denoiser(net.output_denoiser, precision=precision, channels_last=layout == "channels_last"))
        x = block.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else block
        denoise_tiled(denoiser, x[..., :64, :512], tile=tile)            # warm-up (first-call set-up)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = denoise_tiled(denoiser, x, tile=tile)
            times.append(time.perf_counter() - t)
        levels = (out.contiguous() * 255).double()
        if reference is None and precision == "float32":
            reference = levels
        diff = (levels - reference).abs() if reference is not None else None
        seconds = statistics.median(times)
        print(f"{name}  {seconds:6.2f} s  ({seconds * FULL / (WIDTH * ROWS):5.1f} s per 24 MP)"
              + (f"  vs float32: max {diff.max():.2f}, mean {diff.mean():.3f} levels" if diff is not None else ""),
              flush=True)
        report.add("variants", {"precision": precision, "layout": layout, "tile": tile, "seconds": round(seconds, 3),
                                "seconds_per_24mp": round(seconds * FULL / (WIDTH * ROWS), 2),
                                "max_levels_from_float32": None if diff is None else round(float(diff.max()), 3),
                                "mean_levels_from_float32": None if diff is None else round(float(diff.mean()), 4)})
    report.emit("cpu")


if __name__ == "__main__":
    main(ARGS)
