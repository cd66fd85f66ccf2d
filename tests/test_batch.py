"""Batch export (issue 7): planning, running, conflicts, cancel and resume, shards, the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clode import Enhancer

from clode.io import batch, sidecar
from clode.commands.cli import main
from clode.base.errors import ClodeError
from clode.io.export import ExportOptions
from clode.io.imageio import load_image
from clode.base.progress import CancelToken

from dng import make_dng

T_QUICK = 0.5     # a short solve: these tests are about files, not pictures


def photo(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    """A dim, smooth test image (smooth content keeps the ODE solve short)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.05 + 0.2 * xx, 0.05 + 0.15 * yy, 0.1 + 0.1 * xx * yy], -1)
    return np.clip(base + 0.01 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def to8(a: np.ndarray) -> Image.Image:
    return Image.fromarray((a * 255 + 0.5).astype(np.uint8))


def save_jpeg_with_exif(path: Path, a: np.ndarray, make: str = "TestCam", model: str = "Night 1") -> None:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    to8(a).save(path, "JPEG", quality=95, exif=exif.tobytes())


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def tree(tmp_path) -> Path:
    """in/: two photos named alike (a.jpg, a.png), nested folders, a DNG, bad files, non-photos."""
    root = tmp_path / "in"
    (root / "sub" / "deeper").mkdir(parents=True)
    save_jpeg_with_exif(root / "a.jpg", photo(1))
    to8(photo(2)).save(root / "a.png")
    to8(photo(3)).save(root / "sub" / "b.png")
    make_dng(root / "sub" / "deeper" / "c.dng", photo(4))
    (root / "sub" / "bad.jpg").write_bytes(b"this is not a JPEG")
    (root / "sub" / "deeper" / "cut.png").write_bytes((root / "sub" / "b.png").read_bytes()[:60])
    (root / "notes.txt").write_text("not a photo")
    to8(photo(5)).save(root / ".hidden.png")
    return root


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny images gain nothing from a second thread, and on a shared, busy machine torch's
    # thread pool waits on it: measured 10-20x slower with 2 threads than with 1 here.
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def enhancer(fixture_model_path):
    from clode import load_model
    return Enhancer(load_model(fixture_model_path), device="cpu")


def options(**kw) -> batch.BatchOptions:
    kw.setdefault("T", T_QUICK)
    return batch.BatchOptions(**kw)


def outputs(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and not p.name.startswith(batch.LOG_PREFIX))


# ----------------------------------------------------------------------------------------------
# planning (no model needed)

def test_plan_recursive_mirrors_the_tree_and_names_outputs(tree, tmp_path):
    out = tmp_path / "out"
    plan = batch.plan(tree, out, options(recursive=True))
    got = {j.relative.as_posix(): j.target.relative_to(out).as_posix() for j in plan.jobs}
    assert got == {
        "a.jpg": "a_clode-jpg.jpg",           # a.jpg and a.png both want a_clode.jpg
        "a.png": "a_clode-png.jpg",
        "sub/b.png": "sub/b_clode.jpg",
        "sub/bad.jpg": "sub/bad_clode.jpg",
        "sub/deeper/c.dng": "sub/deeper/c_clode.jpg",
        "sub/deeper/cut.png": "sub/deeper/cut_clode.jpg",
    }
    assert plan.total == plan.found == 6 and not plan.rejected


def test_plan_flat_takes_the_top_folder_only_and_uses_the_template(tree, tmp_path):
    out = tmp_path / "out"
    plan = batch.plan(tree, out, options(name="night-{folder}-{stem}",
                                         export=ExportOptions(format="tiff")))
    assert [j.target for j in plan.jobs] == [out / "night-in-a-jpg.tif", out / "night-in-a-png.tif"]


def test_plan_output_inside_the_input_is_not_scanned(tree):
    out = tree / "sub" / "results"
    to8(photo(6)).save((out.mkdir() or out) / "old_clode.png")    # an earlier run's result
    plan = batch.plan(tree, out, options(recursive=True))
    assert all(out not in j.source.parents for j in plan.jobs)
    assert plan.found == 6


def test_plan_refuses_bad_folders_and_options(tree, tmp_path):
    with pytest.raises(ClodeError, match="must not be the input folder"):
        batch.plan(tree, tree, options())
    link = tmp_path / "link"
    link.symlink_to(tree)
    with pytest.raises(ClodeError, match="must not be the input folder"):
        batch.plan(tree, link, options())
    with pytest.raises(ClodeError, match="no such folder"):
        batch.plan(tmp_path / "missing", tmp_path / "out", options())
    with pytest.raises(ClodeError, match="exists and is not a folder"):
        batch.plan(tree, tree / "notes.txt", options())
    with pytest.raises(ClodeError, match="unknown field"):
        batch.plan(tree, tmp_path / "out", options(name="{stem}_{date}"))
    with pytest.raises(ClodeError, match="plain file name"):
        batch.plan(tree, tmp_path / "out", options(name="x/{stem}"))
    with pytest.raises(ClodeError, match="conflict"):
        batch.plan(tree, tmp_path / "out", options(on_conflict="merge"))
    for bad in ("0/4", "5/4", "1", "a/b", "1/0"):
        with pytest.raises(ClodeError, match="--shard"):
            batch.parse_shard(bad)
    # --T is read by the commands' one parser, with the words batch takes
    from clode.commands.common import parse_T
    assert parse_T("auto", batch.T_MODES) == "auto" and parse_T("SIDECAR", batch.T_MODES) == "sidecar"
    assert parse_T("-1.5", batch.T_MODES) == -1.5
    with pytest.raises(ClodeError, match="--T"):
        parse_T("bright", batch.T_MODES)
    with pytest.raises(ClodeError, match="--T"):
        parse_T("sidecar", ("auto",))          # enhance has no sidecar mode


def test_plan_never_targets_an_original(tmp_path):
    # The output folder contains the input folder, and the mirrored tree would land on an original:
    # out/photos/x.jpg is the input's own x.jpg.
    out = tmp_path / "out"
    inp = out / "photos"
    (inp / "photos").mkdir(parents=True)
    to8(photo(1)).save(inp / "x.jpg")
    to8(photo(2)).save(inp / "photos" / "x.jpg")
    plan = batch.plan(inp, out, options(recursive=True, name="{stem}"))
    assert [j.target for j in plan.jobs] == [out / "x.jpg"]
    [refused] = plan.rejected
    assert refused.source == inp / "photos" / "x.jpg" and "is an original photo" in refused.reason


def test_shards_are_disjoint_and_cover_everything(tmp_path):
    root = tmp_path / "big"
    for i in range(60):
        folder = root / f"day{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:04d}.jpg").write_bytes(b"")     # planning looks at names only
    everything = {j.source for j in batch.plan(root, tmp_path / "out", options(recursive=True)).jobs}
    assert len(everything) == 60
    for n in (1, 2, 3, 7):
        shards = [{j.source for j in batch.plan(root, tmp_path / "out", options(recursive=True, shard=(i, n))).jobs}
                  for i in range(1, n + 1)]
        assert set().union(*shards) == everything
        assert sum(len(s) for s in shards) == 60              # disjoint
        if n > 1:
            assert all(shards), "a stable hash spreads 60 files over every shard"
    # deterministic: the same shard again, and unaffected by new files elsewhere
    first = {j.source for j in batch.plan(root, tmp_path / "out", options(recursive=True, shard=(2, 3))).jobs}
    (root / "day0" / "IMG_9999.jpg").write_bytes(b"")
    again = {j.source for j in batch.plan(root, tmp_path / "out", options(recursive=True, shard=(2, 3))).jobs}
    assert first <= again and len(again - first) <= 1


