"""The denoiser's precision and layout (clode.engine.denoise_speed) and the project's thread settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clode import Enhancer, load_model
from clode.base.finish import Finish
from clode.engine.denoise_speed import as_net, denoiser_for, fast_denoiser, native_bfloat16
from clode.engine.tiles import denoise_tiled

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "datasets" / "photos"


@pytest.fixture(scope="module")
def model():
    return load_model(None).eval()      # the shipped model: its denoiser is the one users run


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    """A real photo, darkened, with sensor grain: what the denoiser is for."""
    src = sorted(PHOTOS.glob("*.jpg"))[0]
    with Image.open(src) as im:
        a = np.asarray(im.convert("RGB").resize((200, 136)), np.float32) / 255
    a = a ** 2.2 * 0.25 + np.random.default_rng(0).normal(0, 0.01, a.shape)
    return np.clip(a, 0, 1).astype(np.float32)


def test_float32_is_the_reference_bit_for_bit(model, noisy):
    x = torch.from_numpy(noisy * 3).clamp(0, 1).permute(2, 0, 1)[None].contiguous()
    plain = denoise_tiled(model, x, tile=64)
    for channels_last in (False, True):
        wrapped = denoise_tiled(as_net(fast_denoiser(model.output_denoiser, channels_last=channels_last)), x, tile=64)
        assert torch.allclose(wrapped, plain, atol=1e-6)
    assert torch.equal(denoise_tiled(as_net(fast_denoiser(model.output_denoiser)), x, tile=64), plain)


@pytest.mark.parametrize("channels_last", [False, True])
def test_bfloat16_within_a_level_of_float32(model, noisy, channels_last):
    x = torch.from_numpy(noisy * 3).clamp(0, 1).permute(2, 0, 1)[None].contiguous()
    reference = denoise_tiled(model, x, tile=64)
    fast = denoise_tiled(as_net(fast_denoiser(model.output_denoiser, precision="bfloat16", channels_last=channels_last)),
                         x, tile=64)
    assert fast.dtype == torch.float32 and fast.shape == reference.shape
    diff = (fast - reference).abs() * 255
    assert diff.mean() <= 0.5 and diff.max() <= 2.0
    assert diff.max() > 0          # it did run in bfloat16


def test_the_wrapper_tells_what_the_denoiser_tells(model):
    model.output_denoiser.reach = 7               # e.g. how many pixels it sees on each side
    try:
        for precision in ("float32", "bfloat16"):
            wrapped = fast_denoiser(model.output_denoiser, precision=precision)
            assert wrapped.reach == 7 and wrapped.module is model.output_denoiser
            assert not hasattr(wrapped, "no_such_thing")
    finally:
        del model.output_denoiser.reach


def test_auto_picks_bfloat16_only_where_native(model):
    assert denoiser_for(model.output_denoiser, torch.device("cuda")).dtype == torch.float32
    cpu = denoiser_for(model.output_denoiser, torch.device("cpu"))
    assert cpu.dtype == (torch.bfloat16 if native_bfloat16() else torch.float32)
    assert cpu.layout == (torch.channels_last if native_bfloat16() else torch.contiguous_format)
    assert denoiser_for(model.output_denoiser, torch.device("cpu"), "float32").dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        denoiser_for(model.output_denoiser, torch.device("cpu"), "float16")


def test_enhancer_renders_within_a_level_of_float32(model, noisy):
    finish = Finish(denoise=1.0, colour_noise=0.5)
    reference = Enhancer(model, device="cpu", precision="float32").enhance(noisy, 3.0, finish, dtype=np.uint8)
    fast = Enhancer(model, device="cpu", precision="bfloat16").enhance(noisy, 3.0, finish, dtype=np.uint8)
    diff = np.abs(fast.astype(int) - reference)
    assert diff.mean() <= 1.0 and diff.max() <= 3


def run_python(code: str, **env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "CLODE_THREADS")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**base, **env}, timeout=120).stdout.split()


def test_threads_are_set_in_one_place():
    probe = "import os, clode, torch; print(os.environ['OMP_WAIT_POLICY'], torch.get_num_threads())"
    assert run_python(probe, CLODE_THREADS="1") == ["PASSIVE", "1"]
    assert run_python(probe, OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1") == ["ACTIVE", "1"]   # the user's own
    assert run_python(probe, CLODE_THREADS="lots", OMP_NUM_THREADS="1") == ["PASSIVE", "1"]     # not a count: default


def test_enhancer_follows_a_replaced_denoiser(fixture_model_path):
    enhancer = Enhancer(load_model(fixture_model_path), device="cpu", precision="float32")
    first = enhancer.denoiser
    assert first.module is enhancer.model.output_denoiser and enhancer.denoiser is first   # set up once
    enhancer.model.replace_denoiser("dilated" if enhancer.model.denoiser_kind == "published" else "published")
    assert enhancer.denoiser.module is enhancer.model.output_denoiser is not first.module


def test_bfloat16_runs_in_the_cpu_tiles_without_seams(model, noisy):
    wide = np.concatenate([noisy] * 11, axis=1)            # 136 x 2200: three tiles of up to 1024
    x = torch.from_numpy(wide * 3).clamp(0, 1).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
    fast = as_net(fast_denoiser(model.output_denoiser, precision="bfloat16", channels_last=True))
    diff = (denoise_tiled(fast, x) - denoise_tiled(fast, x, tile=64)).abs() * 255
    assert diff.max() <= 1.0


HEAP_PROBE = """
import ctypes, sys, threading
{setup}
libc = ctypes.CDLL("libc.so.6")
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
def probe():
    p = libc.malloc(300 << 20)
    mapped = libc.mallinfo2().hblkhd
    libc.free(ctypes.c_void_p(p))
    print(mapped >= 300 << 20, libc.mallinfo2().fordblks >= 300 << 20)
probe()
worker = threading.Thread(target=probe)    # the app renders in a worker thread
worker.start()
worker.join()
from clode.engine.heap import give_back_free_memory
print(give_back_free_memory(), libc.mallinfo2().fordblks < 300 << 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's heap")
def test_large_buffers_come_from_the_heap_and_stay_after_import_clode_until_given_back():
    # glibc alone maps a 300 MB buffer afresh and unmaps it on free, and a thread's own heaps
    # cannot hold it; after import clode it is carved from the one heap and kept for the next
    # one, on the main thread and in a worker, until given back (clode.engine.heap)
    assert run_python(HEAP_PROBE.format(setup="")) == ["True", "False", "True", "False", "False", "True"]
    assert run_python(HEAP_PROBE.format(setup="import clode")) == ["False", "True", "False", "True", "True", "True"]
