"""How much can an automatic T gain over the model's default T = 3? (issue 5's +1 dB question)

    .venv/bin/python benchmarks/quality/study_auto_exposure.py [--per 2] [--side 256] [--cache FILE]

Prints, for the shipped model and the fast path (denoiser on), on lowlight-dev and on
synthetic pairs made from ``photos/`` with lowlight-dev's degradation profile
(documented in shared/datasets/README.md):

* PSNR at T = 3, at the shipped ``auto_T``, at the oracle T (best against the ground
  truth), and at the T whose result matches the ground truth's mean brightness times k;
* the white-point rule that ships, over a grid of its two constants (percentile and
  level) -- they were chosen as the best on the synthetic pairs, then read off on
  lowlight-dev, which they never saw;
* the rules tried before it: T = 3 with guards on the result's brightness, and learned
  estimates of T from the input's and the result's mean luminance (fitted on the pairs,
  scored leave-one-photo-out there and then on lowlight-dev).

The synthetic pairs are made from the photos the model was trained on, so T = 3 is at
home there; lowlight-dev is held out but has only 7 images. Takes ~15 min on 2 cores
(``--milder``: ~25 min). The last line is the tables as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, Report, cpu_name  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per", type=int, default=2, help="synthetic darkenings per photo")
    ap.add_argument("--side", type=int, default=256, help="long side of the synthetic pairs")
    ap.add_argument("--cache", type=Path, help="keep the curves in this file (and reuse them when it exists)")
    ap.add_argument("--milder", action="store_true",
                    help="also score one darkening per photo by 0-0.5, 0.5-2 and 2-3.5 EV (+10 min)")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.engine import auto_exposure as auto  # noqa: E402
from clode.engine.auto_exposure import BRIGHTEST, mean_luminance  # noqa: E402
from clode.training.metrics import psnr  # noqa: E402
from clode.base.srgb import linear_to_srgb, srgb_to_linear  # noqa: E402

SHARED = DATASETS
TS = np.round(np.arange(0.0, 6.001, 0.05), 2)
PROFILE = dict(ev=(3.5, 5.5), gain=(3000, 12000), read=(2e-4, 8e-4))   # lowlight-dev's
EARLIER_BAND = (0.30, 0.62)     # the first auto rule: T = 3 unless the result's mean left this band


def read(path: Path, side: int = 0) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    if side:
        im.thumbnail((side, side), Image.LANCZOS)
    return np.asarray(im, np.float32) / 255


def darken(high: np.ndarray, rng: np.random.Generator, ev_range: tuple = PROFILE["ev"]) -> np.ndarray:
    ev, g, r = (rng.uniform(*(ev_range if k == "ev" else PROFILE[k])) for k in ("ev", "gain", "read"))
    lin = srgb_to_linear(torch.from_numpy(high)) * 2.0 ** -ev
    noisy = lin + torch.from_numpy(rng.standard_normal(high.shape).astype(np.float32)) * torch.sqrt(lin / g + r * r)
    return (torch.round(linear_to_srgb(noisy.clamp(0, 1)) * 255) / 255).numpy()


def curve(enh: Enhancer, low: np.ndarray, high: np.ndarray, group: str) -> dict:
    """PSNR and mean luminance of the result along TS (also as ``auto_T`` measures it, on the
    proxy), the input's measuring view, and the shipped auto T."""
    s = enh.prepare(low)
    outs = [s.render(float(T), Finish(denoise=1.0)) for T in TS]
    return dict(group=group, psnr=np.array([psnr(o, high) for o in outs]),
                mean=np.array([mean_luminance(o) for o in outs]),
                proxy_mean=np.array([mean_luminance(s.render(float(T), Finish(denoise=1.0), size=s.proxy_size))
                                     for T in TS]),
                view=auto.measuring_view(s.image),
                low=mean_luminance(low), high=mean_luminance(high), auto=s.auto_T())


def white_point_pick(c: dict, percentile: float, level: float) -> int:
    """The white-point rule with other constants (all pairs here have 3+ stops of headroom,
    so the blend with the default T never enters)."""
    target = auto.pushed_brightness(c["view"], auto.white_point(c["view"], percentile), level)
    return int(np.argmin(np.abs(np.log(c["proxy_mean"]) - np.log(target))))


def at(T: float) -> int:
    return int(np.argmin(np.abs(TS - T)))