# ----------------------------------------------------------------------------------------------
# running

def test_cli_batch_end_to_end(tree, fixture_model_path, capsys):
    before = digest(tree)
    out = tree / "enhanced"          # inside the input tree: excluded from the scan
    code = main(["batch", str(tree), "-o", str(out), "--recursive", "--T", str(T_QUICK),
                 "--model", str(fixture_model_path), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 1, "two bad files: the exit status says so"
    assert outputs(out) == ["a_clode-jpg.jpg", "a_clode-png.jpg", "sub/b_clode.jpg", "sub/deeper/c_clode.jpg"]
    for name in outputs(out):
        with Image.open(out / name) as im:
            assert im.format == "JPEG" and im.size == (64, 48)
    with Image.open(out / "a_clode-jpg.jpg") as im:
        exif = im.getexif()
        assert exif[0x010F] == "TestCam" and exif[0x0110] == "Night 1"    # metadata kept
        assert "T=0.5" in exif.get(0x010E, "")                           # provenance
    with Image.open(out / "sub" / "deeper" / "c_clode.jpg") as im:
        assert im.getexif()[0x010F] == "CLODE"                           # the DNG's camera
    # progress lines, then the failures on stderr, one line each
    lines = captured.out.splitlines()
    assert lines[0].startswith("6 photos")
    assert sum(line.startswith("[") for line in lines) == 6 and "[6/6]" in captured.out
    assert "ETA" in lines[1] and "elapsed" in lines[1]
    assert "4 done, 0 skipped, 2 failed" in lines[-1]
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("clode: error: ") for e in errors)
    assert "bad.jpg" in errors[0] and "cut.png" in errors[1]
    # the log in the output folder
    [log] = list(out.glob("clode-batch-*.log"))
    text = log.read_text()
    assert "4 done, 0 skipped, 2 failed" in text
    assert "done     sub/deeper/c.dng -> sub/deeper/c_clode.jpg (T=0.5, fixed" in text
    assert "failed   sub/bad.jpg: not a valid JPEG" in text
    assert "failed   sub/deeper/cut.png:" in text
    assert "Traceback" not in captured.err + text
    assert {k: v for k, v in digest(tree).items() if not k.startswith("enhanced/")} == before   # originals untouched


def test_png16_with_metadata_stripped(tmp_path, enhancer):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    save_jpeg_with_exif(inp / "a.jpg", photo(1))
    plan = batch.plan(inp, out, options(export=ExportOptions(format="png", bits=16, strip_metadata=True)))
    result = batch.run(plan, enhancer)
    assert result.ok and result.done == 1
    with Image.open(out / "a_clode.png") as im:
        assert im.format == "PNG"
        assert not im.getexif() and not any("CLODE" in str(v) for v in im.info.values() if isinstance(v, str))
    raw = (out / "a_clode.png").read_bytes()
    assert raw[24] == 16, "PNG IHDR bit depth"
    assert b"TestCam" not in raw


@pytest.mark.parametrize("policy", batch.CONFLICT_POLICIES)
def test_conflict_policies(tmp_path, enhancer, policy):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    to8(photo(1)).save(inp / "x.png")
    (out / "x_clode.jpg").write_bytes(b"an older export")
    result = batch.run(batch.plan(inp, out, options(on_conflict=policy)), enhancer)
    assert result.ok
    [item] = result.items
    if policy == "skip":
        assert item.status == "skipped" and item.target == out / "x_clode.jpg"
        assert (out / "x_clode.jpg").read_bytes() == b"an older export"
        assert outputs(out) == ["x_clode.jpg"]
    elif policy == "overwrite":
        assert item.status == "done" and item.target == out / "x_clode.jpg"
        assert Image.open(out / "x_clode.jpg").format == "JPEG"
        assert outputs(out) == ["x_clode.jpg"]
    else:
        assert item.status == "done" and item.target == out / "x_clode-2.jpg"
        assert (out / "x_clode.jpg").read_bytes() == b"an older export"
        assert Image.open(out / "x_clode-2.jpg").format == "JPEG"
        assert outputs(out) == ["x_clode-2.jpg", "x_clode.jpg"]
    summary = next(out.glob("clode-batch-*.log")).read_text()
    assert f"on_conflict={policy}" in summary and item.status in summary


def test_cancel_mid_batch_then_rerun_with_skip(tmp_path, enhancer):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for i in range(4):
        to8(photo(i)).save(inp / f"p{i}.png")
    token = CancelToken()
    seen = []

    def progress(p: batch.Progress) -> None:
        seen.append(p)
        # cancel while the third photo is being solved
        if p.current == inp / "p2.png" and p.fraction > 2 / 4:
            token.cancel()

    result = batch.run(batch.plan(inp, out, options()), enhancer, progress=progress, cancel=token)
    assert result.cancelled and not result.ok
    assert result.done == 2 and result.not_started == 2
    assert outputs(out) == ["p0_clode.jpg", "p1_clode.jpg"]            # nothing partial, no temp file
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    for name in outputs(out):
        Image.open(out / name).load()                                   # complete files
    assert "cancelled  p2.png" in result.log_path.read_text()
    assert seen[-1].finished == 2 and seen[0].eta is None and any(p.eta is not None for p in seen)

    rerun = batch.run(batch.plan(inp, out, options(on_conflict="skip")), enhancer)
    assert rerun.ok and (rerun.done, rerun.skipped) == (2, 2)
    assert [i.status for i in rerun.items] == ["skipped", "skipped", "done", "done"]
    assert outputs(out) == [f"p{i}_clode.jpg" for i in range(4)]
    assert len(list(out.glob("clode-batch-*.log"))) == 2


def test_cancel_before_start_does_nothing(tmp_path, enhancer):
    inp = tmp_path / "in"
    inp.mkdir()
    to8(photo(1)).save(inp / "p.png")
    token = CancelToken()
    token.cancel()
    result = batch.run(batch.plan(inp, tmp_path / "out", options()), enhancer, cancel=token)
    assert result.cancelled and result.items == [] and outputs(tmp_path / "out") == []


def test_T_from_sidecar_or_auto(tmp_path, enhancer, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    to8(photo(1)).save(inp / "edited.png")
    to8(photo(2)).save(inp / "plain.png")
    sidecar.save_settings(inp / "edited.png", {"T": 0.75, "denoise": 0.5})
    result = batch.run(batch.plan(inp, out, options(T="sidecar")), enhancer)
    assert result.ok
    edited, plain = result.items
    assert (edited.T, edited.denoise, edited.reason) == (0.75, 0.5, "sidecar")
    assert plain.T == pytest.approx(enhancer.auto_T(photo(2)), abs=0.05) and plain.reason == "no sidecar: auto"
    log = result.log_path.read_text()
    assert "edited.png -> edited_clode.jpg (T=0.75, denoise=0.5, sidecar" in log
    assert f"plain.png -> plain_clode.jpg (T={plain.T:g}, no sidecar: auto" in log
    assert outputs(out) == ["edited_clode.jpg", "plain_clode.jpg"]    # sidecars are not photos


def test_T_auto(tmp_path, enhancer):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    to8(photo(1)).save(inp / "p.png")
    result = batch.run(batch.plan(inp, out, options(T="auto")), enhancer)
    [item] = result.items
    assert item.status == "done" and item.reason == "auto"
    assert item.T == pytest.approx(enhancer.auto_T(photo(1)), abs=0.05)


def test_T_auto_follows_the_learned_taste_and_auto_model_does_not(tmp_path, enhancer, monkeypatch):
    """Issue 28: five edits that each chose 0.5 below Auto; --T auto follows them, auto:model not."""
    from clode.engine import taste
    from clode.engine.auto_exposure import FEATURES, Reading
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "data"))
    key = taste.model_key(enhancer.model)
    for i in range(taste.MIN_EDITS):
        features = tuple(float(i + k) for k in range(len(FEATURES)))
        taste.record(key, f"/p/{i}.jpg", Reading(features[-1], features), features[-1] - 0.5)
    inp = tmp_path / "in"
    inp.mkdir()
    to8(photo(1)).save(inp / "p.png")
    T = {}
    for mode in ("auto", "auto:model"):
        [item] = batch.run(batch.plan(inp, tmp_path / mode.replace(":", "-"), options(T=mode)), enhancer).items
        assert item.status == "done" and item.reason == mode
        T[mode] = item.T
    assert T["auto:model"] == pytest.approx(enhancer.auto_T(photo(1), taste=False), abs=0.01)
    assert T["auto"] == pytest.approx(T["auto:model"] - 0.5, abs=0.01)


