"""Figures of the fast engine (clode.engine.session): dial, first preview, export, fidelity, halos.

    .venv/bin/python benchmarks/speed/bench_fast.py [--device cpu] [--threads 2] [--runs 5]
        [--sections prepare,dial,preview,export,auto,fidelity,halo] [--mp 24] [--model PATH]

* prepare: proxy solve time and function evaluations for proxy sizes / tolerances;
* dial: re-render of a 2 MP view of a 24 MP image from the cache (median), no denoiser,
  float32 and uint8, fit-to-window and a 1:1 crop; and the view with the denoiser; the
  adaptive denoiser's noise measurement at a T not measured before;
* preview: a new 24 MP JPEG -> load_preview + quick prepare + first view (median);
* export: full-resolution render of the 24 MP image, denoiser on and off, and the
  peak RSS of a fresh process doing load + prepare + render + save;
* auto: the automatic T of the 24 MP session (its proxy and measuring view), with the shipped
  predictor's two estimates and with its T estimate alone (the first predictor format), interleaved;
* fidelity: lowlight-dev (600 x 400), fast vs exact full-resolution solve (PSNR between
  them) and both against ground truth, at T = default; seconds per megapixel of each
  and their ratio;
* halo: a hard bright/dark edge, fast (bilinear and guided upsampling) vs the exact
  full-resolution solve, error near the edge vs away from it.

The last line is every section's figures as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import SHARED, Report, cpu_name  # noqa: E402

SECTIONS = ("prepare", "dial", "preview", "export", "auto", "fidelity", "halo")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mp", type=float, default=24.0, help="size of the big test photo (megapixels)")
    ap.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--pairs", type=int, default=7, help="lowlight-dev pairs for the fidelity section")
    ap.add_argument("--first-pair", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--proxy-sides", default=None, help="proxy sides to compare (default 128, the engine's, 384)")
    ap.add_argument("--halo-size", default="512x768", help="HxW of the halo test image")
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder (default ../shared)")
    ap.add_argument("--child-export", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--denoise", type=float, default=1.0, help=argparse.SUPPRESS)
    ap.add_argument("--colour-noise", type=float, default=0.0, help=argparse.SUPPRESS)
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from clode import EXACT, Enhancer, load_model  # noqa: E402
from clode.base.finish import Finish  # noqa: E402
from clode.engine import session as S  # noqa: E402
from clode.engine.auto_exposure import learned_T  # noqa: E402
from clode.engine.exposure_model import for_model  # noqa: E402
from clode.io.imageio import load_image, load_preview  # noqa: E402
from clode.training.metrics import psnr  # noqa: E402
from clode.engine.ode import integrate  # noqa: E402

DEV = SHARED / "datasets" / "lowlight-dev"
PHOTO = SHARED / "datasets" / "photos"
VIEW = (1155, 1732)         # a 2 MP window onto a 3:2 photo
REPORT: Report | None = None    # main's; the sections add their figures to it


def record(section: str, **figures) -> None:
    if REPORT is not None:
        REPORT.add(section, figures)


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


CPU_TIMES: list = []   # process CPU seconds of the last timed() call's median run


def timed(fn, device, runs: int, warmup: int = 1) -> tuple[float, object]:
    """Median wall seconds of ``runs`` calls; the matching process CPU seconds go to CPU_TIMES.

    On a shared machine the wall time includes waiting for the cores; CPU time
    does not (on an idle 2-core machine, wall = CPU / 2 for perfectly parallel work).
    """
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(runs):
        sync(device)
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        sync(device)
        times.append((time.perf_counter() - t, time.process_time() - c))
    times.sort()
    CPU_TIMES[:] = [times[len(times) // 2][1]]
    return times[len(times) // 2][0], result


def cpu() -> str:
    return f"(CPU {CPU_TIMES[0]:.3g} s)" if CPU_TIMES else ""


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0


def big_jpeg(folder: Path, mp: float) -> Path:
    """A dim ~``mp`` MP 3:2 JPEG made from a dataset photo (upscaled, darkened, grain added)."""
    src = sorted(PHOTO.glob("*.jpg"))[0]
    w = int(round((mp * 1e6 * 1.5) ** 0.5))
    h = int(round(w / 1.5))
    im = Image.open(src).convert("RGB").resize((w, h), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    rng = np.random.default_rng(0)
    a = np.clip(a * 0.25 + rng.normal(0, 2.0, a.shape[:2])[..., None], 0, 255).astype(np.uint8)
    path = folder / f"big_{w}x{h}.jpg"
    Image.fromarray(a).save(path, quality=92)
    return path


def count_evals(enh, img, t_range, proxy_side, solver):
    x = S.image_tensor(img)
    proxy = S.resize(x, S.proxy_size(*img.shape[:2], proxy_side)).to(enh.device).contiguous()
    dyn: list = []
    for end in t_range:
        if end:
            integrate(enh.model, proxy, [end], solver, track_lambda=True, dynamics_out=dyn)
    return sum(d.evaluations for d in dyn)


def section_prepare(enh, args, big):
    print("\n## prepare: proxy solve (one per direction), the whole dial range [-t_max, t_max] unless noted")
    print(f"{'proxy side':>10} {'solver':>16} {'range':>12} {'NFE':>5} {'seconds':>8}")
    img = load_preview(big, max_side=2048).pixels
    for side, solver, rng in [(256, S.PROXY_SOLVER, None), (128, S.PROXY_SOLVER, None),
                              (96, S.PROXY_SOLVER, None), (S.QUICK_PROXY_SIDE, S.QUICK_SOLVER, None),
                              (S.QUICK_PROXY_SIDE, S.QUICK_SOLVER, (0.0, enh.default_T))]:
        lo, hi = rng or (-enh.t_max, enh.t_max)
        nfe = count_evals(enh, img, (lo, hi), side, solver)
        t, _ = timed(lambda: S.prepare(enh.model, img, t_min=lo, t_max=hi, proxy_side=side, solver=solver,
                                       device=enh.device), enh.device, max(1, args.runs // 3), warmup=0)
        print(f"{side:>10} {solver.describe():>16} {f'[{lo:g}, {hi:g}]':>12} {nfe:>5} {t:>8.2f} {cpu()}", flush=True)
        record("prepare", proxy_side=side, solver=solver.describe(), range=[lo, hi], nfe=nfe, seconds=round(t, 3))


def section_auto(enh, args, session):
    predictor = for_model(enh.model)
    ways = {"both estimates (shipped)": predictor, "T estimate alone": replace(predictor, shortfall=None)}
    times: dict = {label: [] for label in ways}
    for _ in range(args.runs * 2):
        for label, p in ways.items():
            start = time.perf_counter()
            learned_T(session, p, enh.default_T)
            times[label].append(time.perf_counter() - start)
    print(f"\n## auto: automatic T of the {session.size[1]} x {session.size[0]} session, median of {args.runs * 2}")
    for label, ts in times.items():
        T = learned_T(session, ways[label], enh.default_T)
        print(f"{label:<26} {1000 * np.median(ts):8.1f} ms  (T = {T:.2f})", flush=True)
        record("auto", way=label, ms=round(1000 * float(np.median(ts)), 2), T=round(float(T), 3))


def section_dial(enh, args, session):
    print(f"\n## dial: re-render of a {VIEW[1]} x {VIEW[0]} view ({VIEW[0] * VIEW[1] / 1e6:.1f} MP) "
          f"from the cache of a {session.size[1]} x {session.size[0]} image, median of {args.runs * 4}")
    H, W = session.size
    crop = (W // 3, H // 3, VIEW[1], VIEW[0])
    Ts = iter(np.linspace(1.0, 5.0, 1000))
    off, on = Finish(denoise=0), Finish(denoise=1.0)
    for label, finish, kw in [("fit, float32, no denoiser", off, dict(size=VIEW)),
                              ("fit, uint8, no denoiser", off, dict(size=VIEW, dtype=np.uint8)),
                              ("1:1 crop, float32, no denoiser", off, dict(region=crop)),
                              ("1:1 crop, uint8, no denoiser", off, dict(region=crop, dtype=np.uint8)),
                              ("fit, uint8, denoiser 1.0", on, dict(size=VIEW, dtype=np.uint8))]:
        for up in S.UPSAMPLERS:
            s = session.with_upsample(up)
            runs = args.runs if "denoiser 1" in label else args.runs * 4
            t, _ = timed(lambda: s.render(float(next(Ts)), finish, **kw), enh.device, runs, warmup=2)
            print(f"{label:<34} {up:<9} {1000 * t:8.1f} ms  (CPU {1000 * CPU_TIMES[0]:.1f} ms)", flush=True)
            record("dial", view=label, upsample=up, ms=round(1000 * t, 2), cpu_ms=round(1000 * CPU_TIMES[0], 2))

    # What the adaptive denoiser adds when the dial reaches a T not measured yet (once per 0.1 of T):
    # full-resolution crops rendered without noise treatment and their noise estimated.
    def fresh_strength():
        session._strengths.clear()
        return session.noise_strength(float(next(Ts)))
    t, _ = timed(fresh_strength, enh.device, args.runs * 4, warmup=1)
    print(f"{'noise strength at a new T':<34} {'':<9} {1000 * t:8.1f} ms  (CPU {1000 * CPU_TIMES[0]:.1f} ms)", flush=True)
    record("dial", view="noise strength at a new T", ms=round(1000 * t, 2), cpu_ms=round(1000 * CPU_TIMES[0], 2))


def section_preview(enh, args, big):
    print(f"\n## first preview of a new {big.name}: load_preview + quick prepare "
          f"(proxy {S.QUICK_PROXY_SIDE}, {S.QUICK_SOLVER.describe()}, [0, T]) + first view, median of {args.runs}")

    def first(denoise):
        photo = load_preview(big, max_side=max(VIEW))
        s = enh.prepare(photo.pixels, quick=True, t_range=(0.0, enh.default_T))
        return s.render(enh.default_T, Finish(denoise=denoise), size=fit(photo.pixels.shape[:2], VIEW), dtype=np.uint8)
    for denoise in (0.0, 1.0):
        t, _ = timed(lambda: first(denoise), enh.device, args.runs)
        print(f"first preview, denoiser {denoise:g}: {t:.2f} s {cpu()}", flush=True)
        record("preview", step=f"first preview, denoiser {denoise:g}", seconds=round(t, 3))
    t, _ = timed(lambda: load_preview(big, max_side=max(VIEW)), enh.device, args.runs)
    print(f"  of which load_preview: {t:.2f} s {cpu()}")
    record("preview", step="load_preview", seconds=round(t, 3))
    photo = load_preview(big, max_side=2048)
    t, _ = timed(lambda: enh.prepare(photo.pixels), enh.device, 1, warmup=0)
    print(f"then the full prepare (proxy {S.PROXY_SIDE}, {S.PROXY_SOLVER.describe()}, "
          f"[-{enh.t_max:g}, {enh.t_max:g}]) in the background: {t:.2f} s {cpu()}")
    record("preview", step="full prepare", seconds=round(t, 3))


def fit(shape, box):
    scale = min(box[0] / shape[0], box[1] / shape[1], 1.0)
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def section_export(enh, args, big, session):
    H, W = session.size
    print(f"\n## export: full-resolution render of {W} x {H} ({H * W / 1e6:.1f} MP), median of "
          f"{max(1, args.runs // 2)}")
    for denoise in (0.0, 1.0):
        t, _ = timed(lambda: session.render(enh.default_T, Finish(denoise=denoise)), enh.device,
                     max(1, args.runs // 2), warmup=0)
        print(f"render, denoiser {denoise:g}: {t:.2f} s ({t / (H * W / 1e6):.3f} s/MP) {cpu()}", flush=True)
        record("export", step=f"render, denoiser {denoise:g}", seconds=round(t, 3))
    # the last one is the editor's export with its default colour-noise reduction (50 %)
    for denoise, colour in ((0.0, 0.0), (1.0, 0.0), (1.0, 0.5)):
        cmd = [sys.executable, __file__, "--child-export", str(big), "--device", args.device,
               "--threads", str(args.threads), "--denoise", str(denoise), "--colour-noise", str(colour)]
        if args.model:
            cmd += ["--model", str(args.model)]
        out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        print(f"fresh process, denoiser {denoise:g}, colour noise {colour:g}: load {out['load']:.2f} s + prepare {out['prepare']:.2f} s + "
              f"render {out['render']:.2f} s + save {out['save']:.2f} s (process CPU {out['cpu']:.1f} s); "
              f"peak RSS {out['peak_gb']:.2f} GB", flush=True)
        record("export", step=f"fresh process, denoiser {denoise:g}, colour noise {colour:g}",
               seconds=round(sum(out[k] for k in ("load", "prepare", "render", "save")), 3),
               **{k: round(v, 3) for k, v in out.items()})


def child_export(args) -> None:
    from clode.io.export import pixel_dtype, save_image
    enh = make_enhancer(args)
    t0 = time.perf_counter()
    photo = load_image(args.child_export)
    t1 = time.perf_counter()
    session = enh.prepare(photo.pixels, t_range=(0.0, enh.default_T))
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "out.jpg"     # as the product exports: an 8-bit render straight to the encoder
        out = session.render(enh.default_T, Finish(denoise=args.denoise, colour_noise=args.colour_noise),
                             dtype=pixel_dtype(target))
        t3 = time.perf_counter()
        save_image(target, out, source=photo)
    t4 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"load": t1 - t0, "prepare": t2 - t1, "render": t3 - t2, "save": t4 - t3,
                      "cpu": usage.ru_utime + usage.ru_stime, "peak_gb": usage.ru_maxrss / 1024 ** 2}))


def section_fidelity(enh, args):
    T = enh.default_T
    pairs = sorted((DEV / "low").glob("*.png"))[args.first_pair:args.first_pair + args.pairs]
    print(f"\n## fidelity on lowlight-dev ({len(pairs)} pairs, 600 x 400), T = {T:g}: fast (prepare [0, T] "
          f"+ render, denoiser 1) vs exact (full-resolution solve, {EXACT.describe()})")
    sides = sorted({int(v) for v in args.proxy_sides.split(",")} | {S.PROXY_SIDE})
    rows: dict = {}
    exact_s = fast_s = exact_c = fast_c = 0.0
    mp = 0.0
    for path in pairs:
        low, high = read(path), read(DEV / "high" / path.name)
        mp += low.shape[0] * low.shape[1] / 1e6
        sync(enh.device)
        t, c = time.perf_counter(), time.process_time()
        exact = enh.enhance(low, T, mode="exact")
        sync(enh.device)
        exact_s += time.perf_counter() - t
        exact_c += time.process_time() - c
        rows.setdefault("exact", []).append((psnr(exact, high), float("inf")))
        for side in sides:
            sync(enh.device)
            t, c = time.perf_counter(), time.process_time()
            s = enh.prepare(low, t_range=(0.0, T), proxy_side=side)
            fast = s.render(T)
            sync(enh.device)
            if side == S.PROXY_SIDE:
                fast_s += time.perf_counter() - t
                fast_c += time.process_time() - c
            for up in S.UPSAMPLERS:
                out = fast if up == s.upsample else s.with_upsample(up).render(T)
                rows.setdefault(f"fast {side} {up}", []).append((psnr(out, high), psnr(out, exact)))
        print(f"  {path.name}: exact {rows['exact'][-1][0]:.2f} dB; " + ", ".join(
            f"{k} {v[-1][0]:.2f}/{v[-1][1]:.1f}" for k, v in rows.items() if k != "exact"), flush=True)
    print(f"{'method':<24} {'PSNR vs GT':>10} {'vs exact':>9} {'min vs exact':>12}")
    for k, v in rows.items():
        gt, ex = np.array(v).T
        print(f"{k:<24} {gt.mean():>10.2f} {ex.mean():>9.2f} {ex.min():>12.2f}")
        record("fidelity", method=k, psnr_vs_gt=round(float(gt.mean()), 3),
               psnr_vs_exact=None if k == "exact" else round(float(ex.mean()), 3),
               min_psnr_vs_exact=None if k == "exact" else round(float(ex.min()), 3))
    record("fidelity", method="seconds per MP", exact=round(exact_s / mp, 2), fast=round(fast_s / mp, 3))
    print(f"seconds per MP: exact {exact_s / mp:.1f}, fast (proxy {S.PROXY_SIDE}, prepare [0, T] + render) "
          f"{fast_s / mp:.2f}; fast / exact = {fast_s / exact_s:.4f} (1 : {exact_s / fast_s:.0f}); "
          f"in CPU seconds per MP: exact {exact_c / mp:.1f}, fast {fast_c / mp:.2f}, ratio 1 : {exact_c / fast_c:.0f}")


def edge_image(h: int, w: int) -> np.ndarray:
    """Dark textured left half, bright right half, a vertical hard edge, plus a bright disc."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tex = 0.5 + 0.5 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    img = np.where(xx < w // 2, 0.03 + 0.05 * tex, 0.55 + 0.15 * tex)[..., None] * np.array([1.0, 0.9, 0.8])
    disc = (yy - h / 4) ** 2 + (xx - w / 4) ** 2 < (h / 10) ** 2
    img[disc] = [0.7, 0.6, 0.5]
    img += rng.normal(0, 0.005, img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def section_halo(enh, args):
    h, w = (int(v) for v in args.halo_size.split("x"))
    img = edge_image(h, w)
    T = enh.default_T
    print(f"\n## halo: {w} x {h} hard edges (a vertical one at x = {w // 2} and a disc), T = {T:g}, "
          f"denoiser off; |fast - exact| in 8-bit levels")
    exact = enh.enhance(img, T, Finish(denoise=0), mode="exact")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.minimum(np.abs(xx + 0.5 - w // 2), np.abs(np.hypot(yy - h / 4, xx - w / 4) - h / 10))
    bands = [(0, 2), (2, 6), (6, 16), (16, 48), (48, 1e9)]
    print(f"{'proxy':>6} {'upsample':<9} " + " ".join(f"{f'd {a:g}-{b:g}':>12}" for a, b in bands)
          + f" {'max':>6} {'PSNR':>6}")
    for side in [int(v) for v in args.proxy_sides.split(",")]:
        s = enh.prepare(img, t_range=(0.0, T), proxy_side=side)
        for up in S.UPSAMPLERS:
            out = s.with_upsample(up).render(T, Finish(denoise=0))
            err = np.abs(out - exact).max(-1) * 255
            cells = []
            for a, b in bands:
                m = (dist >= a) & (dist < b)
                cells.append(f"{err[m].mean():5.2f}/{np.percentile(err[m], 99):5.1f}")
            print(f"{side:>6} {up:<9} " + " ".join(f"{c:>12}" for c in cells)
                  + f" {err.max():>6.1f} {psnr(out, exact):>6.2f}", flush=True)
            record("halo", proxy_side=side, upsample=up, bands={f"{a:g}-{b:g}": c for (a, b), c in zip(bands, cells)},
                   max=round(float(err.max()), 2), psnr=round(float(psnr(out, exact)), 3))
    print("(cells: mean / 99th percentile of the error at that distance in pixels from an edge)")


def make_enhancer(args) -> Enhancer:
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model = load_model(args.model) if args.model else load_model()
    return Enhancer(model, device=args.device)


def main(args: argparse.Namespace) -> None:
    global DEV, PHOTO, REPORT
    args.proxy_sides = args.proxy_sides or f"128,{S.PROXY_SIDE},384"
    DEV, PHOTO = args.shared / "datasets" / "lowlight-dev", args.shared / "datasets" / "photos"
    if args.child_export:
        with torch.no_grad():
            child_export(args)
        return
    torch.set_grad_enabled(False)
    REPORT = Report(__file__, args)
    enh = make_enhancer(args)
    dev = enh.device
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{cpu_name()}"
    print(f"# {where}; {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}; model {enh.model.info.name}; "
          f"proxy {S.PROXY_SIDE}, {S.PROXY_SOLVER.describe()}, T step {S.T_STEP}, upsample {S.UPSAMPLE}")
    sections = args.sections.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        big = big_jpeg(Path(tmp), args.mp) if {"prepare", "dial", "preview", "export", "auto"} & set(sections) else None
        if "prepare" in sections:
            section_prepare(enh, args, big)
        if "preview" in sections:
            section_preview(enh, args, big)
        session = None
        if {"dial", "export", "auto"} & set(sections):
            photo = load_image(big)
            session = enh.prepare(load_preview(big, max_side=2048).pixels).with_image(photo.pixels)
        if "dial" in sections:
            section_dial(enh, args, session)
        if "export" in sections:
            section_export(enh, args, big, session)
        if "auto" in sections:
            section_auto(enh, args, session)
        del session
    if "fidelity" in sections:
        section_fidelity(enh, args)
    if "halo" in sections:
        section_halo(enh, args)
    REPORT["engine"] = {"model": enh.model.info.name, "proxy_side": S.PROXY_SIDE, "proxy_solver": S.PROXY_SOLVER.describe(),
                        "T_step": S.T_STEP, "upsample": S.UPSAMPLE}
    REPORT.emit(enh.device)


if __name__ == "__main__":
    main(ARGS)
