"""A photographer's session with real widgets: a folder in the filmstrip, undo/redo, settings copied
across photos, the dial's mouse habits, and the small things of a first minute (issue 18)."""

import subprocess
import sys
import time

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QTimer, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from clode.io import sidecar  # noqa: E402
from clode_desktop import app, platform_check  # noqa: E402
from clode_desktop.dialogs.batch_dialog import open_batch_dialog  # noqa: E402
from conftest import ROOT, WAIT, error_boxes, final_render, make_folder, open_and_render, type_T  # noqa: E402

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")     # tests/conftest.py


@pytest.fixture(autouse=True)
def thumbnail_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_CACHE_DIR", str(tmp_path / "cache"))


class StallMeter:
    """The longest gap between ticks of a 5 ms timer on the UI thread: how long the UI was blocked."""

    def __init__(self):
        self.longest, self.last = 0.0, None
        self.timer = QTimer(interval=5)
        self.timer.timeout.connect(self._tick)

    def _tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.longest = max(self.longest, now - self.last)
        self.last = now

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *_):
        self.timer.stop()


def test_a_folder_fills_the_strip_without_blocking_and_arrows_keep_each_photos_edit(qtbot, make_window,
                                                                                    tmp_path):
    folder, photos = make_folder(tmp_path, 20)
    sidecar.save_settings(photos[5], {"T": 1.5})
    w = make_window()
    with qtbot.waitSignal(w.rendered, timeout=WAIT):
        w.open_folder(folder)
    assert w.filmstrip.isVisible() and w.filmstrip.photos() == photos
    with StallMeter() as meter, qtbot.waitSignal(w.folder.thumbnailsDone, timeout=WAIT):
        w.folder.open(folder)                      # again: the strip refills in the background
        qtbot.wait(1)
    qtbot.waitUntil(lambda: all(w.filmstrip.has_thumbnail(p) for p in photos), timeout=WAIT)
    assert meter.longest <= 0.050, f"the UI thread stalled {meter.longest * 1000:.0f} ms"
    assert w.filmstrip.is_marked(photos[5]) and not w.filmstrip.is_marked(photos[0])
    assert w.photo_path == photos[0]

    with qtbot.waitSignal(**final_render(w)):
        QTest.keyClick(w.filmstrip, Qt.Key.Key_Right)
    assert w.photo_path == photos[1]
    with qtbot.waitSignal(**final_render(w, 0.75)):
        type_T(qtbot, w, "0.75")
    w.filmstrip.setFocus()
    with qtbot.waitSignal(**final_render(w)):
        QTest.keyClick(w.filmstrip, Qt.Key.Key_Right)
    assert w.photo_path == photos[2] and w.adjustments.T == 3.0
    assert w.filmstrip.is_marked(photos[1])        # its edit was saved on leaving it
    with qtbot.waitSignal(**final_render(w, 0.75)):
        QTest.keyClick(w.filmstrip, Qt.Key.Key_Left)
    assert w.photo_path == photos[1] and w.exposure.value() == 0.75
    with qtbot.waitSignal(**final_render(w)):
        QTest.keyClick(w.filmstrip, Qt.Key.Key_End)
    assert w.photo_path == photos[-1]
    with qtbot.waitSignal(**final_render(w)):
        QTest.keyClick(w.filmstrip, Qt.Key.Key_Home)
    assert w.photo_path == photos[0]
    w.grab().save(str(tmp_path / "strip.png"))


def test_the_next_photo_is_read_ahead(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 3)
    w = make_window()
    with qtbot.waitSignal(**final_render(w)):
        w.open_folder(folder)
    qtbot.waitUntil(lambda: w.folder._ahead is not None, timeout=WAIT)
    assert w.folder._ahead.path == photos[1]
    with qtbot.waitSignal(**final_render(w)):
        w.filmstrip.step(1)
    assert w.photo_path == photos[1] and w.folder._ahead_path == photos[2]


def _dial_point(dial, degrees):
    """A point on the dial at ``degrees`` (0 = right, counter-clockwise), near its rim."""
    import math
    c = (dial.width() / 2, dial.height() / 2 + 4)
    r = min(dial.width(), dial.height()) / 2 - 30
    return QPoint(round(c[0] + r * math.cos(math.radians(degrees))), round(c[1] - r * math.sin(math.radians(degrees))))


