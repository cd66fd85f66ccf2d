"""The ``clode`` command line, run for real in a subprocess on small images."""

import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import DATASETS, ROOT
from clode.commands.cli import main
from clode.io.imageio import load_image
from clode.engine.weights import DEFAULT_MODEL

LOWLIGHT = DATASETS / "lowlight-dev"
FAST_SOLVER = ["--solver", "rk4:1.0"]   # 3 RK4 steps to T = 3: keeps CI fast
EXACT = ["--mode", "exact", *FAST_SOLVER]


def clode(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "clode", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def dark_image(seed=0, h=40, w=56):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.03, 0.25, w)[None, :, None] * np.array([1.0, 0.8, 0.6])
    return np.clip(ramp + rng.normal(0, 0.01, (h, w, 3)), 0, 1)


def write(path, img, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(path, **kw)
    return path


def read(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255


def assert_clean_failure(result, n_lines):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == n_lines, result.stderr
    assert all(line.startswith("clode: error: ") for line in lines)
    return lines


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    return [write(src / "a.png", dark_image(0)), write(src / "b.jpg", dark_image(1), quality=95)]


def test_enhance_files(tmp_path, photos, fixture_model_path):
    out = tmp_path / "out"
    r = clode("enhance", *photos, "-o", out, "--model", fixture_model_path, "--device", "cpu", *EXACT)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    # each photo keeps its own kind of file: PNG -> PNG, JPEG -> JPEG (high quality)
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    assert [Image.open(out / name).format for name in ("a.png", "b.jpg")] == ["PNG", "JPEG"]
    progress = [line for line in r.stdout.splitlines() if line.startswith("[")]
    assert len(progress) == 2 and "a.png" in progress[0] and "b.jpg" in progress[1]
    for src in photos:
        result = read(out / src.name)
        assert result.shape == (40, 56, 3)
        assert result.mean() > read(src).mean() + 0.02   # the fixture model brightens at T = 3


def test_enhance_folder_keeps_subfolders(tmp_path, fixture_model_path):
    src = tmp_path / "shoot"
    write(src / "one.png", dark_image(2))
    write(src / "day2" / "two.jpg", dark_image(3))
    (src / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    r = clode("enhance", src, "-o", out, "--model", fixture_model_path, *EXACT)
    assert r.returncode == 0, r.stderr
    assert (out / "one.png").is_file() and (out / "day2" / "two.jpg").is_file()
    assert len(list(out.rglob("*"))) == 3     # two photos and one folder, nothing else


def test_negative_T_is_darker(tmp_path, photos, fixture_model_path):
    means = {}
    for T in ("-1.4", "3"):
        out = tmp_path / f"T{T}"
        # "--T -1.4" with a space: argparse must take the negative number as the value.
        r = clode("enhance", photos[0], "-o", out, "--T", T, "--model", fixture_model_path, *EXACT)
        assert r.returncode == 0, r.stderr
        means[T] = read(out / "a.png").mean()
    assert means["-1.4"] < read(photos[0]).mean() < means["3"]


def test_bad_inputs_are_reported_and_the_rest_is_done(tmp_path, photos, fixture_model_path):
    corrupt = tmp_path / "in" / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" * 10)
    missing = tmp_path / "in" / "missing.png"
    out = tmp_path / "out"
    r = clode("enhance", missing, photos[0], corrupt, "-o", out, "--model", fixture_model_path, *EXACT)
    lines = assert_clean_failure(r, 2)
    assert str(missing) in lines[0] and str(corrupt) in lines[1]
    assert [p.name for p in out.iterdir()] == ["a.png"]


def test_refuses_to_write_over_an_input(tmp_path, photos, fixture_model_path):
    folder = photos[0].parent
    before = photos[0].read_bytes()
    r = clode("enhance", folder, "-o", folder, "--format", "png", "--model", fixture_model_path, *EXACT)
    lines = assert_clean_failure(r, 1)
    assert "refusing to write over" in lines[0] and "a.png" in lines[0]
    assert photos[0].read_bytes() == before
    assert (folder / "b.png").is_file()           # b.jpg -> b.png is not an input: written


@pytest.mark.parametrize("problem", ["model file", "solver", "device", "no default model"])
def test_bad_options_give_one_line(tmp_path, photos, fixture_model_path, problem, capsys, monkeypatch):
    # In-process (the subprocess tests above cover the console script itself): cli.main's
    # return code and stderr are exactly what a user sees.
    args = ["enhance", photos[0], "-o", tmp_path / "out"]
    if problem == "model file":
        bad = tmp_path / "model.pth"
        bad.write_bytes(b"garbage" * 100)
        args += ["--model", bad]
    elif problem == "solver":
        args += ["--model", fixture_model_path, "--solver", "rk5:0.1"]
    elif problem == "device":
        args += ["--model", fixture_model_path, "--device", "tpu"]
    else:     # an installation whose default model file went missing
        monkeypatch.setattr("clode.engine.weights.DEFAULT_MODEL", tmp_path / "gone" / DEFAULT_MODEL.name)
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clode: error: ")
    expected = {"model file": "model.pth", "solver": "unknown solver 'rk5:0.1'", "device": "tpu",
                "no default model": "no default model shipped yet"}[problem]
    assert expected in lines[0]
    assert not (tmp_path / "out" / "a.png").exists()


@pytest.fixture(scope="module")
def small_lowlight(tmp_path_factory):
    """lowlight-dev at 48 x 32, so the exact solve stays fast."""
    root = tmp_path_factory.mktemp("lowlight-small")
    for side in ("low", "high"):
        for p in sorted((LOWLIGHT / side).glob("*.png")):
            with Image.open(p) as im:
                (root / side).mkdir(exist_ok=True)
                im.convert("RGB").resize((48, 32), Image.BILINEAR).save(root / side / p.name)
    return root


def table_rows(stdout):
    """{name: [numbers]} of the eval table (rows of names followed by numbers)."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and (parts[0].endswith(".png") or parts[0] == "mean"):
            rows[parts[0]] = [float(v) for v in parts[1:]]
    return rows


def test_eval_with_sweep(small_lowlight, fixture_model_path):
    r = clode("eval", "--low", small_lowlight / "low", "--high", small_lowlight / "high",
              "--model", fixture_model_path, "--sweep", "--solver", "euler:2.0")   # 1 evaluation a step
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert sorted(rows) == [f"0{i}.png" for i in range(7)] + ["mean"]
    for name, (p, s, best_T, best_p, best_s) in rows.items():
        assert 5 < p < 40 and 0 < s <= 1 and 0 < best_s <= 1
        assert 0 <= best_T <= 8
        # T = 3 is on the sweep grid, so the oracle is at least as good.
        assert best_p >= p - 0.01
    assert rows["mean"][0] == pytest.approx(np.mean([rows[f"0{i}.png"][0] for i in range(7)]), abs=0.01)


def test_eval_identity_on_lowlight_dev(fixture_model_path):
    # T = 0 without the denoiser is the identity, so "high" against itself is a perfect score.
    r = clode("eval", "--low", LOWLIGHT / "high", "--high", LOWLIGHT / "high", "--T", "0", "--denoise", "0",
              "--model", fixture_model_path)
    assert r.returncode == 0, r.stderr
    rows = table_rows(r.stdout)
    assert len(rows) == 8
    for p, s in rows.values():
        assert math.isinf(p) and s == 1.0


def test_eval_bad_folder(tmp_path, fixture_model_path):
    r = clode("eval", "--low", tmp_path / "nope", "--high", LOWLIGHT / "high", "--model", fixture_model_path)
    line = assert_clean_failure(r, 1)[0]
    assert "nope" in line and "not a folder" in line


def test_enhance_with_colour_noise_reduction(tmp_path, photos, fixture_model_path):
    common = [photos[0], "--model", fixture_model_path, "--device", "cpu"]
    assert clode("enhance", *common, "-o", tmp_path / "off").returncode == 0
    r = clode("enhance", *common, "-o", tmp_path / "on", "--colour-noise", "1")
    assert r.returncode == 0, r.stderr
    off, on = (load_image(tmp_path / d / "a.png").pixels for d in ("off", "on"))
    assert np.abs(on - off).max() > 1 / 255
    bad = clode("enhance", *common, "-o", tmp_path / "bad", "--colour-noise", "-1")
    assert bad.returncode == 2 and "must be 0 to 4" in bad.stderr and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "clode enhance: error: argument --colour-noise: -1: must be 0 to 4 (see clode enhance --help)"]
