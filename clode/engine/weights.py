"""Reading and writing model files.

Two layouts are accepted:

* ours: safetensors, tensor names as in ``CLODENet``, with metadata
  (``format``, ``architecture``, ``default_T``, ``t_max``, ``name``, and a JSON
  model ``card`` saying how it was trained);
* the official CLODE ``.pth`` state dict: tensors under ``odefunc.`` and/or
  ``odeblock.odefunc.``, with layers the forward pass never uses. It is read
  with ``torch.load(weights_only=True)``, so a malicious pickle is refused.

Anything else raises ``ModelLoadError`` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path
from typing import Optional, Union

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from clode.base.version import __version__
from clode.base.atomic import atomic_path
from clode.base.adjustments import T_MAX_LIMITS, check_T
from clode.base.errors import ClodeError, ModelLoadError
from clode.engine.network import ARCHITECTURE, CURVE_MODES, DENOISERS, CLODENet, ModelInfo

PathLike = Union[str, Path]

DEFAULT_MODEL = Path(__file__).parent.parent / "models" / "default.safetensors"
OFFICIAL_PREFIXES = ("odefunc.", "odeblock.odefunc.")
# Layers of the official EnhanceFunc that its forward pass never calls.
OFFICIAL_UNUSED = re.compile(r"^(conv1|e_conv[1-7])\.")


DARKEN_MODES = ("integrate", "mirror")
#: No trained weight comes near this; a larger one is damage (it would give NaN or black images).
MAX_WEIGHT = 1e4


def _metadata_T(path: Path, meta: dict) -> tuple[float, float]:
    """The model's (default_T, t_max), checked: finite, t_max in ``T_MAX_LIMITS``, default_T within it."""
    try:
        t_max = T_MAX_LIMITS.where("its t_max").check("t_max", meta.get("t_max", 6.0))
        default_T = check_T(meta.get("default_T", 3.0), t_max, "its default_T")
    except ClodeError as e:
        raise ModelLoadError(f"{path}: damaged model metadata, {e}") from None
    return default_T, t_max


def _card(text) -> dict:
    """The model card (JSON); a damaged one is left out, it only describes the model."""
    try:
        card = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {"damaged": True}
    return card if isinstance(card, dict) else {"damaged": True}


def _short(names) -> str:
    names = sorted(names)
    return ", ".join(names[:6]) + (f" (+{len(names) - 6} more)" if len(names) > 6 else "")


def _check_and_load(net: CLODENet, state: dict, path: Path) -> None:
    expected = net.state_dict()
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    problems = []
    if missing:
        problems.append(f"missing tensors: {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {_short(unexpected)}")
    if not problems:
        wrong = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
        if wrong:
            problems.append("wrong shapes: " + _short(f"{k} {tuple(state[k].shape)}" for k in wrong))
    if problems:
        raise ModelLoadError(f"{path}: not a CLODE model ({'; '.join(problems)})")
    for k, v in state.items():
        if not v.is_floating_point():
            continue
        v = v.float()
        if not bool(torch.isfinite(v).all()) or (v.numel() and float(v.abs().max()) > MAX_WEIGHT):
            raise ModelLoadError(f"{path}: damaged model, tensor {k} holds NaN, infinite or absurdly large values")
    net.load_state_dict({k: v.float() for k, v in state.items()})


def official_to_ours(state: dict) -> dict:
    """Map an official state dict onto our tensor names; unused layers are dropped."""
    ours: dict = {}
    # Both prefixes hold the same tensors; the shorter one wins where both exist.
    for prefix in reversed(OFFICIAL_PREFIXES):
        for key, value in state.items():
            if key.startswith(prefix):
                name = key[len(prefix):]
                if not OFFICIAL_UNUSED.match(name):
                    ours[name] = value
    # Keys outside both prefixes are reported as unexpected.
    for key, value in state.items():
        if not key.startswith(OFFICIAL_PREFIXES):
            ours[key] = value
    return ours


#: The most tensor data a checkpoint may declare: the official CLODE file holds 2.3 MB (both
#: prefixes and its unused layers), ours 0.8-0.9 MB; anything near this is not a CLODE model, and
#: reading it would take its declared size in memory (a 1.5 MB file can hold a deflated 1.6 GB).
MAX_CHECKPOINT_BYTES = 64 * 2 ** 20


class _Anything:
    """What the size survey builds in place of every class a pickle names: it takes any arguments
    and any state, so nothing the pickle names is imported or run."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Anything()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


class _StorageSurvey(pickle.Unpickler):
    """Reads a checkpoint's pickle without building it: records the element count of every storage
    it refers to (torch's persistent ids: ('storage', type, key, location, numel, ...))."""

    def __init__(self, file):
        super().__init__(file)
        self.elements = 0

    def find_class(self, module, name):
        return _Anything

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[4], int):
            self.elements += max(0, pid[4])
        return _Anything()


def _declared_bytes(path: Path) -> int:
    """The tensor data ``path`` declares, read before torch allocates any of it: the zip entries'
    uncompressed sizes and the storages its pickle names (the legacy format's storages are
    allocated from the pickle's counts before their data is read)."""
    import zipfile

    declared = 0
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pickles = []
            for info in z.infolist():
                declared += info.file_size
                if info.filename.endswith("data.pkl"):
                    pickles.append(info)
            for info in pickles:
                if info.file_size <= MAX_CHECKPOINT_BYTES:
                    with z.open(info) as f:
                        survey = _StorageSurvey(f)
                        survey.load()
                        declared = max(declared, survey.elements * 4)   # at least float32's bytes
        return declared
    with open(path, "rb") as f:   # legacy: magic number, protocol, system info, then the object
        survey = _StorageSurvey(f)
        for _ in range(4):
            survey.load()
    return survey.elements * 4


