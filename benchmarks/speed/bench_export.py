"""Export at the speed of the hardware (issue 16): a 24 MP JPEG through ``clode enhance`` and a folder
of them through ``clode batch``, as a user runs them.

    .venv/bin/python benchmarks/speed/bench_export.py [--photos 12] [--repeats 3] [--mp 24]
        [--device cpu] [--precision auto] [--only command,inprocess,stages,batch]

The photos are real ones from the shared dataset, darkened (a low-light shot), upscaled to
``--mp`` megapixels with sensor grain and saved as JPEG (quality 92), in a temporary folder.
Printed, each the median of ``--repeats`` runs:

- command: ``python -m clode enhance IMG.jpg -o OUT`` in a fresh process: the whole command with
  its defaults (JPEG out at quality 95, denoiser on, colour noise 0.5), wall time, CPU time and
  peak RSS (the child's own, from wait4; on a shared machine CPU time / cores is what the wall
  time would be if the cores were ours);
- inprocess: the same command through ``clode.commands.cli.main`` inside this process (no interpreter
  start, no imports; the model is still loaded by the command, as it would be);
- stages: where the time of one photo goes: decode, prepare (the proxy solve), noise measurement,
  render without the denoiser (the closed form), the denoiser (render with it less render
  without), the colour-noise reduction (likewise), encode + write (``save_image``), and the write
  alone;
- batch: ``python -m clode batch IN -o OUT`` over ``--photos`` photos in a fresh process: photos
  per minute by the wall clock, CPU time per photo and peak RSS, and on a CUDA device how busy the
  GPU was (nvidia-smi's utilization sampled every 200 ms, averaged over the run).

The machine and its load average are printed with the numbers: on a shared machine quote the
load, and compare only figures measured in one run. The last line is all of it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import ROOT, Report, describe, load_average  # noqa: E402

PARTS = ("command", "inprocess", "stages", "batch")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=12, help="photos in the batch (default 12)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each measurement (default 3)")
    ap.add_argument("--mp", type=float, default=24.0, help="megapixels per photo (default 24)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts: {', '.join(PARTS)}")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import clode  # noqa: E402,F401  (sets the thread policy before torch loads: clode/engine/threads.py)
import torch  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from bench_batch import make_folder  # noqa: E402  (benchmarks/speed/bench_batch.py)


def run_child(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in GB, CPU seconds) of a fresh process running ``argv``."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.strip()}")
    return seconds, usage.ru_maxrss / 2 ** 20, usage.ru_utime + usage.ru_stime   # ru_maxrss: KiB on Linux


def median_line(name: str, values: list[float], unit: str, fmt: str = "{:.2f}") -> str:
    shown = ", ".join(fmt.format(v) for v in values)
    return f"{name}: median {fmt.format(statistics.median(values))} {unit} (runs: {shown})"


def engine_args(args) -> list[str]:
    return ["--device", args.device, "--precision", args.precision] + (["--model", args.model] if args.model else [])


def stages(photo_path: Path, out: Path, args) -> dict[str, float]:
    from clode import Enhancer, load_model
    from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE
    from clode.io.export import HIGH_QUALITY, ExportOptions, save_image
    from clode.io.imageio import load_image

    times: dict[str, float] = {}

    def timed(name, fn):
        t = time.perf_counter()
        value = fn()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times[name] = time.perf_counter() - t
        return value

    enhancer = timed("load model", lambda: Enhancer(load_model(args.model), device=args.device,
                                                    precision=args.precision))
    photo = timed("decode", lambda: load_image(photo_path))
    T = enhancer.default_T
    session = timed("prepare", lambda: enhancer.prepare(photo.pixels, t_range=(0.0, T)))
    strength = timed("noise measurement", lambda: session.noise_strength(T))
    timed("render, closed form", lambda: session.render(T, Finish(denoise=0.0), dtype=np.uint8))
    timed("denoiser", lambda: session.render(T, Finish(denoise=DEFAULT_DENOISE), dtype=np.uint8))
    pixels = timed("colour noise", lambda: session.render(
        T, Finish(denoise=DEFAULT_DENOISE, colour_noise=DEFAULT_COLOUR_NOISE), dtype=np.uint8))
    # each render repeats the one before it and adds its stage
    times["colour noise"] -= times["denoiser"]
    times["denoiser"] -= times["render, closed form"]
    target = out / f"stage-{time.monotonic_ns()}.jpg"
    timed("encode + write", lambda: save_image(target, pixels, source=photo,
                                               options=ExportOptions(format="jpeg", quality=HIGH_QUALITY)))
    data = target.read_bytes()
    timed("write alone", lambda: (out / f"copy-{time.monotonic_ns()}.jpg").write_bytes(data))
    times["noise strength (not a time)"] = strength
    return times


def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    python = [sys.executable, "-m", "clode"]
    print(f"# {describe(args.device)}, precision {args.precision}", flush=True)
    with tempfile.TemporaryDirectory(prefix="clode-bench-export-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        t = time.perf_counter()
        photos = make_folder(tmp / "in", max(args.photos if "batch" in parts else 1, 1), args.mp)
        with Image.open(photos[0]) as im:
            w, h = im.size
        mb = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
        print(f"# {len(photos)} JPEGs of {w} x {h} ({w * h / 1e6:.1f} MP, {mb:.1f} MB each), "
              f"made in {time.perf_counter() - t:.0f} s", flush=True)

        if "command" in parts:
            runs = [run_child(python + ["enhance", str(photos[0]), "-o", str(tmp / f"cmd{r}")] + engine_args(args))
                    for r in range(args.repeats)]
            print(median_line("clode enhance, whole command (fresh process)", [r[0] for r in runs], "s"))
            print(median_line("  its CPU time", [r[2] for r in runs], "s"))
            print(median_line("  its peak RSS", [r[1] for r in runs], "GB"), f"(load average {load_average()})",
                  flush=True)
            report["command"] = figures(runs)

        if "inprocess" in parts:
            from clode.commands.cli import main as cli_main
            seconds = []
            for r in range(args.repeats + 1):                 # the first run warms up (imports, allocator)
                t = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    code = cli_main(["enhance", str(photos[0]), "-o", str(tmp / f"inproc{r}")] + engine_args(args))
                if code != 0:
                    raise SystemExit(f"in-process clode enhance failed ({code})")
                if r:
                    seconds.append(time.perf_counter() - t)
            print(median_line("clode enhance, in-process (after a warm-up)", seconds, "s"),
                  f"(load average {load_average()})", flush=True)
            report["inprocess_s"] = {"median": round(statistics.median(seconds), 3), "runs": seconds}

        if "stages" in parts:
            (tmp / "stages").mkdir()
            stages(photos[0], tmp / "stages", args)           # warm-up
            runs = [stages(photos[0], tmp / "stages", args) for _ in range(args.repeats)]
            print(f"stages of one photo (median of {args.repeats}, s):")
            for name in runs[0]:
                print(f"  {name:28s} {statistics.median(r[name] for r in runs):7.2f}")
            report["stages_s"] = {name: round(statistics.median(r[name] for r in runs), 3) for name in runs[0]}
            print(f"  (load average {load_average()})", flush=True)

        if "batch" in parts:
            runs, busy = [], []
            for r in range(args.repeats):
                with gpu_sampler(args.device) as samples:
                    runs.append(run_child(python + ["batch", str(tmp / "in"), "-o", str(tmp / f"batch{r}")]
                                          + engine_args(args)))
                if samples:
                    busy.append(sum(samples) / len(samples))
            print(median_line(f"clode batch, {len(photos)} photos: photos per minute",
                              [len(photos) / r[0] * 60 for r in runs], "photos/min", "{:.1f}"))
            print(median_line("  its CPU time per photo", [r[2] / len(photos) for r in runs], "s"))
            print(median_line("  its peak RSS", [r[1] for r in runs], "GB"), f"(load average {load_average()})",
                  flush=True)
            report["batch"] = {**figures(runs), "photos": len(photos),
                               "photos_per_min": round(statistics.median(len(photos) / r[0] * 60 for r in runs), 2)}
            if busy:
                print(median_line("  GPU busy (nvidia-smi utilization, mean over the run)", busy, "%", "{:.0f}"),
                      flush=True)
                report["batch"]["gpu_busy_percent"] = round(statistics.median(busy), 1)
    report.emit(args.device)


def figures(runs: list[tuple[float, float, float]]) -> dict:
    """Medians of run_child's (wall, peak RSS, CPU) runs, and the runs."""
    return {"wall_s": round(statistics.median(r[0] for r in runs), 3),
            "peak_rss_gb": round(statistics.median(r[1] for r in runs), 3),
            "cpu_s": round(statistics.median(r[2] for r in runs), 3), "runs": runs}


@contextlib.contextmanager
def gpu_sampler(device: str):
    """Samples of the GPU's utilization (percent, from nvidia-smi every 200 ms) while the block
    runs; none off CUDA or without nvidia-smi."""
    samples: list[float] = []
    if not device.startswith("cuda") or shutil.which("nvidia-smi") is None:
        yield samples
        return
    index = device.partition(":")[2] or "0"
    proc = subprocess.Popen(["nvidia-smi", "-i", index, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                             "-lms", "200"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        yield samples
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
        samples.extend(float(line) for line in out.split() if line.strip().replace(".", "", 1).isdigit())


if __name__ == "__main__":
    main(ARGS)
