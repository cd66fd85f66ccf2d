"""Fine-tuning on a laptop (issue 19): the panel's defaults on a folder of six 1-2 MP photos.

Runs ``clode train`` exactly as the training panel starts it with its defaults (the Quick preset
for this device, from the shipped model, 15 % held out; ``--steps`` shortens it) and reports:

- time from launch to the first progress event (photos read) and to the first step shown,
- the measured step times and the trainer's running ETA,
- the trainer's peak RSS (``wait4``), beside the estimate ``clode.training.recipes`` gave before,
- with ``--dim``: a fine-tune on ten dim photos, and the hue-shift and flat-noise figures of the
  shipped and the fine-tuned model on the held-out ones (``clode.training.validation``).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/speed/bench_finetune.py --steps 3 [--dim --dim-steps 30]

The last line is the figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, ROOT, Report, cpu_name  # noqa: E402

PHOTOS = DATASETS / "photos"
SIX = ["lomiri-Dragonfly_by_Bolly", "mate_nature-FreshFlower", "palapeli-citrus-fruits", "plasma-DarkestHour",
       "mate_nature-Storm", "palapeli-panther-chameleon-female"]          # 1.1-1.4 MP each
#: the dim photos of the shared set (datasets/README.md), and three synthetic low-light ones
DIM = ["kphotoalbum-bar55", "kphotoalbum-bar55_2", "kphotoalbum-pool_2", "kphotoalbum-sunset", "plasma-DarkestHour",
       "plasma-summer_1am", "palapeli-cincinnati-bridge"]
LOW = DATASETS / "lowlight-dev" / "low"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def run_trainer(data: Path, out: Path, extra: list[str]) -> dict:
    """One ``clode train`` process: event times, the events, and its peak RSS."""
    from clode.engine.weights import DEFAULT_MODEL
    cmd = [sys.executable, "-m", "clode", "train", "--data", str(data), "--init", str(DEFAULT_MODEL),
           "--preset", "quick", "--holdout", "0.15", "--out", str(out), "--progress", "-", *extra]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    events, times = [], []
    for line in proc.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        events.append(event)
        times.append(time.monotonic() - t0)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read()
    if status != 0:
        raise SystemExit(f"trainer failed: {err[-2000:]}")
    return {"events": events, "times": times, "peak_bytes": usage.ru_maxrss * 1024, "seconds": time.monotonic() - t0}


def first(result: dict, kind: str) -> float:
    return next(t for e, t in zip(result["events"], result["times"]) if e["event"] == kind)


def panel_defaults(args, report: Report) -> None:
    import torch
    from clode.training import recipes as recipes
    r = recipes.recipe("quick", torch.device("cpu"))
    est = recipes.estimate(r.crop, r.batch, r.solver, r.adjoint, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "six"
        data.mkdir()
        for name in SIX:
            shutil.copy(PHOTOS / f"{name}.jpg", data)
        result = run_trainer(data, Path(tmp) / "m.safetensors", ["--steps", str(args.steps), "--device", "cpu"])
    steps = [e for e in result["events"] if e["event"] == "step"]
    step_times = [b["elapsed"] - a["elapsed"] for a, b in zip(steps, steps[1:])]
    print(f"panel defaults (Quick on this CPU): crop {r.crop}, batch {r.batch}, {r.solver}, adjoint {r.adjoint}, "
          f"{r.steps} steps planned; run shortened to {args.steps} steps")
    print(f"  first event (photos read): {first(result, 'data'):.1f} s after launch")
    print(f"  first step shown:          {first(result, 'step'):.1f} s after launch (target <= 20 s)")
    pace = recipes.seconds_per_step([0.0] + [s["elapsed"] for s in steps])
    print(f"  step times: {', '.join(f'{t:.1f}' for t in step_times)} s after the first; at the last pace the "
          f"planned {r.steps} steps take {recipes.duration(pace * r.steps)}")
    print(f"  peak RSS: {result['peak_bytes'] / 2**30:.2f} GB (target <= 3 GB; estimated before start "
          f"{est.peak_bytes / 2**30:.2f} GB, {est.step_seconds:.1f} s a step)")
    print(f"  whole run incl. held-out validation: {result['seconds']:.0f} s")
    report["panel_defaults"] = {
        "recipe": {"crop": r.crop, "batch": r.batch, "solver": str(r.solver), "adjoint": r.adjoint, "steps": r.steps},
        "first_event_s": round(first(result, "data"), 2), "first_step_s": round(first(result, "step"), 2),
        "step_times_s": [round(t, 2) for t in step_times], "peak_rss_gb": round(result["peak_bytes"] / 2**30, 3),
        "estimated_peak_gb": round(est.peak_bytes / 2**30, 3), "estimated_step_s": round(est.step_seconds, 2),
        "whole_run_s": round(result["seconds"], 1)}


def dim_finetune(args, report: Report) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "dim"
        data.mkdir()
        for name in DIM:
            shutil.copy(PHOTOS / f"{name}.jpg", data)
        for path in sorted(LOW.glob("*.png"))[:10 - len(DIM)]:
            shutil.copy(path, data / f"low-{path.name}")
        result = run_trainer(data, Path(tmp) / "dim.safetensors",
                             ["--steps", str(args.dim_steps), "--device", "cpu", "--holdout", "0.3"])
    held = next(e["held_out"] for e in result["events"] if e["event"] == "validation")
    before, after = held["before"], held["after"]
    print(f"ten dim photos, {args.dim_steps} Quick steps from the shipped model, "
          f"{held['photos']} held out ({result['seconds']:.0f} s):")
    for key in ("hue_shift", "flat_noise", "loss"):
        change = 100 * (after[key] - before[key]) / before[key] if before[key] else float("nan")
        print(f"  {key:10s} shipped {before[key]:.4g}  fine-tuned {after[key]:.4g}  ({change:+.1f} %)")
    report["dim_finetune"] = {"steps": args.dim_steps, "held_out_photos": held["photos"],
                              "seconds": round(result["seconds"], 1), "before": before, "after": after}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3, help="steps of the panel-defaults run (the timing needs 3; 0 skips it)")
    ap.add_argument("--dim", action="store_true", help="also fine-tune on ten dim photos and compare held-out figures")
    ap.add_argument("--dim-steps", type=int, default=30, help="steps of that fine-tune")
    args = ap.parse_args()
    report = Report(__file__, args)
    print(f"# {cpu_name()}, {os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}, "
          f"load {load()}")
    if args.steps:
        panel_defaults(args, report)
    if args.dim:
        dim_finetune(args, report)
    print(f"# load after: {load()}")
    report.emit("cpu")


if __name__ == "__main__":
    main()
