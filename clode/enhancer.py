"""The inference API: ``Enhancer(model).enhance(img, T)`` on numpy images.

Images are H x W x 3 float32 arrays in [0, 1]. This module holds the exact
path (the network integrated on the whole image, as the official code does).
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch

from .devices import resolve_device
from .errors import ClodeError
from .network import CLODENet
from .ode import EXACT, Solver, integrate
from .progress import CancelToken, ProgressCallback


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    if img.ndim != 3 or img.shape[2] != 3:
        raise ClodeError(f"expected an H x W x 3 image, got shape {img.shape}")
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None].to(device)


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).float().cpu().numpy().astype(np.float32, copy=False)


class Enhancer:
    """Runs a CLODE model on images, on one device."""

    def __init__(self, model: CLODENet, device: Union[str, torch.device] = "auto", solver: Solver = EXACT):
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.solver = solver

    @property
    def default_T(self) -> float:
        info = getattr(self.model, "info", None)
        return info.default_T if info is not None else 3.0

    @torch.no_grad()
    def trajectory(self, img: np.ndarray, Ts: Sequence[float], *, denoise: float = 1.0,
                   progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> list[np.ndarray]:
        """Results at several end times from one solve per direction (T may be negative)."""
        x = to_tensor(img, self.device)
        states = integrate(self.model, x, Ts, self.solver, progress=progress, cancel=cancel)
        return [to_numpy(self.model.finish(s, denoise)) for s in states]

    def enhance(self, img: np.ndarray, T: Optional[float] = None, *, denoise: float = 1.0,
                progress: Optional[ProgressCallback] = None,
                cancel: Optional[CancelToken] = None) -> np.ndarray:
        """The result at end time ``T`` (the model's default when None)."""
        T = self.default_T if T is None else float(T)
        return self.trajectory(img, [T], denoise=denoise, progress=progress, cancel=cancel)[0]
