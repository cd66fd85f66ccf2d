"""``clode enhance IMG_OR_DIR... -o OUTDIR``: one enhanced PNG per input photo.

Folders are taken file by file (recursively; their sub-folders are kept under
OUTDIR). A file that cannot be read or written costs one stderr line; the
others still run, and the exit code is 1 if any failed. Inputs are never
written over.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..enhancer import MODES
from ..errors import ClodeError
from ..enhance_file import enhance_to_file
from ..imageio import find_images, load_image
from .common import add_adjustment_options, add_engine_options, adjustments_from, exposure, make_enhancer


def register(subparsers) -> None:
    p = subparsers.add_parser("enhance", help="enhance photos, one PNG per input",
                              description="Enhance photos with CLODE; writes OUTDIR/<name>.png per input.")
    p.add_argument("inputs", nargs="+", metavar="IMG_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--T", dest="T", type=exposure, metavar="T|auto",
                   help="exposure: the ODE end time (default: the model's, 3.0; negative darkens), "
                        "or auto (chosen per photo)")
    add_adjustment_options(p)
    p.add_argument("--mode", choices=MODES, default="fast",
                   help="fast (default): solve on a small proxy, render at full size; "
                        "exact: integrate the whole image, as the paper does (slow on a CPU)")
    add_engine_options(p)
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"clode: error: {message}", file=sys.stderr)


def plan_outputs(inputs: list[str], outdir: Path) -> tuple[list[tuple[Path, Path]], int]:
    """(source, target) for every photo named or found, and how many inputs were bad.

    When ``outdir`` lies inside a folder being scanned, the files in it are
    skipped, so results of an earlier run are not enhanced again.
    """
    jobs: list[tuple[Path, Path]] = []
    failed = 0
    out_resolved = outdir.resolve()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            found = find_images(path, exclude=None if out_resolved == path.resolve() else outdir)
            if not found:
                _error(f"{path}: no supported images in this folder")
                failed += 1
            for p in found:
                jobs.append((p, outdir / p.relative_to(path).with_suffix(".png")))
        elif path.exists():
            jobs.append((path, outdir / (path.stem + ".png")))
        else:
            _error(f"{path}: no such file or folder")
            failed += 1
    return jobs, failed


def run(args) -> int:
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise ClodeError(f"{outdir}: exists and is not a folder")
    adjustments = adjustments_from(args)       # option errors before the model loads
    enhancer = make_enhancer(args)
    auto = args.T == "auto"
    adjustments = adjustments.replace(T=enhancer.default_T if args.T is None or auto else args.T)

    jobs, failed = plan_outputs(args.inputs, outdir)
    sources = {src.resolve() for src, _ in jobs}
    written: dict[Path, Path] = {}
    for i, (src, target) in enumerate(jobs, 1):
        key = target.resolve()
        if key in sources:
            _error(f"{src}: refusing to write over the input {target}; choose another output folder")
            failed += 1
            continue
        if key in written:
            _error(f"{src}: skipped, {target} was already written from {written[key]} in this run")
            failed += 1
            continue
        start = time.perf_counter()
        try:
            photo = load_image(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            T_used = enhance_to_file(photo, target, adjustments, enhancer=enhancer, auto=auto,
                                     mode=args.mode).adjustments.T
        except ClodeError as e:
            _error(str(e))
            failed += 1
            continue
        except OSError as e:  # e.g. the output folder cannot be created
            _error(f"{target}: {e.strerror or e}")
            failed += 1
            continue
        written[key] = src
        print(f"[{i}/{len(jobs)}] {src} -> {target} (T={T_used:g}, {time.perf_counter() - start:.1f} s)", flush=True)
    print(f"{len(written)} written to {outdir}" + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0
