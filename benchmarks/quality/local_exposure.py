"""Local exposure layers (clode.engine.masks): edges, the cost of a brush dab and of an export with layers.

    .venv/bin/python benchmarks/quality/local_exposure.py [--export-size 4000x6000] [--repeats 3]

Prints one JSON object:

* ``edges``: a bright square (0.25 sRGB) on a dark, noisy background (0.02), 1200 x 900, the
  default model at T = 2, denoiser off. One brush dab centred on the square whose radius reaches
  40 px past the square's right edge. The change in brightness (mean of the channels) along the
  middle row, relative to the change at the square's centre, from 8 px inside the edge to 48 px
  outside, for a plain and an edge-aware brush. Acceptance: edge-aware, 8 px outside < 0.1.
* ``dab``: a 2 MP view (1155 x 1732) of a 24 MP photo, rendered as the dial renders (denoiser
  off, uint8): a stroke grows one point per render (each render draws the stroke's layer again;
  two other layers stay cached). Median ms per render, and without layers for comparison.
* ``export``: the full 24 MP render as an export does it (the product's finish, uint8), with three
  layers (edge-aware brush, radial, linear) and without; the ratio of the medians; and the layers'
  own work (the end-time map drawn afresh on the export's grid and Lambda read on it) timed alone,
  over the export without layers (whole exports vary by tens of percent on a loaded machine).

Timings on a shared machine move with its load: compare the ratios of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import print_results  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--export-size", default="4000x6000", help="H x W of the export (default 24 MP)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-edges", action="store_true")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

from dataclasses import replace  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.base.local_exposure import Brush, Layer, Linear, Radial, Stroke  # noqa: E402
from clode.engine.masks import Grid, grid_shape  # noqa: E402
from clode.engine.session import LocalMaps, _Axis, lambda_on_grid  # noqa: E402


def square_scene(h: int, w: int, half: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 0.02, np.float32)
    img[h // 2 - half:h // 2 + half, w // 2 - half:w // 2 + half] = 0.25
    return np.clip(img + rng.normal(0, 0.004, img.shape).astype(np.float32), 0, 1)


def edges(enh: Enhancer) -> dict:
    h, w, half = 900, 1200, 150
    img = square_scene(h, w, half)
    L = max(h, w)
    cx, cy = w / 2 / L, h / 2 / L
    dab = Stroke(((cx, cy), (cx + 1e-3, cy)), radius=(half + 40) / L, feather=0.3)
    s = enh.prepare(img, t_range=(0.0, 4.0))
    plain = s.render(2.0, Finish(denoise=0)).mean(-1)
    edge = w // 2 + half                   # the first background column
    out = {}
    for aware in (False, True):
        layer = Layer(Brush((dab,)), amount=1.5, edges=aware)
        change = s.render(2.0, Finish(denoise=0, local=(layer,))).mean(-1) - plain
        row = change[h // 2]
        inside = float(row[w // 2])
        out["edge_aware" if aware else "plain"] = {
            "inside": round(inside, 4),
            "profile": {str(d): round(float(row[edge + d]) / inside, 3) for d in (-8, -4, -1, 0, 2, 4, 8, 16, 32, 48)}}
    out["edge_aware_8px_outside"] = out["edge_aware"]["profile"]["8"]
    return out


def layers(cx: float, cy: float, points: int = 40) -> tuple:
    stroke = Stroke(tuple((cx - 0.2 + 0.01 * i, cy + 0.05 * np.sin(i / 5)) for i in range(points)), radius=0.04)
    return (Layer(Brush((stroke,)), amount=1.0, edges=True),
            Layer(Radial((cx + 0.2, cy - 0.1), (0.15, 0.1)), amount=-1.0),
            Layer(Linear((0.0, 0.0), (0.0, 0.25)), amount=-0.8))


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def costs(enh: Enhancer, size: tuple[int, int], repeats: int) -> dict:
    H, W = size
    rng = np.random.default_rng(1)
    img = np.clip(0.03 + 0.02 * rng.standard_normal((H, W, 3), dtype=np.float32), 0, 1)
    img[H // 3:H // 2, W // 3:W // 2] += 0.2
    L = max(H, W)
    s = enh.prepare(img)
    cx, cy = W / 2 / L, H / 2 / L
    view = (round(H * 1732 / W), 1732) if W >= H else (1732, round(W * 1732 / H))
    fixed = layers(cx, cy)[1:]
    plain_ms, dab_ms = [], []
    s.render(2.0, Finish(denoise=0, local=fixed), size=view, dtype=np.uint8)       # view input and fixed masks cached
    for n in range(2, 32):
        stroke = Stroke(tuple((cx - 0.2 + 0.01 * i, cy) for i in range(n)), radius=0.03)
        local = (Layer(Brush((stroke,)), amount=1.0, edges=True), *fixed)
        dab_ms.append(1e3 * timed(lambda: s.render(2.0, Finish(denoise=0, local=local), size=view, dtype=np.uint8)))
        plain_ms.append(1e3 * timed(lambda: s.render(2.0, Finish(denoise=0), size=view, dtype=np.uint8)))
    finish = Adjustments().finish
    s.noise_strength(2.0)                  # measured once per photo and T, before either is timed
    with_layers = replace(finish, local=layers(cx, cy))
    plain_s, layer_s = [], []
    for _ in range(repeats):              # alternated, so a change in the machine's load hits both
        plain_s.append(timed(lambda: s.render(2.0, finish, dtype=np.uint8)))
        s._local = type(s._local)(s.image, s.proxy)          # no masks cached from the last export
        layer_s.append(timed(lambda: s.render(2.0, with_layers, dtype=np.uint8)))
    # The layers' own work in an export, timed alone (less at the mercy of the load than two
    # whole exports): the end-time map on the export's grid, drawn afresh, and Lambda read on it.
    grid = Grid((H, W), (0, 0, W, H), grid_shape((H, W)))
    (ph, pw), (gh, gw) = s.proxy_size, grid.shape
    rows, cols = _Axis.make(gh, 0, H, ph, H, s.device), _Axis.make(gw, 0, W, pw, W, s.device)

    def layer_work():
        maps = LocalMaps(s.image, s.proxy)
        t = maps.end_times(2.0, finish.protect, with_layers.local, grid, s.t_range)
        for field in s.fields:
            lambda_on_grid(s.times, field, t, rows, cols)
    work_s = [timed(layer_work) for _ in range(repeats)]
    return {
        "dab": {"view": list(view), "median_ms_with_layers": round(statistics.median(dab_ms), 1),
                "median_ms_without": round(statistics.median(plain_ms), 1)},
        "export": {"size": [H, W], "median_s_without": round(statistics.median(plain_s), 2),
                   "median_s_three_layers": round(statistics.median(layer_s), 2),
                   "ratio": round(statistics.median(layer_s) / statistics.median(plain_s), 3),
                   "runs_without": [round(t, 2) for t in plain_s], "runs_with": [round(t, 2) for t in layer_s],
                   "grid": [gh, gw], "layer_work_s": [round(t, 3) for t in work_s],
                   "layer_work_over_export_without": round(statistics.median(work_s) / statistics.median(plain_s), 3)}}


def main(args: argparse.Namespace) -> None:
    H, W = (int(v) for v in args.export_size.lower().split("x"))
    enh = Enhancer(load_model(), device="cpu")
    result = {} if args.skip_edges else {"edges": edges(enh)}
    result.update(costs(enh, (H, W), args.repeats))
    result["note"] = "timings from one run on a shared, loaded 2-core machine: read the ratios"
    print_results(__file__, args, "local_exposure", result)


if __name__ == "__main__":
    main(ARGS)
