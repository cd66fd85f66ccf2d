"""The CLI's folder paths, hostile ones included (issues 26.8, 29.4, 29.6, 29.12, 29.15): a symlink
loop among the photos is one refused entry, an output folder that cannot be used costs one line
before any work, name templates cannot grow without bound, names that collide in one run get
unique ones, and refusals show the value as given."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from clode.io import batch

from conftest import run_clode, snapshot, write_photo
from clode.base.errors import ClodeError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and mounts")






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
    write_photo(folder / "p0.png")
    (folder / "x.jpg").symlink_to("y.jpg")
    (folder / "y.jpg").symlink_to("x.jpg")
    return folder


@pytest.mark.parametrize("command", ["enhance", "batch"])
def test_symlink_loop_among_the_photos_is_one_refused_entry(tmp_path, looping, model, capsys, command):
    before = snapshot(looping)
    out = tmp_path / "out"
    assert run_clode(command, looping, "-o", out, "--format", "png", *model) == 1
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
    assert run_clode(command, looping, "-o", out, *model) == 1
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
        write_photo(inp / f"p{i}.png", i)
    out = tmp_path / "out"
    out.mkdir()
    with read_only(out):
        for command in ("batch", "enhance"):
            assert run_clode(command, inp, "-o", out, *model) == 1
            captured = capsys.readouterr()
            assert errors(captured.err) == captured.err.strip().splitlines()
            assert len(errors(captured.err)) == 1 and "read-only" in captured.err, captured.err
            assert "[1/" not in captured.out
    assert not list(out.iterdir())


def test_counts_agree_when_the_folder_turns_read_only(tmp_path, fixture_model):
    """A folder that turns read-only after the check: each photo fails once, and the log that
    cannot be written is said apart, not counted as a seventh photo."""
    from clode.engine.enhancer import Enhancer
    inp = tmp_path / "in"
    for i in range(2):
        write_photo(inp / f"p{i}.png", i)
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
    write_photo(inp / "short.png")
    write_photo(inp / ("L" * 240 + ".png"), 1)
    plan = batch.plan(inp, tmp_path / "out", batch.BatchOptions(name="{stem}_clode_{stem:.5}"))
    assert [j.source.name for j in plan.jobs] == ["short.png"]
    assert len(plan.rejected) == 1 and "too long" in plan.rejected[0].reason


def test_reasonable_templates_still_work(tmp_path):
    for name in ("{stem:>12}", "{stem:.3}_{ext}", "{folder}-{stem}", "x{stem:_^20}"):
        batch.check_template(name)


# ----------------------------------------------------------------------------------------------
# smaller things (29.15)

def test_refusals_show_the_value_as_given(tmp_path, model, capsys):
    p = write_photo(tmp_path / "in" / "a.png")
    for command, where in (("enhance", p), ("batch", p.parent)):
        assert run_clode(command, where, "-o", tmp_path / "out", "--T", "6.0000001", *model) == 1
        err = capsys.readouterr().err
        assert "--T 6.0000001: must be" in err, err
    assert run_clode("enhance", p, "-o", tmp_path / "out", "--denoise", "4.0000001") == 2
    assert "4.0000001: must be 0 to 4" in capsys.readouterr().err


def test_negative_values_are_values_not_options(tmp_path, model, capsys):
    p = write_photo(tmp_path / "in" / "a.png")
    assert run_clode("enhance", p, "-o", tmp_path / "o1", "--T", "-1e-3", *model) == 0
    assert "T=-0.001" in capsys.readouterr().out
    assert run_clode("batch", p.parent, "-o", tmp_path / "o2", "--T", "-1e-3", "--format", "png", *model) == 0
    assert "T=-0.001" in capsys.readouterr().out
    assert run_clode("batch", p.parent, "-o", tmp_path / "o3", "--shard", "-1/2", *model) == 1
    err = capsys.readouterr().err
    assert "--shard '-1/2': need 1 <= i <= n" in err and "expected one argument" not in err


def test_batch_logs_in_one_second_are_all_kept(tmp_path, monkeypatch, fixture_model):
    from clode.engine.enhancer import Enhancer
    monkeypatch.setattr(batch, "log_name", lambda shard=None: "clode-batch-20260101-000000.log")
    write_photo(tmp_path / "in" / "a.png")
    enhancer = Enhancer(fixture_model, device="cpu")
    options = batch.BatchOptions(on_conflict="skip")
    logs = [batch.run(batch.plan(tmp_path / "in", tmp_path / "out", options), enhancer).log_path for _ in range(4)]
    assert [p.name for p in logs] == ["clode-batch-20260101-000000.log", "clode-batch-20260101-000000-2.log",
                                      "clode-batch-20260101-000000-3.log", "clode-batch-20260101-000000-4.log"]
    assert all("result:" in p.read_text() for p in logs)


def test_same_output_name_in_one_run_gets_a_unique_name(tmp_path, model, capsys):
    inp = tmp_path / "in"
    write_photo(inp / "a.bmp", 0)
    write_photo(inp / "a.png", 1)
    before = snapshot(inp)
    assert run_clode("enhance", inp / "a.bmp", inp / "a.png", "-o", tmp_path / "e", *model) == 0
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["a-2.png", "a.png"]
    capsys.readouterr()

    case = tmp_path / "case"
    write_photo(case / "UPPER.JPG", 0)
    write_photo(case / "upper.jpg", 1)
    assert run_clode("batch", case, "-o", tmp_path / "b", *model) == 0
    names = sorted(p.name for p in (tmp_path / "b").glob("*.jpg"))
    assert len(names) == 2 and len({n.lower() for n in names}) == 2, names
    assert snapshot(inp) == before


def test_a_huge_model_name_does_not_fail_every_photo(tmp_path, fixture_model_path, capsys):
    from clode.engine.weights import load_model, save_model
    named = save_model(load_model(fixture_model_path), tmp_path / "named.safetensors", name="N" * 100_000)
    p = write_photo(tmp_path / "in" / "a.jpg")
    p.rename(p.with_suffix(".png"))
    write_photo(tmp_path / "in" / "b.png", 1)
    assert run_clode("batch", tmp_path / "in", "-o", tmp_path / "out", "--model", named) == 0
    assert len(list((tmp_path / "out").glob("*.jpg"))) == 2
    exif = Image.open(next((tmp_path / "out").glob("*.jpg"))).getexif()
    assert 0 < len(exif.get(0x010E, "")) < 1000                 # the description, bounded


# ----------------------------------------------------------------------------------------------
# one folder path (27.3)

def test_enhance_of_a_folder_runs_the_batch_loop(tmp_path, model, capsys, monkeypatch):
    write_photo(tmp_path / "in" / "a.png")
    write_photo(tmp_path / "in" / "sub" / "b.jpg", 1)
    calls = []
    real_run = batch.run

    def spy(plan, enhancer, **kw):
        calls.append(plan)
        return real_run(plan, enhancer, **kw)
    monkeypatch.setattr(batch, "run", spy)
    assert run_clode("enhance", tmp_path / "in", "-o", tmp_path / "out", *model) == 0
    assert run_clode("batch", tmp_path / "in", "-o", tmp_path / "b", "-r", *model) == 0
    assert len(calls) == 2 and [len(p.jobs) for p in calls] == [2, 2]
    out = capsys.readouterr().out
    assert "2 written to" in out and "2 done, 0 skipped, 0 failed" in out
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "sub" / "b.jpg").is_file()