def features(c: dict, kind: str) -> list[float]:
    f = {"input": [np.log(c["low"])], "result": [np.log(c["mean"][at(3.0)])]}
    return [1.0] + (f["input"] + f["result"] if kind == "both" else f[kind])


def choose(c: dict, coef: np.ndarray, kind: str, target: str) -> int:
    v = float(np.array(features(c, kind)) @ coef)
    return at(v) if target == "T" else int(np.argmin(np.abs(np.log(c["mean"]) - v)))


def fit(cs: list[dict], kind: str, target: str) -> np.ndarray:
    X = np.array([features(c, kind) for c in cs])
    best = [int(np.argmax(c["psnr"])) for c in cs]
    y = np.array([TS[b] if target == "T" else np.log(c["mean"][b]) for c, b in zip(cs, best)])
    return np.linalg.lstsq(X, y, rcond=None)[0]


def mean_at(cs: list[dict], pick) -> float:
    return float(np.mean([c["psnr"][pick(c)] for c in cs]))


def main(args: argparse.Namespace) -> int:
    report = Report(__file__, args)
    torch.set_num_threads(2)
    enh = Enhancer(load_model(), device="cpu")
    print(f"# {cpu_name()}; model {enh.model_name}; fast path, denoiser 1; T grid {TS[0]:g}..{TS[-1]:g} step 0.05")
    t0 = time.perf_counter()
    if args.cache and args.cache.exists():
        dev, synth = pickle.loads(args.cache.read_bytes())
    else:
        dev = [curve(enh, read(p), read(SHARED / "lowlight-dev" / "high" / p.name), p.name)
               for p in sorted((SHARED / "lowlight-dev" / "low").glob("*.png"))]
        rng = np.random.default_rng(0)
        synth = []
        for p in sorted((SHARED / "photos").glob("*.jpg")):
            high = read(p, args.side)
            synth += [curve(enh, darken(high, rng), high, p.name) for _ in range(args.per)]
        if args.cache:
            args.cache.write_bytes(pickle.dumps((dev, synth)))
    print(f"{len(dev)} lowlight-dev pairs, {len(synth)} synthetic pairs from photos/ "
          f"({time.perf_counter() - t0:.0f} s)\n")

    def row(name: str, d: float, s: float = float("nan")) -> None:
        print(f"{name:<46} {d:>7.2f} {d - base_dev:>+6.2f}   {s:>7.2f} {s - base_syn:>+6.2f}")
        report.add("mean_psnr", {"choice": name.strip(), "lowlight_dev": round(d, 3),
                                 "synthetic": None if np.isnan(s) else round(s, 3)})

    base_dev, base_syn = mean_at(dev, lambda c: at(3.0)), mean_at(synth, lambda c: at(3.0))
    print(f"{'mean PSNR (dB)':<46} {'dev':>7} {'vs T3':>6}   {'synth':>7} {'vs T3':>6}")
    row("T = 3 (the model's default)", base_dev, base_syn)
    row("shipped auto_T", mean_at(dev, lambda c: at(c["auto"])),
        mean_at(synth, lambda c: at(c["auto"])))
    row("oracle T (ground truth)", mean_at(dev, lambda c: int(np.argmax(c["psnr"]))),
        mean_at(synth, lambda c: int(np.argmax(c["psnr"]))))
    for k in (1.0, 0.97, 0.95):
        pick = lambda c, k=k: int(np.argmin(np.abs(c["mean"] - k * c["high"])))  # noqa: E731
        row(f"brightness oracle: mean = {k:g} x ground truth's", mean_at(dev, pick), mean_at(synth, pick))
    print(f"white point (shipped: percentile {auto.WHITE_PERCENTILE:g}, level {auto.WHITE_LEVEL:g}); "
          "dev / synth gain over T = 3:")
    levels = np.round(np.arange(0.85, 1.001, 0.025), 3)
    print(f"  {'percentile':<12}" + "".join(f"{lv:>14g}" for lv in levels))
    for pc in (99.5, 99.8, 99.9, 99.95, 100.0):
        cells = [f"{mean_at(dev, lambda c: white_point_pick(c, pc, lv)) - base_dev:+.2f}/"
                 f"{mean_at(synth, lambda c: white_point_pick(c, pc, lv)) - base_syn:+.2f}" for lv in levels]
        print(f"  {pc:<12g}" + "".join(f"{x:>14}" for x in cells))
        report.add("white_point_grid", {"percentile": pc, "gain_dev/synth_by_level": dict(zip(levels.tolist(), cells))})
    print("the rules before it:")
    print("learned (fit on synthetic pairs; synth column leave-one-photo-out):")
    photos = sorted({c["group"] for c in synth})
    for kind in ("input", "result", "both"):
        for target in ("T", "log mean"):
            coef = fit(synth, kind, target)
            held = []
            for ph in photos:
                c_out = fit([c for c in synth if c["group"] != ph], kind, target)
                held += [c["psnr"][choose(c, c_out, kind, target)] for c in synth if c["group"] == ph]
            row(f"  {kind} -> {target}", mean_at(dev, lambda c: choose(c, coef, kind, target)), float(np.mean(held)))
            print(f"{'':<6}fit on all synthetic pairs: {target} = " + " + ".join(
                f"{v:.3f}{'' if n == 'one' else ' ' + n}" for v, n in zip(coef, names(kind))))
    print("guards on the result's mean luminance (the lower edge brightens, the upper one darkens;\n"
          f"  T = 3 with [0, 0.62] was Auto before the white point; with [0, {BRIGHTEST:g}] it is Auto's rule for\n"
          "  ordinary photos, which these pairs are not):")
    coef = fit(synth, "input", "T")
    held = {}
    for ph in photos:
        c_out = fit([c for c in synth if c["group"] != ph], "input", "T")
        held.update({id(c): choose(c, c_out, "input", "T") for c in synth if c["group"] == ph})

    def guarded(c: dict, i: int, band: tuple[float, float]) -> int:
        while i > 0 and c["mean"][i] > band[1]:
            i -= 1
        while i < len(TS) - 1 and c["mean"][i] < band[0]:
            i += 1
        return i
    for band in (EARLIER_BAND, (0.0, 0.62), (0.0, BRIGHTEST), (0.0, 0.70)):
        row(f"  T = 3, band [{band[0]:g}, {band[1]:g}]", mean_at(dev, lambda c: guarded(c, at(3.0), band)),
            mean_at(synth, lambda c: guarded(c, at(3.0), band)))
        row(f"  input -> T, band [{band[0]:g}, {band[1]:g}]",
            mean_at(dev, lambda c: guarded(c, choose(c, coef, "input", "T"), band)),
            mean_at(synth, lambda c: guarded(c, held[id(c)], band)))
    if args.milder:
        milder(enh, args.side, report)
    report.emit("cpu")
    return 0


