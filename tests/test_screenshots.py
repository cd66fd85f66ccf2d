"""Screenshots of the editor with the bundled sample photo, one per compare mode, for people to look at.

Saved to tests/artifacts/ (ignored by git) at a realistic window size.
"""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

from clode.engine.weights import DEFAULT_MODEL  # noqa: E402
from clode_desktop.widgets import theme  # noqa: E402
from clode_desktop.app import SAMPLE_PHOTO  # noqa: E402
from clode_desktop.widgets.canvas import MODES  # noqa: E402
from clode_desktop.window.main_window import MainWindow  # noqa: E402
from clode_desktop.base.settings import Settings  # noqa: E402
from conftest import as_array, final_render  # noqa: E402

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")     # tests/conftest.py


def test_screenshots_of_each_compare_mode(qtbot, tmp_path, artifacts, fixture_model_path):
    theme.apply(QApplication.instance())
    model = DEFAULT_MODEL if DEFAULT_MODEL.exists() else fixture_model_path
    w = MainWindow(model, device="cpu", settings=Settings(tmp_path / "s.ini"), proxy_side=64, quick_proxy=None)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    with qtbot.waitSignal(**final_render(w)):
        w.open_file(SAMPLE_PHOTO)
    assert w.grab().size().width() == 1280
    shots = {}
    for mode in MODES:
        w.set_compare_mode(mode)
        qtbot.wait(50)
        path = artifacts / f"editor-{mode}.png"
        assert w.grab().save(str(path))
        shots[mode] = as_array(w.canvas.grab().toImage())
    # the enhanced result is visibly brighter than the dark sample in every mode's "after" part
    result_mean = as_array(w.canvas.result_image()).mean()
    original_mean = as_array(w.canvas.original_image()).mean()
    assert result_mean > original_mean + 20
    # a zoomed-in view at 100 % in split mode, and the original held with backslash
    w.set_compare_mode("split")
    w.canvas.actual_size()
    assert w.grab().save(str(artifacts / "editor-split-100.png"))
    w.close()