def test_a_dial_drag_is_one_undo_step_click_focuses_double_click_resets(qtbot, make_window, jpeg):
    w = make_window(threaded=False)
    w.open_file(jpeg)
    dial = w.exposure.dial
    type_T(qtbot, w, "3.45")
    w.editing.history.seal()
    # a single click (anywhere on the knob) only focuses it
    w.canvas.setFocus()
    QTest.mouseClick(dial, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _dial_point(dial, 200))
    assert w.focusWidget() is dial and w.exposure.value() == pytest.approx(3.45)
    # a drag turns it by the angle swept (clockwise = brighter), in one undo step
    steps = len(w.editing.history)
    QTest.mousePress(dial, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _dial_point(dial, 90))
    for a in range(85, 40, -5):
        QTest.mouseMove(dial, _dial_point(dial, a))
    QTest.mouseRelease(dial, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _dial_point(dial, 45))
    dragged = w.exposure.value()
    assert dragged == pytest.approx(3.45 + 45 / 300 * 7, abs=0.1)
    assert len(w.editing.history) == steps + 1
    assert w.last_render.T == dragged
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    QTest.keyClick(dial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.exposure.value() == pytest.approx(3.45) and w.last_render.T == pytest.approx(3.45)
    QTest.keyClick(dial, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert w.exposure.value() == dragged
    # every setting is a step; Reset is one too
    w.panel.set_denoise(0.4, emit=True)
    w.panel.neutral.setChecked(True)
    w.window_actions.reset_action.trigger()
    assert w.adjustments.T == w.model_state.default_T and not w.adjustments.neutral
    w.undo()
    assert w.adjustments.neutral and w.panel.neutral_value()
    w.undo()
    assert w.adjustments.denoise == 0.4 and not w.panel.neutral_value()
    # double-click resets to the model's default T (the first press of it does not move T)
    type_T(qtbot, w, "1.2")
    QTest.mouseDClick(dial, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _dial_point(dial, 150))
    assert w.exposure.value() == w.model_state.default_T


def test_paste_to_a_selection_and_export_it_with_each_photos_settings(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 4)
    w = make_window(threaded=False)
    w.open_folder(folder)
    type_T(qtbot, w, "1.25")
    w.panel.set_denoise(0.3, emit=True)
    w.copy_settings()
    sidecar.save_settings(photos[2], {"T": 4.0, "denoise": 0.9})
    w.filmstrip.clearSelection()
    for p in (photos[1], photos[2]):
        w.filmstrip.item(photos.index(p)).setSelected(True)
    assert w.paste_settings(names=["T"]) == [photos[1], photos[2]]
    assert sidecar.load_settings(photos[1]) == {"T": 1.25}
    assert sidecar.load_settings(photos[2]) == {"T": 1.25, "denoise": 0.9}    # unticked: kept
    assert w.filmstrip.is_marked(photos[1]) and not w.filmstrip.is_marked(photos[3])
    # sync: the open photo's settings, all of them, to another photo
    w.filmstrip.clearSelection()
    w.filmstrip.item(3).setSelected(True)
    w.sync_settings(names=["T", "denoise"])
    assert sidecar.load_settings(photos[3]) == {"T": 1.25, "denoise": 0.3}

    w.filmstrip.clearSelection()
    for i in (1, 2):
        w.filmstrip.item(i).setSelected(True)
    dialog = open_batch_dialog(w.link, selection=w.filmstrip.selected_paths())
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.update_count()
    assert [j.source for j in dialog.plan.jobs] == [photos[1], photos[2]]
    with qtbot.waitSignal(dialog.batchFinished, timeout=WAIT) as blocker:
        dialog.start()
    items = {i.source: i for i in blocker.args[0].items}
    assert set(items) == {photos[1], photos[2]}
    assert items[photos[1]].T == pytest.approx(1.25) and items[photos[1]].denoise == pytest.approx(1.0)
    assert items[photos[2]].denoise == pytest.approx(0.9)
    dialog.close()


def test_paste_dialog_chooses_fields(qtbot, tmp_path):
    from clode.base.adjustments import Adjustments
    from clode_desktop.dialogs.paste_dialog import PasteDialog
    d = PasteDialog(Adjustments(T=1.25, denoise=0.3, neutral=True), 3, chosen=["T", "neutral"])
    qtbot.addWidget(d)
    assert d.chosen() == ["T", "neutral"]
    d.boxes["T"].setChecked(False)
    d.boxes["neutral"].setChecked(False)
    assert not d.buttons.buttons()[0].isEnabled() or d.chosen() == []
    d.set_chosen(["denoise"])
    assert d.chosen() == ["denoise"]


def test_the_preview_follows_the_dial_during_an_export(qtbot, make_window, jpeg, tmp_path, monkeypatch):
    import clode_desktop.rules.engine as engine_module
    real = engine_module.enhance_to_file

    def slow_export(photo, target, adjustments, progress=None, **kw):
        for i in range(60):                  # a long export: reports progress as a big photo's strips would
            time.sleep(0.02)
            progress(i / 60 * 0.9, "rendering")
        return real(photo, target, adjustments, progress=progress, **kw)
    monkeypatch.setattr(engine_module, "enhance_to_file", slow_export)
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    seen = []
    w.rendered.connect(lambda r: seen.append(("render", r.T)))
    w.exported.connect(lambda p: seen.append(("exported", None)))
    w.export(tmp_path / "out.png")
    qtbot.waitUntil(lambda: w.status.progress_job is not None and "Exporting" in w.status.progress_job.label, timeout=WAIT)
    w.exposure.set_value(1.5)
    qtbot.waitUntil(lambda: ("exported", None) in seen, timeout=WAIT)
    assert ("render", 1.5) in seen and seen.index(("render", 1.5)) < seen.index(("exported", None))


def test_using_another_model_keeps_the_photos_saved_T(qtbot, make_window, jpeg, fixture_model_path):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    with qtbot.waitSignal(**final_render(w, 0.82)):
        type_T(qtbot, w, "0.82")
    w.save_sidecar()
    assert sidecar.load_settings(jpeg)["T"] == 0.82
    with qtbot.waitSignal(w.modelChanged, timeout=WAIT):
        w.use_model(fixture_model_path)        # "Use in the editor" of a fine-tuned model
    assert w.exposure.value() == 0.82 and w.adjustments.T == 0.82
    qtbot.waitSignal(**final_render(w, 0.82)).wait()


def test_a_broken_file_keeps_the_open_photo_and_shows_the_error(qtbot, make_window, jpeg, tmp_path):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    with qtbot.waitSignal(**final_render(w, 1.75)):
        type_T(qtbot, w, "1.75")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    with qtbot.waitSignal(w.errorShown, timeout=WAIT) as blocker:
        w.open_file(broken)
    assert "broken.jpg" in blocker.args[0] and error_boxes()
    assert w.photo_path == jpeg and w.opened is not None and w.canvas.has_image()
    assert w.exposure.value() == 1.75 and w.exposure.isEnabled()
    with qtbot.waitSignal(**final_render(w, 2.0)):       # still editable
        type_T(qtbot, w, "2.0")
    for box in error_boxes():
        box.close()


def test_missing_x11_libraries_are_named_in_one_line():
    env = {"DISPLAY": ":0"}
    line = platform_check.problem(env, "linux", find=lambda name: name != "xcb-cursor")
    assert line.count("\n") == 0 and "libxcb-cursor0" in line and "xcb-util-cursor" in line
    assert platform_check.problem(env, "linux", find=lambda name: True) is None
    assert platform_check.problem({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux",
                                  find=lambda name: False) is None
    assert platform_check.problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", find=lambda name: False) is None
    assert platform_check.problem(env, "darwin", find=lambda name: False) is None


def test_main_exits_with_one_line_instead_of_aborting(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(platform_check, "loadable", lambda name: name != "xcb-cursor")
    assert app.main(["main.py"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sudo apt install libxcb-cursor0" in err


def test_main_py_in_a_process_without_the_libraries(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99", "HOME": str(tmp_path)}
    if not platform_check.missing_libraries(env):
        pytest.skip("this machine has every X11 library Qt needs")
    out = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "sudo apt install" in out.stderr
