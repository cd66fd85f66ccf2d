"""Batch export: enhance a whole folder the same way, for ``clode batch`` and the app's dialog.

``plan(input_dir, output_dir, options)`` scans the folder (recursively if asked, mirroring the tree
under the output folder) and decides every output path up front, so a run and its rerun agree;
``run(plan, enhancer, ...)`` enhances the files one by one with the fast engine, decoding the next
and writing the previous one meanwhile (a pipeline, see ``run``). A file that fails costs one line
in the summary and the batch goes on; a cancel stops between two files or inside a solve, and
atomic writes leave no partial file, so a rerun with ``on_conflict="skip"`` finishes the rest. The summary is also written as a log file in the output folder. Originals are never written:
no planned output may resolve to an input, and ``save_image`` refuses its own source besides.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import re
import string
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import InitVar, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from clode.base.version import __version__
from clode.base.adjustments import DEFAULT_COLOUR_NOISE, DEFAULT_DENOISE, Adjustments, check_T
from clode.base.atomic import TargetExists, atomic_write, check_writable_folder, remove_stale
from clode.base.errors import Cancelled, ClodeError, describe_unexpected
from clode.io.enhance_file import Rendered, render_for_file
from clode.io.export import DEFAULT_FORMAT, FORMAT_EXTENSIONS, ExportOptions, format_for, same_kind_format, same_kind_options
from clode.io.imageio import find_images, load_image
from clode.base.paths import file_id, place_in, real_path
from clode.base.progress import CancelToken, check
from clode.io import sidecar

PathLike = Union[str, os.PathLike]

CONFLICT_POLICIES = ("unique", "overwrite", "skip")
T_MODES = ("auto", "auto:model", "sidecar")   # besides a number (read from --T by clode.commands.common.parse_T)
DEFAULT_NAME = "{stem}_clode"
#: Fields a name template may use.
NAME_FIELDS = {"stem": "the file name without its extension", "ext": "the original extension, e.g. jpg",
               "folder": "the name of the folder the photo is in"}
LOG_PREFIX = "clode-batch"
#: The names this app gives its results (the Export dialog's ``<stem>-clode``, the batch's
#: ``<stem>_clode``, each perhaps with a ``-2`` of "keep both"): such files in an input folder are
#: earlier exports, not photos to enhance again.
OWN_EXPORT = re.compile(r"[-_]clode(-\d+)?$", re.IGNORECASE)

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass
class BatchOptions:
    recursive: bool = False
    T: Union[float, str, None] = None     # a number, "auto", "sidecar", or None for the model's default
    #: the edit every photo gets (its T is not used: ``T`` above decides); in sidecar mode a
    #: photo's saved settings win
    adjustments: Adjustments = field(default_factory=Adjustments)
    name: str = DEFAULT_NAME              # output file name without extension; fields: NAME_FIELDS
    export: ExportOptions = field(default_factory=lambda: ExportOptions(format=DEFAULT_FORMAT))
    #: an existing output file: "unique" (new name), "overwrite" (never a file in the input tree), "skip"
    on_conflict: str = "unique"
    shard: Optional[tuple[int, int]] = None   # (i, n), 1 <= i <= n: this run does shard i of n
    #: each photo its own export options (``clode enhance``): its own kind of file unless
    #: ``export.format`` names one (JPEG -> JPEG, RAW -> TIFF), and 16 bits where it has more than 8;
    #: ``export`` then gives only the format and the quality
    same_kind: bool = False
    mode: str = "fast"                    # clode.engine.enhancer.MODES: "exact" integrates the whole image
    #: shorthands for ``adjustments`` fields (``BatchOptions(denoise=0.5)``)
    denoise: InitVar[Optional[float]] = None
    colour_noise: InitVar[Optional[float]] = None

    def __post_init__(self, denoise: Optional[float], colour_noise: Optional[float]) -> None:
        changes = {k: v for k, v in (("denoise", denoise), ("colour_noise", colour_noise)) if v is not None}
        if changes:
            self.adjustments = self.adjustments.replace(**changes)


# Read back, the shorthands are the adjustments' (the dataclass keeps only their None defaults). setattr:
# to a type checker the names are init-only (InitVar), not attributes of the class.
setattr(BatchOptions, "denoise", property(lambda self: self.adjustments.denoise))
setattr(BatchOptions, "colour_noise", property(lambda self: self.adjustments.colour_noise))


@dataclass
class Job:
    source: Path
    target: Path           # as planned; "unique" may pick another name if this one exists when written
    relative: Path         # source relative to the input folder (names the file in logs and shards)
    #: folders whose files "overwrite" never replaces (default: the input folder)
    trees: tuple[Path, ...] = ()


@dataclass
class Plan:
    input_dir: Path
    output_dir: Path
    options: BatchOptions
    jobs: list[Job]
    rejected: list["ItemResult"]     # files that cannot be done at all (output would hit an input)
    found: int                       # images found before sharding
    left_out: int = 0                # earlier exports of this app found among the inputs (``is_own_export``)

    @property
    def total(self) -> int:
        return len(self.jobs) + len(self.rejected)


@dataclass
class ItemResult:
    source: Path
    target: Optional[Path]
    status: str            # DONE, SKIPPED or FAILED
    reason: str = ""       # one line: why skipped or failed, or how T was chosen
    T: Optional[float] = None
    denoise: Optional[float] = None
    seconds: float = 0.0
    colour_noise: float = DEFAULT_COLOUR_NOISE


@dataclass
class Progress:
    """What a progress callback receives: before each file (``item`` None) and after it."""
    finished: int                 # files finished (done, skipped or failed)
    total: int
    current: Optional[Path]       # the file being worked on (None at the end)
    elapsed: float                # seconds since the start
    eta: Optional[float]          # seconds still to go (None until one file has been processed)
    fraction: float               # 0..1, counting the part of the current file done
    done: int = 0
    skipped: int = 0
    failed: int = 0
    item: Optional[ItemResult] = None   # the file that just finished, if this report is for one
    #: the current file's place in the batch, from 1 (0 when none): ahead of ``finished`` + 1
    #: while the previous file is still being written
    number: int = 0


ProgressFn = Callable[[Progress], None]


@dataclass
class Result:
    plan: Plan
    items: list[ItemResult]
    cancelled: bool
    elapsed: float
    log_path: Optional[Path] = None
    #: why the log file could not be written ("" when it was, or none was asked for); not a photo
    #: of the batch, so it is in none of the counts
    log_error: str = ""

    def count(self, status: str) -> int:
        return sum(1 for it in self.items if it.status == status)

    @property
    def done(self) -> int:
        return self.count(DONE)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def not_started(self) -> int:
        return self.plan.total - len(self.items)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled and not self.log_error

    def headline(self) -> str:
        text = f"{self.done} done, {self.skipped} skipped, {self.failed} failed"
        if self.cancelled:
            text += f"; cancelled with {self.not_started} not started"
        return text + f" in {format_duration(self.elapsed)}"


# ----------------------------------------------------------------------------------------------
# options

def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 1 <= i <= n."""
    try:
        i, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ClodeError(f"--shard {text!r}: expected i/n, e.g. 1/4 (the first of four shards)") from None
    if n < 1 or not 1 <= i <= n:
        raise ClodeError(f"--shard {text!r}: need 1 <= i <= n (shards are numbered from 1)")
    return i, n


