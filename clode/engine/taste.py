"""The photographer's taste: Auto learns a personal correction from the T a person chose by hand.

Each time a person sets a photo's T by hand in the editor (the dial moved away from Auto and left
there), the editor records Auto's reading of that photo (``clode.engine.auto_exposure.Reading``: a few
features and Auto's own T) and the chosen T (``record``). The records live in the user's data folder
(``taste.json``), one list for all models, each record keyed by its model (``model_key``: the
model's name and a hash of its weights, so a fine-tuned model starts from no taste).

From 5 records of a model on (``MIN_EDITS``), Auto adds the learned correction to its own T
(``Taste.apply``): a small ridge regression of (chosen T - Auto's T) on the reading's features. Its
intercept is the mean correction; the ridge shrinks the slopes toward 0, so with few edits it is an
offset and with more it follows how the correction depends on the photo (a photographer who wants a
fixed output brightness corrects dark and bright photos differently). The editor, ``clode enhance
--T auto`` and ``clode batch --T auto`` all go through ``auto_T`` below, so they use the
same taste; ``--T auto:model`` asks for Auto without it.

A damaged file or record, or a record of another model, is ignored: the taste never stops Auto.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from clode.base.atomic import write_text
from clode.engine.auto_exposure import FEATURES, Reading, reading
from clode.base.paths import user_data_dir

FILE_NAME = "taste.json"
FORMAT = "clode-taste-1"
#: Fewer edits than this for a model: plain Auto.
MIN_EDITS = 5
#: The ridge on the standardised slopes, in edits' worth: with 10 edits the slopes keep about 10 / 13
#: of their least-squares size, with 5 about 5 / 8.
RIDGE = 3.0
#: A feature spread narrower than this (its unit: stops, weight, T) is not a spread: the slope of a
#: feature that barely varied over the edits is not trusted far from them.
MIN_SCALE = (0.25, 0.25, 0.25, 0.1, 0.25)
#: Standardised features are clipped here: the correction does not extrapolate beyond the edits.
MAX_Z = 2.5
#: The correction never exceeds this (in T).
MAX_CORRECTION = 4.0
#: Records kept per model (the newest).
MAX_RECORDS = 500


def taste_path() -> Path:
    return user_data_dir() / FILE_NAME


def model_key(net) -> str:
    """The model's name and a short hash of its file (of its weights where it has no file), computed
    once per loaded model. The file, not the loaded weights: the editor and the CLI may hold them in
    other precisions."""
    cached = getattr(net, "_taste_key", None)
    if cached is not None:
        return cached
    info = getattr(net, "info", None)
    digest = hashlib.sha1()
    path = getattr(info, "path", None)
    try:
        data = Path(path).read_bytes() if path is not None else None
    except (OSError, TypeError):
        data = None
    if data is not None:
        digest.update(data)
    else:
        for name, tensor in sorted(net.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    key = f"{getattr(info, 'name', 'model')}:{digest.hexdigest()[:16]}"
    try:
        net._taste_key = key
    except AttributeError:
        pass
    return key


def _valid(rec) -> bool:
    try:
        return (isinstance(rec, dict) and isinstance(rec["model"], str) and isinstance(rec.get("photo", ""), str)
                and len(rec["features"]) == len(FEATURES)
                and all(isinstance(f, (int, float)) and math.isfinite(f) for f in rec["features"])
                and isinstance(rec["chosen"], (int, float)) and math.isfinite(rec["chosen"]))
    except (KeyError, TypeError):
        return False


def load_records(path: Optional[Path] = None) -> list[dict]:
    """The valid records of the taste file (none when it is missing or damaged)."""
    path = taste_path() if path is None else Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data["records"] if isinstance(data, dict) and data.get("format") == FORMAT else []
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [r for r in records if _valid(r)] if isinstance(records, list) else []


def _write(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps({"format": FORMAT, "records": records}, indent=0) + "\n")


def record(model: str, photo: str, read: Reading, chosen: float, path: Optional[Path] = None) -> int:
    """Remember that ``chosen`` was set by hand on ``photo`` (its path), whose Auto reading is ``read``,
    under ``model`` (``model_key``); a photo's earlier record for the same model is replaced. Returns
    the model's number of records. Raises OSError when the file cannot be written."""
    path = taste_path() if path is None else Path(path)
    rec = {"model": model, "photo": str(photo), "features": [float(f) for f in read.features],
           "chosen": float(chosen), "time": round(time.time())}
    if not _valid(rec):
        return count(model, path)
    records = [r for r in load_records(path) if not (r["model"] == model and r.get("photo") == rec["photo"])]
    records.append(rec)
    mine = [r for r in records if r["model"] == model]
    if len(mine) > MAX_RECORDS:
        dropped = {id(r) for r in mine[:len(mine) - MAX_RECORDS]}
        records = [r for r in records if id(r) not in dropped]
    _write(path, records)
    return len(mine) if len(mine) <= MAX_RECORDS else MAX_RECORDS