def test_colour_noise_option_and_sidecar(tmp_path, enhancer):
    inp = tmp_path / "in"
    inp.mkdir()
    to8(photo(2)).save(inp / "a.png")
    to8(photo(2)).save(inp / "b.png")
    sidecar.save_settings(inp / "b.png", {"T": T_QUICK, "colour_noise": 0.0})
    export = ExportOptions(format="png")
    runs = {cn: batch.run(batch.plan(inp, tmp_path / f"out{cn}", options(colour_noise=cn, export=export)), enhancer)
            for cn in (0.0, 1.0)}
    sidecar_run = batch.run(batch.plan(inp, tmp_path / "side", options(T="sidecar", colour_noise=1.0, export=export)),
                            enhancer)
    assert all(r.ok for r in (*runs.values(), sidecar_run))
    read = lambda folder, name: load_image(tmp_path / folder / f"{name}_clode.png").pixels
    assert np.abs(read("out0.0", "a") - read("out1.0", "a")).max() > 1 / 255      # it changes the result
    with Image.open(tmp_path / "out1.0" / "a_clode.png") as im:
        assert "colour_noise=1" in " ".join(str(v) for v in im.info.values())
    assert np.array_equal(read("side", "b"), read("out0.0", "b"))     # the photo's saved setting wins
    log = batch.summary(runs[1.0])
    assert "colour noise=1, neutral colours=off, format=" in log and f"(T={T_QUICK:g}, colour noise=1, fixed" in log