def shard_of(relative: PathLike, n: int) -> int:
    """The shard (1..n) a file belongs to: a stable hash of its path relative to the input folder,
    so every machine agrees without coordination, and adding files never moves the others."""
    key = Path(relative).as_posix().encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.sha1(key).digest()[:8], "big") % n + 1


#: The longest file name most disks take (bytes of one path component): what a template may give.
MAX_NAME_BYTES = 255


def check_template(name: str) -> None:
    """Refuse a name template that cannot give a plain file name, before anything is formatted:
    an unknown field, a field width or precision beyond a file name's length (``{stem:>999999999}``
    would build a gigabyte string), or a sample name over ``MAX_NAME_BYTES``."""
    try:
        parsed = [(f, spec or "") for _, f, spec, _ in string.Formatter().parse(name) if f is not None]
    except ValueError as e:
        raise ClodeError(f"--name {_short_text(name)}: {e}") from None
    for f, spec in parsed:
        if f not in NAME_FIELDS:
            raise ClodeError(f"--name {_short_text(name)}: unknown field {{{_short_text(f)}}} "
                             f"(use {', '.join('{' + k + '}' for k in NAME_FIELDS)})")
        if "{" in spec or any(int(n) > MAX_NAME_BYTES for n in re.findall(r"\d+", spec)):
            raise ClodeError(f"--name {_short_text(name)}: the field {{{f}:{_short_text(spec)}}} asks for more than "
                             f"a file name holds ({MAX_NAME_BYTES} characters at most)")
    try:
        sample = output_stem(name, Path("IMG_0001.JPG"))
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as e:   # e.g. {stem:%}, {stem!z}
        raise ClodeError(f"--name {_short_text(name)}: {e}") from None
    if not sample.strip() or "/" in sample or "\\" in sample or sample in (".", ".."):
        raise ClodeError(f"--name {_short_text(name)}: must give a plain file name (no folders)")
    if _name_bytes(sample + ".jpeg") > MAX_NAME_BYTES:
        raise ClodeError(f"--name {_short_text(name)}: gives names longer than a file name may be "
                         f"({MAX_NAME_BYTES} bytes)")


