"""CLODE: low-light enhancement with a neural ODE in exposure time (no Qt here)."""

from .cli_signals import exit_on_signals
from .heap import keep_large_buffers
from .threads import set_thread_count, set_wait_policy

exit_on_signals()          # first: a signal while torch imports ends a command line run cleanly (130)
set_wait_policy()          # before anything below imports torch (clode.threads says why)
keep_large_buffers()     # before the first large buffer (clode.heap says why)

from .devices import Device, devices, resolve_device  # noqa: E402
from .enhancer import Enhancer  # noqa: E402
from .errors import Cancelled, ClodeError, ImageReadError, ImageWriteError, ModelLoadError  # noqa: E402
from .network import CLODENet  # noqa: E402
from .ode import EXACT, Solver  # noqa: E402
from .progress import CancelToken  # noqa: E402
from .session import Session  # noqa: E402
from .version import __version__  # noqa: E402
from .weights import ModelInfo, load_model, save_model  # noqa: E402

set_thread_count()

__all__ = [
    "CLODENet", "CancelToken", "Cancelled", "ClodeError", "Device", "EXACT", "Enhancer",
    "ImageReadError", "ImageWriteError", "ModelInfo", "ModelLoadError", "Session", "Solver", "__version__",
    "devices", "load_model", "resolve_device", "save_model",
]
