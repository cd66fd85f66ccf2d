"""What machine a benchmark ran on (printed beside its numbers)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


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


def describe(device) -> str:
    """The machine, torch's threads and wait policy, the device and the load, in one line."""
    import torch
    return (f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} "
            f"threads (OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}), device {device}, "
            f"load average {load_average()}")
