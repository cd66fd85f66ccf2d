"""Why the exact path needs more function evaluations (NFE) than the published code (issue 16, item 5).

The published inference integrates a 9-channel state, [I, the smoothness integral broadcast over 3
channels, the noise integral broadcast over 3 channels] (../shared/reference/CLODE-method.md,
"Solving"), with torchdiffeq's dopri5 at rtol = atol = 1e-5 and its default error norm: the RMS
over all 9 channels. Ours integrates the 3 image channels only. The two loss channels are smooth
scalars whose local error is far below the tolerance, so in the pooled RMS they dilute the
image's error by sqrt(3 / 9): the published step control accepts steps whose image error is up to
sqrt(3) times larger than ours does, and so takes fewer of them.

Counted here on a real dark photo (``lowlight-dev/low/00.png``, 600 x 400), T = 3, dopri5 tol 1e-5:

- published: the 9-channel state with the two loss integrands (``clode.training.losses``), default norm
  (on the official fixture this reproduces the recorded official outputs to 1e-6);
- ours before: ``clode.engine.ode.integrate`` on 3 channels with torchdiffeq's plain RMS norm;
- ours now: 3 channels, the RMS error scaled by sqrt(3 / 9) (``clode.engine.ode.published_norm``, the
  exact path's default), no loss computed;

with NFE, seconds, and the largest difference of the resulting image from the published one.

    .venv/bin/python benchmarks/speed/bench_nfe.py [--model PATH] [--size 600x400] [--T 3] [--device cpu]

The last line is the figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report, cpu_name  # noqa: E402

PHOTO = DATASETS / "lowlight-dev" / "low" / "00.png"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--size", default="600x400")
    ap.add_argument("--T", type=float, default=3.0)
    ap.add_argument("--device", default="cpu")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torchdiffeq import odeint  # noqa: E402

from clode import EXACT, load_model, resolve_device  # noqa: E402
from clode.training.losses import noise2noise, total_variation  # noqa: E402
from clode.engine.ode import Dynamics, integrate  # noqa: E402


class Published(torch.nn.Module):
    """The published right-hand side: dI/dt and the two loss integrands, each over 3 channels."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.evaluations = 0

    def forward(self, t, state):
        self.evaluations += 1
        image = state[:, :3]
        curve = self.net.curve(t, image)
        n, _, h, w = image.shape
        tv = total_variation(curve).reshape(n, 1, 1, 1).expand(n, 3, h, w)
        noise = noise2noise(self.net.denoise, image).reshape(n, 1, 1, 1).expand(n, 3, h, w)
        return torch.cat([self.net.flow(curve, image), tv, noise], 1)


@torch.no_grad()
def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    device = resolve_device(args.device)
    net = load_model(args.model).to(device).eval()
    w, h = (int(v) for v in args.size.split("x"))
    with Image.open(PHOTO) as im:
        a = np.asarray(im.convert("RGB").resize((w, h), Image.BICUBIC), np.float32) / 255
    x = torch.from_numpy(a).permute(2, 0, 1)[None].contiguous().to(device)
    grid = torch.tensor([0.0, args.T], device=device)
    print(f"# {cpu_name() if device.type == 'cpu' else torch.cuda.get_device_name(device)}, "
          f"{torch.get_num_threads()} threads, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{PHOTO.name} at {w} x {h}, T = {args.T:g}, dopri5 rtol = atol = {EXACT.rtol:g}", flush=True)

    def timed(run):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        image, nfe = run()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return image, nfe, time.perf_counter() - t

    def published():
        f = Published(net)
        y0 = torch.cat([x, x.new_zeros(1, 6, h, w)], 1)
        state = odeint(f, y0, grid, rtol=EXACT.rtol, atol=EXACT.atol, method="dopri5",
                       options={"max_num_steps": EXACT.max_num_steps})[-1]
        return state[:, :3], f.evaluations

    def ours(solver):
        def run():
            out: list[Dynamics] = []
            state = integrate(net, x, [args.T], solver, dynamics_out=out)[0]
            return state[:, :3], out[0].evaluations
        return run

    reference, nfe, seconds = timed(published)
    print(f"published (9 channels, pooled RMS norm)   NFE {nfe:3d}  {seconds:7.1f} s", flush=True)
    report.add("solves", {"solve": "published (9 channels, pooled RMS norm)", "nfe": nfe, "seconds": round(seconds, 2)})
    for name, solver in (("ours before (3 channels, RMS norm)", replace(EXACT, error_norm="rms")),
                         ("ours now (3 channels, published norm)", EXACT)):
        image, nfe, seconds = timed(ours(solver))
        diff = (image - reference).abs().max().item() * 255
        print(f"{name:41s} NFE {nfe:3d}  {seconds:7.1f} s  max difference from published {diff:.3f} levels",
              flush=True)
        report.add("solves", {"solve": name, "nfe": nfe, "seconds": round(seconds, 2),
                              "max_levels_from_published": round(diff, 4)})
    report.emit(device)


if __name__ == "__main__":
    main(ARGS)
