"""Fixtures and helpers shared by the test modules: the official fixture model, the editor's window
factory and its render helpers, and the one skip that says ../shared is missing."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user's own data (learned taste, fine-tuned models) never leaks into or out of a test run.
os.environ.setdefault("CLODE_DATA_DIR", tempfile.mkdtemp(prefix="clode-test-data-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(min(2, os.cpu_count() or 1))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURE = SHARED / "reference" / "clode_official_fixture.npz"
DATASETS = SHARED / "datasets"
ARTIFACTS = ROOT / "tests" / "artifacts"

WAIT = 60_000        # ms; generous: the machine is shared; the editor's renders normally take a second or two
PROXY = 16           # a small proxy keeps the network solve quick (the editor tests compare brightness only)

# ---------------------------------------------------------------------------------------------
# ../shared: the datasets and the official reference fixture live beside the checkout, not in it.
# Without them the tests that read them are skipped with one reason (one line with -rs, and one line
# in the summary) instead of each failing on a missing file.

SHARED_MISSING = "needs ../shared (datasets and reference fixture) beside the checkout"
SHARED_FIXTURES = {"fixture_npz", "jpeg"}           # every fixture that reads ../shared leads to one of these
SHARED_NAMES = re.compile(r"\b(DATASETS|SHARED|FIXTURE|dark_rgb)\b|[\"']shared[\"']")


def shared_present() -> bool:
    return FIXTURE.is_file() and DATASETS.is_dir()


def needs_shared(item: pytest.Item) -> bool:
    """The test uses a fixture made from ../shared, or its module names the shared paths."""
    if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    path = Path(str(item.fspath))
    return path.suffix == ".py" and bool(SHARED_NAMES.search(path.read_text(encoding="utf-8")))


def pytest_collection_modifyitems(config, items):
    if shared_present():
        return
    for item in items:
        if needs_shared(item):
            item.add_marker(pytest.mark.needs_shared)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before any fixture is made (a session fixture reading ../shared would otherwise error first);
    # raised here, so every such skip folds into one report line
    if item.get_closest_marker("needs_shared") is not None:
        pytest.skip(SHARED_MISSING)


def pytest_terminal_summary(terminalreporter):
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if SHARED_MISSING in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: ../shared is missing (the datasets and the "
                                    f"reference fixture, expected beside the checkout at {SHARED})", yellow=True)


@pytest.fixture(scope="session")
def fixture_npz():
    return np.load(FIXTURE)


@pytest.fixture(scope="session")
def official_state(fixture_npz):
    """The fixture's official-layout state dict (both prefixes, unused layers)."""
    return {k[len("state/"):]: torch.from_numpy(fixture_npz[k]) for k in fixture_npz.files if k.startswith("state/")}


@pytest.fixture(scope="session")
def fixture_model_path(tmp_path_factory, official_state):
    """The fixture weights written as an official .pth file."""
    path = tmp_path_factory.mktemp("models") / "fixture_official.pth"
    torch.save(official_state, path)
    return path


@pytest.fixture(scope="session")
def fixture_model(fixture_model_path):
    from clode import load_model
    return load_model(fixture_model_path)


@pytest.fixture
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------------------------------------
# The editor (test_app.py, test_session.py, test_screenshots.py). The two autouse-style fixtures are
# switched on per module with ``pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")``
# so that the other modules keep their own settings.

@pytest.fixture
def user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture
def one_torch_thread():
    # The editor tests' images are tiny: on a busy shared machine two OpenMP threads spin-wait on each
    # other and a 0.2 s solve takes 20 s.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def dark_rgb(h=64, w=96) -> np.ndarray:
    from PIL import Image
    src = Image.open(DATASETS / "lowlight-dev" / "low" / "03.png").convert("RGB").resize((w, h), Image.BOX)
    return np.asarray(src, np.float32) / 255.0


def as_array(img) -> np.ndarray:
    """A QImage's pixels as an H x W x 3 uint8 array."""
    from PySide6.QtGui import QImage
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    return np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, :3 * w].reshape(h, w, 3).copy()


@pytest.fixture
def jpeg(tmp_path):
    from PIL import Image
    path = tmp_path / "photos" / "night.jpg"
    path.parent.mkdir(exist_ok=True)
    Image.fromarray((dark_rgb() * 255).round().astype(np.uint8)).save(path, quality=95)
    return path


@pytest.fixture
def make_window(qtbot, tmp_path, fixture_model_path):
    from clode_desktop.window.main_window import MainWindow
    from clode_desktop.base.settings import Settings
    windows = []

    def make(model=fixture_model_path, threaded=True, wait_model=True, start_at_auto=False, **kw):
        # Most tests start photos at the model's default T, so that what they render is known.
        settings = Settings(tmp_path / "settings.ini")
        settings.set_start_at_auto(start_at_auto)
        w = MainWindow(model, device="cpu", settings=settings, threaded=threaded,
                       proxy_side=kw.pop("proxy_side", PROXY), quick_proxy=kw.pop("quick_proxy", None), **kw)
        qtbot.addWidget(w)
        w.resize(900, 600)
        w.show()
        if wait_model and threaded:
            qtbot.waitUntil(lambda: w.model_state is not None or not w.editing.model_loading, timeout=WAIT)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.tasks.thread_running, "the worker thread was left running"


def final_render(window, T=None):
    """waitSignal arguments for the next full-quality render (of T, if given)."""
    def check(r):
        return not r.draft and (T is None or abs(r.T - T) < 1e-6)
    return dict(signal=window.rendered, timeout=WAIT, check_params_cb=check)


def open_and_render(qtbot, window, path):
    with qtbot.waitSignal(**final_render(window)) as blocker:
        window.open_file(path)
    return blocker.args[0]


def type_T(qtbot, window, text):
    from PySide6.QtCore import Qt
    field = window.exposure.field
    field.lineEdit().selectAll()
    qtbot.keyClicks(field.lineEdit(), text)
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Return)


def error_boxes():
    from PySide6.QtWidgets import QApplication, QMessageBox
    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()]


@pytest.fixture
def folder(tmp_path):
    """Three small photos of the same size, each a little brighter than the one before."""
    path = tmp_path / "burst"
    path.mkdir()
    base = dark_rgb()
    for i in range(3):
        Image.fromarray((np.clip(base * (1 + 0.3 * i), 0, 1) * 255).round().astype(np.uint8)).save(
            path / f"p{i}.jpg", quality=95)
    return path


def open_burst(qtbot, w, folder):
    with qtbot.waitSignal(**final_render(w)):
        w.open_folder(folder)
    assert w.photo_path == folder / "p0.jpg"


def make_folder(tmp_path, n):
    folder = tmp_path / "shoot"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.clip(dark_rgb(48, 64) * rng.uniform(0.6, 1.6), 0, 1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"IMG_{i:04d}.jpg", quality=90)
    return folder, sorted(folder.glob("*.jpg"))


def write_photo(path, seed=0, size=(8, 8)):
    """A small noisy photo written as its suffix says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(5, 60, (*size, 3), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return path


def snapshot(*folders):
    """Every file under ``folders`` with its bytes (to prove originals untouched)."""
    return {p: p.read_bytes() for f in folders for p in Path(f).rglob("*") if p.is_file()}


def run_clode(*args):
    """``clode ARGS`` in this process, its exit code (argparse's SystemExit too)."""
    from clode.commands import cli
    try:
        return cli.main([os.fspath(a) for a in args])
    except SystemExit as e:
        return e.code
