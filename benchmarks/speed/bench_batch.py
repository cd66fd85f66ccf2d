"""Batch export throughput: a folder of 12 MP JPEGs through ``clode.io.batch`` (the fast engine).

    .venv/bin/python benchmarks/speed/bench_batch.py [--images 6] [--runs 3] [--mp 12] [--denoise 1.0]
        [--threads 2] [--device cpu] [--model PATH]

The photos are real ones from the shared dataset, darkened (as a low-light shot) and upscaled to
12 MP with a little grain, so the JPEGs have a camera-like size; they are written to a temporary
folder. Each run enhances the whole folder into a fresh output folder (JPEG, quality 92, metadata
kept) with the denoiser on, exactly as ``clode batch`` does. Printed: images per minute (median of
the runs) by the wall clock and by CPU time (what the runs would take on the same cores unshared),
seconds per image, and the split of one image's time between decode, enhance and encode, with the
machine and its load average (the machine may be shared), and at the end one JSON line with the same.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report, describe, load_average  # noqa: E402

PHOTOS = DATASETS / "photos"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mp", type=float, default=12.0)
    ap.add_argument("--denoise", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", default=None)
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

# On a shared machine, OpenMP's default spin-waiting makes two torch threads burn ~5x the CPU
# time of one (each barrier spins while the other thread is descheduled); passive waiting
# keeps 2 threads at the CPU cost of 1. Must be set before torch loads OpenMP (import clode does it too).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.finish import Finish  # noqa: E402

from clode.io import batch  # noqa: E402
from clode.io.export import ExportOptions, save_image  # noqa: E402
from clode.io.imageio import find_images, load_image  # noqa: E402


def make_folder(folder: Path, count: int, megapixels: float) -> list[Path]:
    sources = find_images(PHOTOS)[:count]
    if len(sources) < count:
        raise SystemExit(f"need {count} photos in {PHOTOS}, found {len(sources)}")
    w = int(round((megapixels * 1e6 * 3 / 2) ** 0.5))
    h = int(round(w * 2 / 3))
    rng = np.random.default_rng(0)
    made = []
    for i, src in enumerate(sources):
        with Image.open(src) as im:
            big = im.convert("RGB").resize((w, h), Image.BICUBIC)
        a = np.asarray(big, np.float32) / 255.0
        a = a ** 2.2 * 0.25                                   # a dark, low-light version
        a += rng.normal(0, 0.01, a.shape).astype(np.float32)  # sensor grain: camera-like file sizes
        path = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=92)
        made.append(path)
    return made


def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    torch.set_num_threads(args.threads)

    enhancer = Enhancer(load_model(args.model), device=args.device)
    print(f"machine: {describe(enhancer.device)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="clode-bench-batch-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        t0 = time.perf_counter()
        photos = make_folder(tmp / "in", args.images, args.mp)
        with Image.open(photos[0]) as im:
            size = im.size
        mb = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
        print(f"folder: {len(photos)} JPEGs of {size[0]} x {size[1]} ({size[0] * size[1] / 1e6:.1f} MP, "
              f"{mb:.1f} MB each), made in {time.perf_counter() - t0:.0f} s", flush=True)

        # One image by stage (after a warm-up), to see where the time goes.
        enhancer.enhance(load_image(photos[0]).pixels[:256, :256], 3.0, Finish(denoise=args.denoise))
        c = time.process_time()
        t = time.perf_counter()
        photo = load_image(photos[0])
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        out = enhancer.enhance(photo.pixels, None, Finish(denoise=args.denoise), mode="fast")
        t_enh = time.perf_counter() - t
        t = time.perf_counter()
        save_image(tmp / "stage.jpg", out, source=photo, options=ExportOptions(format="jpeg"))
        t_save = time.perf_counter() - t
        report["one_image_s"] = {"decode": round(t_load, 3), "enhance": round(t_enh, 3), "encode": round(t_save, 3)}
        print(f"one image: decode {t_load:.2f} s, enhance (fast, denoise {args.denoise:g}) {t_enh:.2f} s, "
              f"encode JPEG {t_save:.2f} s (wall); {time.process_time() - c:.1f} s of CPU time", flush=True)
        del photo, out

        per_minute, cpu_per_minute = [], []
        options = batch.BatchOptions(denoise=args.denoise, export=ExportOptions(format="jpeg", quality=92))
        for r in range(args.runs):
            plan = batch.plan(tmp / "in", tmp / f"out{r}", options)
            t, c = time.perf_counter(), time.process_time()
            result = batch.run(plan, enhancer)
            seconds, cpu = time.perf_counter() - t, time.process_time() - c
            if not result.ok or result.done != len(photos):
                raise SystemExit(f"run {r + 1}: {result.headline()}")
            per_minute.append(len(photos) / seconds * 60)
            # CPU time says what the code costs when the machine is shared: the wall time of an
            # unshared machine is about CPU time / threads (less the threads' idle waits).
            cpu_per_minute.append(len(photos) / (cpu / args.threads) * 60)
            print(f"run {r + 1}: {len(photos)} images in {seconds:.1f} s = {per_minute[-1]:.1f} images/min "
                  f"({seconds / len(photos):.2f} s each); CPU time {cpu / len(photos):.2f} s per image, "
                  f"i.e. {cpu_per_minute[-1]:.1f} images/min if the {args.threads} cores were ours; "
                  f"load average {load_average()}", flush=True)
            report.add("runs", {"seconds": round(seconds, 2), "images_per_min": round(per_minute[-1], 2),
                                "cpu_s_per_image": round(cpu / len(photos), 2),
                                "images_per_min_by_cpu": round(cpu_per_minute[-1], 2)})
    report["images_per_min"] = round(statistics.median(per_minute), 2)
    report["images_per_min_by_cpu"] = round(statistics.median(cpu_per_minute), 2)
    print(f"median: {statistics.median(per_minute):.1f} images per minute (wall clock; "
          f"{statistics.median(cpu_per_minute):.1f} by CPU time) "
          f"({args.mp:g} MP JPEG -> JPEG, fast engine, denoise {args.denoise:g}, {args.threads} threads)")
    report.emit(enhancer.device)


if __name__ == "__main__":
    main(ARGS)
