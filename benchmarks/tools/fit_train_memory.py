"""Measure a training step's peak memory and time per recipe, to fit ``clode.training.recipes``.

Each setting runs in a fresh process: ``train()`` from the shipped model on the given photos for
two steps; the child reports its peak RSS (``VmHWM``) when the photos are loaded and after the
steps, and the second step's time. The recipe module's memory model is

    peak = base + bytes_per_unit * batch * crop^2 * units(solver, backward)

with units = the network evaluations kept for the backward pass (fixed-step: evaluations per
solve; adjoint: a constant few), so a line fitted to these points gives ``bytes_per_unit``.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/tools/fit_train_memory.py --data DIR

One JSON line per setting, and at the end all of them in one JSON line with the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import Report, cpu_name  # noqa: E402


def vm_hwm() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(args) -> None:
    from clode.training.train import TrainConfig, train
    from clode.engine.weights import DEFAULT_MODEL

    seen = {"t": []}

    def progress(event):
        if event["event"] == "data":
            seen["base"] = vm_hwm()
        elif event["event"] == "step":
            seen["t"].append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(TrainConfig(data=[args.data], out=str(Path(tmp) / "m.safetensors"), steps=args.steps, crop=args.crop,
                          batch=args.batch, solver=args.solver, adjoint=args.adjoint, init=str(DEFAULT_MODEL),
                          device="cpu", checkpoint_every=10_000), progress=progress)
    t = [t0] + seen["t"]
    print(json.dumps({"base": seen["base"], "peak": vm_hwm(), "first_step_s": t[1] - t0,
                      "step_s": min(b - a for a, b in zip(t[1:], t[2:])) if len(t) > 2 else t[1] - t0}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a folder of training photos")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--crop", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--solver", help=argparse.SUPPRESS)
    ap.add_argument("--adjoint", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--settings", default="rk4:0.5,0,32,1;rk4:0.5,0,64,1;rk4:0.5,0,64,2;rk4:0.5,1,64,2;"
                                             "rk4:0.5,1,96,2;rk4:1.0,0,64,2",
                    help="solver,adjoint (0/1),crop,batch; separated by ;")
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    print(f"# {cpu_name()}, load {Path('/proc/loadavg').read_text().split()[:3]}")
    report = Report(__file__, args)
    for item in args.settings.split(";"):
        solver, adjoint, crop, batch = item.split(",")
        cmd = [sys.executable, __file__, "--child", "--data", args.data, "--crop", crop, "--batch", batch,
               "--solver", solver, "--steps", str(args.steps)] + (["--adjoint"] if adjoint == "1" else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        row = {"solver": solver, "adjoint": adjoint == "1", "crop": int(crop), "batch": int(batch),
               "base_mb": round(r["base"] / 2**20), "peak_mb": round(r["peak"] / 2**20),
               "first_step_s": round(r["first_step_s"], 2), "step_s": round(r["step_s"], 2)}
        print(json.dumps(row), flush=True)
        report.add("settings", row)
    report.emit("cpu")


if __name__ == "__main__":
    main()
