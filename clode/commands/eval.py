"""``clode eval --low DIR --high DIR``: PSNR/SSIM (LOL protocol) of a model on image pairs."""

from __future__ import annotations

import math
import sys

from clode.training.evaluate import EvalReport, evaluate_pairs
from clode.base.adjustments import check_T
from clode.base.finish import Finish
from clode.commands.common import add_colour_noise_option, add_engine_options, exposure, make_enhancer, setting


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="score a model on low/high image pairs (PSNR, SSIM)",
                              description="Enhance each image of --low and score it against the image of the "
                                          "same name in --high (8-bit PSNR, MATLAB-style SSIM).")
    p.add_argument("--low", required=True, metavar="DIR", help="folder of dark inputs")
    p.add_argument("--high", required=True, metavar="DIR", help="folder of ground-truth images (same names)")
    p.add_argument("--T", dest="T", type=exposure, metavar="T|auto",
                   help="end time (default: the model's, 3.0), or auto (chosen per image without the ground truth)")
    p.add_argument("--sweep", action="store_true",
                   help="also find each image's best T against the ground truth (the 'oracle T' score)")
    p.add_argument("--denoise", type=setting("denoise"), default=1.0, metavar="S", help="denoiser strength (default 1.0)")
    add_colour_noise_option(p, 0.0, "the model's own output, as the paper scores it")
    add_engine_options(p, precision="float32")     # scores are measured on the reference path
    p.set_defaults(func=run)


def _num(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def format_report(report: EvalReport) -> str:
    width = max([len("mean")] + [len(s.name) for s in report.scores])
    auto = isinstance(report.T, str)
    head = f"{'image':<{width}}" + (f"  {'T':>5}" if auto else "") + f"  {'PSNR':>7}  {'SSIM':>6}"
    if report.swept:
        head += f"   {'best T':>6}  {'PSNR':>7}  {'SSIM':>6}"
    lines = [head, "-" * len(head)]

    def row(name, p, s, bt=None, bp=None, bs=None, T=None):
        line = f"{name:<{width}}" + (f"  {_num(T, 2):>5}" if auto else "") + f"  {_num(p, 2):>7}  {_num(s, 4):>6}"
        if report.swept:
            line += f"   {_num(bt, 2):>6}  {_num(bp, 2):>7}  {_num(bs, 4):>6}"
        return line

    for s in report.scores:
        lines.append(row(s.name, s.psnr, s.ssim, s.oracle_T, s.oracle_psnr, s.oracle_ssim, s.T))
    lines.append("-" * len(head))
    lines.append(row("mean", report.mean_psnr, report.mean_ssim,
                     report.mean_oracle_T, report.mean_oracle_psnr, report.mean_oracle_ssim,
                     report.mean_T if auto else None))
    return "\n".join(lines)


def run(args) -> int:
    enhancer = make_enhancer(args)
    T = enhancer.default_T if args.T is None else args.T if isinstance(args.T, str) else check_T(args.T, enhancer.t_max, "--T")
    print(f"model {enhancer.model_name}, T = {T if isinstance(T, str) else format(T, 'g')}, denoise {args.denoise:g}, "
          f"colour noise {args.colour_noise:g}, solver {enhancer.solver.describe()}, device {enhancer.device}", flush=True)

    def progress(fraction: float, name: str) -> None:
        if sys.stderr.isatty() and fraction < 1:
            print(f"\r  scoring {name} ...", end="", file=sys.stderr, flush=True)

    report = evaluate_pairs(enhancer, args.low, args.high, T, sweep=args.sweep,
                            finish=Finish(denoise=args.denoise, colour_noise=args.colour_noise), progress=progress)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    if report.unmatched:
        shown = ", ".join(report.unmatched[:5]) + (" ..." if len(report.unmatched) > 5 else "")
        print(f"clode: note: {len(report.unmatched)} file(s) without a pair skipped: {shown}", file=sys.stderr)
    print(format_report(report))
    if report.swept:
        print("best T: the end time with the highest PSNR against the ground truth (an oracle, "
              "the paper's CLODE-dagger)")
    return 0
