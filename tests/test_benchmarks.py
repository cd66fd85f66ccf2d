"""Every benchmark script answers ``--help`` (quickly: the arguments are parsed before torch loads),
and the shared machine description imports from each folder."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(p for folder in ("speed", "quality", "tools") for p in (BENCHMARKS / folder).glob("*.py"))


def test_the_scripts_are_in_their_three_folders():
    assert len(SCRIPTS) >= 17
    assert not sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "machine.py"), "a script outside the folders"


def test_every_script_answers_help_without_loading_torch():
    env = {**os.environ, "PYTHONPATH": ""}          # each script finds the checkout itself (benchmarks/machine.py)
    # started together: the whole set is bounded by the slowest, not by their sum
    procs = {p: subprocess.Popen([sys.executable, "-X", "importtime", str(p), "--help"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in SCRIPTS}
    start = time.monotonic()
    failures = []
    for path, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        name = path.relative_to(BENCHMARKS).as_posix()
        if proc.returncode != 0 or "usage:" not in out:
            failures.append(f"{name}: exit {proc.returncode}: {err[-500:]}")
        elif re.search(r"\|\s*torch\s*$", err, re.MULTILINE):      # -X importtime's line for the torch package
            failures.append(f"{name}: --help imported torch")
    assert not failures, "\n".join(failures)
    assert time.monotonic() - start < 120


def test_report_prints_one_json_line_with_the_machine():
    code = ("import argparse, contextlib, io, json, sys\n"
            f"sys.path.insert(0, {str(BENCHMARKS)!r})\n"
            "from pathlib import Path\nfrom machine import ROOT, Report\n"
            "import clode.base.adjustments\n"                      # machine put the checkout on the path
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    report = Report(str(ROOT / 'benchmarks/speed/x.py'), argparse.Namespace(n=1, p=Path('a')))\n"
            "    report.add('rows', {'s': 0.5})\n"
            "    report.emit('cpu')\n"
            "r = json.loads(out.getvalue())\n"
            "assert 'device cpu' in r['machine'] and r['script'] == 'benchmarks/speed/x.py', r\n"
            "assert r['args'] == {'n': 1, 'p': 'a'} and r['results'] == {'rows': [{'s': 0.5}]} and r['date'], r\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": ""},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
