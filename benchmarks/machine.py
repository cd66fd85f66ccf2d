"""What machine a benchmark ran on, and the JSON line every benchmark prints with its figures.

The scripts live in ``benchmarks/speed`` (how fast), ``benchmarks/quality`` (how good) and
``benchmarks/tools`` (what makes the docs' pictures and the training memory model). Each starts with

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
    from machine import ROOT, Report

Importing this module also puts the checkout first on ``sys.path``, so ``import clode`` finds this
checkout's code, and it loads no torch (a script's ``--help`` answers before torch loads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent                      # the checkout
SHARED = ROOT.parent / "shared"               # datasets and the reference fixture, beside the checkout
DATASETS = SHARED / "datasets"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def describe(device: Any = None) -> str:
    """The machine, torch's threads and wait policy (when torch is loaded), the device and the load, in one line."""
    parts = [f"{cpu_name()}, {os.cpu_count()} CPUs", f"Python {platform.python_version()}"]
    if "torch" in sys.modules:
        import torch
        parts.append(f"torch {torch.__version__} with {torch.get_num_threads()} threads "
                     f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')})")
        if device is not None and str(device).startswith("cuda") and torch.cuda.is_available():
            parts.append(f"GPU {torch.cuda.get_device_name(torch.device(device))}")
    if device is not None:
        parts.append(f"device {device}")
    parts.append(f"load average {load_average()}")
    return ", ".join(parts)


def _plain(value: Any) -> Any:
    """JSON for what json does not know: paths, numpy numbers and arrays, sets."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "tolist"):              # numpy scalars and arrays, torch tensors
        return value.tolist()
    return str(value)


class Report:
    """A run's figures, printed at the end as one JSON line (after the script's readable lines):
    the script, the date (UTC), the machine, the arguments and the results."""

    def __init__(self, script: str, args: Optional[argparse.Namespace] = None):
        path = Path(script).resolve()
        self.script = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        self.args = {k: v for k, v in vars(args).items()} if args is not None else {}
        self.date = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.results: dict[str, Any] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self.results[key] = value

    def add(self, key: str, row: Any) -> None:
        """Append one row to the list under ``key`` (a table's rows)."""
        self.results.setdefault(key, []).append(row)

    def emit(self, device: Any = None) -> dict:
        record = {"script": self.script, "date": self.date, "machine": describe(device),
                  "args": self.args, "results": self.results}
        print(json.dumps(record, default=_plain), flush=True)
        return record


def print_results(script: str, args: Optional[argparse.Namespace], key: str, results: Any,
                  device: Any = None) -> dict:
    """The common ending of a script: ``results`` readable (indented JSON), then its ``Report`` line."""
    print(json.dumps(results, indent=1, default=_plain))
    report = Report(script, args)
    report[key] = results
    return report.emit(device)
