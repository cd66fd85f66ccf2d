"""Fitting the exposure predictor (``clode.engine.exposure_model``) for a model file.

    clode train --fit-exposure MODEL [--data ../shared/datasets/photos]

For every photo of the folders (at ``SIDE`` px), ``PER_PHOTO`` synthetic night shots
(``clode.training.night_pairs``: 1-7 EV short, with lights in the frame but one, some only 0-1 EV short) and the
photo as it is (its best T is 0: a well-exposed photo stays as it is); each is
prepared on the fast path, described (``session_features``), and rendered along ``GRID`` without
the denoiser to find the T that best matches the original (its PSNR peak, refined between grid
points). Two ridge regressions are fitted: from the session's features to that T, and from the
input's tones (``shortfall_features``) to the stops the shot fell short; Auto averages the first's T
with the T at which the second's pushed brightness is reached (``clode.engine.auto_exposure.estimate_T``).
They are written beside the model with a card.
About 3 s per pair on one core: 20-25 min for the 56 photos of ``photos/`` on a quiet 2-core machine.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.engine.auto_exposure import finished_brightness, measuring_view, session_features
from clode.engine.exposure_model import (FEATURE_TS, Predictor, cross_validate, fit, predictor_path, pushed_mean,
                             shortfall_features)
from clode.training.metrics import psnr
from clode.training.night_pairs import NightProfile, night_pair

#: Long side of the synthetic pairs.
SIDE = 256
#: End times searched for the best match.
GRID = np.round(np.arange(-1.0, 6.001, 0.25), 2)
#: Night shots per photo, 1-7 EV short, the last without lights in the frame; every BARELY-th
#: photo's first is only 0-1 EV short instead (so the predictor also sees photos that need little
#: or no brightening). Each photo also counts once as it is (T = 0). Seven, not three: with twice the
#: shots the cross-validated error of T fell from 0.66 to 0.64 and the held-out gain over T = 3 rose
#: from +0.93 to +1.38 dB (benchmarks/quality/study_night_exposure.py, whose "extra" shots these are).
PER_PHOTO = 7
BARELY = 3
RIDGE = 3.0
#: Shortfalls (stops) at which a pair's pushed brightness is tabulated, to replay the shortfall
#: estimate out of fold without the pair's pixels.
PUSH_STOPS = np.round(np.arange(-2.0, 10.001, 0.125), 3)


def read_photo(path: Path, side: int = SIDE) -> np.ndarray:
    from clode.io.imageio import load_image
    from clode.base.pixels import fit_size, image_tensor, resize
    img = load_image(path).pixels
    h, w = fit_size(img.shape[0], img.shape[1], side)
    return resize(image_tensor(img), (h, w))[0].permute(1, 2, 0).clamp(0, 1).numpy()


def best_T(curve: np.ndarray, grid: np.ndarray = GRID) -> float:
    """The T of a PSNR curve's peak, refined by a parabola through it and its neighbours."""
    k = int(np.argmax(curve))
    if 0 < k < len(curve) - 1:
        a, b, c = curve[k - 1:k + 2]
        den = a - 2 * b + c
        if den < 0:
            return float(grid[k] + 0.5 * (a - c) / den * (grid[1] - grid[0]))
    return float(grid[k])


def pair_record(enhancer, low: np.ndarray, high: np.ndarray, keep_session: bool = False) -> dict:
    """Features of ``low``'s session and its PSNR against ``high`` along GRID (denoiser off); the
    shortfall features, the input's pushed brightness along PUSH_STOPS and the finished render's
    brightness along GRID (to turn a shortfall into a T); with ``keep_session``, also the session's
    proxy and Lambda (to replay rules on it)."""
    session = enhancer.prepare(low, t_range=(float(GRID[0]), float(max(GRID[-1], FEATURE_TS[-1]))))
    curve = np.array([psnr(session.render(float(T), Finish(denoise=0.0)), high) for T in GRID])
    view = measuring_view(session.image)
    record = {"features": session_features(session, view), "psnr": curve, "best": best_T(curve)}
    record.update(shortfall_record(session, view))
    if keep_session:
        record.update(proxy=session.proxy.numpy(), times=session.times.tolist(),
                      lam=session.lam.numpy().astype(np.float16))
    return record


def shortfall_record(session, view: np.ndarray) -> dict:
    """What replaying the shortfall estimate needs of a pair (see ``pair_record``); ``view``: the
    session's ``measuring_view``."""
    brightness = finished_brightness(session)
    return {"shortfall_features": np.array(shortfall_features(view)), "pushed": pushed_mean(view, PUSH_STOPS),
            "brightness": np.array([brightness(float(T)) for T in GRID])}


def T_for_shortfall(record: dict, stops: float) -> float:
    """The T at which the pair's finished render has the brightness of its input pushed by ``stops``."""
    target = np.interp(stops, PUSH_STOPS, record["pushed"])
    rising = np.maximum.accumulate(record["brightness"]) + 1e-9 * np.arange(len(GRID))
    return float(np.interp(np.log(max(target, 1e-6)), np.log(np.maximum(rising, 1e-6)), GRID))


