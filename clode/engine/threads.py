"""How many threads torch uses, and how they wait: decided here, for the whole project.

- **Waiting**: OpenMP's threads wait for each other at every layer. Spinning (OpenMP's
  ``ACTIVE`` policy) is what a dedicated machine likes, but on a shared one a thread spins while
  its partner is descheduled: measured on the 2-core machine with others at work, the denoiser
  took 3.0x longer with ``ACTIVE`` than with ``PASSIVE`` (``benchmarks/speed/bench_denoise.py``), and
  two spinning threads burn about five times the CPU of one. So ``PASSIVE``, unless
  ``OMP_WAIT_POLICY`` is set. It must be set before torch loads OpenMP: ``import clode`` does it
  first thing (the CLI, the app and the benchmarks all import clode before torch).
- **How many**: torch's own default, one per core this process may use (``OMP_NUM_THREADS``
  when set); with passive waiting a busy core costs a wait, not a spin, and two threads ran
  the denoiser 2-5x faster than one on the loaded 2-core machine. ``CLODE_THREADS=N`` sets
  another count for every command and the app.

The fast engine's element-wise passes run on one thread whatever this says
(``clode.engine.session._one_thread``), and a batch decodes and writes in two more threads besides.
"""

from __future__ import annotations

import os
from typing import Optional

WAIT_POLICY = "PASSIVE"


def set_wait_policy() -> None:
    """OpenMP's passive waiting unless the environment says otherwise (before torch is imported)."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def requested_threads() -> Optional[int]:
    """``CLODE_THREADS`` as a positive count, or None (unset or not a number: torch's default)."""
    text = os.environ.get("CLODE_THREADS", "").strip()
    try:
        n = int(text)
    except ValueError:
        return None
    return n if n >= 1 else None


def set_thread_count() -> None:
    """Apply ``CLODE_THREADS`` to torch, if set."""
    n = requested_threads()
    if n is not None:
        import torch
        torch.set_num_threads(n)
