"""The CLI's folder paths, hostile ones included (issues 26.8, 29.4, 29.6, 29.12, 29.15): a symlink
loop among the photos is one refused entry, an output folder that cannot be used costs one line
before any work, name templates cannot grow without bound, names that collide in one run get
unique ones, and refusals show the value as given."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clode import batch, cli
from clode.errors import ClodeError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and mounts")


def photo(path, seed=0, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(5, 60, (*size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return path


def snapshot(folder):
    return {p: p.read_bytes() for p in Path(folder).rglob("*") if p.is_file()}


def clode(*args):
    try:
        return cli.main([os.fspath(a) for a in args])
    except SystemExit as e:
        return e.code


def errors(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert not any("Traceback" in line or "unexpected error" in line for line in lines), text
    return [line for line in lines if line.startswith("clode: error:")]


@pytest.fixture
def model(fixture_model_path):
    return ["--model", str(fixture_model_path)]


# ----------------------------------------------------------------------------------------------
# symlink loops and impossible output folders (29.6, 29.12)

@pytest.fixture
def looping(tmp_path):
    folder = tmp_path / "in"
    photo(folder / "p0.png")
    (folder / "x.jpg").symlink_to("y.jpg")
    (folder / "y.jpg").symlink_to("x.jpg")
    return folder


@pytest.mark.parametrize("command", ["enhance", "batch"])
def test_symlink_loop_among_the_photos_is_one_refused_entry(tmp_path, looping, model, capsys, command):
    before = snapshot(looping)
    out = tmp_path / "out"
    assert clode(command, looping, "-o", out, "--format", "png", *model) == 1
    captured = capsys.readouterr()
    failed = errors(captured.err)
    assert len(failed) == 2 and all("symbolic links" in line for line in failed), captured.err
    assert len(list(out.glob("p0*.png"))) == 1                # the good photo is done
    assert snapshot(looping) == before


@pytest.mark.parametrize("command", ["enhance", "batch"])
@pytest.mark.parametrize("where", ["loop", "long", "file"])
def test_output_folder_that_cannot_be_used_is_one_line_before_any_work(tmp_path, looping, model, capsys,
                                                                       command, where):
    out = {"loop": looping / "x.jpg", "long": tmp_path / ("a" * 5000), "file": looping / "p0.png"}[where]
    before = snapshot(looping)
    assert clode(command, looping, "-o", out, *model) == 1
    captured = capsys.readouterr()
    assert len(errors(captured.err)) == 1 == len(captured.err.strip().splitlines()), captured.err
    assert len(captured.err) < 600                             # a 5,000-character path is shortened
    assert "[1/" not in captured.out                           # refused before the first photo
    assert snapshot(looping) == before


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` read-only: a read-only bind mount of itself as root (root writes through
    permissions), its permissions otherwise."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    r = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"as root, a read-only folder needs mount, not permitted here ({r.stderr.strip()[:80]})")
    try:
        r = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"mount -o remount,ro,bind is not permitted here ({r.stderr.strip()[:80]})")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_read_only_output_folder_one_line_up_front(tmp_path, model, capsys):
    inp = tmp_path / "in"
    for i in range(3):
        photo(inp / f"p{i}.png", i)
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        for command in ("batch", "enhance"):
            assert clode(command, inp, "-o", out, *model) == 1
            captured = capsys.readouterr()
            assert errors(captured.err) == captured.err.strip().splitlines()
            assert len(errors(captured.err)) == 1 and "read-only" in captured.err, captured.err
            assert "[1/" not in captured.out
    assert not list(out.iterdir())


def test_counts_agree_when_the_folder_turns_read_only(tmp_path, fixture_model):
    """A folder that turns read-only after the check: each photo fails once, and the log that
    cannot be written is said apart, not counted as a seventh photo."""
    from clode.enhancer import Enhancer
    inp = tmp_path / "in"
    for i in range(2):
        photo(inp / f"p{i}.png", i)
    out = tmp_path / "out"
    out.mkdir()
    plan = batch.plan(inp, out, batch.BatchOptions())
    with read_only(out):
        result = batch.run(plan, Enhancer(fixture_model, device="cpu"))
    assert result.failed == 2 == plan.total and result.done == 0
    assert "2 failed" in result.headline() and "cannot write the log" in result.log_error
    assert not result.ok


# ----------------------------------------------------------------------------------------------
# name templates (29.4)

@pytest.mark.parametrize("name", ["{stem:>999999999}", "{stem:.999999999}", "{stem:>300}", "{ext:0>9999}",
                                  "{stem}" * 60, "{folder:x<100000000000000000000}"])
def test_name_template_bounded_before_formatting(name):
    with pytest.raises(ClodeError) as e:
        batch.check_template(name)
    assert "--name" in str(e.value) and len(str(e.value)) < 400


def test_name_template_too_long_for_one_photo_is_that_photo_refused(tmp_path):
    inp = tmp_path / "in"
    photo(inp / "short.png")
    photo(inp / ("L" * 240 + ".png"), 1)
    plan = batch.plan(inp, tmp_path / "out", batch.BatchOptions(name="{stem}_clode_{stem:.5}"))
    assert [j.source.name for j in plan.jobs] == ["short.png"]
    assert len(plan.rejected) == 1 and "too long" in plan.rejected[0].reason


def test_reasonable_templates_still_work(tmp_path):
    for name in ("{stem:>12}", "{stem:.3}_{ext}", "{folder}-{stem}", "x{stem:_^20}"):
        batch.check_template(name)
