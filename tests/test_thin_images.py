"""Thin images through the exact path to PNG (issue 29: 2 x 3000, 3000 x 2, 1 x 5000, 5000 x 1 failed
with "cannot encode the image"): libpng gets rows as they lie in memory, whatever the array's layout."""

import io

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided
from PIL import Image

from clode.io.export import write_png

SHAPES = [(3000, 2), (2, 3000), (5000, 1), (1, 5000)]   # (H, W)


@pytest.mark.parametrize("hw", SHAPES)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_write_png_takes_any_layout(hw, dtype):
    h, w = hw
    rng = np.random.default_rng(0)
    chw = (rng.random((3, h, w)) * 200).astype(dtype)
    layouts = [chw.transpose(1, 2, 0)]                      # a channels-first tensor seen as H x W x 3
    base = np.ascontiguousarray(layouts[0])
    odd = (base.strides[0], 7 * base.itemsize * 3, base.itemsize) if w == 1 else \
          (7 * base.itemsize * 3, base.strides[1], base.itemsize) if h == 1 else None
    if odd:                                                  # a size-1 axis with a stride libpng refuses
        layouts.append(as_strided(base, base.shape, odd))
    for a in layouts:
        buf = io.BytesIO()
        write_png(buf, a)
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            assert im.size == (w, h)
            if dtype == np.uint8:
                assert np.array_equal(np.asarray(im.convert("RGB")), base)


def test_exact_mode_to_png_for_thin_images(tmp_path, capfd):
    """With the shipped model (its exact path hands the exporter a channels-first view)."""
    from clode.commands.cli import main
    src = tmp_path / "src"
    src.mkdir()
    originals = {}
    for h, w in [(400, 1), (2, 300)]:
        p = src / f"t{w}x{h}.png"
        Image.fromarray((np.random.default_rng(h).random((h, w, 3)) * 60).astype(np.uint8)).save(p)
        originals[p] = p.read_bytes()
    out = tmp_path / "out"
    code = main(["enhance", *map(str, originals), "-o", str(out), "--mode", "exact", "--format", "png",
                 "--device", "cpu", "--solver", "rk4:1"])
    err = capfd.readouterr().err
    assert code == 0, err
    for p in originals:
        with Image.open(out / p.name) as im:
            assert im.size == Image.open(p).size
            assert np.asarray(im).max() > 0
    assert all(p.read_bytes() == data for p, data in originals.items())