def _short_text(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:40] + "..." + text[-30:])


def _name_bytes(name: str) -> int:
    return len(os.fsencode(name))


def output_stem(name: str, source: Path) -> str:
    """The output name (no extension) for ``source``, an absolute path or one under the input folder."""
    return name.format(stem=source.stem, ext=source.suffix.lstrip(".").lower(), folder=source.parent.name)


def is_own_export(path: PathLike) -> bool:
    """Whether a file is named as this app names its results (``OWN_EXPORT``)."""
    return OWN_EXPORT.search(Path(path).stem) is not None


# ----------------------------------------------------------------------------------------------
# planning

def plan(input_dir: PathLike, output_dir: PathLike, options: Optional[BatchOptions] = None) -> Plan:
    """Every (source, target) of the batch; raises ClodeError for options that cannot work at all."""
    options = options or BatchOptions()
    input_dir, output_dir = Path(input_dir).expanduser(), Path(output_dir).expanduser()
    if not input_dir.is_dir():
        raise ClodeError(f"{input_dir}: no such folder" if not input_dir.exists() else f"{input_dir}: not a folder")
    # Once, up front: a read-only, looping or too long output folder costs one line, not a failure per photo.
    check_writable_folder(output_dir)
    if options.on_conflict not in CONFLICT_POLICIES:
        raise ClodeError(f"unknown conflict policy {options.on_conflict!r} (choose {', '.join(CONFLICT_POLICIES)})")
    if options.shard is not None:
        parse_shard(f"{options.shard[0]}/{options.shard[1]}")
    check_template(options.name)
    fmt = format_for(output_dir / "x", options.export)
    ext = FORMAT_EXTENSIONS[fmt]

    real_in = real_path(input_dir)
    # Judged by the folders themselves (device, inode), not their spelling: through a bind mount or
    # a symlinked folder the output may be the input folder, or lie inside it.
    placed = place_in(output_dir, input_dir)
    if placed == Path("."):
        raise ClodeError(f"{output_dir}: the output folder must not be the input folder; choose another one")
    # An output folder inside the input tree is left out of the scan, so results are never
    # enhanced again by a rerun.
    exclude = real_in / placed if placed is not None else None
    # One recursive scan: it names every original a target must not hit, even in sub-folders
    # that a flat run leaves out.
    everything = find_images(input_dir, recursive=True, exclude=exclude)
    originals = {real_path(s) for s in everything}
    original_ids = {file_id(s) for s in everything} - {None}
    relatives = [s.relative_to(input_dir) for s in everything]
    if not options.recursive:
        relatives = [r for r in relatives if len(r.parts) == 1]
    left_out = sum(1 for r in relatives if is_own_export(r))
    relatives = [r for r in relatives if not is_own_export(r)]
    found = len(relatives)

    # Two photos of one folder can ask for the same name (IMG_1.CR2 and IMG_1.JPG shot together):
    # both then carry their original extension. This is decided from the whole scan, not from
    # this shard or the files on disk, so reruns and other shards pick the same names.
    claims: dict[str, int] = {}
    for r in relatives:
        key = _key(r.parent / (output_stem(options.name, real_in / r) + ext))
        claims[key] = claims.get(key, 0) + 1

    if options.shard is not None:
        i, n = options.shard
        relatives = [r for r in relatives if shard_of(r, n) == i]

    jobs: list[Job] = []
    rejected: list[ItemResult] = []
    taken: set[str] = set()
    for rel in relatives:
        source = input_dir / rel
        stem = output_stem(options.name, real_in / rel)
        if claims[_key(rel.parent / (stem + ext))] > 1:
            stem = f"{stem}-{rel.suffix.lstrip('.').lower()}"
        target = output_dir / rel.parent / (stem + ext)
        if _name_bytes(target.name) > MAX_NAME_BYTES:
            rejected.append(ItemResult(source, target, FAILED, f"the output name would be too long "
                                       f"({_name_bytes(target.name)} bytes, at most {MAX_NAME_BYTES})"))
            continue
        if _key(target) in taken:   # same name even with the extension (a.jpg and a.JPG on a case-sensitive disk)
            if options.on_conflict != "unique":
                rejected.append(ItemResult(source, target, FAILED,
                                           f"another photo of this batch has the output name {target.name}"))
                continue
            target = next(c for c in alternatives(target, set()) if _key(c) not in taken)   # unique: -2, -3 ...
        taken.add(_key(target))
        if real_path(target) in originals or file_id(target) in original_ids:   # a link or hard link too
            rejected.append(ItemResult(source, target, FAILED, f"refused: the output {target} is an original photo"))
            continue
        jobs.append(Job(source, target, rel))
    return Plan(input_dir, output_dir, options, jobs, rejected, found, left_out)


