"""The learned exposure estimate: features of a prepared session -> the T a photographer would choose.

Two ridge regressions (a few dozen numbers each), averaged by ``clode.engine.auto_exposure.estimate_T``:

* ``T``: features every prepared session gives almost for free -- the input's brightness
  distribution in linear light (percentiles, white point, the share of it that is light sources),
  its noise, and the brightness distribution of the proxy render at several T (no denoiser: a few
  element-wise passes over 128 px each) -- to the T that scores best against the well-exposed
  original;
* ``shortfall``: the input's tones (``shortfall_features``: percentiles of each pixel's largest
  linear channel, up to the 99.9th) to the stops the shot fell short. The input pushed by that
  many stops in linear light (``pushed_mean``) is as bright as the original would be, and Auto
  takes the T whose finished render reaches that brightness. Alone it is no better than ``T``
  (cross-validated RMS error 0.75 against 0.69 in T); its errors are partly independent of
  ``T``'s, so their mean is better than either.

Both are fitted on synthetic night shots (``clode.training.night_pairs``), so they learn what the
white-point rule could not: a lamp in the frame says nothing about how dark the scene is.

The fitted numbers live in a small JSON file beside the model file (``<model>.exposure.json``,
with its own card): the features are renders of that model, so a fine-tuned model needs its own
fit (``clode train --fit-exposure MODEL``, ``fit_for_model``). The features of a whole session,
which add the white-point rule's reading, are ``clode.engine.auto_exposure.session_features``.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from clode.base.atomic import write_text
from clode.base.errors import ClodeError
from clode.engine.noise_level import estimate_noise, sample_regions
from clode.base.srgb import linear_to_srgb, srgb_to_linear

#: The end times whose proxy renders are described.
FEATURE_TS = (0.0, 1.5, 3.0, 4.5, 6.0)
#: Percentiles of luminance measured at each of them.
PERCENTILES = (10, 50, 90, 99)
#: A render's pixel counts as clipped above this (largest channel, sRGB).
CLIP_LEVEL = 0.98
#: Linear level above which an input pixel is counted as a light source.
LIGHT_LEVEL = 0.5
#: Percentiles of the largest linear channel that ``shortfall_features`` reads.
SHORTFALL_PERCENTILES = (50, 75, 90, 95, 97, 98, 99, 99.5, 99.9)
SUFFIX = ".exposure.json"
#: A predictor file is a few kB; anything much larger is not one (and is not read).
MAX_BYTES = 1 << 20
FORMAT = "clode-exposure-ridge-2"
FORMAT_1 = "clode-exposure-ridge-1"

_LUMA = torch.tensor([0.2126, 0.7152, 0.0722])


def _luma(x: torch.Tensor) -> torch.Tensor:
    """Rec. 709 luminance of [..., 3] values."""
    return x @ _LUMA.to(x)


def _log2(x) -> float:
    return math.log2(max(float(x), 1e-4))


def input_features(proxy: torch.Tensor, image: np.ndarray) -> list[float]:
    """What the input itself says: linear brightness percentiles, white point, share of light
    sources, and the noise (on full-resolution crops, as ``clode.engine.noise_level`` measures results)."""
    lin = srgb_to_linear(proxy[0].permute(1, 2, 0).float().cpu())
    y = _luma(lin).flatten()
    peak = lin.amax(-1).flatten()
    q = torch.quantile(y, torch.tensor([p / 100 for p in PERCENTILES]))
    crops = [torch.from_numpy(np.ascontiguousarray(image[r[1]:r[1] + r[3], r[0]:r[0] + r[2]], np.float32))
             .permute(2, 0, 1)[None] for r in sample_regions(*image.shape[:2])]
    noise = estimate_noise(torch.cat(crops))
    return ([_log2(y.mean())] + [_log2(v) for v in q] + [_log2(torch.quantile(peak, 0.999))]
            + [float((peak > LIGHT_LEVEL).float().mean()), float((peak > CLIP_LEVEL).float().mean()),
               _log2(noise * 255 + 0.25)])


def render_features(render) -> list[float]:
    """What the proxy renders at FEATURE_TS say: ``render(T)`` -> H x W x 3 sRGB array."""
    out: list[float] = []
    for T in FEATURE_TS:
        img = torch.from_numpy(np.asarray(render(T), np.float32))
        y = _luma(img).flatten()
        q = torch.quantile(y, torch.tensor([p / 100 for p in PERCENTILES]))
        out += [_log2(y.mean())] + [_log2(v) for v in q] + [float((img.amax(-1) > CLIP_LEVEL).float().mean())]
    return out


def shortfall_features(view: np.ndarray) -> list[float]:
    """How far the input's tones sit below white, for the shortfall estimate: percentiles of each
    pixel's largest linear channel (``SHORTFALL_PERCENTILES``) and of its luminance, the mean luminance
    (all in stops) and the shares of the frame above half and 0.9 of white. ``view``: the measuring
    view (``clode.engine.auto_exposure.measuring_view``), H x W x 3 sRGB."""
    lin = srgb_to_linear(torch.from_numpy(np.asarray(view, np.float32)))
    peak, y = lin.amax(-1).flatten().numpy(), _luma(lin).flatten().numpy()
    return ([_log2(v) for v in np.percentile(peak, SHORTFALL_PERCENTILES)]
            + [_log2(v) for v in np.percentile(y, (10, 50, 90))]
            + [_log2(y.mean()), float((peak > 0.5).mean()), float((peak > 0.9).mean())])


def pushed_mean(view: np.ndarray, stops) -> Union[float, np.ndarray]:
    """Mean luminance (Rec. 709 of sRGB values) of ``view`` exposed ``stops`` longer, in linear light
    and clipped as a sensor clips: the brightness of the well-exposed original when ``stops`` is
    how far the shot fell short. Takes one value or an array of them."""
    lin = srgb_to_linear(torch.from_numpy(np.asarray(view, np.float32)))
    gains = torch.as_tensor(2.0 ** np.atleast_1d(np.asarray(stops, np.float64)), dtype=torch.float32)
    out = np.array([float(_luma(linear_to_srgb(lin * g)).mean()) for g in gains])
    return out if np.ndim(stops) else out[0]


@dataclass
class Ridge:
    """Standardised features -> a number: ``intercept + coef . (f - mean) / scale``."""
    mean: list
    scale: list
    coef: list
    intercept: float

    def predict(self, features) -> float:
        if len(features) != len(self.coef):
            raise ClodeError(f"the exposure predictor takes {len(self.coef)} features, not {len(features)}: "
                             "refit it (clode train --fit-exposure MODEL)")
        z = (np.asarray(features, np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(self.intercept + z @ np.asarray(self.coef))

    @classmethod
    def checked(cls, data: dict) -> "Ridge":
        r = cls(**{k: data[k] for k in ("mean", "scale", "coef", "intercept")})
        arrays = [np.asarray(v, np.float64) for v in (r.mean, r.scale, r.coef)]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1 or not all(np.isfinite(a).all() for a in arrays) \
                or not np.all(arrays[1] > 0) or not math.isfinite(r.intercept):
            raise ValueError("damaged numbers")
        return r


@dataclass
class Predictor:
    """The two estimates Auto averages (``clode.engine.auto_exposure.estimate_T``): ``T`` maps the session's
    features straight to T; ``shortfall`` maps ``shortfall_features`` to the stops the shot fell
    short, whose pushed brightness (``pushed_mean``) the render is then matched to. Files of the
    first format have no ``shortfall`` and use ``T`` alone."""
    T: Ridge
    shortfall: Optional[Ridge]
    #: RMS error of the estimated T on pairs it was not fitted on (cross-validated): how far
    #: the robustness rules may trust it.
    error: float
    card: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        data = {"format": FORMAT, "T": asdict(self.T), "shortfall": None if self.shortfall is None else
                asdict(self.shortfall), "error": self.error, "card": self.card}
        write_text(Path(path), json.dumps(data, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "Predictor":
        try:
            with open(path, "rb") as f:
                text = f.read(MAX_BYTES + 1)
            if len(text) > MAX_BYTES:
                raise ValueError(f"larger than {MAX_BYTES // 1024} kB")
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not a predictor")
            if data.get("format") == FORMAT_1:
                T, shortfall = Ridge.checked(data), None
            elif data.get("format") == FORMAT:
                T = Ridge.checked(data["T"])
                shortfall = None if data["shortfall"] is None else Ridge.checked(data["shortfall"])
            else:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
            error = data["error"]
            if not 0 <= error < 20:
                raise ValueError("damaged numbers")
            return cls(T, shortfall, error, data.get("card", {}))
        except RecursionError:
            raise ClodeError(f"{path}: not a usable exposure predictor (nested too deeply)") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            reason = " ".join(str(e).split())[:120] or type(e).__name__
            raise ClodeError(f"{path}: not a usable exposure predictor ({reason})") from None


def fit(X: np.ndarray, y: np.ndarray, ridge: float = 1.0, weights: Optional[np.ndarray] = None) -> Ridge:
    """Ridge regression of ``y`` on the rows of ``X`` (standardised), optionally weighted."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, np.float64)
    mean = (w[:, None] * X).sum(0) / w.sum()
    scale = np.sqrt((w[:, None] * (X - mean) ** 2).sum(0) / w.sum()) + 1e-6
    Z = (X - mean) / scale
    intercept = float((w * y).sum() / w.sum())
    A = Z.T @ (w[:, None] * Z) + ridge * np.eye(Z.shape[1])
    coef = np.linalg.solve(A, Z.T @ (w * (y - intercept)))
    return Ridge(mean.tolist(), scale.tolist(), coef.tolist(), intercept)