def _check_declared_size(path: Path) -> None:
    try:
        declared = _declared_bytes(path)
    except Exception:   # unreadable here: torch.load reports it in its own words below
        return
    if declared > MAX_CHECKPOINT_BYTES:
        raise ModelLoadError(f"{path}: not a CLODE model (it declares {declared / 2 ** 20:,.0f} MB of tensors; "
                             f"a CLODE model holds about 1-3 MB)")


def _read_official(path: Path) -> dict:
    _check_declared_size(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unsafe content"
        raise ModelLoadError(f"{path}: refused to load, the file holds more than tensors ({first[:120]})") from None
    except Exception as e:  # truncated zip, random bytes, ...
        raise ModelLoadError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else 'corrupt'})") from None
    for wrapper in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(f"{path}: not a state dict of tensors")
    return official_to_ours(obj)


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            # the header's shapes, before any tensor is read (the file is mapped, not loaded)
            elements = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
        if elements * 4 > MAX_CHECKPOINT_BYTES:
            raise ModelLoadError(f"{path}: not a CLODE model (it declares {elements * 4 / 2 ** 20:,.0f} MB of "
                                 f"tensors; a CLODE model holds about 1-3 MB)")
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: not a readable safetensors file, truncated or corrupt ({str(e).splitlines()[0][:120]})") from None
    return state, metadata


def _is_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 0 < size < 100_000_000 and head[8:9] == b"{"


def load_model(path: Optional[PathLike] = None, device: Union[str, torch.device] = "cpu") -> CLODENet:
    """Load a model file (ours or the official layout); without a path, the shipped default.

    The returned network is in eval mode and carries a ``ModelInfo`` as ``.info``.
    """
    if path is None:
        if not DEFAULT_MODEL.exists():
            raise ModelLoadError(f"{DEFAULT_MODEL}: no default model shipped yet; pass a model file")
        path = DEFAULT_MODEL
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"{path}: no such model file")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder, not a model file")
    if not path.is_file():   # a FIFO or a device would block the read or never end
        raise ModelLoadError(f"{path}: not a regular file")
    try:
        if path.stat().st_size == 0:
            raise ModelLoadError(f"{path}: empty file")
        safetensors_file = _is_safetensors(path)
    except PermissionError:
        raise ModelLoadError(f"{path}: permission denied") from None
    net = CLODENet()
    if safetensors_file:
        state, meta = _read_safetensors(path)
        if meta.get("format") == "clode" and meta.get("architecture", ARCHITECTURE) != ARCHITECTURE:
            raise ModelLoadError(f"{path}: architecture {meta['architecture']!r} is not supported (need {ARCHITECTURE})")
        denoiser = meta.get("denoiser", "published")
        if denoiser not in DENOISERS:
            raise ModelLoadError(f"{path}: unknown denoiser {denoiser!r} (expected one of: {', '.join(DENOISERS)})")
        net = CLODENet(denoiser=denoiser)
        if any(k.startswith(OFFICIAL_PREFIXES) for k in state):
            state = official_to_ours(state)
        _check_and_load(net, state, path)
        card = _card(meta.get("card"))
        default_T, t_max = _metadata_T(path, meta)
        curve = meta.get("curve", "per_channel")
        if curve not in CURVE_MODES:
            raise ModelLoadError(f"{path}: unknown curve mode {curve!r} (expected one of: {', '.join(CURVE_MODES)})")
        darken = meta.get("darken", "mirror" if meta.get("format") == "clode" else "integrate")
        if darken not in DARKEN_MODES:
            raise ModelLoadError(f"{path}: unknown darken mode {darken!r} (expected one of: {', '.join(DARKEN_MODES)})")
        net.curve_mode = curve
        net.adaptive_denoise = meta.get("denoise") == "adaptive"
        info = ModelInfo(name=meta.get("name", path.stem), path=path,
                         darken=darken,
                         default_T=default_T, t_max=t_max,
                         card=card, curve=curve, denoiser=denoiser)
    else:
        state = _read_official(path)
        _check_and_load(net, state, path)
        info = ModelInfo(name=path.stem, path=path, official=True,
                         card={"source": "official CLODE checkpoint"})
    net.info = info
    return net.to(device).eval()


def save_model(net: CLODENet, path: PathLike, *, name: Optional[str] = None, default_T: float = 3.0,
               t_max: float = 6.0, card: Optional[dict] = None, darken: str = "mirror") -> Path:
    """Write ``net`` in our safetensors format, atomically (``darken``: see ``ModelInfo``; the
    curve mode is the network's own)."""
    if darken not in DARKEN_MODES:
        raise ValueError(f"darken must be one of {DARKEN_MODES}")
    path = Path(path)
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    metadata = {
        "format": "clode",
        "architecture": ARCHITECTURE,
        "name": name or path.stem,
        "default_T": repr(float(default_T)),
        "t_max": repr(float(t_max)),
        "darken": darken,
        "curve": net.curve_mode,
        "denoise": "adaptive" if getattr(net, "adaptive_denoise", False) else "fixed",
        "denoiser": net.denoiser_kind,
        "software": f"clode {__version__}",
        "card": json.dumps(card or {}, sort_keys=True),
    }
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path
