"""Originals stay whole whatever path reaches them (issue 29.2): a symlinked photo or folder, a hard
link or a bind mount gives one file several paths, and the guards compare files (device, inode),
not spellings. Every case ends with the originals byte-identical."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_clode, snapshot, write_photo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX links and mounts")




def unchanged(before):
    """Every file of ``before`` is there with the same bytes (new outputs and logs may be beside them)."""
    return all(p.is_file() and p.read_bytes() == data for p, data in before.items())




@pytest.fixture
def src(tmp_path):
    folder = tmp_path / "src"
    write_photo(folder / "p0.jpg", 0)
    write_photo(folder / "p0.png", 1)          # an original beside it, with the name a PNG output would take
    return folder


@pytest.fixture
def model(fixture_model_path):
    return ["--model", str(fixture_model_path)]


def test_symlinked_photo_never_replaces_its_neighbour(tmp_path, src, model, capsys):
    links = tmp_path / "links"
    links.mkdir()
    (links / "p0.jpg").symlink_to("../src/p0.jpg")
    write_photo(links / "p0.png", 2)                       # a real photo beside the link
    before = snapshot(src, links)
    assert run_clode("enhance", links / "p0.jpg", "-o", links, "--format", "png", "--on-conflict", "overwrite",
                 *model) == 1
    assert "refused" in capsys.readouterr().err
    assert snapshot(src, links) == before


def test_hard_link_of_an_input_is_never_replaced(tmp_path, src, model, capsys):
    out = tmp_path / "out"
    out.mkdir()
    os.link(src / "p0.png", out / "p0.png")          # the input under a second name, in the output folder
    before = snapshot(src, out)
    assert run_clode("enhance", src / "p0.png", "-o", out, "--on-conflict", "overwrite", *model) == 1
    assert "input" in capsys.readouterr().err
    assert snapshot(src, out) == before
    assert os.path.samefile(src / "p0.png", out / "p0.png")

    # clode batch the same: an output named as a hard link of an original is refused
    os.link(src / "p0.jpg", out / "p0_jpg.jpg")
    before = snapshot(src, out)
    assert run_clode("batch", src, "-o", out, "--name", "{stem}_{ext}", "--on-conflict", "overwrite", *model) == 1
    assert "original" in capsys.readouterr().err
    assert unchanged(before)
    assert os.path.samefile(src / "p0.jpg", out / "p0_jpg.jpg")


def test_symlinked_folder_is_the_input_folder(tmp_path, src, model, capsys):
    linked = tmp_path / "linked"
    linked.symlink_to(src, target_is_directory=True)
    before = snapshot(src)
    assert run_clode("enhance", src / "p0.jpg", "-o", linked, "--format", "png", "--on-conflict", "overwrite",
                 *model) == 1
    assert run_clode("batch", src, "-o", linked, *model) == 1
    assert "must not be the input folder" in capsys.readouterr().err
    assert snapshot(src) == before


@contextlib.contextmanager
def bind_mount(source: Path, target: Path):
    target.mkdir()
    r = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"mount --bind is not permitted here ({(r.stderr or r.stdout).strip()[:80]})")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_bind_mount_of_the_input_folder(tmp_path, src, model, capsys):
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("bind mounts need root (the symlink and hard-link tests cover the same check)")
    before = snapshot(src)
    with bind_mount(src, tmp_path / "bind") as bind:
        assert run_clode("enhance", src / "p0.jpg", "-o", bind, "--format", "png", "--on-conflict", "overwrite",
                     *model) == 1
        assert "refused" in capsys.readouterr().err
        assert snapshot(src) == before
        assert run_clode("batch", src, "-o", bind, *model) == 1
        assert "must not be the input folder" in capsys.readouterr().err
        assert snapshot(src) == before
        # a folder inside the input, reached through the mount: written, and left out of the scan
        assert run_clode("batch", src, "-o", bind / "out", "--format", "png", *model) == 0
        capsys.readouterr()
        assert sorted(p.name for p in (src / "out").glob("*.png")) == ["p0_clode-jpg.png", "p0_clode-png.png"]
        assert run_clode("batch", src, "-o", bind / "out", "--format", "png", "--on-conflict", "skip", *model) == 0
        assert "2 skipped" in capsys.readouterr().out       # the outputs were not taken as inputs
    assert {p: b for p, b in snapshot(src).items() if p.parent == src} == before
