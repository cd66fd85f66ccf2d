"""What real folders contain, tried as a hostile but realistic user would (issue 17): tiny sides,
long and non-UTF-8 names, every bad number, damaged sidecars and model files, a FIFO, a
decompression bomb, two batches into one folder, kills at random moments. Each gives its output
or one clean line, never a traceback, within bounded memory, and nothing is ever overwritten."""

import os
import random
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clode.io import batch, sidecar

from clode.commands import cli
from clode.base.adjustments import MAX_STRENGTH, MAX_T, Adjustments, check_T
from clode.base.atomic import PART_PREFIX, atomic_write, part_name, remove_stale
from clode.base.errors import ClodeError, ModelLoadError
from clode.io.export import ExportOptions
from clode.io.imageio import load_image
from clode.engine.weights import load_model, save_model
from conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX names, FIFOs and signals")

#: A wrapper that runs the CLI and reports its peak memory (kB on Linux) as the last stderr line.
RUN_WITH_RSS = ("import resource, sys\nfrom clode.commands.cli import main\n"
                "try:\n    code = main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
                "print('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
                "sys.exit(code)\n")
#: Peak memory a CLI run on this corpus may take (torch alone is ~400 MB; the bomb would take GBs).
MAX_RSS_MB = 1500


def clode(*args, timeout=120, env=None):
    r = subprocess.run([sys.executable, "-c", RUN_WITH_RSS, *map(os.fsdecode, args)], capture_output=True,
                       cwd=ROOT, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
    out = r.stdout.decode("utf-8", "replace")
    err_lines = r.stderr.decode("utf-8", "replace").splitlines()
    rss_kb = int(err_lines[-1].split()[1]) if err_lines and err_lines[-1].startswith("MAXRSS") else 0
    err = "\n".join(line for line in err_lines if not line.startswith("MAXRSS"))
    assert "Traceback" not in err and "Warning" not in err, err
    assert rss_kb / 1024 < MAX_RSS_MB, f"peak memory {rss_kb / 1024:.0f} MB"
    return r.returncode, out, err


def png(path, h, w, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(5, 60, (h, w, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return path


def bomb_png(path, width=20000, height=20000):
    """A valid PNG header declaring 400 MP (exactly the pixel limit): only its decode's memory refuses it."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 4000)) + chunk(b"IEND", b""))
    return path


def float_tiff(path, dtype):
    import tifffile
    a = np.random.default_rng(1).uniform(0, 0.3, (6, 9, 3))
    a = (a * (2 ** 32 - 1)).astype(dtype) if np.dtype(dtype).kind == "u" else a.astype(dtype)
    tifffile.imwrite(path, a, photometric="rgb")
    return path


def snapshot(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def parts(folder):
    return [p for p in Path(folder).rglob("*") if p.name.endswith(".part")]


# ----------------------------------------------------------------------------------------------
# the corpus through the CLI

def test_corpus_output_or_one_line(tmp_path, fixture_model_path):
    inp = tmp_path / "in"
    sizes = {"1x1": (1, 1), "1x2": (1, 2), "2x3": (2, 3), "2x300": (2, 300), "300x1": (300, 1), "3x3": (3, 3)}
    for name, (h, w) in sizes.items():
        png(inp / f"tiny_{name}.png", h, w)
    long_ok = png(inp / ("L" * 242 + ".png"), 8, 8)                  # 246 characters; output 252
    long_too = png(inp / ("M" * 247 + ".png"), 8, 8)                  # output would be 257: one line
    odd = png(inp / os.fsdecode(b"caf\xe9-\xff.png"), 8, 8)          # not UTF-8 (Latin-1 bytes)
    float_tiff(inp / "float32.tif", np.float32)
    float_tiff(inp / "uint32.tif", np.uint32)
    bomb_png(inp / "bomb.png")
    fifo = inp / "pipe.png"
    os.mkfifo(fifo)
    sidecars = {"tiny_3x3.png": '{"T": 1e308, "denoise": true}', "tiny_1x1.png": "[" * 100000 + "]" * 100000,
                "tiny_1x2.png": '{"T": ' + "9" * 5000 + ', "colour_noise": {"a": [1]}}',
                "tiny_2x3.png": '{"T": 1e9}'}
    for photo, text in sidecars.items():
        sidecar.sidecar_path(inp / photo).write_text(text)
    os.mkfifo(sidecar.sidecar_path(inp / "tiny_2x300.png"))        # a FIFO sidecar must not block
    before = snapshot(inp)

    out = tmp_path / "out"
    code, stdout, err = clode("batch", inp, "-o", out, "--T", "sidecar", "--format", "png",
                              "--model", fixture_model_path, timeout=300)
    assert code == 1
    produced = {p.name for p in out.iterdir()}
    for name in sizes:
        assert f"tiny_{name}_clode.png" in produced, stdout
        h, w = sizes[name]
        assert Image.open(out / f"tiny_{name}_clode.png").size == (w, h)
    assert "L" * 242 + "_clode.png" in produced
    assert os.fsdecode(b"caf\xe9-\xff_clode.png") in produced
    assert "float32_clode.png" in produced and "uint32_clode.png" in produced
    failed = [line for line in err.splitlines() if line.startswith("clode: error:")]
    assert len(failed) == 3, err                       # the bomb, the FIFO photo and the too-long name
    assert any("bomb.png" in line and "GiB" in line for line in failed)
    assert any("pipe.png" in line and "not a regular file" in line for line in failed)
    assert any(long_too.name[:40] in line and "too long" in line for line in failed)
    log = next(out.glob("clode-batch-*.log")).read_text("utf-8", "surrogateescape")
    assert os.fsdecode(b"caf\xe9-\xff.png") in log
    assert "T 1e+308" in log and "not a number" in log      # damaged sidecar values: a warning, then defaults
    assert snapshot(inp) == before and not parts(out)
    assert long_ok.exists() and odd.exists()

    # clode enhance on the same folder: the same outputs or lines, and no file left behind
    code, stdout, err = clode("enhance", inp, "-o", tmp_path / "enh", "--model", fixture_model_path, timeout=300)
    assert code == 1 and len([line for line in err.splitlines() if line.startswith("clode: error:")]) == 2, err
    assert (tmp_path / "enh" / "tiny_1x1.png").exists() and (tmp_path / "enh" / "float32.tif").exists()
    assert snapshot(inp) == before


def test_bad_numbers_one_line(tmp_path, fixture_model_path, capsys):
    photo = png(tmp_path / "in" / "a.png", 6, 6)
    out = tmp_path / "out"
    model = ["--model", str(fixture_model_path)]
    cases = [
        ["enhance", photo, "-o", out, "--T", "inf"], ["enhance", photo, "-o", out, "--T", "1e9"],
        ["enhance", photo, "-o", out, "--T", "-1e4", *model], ["enhance", photo, "-o", out, "--T", "7", *model],
        ["enhance", photo, "-o", out, "--denoise", "nan"], ["enhance", photo, "-o", out, "--denoise", "-5"],
        ["enhance", photo, "-o", out, "--denoise", "1e9"], ["enhance", photo, "-o", out, "--colour-noise", "inf"],
        ["batch", photo.parent, "-o", out, "--T", "inf"], ["batch", photo.parent, "-o", out, "--T", "1e9"],
        ["batch", photo.parent, "-o", out, "--colour-noise", "1e9"], ["batch", photo.parent, "-o", out, "--name", "{stem:%}"],
        ["batch", photo.parent, "-o", out, "--name", "{stem!z}"], ["batch", photo.parent, "-o", out, "--T", "8", *model],
        ["eval", "--low", out, "--high", out, "--denoise", "nan"],
        ["enhance", photo, "-o", out, "--solver", "rk4:1e-300", *model],
    ]
    for args in cases:
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
        err = capsys.readouterr().err
        assert code in (1, 2) and "Traceback" not in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "error" in err, (args, err)
    assert not out.exists() or not list(out.iterdir())
    # T at the edges of the model's range works, and a tiny T too
    for T in ("1e-300", "-0.25", "0.5"):
        assert cli.main(["enhance", str(photo), "-o", str(out / T), "--T", T, *model]) == 0


def train_args(tmp_path, *extra):
    data = tmp_path / "data"
    if not data.exists():
        for i in range(2):
            png(data / f"{i}.png", 40, 40, seed=i)
    return ["train", "--data", str(data), "--device", "cpu", "--out", str(tmp_path / "m.safetensors"), *extra]


@pytest.mark.parametrize("extra", [["--crop", "0"], ["--crop", "-5"], ["--crop", "100000"], ["--lr", "nan"],
                                   ["--lr", "inf"], ["--T", "nan"], ["--T", "1e9"], ["--checkpoint-every", "0"],
                                   ["--steps", "0"], ["--steps", "-1"], ["--minutes", "-1"], ["--batch", "0"],
                                   ["--E", "nan"], ["--w-exposure", "inf"], ["--max-side", "0"]])
def test_training_options_refused_before_training(tmp_path, capsys, extra):
    assert cli.main(train_args(tmp_path, *extra)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and extra[0] in err and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_training_out_an_existing_folder(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    args = train_args(tmp_path)
    args[args.index("--out") + 1] = str(tmp_path / "taken")
    assert cli.main(args) == 1
    assert "is a folder" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# the validation layer, sidecars and model files

def test_limits_refuse_every_bad_number():
    for bad in (float("nan"), float("inf"), 10 ** 400, "1e999", True, None, [1], {"a": 1}, "x"):
        for name in ("T", "denoise", "colour_noise"):
            with pytest.raises(ClodeError):
                Adjustments.from_mapping({name: bad})
    with pytest.raises(ClodeError, match="must be 0 to 4"):
        Adjustments.from_mapping({"denoise": 1e30})
    assert Adjustments.from_mapping({"denoise": MAX_STRENGTH}).denoise == MAX_STRENGTH
    with pytest.raises(ClodeError, match="T 7: must be -6 to 6"):
        check_T(7, 6.0)
    assert check_T("-6", 6.0) == -6.0 and MAX_T >= 6


def test_damaged_sidecars_fall_back_with_a_warning(tmp_path):
    photo = png(tmp_path / "p.png", 4, 4)
    for text, problem in [('{"T": 1e308, "denoise": 0.5}', "T 1e+308"), ('{"T": true}', "T True"),
                          ('{"denoise": 1e30}', "denoise 1e+30"), ('{"T": ' + "9" * 400 + "}", "huge integer"),
                          ('{"colour_noise": [[[[1]]]]}', "colour noise")]:
        sidecar.sidecar_path(photo).write_text(text)
        saved = sidecar.load(photo)
        assert problem in saved.warning(), (text, saved.warning())
        assert saved.adjustments() == Adjustments(**{k: v for k, v in saved.settings.items()
                                                     if k in Adjustments.names()})
    # damaged as a whole: no settings, and a warning like a damaged value's (issue 29)
    sidecar.sidecar_path(photo).write_text("[" * 50000)
    saved = sidecar.load(photo)
    assert saved.settings == {} and "damaged sidecar" in saved.warning()
    sidecar.sidecar_path(photo).unlink()
    os.mkfifo(sidecar.sidecar_path(photo))
    start = time.monotonic()
    saved = sidecar.load(photo)
    assert time.monotonic() - start < 2
    assert saved.settings == {} and "not a regular file" in saved.warning()


def _resave(fixture_model, path, **meta_changes):
    from safetensors.torch import load_file, safe_open, save_file
    save_model(fixture_model, path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    tensors = meta_changes.pop("tensors", None)
    if tensors:
        state.update(tensors(state))
    meta.update(meta_changes)
    save_file(state, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("change, problem", [
    (dict(default_T="banana"), "default_T"), (dict(default_T="inf"), "default_T"), (dict(t_max="nan"), "t_max"),
    (dict(t_max="1e9"), "t_max"), (dict(default_T="9", t_max="6"), "default_T"), (dict(darken="sideways"), "darken"),
    (dict(tensors=lambda s: {k: torch.full_like(v, float("nan")) for k, v in list(s.items())[:1]}), "NaN"),
    (dict(tensors=lambda s: {k: torch.full_like(v, 1e30) for k, v in list(s.items())[:1]}), "large"),
])
def test_damaged_model_files(tmp_path, fixture_model, change, problem):
    path = _resave(fixture_model, tmp_path / "m.safetensors", **change)
    with pytest.raises(ModelLoadError, match=problem):
        load_model(path)


def test_damaged_model_card_and_fifo_model(tmp_path, fixture_model):
    path = _resave(fixture_model, tmp_path / "m.safetensors", card="{not json" + "[" * 10000)
    assert load_model(path).info.card == {"damaged": True}
    os.mkfifo(tmp_path / "pipe.safetensors")
    with pytest.raises(ModelLoadError, match="not a regular file"):
        load_model(tmp_path / "pipe.safetensors")


def test_decode_budget_refuses_from_the_header(tmp_path):
    path = bomb_png(tmp_path / "b.png", 3000, 3000)
    with pytest.raises(ClodeError, match="GiB to decode"):
        load_image(path, max_bytes=100 * 2 ** 20)
    assert load_image(png(tmp_path / "ok.png", 300, 300), max_bytes=100 * 2 ** 20).size == (300, 300)


# ----------------------------------------------------------------------------------------------
# never overwrite: conflicts, the input tree, two processes at once

def test_exclusive_write_never_replaces(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"mine")
    with atomic_write(target, exclusive=True, alternatives=[tmp_path / "a-2.png"]) as w:
        w.tmp.write_bytes(b"new")
    assert w.path == tmp_path / "a-2.png" and target.read_bytes() == b"mine"
    long = tmp_path / ("x" * 250 + ".png")                  # 254 bytes: the temporary name must not add any
    with atomic_write(long) as w:
        w.tmp.write_bytes(b"ok")
    assert long.read_bytes() == b"ok" and len(w.tmp.name) < 40
    stale = tmp_path / part_name(pid=2 ** 22 + 12345)      # a writer that is gone
    stale.write_bytes(b"half")
    live = tmp_path / part_name()                          # ours: still writing
    live.write_bytes(b"half")
    assert remove_stale(tmp_path) == [stale] and live.exists()


def test_enhance_never_replaces_a_neighbour(tmp_path, fixture_model_path, capsys):
    folder = tmp_path / "shoot"
    jpg = folder / "IMG_1.jpg"
    folder.mkdir()
    Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).save(jpg)
    other = png(folder / "IMG_1.png", 8, 8, seed=9)          # a different original with the output's name
    before = snapshot(folder)
    model = ["--model", str(fixture_model_path), "--T", "0.25", "--format", "png"]
    assert cli.main(["enhance", str(jpg), "-o", str(folder), *model]) == 0
    assert (folder / "IMG_1-2.png").exists()
    assert cli.main(["enhance", str(jpg), "-o", str(folder), "--on-conflict", "overwrite", *model]) == 1
    assert "overwrite never replaces" in capsys.readouterr().err
    assert cli.main(["enhance", str(jpg), "-o", str(folder), "--on-conflict", "skip", *model]) == 0
    assert all(snapshot(folder)[p] == data for p, data in before.items()) and other.exists()


def test_batch_overwrite_never_touches_the_input_tree(tmp_path, enhancer_fixture):
    inp = tmp_path / "in"
    png(inp / "a.png", 6, 6)
    out = inp / "Holiday"                                    # an existing folder of originals inside the input
    keep = png(out / "a_clode.png", 6, 6, seed=4)
    data = keep.read_bytes()
    options = batch.BatchOptions(T=0.25, on_conflict="overwrite", export=ExportOptions(format="png"))
    result = batch.run(batch.plan(inp, out, options), enhancer_fixture)
    assert result.failed == 1 and "inside the input folder" in result.items[0].reason
    assert keep.read_bytes() == data
    outside = tmp_path / "elsewhere"
    png(outside / "a_clode.png", 6, 6, seed=4)
    result = batch.run(batch.plan(inp, outside, options), enhancer_fixture)
    assert result.done == 1 and (outside / "a_clode.png").read_bytes() != keep.read_bytes()


@pytest.fixture
def enhancer_fixture(fixture_model):
    from clode import Enhancer
    return Enhancer(fixture_model, device="cpu")


def _provenance_T(path):
    with Image.open(path) as im:
        text = " ".join(str(v) for v in im.info.values())
    return float(text.split("T=")[1].split(",")[0].split(")")[0])


def test_two_batches_into_one_folder(tmp_path, fixture_model_path):
    inp = tmp_path / "in"
    for i in range(6):
        png(inp / f"p{i}.png", 24, 24, seed=i)
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "clode", "batch", str(inp), "-o", str(out), "--T", T,
                               "--format", "png", "--denoise", "0", "--model", str(fixture_model_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "OMP_NUM_THREADS": "1"}) for T in ("0.25", "0.5")]
    results = [(T, *p.communicate(timeout=240)) for T, p in zip((0.25, 0.5), procs)]
    claimed = {}
    for T, stdout, stderr in results:
        assert "Traceback" not in stderr
        done = [line.split(" -> ")[1].split(" (")[0] for line in stdout.splitlines() if "] done " in line]
        assert len(done) == 6, stdout
        for name in done:
            assert name not in claimed, f"{name} reported by both runs"
            claimed[name] = T
            assert _provenance_T(out / name) == T           # the file holds this run's result
    assert len([p for p in out.glob("*.png")]) == 12 and not parts(out)


# ----------------------------------------------------------------------------------------------
# kills at random moments

def test_kills_leave_no_temporary_files(tmp_path, fixture_model_path):
    inp = tmp_path / "in"
    for i in range(5):
        png(inp / f"k{i}.png", 48, 48, seed=i)
    before = snapshot(inp)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "clode", "batch", str(inp), "-o", str(out), "--format", "tiff", "--bits", "16",
            "--on-conflict", "skip", "--T", "0.5", "--model", str(fixture_model_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(17)
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for line in p.stdout:                                # kill once a file is done: mid-batch
            if "] done " in line or "] skipped " in line:
                break
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        assert "Traceback" not in err
        if sig == signal.SIGTERM and p.returncode != 0:
            assert p.returncode == 130 and "cancelled" in err and len(err.strip().splitlines()) == 1, err
    # A write killed between its temporary file and its rename (a window too short to hit by chance).
    writer = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom clode.base.atomic import atomic_write\n"
                               "with atomic_write(sys.argv[1]) as w:\n    w.tmp.write_bytes(b'half')\n"
                               "    print('writing', flush=True)\n    time.sleep(60)\n", str(out / "k0_clode.tif")],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    assert len(parts(out)) >= 1
    r = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
    assert r.returncode == 0, r.stderr
    assert not parts(out) and not [p for p in out.iterdir() if p.name.startswith(PART_PREFIX)]
    assert sorted(p.name for p in out.glob("*.tif")) == [f"k{i}_clode.tif" for i in range(5)]
    assert "0 failed" in r.stdout
    for p in out.glob("*.tif"):
        load_image(p)                                        # whole files only
    assert snapshot(inp) == before
