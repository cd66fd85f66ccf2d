"""Training on tiny images: the loss goes down, resume is exact, cancel is clean, DDP runs."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATASETS

from clode import CancelToken, Cancelled, Enhancer, load_model
from clode.training.losses import LossWeights, clode_loss, trajectory_terms
from clode.engine.ode import Solver, integrate
from clode.training.train import TrainConfig, find_checkpoint, train
from clode.training.data import TrainingImages


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """Six small photos cut from a real one, plus a broken file the loader must skip."""
    src = sorted((DATASETS / "photos").glob("*.jpg"))[:3]
    folder = tmp_path_factory.mktemp("photos")
    for i, path in enumerate(src):
        img = Image.open(path).convert("RGB")
        img.thumbnail((96, 96))
        img.save(folder / f"p{i}.jpg", quality=95)
        img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / f"q{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def tiny_config(photo_dir, out, **kw):
    base = dict(data=[str(photo_dir)], out=str(out), steps=6, crop=32, batch=2, lr=2e-3, solver="euler:1.0",
                checkpoint_every=3, device="cpu", max_side=96, seed=1)
    base.update(kw)
    return TrainConfig(**base)


def loss_on_fixed_batch(net, photo_dir):
    gen = torch.Generator().manual_seed(123)
    batch = TrainingImages([photo_dir], max_side=96).batch(4, 32, gen)
    with torch.no_grad():
        (final,) = integrate(net, batch, [3.0], Solver.parse("euler:1.0"), loss_terms=trajectory_terms(net))
        return float(clode_loss(batch, final, LossWeights(), 0.6)["total"])


def test_data_skips_broken_files(photo_dir):
    images = TrainingImages([photo_dir], max_side=96)
    assert len(images) == 6
    assert [p.name for p, _ in images.skipped] == ["broken.jpg"]


def test_a_few_steps_lower_the_loss(photo_dir, tmp_path):
    torch.manual_seed(1)
    from clode.engine.network import CLODENet
    before = loss_on_fixed_batch(CLODENet(), photo_dir)  # same seed -> the trainer's initial weights
    result = train(tiny_config(photo_dir, tmp_path / "m.safetensors", steps=12, seed=1))
    after = loss_on_fixed_batch(load_model(result.model_path), photo_dir)
    assert after < before * 0.9, (before, after)


def test_resume_matches_uninterrupted_run(photo_dir, tmp_path):
    straight = train(tiny_config(photo_dir, tmp_path / "a.safetensors"))
    token = CancelToken()
    events = []

    def progress(event):
        events.append(event)
        if event["event"] == "checkpoint" and event["step"] == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        train(tiny_config(photo_dir, tmp_path / "b.safetensors"), progress=progress, cancel=token)
    assert json.loads((tmp_path / "b.checkpoints" / "latest.json").read_text())["step"] == 3
    resumed_events = []
    resumed = train(tiny_config(photo_dir, tmp_path / "b.safetensors"), resume=tmp_path / "b.checkpoints",
                    progress=resumed_events.append)
    steps = [e["step"] for e in resumed_events if e["event"] == "step"]
    assert steps == [4, 5, 6]
    a, b = load_model(straight.model_path).state_dict(), load_model(resumed.model_path).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_cancel_keeps_last_checkpoint(photo_dir, tmp_path):
    token = CancelToken()
    steps = []

    def progress(event):
        if event["event"] == "step":
            steps.append(event["step"])
            if event["step"] == 4:
                token.cancel()

    out = tmp_path / "c.safetensors"
    with pytest.raises(Cancelled):
        train(tiny_config(photo_dir, out), progress=progress, cancel=token)
    assert steps == [1, 2, 3, 4]              # stopped before step 5 began
    assert not out.exists()                   # no final model from a cancelled run
    ckpt = find_checkpoint(tmp_path / "c.checkpoints")
    assert ckpt.name == "step-000003"
    assert not list((tmp_path / "c.checkpoints").glob(".tmp-*"))
    load_model(ckpt / "model.safetensors")


def test_cancel_inside_the_solve(photo_dir, tmp_path):
    """A cancel that arrives during a step's ODE solve stops that step."""
    token = CancelToken()
    calls = []

    from clode.engine.network import CLODENet
    original = CLODENet.curve

    def counting_curve(self, t, image):
        calls.append(1)
        if len(calls) == 2:
            token.cancel()
        return original(self, t, image)

    CLODENet.curve = counting_curve
    try:
        with pytest.raises(Cancelled):
            train(tiny_config(photo_dir, tmp_path / "d.safetensors"), cancel=token)
    finally:
        CLODENet.curve = original
    assert len(calls) == 2  # the evaluation after the cancel never ran


