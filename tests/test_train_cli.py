"""``clode train`` as a user runs it (issues 26.7, 29.1, 29.12): its --out never replaces a photo or
another input, replaces a model only when told, is checked before the first step; it starts from
the shipped model as the app's training panel does; a person reads plain lines, a program JSON
events, never both on one stream; bad numbers and paths cost one line."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clode.commands import cli
from clode.engine.weights import DEFAULT_MODEL, load_model

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths (/proc, /dev/full)")


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    """Bare model names land in a folder of the test's own (the original code wrote ``--out ""`` there)."""
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "user"))
    return tmp_path / "user"


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    for i in range(2):
        a = np.random.default_rng(i).integers(5, 60, (72, 72, 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"p{i}.jpg", quality=90)
    return folder


def snapshot(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def train(data, *extra):
    args = ["train", "--data", str(data), "--steps", "1", "--device", "cpu", "--holdout", "0", "--crop", "32",
            "--checkpoint-every", "1", *map(str, extra)]
    try:
        return cli.main(args)
    except SystemExit as e:
        return e.code


def one_error_line(capsys, *words):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clode: error:"), captured.err
    for word in words:
        assert word in lines[0], lines[0]
    assert "step 1" not in captured.out, "refused only after training"
    return lines[0]


def test_out_never_replaces_a_photo_or_an_input(data, tmp_path, capsys):
    before = snapshot(data)
    assert train(data, "--out", data / "p0.jpg") == 1                       # the training photo itself
    one_error_line(capsys, "p0.jpg")
    assert train(data, "--out", data / "p0.jpg", "--overwrite") == 1
    one_error_line(capsys, "p0.jpg")
    # a .safetensors name that is a link to a photo, or a hard link of one: the photo is an input
    (tmp_path / "link.safetensors").symlink_to(data / "p1.jpg")
    assert train(data, "--out", tmp_path / "link.safetensors", "--overwrite") == 1
    one_error_line(capsys, "inputs")
    os.link(data / "p1.jpg", tmp_path / "hard.safetensors")
    assert train(data, "--out", tmp_path / "hard.safetensors", "--overwrite") == 1
    one_error_line(capsys, "inputs")
    # a file that is not a model is never replaced, whatever its name
    notes = tmp_path / "notes.safetensors"
    notes.write_text("my notes")
    assert train(data, "--out", notes, "--overwrite") == 1
    one_error_line(capsys, "not a model file")
    assert notes.read_text() == "my notes"
    assert snapshot(data) == before


@pytest.mark.parametrize("out, words", [("", ["--out"]), ("/proc/x.safetensors", ["cannot write", "/proc"]),
                                        ("x" * 5000 + ".safetensors", ["--out", "cannot write"]), (".safetensors", ["dot"])])
def test_out_checked_before_the_first_step(data, user_data, capsys, out, words):
    before = snapshot(data)
    assert train(data, "--out", out) == 1
    one_error_line(capsys, *words)
    assert snapshot(data) == before and not list(user_data.rglob("*.safetensors"))


@pytest.mark.parametrize("extra, words", [
    (["--seed", "1180591620717411303424"], ["--seed 1180591620717411303424", "must be"]), (["--seed", "-1"], ["--seed"]),
    (["--progress", "/dev/full"], ["--progress /dev/full"]),
    (["--progress", "/proc/nope/x.jsonl"], ["--progress /proc/nope/x.jsonl"])])
def test_bad_seed_and_progress_one_line(data, tmp_path, capsys, extra, words):
    if extra[1] == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    code = train(data, "--out", tmp_path / "m.safetensors", *extra)
    assert code == 1
    line = capsys.readouterr().err.strip().splitlines()
    assert line and all("Traceback" not in x for x in line)
    assert line[-1].startswith("clode: error:") and all(w in line[-1] for w in words), line
    assert not (tmp_path / "m.safetensors").exists()


def test_starts_from_the_shipped_model_and_replaces_a_model_only_when_told(data, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    events = tmp_path / "events.jsonl"
    assert train(data, "--out", out, "--progress", events) == 0
    captured = capsys.readouterr()
    assert load_model(out).info.card["init"] == str(DEFAULT_MODEL)     # as the app's training panel
    # JSON events went to the file only; the screen has the plain lines
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds[0] == "data" and "step" in kinds and kinds[-1] == "done"
    assert not any(line.lstrip().startswith("{") for line in (captured.out + captured.err).splitlines())
    first = out.read_bytes()

    assert train(data, "--out", out) == 1                                    # a model exists: not replaced
    one_error_line(capsys, "--overwrite")
    assert out.read_bytes() == first

    assert train(data, "--out", out, "--overwrite", "--init", "scratch") == 0
    captured = capsys.readouterr()
    assert load_model(out).info.card["init"] is None                         # a random start, when asked
    lines = captured.out.splitlines()
    assert lines and not any(line.lstrip().startswith("{") for line in lines), captured.out
    assert any(line.startswith("1 training photo") or line.startswith("2 training photos") for line in lines)
    assert lines[-1].startswith("model written to")


def test_progress_to_stdout_is_json_only(data, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert train(data, "--out", out, "--progress", "-") == 0
    captured = capsys.readouterr()
    for line in captured.out.splitlines():        # what the app's training panel reads: JSON lines only
        assert json.loads(line)["event"]
    assert "model written to" in captured.err


def test_resume_writes_its_own_model_without_overwrite(data, tmp_path, capsys):
    out = tmp_path / "r.safetensors"
    assert train(data, "--out", out) == 0
    first = out.read_bytes()
    capsys.readouterr()
    # a resume names no --out: it writes the model its run was started for (the checks look at that one)
    assert cli.main(["train", "--data", str(data), "--resume", str(out.with_suffix(".checkpoints")),
                     "--steps", "2", "--device", "cpu"]) == 0
    assert f"model written to {out}" in capsys.readouterr().out
    assert out.read_bytes() != first and load_model(out).info.card["steps"] == 2