def plan_paths(inputs: Sequence[PathLike], output_dir: PathLike, options: Optional[BatchOptions] = None) -> Plan:
    """``clode enhance``'s plan: photos and folders named one by one (a folder's photos found
    recursively, its sub-folders kept under ``output_dir``), each output named as its photo with
    the extension of its format. Unlike ``plan``, the output folder may be an input folder (its
    photos' other kinds are written beside them), so every refusal is per photo: an output that
    is an input (as a file: through links too), a name two photos ask for (``unique`` gives the
    second the next free one), and "overwrite" never replaces a file in an input's tree.
    Missing inputs and folders without photos are rejected items too, in the order given."""
    options = options or BatchOptions()
    output_dir = Path(output_dir)
    fmt = format_for(output_dir / "x", options.export) if options.export.format or not options.same_kind else None
    rejected: list[ItemResult] = []
    candidates: list[tuple[Path, Path, Path, tuple[Path, ...]]] = []      # source, target, relative, trees
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            placed = place_in(output_dir, path)      # the output folder inside this one (a bind mount too)?
            found = find_images(path, exclude=None if placed in (None, Path(".")) else real_path(path) / placed)
            if not found:
                rejected.append(ItemResult(path, None, FAILED, "no supported images in this folder"))
            for p in found:
                rel = p.relative_to(path)
                candidates.append((p, output_dir / rel.with_suffix(FORMAT_EXTENSIONS[fmt or same_kind_format(p)]),
                                   rel, (path,)))
        elif os.path.lexists(path):
            # its folder is an input tree too, as spelt and with links resolved: IMG_1.jpg never
            # replaces an IMG_1.png beside it, nor beside the photo a link points to
            candidates.append((path, output_dir / (path.stem + FORMAT_EXTENSIONS[fmt or same_kind_format(path)]),
                               Path(path.name), (Path(os.path.abspath(path)).parent, real_path(path).parent)))
        else:
            rejected.append(ItemResult(path, None, FAILED, "no such file or folder"))

    sources = {file_id(source) for source, *_ in candidates} - {None}
    jobs: list[Job] = []
    taken: dict[Path, Path] = {}        # each output (links resolved) and the photo it is for
    for source, target, rel, trees in candidates:
        if file_id(target) in sources:
            rejected.append(ItemResult(source, target, FAILED,
                                       f"refusing to write over the input {target}; choose another output folder"))
            continue
        if real_path(target) in taken:
            if options.on_conflict != "unique":
                rejected.append(ItemResult(source, target, FAILED, f"skipped, {target} was already written from "
                                                                   f"{taken[real_path(target)]} in this run"))
                continue
            target = next(c for c in alternatives(target, set()) if real_path(c) not in taken)
        taken[real_path(target)] = source
        jobs.append(Job(source, target, rel, trees))
    first = Path(inputs[0]) if len(inputs) == 1 else Path(".")
    return Plan(first if first.is_dir() else first.parent, output_dir, options, jobs, rejected, len(candidates))


