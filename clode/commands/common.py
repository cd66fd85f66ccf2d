"""Options shared by the commands that run a model: --model, --device, --precision, --solver; the adjustments'
options; and the signal handling of the commands that write files."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from typing import Iterator

from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE, Adjustments, Limits
from clode.commands.cli_signals import mark_stopping
from clode.engine.denoise_speed import AUTO, PRECISIONS
from clode.engine.enhancer import Enhancer
from clode.base.errors import ClodeError
from clode.engine.ode import EXACT, Solver
from clode.base.progress import CancelToken
from clode.engine.weights import load_model

#: The smallest step a fixed-step solver may take (a smaller one would solve for hours).
MIN_SOLVER_STEP = 0.01


def add_engine_options(parser: argparse.ArgumentParser, precision: str = AUTO) -> None:
    """--model, --device, --precision (default ``precision``) and --solver."""
    parser.add_argument("--model", metavar="FILE",
                        help="model file: ours (.safetensors) or an official CLODE .pth (default: the shipped model)")
    parser.add_argument("--device", default="auto", metavar="DEV",
                        help="auto (default: CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--precision", choices=(AUTO,) + PRECISIONS, default=precision,
                        help=f"the denoiser's arithmetic: auto (bfloat16 on a CPU that computes it natively, "
                             f"within 1 level of 255 of float32; float32 elsewhere), float32 (the reference) or "
                             f"bfloat16 (default {precision})")
    parser.add_argument("--solver", metavar="SPEC",
                        help="ODE solver of the exact path: dopri5 (the default, tolerance 1e-5), "
                             "dopri5:TOL, or a fixed-step method and its step, e.g. rk4:0.5")


def checked(limits: Limits):
    """An argparse type: a number within ``limits`` (a bad one costs argparse's one line, which
    names the option: ``argument --denoise: 'nan' is not a finite number``)."""
    unnamed = limits.where("")

    def parse(text: str) -> float:
        try:
            return unnamed.check("", text)
        except ClodeError as e:
            raise argparse.ArgumentTypeError(str(e).strip()) from None
    return parse


#: The words --T takes besides a number, and what each means (a command accepts some of them).
#: A new way of choosing T per photo is one more entry here, and its meaning in ``clode.io.batch``.
T_WORDS = {
    "auto": "chosen per photo",
    "auto:model": "chosen per photo by the model's Auto alone, without the taste learned from your edits",
    "sidecar": "the settings saved by the editor (photos without them get auto)",
}


def parse_T(text, words: tuple[str, ...] = ("auto",)):
    """The one reading of --T for every command: an end time (negative darkens) within the
    setting's limits, or one of ``words`` (``T_WORDS``), lower-cased; ClodeError names --T and
    the text as given. The model's own range is checked once it is loaded
    (``clode.base.adjustments.check_T``)."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else Adjustments.limits("T").where("--T").check("T", text)
    word = str(text).strip().lower()
    if word in words:
        return word
    try:
        float(word)
    except (ValueError, OverflowError):
        expected = " or ".join([", ".join(["a number", *words[:-1]]), words[-1]] if words else ["a number"])
        raise ClodeError(f"--T {str(text)[:40]!r}: expected {expected}") from None
    return Adjustments.limits("T").where("--T").check("T", text)


def exposure(text: str):
    """argparse type of enhance's --T (``parse_T``: a number, auto or auto:model)."""
    try:
        return parse_T(text, ("auto", "auto:model"))
    except ClodeError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--T ").strip()) from None


def setting(name: str):
    """argparse type of the ``Adjustments`` setting ``name`` (its limits, named as the option)."""
    return checked(Adjustments.limits(name))


def add_adjustment_options(parser: argparse.ArgumentParser) -> None:
    """--denoise, --colour-noise, --neutral and --protect: the ``Adjustments`` besides T, with the editor's
    defaults."""
    parser.add_argument("--denoise", type=setting("denoise"), default=DEFAULT_DENOISE, metavar="S",
                        help=f"denoiser strength, 0 = off (default {DEFAULT_DENOISE:g}, at most "
                             f"{Adjustments.limits('denoise').hi:g}); scaled by the noise "
                             "measured in each photo, so clean photos are left alone")
    add_colour_noise_option(parser, DEFAULT_COLOUR_NOISE, "as in the editor")
    parser.add_argument("--neutral", action="store_true",
                        help="take out the photo's colour cast (white balance); by default the photo keeps its colours")
    parser.add_argument("--protect", type=setting("protect"), default=0.0, metavar="P",
                        help="protect highlights, 0-1 (default 0 = off; the editor's Protect highlights "
                             "at 100 %% is 1): lamps, lit windows and bright sky get a shorter exposure "
                             "than the shadows, so they keep their detail")


def add_colour_noise_option(parser: argparse.ArgumentParser, default: float, why: str) -> None:
    parser.add_argument("--colour-noise", dest="colour_noise", type=setting("colour_noise"), default=default,
                        metavar="S", help="colour-noise reduction after the denoiser: 0 = off, 1 = a 2-pixel "
                                          f"chroma blur, at most {Adjustments.limits('colour_noise').hi:g} "
                                          f"(default {default:g}: {why})")


def add_long_edge_option(parser: argparse.ArgumentParser) -> None:
    """--long-edge: shrink each result so its long side is at most N pixels (never enlarged)."""
    def pixels(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of pixels, not {text!r}") from None
        if not 1 <= n <= 100_000:
            raise argparse.ArgumentTypeError(f"{n}: must be 1 to 100000 pixels")
        return n
    parser.add_argument("--long-edge", dest="long_edge", type=pixels, default=None, metavar="N",
                        help="shrink each result so its long side is at most N pixels (Lanczos, on the "
                             "float result; never enlarged; default: full size)")


def adjustments_from(args: argparse.Namespace) -> Adjustments:
    """The options' ``Adjustments`` (T at its default: the commands decide T themselves)."""
    return Adjustments.from_mapping({name: getattr(args, name) for name in Adjustments.names()
                                     if name != "T" and hasattr(args, name)})


def make_enhancer(args: argparse.Namespace) -> Enhancer:
    """The Enhancer the engine options describe; option errors raise ClodeError before any work."""
    solver = Solver.parse(args.solver) if args.solver else EXACT
    if solver.fixed_step and solver.step_size is not None and solver.step_size < MIN_SOLVER_STEP:
        raise ClodeError(f"--solver {args.solver}: the step must be {MIN_SOLVER_STEP:g} or more")
    model = load_model(args.model)
    return Enhancer(model, device=args.device, solver=solver, precision=getattr(args, "precision", AUTO))


@contextlib.contextmanager
def stop_on_signals(cancel: CancelToken) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``cancel``: the work stops at its next check, after cleaning up (no
    partial file); a second one stops at once (KeyboardInterrupt, still through ``finally``)."""
    def interrupt(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        # No line here: the command says "cancelled" once it has stopped (one line per signal exit).
        mark_stopping()
        cancel.cancel()

    if threading.current_thread() is not threading.main_thread():   # handlers live in the main thread only
        yield
        return
    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
