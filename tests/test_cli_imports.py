"""Start-up: ``clode enhance`` imports only what it needs: no Qt, no training code, no other command."""

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from conftest import ROOT

# What enhancing a photo must never load (clode.training.train and clode.training.data pull in the training
# loop and its data pipeline; Qt is the app's; scipy comes with torchdiffeq for a solver clode never
# uses, and costs 0.4 s of every start: clode.engine.ode keeps it out).
FORBIDDEN = ("PySide6", "shiboken6", "clode_desktop", "clode.training.train", "clode.training.data",
             "clode.commands.train", "clode.commands.eval", "clode.commands.batch", "scipy")

PROBE = """
import json, sys
from clode.commands import cli
code = cli.main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def test_enhance_imports_no_qt_and_no_training_code(tmp_path, fixture_model_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 60, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    r = subprocess.run([sys.executable, "-c", PROBE, "enhance", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"),
                        "--model", str(fixture_model_path), "--device", "cpu"],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.splitlines()[-1])
    assert report["code"] == 0 and (tmp_path / "out" / "a.png").is_file()   # it really enhanced the photo
    loaded = [m for m in report["modules"] if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert not loaded, f"clode enhance imported {loaded}"
    assert "clode.commands.enhance" in report["modules"]


def test_the_full_parser_still_has_every_command():
    from clode.commands.cli import COMMANDS, build_parser
    choices = build_parser()._subparsers._group_actions[0].choices
    assert list(choices) == COMMANDS
