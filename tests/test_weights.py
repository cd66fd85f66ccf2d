"""Loading model files: the official layouts, our safetensors format, and every kind of bad file."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from clode import ModelLoadError, load_model, save_model
from clode.engine.weights import DEFAULT_MODEL


def ours(state, prefix="odefunc."):
    """Our tensor names for the fixture's official tensors."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def assert_weights(net, expected):
    got = net.state_dict()
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert torch.equal(got[k], v.float()), k


@pytest.fixture
def fixture_tensors(official_state):
    return ours(official_state)


@pytest.mark.parametrize("keep", ["both", "odefunc.", "odeblock.odefunc."])
def test_official_layout(tmp_path, official_state, keep, fixture_tensors):
    if keep == "both":
        state = dict(official_state)
    else:
        state = {k: v for k, v in official_state.items() if k.startswith(keep)}
        assert len(state) == len(official_state) // 2
    path = tmp_path / "universal.pth"
    torch.save(state, path)
    net = load_model(path)
    assert net.info.official and net.info.name == "universal" and net.info.path == path
    assert net.info.default_T == 3.0
    # The unused official layers (conv1, e_conv1..7) are dropped, not loaded.
    assert_weights(net, {k: v for k, v in fixture_tensors.items() if k in net.state_dict()})
    assert not net.training


def test_official_tensors_in_a_safetensors_file(tmp_path, official_state, fixture_tensors):
    path = tmp_path / "official.safetensors"
    save_file({k: v.contiguous() for k, v in official_state.items()}, str(path))
    net = load_model(path)
    assert_weights(net, {k: v for k, v in fixture_tensors.items() if k in net.state_dict()})


def test_our_format_round_trip(tmp_path, fixture_model):
    card = {"trained_on": "photos/ (56)", "steps": 1200, "losses": ["exposure", "color"]}
    path = save_model(fixture_model, tmp_path / "mine.safetensors", name="Night v1", default_T=2.5,
                      t_max=5.0, card=card)
    net = load_model(path)
    assert net.info.name == "Night v1"
    assert net.info.default_T == 2.5 and net.info.t_max == 5.0
    assert net.info.card == card and not net.info.official
    assert_weights(net, fixture_model.state_dict())
    # The same weights give the same image.
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(net.finish(x), fixture_model.finish(x))


def test_denoiser_kind_round_trips_and_older_files_are_published(tmp_path, fixture_model):
    import copy
    net = copy.deepcopy(fixture_model)
    net.replace_denoiser("dilated")
    back = load_model(save_model(net, tmp_path / "d.safetensors"))
    assert back.denoiser_kind == back.info.denoiser == "dilated"
    assert_weights(back, net.state_dict())
    assert fixture_model.denoiser_kind == "published"          # official weights
    assert load_model(save_model(fixture_model, tmp_path / "p.safetensors")).info.denoiser == "published"


