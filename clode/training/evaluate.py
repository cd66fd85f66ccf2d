"""Scoring an enhancer on low/high pairs (LOL layout), for ``clode eval`` and training validation.

``evaluate_pairs`` matches ``low/NAME`` with ``high/NAME`` (by file stem),
enhances each low image at one end time and scores it with the LOL protocol
(``clode.training.metrics``). With ``sweep=True`` it also finds each image's best end
time against the ground truth -- the "oracle T" score the CLODE paper reports
as CLODE-dagger: one trajectory over a coarse grid, then a second, short one
over a finer grid around the best coarse value. The best T is the one with
the highest PSNR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from clode.engine.enhancer import Enhancer
from clode.base.errors import ClodeError
from clode.base.finish import Finish
from clode.io.imageio import find_images, load_image
from clode.training.metrics import psnr, ssim
from clode.base.progress import CancelToken, ProgressCallback, check, report

SWEEP_RANGE = (0.0, 8.0)
SWEEP_STEP = 0.25
REFINE_STEP = 0.05


@dataclass
class PairScore:
    name: str
    psnr: float
    ssim: float
    T: Optional[float] = None             # the end time scored (differs per image with T="auto")
    oracle_T: Optional[float] = None      # set by a sweep
    oracle_psnr: Optional[float] = None
    oracle_ssim: Optional[float] = None


@dataclass
class EvalReport:
    T: Union[float, str]                  # a number, or "auto"
    scores: list[PairScore] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)   # names found on one side only
    swept: bool = False

    @staticmethod
    def _mean(values: Sequence[float]) -> float:
        return float(np.mean(values)) if values else math.nan

    @property
    def mean_psnr(self) -> float:
        return self._mean([s.psnr for s in self.scores])

    @property
    def mean_ssim(self) -> float:
        return self._mean([s.ssim for s in self.scores])

    @property
    def mean_oracle_psnr(self) -> float:
        return self._mean([s.oracle_psnr for s in self.scores if s.oracle_psnr is not None])

    @property
    def mean_oracle_ssim(self) -> float:
        return self._mean([s.oracle_ssim for s in self.scores if s.oracle_ssim is not None])

    @property
    def mean_T(self) -> float:
        """Mean of the end times scored (interesting with T="auto")."""
        return self._mean([s.T for s in self.scores if s.T is not None])

    @property
    def mean_oracle_T(self) -> float:
        return self._mean([s.oracle_T for s in self.scores if s.oracle_T is not None])


def _relative_name(path: Path, folder: Path) -> str:
    try:
        rel = path.relative_to(folder)
    except ValueError:
        rel = path.resolve().relative_to(folder.resolve())
    return rel.as_posix()


def match_pairs(low_dir, high_dir) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """(name, low, high) for files with the same name (minus extension), sorted, and the names
    present on one side only."""
    low_dir, high_dir = Path(low_dir), Path(high_dir)
    for folder in (low_dir, high_dir):
        if not folder.is_dir():
            raise ClodeError(f"{folder}: not a folder")
    lows = {_relative_name(p, low_dir): p for p in find_images(low_dir)}
    highs = {_relative_name(p, high_dir): p for p in find_images(high_dir)}
    low_keys = {Path(k).with_suffix("").as_posix(): k for k in lows}
    high_keys = {Path(k).with_suffix("").as_posix(): k for k in highs}
    common = sorted(low_keys.keys() & high_keys.keys())
    pairs = [(low_keys[k], lows[low_keys[k]], highs[high_keys[k]]) for k in common]
    unmatched = sorted([low_keys[k] for k in low_keys.keys() - high_keys.keys()]
                       + [high_keys[k] for k in high_keys.keys() - low_keys.keys()])
    if not pairs:
        raise ClodeError(f"{low_dir} and {high_dir}: no images with matching names")
    return pairs, unmatched


def _grid(lo: float, hi: float, step: float) -> list[float]:
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 6) for i in range(n + 1)]


def _best(Ts: Sequence[float], outs: Sequence[np.ndarray], high: np.ndarray) -> tuple[float, float, np.ndarray]:
    scores = [psnr(o, high) for o in outs]
    i = int(np.argmax(scores))
    return Ts[i], scores[i], outs[i]


def score_pair(enhancer: Enhancer, low: np.ndarray, high: np.ndarray, T: float, *, sweep: bool = False,
               finish: Finish = Finish(), t_range: tuple[float, float] = SWEEP_RANGE,
               step: float = SWEEP_STEP, refine_step: float = REFINE_STEP, cancel: Optional[CancelToken] = None) -> PairScore:
    """Scores of ``low`` enhanced at ``T`` (exact path, finished by ``finish``: default the model's own
    result) against ``high``; with ``sweep`` also the best T (by PSNR).

    The sweep costs two solves: one trajectory over the coarse grid (which
    also holds ``T``), then one over a finer grid around the best coarse value.
    """
    if not sweep:
        # The exact path (the whole image integrated), as the paper scores it.
        (out,) = enhancer.trajectory(low, [T], finish, cancel=cancel)
        return PairScore("", psnr(out, high), ssim(out, high))
    coarse = _grid(t_range[0], t_range[1], step)
    outs = enhancer.trajectory(low, coarse + [T], finish, cancel=cancel)
    score = PairScore("", psnr(outs[-1], high), ssim(outs[-1], high))
    best_T, best_psnr, best_out = _best(coarse, outs[:-1], high)
    del outs
    fine = [t for t in _grid(best_T - step, best_T + step, refine_step)
            if t_range[0] <= t <= t_range[1] and abs(t - best_T) > 1e-9]
    if fine:
        outs = enhancer.trajectory(low, fine, finish, cancel=cancel)
        T_fine, psnr_fine, out_fine = _best(fine, outs, high)
        if psnr_fine > best_psnr:
            best_T, best_psnr, best_out = T_fine, psnr_fine, out_fine
    score.oracle_T, score.oracle_psnr, score.oracle_ssim = best_T, best_psnr, ssim(best_out, high)
    return score


def evaluate_pairs(enhancer: Enhancer, low_dir, high_dir, T: Union[float, str, None] = None, *, sweep: bool = False,
                   finish: Finish = Finish(), progress: Optional[ProgressCallback] = None,
                   cancel: Optional[CancelToken] = None) -> EvalReport:
    """Enhance every low image at ``T`` (the model's default if None, chosen per image if "auto"),
    finished by ``finish``, and score it against its pair.

    ``progress(fraction, name)`` is called before each pair.
    """
    T = enhancer.default_T if T is None else T if T in ("auto", "auto:model") else float(T)
    pairs, unmatched = match_pairs(low_dir, high_dir)
    result = EvalReport(T=T, unmatched=unmatched, swept=sweep)
    for i, (name, low_path, high_path) in enumerate(pairs):
        check(cancel)
        report(progress, i / len(pairs), name)
        low = load_image(low_path).pixels
        high = load_image(high_path).pixels
        if low.shape != high.shape:
            raise ClodeError(f"{low_path}: size {low.shape[1]}x{low.shape[0]} differs from "
                             f"{high_path} ({high.shape[1]}x{high.shape[0]})")
        T_used = enhancer.auto_T(low, cancel=cancel, taste=T == "auto") if isinstance(T, str) else T
        score = score_pair(enhancer, low, high, T_used, sweep=sweep, finish=finish, cancel=cancel)
        score.name, score.T = name, T_used
        result.scores.append(score)
    report(progress, 1.0, "done")
    return result
