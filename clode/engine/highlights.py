"""Highlight protection: a shorter exposure time for lights, lit windows and bright sky.

Each pixel's ODE only needs Lambda at its own end time, so the end time may vary over the
picture at no cost: T(x) = T * (1 - protect * w(x)) for T > 0, where w is 0 in the shadows and
mid-tones and 1 on what is already near white in the photo (a smoothstep of the input's largest
channel, sRGB, between ``LOW`` and ``HIGH``). At 100 % the highlights stay as photographed while
the shadows get the full T; darkening (T <= 0) is left alone.

The map is computed on the proxy the fast engine solves on (the area-averaged input at
``clode.engine.session.PROXY_SIDE``) and reaches the output by the same bilinear upsampling as Lambda,
in both the fast and the exact path, so the two agree and the map has no edge sharper than the
proxy's pixels. T(x) only ever falls as ``protect`` rises, and never below 0, so each pixel's
result darkens monotonically with the control (for a model whose curves brighten).
"""

from __future__ import annotations

import torch

#: The input's largest channel (sRGB) from which a pixel starts to be protected, and where it
#: is fully protected.
LOW, HIGH = 0.45, 0.85


def weight(proxy: torch.Tensor) -> torch.Tensor:
    """How much of a highlight each pixel of ``proxy`` ([1, 3, h, w], sRGB) is, [h, w] in [0, 1]."""
    u = ((proxy[0].amax(0) - LOW) / (HIGH - LOW)).clamp(0, 1)
    return u * u * (3 - 2 * u)


def end_times(proxy: torch.Tensor, T: float, protect: float) -> torch.Tensor:
    """Per-pixel end time on the proxy, [h, w] (float64)."""
    if T <= 0 or protect <= 0:
        return torch.full(proxy.shape[-2:], float(T), dtype=torch.float64, device=proxy.device)
    return float(T) * (1 - float(protect) * weight(proxy).double())


def at_times(times: torch.Tensor, field: torch.Tensor, t_map: torch.Tensor) -> torch.Tensor:
    """``field`` ([K, h, w, C], recorded at the increasing ``times``), linearly interpolated in t
    to each pixel's own time ``t_map`` ([h, w]): [h, w, C]."""
    times = times.to(t_map.device, torch.float64)
    if len(times) == 1:
        return field[0]
    k = torch.searchsorted(times, t_map.contiguous()).clamp(1, len(times) - 1)
    t0, t1 = times[k - 1], times[k]
    a = ((t_map - t0) / (t1 - t0)).clamp(0, 1).to(field.dtype)[None, ..., None]
    lo = torch.gather(field, 0, (k - 1)[None, ..., None].expand(1, *k.shape, field.shape[-1]))
    hi = torch.gather(field, 0, k[None, ..., None].expand(1, *k.shape, field.shape[-1]))
    return torch.lerp(lo, hi, a)[0]