def test_unknown_denoiser_is_refused(tmp_path, fixture_model):
    from safetensors.torch import load_file
    path = save_model(fixture_model, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    save_file(load_file(str(path)), str(path), metadata={**meta, "denoiser": "huge"})
    with pytest.raises(ModelLoadError, match="unknown denoiser 'huge'"):
        load_model(path)


def test_round_trip_writes_no_temp_files(tmp_path, fixture_model):
    save_model(fixture_model, tmp_path / "a.safetensors")
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(np.random.default_rng(3).bytes(5000))
    with pytest.raises(ModelLoadError) as e:
        load_model(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_truncated_pth(tmp_path, official_state):
    path = tmp_path / "cut.pth"
    torch.save(official_state, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="not a readable PyTorch checkpoint") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_truncated_safetensors(tmp_path, fixture_model):
    path = save_model(fixture_model, tmp_path / "cut.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ModelLoadError, match="truncated or corrupt") as e:
        load_model(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_checkpoint_of_another_network(tmp_path, suffix):
    state = {k: v.contiguous() for k, v in torch.nn.Linear(8, 4).state_dict().items()}
    path = tmp_path / f"linear{suffix}"
    torch.save(state, path) if suffix == ".pth" else save_file(state, str(path))
    with pytest.raises(ModelLoadError) as e:
        load_model(path)
    message = str(e.value)
    assert "not a CLODE model" in message and str(path) in message
    # All 24 of our tensors are missing: the first few are named, the rest counted.
    assert "missing tensors: confusion.bias, confusion.weight, " in message and "(+18 more)" in message
    assert "unexpected tensors: bias, weight" in message


def test_official_dict_missing_one_tensor(tmp_path, official_state):
    state = {k: v for k, v in official_state.items() if not k.endswith("conv_5_2.weight")}
    path = tmp_path / "incomplete.pth"
    torch.save(state, path)
    with pytest.raises(ModelLoadError, match=r"\(missing tensors: conv_5_2\.weight\)$"):
        load_model(path)


def test_wrong_shapes(tmp_path, official_state):
    state = dict(official_state)
    state["odefunc.up_conv.bias"] = torch.zeros(5)
    state = {k: v for k, v in state.items() if not k.startswith("odeblock.")}
    path = tmp_path / "reshaped.pth"
    torch.save(state, path)
    with pytest.raises(ModelLoadError, match=r"wrong shapes: up_conv\.bias \(5,\)"):
        load_model(path)


def test_training_checkpoint_with_extras_is_not_a_state_dict(tmp_path, official_state):
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 3, "lr": 1e-4, "weights": official_state}, path)
    with pytest.raises(ModelLoadError, match="not a state dict of tensors"):
        load_model(path)


class Exploit:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["torch.save", "raw pickle"])
def test_pickle_that_would_execute_code_is_refused(tmp_path, official_state, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {**official_state, "odefunc.extra": Exploit(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    # Sanity check of the test itself: a plain unpickle would run the command.
    assert not marker.exists()
    with pytest.raises(ModelLoadError, match="refused to load") as e:
        load_model(path)
    assert str(path) in str(e.value)
    assert not marker.exists()


def test_exploit_really_executes_when_unpickled(tmp_path):
    # Proves the payload above is live, so the refusal test is meaningful.
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Exploit(marker)))
    assert marker.exists()


def test_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="is a folder"):
        load_model(tmp_path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.safetensors"
    with pytest.raises(ModelLoadError, match="no such model file") as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty file"):
        load_model(path)


def test_default_model():
    if DEFAULT_MODEL.exists():
        net = load_model()
        assert net.info.path == DEFAULT_MODEL and not net.info.official
        assert net.info.card, "the shipped model must say how it was trained"
        assert -net.info.t_max < net.info.default_T < net.info.t_max
    else:
        with pytest.raises(ModelLoadError, match="no default model shipped yet"):
            load_model()


def test_model_moves_to_device(fixture_model_path):
    net = load_model(Path(fixture_model_path), device="cpu")
    assert next(net.parameters()).device.type == "cpu"


# ----------------------------------------------------------------------------------------------
# files that declare far more tensor data than a CLODE model (issue 29): refused before reading it

BOMB_ELEMENTS = 40_000_000   # 160 MB of float32 zeros, deflated to about 160 kB


def bomb_pth(path: Path, elements: int = BOMB_ELEMENTS) -> Path:
    """An official-layout .pth whose one tensor declares ``elements`` float32 values, stored as a
    deflated run of zeros (torch reads deflated entries; its own files store them uncompressed)."""
    import collections
    import io
    import zipfile

    small = io.BytesIO()
    torch.save({"x": torch.zeros(1)}, small)
    src = zipfile.ZipFile(io.BytesIO(small.getvalue()))
    pkl_name = next(i.filename for i in src.infolist() if i.filename.endswith("data.pkl"))
    storage = object()

    class Tensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2, (storage, 0, (elements,), (1,), False, collections.OrderedDict()))

    class Writer(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", elements) if obj is storage else None

    pkl = io.BytesIO()
    Writer(pkl, protocol=2).dump({"odefunc.e_conv1.weight": Tensor()})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != pkl_name and "/data/" not in info.filename:
                z.writestr(info.filename, src.read(info))
        z.writestr(pkl_name, pkl.getvalue())
        with z.open(pkl_name[:-len("data.pkl")] + "data/0", "w", force_zip64=True) as f:
            zeros = bytes(1 << 20)
            for start in range(0, elements * 4, len(zeros)):
                f.write(zeros[:min(len(zeros), elements * 4 - start)])
    return path


PEAK_GROWTH = ("import resource, sys\nfrom clode.engine.weights import load_model\nfrom clode.base.errors import ModelLoadError\n"
               "load_model(sys.argv[1])\nbefore = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
               "try:\n    load_model(sys.argv[2])\nexcept ModelLoadError as e:\n    print(e)\n"
               "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")


def test_compressed_huge_tensor_is_refused_in_small_memory(tmp_path, fixture_model_path):
    import subprocess
    import sys

    from conftest import ROOT
    bomb = bomb_pth(tmp_path / "bomb.pth")
    assert bomb.stat().st_size < 2 * 2 ** 20
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", PEAK_GROWTH, str(fixture_model_path), str(bomb)],
                          capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr
    message, growth_mb = proc.stdout.strip().splitlines()
    assert "bomb.pth" in message and "declares" in message
    assert int(growth_mb) < 40, message   # the tensor alone would be 160 MB


def test_huge_declared_safetensors_is_refused_from_its_header(tmp_path):
    import json
    import struct
    elements = 20_000_000
    header = json.dumps({"w": {"dtype": "F32", "shape": [elements], "data_offsets": [0, elements * 4]}}).encode()
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + elements * 4)   # sparse: the data reads as zeros, takes no disk
    with pytest.raises(ModelLoadError, match="declares"):
        load_model(path)


def test_legacy_format_official_file_still_loads(tmp_path, official_state, fixture_model):
    path = tmp_path / "legacy.pth"
    torch.save(official_state, path, _use_new_zipfile_serialization=False)
    net = load_model(path)
    assert_weights(net, fixture_model.state_dict())
