"""Could a photo's noise tell a night shot a stop or two short from a well-exposed dim photo? Prints JSON.

    PYTHONPATH=.:tests .venv/bin/python benchmarks/quality/noise_evidence.py [--sets photos,night,lowlight,raw]

The tones cannot (docs/auto-exposure.md): a night shot 1.7 EV short can be as bright as a well-exposed
photo. A photon-starved shot should be noisy for its signal. For every input of each set, with its mean
luminance (Rec. 709 of sRGB values):

* ``noise``: the engine's own measure of the input (``clode.engine.noise_level.estimate_noise`` on the
  nine 96-px crops of ``sample_regions``, in 8-bit levels; what ``Session.input_noise`` starts from);
* ``nsr``: that over the mean luminance in levels;
* ``flat``: a measure made to ignore texture: the luma's Laplacian-difference noise (Immerkaer) in 8-px
  blocks, the 10th percentile over the blocks brighter than 0.02, each block's noise over the square
  root of its luma first (shot noise grows as the root of the signal).

Sets: ``photos`` (../shared/datasets/photos as they are, full size and at 256 px, dim or not by the
README), ``night`` (the held-out synthetic night shots, 11 x 3, made at 256 px: their noise is
synthetic), ``lowlight`` (lowlight-dev's low photos; also synthetic noise), ``raw`` (the RAW-like pairs
of ``raw_pairs.py``: noise simulated in the sensor's data, developed by the app). No model is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import print_results  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="photos,night,lowlight,raw")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import json  # noqa: E402
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from clode.base.pixels import image_tensor  # noqa: E402
from clode.engine.auto_exposure import mean_luminance  # noqa: E402
from clode.engine.noise_level import estimate_noise, sample_regions  # noqa: E402
from clode.io.imageio import find_images, load_image  # noqa: E402
from clode.training import exposure_fit as ef  # noqa: E402
from study_night_exposure import DIM, SHARED, held_out_pairs, split  # noqa: E402

_KERNEL = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]).view(1, 1, 3, 3)
_LUMA = torch.tensor([0.2126, 0.7152, 0.0722]).view(1, 3, 1, 1)


def flat_noise(img: np.ndarray, block: int = 8, percentile: float = 10.0) -> float:
    """The module doc's ``flat``: noise in the flattest blocks, relative to the root of their luma."""
    luma = (image_tensor(img).float() * _LUMA).sum(1, keepdim=True)
    # mean |response| of white noise of std s is s * 6 * sqrt(2 / pi)
    sigma = F.avg_pool2d(F.conv2d(luma, _KERNEL).abs(), block) * (np.sqrt(np.pi / 2) / 6) * 255
    level = F.avg_pool2d(luma[..., 1:-1, 1:-1], block)
    sigma, level = sigma.flatten().numpy(), level.flatten().numpy()
    keep = level > 0.02
    return float(np.percentile((sigma / np.sqrt(level))[keep], percentile)) if keep.any() else 0.0


def measure(name: str, img: np.ndarray, kind: str, **extra) -> dict:
    h, w = img.shape[:2]
    noise = estimate_noise(torch.cat([image_tensor(img[y:y + ch, x:x + cw]) for x, y, cw, ch in sample_regions(h, w)]))
    mean = mean_luminance(img)
    row = {"name": name, "kind": kind, "side": max(h, w), "mean": round(mean, 3), "noise": round(noise * 255, 2),
           "nsr": round(noise / max(mean, 1e-4), 4), "flat": round(flat_noise(img), 2), **extra}
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


def rows_of(sets: list[str]) -> list[dict]:
    rows = []
    if "photos" in sets:
        for path in sorted(find_images(SHARED / "photos")):
            kind = "dim" if path.name in DIM else "photo"
            rows.append(measure(path.name, load_image(path).pixels, kind))
            rows.append(measure(path.name, ef.read_photo(path, 256), kind + "@256"))
    if "night" in sets:
        _, held = split(sorted(find_images(SHARED / "photos")))
        for name, low, _, info in held_out_pairs(held, per=3):
            rows.append(measure(name, low, "night", ev=round(float(info["ev"]), 2), lights=bool(info.get("lights"))))
    if "lowlight" in sets:
        for path in sorted((SHARED / "lowlight-dev" / "low").glob("*.png")):
            rows.append(measure(path.name, load_image(path).pixels, "lowlight"))
    if "raw" in sets:
        import raw_pairs
        with tempfile.TemporaryDirectory() as tmp:
            for name, low, _, _ in raw_pairs.make_pairs(Path(tmp), 640):
                rows.append(measure(name, low, "raw"))
    return rows


def ranges(rows: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind]
        out[kind] = {key: [min(r[key] for r in sel), max(r[key] for r in sel)] for key in ("mean", "noise", "nsr", "flat")}
    return out


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(1)
    rows = rows_of(args.sets.split(","))
    result = {"ranges": ranges(rows), "rows": rows}
    print_results(__file__, args, "noise_evidence", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
