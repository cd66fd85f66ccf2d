"""A checkout without ../shared beside it: the tests that need the datasets or the reference fixture
are skipped with one line naming ../shared, instead of each erroring on a missing file."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_checkout_without_shared_skips_with_one_line(tmp_path):
    checkout = tmp_path / "checkout"             # tmp_path / "shared" does not exist
    (checkout / "tests").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", checkout)
    shutil.copy(ROOT / "tests" / "conftest.py", checkout / "tests")
    # one module that reads lowlight-dev and uses the fixture model, one that needs neither
    shutil.copy(ROOT / "tests" / "test_default_model.py", checkout / "tests")
    shutil.copy(ROOT / "tests" / "test_trainer_events.py", checkout / "tests")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
                          cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    skip_lines = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert len(skip_lines) == 1 and "needs ../shared" in skip_lines[0], out
    assert "../shared is missing" in out and "error" not in out.lower(), out
    assert " passed" in out and " skipped" in out, out
