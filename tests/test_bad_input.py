"""Bad input: every broken, missing, foreign or oversized file gives one ImageReadError line that
names the file and the problem; through the CLI, that line on stderr, a non-zero exit, no traceback,
and nothing written."""

import io
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clode.base.errors import ImageReadError
from clode.io.imageio import load_image, load_preview
from conftest import ROOT
from dng import dng_bytes

RUNNING_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _photo(fmt, **kw):
    rng = np.random.default_rng(3)
    img = Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _tiff16():
    import tifffile
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.random.default_rng(4).integers(0, 65535, (96, 128, 3), dtype=np.uint16),
                     photometric="rgb")
    return buf.getvalue()


def _random(n=4096):
    return np.random.default_rng(5).integers(0, 256, n, dtype=np.uint8).tobytes()


def _huge_png(width=30000, height=30000):
    """A valid PNG header announcing 900 MP (a decompression bomb needs no more than that)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


def _huge_jpeg():
    """A small JPEG whose frame header claims 60000 x 60000 pixels."""
    data = bytearray(_photo("JPEG"))
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = (60000).to_bytes(2, "big") * 2
    return bytes(data)


def _gif():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="GIF")
    return buf.getvalue()


def _dng():
    return dng_bytes(np.random.default_rng(6).uniform(0, 1, (64, 96, 3)))


# name -> (file contents or None for "do not create", what the message must say)
CASES = {
    "empty.jpg": (b"", "empty"),
    "empty.png": (b"", "empty"),
    "empty.DNG": (b"", "empty"),
    "truncated.jpg": (lambda: _photo("JPEG")[:1500], "truncated"),
    "truncated.png": (lambda: _photo("PNG")[:5000], "truncated"),
    "truncated.tif": (lambda: _photo("TIFF")[:5000], "truncated"),
    "truncated16.tif": (lambda: _tiff16()[:5000], ""),
    "truncated.dng": (lambda: _dng()[:5000], "RAW"),
    "random.jpg": (_random, "not a valid"),
    "random.png": (_random, "not a valid"),
    "random.tiff": (_random, "not a valid"),
    "random.webp": (_random, "not a valid"),
    "random.bmp": (_random, "not a valid"),
    "random.dng": (_random, "RAW"),
    "random.CR2": (_random, "RAW"),
    "random.nef": (_random, "RAW"),
    "text.jpg": (b"These are my holiday notes, not a photo.\n" * 20, "not a valid"),
    "animation.gif": (_gif, "unsupported file type"),
    "gif_inside.png": (_gif, "not a valid"),
    "notes.txt": (b"hello\n", "unsupported file type"),
    "photo.heic": (_random, "unsupported file type"),
    "no_extension": (lambda: _photo("JPEG"), "unsupported file type"),
    "missing.jpg": (None, ""),
    "bomb.png": (_huge_png, "too large"),
    "bomb.jpg": (_huge_jpeg, "too large"),
}


def make_case(folder: Path, name: str) -> Path:
    content = CASES[name][0]
    path = folder / name
    if content is not None:
        path.write_bytes(content() if callable(content) else content)
    return path


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("loader", [load_image, load_preview])
def test_bad_file_raises_one_line(tmp_path, name, loader):
    path = make_case(tmp_path, name)
    with pytest.raises(ImageReadError) as err:
        loader(path)
    message = str(err.value)
    assert "\n" not in message and name in message
    assert CASES[name][1].lower() in message.lower()
    if name == "missing.jpg":
        assert "not found" in message


def test_folder_given_as_file(tmp_path):
    (tmp_path / "holiday.jpg").mkdir()
    with pytest.raises(ImageReadError, match="holiday.jpg.*folder"):
        load_image(tmp_path / "holiday.jpg")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.jpg"
    path.write_bytes(_photo("JPEG"))
    # the loader asks the OS whether the user may read the file (as root everything is readable,
    # so the answer is simulated here; the real chmod case runs below when not root)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw))
    with pytest.raises(ImageReadError, match="secret.jpg.*permission denied"):
        load_image(path)


@pytest.mark.skipif(RUNNING_AS_ROOT, reason="root can read a chmod 000 file; covered by the os.access test")
def test_unreadable_file_for_real(tmp_path):
    path = tmp_path / "secret.jpg"
    path.write_bytes(_photo("JPEG"))
    path.chmod(0)
    try:
        with pytest.raises(ImageReadError, match="secret.jpg.*permission denied"):
            load_image(path)
    finally:
        path.chmod(0o644)


def test_good_files_still_load(tmp_path):
    """The bad-input paths do not reject good files of the same kinds."""
    for name, data in [("ok.jpg", _photo("JPEG")), ("ok.png", _photo("PNG")), ("ok.tif", _photo("TIFF")),
                       ("ok16.tif", _tiff16()), ("ok.DNG", _dng())]:
        (tmp_path / name).write_bytes(data)
        assert load_image(tmp_path / name).pixels.ndim == 3


# ---------------------------------------------------------------------------------------------
# Through the CLI: every case in-process (cheap), and one of each kind as a real subprocess
# (each starts a Python with torch, a few seconds on a busy machine)

CLI_CASES = list(CASES) + ["folder_as_file.jpg"] + ([] if RUNNING_AS_ROOT else ["unreadable.jpg"])
SUBPROCESS_CASES = ["empty.jpg", "truncated.png", "truncated.dng", "random.CR2", "text.jpg", "photo.heic",
                    "missing.jpg", "folder_as_file.jpg", "bomb.jpg"] + ([] if RUNNING_AS_ROOT else ["unreadable.jpg"])


def _prepare(folder: Path, name: str) -> Path:
    if name == "folder_as_file.jpg":
        (folder / name).mkdir()
        return folder / name
    if name == "unreadable.jpg":
        target = folder / name
        target.write_bytes(_photo("JPEG"))
        target.chmod(0)
        return target
    return make_case(folder, name)


def _check_cli(name, returncode, stdout, stderr, out: Path):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert returncode != 0, stdout + stderr
    assert "Traceback" not in stderr + stdout
    assert len(lines) == 1, stderr
    assert name in lines[0]
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert written == []


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_bad_input(tmp_path, capfd, fixture_model_path, name):
    from clode.commands.cli import main
    target = _prepare(tmp_path, name)
    out = tmp_path / "out"
    code = main(["enhance", str(target), "-o", str(out), "--model", str(fixture_model_path), "--device", "cpu"])
    captured = capfd.readouterr()   # file-descriptor level: C libraries' prints would show here too
    _check_cli(name, code, captured.out, captured.err, out)


def _run_cli(folder: Path, name: str, model: Path):
    target = _prepare(folder, name)
    out = folder / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "clode", "enhance", str(target), "-o", str(out),
                           "--model", str(model), "--device", "cpu"],
                          capture_output=True, text=True, cwd=folder, env=env, timeout=240)
    return proc, out


@pytest.fixture(scope="module")
def subprocess_results(tmp_path_factory, fixture_model_path):
    folders = {name: tmp_path_factory.mktemp("cli") for name in SUBPROCESS_CASES}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_run_cli, folders[name], name, fixture_model_path) for name in SUBPROCESS_CASES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_cli_bad_input_subprocess(subprocess_results, name):
    proc, out = subprocess_results[name]
    _check_cli(name, proc.returncode, proc.stdout, proc.stderr, out)


def test_cli_bad_file_does_not_stop_good_ones(tmp_path, capfd, fixture_model_path):
    from clode.commands.cli import main
    Image.fromarray(np.full((24, 32, 3), 40, np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    code = main(["enhance", str(tmp_path / "bad.jpg"), str(tmp_path / "good.png"), "-o", str(tmp_path / "out"),
                 "--model", str(fixture_model_path), "--device", "cpu", "--solver", "rk4:1"])
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and "bad.jpg" in lines[0]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.png"]