def _key(path: Path) -> str:
    # Case-insensitive: on the disks of macOS and Windows, a.JPG and a.jpg are one file.
    return path.as_posix().lower()


def unique_path(target: Path, reserved: set[Path]) -> Path:
    """``target``, or ``<stem>-2<ext>``, ``-3`` ... : the first that neither exists nor is reserved."""
    return next(p for p in alternatives(target, reserved, first=True) if not os.path.lexists(p))


def alternatives(target: Path, reserved: set[Path], first: bool = False):
    """``<stem>-2<ext>``, ``-3`` ... (with ``target`` itself first if ``first``), leaving out reserved names."""
    if first and target not in reserved:
        yield target
    for n in range(2, 100_000):
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        if candidate not in reserved:
            yield candidate


def in_tree(path: Path, folder: Path) -> bool:
    """Whether ``path`` lies in the folder tree ``folder``, judged by the folders themselves (through
    links and bind mounts: ``clode.base.paths.place_in``)."""
    if file_id(folder) is None:
        return True   # cannot tell: treat it as inside, so it is never replaced
    return place_in(path, folder) is not None


# ----------------------------------------------------------------------------------------------
# running

#: Photos decoded ahead of the one being enhanced, and rendered photos waiting for (or in) their
#: write behind it: with the one being enhanced, at most 1 + DECODE_AHEAD + WRITE_BEHIND photos
#: are in memory (about 0.4 GB each at 24 MP; peak RSS of a 24 MP batch: see docs/benchmarks.md) while the
#: enhancer never waits for the disk.
DECODE_AHEAD = 1
WRITE_BEHIND = 1
#: With a GPU, photos decoded ahead (each by its own thread): a GPU enhances a 24 MP photo in about
#: a second, about as long as one thread takes to decode its JPEG (1.1 s on the 2-core EPYC).
DECODE_AHEAD_GPU = 2


