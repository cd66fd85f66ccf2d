"""Adversarial corpus of issue 29 ("Hardening, round two"), run through ``python -m clode``.

Builds the cases in a temporary folder (damaged PNGs, a .pth declaring a huge deflated tensor, bad
solver specs, thin images in exact mode, TIFFs with odd tags, damaged exposure predictors and
sidecars, signals at several moments, and some of the round's other cases: a huge name template,
a symlink loop named *.jpg, train --out onto a training photo), runs each as a child process and
prints a JSON summary:

  data_loss         inputs (originals) whose bytes changed
  silently_wrong    exit 0 with an all-black output image
  tracebacks        runs with "Traceback" on stderr
  multi_line        runs that failed or were stopped with more than one stderr line
  bad_signal_exits  signal runs whose exit status was not 130 (or 0: finished first)
  peak_rss_mb       the largest child's peak RSS (os.wait4), and per case in "details"
  over_memory_limit runs killed for passing MEMORY_LIMIT_MB (their peak is then about that limit)

  .venv/bin/python benchmarks/tools/adversarial.py [--quick] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # benchmarks/: machine.py
from machine import print_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: A child above this is killed (and counted): the acceptance is no peak over 2 GB from a small input.
MEMORY_LIMIT_MB = 2048
sys.path.insert(0, str(ROOT / "tests"))


def _png(path: Path, h: int, w: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 70 + 5).astype(np.uint8)).save(path)
    return path


def _digest(paths) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


class Runner:
    def __init__(self, work: Path):
        self.work = work
        self.cases: list[dict] = []
        self.env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2",
                        CLODE_DATA_DIR=str(work / "userdata"))

    def run(self, name: str, args: list, inputs=(), outdir: Path | None = None, signals=(), expect_fail=None):
        """One child: ``signals``: [(delay_s, signal)], sent that long after the start."""
        before = _digest(inputs)
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "clode", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.env, cwd=self.work)
        out_chunks, err_chunks = [], []
        readers = [threading.Thread(target=lambda s, c: c.append(s.read()), args=(proc.stdout, out_chunks)),
                   threading.Thread(target=lambda s, c: c.append(s.read()), args=(proc.stderr, err_chunks))]
        for t in readers:
            t.start()
        over_limit = []

        def watch():   # a runaway child (a name template 10^9 wide) is stopped before it takes the machine
            while proc.returncode is None:
                try:
                    rss_kb = int(next(line for line in open(f"/proc/{proc.pid}/status") if line.startswith("VmRSS"))
                                 .split()[1])
                except (OSError, StopIteration, ValueError):
                    return
                if rss_kb > MEMORY_LIMIT_MB * 1024:
                    over_limit.append(rss_kb // 1024)
                    os.kill(proc.pid, signal.SIGKILL)
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        for delay, sig in signals:
            time.sleep(max(0.0, start + delay - time.monotonic()))
            try:   # (not reaped before wait4 below: a finished child is a zombie the signal ignores)
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        for t in readers:
            t.join()
        err = b"".join(err_chunks).decode("utf-8", "replace")
        lines = [line for line in err.splitlines() if line.strip()]
        after = _digest(inputs)
        black = []
        if proc.returncode == 0 and outdir is not None and outdir.exists():
            for p in outdir.rglob("*"):
                if p.suffix.lower() in (".png", ".jpg", ".tif", ".tiff", ".webp") and p.is_file():
                    try:
                        with Image.open(p) as im:
                            if np.asarray(im.convert("RGB")).max() == 0:
                                black.append(p.name)
                    except Exception:
                        pass
        case = dict(name=name, exit=proc.returncode, seconds=round(time.monotonic() - start, 1),
                    peak_rss_mb=round(usage.ru_maxrss / 1024), stderr_lines=len(lines),
                    traceback="Traceback" in err, data_loss=[p for p in before if before[p] != after.get(p)],
                    black_outputs=black, signal=bool(signals), killed_over_memory_limit=bool(over_limit), first_line=lines[0][:160] if lines else "")
        if expect_fail is not None:
            case["expected_fail"] = expect_fail
        self.cases.append(case)
        print(f"{name}: exit {case['exit']}, {case['stderr_lines']} line(s), {case['peak_rss_mb']} MB, "
              f"{case['seconds']} s", file=sys.stderr, flush=True)
        return case


def build_and_run(work: Path, quick: bool) -> dict:
    from test_damaged_input import flipped_png, tiff_bad_tag_type, tiff_short_strip
    from test_weights import bomb_pth

    r = Runner(work)
    fast = ["--device", "cpu", "--solver", "rk4:1"]

    # damaged PNGs (bit flips inside IDAT)
    for seed in range(4 if quick else 8):
        p = work / "flip" / f"f{seed}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(flipped_png(seed))
        r.run(f"bit-flipped png {seed}", ["enhance", p, "-o", work / "flip_out", *fast], [p], work / "flip_out", expect_fail=True)

    photo = _png(work / "src" / "p0.png", 24, 32)
    # a .pth declaring 1.6 GB of deflated zeros (file ~1.6 MB)
    bomb = bomb_pth(work / "bomb.pth", elements=400_000_000 if not quick else 100_000_000)
    r.run("huge-declared .pth", ["enhance", photo, "-o", work / "bomb_out", "--model", bomb, *fast],
          [photo, bomb], work / "bomb_out", expect_fail=True)

    for spec in ("dopri5:1e-300", "dopri5:1e308", "rk4:1e308"):
        r.run(f"solver {spec}", ["enhance", photo, "-o", work / "solver_out", "--solver", spec, "--device", "cpu"],
              [photo], work / "solver_out", expect_fail=True)

    for h, w in ([(3000, 2), (1, 5000)] if quick else [(2, 3000), (3000, 2), (1, 5000), (5000, 1)]):
        p = _png(work / "thin" / f"t{w}x{h}.png", h, w)
        r.run(f"exact png {w}x{h}", ["enhance", p, "-o", work / "thin_out", "--mode", "exact", "--format", "png",
                                     *fast], [p], work / "thin_out", expect_fail=False)

    (work / "tiff").mkdir()
    tiffs = [tiff_bad_tag_type(work / "tiff" / "badtype.tif"), tiff_short_strip(work / "tiff" / "shortstrip.tif")]
    for t in tiffs:
        r.run(f"tiff {t.name}", ["enhance", t, "-o", work / "tiff_out", *fast], [t], work / "tiff_out",
              expect_fail=t.name == "shortstrip.tif")

    from clode.engine.weights import DEFAULT_MODEL
    for label, text in (("[1]", "[1]"), ("deep list", "[" * 100_000 + "]" * 100_000)):
        model = work / "exposure" / "m.safetensors"
        model.parent.mkdir(exist_ok=True)
        shutil.copyfile(DEFAULT_MODEL, model)
        model.with_name("m.exposure.json").write_text(text)
        r.run(f"exposure json {label}", ["enhance", photo, "-o", work / "exp_out", "--T", "auto", "--model", model,
                                         *fast, "--on-conflict", "overwrite"], [photo], work / "exp_out",
              expect_fail=False)

    side = work / "side"
    damages = {"bom.png": b"\xef\xbb\xbf{\"T\": 1.5}", "invalid.png": b"{nope", "deep.png": b"[" * 100_000,
               "digits.png": b'{"T": ' + b"7" * 5000 + b"}", "list.png": b"[1, 2]",
               "big.png": b'{"pad": "' + b"x" * (1 << 21) + b'"}'}
    photos = []
    for i, (name, data) in enumerate(damages.items()):
        photos.append(_png(side / name, 12, 16, seed=i))
        (side / (name + ".clode.json")).write_bytes(data)
    photos.append(_png(side / "fifo.png", 12, 16))
    os.mkfifo(side / "fifo.png.clode.json")
    photos.append(_png(side / "folder.png", 12, 16))
    (side / "folder.png.clode.json").mkdir()
    case = r.run("damaged sidecars (batch --T sidecar)", ["batch", side, "-o", work / "side_out", "--T", "sidecar",
                                                         *fast], photos, work / "side_out", expect_fail=False)
    logs = list((work / "side_out").glob("clode-batch-*.log"))
    log = logs[0].read_text("utf-8", "replace") if logs else ""
    case["sidecars_warned"] = log.count("damaged sidecar")

    # signals: at start-up (torch importing), during the work, twice
    sig_photos = [_png(work / "sig" / f"s{i}.png", 64, 64, seed=i) for i in range(3)]
    plans = [(0.3, [signal.SIGINT]), (1.5, [signal.SIGINT]), (0.8, [signal.SIGTERM]), (2.5, [signal.SIGTERM]),
             (6.0, [signal.SIGINT]), (6.0, [signal.SIGTERM]), (6.0, [signal.SIGTERM, signal.SIGTERM])]
    for delay, sigs in plans[:4] if quick else plans:
        schedule = [(delay + 0.05 * k, s) for k, s in enumerate(sigs)]
        r.run(f"signal {'+'.join(s.name for s in sigs)} at {delay}s",
              ["enhance", *sig_photos, "-o", work / "sig_out", "--mode", "exact", "--device", "cpu",
               "--solver", "rk4:0.25", "--on-conflict", "overwrite"], sig_photos, work / "sig_out", signals=schedule)

    # the round's other cases (another branch fixes them): a huge name template, a symlink loop
    # named *.jpg, train --out onto a training photo
    r.run("batch --name {stem:>999999999}", ["batch", work / "src", "-o", work / "name_out", "--name",
                                              "{stem:>999999999}", *fast], [photo], work / "name_out", expect_fail=True)
    loop = work / "loop"
    _png(loop / "ok.png", 12, 16)
    os.symlink("x.jpg", loop / "x.jpg")
    r.run("symlink loop *.jpg", ["enhance", loop, "-o", work / "loop_out", *fast], [loop / "ok.png"], work / "loop_out")
    data = work / "train"
    train_photos = [_png(data / f"p{i}.png", 160, 160, seed=i) for i in range(2)]
    r.run("train --out onto a training photo", ["train", "--data", data, "--steps", "1", "--crop", "32", "--batch", "1",
                                                "--device", "cpu", "--out", train_photos[0]], train_photos,
          expect_fail=True)

    cases = r.cases
    failed_or_stopped = [c for c in cases if c["exit"] != 0]
    signal_cases = [c for c in cases if c["signal"]]
    return {
        "cases": len(cases),
        "data_loss": sum(len(c["data_loss"]) for c in cases),
        "silently_wrong": sum(len(c["black_outputs"]) for c in cases),
        "tracebacks": sum(c["traceback"] for c in cases),
        "multi_line": sum(c["stderr_lines"] > 1 for c in failed_or_stopped),
        "bad_signal_exits": sum(c["exit"] not in (0, 130) for c in signal_cases),
        "unexpected_outcome": [c["name"] for c in cases if "expected_fail" in c
                               and (c["exit"] != 0) != c["expected_fail"]],
        "peak_rss_mb": max(c["peak_rss_mb"] for c in cases),
        "over_memory_limit": [c["name"] for c in cases if c["killed_over_memory_limit"]],
        "details": cases,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases of each kind")
    ap.add_argument("--keep", metavar="DIR", help="build the corpus here and keep it")
    args = ap.parse_args()
    if args.keep:
        work = Path(args.keep)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        summary = build_and_run(work, args.quick)
    else:
        with tempfile.TemporaryDirectory(prefix="clode-adversarial-") as tmp:
            summary = build_and_run(Path(tmp), args.quick)
    print_results(__file__, args, "adversarial", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
