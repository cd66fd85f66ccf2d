"""How the denoiser runs on the device: its precision and memory layout, for any ``nn.Module``.

``fast_denoiser(module, precision=..., channels_last=...)`` wraps the model's denoiser (whatever
its layers: nothing here knows them) so that its convolutions run in bfloat16 or in the
channels-last layout, and its output comes back as float32. float32 in the contiguous layout is
the reference path; ``benchmarks/speed/bench_denoise.py`` measures each choice on this machine and
its difference from the reference in 8-bit levels.
"""

from __future__ import annotations

import types

import torch
import torch.nn as nn

PRECISIONS = ("float32", "bfloat16")
#: What ``--precision auto`` (the default) picks: bfloat16 on a CPU that computes it natively
#: (AVX512-BF16 or AMX), in the channels-last layout; float32, the reference, everywhere else.
#: On the 2-core AVX512-BF16 machine, loaded, a 24 MP photo's denoiser took 1.8 s instead of
#: 5.4 s, and 1.15 s instead of 6.3 s, in two runs; its output differs from float32's by 0.11
#: 8-bit levels on average, 0.9 at most (benchmarks/speed/bench_denoise.py).
AUTO = "auto"


class _Denoiser(nn.Module):
    """``module`` with its input in ``layout`` and its convolutions in ``dtype`` (autocast)."""

    def __init__(self, module: nn.Module, dtype: torch.dtype, channels_last: bool):
        super().__init__()
        self.module = module
        self.dtype = dtype
        self.layout = torch.channels_last if channels_last else torch.contiguous_format

    def __getattr__(self, name: str):
        # What the wrapped denoiser tells about itself (e.g. how far it sees) stays readable.
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["module"], name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=self.layout)
        if self.dtype == torch.float32:
            return self.module(x)
        with torch.autocast(x.device.type, dtype=self.dtype):
            return self.module(x).float()


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS + (AUTO,):
        raise ValueError(f"unknown denoiser precision {precision!r} (choose {', '.join((AUTO,) + PRECISIONS)})")
    return precision


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (else torch emulates it, slower than float32)."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def denoiser_for(module: nn.Module, device: torch.device, precision: str = AUTO) -> nn.Module:
    """The denoiser ``module`` as it runs best on ``device`` (``precision`` "auto"), or in the
    precision asked for; bfloat16 runs in the channels-last layout, float32 as it is."""
    if check_precision(precision) == AUTO:
        precision = "bfloat16" if device.type == "cpu" and native_bfloat16() else "float32"
    return fast_denoiser(module, precision=precision, channels_last=precision == "bfloat16")


def fast_denoiser(module: nn.Module, *, precision: str = "float32", channels_last: bool = False) -> nn.Module:
    """``module`` (the model's denoiser, left as it is) run in ``precision`` and, if asked, the
    channels-last layout; returns float32 in the input's shape."""
    if check_precision(precision) == AUTO:
        raise ValueError("fast_denoiser needs float32 or bfloat16 (denoiser_for resolves auto)")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[precision]
    return _Denoiser(module, dtype, channels_last)


def as_net(denoiser: nn.Module):
    """An object whose ``output_denoiser`` is ``denoiser``: what ``clode.engine.tiles.denoise_tiled`` takes."""
    return types.SimpleNamespace(output_denoiser=denoiser)
