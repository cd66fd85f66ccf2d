"""Device-aware training recipes: presets sized to the device, memory estimated and bounded before a
run starts, a Quick run that finishes, validates on held-out photos and loads in the editor."""

import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from conftest import DATASETS

from clode.commands import cli
from clode.training import recipes as recipes
from clode.base.errors import ClodeError
from clode.training.train import TrainConfig
from clode.training.validation import held_out_indices
from clode.engine.weights import DEFAULT_MODEL, load_model

GB = 2**30
CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Six 96 px photos cut from the shared ones."""
    folder = tmp_path_factory.mktemp("photos")
    for i, src in enumerate(sorted((DATASETS / "photos").glob("*.jpg"))[:6]):
        with Image.open(src) as im:
            im = im.convert("RGB")
            im.thumbnail((96, 96))
            im.save(folder / f"p{i}.jpg", quality=92)
    return folder


def test_cpu_quick_recipe_is_small_fixed_step_and_fits_a_laptop():
    r = recipes.recipe("quick", CPU, free=16 * GB)
    assert r.crop <= 64 and r.batch <= 2 and r.solver.startswith("rk4") and not r.adjoint
    est = recipes.estimate(r.crop, r.batch, r.solver, r.adjoint, CPU, free=16 * GB)
    assert est.fits and est.peak_bytes < 3 * GB and est.step_seconds is not None
    assert 20 <= r.steps <= 2000
    assert r.steps * est.step_seconds == pytest.approx(recipes.CPU_MINUTES["quick"] * 60, rel=0.05)


def test_thorough_costs_more_than_quick():
    quick, thorough = recipes.recipe("quick", CPU, free=16 * GB), recipes.recipe("thorough", CPU, free=16 * GB)
    assert thorough.crop * thorough.crop * thorough.batch > quick.crop * quick.crop * quick.batch
    assert thorough.steps * recipes.estimate(thorough.crop, thorough.batch, thorough.solver, thorough.adjoint, CPU,
                                             free=16 * GB).step_seconds > 3 * 60 * recipes.CPU_MINUTES["quick"]


def test_gpu_recipe_is_the_full_one_scaled_to_its_memory():
    big = recipes.recipe("thorough", GPU, free=80 * GB)
    assert (big.crop, big.batch, big.solver, big.adjoint) == (128, 8, "dopri5:1e-3", False)
    small = recipes.recipe("thorough", GPU, free=6 * GB)
    assert small.adjoint or small.batch < 8 or small.crop < 128
    assert recipes.estimate(small.crop, small.batch, small.solver, small.adjoint, GPU, free=6 * GB).fits


def test_a_preset_scales_down_when_memory_is_short():
    r = recipes.recipe("thorough", CPU, free=2 * GB)
    est = recipes.estimate(r.crop, r.batch, r.solver, r.adjoint, CPU, free=2 * GB)
    assert est.fits and est.budget_bytes == int(2 * GB * recipes.MEMORY_SHARE["cpu"])
    with pytest.raises(ClodeError, match="not enough free memory"):
        recipes.recipe("quick", CPU, free=100 * 2**20)


def test_estimate_grows_with_the_work_and_the_adjoint_saves_memory():
    def peak(crop, batch, solver="rk4:0.5", adjoint=False):
        return recipes.estimate(crop, batch, solver, adjoint, CPU, free=64 * GB).peak_bytes

    assert peak(64, 2) < peak(96, 2) < peak(128, 2) and peak(64, 2) < peak(64, 4)
    assert peak(64, 2, "rk4:1.0") < peak(64, 2, "rk4:0.5") < peak(64, 2, "dopri5:1e-5")
    assert peak(128, 8, adjoint=True) < peak(128, 8) / 4
    # Issue 19's measurement: the GPU recipe on a CPU peaked at 22.3 GB
    assert peak(128, 8, "dopri5:1e-3") == pytest.approx(22.3 * GB, rel=0.1)


def test_the_gpu_recipe_on_a_16_gb_cpu_is_refused_in_one_line_and_never_started(photo_dir, tmp_path):
    config = TrainConfig(data=[str(photo_dir)], out=str(tmp_path / "big.safetensors"), crop=128, batch=8,
                         solver="dopri5:1e-3", device="cpu")
    with pytest.raises(ClodeError) as e:
        recipes.check_fits(config, CPU, free=16 * GB)
    message = str(e.value)
    assert "\n" not in message and "would need about" in message and "crop 128, batch 8" in message


def test_cli_refuses_a_setting_that_would_not_fit(photo_dir, tmp_path, capsys):
    out = tmp_path / "huge.safetensors"
    code = cli.main(["train", "--data", str(photo_dir), "--out", str(out), "--device", "cpu", "--crop", "4096",
                     "--max-side", "4096", "--batch", "64", "--solver", "dopri5:1e-3"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "would need about" in err
    assert not out.exists() and not out.with_suffix(".checkpoints").exists()


def test_the_running_eta_follows_recent_steps_not_the_slow_first_one():
    assert recipes.seconds_per_step([0.0]) == 0.0
    assert recipes.seconds_per_step([0.0, 50.0]) == 50.0                 # only the first step so far
    assert recipes.seconds_per_step([0.0, 50.0, 56.0, 62.0, 69.0]) == 6.0
    ends = [0.0, 50.0] + [50.0 + 6 * i for i in range(1, 30)] + [300.0]   # a stall is one step of many
    assert recipes.seconds_per_step(ends) == 6.0


def test_every_training_option_has_help():
    from clode.commands.cli import build_parser
    parser = build_parser(["train"])
    train_parser = next(a for a in parser._subparsers._actions if a.choices).choices["train"]
    missing = [a.option_strings[0] for a in train_parser._actions if a.option_strings and not a.help]
    assert missing == []


def test_held_out_photos_are_spread_and_include_the_first():
    assert held_out_indices(3, 0.15) == []                  # too few to spare any
    assert held_out_indices(6, 0.15) == [0]
    assert held_out_indices(20, 0.15) == [0, 7, 13]
    assert held_out_indices(6, 0.0) == []


def test_quick_cli_run_finishes_validates_loads_and_is_listed_as_a_model(photo_dir, tmp_path, monkeypatch):
    """The Quick preset (its crop shrunk to keep CI fast), from the shipped model, through the CLI."""
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    log = tmp_path / "progress.jsonl"
    proc = subprocess.run([sys.executable, "-m", "clode", "train", "--data", str(photo_dir), "--preset", "quick",
                           "--init", str(DEFAULT_MODEL), "--steps", "2", "--crop", "32", "--max-side", "96",
                           "--device", "cpu", "--out", "quick test", "--progress", str(log)],
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert events[0]["event"] == "data" and events[0]["images"] == 6 and events[0]["held_out"] == 1
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2]
    held = next(e["held_out"] for e in events if e["event"] == "validation")
    assert held["photos"] == 1 and set(held) == {"photos", "before", "after"}
    for scores in (held["before"], held["after"]):
        assert set(scores) == {"loss", "hue_shift", "flat_noise"} and all(v == v for v in scores.values())
    # the editor's model loader takes it, and it is listed as a model, not as a stopped run
    path = tmp_path / "userdata" / "models" / "quick test.safetensors"
    model = load_model(path)
    assert model.info.card["held_out"] == held and model.info.card["images"] == 6
    quick = recipes.recipe("quick", CPU)
    assert model.info.card["solver"] == quick.solver and model.info.card["batch"] == quick.batch
    # a fine-tune keeps the objective its starting model was trained with
    assert model.info.card["loss_weights"] == load_model(DEFAULT_MODEL).info.card["loss_weights"]
    from clode.training.model_library import trained_models, unfinished_runs
    assert (path.parent / "quick test.checkpoints" / "latest.json").exists()      # its checkpoints stay
    assert unfinished_runs() == [] and path in trained_models()
    # the CLI said what it would cost before it started
    assert "steps: about" in proc.stdout and "of memory" in proc.stdout


def test_measured_peak_memory_stays_under_the_estimate(photo_dir, tmp_path):
    """One real step in a fresh process: its peak RSS is below the estimate (which is meant as a
    bound) and not far below it (the estimate is not uselessly loose)."""
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from clode.training.train import TrainConfig, train\n"
            "from clode.engine.weights import DEFAULT_MODEL\n"
            f"train(TrainConfig(data=[{str(photo_dir)!r}], out={str(tmp_path / 'm.safetensors')!r}, steps=1, crop=64, "
            "batch=2, solver='rk4:1.0', init=str(DEFAULT_MODEL), device='cpu', max_side=96))\n"
            "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')]\n"
            "print(int(hwm[0].split()[1]) * 1024)\n")
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the peak from /proc")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    peak = int(proc.stdout.split()[-1])
    est = recipes.estimate(64, 2, "rk4:1.0", False, CPU).peak_bytes
    assert 0.6 * est < peak < est, (peak / GB, est / GB)
