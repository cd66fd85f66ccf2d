"""Options shared by the commands that run a model: --model, --device, --solver."""

from __future__ import annotations

import argparse

from ..adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE, Adjustments
from ..enhancer import Enhancer
from ..ode import EXACT, Solver
from ..weights import load_model


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="FILE",
                        help="model file: ours (.safetensors) or an official CLODE .pth (default: the shipped model)")
    parser.add_argument("--device", default="auto", metavar="DEV",
                        help="auto (default: CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--solver", metavar="SPEC",
                        help="ODE solver of the exact path: dopri5 (the default, tolerance 1e-5), "
                             "dopri5:TOL, or a fixed-step method and its step, e.g. rk4:0.5")


def exposure(text: str):
    """argparse type of --T: an end time (negative darkens) or "auto" (chosen per photo)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, not {text!r}") from None


def add_adjustment_options(parser: argparse.ArgumentParser) -> None:
    """--denoise, --colour-noise and --neutral: the ``Adjustments`` besides T, with the editor's defaults."""
    parser.add_argument("--denoise", type=float, default=DEFAULT_DENOISE, metavar="S",
                        help=f"denoiser strength, 0 = off (default {DEFAULT_DENOISE:g}); scaled by the noise "
                             "measured in each photo, so clean photos are left alone")
    add_colour_noise_option(parser, DEFAULT_COLOUR_NOISE, "as in the editor")
    parser.add_argument("--neutral", action="store_true",
                        help="take out the photo's colour cast (white balance); by default the photo keeps its colours")


def add_colour_noise_option(parser: argparse.ArgumentParser, default: float, why: str) -> None:
    parser.add_argument("--colour-noise", dest="colour_noise", type=strength, default=default, metavar="S",
                        help="colour-noise reduction after the denoiser: 0 = off, 1 = a 2-pixel chroma blur "
                             f"(default {default:g}: {why})")


def adjustments_from(args: argparse.Namespace) -> Adjustments:
    """The options' ``Adjustments`` (T at its default: the commands decide T themselves)."""
    return Adjustments.from_mapping({name: getattr(args, name) for name in Adjustments.names()
                                     if name != "T" and hasattr(args, name)})


def strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def make_enhancer(args: argparse.Namespace) -> Enhancer:
    """The Enhancer the engine options describe; option errors raise ClodeError before any work."""
    solver = Solver.parse(args.solver) if args.solver else EXACT
    model = load_model(args.model)
    return Enhancer(model, device=args.device, solver=solver)