def test_trained_model_carries_card_and_enhances(photo_dir, tmp_path):
    result = train(tiny_config(photo_dir, tmp_path / "e.safetensors", name="tiny"))
    model = load_model(result.model_path)
    card = model.info.card
    assert model.info.name == "tiny" and card["steps"] == 6 and card["images"] == 6
    assert card["E"] == 0.6 and card["T"] == 3.0 and card["loss_weights"]["smoothness"] == 200.0
    img = np.random.default_rng(0).random((24, 32, 3), dtype=np.float32) * 0.2
    out = Enhancer(model, device="cpu").enhance(img, T=3.0)
    assert out.shape == img.shape and out.dtype == np.float32 and np.isfinite(out).all()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_train_runs_data_parallel_with_two_processes(photo_dir, tmp_path):
    out = tmp_path / "ddp.safetensors"
    log = tmp_path / "progress.jsonl"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
           "--master_addr=127.0.0.1", "-m", "clode", "train", "--data", str(photo_dir), "--steps", "3",
           "--crop", "32", "--batch", "4", "--solver", "euler:1.0", "--device", "cpu", "--max-side", "96",
           "--out", str(out), "--progress", str(log)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = load_model(out).info.card
    assert card["processes"] == 2 and card["steps"] == 3
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "step"] == [1, 2, 3]  # rank 0 only reports


def test_cli_train_rejects_empty_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "clode", "train", "--data", str(tmp_path), "--steps", "1",
                           "--out", str(tmp_path / "x.safetensors")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "no usable training photos" in proc.stderr


def test_negative_loss_integrals_earn_nothing():
    """A negative integral of a non-negative integrand is solver error: it must not lower the loss."""
    inp = torch.full((2, 3, 32, 32), 0.2)
    state = torch.cat([torch.full((2, 3, 32, 32), 0.5), torch.zeros(2, 2, 32, 32)], 1)
    state[0, 3], state[1, 3], state[:, 4] = -0.01, 0.02, -0.5
    state.requires_grad_(True)
    terms = clode_loss(inp, state, LossWeights(), E=0.6)
    assert terms["smoothness"].item() == pytest.approx(0.01) and terms["noise"].item() == 0.0
    terms["total"].backward()
    assert state.grad[0, 3].abs().sum() == 0 and state.grad[1, 3].abs().sum() > 0 and state.grad[:, 4].abs().sum() == 0


def test_denoiser_only_refit_lowers_its_loss_and_leaves_the_curve(photo_dir, tmp_path):
    from clode.training.losses import denoising
    from clode.engine.network import CLODENet
    from clode.engine.ode import logistic
    from clode.engine.weights import save_model
    torch.manual_seed(3)
    init = save_model(CLODENet(), tmp_path / "init.safetensors")
    gen = torch.Generator().manual_seed(7)
    pairs = TrainingImages([photo_dir], max_side=96).pairs(6, 32, gen)

    def loss(net):
        with torch.no_grad():
            lam = torch.full((6, 1, 1, 1), -1.5)
            return float(denoising(net.denoise, logistic(pairs.input, lam), logistic(pairs.clean, lam)))

    result = train(tiny_config(photo_dir, tmp_path / "d.safetensors", init=str(init), denoiser_only=True,
                               steps=12, batch=4, lr=3e-3))
    before, after = load_model(init), load_model(result.model_path)
    assert loss(after) < 0.8 * loss(before)
    assert torch.equal(before.up_conv.weight, after.up_conv.weight)       # the curve network is untouched
    assert after.info.curve == "rgb_ratio" and after.info.card["denoiser_only"]
    assert after.info.card["init_card"] is not None


def test_a_fresh_dilated_denoiser_is_trained_and_ships_in_the_model(photo_dir, tmp_path):
    from clode.engine.weights import save_model
    from clode.engine.network import CLODENet
    init = save_model(CLODENet(curve_mode="rgb_ratio"), tmp_path / "init.safetensors")
    result = train(tiny_config(photo_dir, tmp_path / "w.safetensors", init=str(init), denoiser="dilated",
                               denoiser_only=True, steps=2, batch=2))
    before, model = load_model(init), load_model(result.model_path)
    assert model.denoiser_kind == model.info.denoiser == "dilated"
    assert model.info.card["denoiser"] == "dilated"
    # Only the output stage changed: the curves (and the denoiser that cleans their input) are the init's.
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.curve(torch.tensor(1.0), x), before.curve(torch.tensor(1.0), x))
        assert not torch.equal(model.finish(x), before.finish(x))


