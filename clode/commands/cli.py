"""The ``clode`` command line: one sub-command per module in ``clode.commands``.

Each command module defines ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed args and returning an exit code.
User errors (``ClodeError``) print one line on stderr and exit non-zero;
no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import re
import sys
import warnings
from typing import Optional, Sequence

from clode.base.version import __version__
from clode.base.errors import Cancelled, ClodeError, describe_unexpected

COMMANDS = ["enhance", "eval", "train", "batch"]


class OneLineParser(argparse.ArgumentParser):
    """Bad options cost one line on stderr, like every other user error (argparse adds the usage).

    A value that starts with a minus and a digit is a value, never an option: argparse alone
    takes ``--T -1e-3`` and ``--shard -1/2`` for a missing value ("expected one argument"), as it
    knows only ``-3`` and ``-0.5`` as negative numbers (no option of ours looks like one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d|\.\d|inf|nan)", re.IGNORECASE)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The parser of every command; or, when ``argv`` starts with a command's name, of that one only.

    Each command module brings its own dependencies (``train`` the training code, every engine
    command torch), so ``clode enhance`` imports neither the training code nor anything of the others
    (tests/test_cli_imports.py)."""
    parser = OneLineParser(prog="clode", description="Low-light photo enhancement with CLODE.")
    parser.add_argument("--version", action="version", version=f"clode {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS
    for name in wanted:
        try:
            module = importlib.import_module(f"clode.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"clode.commands.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv=None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # a file name in any byte encoding (held with surrogates) prints instead of raising; a
        # replaced stream (a test's capture, a pipe wrapper) may have no reconfigure
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError):
                reconfigure(errors="backslashreplace")
    # Libraries' warnings (Pillow's, torch's) are not for the user: each failure is one line of ours.
    warnings.simplefilter("ignore")
    if argv is None:
        argv = sys.argv[1:]
    argv = [str(a) for a in argv]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Cancelled:
        print("clode: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("clode: interrupted", file=sys.stderr)
        return 130
    except ClodeError as e:
        print(f"clode: error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print("clode: error: out of memory", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the last guard: one line, never a traceback
        print(f"clode: error: {describe_unexpected(e)}", file=sys.stderr)
        return 1


def run() -> None:
    """The ``clode`` program: ``main``, then leave without Python's finalization. During that
    teardown (torch's takes a while) the interpreter has already put back the default signal
    handlers, so a Ctrl-C or SIGTERM then killed the process (-2, -15) instead of exiting 130
    (``clode.commands.cli_signals``); what the teardown does that matters, atexit's handlers and flushing
    the output, is done here first."""
    try:
        code = main()
    except SystemExit as e:   # argparse's --help, --version and option errors (no work done)
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