def forget(model: str, photo: str, path: Optional[Path] = None) -> None:
    """Take back ``photo``'s record for ``model`` (its T went back to Auto), if it has one."""
    path = taste_path() if path is None else Path(path)
    records = load_records(path)
    kept = [r for r in records if not (r["model"] == model and r.get("photo") == str(photo))]
    if len(kept) != len(records):
        _write(path, kept)


def count(model: str, path: Optional[Path] = None) -> int:
    """How many edits the taste of ``model`` has learned from."""
    return sum(r["model"] == model for r in load_records(path))


def reset(model: Optional[str] = None, path: Optional[Path] = None) -> None:
    """Forget the taste of ``model`` (of every model when None)."""
    path = taste_path() if path is None else Path(path)
    if not path.exists():
        return
    _write(path, [] if model is None else [r for r in load_records(path) if r["model"] != model])


@dataclass(frozen=True)
class Taste:
    """A learned correction: ``intercept + coef . clip((f - mean) / scale)``, or none (``edits`` < MIN_EDITS)."""
    edits: int
    intercept: float = 0.0
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    coef: tuple[float, ...] = ()

    @property
    def active(self) -> bool:
        return self.edits >= MIN_EDITS

    def correction(self, features: Sequence[float]) -> float:
        if not self.active:
            return 0.0
        z = np.clip((np.asarray(features, np.float64) - self.mean) / np.asarray(self.scale), -MAX_Z, MAX_Z)
        c = self.intercept + float(z @ np.asarray(self.coef))
        return float(min(MAX_CORRECTION, max(-MAX_CORRECTION, c)))

    def apply(self, read: Reading, t_range: tuple[float, float]) -> float:
        """Auto's T with this taste (plain Auto's T when there is none yet)."""
        if not self.active:
            return read.T
        lo, hi = t_range
        return round(min(max(read.T + self.correction(read.features), lo), hi), 2)


def learn(records: Sequence[dict]) -> Taste:
    """The taste of one model's records (see the module doc)."""
    if len(records) < MIN_EDITS:
        return Taste(len(records))
    X = np.array([r["features"] for r in records], np.float64)
    y = np.array([r["chosen"] - r["features"][-1] for r in records], np.float64)
    mean = X.mean(0)
    scale = np.maximum(X.std(0), MIN_SCALE)
    Z = (X - mean) / scale
    intercept = float(y.mean())
    coef = np.linalg.solve(Z.T @ Z + RIDGE * np.eye(Z.shape[1]), Z.T @ (y - intercept))
    return Taste(len(records), intercept, tuple(mean), tuple(scale), tuple(float(c) for c in coef))


def learned_for(net, path: Optional[Path] = None) -> Taste:
    """The taste learned for the model ``net`` from its records (read from the file each time, so a
    reset or an edit in the editor counts at once)."""
    key = model_key(net)
    return learn([r for r in load_records(path) if r["model"] == key])


def auto_choice(session, default_T: float, taste: bool = True) -> tuple[Reading, float]:
    """Auto's reading of a prepared ``clode.engine.session.Session`` (renders at the proxy size) and its T:
    the reading's, with the photographer's learned taste for this model where ``taste`` and there is
    one (``learned_for``)."""
    read = reading(session, default_T)
    if not taste:
        return read, read.T
    return read, learned_for(session.net).apply(read, session.t_range)


def auto_T(session, default_T: float, taste: bool = True) -> float:
    """Automatic T for a prepared ``clode.engine.session.Session``: ``auto_choice``'s T."""
    return auto_choice(session, default_T, taste)[1]
