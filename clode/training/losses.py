"""CLODE's unsupervised losses (Zero-DCE's terms plus two integrated along the trajectory).

All functions take N x 3 x H x W tensors in [0, 1]. The two trajectory terms
return one value per sample because they ride along the ODE state as a channel
each (see ``clode.engine.ode.Dynamics``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    spatial: float = 1.0
    exposure: float = 10.0
    colour: float = 0.0         # gray world: pulls every scene to gray (the published recipe used 20)
    chroma: float = 20.0        # the output keeps the input's chromaticity (blurred, so noise does not count)
    smoothness: float = 200.0   # integral of the total variation of A
    noise: float = 0.0          # integral of the zero-shot Noise2Noise loss (the published recipe used 1)
    denoise: float = 50.0       # supervised denoising on simulated sensor noise (needs clean targets)
    restore: float = 0.0        # supervised: a darkened sample's result at T against the photo before darkening

    def as_dict(self) -> dict:
        return asdict(self)


_NEIGHBOURS = torch.tensor([
    [[0, 0, 0], [-1, 1, 0], [0, 0, 0]],   # left
    [[0, 0, 0], [0, 1, -1], [0, 0, 0]],   # right
    [[0, -1, 0], [0, 1, 0], [0, 0, 0]],   # up
    [[0, 0, 0], [0, 1, 0], [0, -1, 0]],   # down
], dtype=torch.float32)[:, None]


def spatial_consistency(inp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Neighbour gradients of the 4x4-pooled gray image must survive the enhancement."""
    kernels = _NEIGHBOURS.to(inp)
    grads = [F.conv2d(F.avg_pool2d(x.mean(1, keepdim=True), 4), kernels, padding=1) for x in (inp, out)]
    return ((grads[0] - grads[1]) ** 2).sum(1).mean()


def exposure_control(out: torch.Tensor, target: float, patch: int = 16) -> torch.Tensor:
    """Mean over 16x16 patches of (patch mean gray - E)^2."""
    return ((F.avg_pool2d(out.mean(1, keepdim=True), patch) - target) ** 2).mean()


def colour_constancy(out: torch.Tensor) -> torch.Tensor:
    """Gray-world: the channel means should agree."""
    r, g, b = out.mean((2, 3)).unbind(1)
    return torch.sqrt((r - g) ** 4 + (r - b) ** 4 + (g - b) ** 4 + 1e-12).mean()


def chroma_consistency(inp: torch.Tensor, out: torch.Tensor, pool: int = 4) -> torch.Tensor:
    """1 - cosine between the RGB vectors of input and output, on 4 x 4 means (noise averages out).

    The cosine ignores brightness, so brightening costs nothing while any change of hue or
    saturation does: the chromaticity counterpart of the ratio loss in the official losses.py.
    Pixels count by their output brightness, so black ones (whose colour is noise) count little.
    """
    a, b = F.avg_pool2d(inp, pool), F.avg_pool2d(out, pool)
    cos = F.cosine_similarity(a, b, dim=1, eps=1e-4)
    weight = b.amax(1)
    return ((1 - cos) * weight).sum() / weight.sum().clamp_min(1e-6)


def denoising(denoiser, noisy: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Supervised: mean squared error of ``noisy - D(noisy)`` against the clean image."""
    return ((noisy - denoiser(noisy) - clean) ** 2).mean()


def total_variation(curve: torch.Tensor) -> torch.Tensor:
    """Per-sample total variation (illumination smoothness) of the curve map A."""
    n, _, h, w = curve.shape
    dh = ((curve[:, :, 1:] - curve[:, :, :-1]) ** 2).sum((1, 2, 3)) / max((h - 1) * w, 1)
    dw = ((curve[..., 1:] - curve[..., :-1]) ** 2).sum((1, 2, 3)) / max(h * (w - 1), 1)
    return 2 * (dh + dw)


def pair_downsample(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c = x.shape[1]
    k1 = x.new_tensor([[0, 0.5], [0.5, 0]]).expand(c, 1, 2, 2)
    k2 = x.new_tensor([[0.5, 0], [0, 0.5]]).expand(c, 1, 2, 2)
    return F.conv2d(x, k1, stride=2, groups=c), F.conv2d(x, k2, stride=2, groups=c)


def noise2noise(denoiser, x: torch.Tensor) -> torch.Tensor:
    """Per-sample zero-shot Noise2Noise loss of the denoiser on image x (residual + consistency)."""
    def mse(a, b):
        return ((a - b) ** 2).mean((1, 2, 3))
    n1, n2 = pair_downsample(x)
    p1, p2 = n1 - denoiser(n1), n2 - denoiser(n2)
    d1, d2 = pair_downsample(x - denoiser(x))
    return 0.5 * (mse(n1, p2) + mse(n2, p1)) + 0.5 * (mse(p1, d1) + mse(p2, d2))


TRAJECTORY_TERMS = ("smoothness", "noise")


def trajectory_terms(net, weights: LossWeights = LossWeights()):
    """The loss integrands for ``clode.engine.ode.integrate(..., loss_terms=...)``, in
    ``TRAJECTORY_TERMS`` order, leaving out those whose weight is 0 (each costs solver work)."""
    integrands = {"smoothness": lambda curve, image: total_variation(curve),
                  "noise": lambda curve, image: noise2noise(net.output_denoiser, image)}
    return [integrands[name] for name in TRAJECTORY_TERMS if getattr(weights, name)]


def clode_loss(inp: torch.Tensor, final_state: torch.Tensor, weights: LossWeights, E: float,
               first_term: int = 3) -> dict:
    """All loss terms from the input and the final state [I(T), ..., the integrals of the
    nonzero ``TRAJECTORY_TERMS`` from channel ``first_term`` on]. Terms of weight 0 read 0."""
    out = final_state[:, :3]
    zero = out.new_zeros(())
    terms = {
        "spatial": spatial_consistency(inp, out),
        "exposure": exposure_control(out, E),
        "colour": colour_constancy(out) if weights.colour else zero,
        "chroma": chroma_consistency(inp, out) if weights.chroma else zero,
    }
    channel = first_term
    for name in TRAJECTORY_TERMS:
        if getattr(weights, name):
            # Both integrands are >= 0, so a negative integral is solver error (dopri5 has a negative
            # weight); clamped, it earns nothing, so training cannot learn to produce it. The solver's
            # loss-aware error norm keeps it small (a 91-step CPU run still saw -3e-6 once).
            terms[name] = final_state[:, channel].clamp_min(0).mean()
            channel += 1
        else:
            terms[name] = zero
    w = weights.as_dict()
    terms["total"] = sum(w[k] * v for k, v in terms.items() if k in w)
    return terms
