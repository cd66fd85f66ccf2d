"""CLODE: low-light enhancement with a neural ODE in exposure time (no Qt here).

The public API below is re-exported lazily (PEP 562): ``import clode`` or ``import clode.base.adjustments``
loads no torch, so the Qt-free rules, the settings and the CLI's argument parsing start quickly; the
first use of ``clode.Enhancer`` (or of any module that needs torch) loads it.
"""

from __future__ import annotations

import importlib
from typing import Any

from clode.commands.cli_signals import exit_on_signals
from clode.engine.heap import keep_large_buffers
from clode.engine.threads import set_thread_count, set_wait_policy

exit_on_signals()          # first: a signal while torch imports ends a command line run cleanly (130)
set_wait_policy()          # before anything imports torch (clode.engine.threads says why)
keep_large_buffers()     # before the first large buffer (clode.engine.heap says why)
set_thread_count()       # imports torch only when CLODE_THREADS asks for a count

# name -> the submodule that defines it
_EXPORTS = {
    "Adjustments": "base.adjustments",
    "CLODENet": "engine.network",
    "CancelToken": "base.progress",
    "Cancelled": "base.errors",
    "ClodeError": "base.errors",
    "Device": "engine.devices",
    "EXACT": "engine.ode",
    "Enhancer": "engine.enhancer",
    "Finish": "base.finish",
    "ImageReadError": "base.errors",
    "ImageWriteError": "base.errors",
    "ModelInfo": "engine.network",
    "ModelLoadError": "base.errors",
    "Session": "engine.session",
    "Solver": "engine.ode",
    "__version__": "base.version",
    "devices": "engine.devices",
    "load_model": "engine.weights",
    "resolve_device": "engine.devices",
    "save_model": "engine.weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        # ``clode.engine.session`` and the like after a bare ``import clode``, as when this file imported eagerly
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value      # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
