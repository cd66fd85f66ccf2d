"""How the C heap hands out the large buffers of a render: kept, not returned to the kernel.

glibc serves a request from fresh ``mmap`` pages when it is larger than its mmap threshold
(adaptive, at most 32 MB) and gives freed memory at the heap's top back to the kernel above its
trim threshold. A render allocates and frees buffers of 10-300 MB per strip and per layer, so
each was mapped, page-faulted in 4 KB pages and unmapped again: the page faults cost a third of a
denoiser tile's time. Measured on the 2-core machine, a 444 x 528 tile of the dilated denoiser
took 48.7 ms with glibc's defaults and 32.3 ms with buffers kept (its layers alone: 31 ms).
PyTorch's CPU tuning guide gives the same advice (jemalloc or tcmalloc, which keep memory).

``keep_large_buffers`` raises both thresholds with ``mallopt`` (on glibc; elsewhere it does
nothing): buffers up to ``MMAP_THRESHOLD`` come from the heap and are reused, and up to
``TRIM_THRESHOLD`` of free memory stays with the process. The environment's
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` win when set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

MMAP_THRESHOLD = 512 * 2 ** 20
TRIM_THRESHOLD = 1024 * 2 ** 20
#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_large_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module doc); whether it did."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False      # not glibc (musl has no mallopt)
    done = True
    for env, param, value in (("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                              ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if env not in os.environ:
            done = bool(mallopt(ctypes.c_int(param), ctypes.c_int(value))) and done
    return done