def test_denoiser_only_with_restore_trains_the_output_against_the_photo(photo_dir, tmp_path):
    from clode.engine.weights import save_model
    from clode.engine.network import CLODENet
    start = CLODENet(curve_mode="rgb_ratio", denoiser="dilated")
    init = save_model(start, tmp_path / "init.safetensors")
    weights = {**LossWeights().as_dict(), "restore": 100.0}
    events = []
    result = train(tiny_config(photo_dir, tmp_path / "o.safetensors", init=str(init), denoiser_only=True,
                               weights=weights, steps=2, batch=4), progress=events.append)
    losses = [e["terms"] for e in events if e["event"] == "step"]
    assert losses and any(step["restore"] > 0 for step in losses)     # batches with a darkened sample
    before, after = load_model(init), load_model(result.model_path)
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(after.curve(torch.tensor(1.0), x), before.curve(torch.tensor(1.0), x))
    assert not torch.equal(after.output_denoise.conv4.weight, before.output_denoise.conv4.weight)


def test_jpeg_round_trip_makes_camera_blocks():
    from clode.training.data import ExposureAugment, jpeg_round_trip, simulate_exposure
    gen = torch.Generator().manual_seed(0)
    flat = torch.full((1, 3, 32, 32), 0.5)
    noisy = simulate_exposure(flat, gen, ExposureAugment(dark=1.0, jpeg=0.0)).input[0]
    back = jpeg_round_trip(noisy, 60)
    assert back.shape == noisy.shape and back.dtype == noisy.dtype
    assert torch.equal(back * 255, (back * 255).round())              # 8-bit values
    assert 0 < float((back - noisy).abs().mean()) < 0.05              # lossy, but the same picture
    # Every darkened sample goes through it when the share is 1; the seed decides it all.
    a = simulate_exposure(flat.expand(4, -1, -1, -1), torch.Generator().manual_seed(1), ExposureAugment(dark=1.0, jpeg=1.0))
    b = simulate_exposure(flat.expand(4, -1, -1, -1), torch.Generator().manual_seed(1), ExposureAugment(dark=1.0, jpeg=1.0))
    assert torch.equal(a.input, b.input) and torch.equal(a.input * 255, (a.input * 255).round())


def test_supervised_restoration_and_curve_mode_reach_the_model(photo_dir, tmp_path):
    weights = {**LossWeights().as_dict(), "restore": 100.0}
    result = train(tiny_config(photo_dir, tmp_path / "r.safetensors", steps=2, weights=weights, curve="shared"))
    model = load_model(result.model_path)
    assert model.curve_mode == "shared" and model.info.card["loss_weights"]["restore"] == 100.0


def test_finish_ships_a_chosen_checkpoint_with_its_card(photo_dir, tmp_path):
    out = tmp_path / "f.safetensors"
    train(tiny_config(photo_dir, out, steps=6, checkpoint_every=3))
    chosen = out.with_suffix(".checkpoints") / "step-000003"
    assert load_model(chosen / "model.safetensors").info.card["images"] == 6    # checkpoints carry the card
    out.unlink()
    result = train(tiny_config(photo_dir, out), resume=chosen, finish=True)
    assert result.steps == 3
    shipped, checkpoint = load_model(out), load_model(chosen / "model.safetensors")
    assert shipped.info.card["steps"] == 3
    for a, b in zip(shipped.state_dict().values(), checkpoint.state_dict().values()):
        assert torch.equal(a, b)


def test_calibrated_default_T_is_the_best_measured_and_ships_in_the_model(photo_dir, tmp_path):
    from clode.training.calibrate import GRID
    result = train(tiny_config(photo_dir, tmp_path / "c.safetensors", steps=1, calibrate_T=True))
    model = load_model(result.model_path)
    calibration = model.info.card["calibration"]
    curve = {float(k): v for k, v in calibration["psnr_by_T"].items()}
    assert model.info.default_T == calibration["default_T"] == max(curve, key=curve.get)
    assert sorted(curve) == sorted(float(t) for t in GRID) and all(np.isfinite(v) for v in curve.values())
