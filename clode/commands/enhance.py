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

import sys

from clode.io import batch, sidecar
from clode.base.adjustments import check_T
from clode.base.atomic import check_writable_folder
from clode.io.batch import CONFLICT_POLICIES
from clode.engine.enhancer import MODES
from clode.base.errors import ClodeError
from clode.io.export import FORMAT_EXTENSIONS, HIGH_QUALITY, ExportOptions
from clode.base.progress import CancelToken
from clode.commands.common import (add_adjustment_options, add_engine_options, add_long_edge_option, adjustments_from, exposure,
                     make_enhancer, stop_on_signals)


def register(subparsers) -> None:
    p = subparsers.add_parser("enhance", help="enhance photos, one file per input",
                              description="Enhance photos with CLODE; writes OUTDIR/<name>.<ext> per input, "
                                          "in the input's own kind of file (RAW: 16-bit TIFF; others: PNG) "
                                          "unless --format says otherwise.")
    p.add_argument("inputs", nargs="+", metavar="IMG_OR_DIR", help="photos, or folders of photos")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the results")
    p.add_argument("--T", dest="T", type=exposure, metavar="T|auto|auto:model",
                   help="exposure: the ODE end time (default: the model's, 3.0; negative darkens), "
                        "auto (chosen per photo, with the taste learned from your edits in the editor), "
                        "or auto:model (Auto without that taste)")
    p.add_argument("--on-conflict", choices=CONFLICT_POLICIES, default="unique",
                   help="when an output file exists: unique (default: add -2, -3 ...), skip, or overwrite "
                        "(never an input, nor a file in an input's folder)")
    p.add_argument("--format", choices=list(FORMAT_EXTENSIONS), default=None,
                   help="output format for every photo (default: the input's own: JPEG -> jpeg, PNG -> png, "
                        "TIFF and RAW -> tiff, others -> png)")
    p.add_argument("--quality", type=int, default=HIGH_QUALITY, metavar="Q",
                   help=f"JPEG/WebP quality 1-100 (default {HIGH_QUALITY})")
    add_long_edge_option(p)
    add_adjustment_options(p)
    p.add_argument("--mask", metavar="SIDECAR",
                   help="local exposure layers (brush, gradients) from this sidecar file (a photo's "
                        "<name>.clode.json), applied to every photo")
    p.add_argument("--mode", choices=MODES, default="fast",
                   help="fast (default): solve on a small proxy, render at full size; "
                        "exact: integrate the whole image, as the paper does (slow on a CPU)")
    add_engine_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    """One photo per input, through the batch loop (``clode.io.batch.run``, as ``clode batch``): a
    plan of every input first (``clode.io.batch.plan_paths``), then the pipeline; this command only
    says each result its own way."""
    outdir = check_writable_folder(args.output, "-o")     # once, before any work
    if not 1 <= args.quality <= 100:
        raise ClodeError(f"--quality {args.quality}: must be 1 to 100")
    adjustments = adjustments_from(args)       # option errors before the model loads
    if getattr(args, "mask", None):
        saved = sidecar.read(args.mask)
        if saved.warning():
            print(f"clode: warning: {saved.warning()}", file=sys.stderr)
        adjustments = adjustments.replace(local=saved.adjustments().local)
    enhancer = make_enhancer(args)
    # the model's range; a T within a hair of 0 is 0
    T = check_T(args.T, enhancer.t_max, "--T") if isinstance(args.T, float) else args.T
    options = batch.BatchOptions(T=T, adjustments=adjustments, on_conflict=args.on_conflict, mode=args.mode,
                                 same_kind=True, export=ExportOptions(format=args.format, quality=args.quality,
                                                                     long_edge=args.long_edge))
    plan = batch.plan_paths(args.inputs, outdir, options)
    rejected = {id(item) for item in plan.rejected}
    number = 0

    def progress(p: batch.Progress) -> None:
        nonlocal number
        item = p.item
        if item is None:
            return
        if id(item) not in rejected:
            number += 1
        where = f"[{number}/{len(plan.jobs)}] {item.source}"
        if item.status == batch.DONE:
            print(f"{where} -> {item.target} (T={item.T:g}, {item.seconds:.1f} s)", flush=True)
        elif item.status == batch.SKIPPED:
            why = "exists" if item.reason == "output exists" else "was written meanwhile by another run"
            print(f"{where}: skipped, {item.target} {why}", flush=True)
        else:
            print(f"clode: error: {item.source}: {item.reason}", file=sys.stderr, flush=True)

    cancel = CancelToken()
    with stop_on_signals(cancel):
        result = batch.run(plan, enhancer, progress=progress, cancel=cancel, write_log=False)
    print(f"{result.done} written to {outdir}" + (f", {result.skipped} skipped" if result.skipped else "")
          + (f", {result.failed} failed" if result.failed else ""), flush=True)
    if result.cancelled:
        print("clode: cancelled (rerun with --on-conflict skip to do the rest)", file=sys.stderr)
        return 130
    return 1 if result.failed else 0
