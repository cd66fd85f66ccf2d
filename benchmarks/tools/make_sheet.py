"""Before/after sheet of already-dim photos with the shipped model (docs/before-after.jpg).

    .venv/bin/python benchmarks/tools/make_sheet.py [--T 3.0|auto] [--out docs/before-after.jpg] [--crop 280]
                                                    [--model FILE]

With ``--crop N`` each row is an N x N crop at 100 % (the photo's own pixels, from its centre), the
scale at which noise and colour speckle show: docs/before-after-100.jpg. The last line is the
photos' T and brightness as JSON, with the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import DATASETS, ROOT, Report  # noqa: E402


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", default="3.0", help="end time, or 'auto'")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "before-after.jpg")
    ap.add_argument("--crop", type=int, help="100 %% crops of this side instead of whole photos")
    ap.add_argument("--model", help="model file (default: the shipped one)")
    return ap.parse_args()


if __name__ == "__main__":
    ARGS = parse_args()        # --help answers before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from clode import Enhancer, load_model  # noqa: E402
from clode.base.adjustments import Adjustments  # noqa: E402
from clode.io.imageio import load_image, resize  # noqa: E402

PHOTOS = DATASETS / "photos"
DIM = ["kphotoalbum-bar55.jpg", "kphotoalbum-bar55_2.jpg", "kphotoalbum-pool_2.jpg", "kphotoalbum-sunset.jpg",
       "plasma-DarkestHour.jpg", "plasma-summer_1am.jpg", "palapeli-cincinnati-bridge.jpg"]
CELL = 420


def main(args: argparse.Namespace) -> int:
    report = Report(__file__, args)
    torch.set_num_threads(2)
    enh = Enhancer(load_model(args.model), device="cpu")
    rows = []
    for name in DIM:
        img = load_image(PHOTOS / name).pixels
        t0 = time.perf_counter()
        if args.T == "auto":
            session = enh.prepare(img)       # one solve serves the choice and the render
            T = session.auto_T()
            out = session.render(T, Adjustments().finish)
        else:
            T = float(args.T)
            out = enh.enhance(img, Adjustments(T=T))     # what clode enhance does
        print(f"{name}: T={T:.2f}, {time.perf_counter() - t0:.1f} s, mean {img.mean():.3f} -> {out.mean():.3f}", flush=True)
        report.add("photos", {"photo": name, "T": round(float(T), 3), "seconds": round(time.perf_counter() - t0, 2),
                              "mean_before": round(float(img.mean()), 4), "mean_after": round(float(out.mean()), 4)})
        if args.crop:
            h, w = img.shape[:2]
            c = min(args.crop, h, w)
            y, x = (h - c) // 2, (w - c) // 2
            rows.append((name, T, [a[y:y + c, x:x + c] for a in (img, out)]))
            continue
        scale = CELL / max(img.shape[:2])
        size = (round(img.shape[0] * scale), round(img.shape[1] * scale))
        rows.append((name, T, [resize(x, size) for x in (img, out)]))
    height = sum(r[2][0].shape[0] + 24 for r in rows)
    cell = max(r[2][0].shape[1] for r in rows)
    sheet = Image.new("RGB", (2 * cell + 30, height + 10), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    y = 5
    for name, T, (before, after) in rows:
        draw.text((10, y + 4), f"{name}   before  |  after (T = {T:.2f})", fill=(220, 220, 220))
        y += 20
        for i, pix in enumerate((before, after)):
            sheet.paste(Image.fromarray((np.clip(pix, 0, 1) * 255 + 0.5).astype(np.uint8)), (10 + i * (cell + 10), y))
        y += before.shape[0] + 4
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out}")
    report["wrote"] = args.out
    report.emit("cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(ARGS))
