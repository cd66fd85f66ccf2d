"""``import clode.base.adjustments`` (the settings, used by the app's Qt-free rules) loads no torch:
clode/__init__.py re-exports the public API lazily."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CLODE_THREADS"}   # that one asks for torch
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_adjustments_load_no_torch():
    done = run_python("import clode.base.adjustments, sys; assert 'torch' not in sys.modules, 'torch loaded'")
    assert done.returncode == 0, done.stderr


def test_public_api_still_reachable_from_the_package():
    done = run_python(
        "import sys, clode\n"
        "assert 'torch' not in sys.modules\n"
        "missing = [n for n in clode.__all__ if not hasattr(clode, n)]\n"
        "assert not missing, missing\n"
        "assert 'torch' in sys.modules\n"                 # the engine's names brought it in
        "assert set(clode.__all__) <= set(dir(clode))\n"
        "from clode import Enhancer, Session\n"
        "assert clode.engine.session.Session is Session\n"       # submodules by attribute, as before\n"
        "try:\n    clode.no_such_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no error')\n")
    assert done.returncode == 0, done.stderr
