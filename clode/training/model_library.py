"""The user's model library: fine-tuned models in the user's models folder, their cards, stopped
training runs, renaming; and small renders to compare models. No Qt: the app's training panel and
preferences use it, and so can scripts.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Optional

import numpy as np

from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.base.paths import model_path_for, user_models_dir
from clode.base.pixels import fit_size, resize, to_uint8
from clode.engine.weights import DEFAULT_MODEL

#: Model files the editor can load.
MODEL_SUFFIXES = (".safetensors", ".pth", ".pt")
#: A model's name: no dots ("a.b" would read as a file path).
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _\-]{0,59}$")


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.match(name):
        raise ClodeError(f"'{name}' is not a usable model name (letters, digits, spaces, - and _; up to 60)")
    return name


def free_name(base: str) -> str:
    """``base``, or ``base-2``, ``-3`` ...: the first name neither a model nor a stopped run has."""
    name, i = base, 2
    while model_path_for(name).exists() or model_path_for(name).with_suffix(".checkpoints").exists():
        name, i = f"{base}-{i}", i + 1
    return name


def user_models(suffixes: tuple[str, ...] = MODEL_SUFFIXES) -> list[Path]:
    """The user's fine-tuned models (files with one of ``suffixes``), by name."""
    folder = user_models_dir()
    try:
        return sorted((p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file()),
                      key=lambda p: p.name.lower())
    except OSError:
        return []


def trained_models() -> list[Path]:
    """The user's models in our own format (what training makes)."""
    return user_models((".safetensors",))


def model_card(path: Path) -> dict:
    """The card stored in a model file's metadata (without loading its tensors)."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return json.loads(meta.get("card", "{}") or "{}")
    except Exception:  # noqa: BLE001 - a damaged file shows no card; loading it reports the problem
        return {}


def card_summary(card: dict) -> str:
    if not card:
        return "No training details recorded."
    parts = []
    if card.get("images"):
        parts.append(f"{card['images']} photos")
    if card.get("steps"):
        parts.append(f"{card['steps']} steps")
    if card.get("E") is not None:
        parts.append(f"brightness {card['E']:.2f}")
    if card.get("crop"):
        parts.append(f"crop {card['crop']}")
    init = card.get("init")
    parts.append("from " + ("the default model" if init and Path(init) == DEFAULT_MODEL
                            else Path(init).stem if init else "scratch"))
    if card.get("seconds") is not None:
        parts.append(f"{card['seconds'] / 60:.1f} min on {card.get('device', '?')}")
    data = card.get("data") or []
    text = " · ".join(parts)
    if card.get("held_out") and isinstance(card["held_out"], dict):
        from clode.training.validation import summary
        text += "\n" + summary(card["held_out"])
    if data:
        text += "\nPhotos from: " + ", ".join(data)
    return text


def unfinished_runs() -> list[tuple[str, dict]]:
    """(name, state) of stopped runs in the user's models folder that can be resumed."""
    from clode.training.train import find_checkpoint
    runs = []
    try:
        folders = sorted(user_models_dir().glob("*.checkpoints"))
    except OSError:
        return []
    for run_dir in folders:
        try:
            if json.loads((run_dir / "latest.json").read_text()).get("finished"):
                continue            # its model is written (a run finished from the command line)
            state = json.loads((find_checkpoint(run_dir) / "state.json").read_text())
        except (ClodeError, OSError, ValueError, AttributeError):
            continue
        runs.append((run_dir.stem, state))
    return runs


def rename_model(path: Path, new_name: str) -> Path:
    """Rename a model (its file and the name stored inside it); returns the new path. A stopped run
    of the same name is another item and keeps its name (its checkpoints say where it will save)."""
    from clode.engine.weights import load_model, save_model
    new_name = check_name(new_name)
    target = model_path_for(new_name)
    if target.exists() or target.with_suffix(".checkpoints").exists():
        raise ClodeError(f"a model named '{new_name}' exists already")
    net = load_model(path)
    info = net.info
    save_model(net, target, name=new_name, default_T=info.default_T, t_max=info.t_max, card=info.card)
    path.unlink()
    return target


def model_from_run(run_dir: Path) -> Path:
    """The newest checkpoint of a stopped run as a model of its own, ``<run>-step<N>`` (the next
    free name), so it can be used, compared and kept while the run's checkpoints are resumed,
    rotated or discarded. Returns the new model's path."""
    from clode.training.train import find_checkpoint
    from clode.engine.weights import load_model, save_model
    checkpoint = find_checkpoint(run_dir)
    step = int(json.loads((checkpoint / "state.json").read_text())["step"])
    net = load_model(checkpoint / "model.safetensors")
    name = free_name(check_name(f"{Path(run_dir).stem[:48]}-step{step}"))
    info = net.info
    return save_model(net, model_path_for(name), name=name, default_T=info.default_T, t_max=info.t_max,
                      card=info.card)


def delete_model(path: Path) -> None:
    """Delete a model file, or a stopped run's checkpoints folder."""
    if path.suffix == ".checkpoints":
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def render_small(model_path: Optional[Path], pixels: np.ndarray, T: Optional[float] = None,
                 denoise: float = 1.0) -> np.ndarray:
    """``pixels`` enhanced by a model (None = the default) on the CPU, as uint8."""
    from clode.engine.enhancer import Enhancer
    from clode.engine.weights import load_model
    enh = Enhancer(load_model(model_path), device="cpu")
    return to_uint8(enh.enhance(pixels, T, Finish(denoise=denoise)))


def small_image(pixels: np.ndarray, side: int) -> np.ndarray:
    """``pixels`` with its long side at most ``side``."""
    h, w = fit_size(pixels.shape[0], pixels.shape[1], side)
    return pixels if (h, w) == pixels.shape[:2] else resize(pixels, (h, w))
