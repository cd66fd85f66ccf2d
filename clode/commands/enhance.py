"""``clode enhance IMG_OR_DIR... -o OUTDIR``: one enhanced photo per input, of the input's own kind.

JPEG gives JPEG (quality 95), PNG gives PNG, TIFF gives TIFF, camera RAW a 16-bit TIFF, anything
else PNG; ``--format`` picks one format for all. 16-bit sources keep 16 bits in PNG and TIFF.

Folders are taken file by file (recursively; their sub-folders are kept under
OUTDIR). A file that cannot be read or written costs one stderr line; the
others still run, and the exit code is 1 if any failed (130 when stopped by
Ctrl-C or SIGTERM). An existing file is never replaced unless
``--on-conflict overwrite`` asks for it, and even then no input, nor any
file in an input's folder tree, is written over.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Optional

from ..adjustments import check_T
from ..atomic import TargetExists, check_writable_folder, remove_stale
from ..batch import CONFLICT_POLICIES, alternatives, in_tree
from ..enhancer import MODES
from ..errors import Cancelled, ClodeError, describe_unexpected
from ..enhance_file import enhance_to_file
from ..export import FORMAT_EXTENSIONS, HIGH_QUALITY, format_for, same_kind_format, same_kind_options
from ..imageio import find_images, load_image
from ..paths import file_id, place_in, real_path
from ..progress import CancelToken
from .common import (add_adjustment_options, add_engine_options, adjustments_from, exposure, make_enhancer,
                     stop_on_signals)


def register(subparsers) -> None:
    p = subparsers.add_parser("enhance", help="enhance photos, one file per input",
                              description="Enhance photos with CLODE; writes OUTDIR/<name>.<ext> per input, "
                                          "in the input's own kind of file (RAW: 16-bit TIFF; others: PNG) "
                                          "unless --format says otherwise.")
    p.add_argument("inputs", nargs="+", metavar="IMG_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--T", dest="T", type=exposure, metavar="T|auto",
                   help="exposure: the ODE end time (default: the model's, 3.0; negative darkens), "
                        "or auto (chosen per photo)")
    p.add_argument("--on-conflict", choices=CONFLICT_POLICIES, default="unique",
                   help="when an output file exists: unique (default: add -2, -3 ...), skip, or overwrite "
                        "(never an input, nor a file in an input's folder)")
    p.add_argument("--format", choices=list(FORMAT_EXTENSIONS), default=None,
                   help="output format for every photo (default: the input's own: JPEG -> jpeg, PNG -> png, "
                        "TIFF and RAW -> tiff, others -> png)")
    p.add_argument("--quality", type=int, default=HIGH_QUALITY, metavar="Q",
                   help=f"JPEG/WebP quality 1-100 (default {HIGH_QUALITY})")
    add_adjustment_options(p)
    p.add_argument("--mode", choices=MODES, default="fast",
                   help="fast (default): solve on a small proxy, render at full size; "
                        "exact: integrate the whole image, as the paper does (slow on a CPU)")
    add_engine_options(p)
    p.set_defaults(func=run)


def _error(message: str) -> None:
    print(f"clode: error: {message}", file=sys.stderr)


def plan_outputs(inputs: list[str], outdir: Path, fmt: Optional[str] = None) -> tuple[list[tuple[Path, Path]], int]:
    """(source, target) for every photo named or found, and how many inputs were bad; each target
    has the extension of ``fmt``, or of the source's own kind when None (``same_kind_format``).

    When ``outdir`` lies inside a folder being scanned, the files in it are
    skipped, so results of an earlier run are not enhanced again.
    """
    jobs: list[tuple[Path, Path]] = []
    failed = 0

    def suffix(source: Path) -> str:
        return FORMAT_EXTENSIONS[fmt or same_kind_format(source)]

    for name in inputs:
        path = Path(name)
        if path.is_dir():
            placed = place_in(outdir, path)      # the output folder inside this one (a bind mount too)?
            found = find_images(path, exclude=None if placed in (None, Path(".")) else real_path(path) / placed)
            if not found:
                _error(f"{path}: no supported images in this folder")
                failed += 1
            for p in found:
                jobs.append((p, outdir / p.relative_to(path).with_suffix(suffix(p))))
        elif path.exists():
            jobs.append((path, outdir / (path.stem + suffix(path))))
        else:
            _error(f"{path}: no such file or folder")
            failed += 1
    return jobs, failed


def run(args) -> int:
    outdir = check_writable_folder(args.output, "-o")     # once, before any work
    if not 1 <= args.quality <= 100:
        raise ClodeError(f"--quality {args.quality}: must be 1 to 100")
    adjustments = adjustments_from(args)       # option errors before the model loads
    enhancer = make_enhancer(args)
    auto = args.T == "auto"
    T = enhancer.default_T if args.T is None or auto else check_T(args.T, enhancer.t_max, "--T")
    adjustments = adjustments.replace(T=T)
    policy = args.on_conflict

    jobs, failed = plan_outputs(args.inputs, outdir, args.format)
    # Inputs are compared as files (device, inode), so a link, a hard link or a bind mount to one
    # is one too.
    sources = {file_id(src) for src, _ in jobs} - {None}
    # The input trees: the folders given, and the folder of each file given (its neighbours are
    # originals too: IMG_1.jpg must never replace an IMG_1.png beside it), as spelt and with links
    # resolved (a linked photo's own folder and its original's).
    trees = set()
    for name in args.inputs:
        path = Path(name)
        if path.is_dir():
            trees.add(path)
        elif path.exists():
            trees.update({path.absolute().parent, real_path(path).parent})
    reserved = {target for _, target in jobs}
    for folder in {target.parent for _, target in jobs}:
        remove_stale(folder)                     # what killed runs left
    written: dict[Path, Path] = {}
    skipped = 0
    cancel = CancelToken()
    with stop_on_signals(cancel):
        for i, (src, target) in enumerate(jobs, 1):
            if cancel.cancelled:
                break
            key = real_path(target)
            if file_id(target) in sources:
                _error(f"{src}: refusing to write over the input {target}; choose another output folder")
                failed += 1
                continue
            if key in written and policy != "unique":     # unique: the write takes the next free name
                _error(f"{src}: skipped, {target} was already written from {written[key]} in this run")
                failed += 1
                continue
            if os.path.lexists(target):
                if policy == "skip":
                    print(f"[{i}/{len(jobs)}] {src}: skipped, {target} exists", flush=True)
                    skipped += 1
                    continue
                if policy == "overwrite" and any(in_tree(target, tree) for tree in trees):
                    _error(f"{src}: refused, {target} lies in an input folder and overwrite never replaces "
                           "a file there (use unique or skip)")
                    failed += 1
                    continue
            start = time.perf_counter()
            try:
                photo = load_image(src)
                target.parent.mkdir(parents=True, exist_ok=True)
                options = same_kind_options(photo, format_for(target), args.quality)
                result = enhance_to_file(photo, target, adjustments, enhancer=enhancer, auto=auto, mode=args.mode,
                                         options=options, cancel=cancel, exclusive=policy != "overwrite",
                                         alternatives=alternatives(target, reserved) if policy == "unique" else ())
            except Cancelled:
                break
            except TargetExists:
                print(f"[{i}/{len(jobs)}] {src}: skipped, {target} was written meanwhile by another run", flush=True)
                skipped += 1
                continue
            except ClodeError as e:
                _error(str(e))
                failed += 1
                continue
            except OSError as e:  # e.g. the output folder cannot be created
                _error(f"{e.filename or target}: {e.strerror or e}")
                failed += 1
                continue
            except MemoryError:
                _error(f"{src}: out of memory")
                failed += 1
                continue
            except Exception as e:  # noqa: BLE001 - one strange file must not stop the others
                _error(f"{src}: {describe_unexpected(e)}")
                failed += 1
                continue
            written[key] = src
            reserved.add(result.path)
            print(f"[{i}/{len(jobs)}] {src} -> {result.path} (T={result.adjustments.T:g}, "
                  f"{time.perf_counter() - start:.1f} s)", flush=True)
    print(f"{len(written)} written to {outdir}" + (f", {skipped} skipped" if skipped else "")
          + (f", {failed} failed" if failed else ""), flush=True)
    if cancel.cancelled:
        print("clode: cancelled (rerun with --on-conflict skip to do the rest)", file=sys.stderr)
        return 130
    return 1 if failed else 0