def run(plan_: Plan, enhancer, *, progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None, write_log: bool = True) -> Result:
    """Enhance every planned file; never raises for a bad file, returns the outcome of each.

    A pipeline: one thread decodes the next photo and another encodes and writes the previous one
    while this thread enhances the current one (numpy, Pillow, libpng and zlib release the GIL),
    all with the one ``enhancer`` (one model, one device). Results are reported in the plan's
    order as soon as each file is written, and every ``progress`` call comes from this thread.
    A cancel stops the enhancement under way and finishes the writes of the photos already
    enhanced (atomically, as always) before it returns."""
    options = plan_.options
    start = time.monotonic()
    items: list[ItemResult] = []
    total = plan_.total
    # Names "unique" must not take: every planned output, and every one picked so far (by the writer).
    reserved: set[Path] = {j.target for j in plan_.jobs}
    cancelled = False
    worked, last_worked = 0, start          # photos actually processed (skips are instant): the ETA's pace
    position = 0.0                          # files started (the current one counted by its part done)
    model = enhancer.model_name
    if isinstance(options.T, (int, float)):
        check_T(options.T, enhancer.t_max, "--T")       # before any work: the model's range
    # What killed runs left (temporary files of unfinished writes) goes now.
    for folder in {plan_.output_dir} | {j.target.parent for j in plan_.jobs}:
        remove_stale(folder)

    def emit(current: Optional[Path], inner: float, item: Optional[ItemResult] = None) -> None:
        nonlocal position
        if progress is None:
            return
        finished = len(items)
        done = max(position, float(finished))
        eta = None
        if worked:
            eta = max(0.0, (last_worked - start) / worked * (total - done))
        elif finished == total:
            eta = 0.0
        progress(Progress(finished, total, current, time.monotonic() - start, eta,
                          done / total if total else 1.0,
                          sum(it.status == DONE for it in items), sum(it.status == SKIPPED for it in items),
                          sum(it.status == FAILED for it in items), item,
                          min(int(done) + 1, total) if current is not None else 0))

    def report(item: ItemResult) -> None:
        nonlocal worked, last_worked
        if item.status != SKIPPED:
            worked += 1
            last_worked = time.monotonic()
        items.append(item)
        emit(None, 0.0, item)

    for item in plan_.rejected:
        position += 1
        report(item)
    jobs = plan_.jobs
    on_cpu = getattr(getattr(enhancer, "device", None), "type", "cpu") == "cpu"
    ahead = DECODE_AHEAD if on_cpu else DECODE_AHEAD_GPU
    with ThreadPoolExecutor(ahead, thread_name_prefix="clode-decode") as decoder, \
            ThreadPoolExecutor(1, thread_name_prefix="clode-write") as writer:
        decoding: deque = deque()     # futures of _decode for the next jobs, in order
        writing: deque = deque()      # futures of the ItemResults not reported yet, in order

        def report_finished(wait_for: int = WRITE_BEHIND + 1) -> None:
            """Report the results at the head of ``writing`` that are ready, waiting until at most
            ``wait_for`` remain (by default: never waiting)."""
            while writing and (writing[0].done() or len(writing) > wait_for):
                report(writing.popleft().result())

        try:
            for i, job in enumerate(jobs):
                report_finished(WRITE_BEHIND)
                while len(decoding) < 1 + ahead and i + len(decoding) < len(jobs):
                    decoding.append(decoder.submit(_decode, jobs[i + len(decoding)], options.on_conflict))
                if cancel is not None and cancel.cancelled:
                    cancelled = True
                    break
                position = float(len(plan_.rejected) + i)
                emit(job.source, 0.0)
                decoded = decoding.popleft().result()
                if isinstance(decoded, ItemResult):                   # skipped, or cannot be read
                    writing.append(_ready(decoded))
                    position += 1
                    continue
                photo, seconds = decoded
                t0 = time.monotonic()

                def step(f: float, _m: str, job=job) -> None:
                    nonlocal position
                    inner = min(max(f, 0.0), 1.0) * 0.95
                    position = len(plan_.rejected) + i + inner
                    report_finished()      # the previous photo, as soon as it is written
                    emit(job.source, inner)

                try:
                    rendered = _render(job, photo, options, enhancer, cancel, step)
                except Cancelled:
                    cancelled = True
                    break
                del photo
                position = len(plan_.rejected) + i + 0.95
                if isinstance(rendered, ItemResult):
                    writing.append(_ready(rendered))
                    continue
                rendered, how = rendered
                writing.append(writer.submit(_write, job, rendered, how, options.on_conflict, model, reserved,
                                             seconds + time.monotonic() - t0))
                del rendered
        finally:
            for future in decoding:       # decodes not started are dropped; a running one is waited for
                future.cancel()
            report_finished(0)            # what was enhanced is written (atomically) and reported

    result = Result(plan_, items, cancelled, time.monotonic() - start)
    if write_log:
        try:
            result.log_path = _write_log(result, model)
        except OSError as e:
            result.log_path = None
            result.log_error = f"cannot write the log file: {e.strerror or e}"
    return result