def test_cli_errors_are_one_line(tree, tmp_path, capsys):
    for args, message in ((["--shard", "3/2"], "--shard"), (["--T", "bright"], "--T"),
                          (["--quality", "0"], "--quality"), (["-o", str(tree)], "must not be the input")):
        argv = ["batch", str(tree)] + (["-o", str(tmp_path / "o")] if "-o" not in args else []) + args
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("clode: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_cli_ctrl_c_stops_cleanly_and_skip_resumes(tmp_path, fixture_model_path):
    import os
    import signal
    import subprocess
    import sys
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for i in range(4):
        to8(photo(i)).save(inp / f"p{i}.png")
    argv = [sys.executable, "-m", "clode", "batch", str(inp), "-o", str(out), "--T", str(T_QUICK),
            "--model", str(fixture_model_path), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=Path(__file__).resolve().parent.parent)
    assert proc.stdout.readline().startswith("4 photos")
    assert proc.stdout.readline().startswith("[1/4] done")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr
    assert "cancelled with" in stdout and "Traceback" not in stderr
    done = outputs(out)
    assert 1 <= len(done) < 4 and not [p for p in out.iterdir() if p.name.endswith(".part")]
    code = main(argv[3:] + ["--on-conflict", "skip"])
    assert code == 0
    assert outputs(out) == [f"p{i}_clode.jpg" for i in range(4)]


def test_refused_photos_are_reported_one_by_one(tmp_path, enhancer):
    out = tmp_path / "out"
    inp = out / "photos"
    (inp / "photos").mkdir(parents=True)
    to8(photo(1)).save(inp / "x.png")
    to8(photo(2)).save(inp / "photos" / "x.png")
    before = digest(inp)
    seen = []
    result = batch.run(batch.plan(inp, out, options(recursive=True, name="{stem}",
                                                    export=ExportOptions(format="png"))),
                       enhancer, progress=seen.append)
    assert [(p.finished, p.item.status) for p in seen if p.item] == [(1, "failed"), (2, "done")]
    assert (result.done, result.failed) == (1, 1)
    assert "refused: the output" in result.log_path.read_text()
    assert digest(inp) == before and (out / "x.png").exists()


# ----------------------------------------------------------------------------------------------
# the pipeline: decode ahead, write behind, one model

class Stages:
    """Records which thread ran each stage of which photo, and when. Each write first waits for
    ``gate(photo)`` to return: a test holds a write back until the next photo's enhancement has
    started, whatever the machine's speed."""

    def __init__(self, monkeypatch, enhancer, gate):
        import threading
        import time
        from clode.io import enhance_file
        self.events: list[tuple[str, str, str, float, float]] = []   # stage, photo, thread, start, end
        self.models: set[int] = set()
        self.started = 0      # enhancements started

        def timed(stage, fn, name_of):
            def run(*args, **kw):
                t0 = time.monotonic()
                try:
                    return fn(*args, **kw)
                finally:
                    self.events.append((stage, name_of(args), threading.current_thread().name, t0, time.monotonic()))
            return run

        def slow_save(path, *args, **kw):
            gate(Path(path).stem.split("_")[0])
            return save(path, *args, **kw)

        def enhance(img, *args, **kw):
            self.models.add(id(enhancer.model))
            self.started += 1
            return plain_enhance(img, *args, **kw)

        save, plain_enhance = enhance_file.save_image, enhancer.enhance
        monkeypatch.setattr(batch, "load_image", timed("decode", batch.load_image, lambda a: Path(a[0]).stem))
        monkeypatch.setattr(enhance_file, "save_image", timed("write", slow_save, lambda a: Path(a[0]).stem.split("_")[0]))
        monkeypatch.setattr(enhancer, "enhance", timed("enhance", enhance, lambda a: "?"))

    def of(self, stage: str) -> list[tuple[str, str, str, float, float]]:
        return [e for e in self.events if e[0] == stage]


def test_pipeline_overlaps_stages_and_reports_in_order(tmp_path, enhancer, monkeypatch):
    import threading
    import time
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    for i in range(5):
        to8(photo(i)).save(inp / f"p{i}.png")
    (inp / "p2.png").write_bytes(b"not a PNG")                      # fails at decode
    (out / "p3_clode.jpg").write_bytes(b"an older export")          # skipped
    stages = None

    def gate(name: str) -> None:
        deadline = time.monotonic() + 60
        while name == "p0" and stages.started < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # p0's write waits until p1's enhancement is under way

    stages = Stages(monkeypatch, enhancer, gate)
    seen = []
    result = batch.run(batch.plan(inp, out, options(on_conflict="skip")), enhancer, progress=seen.append)

    statuses = ["done", "done", "failed", "skipped", "done"]
    assert [(it.source.name, it.status) for it in result.items] == [(f"p{i}.png", s) for i, s in enumerate(statuses)]
    reports = [p for p in seen if p.item is not None]
    assert [(p.finished, p.item.status) for p in reports] == list(enumerate(statuses, 1))
    assert [p.fraction for p in seen] == sorted(p.fraction for p in seen) and seen[-1].fraction == 1.0
    assert [p.number for p in seen if p.item is None] == sorted(p.number for p in seen if p.item is None)
    main = threading.current_thread().name
    assert all(e[2] == main for e in stages.of("enhance"))          # the model runs in the caller's thread
    assert all(e[2] != main for e in stages.of("decode") + stages.of("write"))
    writes = {e[1]: e for e in stages.of("write")}
    enhances = stages.of("enhance")
    assert len(enhances) == 3 and sorted(writes) == ["p0", "p1", "p4"]
    assert enhances[1][3] < writes["p0"][4]                          # p1 is enhanced while p0 is written
    assert len(stages.models) == 1                                   # one model for every photo
    assert outputs(out) == ["p0_clode.jpg", "p1_clode.jpg", "p3_clode.jpg", "p4_clode.jpg"]
    assert (out / "p3_clode.jpg").read_bytes() == b"an older export"


def test_pipeline_cancel_mid_flight_finishes_the_writes_under_way(tmp_path, enhancer, monkeypatch):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    for i in range(5):
        to8(photo(i)).save(inp / f"p{i}.png")
    import threading
    token = CancelToken()
    cancelled = threading.Event()
    # p1's write waits for the cancel: it is under way when the cancel comes
    stages = Stages(monkeypatch, enhancer, lambda name: name != "p1" or cancelled.wait(60))
    seen = []
    in_flight = []

    def progress(p: batch.Progress) -> None:
        seen.append(p)
        if p.current == inp / "p2.png" and p.fraction > 2 / 5 and not token.cancelled:
            # p1's write is under way, p3 is decoded ahead
            in_flight.append(p.finished)
            token.cancel()
            cancelled.set()

    result = batch.run(batch.plan(inp, out, options()), enhancer, progress=progress, cancel=token)
    assert in_flight == [1], "the cancel came while p1 was still being written"
    assert result.cancelled and result.done == 2 and result.not_started == 3
    assert [it.source.name for it in result.items] == ["p0.png", "p1.png"]
    assert outputs(out) == ["p0_clode.jpg", "p1_clode.jpg"]          # no partial file, no temporary file
    for name in outputs(out):
        Image.open(out / name).load()
    assert sorted(e[1] for e in stages.of("write")) == ["p0", "p1"]
    assert [e[1] for e in stages.of("decode")][:4] == ["p0", "p1", "p2", "p3"]
    assert seen[-1].finished == 2 and seen[-1].item.source.name == "p1.png"
    log = result.log_path.read_text()
    assert all(f"cancelled  p{i}.png" in log for i in (2, 3, 4))


def test_cli_batch_loads_the_model_once(tmp_path, fixture_model_path, monkeypatch, capsys):
    from clode.commands import common
    inp = tmp_path / "in"
    inp.mkdir()
    for i in range(3):
        to8(photo(i)).save(inp / f"p{i}.png")
    loads, devices = [], []
    plain_load, plain_render = common.load_model, batch.render_for_file
    monkeypatch.setattr(common, "load_model", lambda *a, **kw: loads.append(a) or plain_load(*a, **kw))

    def render(*args, enhancer, **kw):
        devices.append((id(enhancer), id(enhancer.model), enhancer.device,
                        next(enhancer.model.parameters()).data_ptr()))
        return plain_render(*args, enhancer=enhancer, **kw)

    monkeypatch.setattr(batch, "render_for_file", render)
    assert main(["batch", str(inp), "-o", str(tmp_path / "out"), "--T", str(T_QUICK),
                 "--model", str(fixture_model_path), "--device", "cpu"]) == 0
    assert len(loads) == 1 and len(devices) == 3 and len(set(devices)) == 1