def photo_seed(path: Path, seed: int) -> int:
    return int(hashlib.sha256(f"{seed}:{path.name}".encode()).hexdigest()[:8], 16)


def night_shots(photo: np.ndarray, rng: np.random.Generator, count: int, barely: bool) -> list[tuple]:
    """``count`` (low, high, info), 1-7 EV short, the last without lights; with ``barely`` the first
    0-1 EV short, with or without lights; then the photo as it is (well exposed: its best T is 0)."""
    shots = [night_pair(photo, rng, NightProfile(ev=(0.0, 1.0), lights=0.5))] if count > 1 and barely else []
    shots += [night_pair(photo, rng) for _ in range(count - 1 - len(shots))]
    shots += [night_pair(photo, rng, NightProfile(lights=0.0))] if count else []
    return shots + [(photo, photo, {"ev": 0.0, "lights": False})]


def collect(enhancer, photos: Sequence[Path], per_photo: int = PER_PHOTO, seed: int = 0,
            log: Optional[Callable[[str], None]] = None, keep_session: bool = False, side: int = SIDE) -> list[dict]:
    records = []
    start = time.monotonic()
    for i, path in enumerate(photos):
        rng = np.random.default_rng(photo_seed(path, seed))
        photo = read_photo(path, side)
        for low, high, info in night_shots(photo, rng, per_photo, i % BARELY == 0):
            record = pair_record(enhancer, low, high, keep_session)
            if low is high:
                record["best"] = 0.0      # as photographed (the curve's peak, refined, may stray from 0)
            records.append({**record, **info, "photo": path.name,
                            **({"low": low, "high": high} if keep_session else {})})
        if log is not None:
            log(f"exposure pairs: {i + 1}/{len(photos)} photos, {time.monotonic() - start:.0f} s")
    return records


def fit_records(records: list[dict], ridge: float = RIDGE) -> tuple[Predictor, np.ndarray]:
    """The predictor fitted on all records, its error measured out of fold; and the out-of-fold
    estimates of T (``clode.engine.auto_exposure.estimate_T``'s mean of the two)."""
    X = np.array([r["features"] for r in records])
    y = np.array([r["best"] for r in records])
    S = np.array([r["shortfall_features"] for r in records])
    stops = np.array([r.get("ev", 0.0) for r in records])
    groups = [r["photo"] for r in records]
    oof_T = cross_validate(X, y, groups, ridge)
    oof_stops = cross_validate(S, stops, groups, ridge)
    oof = 0.5 * (oof_T + np.array([T_for_shortfall(r, s) for r, s in zip(records, oof_stops)]))
    predictor = Predictor(fit(X, y, ridge), fit(S, stops, ridge), float(np.sqrt(np.mean((oof - y) ** 2))))
    predictor.card["cv_rms_error_stops"] = round(float(np.sqrt(np.mean((oof_stops - stops) ** 2))), 3)
    return predictor, oof


def fit_for_model(enhancer, model_path: Path, photos: Sequence[Path], *, per_photo: int = PER_PHOTO,
                  seed: int = 0, log: Optional[Callable[[str], None]] = None, side: int = SIDE) -> Path:
    """Fit the exposure predictor for the model file ``model_path`` (loaded in ``enhancer``) on
    night shots made from ``photos``, and write it beside the model. Returns its path."""
    if len(photos) < 5:
        raise ClodeError(f"fitting the exposure predictor needs at least 5 photos (got {len(photos)})")
    records = collect(enhancer, photos, per_photo, seed, log, side=side)
    return write_predictor(records, model_path, f"from {len(photos)} photos at {side} px, seed {seed}")


def write_predictor(records: list[dict], model_path: Path, data: str) -> Path:
    """Fit on ``records`` (``collect``'s) and write the predictor with its card beside ``model_path``."""
    predictor, oof = fit_records(records)
    originals = sum(not np.isfinite(r["psnr"]).all() for r in records)
    gain = np.mean([np.interp(p, GRID, r["psnr"]) - np.interp(3.0, GRID, r["psnr"]) for p, r in zip(oof, records)
                    if np.isfinite(r["psnr"]).all()])
    predictor.card = {
        "what": "two ridge regressions, averaged: features of the fast path's proxy session -> exposure T, and "
                "features of the input's tones -> the stops it fell short, matched to the finished render's "
                "brightness (clode.engine.exposure_model; refit with clode train --fit-exposure MODEL)",
        "model": Path(model_path).name,
        "data": f"{len(records) - originals} synthetic night shots (clode.training.night_pairs: 1-7 EV short, lamps and "
                f"lit windows in most, some 0-1 EV) and {originals} photos as they are (T = 0), {data}",
        "target": "T: the T whose render (fast path, denoiser off) has the highest PSNR against the original; "
                  "shortfall: the stops the night shot was made short (0 for a photo as it is)",
        "cv_rms_error_T": round(predictor.error, 3),
        "cv_rms_error_stops": predictor.card["cv_rms_error_stops"],
        "cv_gain_over_T3_dB": round(float(gain), 2),
        "ridge": RIDGE,
        "fitted": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    out = predictor_path(model_path)
    predictor.save(out)
    return out