def milder(enh: Enhancer, side: int, report: Report) -> None:
    """The shipped auto on photos darkened less than lowlight-dev's: where the white point is
    only partly trusted, or not at all (the ground truth is the photo itself)."""
    print("milder darkening (one pair per photo):")
    print(f"  {'EV':<10} {'T = 3':>7} {'auto':>7} {'gain':>6} {'oracle':>7} {'auto T (median)':>16}")
    for ev_range in ((0.0, 0.5), (0.5, 2.0), (2.0, 3.5)):
        rng = np.random.default_rng(1)
        cs = [curve(enh, darken(high, rng, ev_range), high, p.name)
              for p in sorted((SHARED / "photos").glob("*.jpg")) for high in [read(p, side)]]
        base, auto_ = mean_at(cs, lambda c: at(3.0)), mean_at(cs, lambda c: at(c["auto"]))
        print(f"  {ev_range[0]:g}-{ev_range[1]:g}{'':<6} {base:>7.2f} {auto_:>7.2f} {auto_ - base:>+6.2f} "
              f"{mean_at(cs, lambda c: int(np.argmax(c['psnr']))):>7.2f} "
              f"{np.median([c['auto'] for c in cs]):>16.2f}")
        report.add("milder", {"ev": list(ev_range), "T3": round(base, 3), "auto": round(auto_, 3),
                              "oracle": round(mean_at(cs, lambda c: int(np.argmax(c["psnr"]))), 3),
                              "auto_T_median": round(float(np.median([c["auto"] for c in cs])), 3)})


def names(kind: str) -> list[str]:
    return ["one"] + {"input": ["ln(input mean)"], "result": ["ln(result mean at T=3)"],
                      "both": ["ln(input mean)", "ln(result mean at T=3)"]}[kind]


if __name__ == "__main__":
    sys.exit(main(ARGS))
