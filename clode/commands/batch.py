"""``clode batch INPUT_DIR -o OUTPUT_DIR``: enhance a whole folder the same way (see ``clode.io.batch``).

One progress line per file on stdout, the summary at the end (also written as a log file in the
output folder). Exit status: 0 when every file was done or skipped, 1 when any failed, 130 when
cancelled (Ctrl-C or SIGTERM stops after cleaning up; a second one stops at once).
"""

from __future__ import annotations

import sys

from clode.io import batch
from clode.base.errors import ClodeError
from clode.io.export import DEFAULT_FORMAT, DEFAULT_QUALITY, FORMAT_EXTENSIONS, ExportOptions
from clode.base.progress import CancelToken
from clode.commands.common import (add_adjustment_options, add_engine_options, add_long_edge_option, adjustments_from,
                     make_enhancer, parse_T, stop_on_signals)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="enhance every photo of a folder",
        description="Enhance every photo of INPUT_DIR into OUTPUT_DIR with the fast engine. "
                    "Originals are never written; a bad file is reported and the batch goes on.")
    p.add_argument("input", metavar="INPUT_DIR", help="folder of photos")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR",
                   help="folder for the results (created if needed; may lie inside INPUT_DIR, it is then not scanned)")
    p.add_argument("-r", "--recursive", action="store_true",
                   help="take sub-folders too, mirroring them under OUTPUT_DIR")
    p.add_argument("--T", dest="T", default=None, metavar="T|auto|auto:model|sidecar",
                   help="exposure: a number (the ODE end time), auto (chosen per photo, with the taste "
                        "learned from your edits in the editor), auto:model (Auto without that taste), or sidecar "
                        "(the settings saved by the editor; photos without them get auto, as the editor "
                        "starts them); default: the model's default T")
    p.add_argument("--format", choices=list(FORMAT_EXTENSIONS), default=DEFAULT_FORMAT,
                   help=f"output format (default {DEFAULT_FORMAT})")
    p.add_argument("--quality", type=int, default=DEFAULT_QUALITY, metavar="Q",
                   help=f"JPEG/WebP quality 1-100 (default {DEFAULT_QUALITY})")
    add_long_edge_option(p)
    p.add_argument("--bits", type=int, choices=(8, 16), default=8, help="bits per channel for PNG/TIFF (default 8)")
    p.add_argument("--name", default=batch.DEFAULT_NAME, metavar="TEMPLATE",
                   help="output file name without extension; fields: "
                        + ", ".join(f"{{{k}}} ({v})" for k, v in batch.NAME_FIELDS.items())
                        + f" (default {batch.DEFAULT_NAME})")
    p.add_argument("--on-conflict", choices=batch.CONFLICT_POLICIES, default="unique",
                   help="when an output file exists: unique (default: add -2, -3 ...), overwrite (never "
                        "a file inside INPUT_DIR), or skip (picks up an interrupted batch)")
    p.add_argument("--strip-metadata", action="store_true", help="write no EXIF, GPS, XMP or provenance")
    add_adjustment_options(p)
    p.add_argument("--shard", metavar="i/n",
                   help="do only shard i of n (1 <= i <= n), e.g. one per machine or cluster array task; "
                        "the shards are disjoint and together cover every photo")
    add_engine_options(p)
    p.set_defaults(func=run)


def options_from(args) -> batch.BatchOptions:
    if not 1 <= args.quality <= 100:
        raise ClodeError(f"--quality {args.quality}: must be 1 to 100")
    try:
        adjustments = adjustments_from(args)
    except ClodeError as e:
        raise ClodeError(f"--{e}") from None
    return batch.BatchOptions(
        recursive=args.recursive, T=parse_T(args.T, batch.T_MODES), adjustments=adjustments, name=args.name,
        export=ExportOptions(format=args.format, quality=args.quality, bits=args.bits,
                             strip_metadata=args.strip_metadata, long_edge=args.long_edge),
        on_conflict=args.on_conflict, shard=batch.parse_shard(args.shard) if args.shard else None)


def run(args) -> int:
    options = options_from(args)
    plan = batch.plan(args.input, args.output, options)   # option and folder errors before the model loads
    if not plan.total:
        where = " (or its sub-folders)" if options.recursive else " (use --recursive for sub-folders)"
        shard = f" in shard {options.shard[0]}/{options.shard[1]}" if options.shard else ""
        print(f"no photos to do in {plan.input_dir}{shard}" + ("" if plan.found else where))
        return 0
    enhancer = make_enhancer(args)
    extra = f" (shard {options.shard[0]}/{options.shard[1]} of {plan.found})" if options.shard else ""
    print(f"{plan.total} photo{'s' if plan.total != 1 else ''}{extra}: {plan.input_dir} -> {plan.output_dir}", flush=True)

    def progress(p: batch.Progress) -> None:
        if p.item is None:
            return
        print(f"[{p.finished}/{p.total}] {batch.describe(p.item, plan)}  "
              f"elapsed {batch.format_duration(p.elapsed)}, ETA {batch.format_duration(p.eta)}", flush=True)

    cancel = CancelToken()
    with stop_on_signals(cancel):
        result = batch.run(plan, enhancer, progress=progress, cancel=cancel)
    print(result.headline() + (f"; log: {result.log_path}" if result.log_path else ""), flush=True)
    for item in result.items:
        if item.status == batch.FAILED:
            print(f"clode: error: {item.source}: {item.reason}", file=sys.stderr)
    if result.log_error:
        print(f"clode: error: {plan.output_dir}: {result.log_error}", file=sys.stderr)
    if result.cancelled:
        print("clode: cancelled (rerun with --on-conflict skip to do the rest)", file=sys.stderr)
        return 130
    return 1 if result.failed or result.log_error else 0