def cross_validate(X: np.ndarray, y: np.ndarray, groups: Sequence, ridge: float = 1.0, folds: int = 5) -> np.ndarray:
    """Out-of-fold predictions, folds by ``groups`` (a photo's pairs stay together)."""
    names = sorted(set(groups))
    pred = np.zeros(len(y))
    group_of = np.asarray(groups)
    for k in range(folds):
        held = np.isin(group_of, names[k::folds])
        pred[held] = [fit(X[~held], y[~held], ridge).predict(f) for f in X[held]]
    return pred


def predictor_path(model_path: Path) -> Path:
    """Where a model file's exposure predictor lives: beside it, ``<stem>.exposure.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + SUFFIX)


def for_model(net) -> Optional[Predictor]:
    """The exposure predictor fitted for ``net`` (a loaded model), or None when it has none."""
    info = getattr(net, "info", None)
    path = getattr(info, "path", None)
    if path is None:
        return None
    if hasattr(net, "_exposure_predictor"):     # looked up before (None: it has none)
        return net._exposure_predictor
    file = predictor_path(path)
    predictor = None
    if file.is_file():
        try:
            predictor = Predictor.load(file)
        except ClodeError as e:
            # A damaged predictor must not fail every photo: Auto falls back to the white-point
            # rule, and says so once per model (the result is cached on the network).
            print(f"clode: warning: {e}; Auto uses the white-point rule", file=sys.stderr, flush=True)
    net._exposure_predictor = predictor
    return predictor