def _resolve_settings(job: Job, options: BatchOptions, enhancer) -> tuple[Adjustments, bool, str]:
    """(the photo's adjustments, whether T is to be chosen automatically once solved, how T was
    chosen). In sidecar mode the photo's saved values win, each one the sidecar has; a photo
    without a saved T gets Auto, as the editor shows it."""
    mode, base = options.T, options.adjustments
    if mode in ("auto", "auto:model"):
        return base, True, mode
    if mode == "sidecar":
        saved = sidecar.load(job.source)
        if saved is None:
            return base, True, "no sidecar: auto"
        problems = list(saved.problems)
        adjustments = saved.adjustments(base)
        has_T = "T" in saved.settings
        if has_T:
            try:
                check_T(adjustments.T, enhancer.t_max, "the sidecar's T")
            except ClodeError as e:
                problems.append(f"{e}; using auto")
                has_T = False
        note = f" ({saved.path.name}: {'; '.join(problems)})" if problems else ""
        if has_T:
            return adjustments, False, "sidecar" + note
        # where the editor starts a photo never edited
        return adjustments, True, ("auto" + note) if problems else "no sidecar: auto"
    if mode is None:
        return base.replace(T=enhancer.default_T), False, "model default"
    return base.replace(T=float(mode)), False, "fixed"


def _ready(item: ItemResult) -> Future:
    future: Future = Future()
    future.set_result(item)
    return future


def _decode(job: Job, policy: str):
    """Stage 1 (decode thread): (the photo, seconds taken), or the job's ItemResult when it is
    skipped or refused for its existing output, or cannot be read."""
    target = job.target
    # lexists: never raises (a name too long for the disk fails at the write, in one line)
    if os.path.lexists(target):
        if policy == "skip":
            return ItemResult(job.source, target, SKIPPED, "output exists")
        if policy == "overwrite" and any(in_tree(target, tree) for tree in job.trees or (_input_root(job),)):
            return ItemResult(job.source, target, FAILED,
                              f"refused: {target.name} exists inside the input folder, and overwrite never "
                              "replaces a file there (use unique or skip)")
    t0 = time.monotonic()
    try:
        return load_image(job.source), time.monotonic() - t0
    except Exception as e:  # noqa: BLE001 - one strange file must not stop the whole batch
        return _failure(job, target, e)


def _render(job: Job, photo, options: BatchOptions, enhancer, cancel: Optional[CancelToken], step):
    """Stage 2 (the caller's thread, the one that runs the model): (the ``Rendered`` photo, how
    its T was chosen), or the job's ItemResult when it fails; raises Cancelled."""
    try:
        check(cancel)
        adjustments, auto, how = _resolve_settings(job, options, enhancer)
        export = options.export
        if options.same_kind:
            # the photo's own kind, with the size and metadata choices of the run
            export = replace(same_kind_options(photo, format_for(job.target), export.quality),
                             long_edge=export.long_edge, strip_metadata=export.strip_metadata)
        return render_for_file(photo, job.target, adjustments, enhancer=enhancer, auto=auto, mode=options.mode,
                               taste=options.T != "auto:model", options=export, progress=step, cancel=cancel), how
    except Cancelled:
        raise
    except Exception as e:  # noqa: BLE001 - one strange file must not stop the whole batch
        return _failure(job, job.target, e)


def _write(job: Job, rendered: Rendered, how: str, policy: str, model: str, reserved: set[Path],
           seconds: float) -> ItemResult:
    """Stage 3 (write thread): encode and write ``rendered`` atomically; the job's ItemResult."""
    t0 = time.monotonic()
    # The write claims its name atomically (no other process can take it in between): skip and
    # unique never replace a file, whoever wrote it; unique takes the next free -2, -3 ... name.
    others = alternatives(job.target, reserved) if policy == "unique" else ()
    try:
        written = rendered.write(model, exclusive=policy != "overwrite", alternatives=others)
    except Exception as e:  # noqa: BLE001 - one strange file must not stop the whole batch
        return _failure(job, job.target, e)
    reserved.add(written.path)
    used = written.adjustments
    return ItemResult(job.source, written.path, DONE, how, used.T, used.denoise,
                      seconds + time.monotonic() - t0, colour_noise=used.colour_noise)


