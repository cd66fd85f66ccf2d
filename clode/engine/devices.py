"""Which compute devices are usable, by name, and how "auto" resolves."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from clode.base.errors import ClodeError


@dataclass(frozen=True)
class Device:
    key: str     # what torch understands: "cpu", "cuda:0", "mps"
    label: str   # what a person reads: "NVIDIA H100 80GB (cuda:0)"

    def __str__(self) -> str:
        return self.label


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def devices() -> list[Device]:
    """Usable devices, best first: CUDA GPUs, Apple MPS, then the CPU."""
    found = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append(Device(f"cuda:{i}", f"{torch.cuda.get_device_name(i)} (cuda:{i})"))
    if _mps_available():
        found.append(Device("mps", "Apple GPU (mps)"))
    threads = torch.get_num_threads()
    found.append(Device("cpu", f"CPU ({threads} thread{'' if threads == 1 else 's'})"))
    return found


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:N" or "mps" into a usable torch.device."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device(devices()[0].key)
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ClodeError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ClodeError(f"device '{name}': no CUDA GPU is available")
        if (device.index or 0) >= torch.cuda.device_count():
            raise ClodeError(f"device '{name}': only {torch.cuda.device_count()} CUDA GPU(s) present")
    elif device.type == "mps" and not _mps_available():
        raise ClodeError(f"device '{name}': Apple MPS is not available")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ClodeError(f"unsupported device '{name}'")
    return device
