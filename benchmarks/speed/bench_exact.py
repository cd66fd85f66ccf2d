"""Seconds per megapixel of the exact path: ``Enhancer.enhance`` with dopri5, tol 1e-5, on the CPU.

    .venv/bin/python benchmarks/speed/bench_exact.py [--runs 3] [--threads 2] [--T 3.0] [--device cpu]

Inputs are real dark photos: ``lowlight-dev/low/00.png`` (600 x 400) and its
central 256 x 256 crop. The number of function evaluations (NFE, one curve
network pass each) is what the time scales with; it depends on the image
and the model, so it is printed next to the time. Models: the official
fixture weights (random, seeded) and the shipped default model if present. The last line is the
table as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import SHARED, Report, cpu_name  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--T", type=float, default=3.0)
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (default ../shared)")
    ap.add_argument("--device", default="cpu", help="cpu (the reference figure), or e.g. cuda for comparison")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from clode import EXACT, Enhancer, load_model, resolve_device  # noqa: E402
from clode.engine.enhancer import to_tensor  # noqa: E402
from clode.engine.ode import integrate  # noqa: E402
from clode.engine.weights import DEFAULT_MODEL  # noqa: E402

PHOTO = Path("datasets") / "lowlight-dev" / "low" / "00.png"
FIXTURE = Path("reference") / "clode_official_fixture.npz"


def fixture_model(folder: Path, shared: Path):
    z = np.load(shared / FIXTURE)
    state = {k[len("state/"):]: torch.from_numpy(z[k]) for k in z.files if k.startswith("state/")}
    path = folder / "fixture_official.pth"
    torch.save(state, path)
    return load_model(path)


def inputs(shared: Path) -> dict[str, np.ndarray]:
    img = np.asarray(Image.open(shared / PHOTO).convert("RGB"), dtype=np.float32) / 255.0
    h, w = img.shape[:2]
    top, left = (h - 256) // 2, (w - 256) // 2
    return {"256x256": np.ascontiguousarray(img[top:top + 256, left:left + 256]), f"{w}x{h}": img}


def evaluations(enh: Enhancer, img: np.ndarray, T: float) -> int:
    """NFE of the solve ``enhance`` runs (the same solver, input and end time)."""
    dyn: list = []
    with torch.no_grad():
        integrate(enh.model, to_tensor(img, enh.device), [T], enh.solver, dynamics_out=dyn)
    return dyn[0].evaluations


def timed(enh: Enhancer, img: np.ndarray, T: float) -> float:
    if enh.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    enh.enhance(img, T, mode="exact")
    if enh.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(args: argparse.Namespace) -> None:
    report = Report(__file__, args)
    torch.set_num_threads(args.threads)

    device = resolve_device(args.device)
    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"{cpu_name()}, {torch.get_num_threads()} torch threads")
    print(f"# {where}, torch {torch.__version__}, solver {EXACT.describe()}, T = {args.T:g}, "
          f"median of {args.runs} runs (after one untimed run)")
    print(f"{'model':<18} {'size':>8} {'MP':>6} {'NFE':>5} {'s/run':>8} {'s/MP':>8} {'ms/NFE/MP':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        models = {"fixture (random)": fixture_model(Path(tmp), args.shared)}
        if DEFAULT_MODEL.exists():
            models["default"] = load_model()
        for name, model in models.items():
            enh = Enhancer(model, device=device, solver=EXACT)
            for size, img in inputs(args.shared).items():
                mp = img.shape[0] * img.shape[1] / 1e6
                nfe = evaluations(enh, img, args.T)   # also the warm-up run
                t = statistics.median(timed(enh, img, args.T) for _ in range(args.runs))
                print(f"{name:<18} {size:>8} {mp:>6.3f} {nfe:>5d} {t:>8.2f} {t / mp:>8.1f} "
                      f"{1000 * t / mp / nfe:>10.1f}", flush=True)
                report.add("rows", {"model": name, "size": size, "mp": round(mp, 3), "nfe": nfe,
                                    "s_per_run": round(t, 3), "s_per_mp": round(t / mp, 2)})
    report["solver"] = EXACT.describe()
    report.emit(device)


if __name__ == "__main__":
    main(ARGS)
