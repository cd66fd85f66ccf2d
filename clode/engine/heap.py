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
``TRIM_THRESHOLD`` of free memory stays with the process. It also keeps every thread on the main
heap (``ARENA_MAX``): a thread's own heaps are 64 MB at most, so an export in the app's worker thread
still mapped each large buffer afresh: a 24 MP export took 7.12 s in a thread against 6.26 s on the
main thread (medians of 6, one process), and 5.79 s against 6.00 s with one heap. The environment's
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` / ``MALLOC_ARENA_MAX`` win when set.

A long-lived process gives the kept memory back when its work is done (``give_back_free_memory``;
the app's task manager does it whenever its queue empties): after a 24 MP export and its photo were
dropped the process held 0.98 GB, and 0.25 GB (where it started) once given back, in 25 ms.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys

MMAP_THRESHOLD = 512 * 2 ** 20
TRIM_THRESHOLD = 1024 * 2 ** 20
ARENA_MAX = 1
#: ``give_back_free_memory`` leaves less free memory than this where it is (a preview's buffers,
#: which the next preview reuses).
GIVE_BACK_ABOVE = 256 * 2 ** 20
#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


@functools.lru_cache(maxsize=None)
def _libc():
    """The C library's functions as this process has them loaded (no library search at start-up),
    with ``mallinfo2``'s result type declared; None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None)
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
    return libc


def keep_large_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds and keep threads on one heap (see the module doc);
    whether it did."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False      # not Linux, or not glibc (musl has no mallopt)
    done = True
    for env, param, value in (("MALLOC_MMAP_THRESHOLD_", _M_MMAP_THRESHOLD, MMAP_THRESHOLD),
                              ("MALLOC_TRIM_THRESHOLD_", _M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                              ("MALLOC_ARENA_MAX", _M_ARENA_MAX, ARENA_MAX)):
        if env not in os.environ:
            done = bool(mallopt(ctypes.c_int(param), ctypes.c_int(value))) and done
    return done


def free_heap_bytes() -> int | None:
    """Bytes of free memory the heap holds (glibc's ``mallinfo2``), or None where it cannot say."""
    info = getattr(_libc(), "mallinfo2", None)
    return None if info is None else int(info().fordblks)


def give_back_free_memory(above: int = GIVE_BACK_ABOVE) -> bool:
    """Return the heap's free memory to the kernel (glibc's ``malloc_trim``) when it holds more than
    ``above`` bytes of it; whether it did."""
    trim = getattr(_libc(), "malloc_trim", None)
    free = free_heap_bytes()
    if trim is None or (free is not None and free <= above):
        return False
    trim(ctypes.c_size_t(0))
    return True
