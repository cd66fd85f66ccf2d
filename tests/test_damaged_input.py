"""Damaged images and chatty decoders (issue 29): a damaged file is one clear error, never a black
or partial photo; libtiff's and tifffile's own messages never reach stderr."""

import io
import random
import struct

import numpy as np
import pytest
from PIL import Image

from clode.base.errors import ImageReadError
from clode.io.imageio import load_image, load_preview


def _png(seed: int, exif: bool) -> bytes:
    rng = np.random.default_rng(seed)
    a = (rng.random((32, 48, 3)) * 90 + 10).astype(np.uint8)
    buf = io.BytesIO()
    kwargs = {}
    if exif:
        e = Image.Exif()
        e[0x010F] = "Camera"
        kwargs["exif"] = e.tobytes()
    Image.fromarray(a).save(buf, "PNG", **kwargs)
    return buf.getvalue()


def _idat(data: bytes) -> tuple[int, int]:
    """Start and end of the first IDAT chunk's data."""
    pos = 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            return pos + 8, pos + 8 + length
        pos += 12 + length
    raise AssertionError("no IDAT")


def flipped_png(seed: int, exif: bool = False) -> bytes:
    """A PNG with 1-4 bits flipped inside its image data."""
    data = bytearray(_png(seed % 3, exif))
    start, end = _idat(bytes(data))
    rng = random.Random(seed)
    for _ in range(1 + seed % 4):
        data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
    return bytes(data)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("loader", [load_image, load_preview])
def test_bit_flipped_png_is_refused(tmp_path, seed, loader):
    path = tmp_path / "flipped.png"
    path.write_bytes(flipped_png(seed, exif=seed % 2 == 0))
    with Image.open(path) as im:   # the premise: Pillow itself refuses the stream
        with pytest.raises(OSError):
            im.load()
    with pytest.raises(ImageReadError) as e:
        loader(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_cli_bit_flipped_png_is_one_error_not_black(tmp_path, capfd, fixture_model_path):
    from clode.commands.cli import main
    src = tmp_path / "src"
    src.mkdir()
    originals = {}
    for seed in range(6):
        p = src / f"f{seed}.png"
        p.write_bytes(flipped_png(seed))
        originals[p] = p.read_bytes()
    out = tmp_path / "out"
    code = main(["enhance", *map(str, originals), "-o", str(out), "--model", str(fixture_model_path),
                 "--device", "cpu", "--solver", "rk4:1"])
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0
    assert "Traceback" not in err
    assert len(lines) == len(originals), err
    assert not out.exists() or not any(out.iterdir())   # nothing written, black or otherwise
    assert all(p.read_bytes() == data for p, data in originals.items())


# ----------------------------------------------------------------------------------------------
# TIFFs with odd tags: libtiff and tifffile keep their messages to themselves (issue 29)

def tiff_bad_tag_type(path):
    """A 16-bit TIFF (read through tifffile) with a tag of an unknown data type, which tifffile
    skips and reports through logging."""
    import tifffile
    a = (np.random.default_rng(0).random((16, 16, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(path, a, photometric="rgb", metadata=None, extratags=[(65001, "I", 1, 7, True)])
    data = bytearray(path.read_bytes())
    i = data.find(struct.pack("<HHI", 65001, 4, 1))
    data[i + 2:i + 4] = struct.pack("<H", 99)
    path.write_bytes(bytes(data))
    return path


def tiff_short_strip(path):
    """An LZW TIFF (decoded by libtiff inside Pillow) whose description grew by a byte, so its strip
    runs past the end: libtiff prints "TIFFFillStrip: Read error on strip 0"."""
    import tifffile
    a = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    tifffile.imwrite(path, a, photometric="rgb", compression="lzw", description="hello world here", metadata=None)
    path.write_bytes(path.read_bytes().replace(b"hello world here\x00", b"hel\xff\xfeworld herex"))
    return path


def test_tiff_library_messages_stay_off_stderr(tmp_path, capfd, fixture_model_path):
    from clode.commands.cli import main
    quiet = tiff_bad_tag_type(tmp_path / "badtype.tif")
    broken = tiff_short_strip(tmp_path / "shortstrip.tif")
    before = {p: p.read_bytes() for p in (quiet, broken)}
    out = tmp_path / "out"
    code = main(["enhance", str(quiet), str(broken), "-o", str(out), "--model", str(fixture_model_path),
                 "--device", "cpu", "--solver", "rk4:1"])
    err = capfd.readouterr().err   # file-descriptor level: libtiff's C prints would show here
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1 and "shortstrip.tif" in lines[0], err
    assert [p.name for p in out.iterdir()] == ["badtype.tif"]
    assert all(p.read_bytes() == data for p, data in before.items())