def _failure(job: Job, target: Path, e: BaseException) -> ItemResult:
    """The ItemResult of a job that raised ``e``: skipped (the name was taken meanwhile) or failed,
    with one line saying why."""
    if isinstance(e, TargetExists):
        return ItemResult(job.source, target, SKIPPED, "output exists (written meanwhile by another run)")
    if isinstance(e, ClodeError):
        # The summary line names the file already.
        text = _one_line(str(e))
        prefix = f"{job.source}: "
        return ItemResult(job.source, target, FAILED, text[len(prefix):] if text.startswith(prefix) else text)
    if isinstance(e, OSError):
        return ItemResult(job.source, target, FAILED, f"{e.filename or target}: {e.strerror or e}")
    if isinstance(e, MemoryError):
        return ItemResult(job.source, target, FAILED, "out of memory")
    return ItemResult(job.source, target, FAILED, describe_unexpected(e))


def _input_root(job: Job) -> Path:
    """The input folder of ``job`` (its source less its relative path)."""
    root = job.source
    for _ in job.relative.parts:
        root = root.parent
    return root


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else ""
    # a long file name must not push the reason out: keep both ends
    return line if len(line) <= 400 else line[:190] + " ... " + line[-190:]


# ----------------------------------------------------------------------------------------------
# reporting

def format_duration(seconds: Optional[float]) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def describe(item: ItemResult, plan_: Plan) -> str:
    """One line for the summary: ``done  sub/a.jpg -> sub/a_clode.jpg (T=3, fixed)``."""
    def rel(p: Optional[Path], base: Path) -> str:
        if p is None:
            return "-"
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            return str(p)
    src, dst = rel(item.source, plan_.input_dir), rel(item.target, plan_.output_dir)
    if item.status == DONE:
        extra = (f"T={item.T:g}" + (f", denoise={item.denoise:g}" if item.denoise != DEFAULT_DENOISE else "")
                 + (f", colour noise={item.colour_noise:g}" if item.colour_noise != DEFAULT_COLOUR_NOISE else ""))
        return f"done     {src} -> {dst} ({extra}, {item.reason}; {item.seconds:.1f} s)"
    if item.status == SKIPPED:
        return f"skipped  {src}: {item.reason} ({dst})"
    return f"failed   {src}: {item.reason}"


def summary(result: Result) -> str:
    p = result.plan
    o = p.options
    fmt = format_for(p.output_dir / "x", o.export)
    T = o.T if isinstance(o.T, str) else ("model default" if o.T is None else f"{o.T:g}")
    lines = [
        f"CLODE Desktop {__version__} batch export, {_dt.datetime.now().isoformat(timespec='seconds')}",
        f"input:   {p.input_dir}" + (" (with sub-folders)" if o.recursive else ""),
        f"output:  {p.output_dir}",
        f"options: T={T}, denoise={o.adjustments.denoise:g}, colour noise={o.adjustments.colour_noise:g}, "
        f"neutral colours={'on' if o.adjustments.neutral else 'off'}, format={fmt}, quality={o.export.quality}, bits={o.export.bits}, "
        f"name={o.name}, on_conflict={o.on_conflict}, metadata={'stripped' if o.export.strip_metadata else 'kept'}, "
        f"protect highlights={o.adjustments.protect:g}"
        + (f", long edge={o.export.long_edge} px" if o.export.long_edge else "")
        + (f", shard={o.shard[0]}/{o.shard[1]}" if o.shard else ""),
        f"result:  {result.headline()}",
        "",
    ]
    lines += [describe(it, p) for it in result.items]
    if result.cancelled and result.not_started:
        done_sources = {it.source for it in result.items}
        lines += [f"cancelled  {j.relative.as_posix()}" for j in p.jobs if j.source not in done_sources]
    return "\n".join(lines) + "\n"


def log_name(shard: Optional[tuple[int, int]] = None) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{LOG_PREFIX}-{stamp}" + (f"-shard{shard[0]}of{shard[1]}" if shard else "") + ".log"


def _write_log(result: Result, model: str) -> Path:
    p = result.plan
    path = p.output_dir / log_name(p.options.shard)
    text = summary(result).replace("\nresult:", f"\nmodel:   {model}\nresult:", 1)
    # Two runs in one second (a quick rerun, two processes) keep both logs: the name is claimed
    # atomically, the next one free being <stamp>-2.log, -3 ... (each from the stamp, never -2-3).
    with atomic_write(path, exclusive=True, alternatives=alternatives(path, set())) as write:
        write.tmp.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert write.path is not None
    return write.path
