"""The editor, end to end: real files, real widgets, the real worker thread (pytest-qt, offscreen)."""

import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from clode.io import sidecar  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode_desktop.widgets.canvas import RESULT, SIDE, SPLIT  # noqa: E402
from clode_desktop.base.settings import Settings  # noqa: E402
from conftest import (PROXY, WAIT, as_array, dark_rgb, error_boxes, final_render,  # noqa: E402
                      open_and_render, type_T)
from dng import make_dng  # noqa: E402

# the editor's fixtures (tests/conftest.py): a user data folder of the test's own, one torch thread
pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")


# ---------------------------------------------------------------------------------------------

def test_dial_up_is_brighter_below_zero_darker(qtbot, make_window, jpeg):
    w = make_window()
    first = open_and_render(qtbot, w, jpeg)
    assert first.T == pytest.approx(3.0)          # the model's default
    original = as_array(w.canvas.original_image()).mean()
    at_default = as_array(w.canvas.result_image()).mean()
    assert at_default > original

    # Turn the dial up with the keyboard: 4 coarse steps = +2.0.
    w.exposure.dial.setFocus()
    with qtbot.waitSignal(**final_render(w, 5.0)):
        for _ in range(4):
            qtbot.keyClick(w.exposure.dial, Qt.Key.Key_PageUp)
    brighter = as_array(w.canvas.result_image()).mean()
    assert brighter > at_default + 5
    assert w.histogram.counts() is not None and w.histogram.counts()[3].sum() > 0

    # Below zero (typed), without the denoiser: darker than the input.
    w.panel.set_denoise(0.0, emit=True)
    with qtbot.waitSignal(**final_render(w, -2.0)):
        type_T(qtbot, w, "-2")
    assert as_array(w.canvas.result_image()).mean() < original - 3
    assert "Render:" in w.status.time_status.text()


def test_quick_pass_then_refined(qtbot, make_window, jpeg):
    w = make_window(proxy_side=24, quick_proxy=8)
    labels = []
    w.tasks.started.connect(lambda job: labels.append(job.label))
    with qtbot.waitSignal(w.tasks.ended, timeout=WAIT, check_params_cb=lambda job: job.label == "Refining"):
        with qtbot.waitSignal(**final_render(w)):
            w.open_file(jpeg)
    assert [x for x in labels if x in ("Preparing", "Refining")] == ["Preparing", "Refining"]
    with qtbot.waitSignal(**final_render(w)):
        pass
    assert max(w.engine.session.proxy_size) == 24
    assert w.canvas.result_image() is not None


def test_opens_a_dng(qtbot, make_window, tmp_path):
    path = make_dng(tmp_path / "night.dng", dark_rgb())
    w = make_window()
    with qtbot.waitSignal(w.photoOpened, timeout=WAIT) as opened:
        with qtbot.waitSignal(**final_render(w)):
            w.open_file(path)
    assert opened.args[0].info["Type"] == "camera RAW"
    assert opened.args[0].full_size == (64, 96)
    assert w.status.size_status.text() == "96 × 64"
    assert as_array(w.canvas.result_image()).mean() > as_array(w.canvas.original_image()).mean()


def test_field_and_dial_stay_in_sync(qtbot, make_window, jpeg):
    w = make_window(threaded=False)          # logic only: the synchronous worker
    w.open_file(jpeg)
    assert w.last_render is not None         # synchronous: already rendered
    e = w.exposure
    assert e.value() == 3.0 and e.dial.value() == 300
    e.dial.setFocus()
    qtbot.keyClick(e.dial, Qt.Key.Key_Right)         # fine step
    assert e.value() == pytest.approx(3.05) and e.dial.value() == 305
    qtbot.keyClick(e.dial, Qt.Key.Key_PageDown)      # coarse step
    assert e.value() == pytest.approx(2.55)
    type_T(qtbot, w, "1.25")
    assert e.dial.value() == 125
    # beyond the dial's marks but within the model's range: allowed, the dial rests at its end
    type_T(qtbot, w, "5.8")
    assert e.value() == pytest.approx(5.8) and e.dial.value() == e.dial.maximum() == 500
    type_T(qtbot, w, "-5.5")
    assert e.value() == pytest.approx(-5.5) and e.dial.value() == e.dial.minimum()
    # the model's hard limit
    type_T(qtbot, w, "9")
    assert e.value() <= w.model_state.t_max
    # double-click resets to the model's default
    qtbot.mouseDClick(e.dial, Qt.MouseButton.LeftButton)
    assert e.value() == pytest.approx(w.model_state.default_T) and e.dial.value() == 300


def _drag(widget, start: QPoint, end: QPoint, steps=5):
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, steps + 1):
        p = QPointF(start + (end - start) * (i / steps))
        ev = QMouseEvent(QEvent.Type.MouseMove, p, widget.mapToGlobal(p), Qt.MouseButton.NoButton,
                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, ev)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_compare_modes_divider_and_peek(qtbot, make_window, jpeg):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    with qtbot.waitSignal(**final_render(w, 5.5)):
        type_T(qtbot, w, "5.5")
    c = w.canvas
    w.window_actions.mode_actions[SPLIT].trigger()
    assert c.mode() == SPLIT

    def halves():
        shot = as_array(c.grab().toImage())
        rect = c.photo_rect(c.viewports()[0])
        y = int(rect.center().y())
        x = int(c.divider_x())
        left = shot[y - 5:y + 5, int(rect.left()) + 5:x - 20].mean()
        right = shot[y - 5:y + 5, x + 20:int(rect.right()) - 5].mean()
        return left, right

    left, right = halves()
    assert right > left + 10       # original on the left, the brighter result on the right

    # drag the divider to the right
    before = c.divider()
    y = c.height() // 2
    _drag(c, QPoint(int(c.divider_x()), y), QPoint(int(c.divider_x()) + 120, y))
    assert c.divider() > before + 0.05
    # dragging elsewhere pans instead of moving the divider
    divider = c.divider()
    c.set_zoom(4.0)
    center = c.center()
    _drag(c, QPoint(40, 40), QPoint(90, 60))
    assert c.divider() == divider and c.center() != center
    c.fit_to_window()

    # holding backslash shows the original: the right side darkens until it is let go
    _, right_after = halves()
    qtbot.keyPress(w.exposure.dial, Qt.Key.Key_Backslash)
    assert c.peeking()
    _, right_peek = halves()
    assert right_after > right_peek + 10
    qtbot.keyRelease(w.exposure.dial, Qt.Key.Key_Backslash)
    assert not c.peeking()
    assert halves()[1] == pytest.approx(right_after)

    w.window_actions.mode_actions[SIDE].trigger()
    assert c.mode() == SIDE and len(c.viewports()) == 2
    a, b = c.viewports()
    # synced zoom and pan: the same photo point sits at the same place in both halves
    assert c.photo_rect(a).translated(b.left() - a.left(), 0) == c.photo_rect(b)
    c.zoom_by(2.0, QPointF(b.center()))
    assert c.photo_rect(a).translated(b.left() - a.left(), 0) == c.photo_rect(b)

    w.window_actions.cycle_action.trigger()
    assert c.mode() == RESULT
    assert w.settings.compare_mode() == RESULT


def test_wheel_zooms_around_the_cursor(qtbot, make_window, jpeg):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    c = w.canvas
    w.set_compare_mode(RESULT)
    assert c.is_fit()
    at = QPointF(c.width() * 0.3, c.height() * 0.4)
    photo_point = c.view_to_photo(at)
    zoom = c.zoom()
    c.zoom_by(2.0, at)
    assert c.zoom() == pytest.approx(2 * zoom)
    after = c.view_to_photo(at)
    assert (after.x(), after.y()) == pytest.approx((photo_point.x(), photo_point.y()), abs=1e-6)
    w.window_actions.actual_action.trigger()
    assert c.zoom() == 1.0 and "100 %" in w.window_actions.zoom_label.text()
    w.window_actions.fit_action.trigger()
    assert c.is_fit() and w.window_actions.zoom_label.text().startswith("Fit")


def test_corrupt_file_shows_an_error_and_the_app_stays_usable(qtbot, make_window, tmp_path, jpeg):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" + bytes(200))
    w = make_window()
    with qtbot.waitSignal(w.errorShown, timeout=WAIT) as err:
        w.open_file(bad)
    assert "broken.jpg" in err.args[0] and "\n" not in err.args[0]
    boxes = error_boxes()
    assert len(boxes) == 1 and "broken.jpg" in boxes[0].text()
    boxes[0].accept()
    assert not w.canvas.has_image() and w.photo_path is None
    # still usable
    r = open_and_render(qtbot, w, jpeg)
    assert r.path == jpeg and w.canvas.result_image() is not None


def test_missing_model_is_a_clear_message_and_photos_still_open(qtbot, make_window, tmp_path, jpeg):
    w = make_window(model=tmp_path / "nope.pth", wait_model=False)
    qtbot.waitUntil(lambda: bool(error_boxes()), timeout=WAIT)
    assert "nope.pth" in error_boxes()[0].text()
    error_boxes()[0].accept()
    assert w.model_state is None and not w.exposure.isEnabled()
    with qtbot.waitSignal(w.photoOpened, timeout=WAIT):
        w.open_file(jpeg)
    assert w.canvas.has_image() and w.canvas.result_image() is None


def test_sidecar_restores_T(qtbot, make_window, jpeg):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    with qtbot.waitSignal(**final_render(w, 4.25)):
        type_T(qtbot, w, "4.25")
    w.panel.set_denoise(0.4, emit=True)
    w.close()
    saved = sidecar.load_settings(jpeg)
    assert saved["T"] == pytest.approx(4.25) and saved["denoise"] == pytest.approx(0.4)
    assert sidecar.sidecar_path(jpeg).exists()

    w2 = make_window()
    r = open_and_render(qtbot, w2, jpeg)
    assert r.T == pytest.approx(4.25) and r.denoise == pytest.approx(0.4)
    assert w2.exposure.value() == pytest.approx(4.25)
    assert str(jpeg.resolve()) in w2.settings.recent_files()


def test_colour_noise_slider_renders_saves_and_exports(qtbot, make_window, jpeg, tmp_path):
    from clode.io.export import ExportOptions
    from clode_desktop.widgets.side_panel import DEFAULT_COLOUR_NOISE
    w = make_window()
    before = open_and_render(qtbot, w, jpeg).image.copy()
    assert w.panel.colour_noise_value() == DEFAULT_COLOUR_NOISE
    with qtbot.waitSignal(**final_render(w)) as blocker:
        w.panel.set_colour_noise(0.0, emit=True)
    off = blocker.args[0].image
    assert np.abs(off.astype(int) - before.astype(int)).max() > 0     # the slider changes the result
    with qtbot.waitSignal(w.exported, timeout=WAIT):
        w.export(tmp_path / "x.png", ExportOptions(format="png"))
    with Image.open(tmp_path / "x.png") as im:
        assert "colour_noise=0" in " ".join(str(v) for v in im.info.values())
    w.close()
    assert sidecar.load_settings(jpeg)["colour_noise"] == 0.0
    w2 = make_window()
    open_and_render(qtbot, w2, jpeg)
    assert w2.panel.colour_noise_value() == 0.0


def test_export_writes_the_enhanced_photo(qtbot, make_window, jpeg, tmp_path):
    from clode.io.export import ExportOptions
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    target = tmp_path / "out" / "night-clode.png"
    with qtbot.waitSignal(w.exported, timeout=WAIT) as done:
        w.export(target, ExportOptions(format="png", bits=16))
    assert done.args[0] == target
    out = load_image(target)
    assert out.pixels.shape[:2] == (64, 96) and out.bit_depth == 16
    assert out.pixels.mean() > load_image(jpeg).pixels.mean() + 0.05


def test_closing_during_work_exits_cleanly(qtbot, make_window, jpeg, tmp_path, qtlog):
    big = tmp_path / "big.png"
    Image.fromarray((dark_rgb(240, 360) * 255).astype(np.uint8)).save(big)
    w = make_window(proxy_side=240)          # a long preparation to interrupt
    with qtbot.waitSignal(w.tasks.started, timeout=WAIT, check_params_cb=lambda job: job.label == "Preparing"):
        w.open_file(big)
    time.sleep(0.2)
    t = time.monotonic()
    w.close()
    assert time.monotonic() - t < 10
    assert not w.tasks.thread_running

    # closing right after dial moves (renders queued and running)
    w2 = make_window()
    open_and_render(qtbot, w2, jpeg)
    for T in (3.5, 4.0, 4.5):
        w2.exposure.set_value(T)
    w2.close()
    assert not w2.tasks.thread_running
    qtbot.wait(50)
    assert not [r for r in qtlog.records if "QThread" in r.message]


def _big_photo(tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray((dark_rgb(240, 360) * 255).astype(np.uint8)).save(big)
    return big


def test_a_newer_photo_cancels_work_on_the_older(qtbot, make_window, jpeg, tmp_path):
    big = _big_photo(tmp_path)
    w = make_window(proxy_side=240)
    paths = []
    w.rendered.connect(lambda r: paths.append(r.path))
    with qtbot.waitSignal(w.tasks.started, timeout=WAIT, check_params_cb=lambda job: job.label == "Preparing"):
        w.open_file(big)
    w.engine.proxy_side = PROXY
    t = time.monotonic()
    open_and_render(qtbot, w, jpeg)
    assert time.monotonic() - t < 20
    qtbot.wait(100)
    assert paths == [jpeg]


def test_cancel_button_stops_preparing_and_the_dial_restarts_it(qtbot, make_window, tmp_path):
    w = make_window(proxy_side=240)
    with qtbot.waitSignal(w.tasks.started, timeout=WAIT, check_params_cb=lambda job: job.label == "Preparing"):
        w.open_file(_big_photo(tmp_path))
    assert w.status.cancel_button.isVisible()
    with qtbot.waitSignal(w.tasks.ended, timeout=WAIT):
        qtbot.mouseClick(w.status.cancel_button, Qt.MouseButton.LeftButton)
    assert "Cancelled" in w.canvas._overlay and w.canvas.result_image() is None
    assert not w.status.cancel_button.isVisible()
    w.engine.proxy_side = PROXY
    with qtbot.waitSignal(**final_render(w, 3.5)):
        w.exposure.set_value(3.5)


def test_drop_a_file_onto_the_window(qtbot, make_window, jpeg):
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(jpeg))])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(**final_render(w)) as r:
        w.dropEvent(event)
    assert r.args[0].path == jpeg


def test_recent_files_menu_reopens(qtbot, make_window, jpeg, tmp_path):
    other = tmp_path / "other.png"
    Image.fromarray((dark_rgb() * 200).astype(np.uint8)).save(other)
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    open_and_render(qtbot, w, other)
    names = [a.text() for a in w.window_actions.recent.menu.actions()]
    assert names[:2] == ["other.png", "night.jpg"]
    with qtbot.waitSignal(**final_render(w)) as r:
        w.window_actions.recent.menu.actions()[1].trigger()
    assert r.args[0].path == jpeg.resolve()


def test_a_bad_model_keeps_the_working_one(qtbot, make_window, jpeg, tmp_path):
    bad = tmp_path / "broken.pth"
    bad.write_bytes(b"not a checkpoint")
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    good = w.model_state
    w.settings.set_model_path(bad)
    w.models.explicit = None
    with qtbot.waitSignal(w.errorShown, timeout=WAIT) as err:
        w.load_model()
    assert "broken.pth" in err.args[0] and "still using" in err.args[0]
    for box in error_boxes():
        box.accept()
    assert w.model_state is good and w.settings.model_path() == str(good.path)
    with qtbot.waitSignal(**final_render(w, 4.0)):
        w.exposure.set_value(4.0)


def test_preferences_load_the_chosen_model_and_remember_it(qtbot, make_window, tmp_path, fixture_model_path):
    import shutil

    from PySide6.QtCore import QTimer

    from clode_desktop.dialogs.preferences import PreferencesDialog
    other = tmp_path / "other.pth"
    shutil.copy(fixture_model_path, other)
    w = make_window()

    def choose() -> None:            # the dialog is modal: answer it from the event loop
        dialog = next(d for d in w.findChildren(PreferencesDialog) if d.isVisible())
        dialog.file_radio.setChecked(True)
        dialog.file_edit.setText(str(other))
        dialog.accept()
    QTimer.singleShot(0, choose)
    with qtbot.waitSignal(w.modelChanged, timeout=WAIT) as changed:
        w.window_actions.prefs_action.trigger()
    assert changed.args[0].path == other and changed.args[0].name == "other"
    assert w.model_choice() == str(other) and w.settings.model_path() == str(other)


def test_preferences_dialog_lists_devices_and_models(qtbot, tmp_path, fixture_model_path):
    import shutil

    from clode.base.paths import user_models_dir
    from clode_desktop.dialogs.preferences import PreferencesDialog
    user_models_dir().mkdir(parents=True)
    mine = user_models_dir() / "my-portraits.pth"
    shutil.copy(fixture_model_path, mine)
    d = PreferencesDialog("cuda:7", None)
    qtbot.addWidget(d)
    keys = [d.device_box.itemData(i) for i in range(d.device_box.count())]
    assert keys[0] == "auto" and "cpu" in keys
    assert d.device() == "auto" and d.device_note.text()       # cuda:7 is not here: a visible note
    assert d.model_path() is None                             # the built-in default
    d.user_radio.setChecked(True)
    assert d.model_path() == str(mine)
    d.file_radio.setChecked(True)
    d.file_edit.setText(str(fixture_model_path))
    assert d.model_path() == str(fixture_model_path)
    assert d.start_at_auto()                                  # new photos start at Auto by default
    again = PreferencesDialog("cpu", str(mine), start_at_auto=False)
    qtbot.addWidget(again)
    assert again.device() == "cpu" and again.user_radio.isChecked() and not again.start_at_auto()
    again.auto_check.setChecked(True)
    assert again.start_at_auto()


def test_new_photos_start_at_auto_unless_it_is_turned_off(tmp_path):
    settings = Settings(tmp_path / "fresh.ini")
    assert settings.start_at_auto()            # issue 28: Auto is safe by construction
    settings.set_start_at_auto(False)
    settings.sync()
    assert not Settings(tmp_path / "fresh.ini").start_at_auto()


def test_export_dialog_options(qtbot, jpeg):
    from clode_desktop.dialogs.export_dialog import ExportDialog
    d = ExportDialog(jpeg, {"format": "jpeg", "quality": 80, "bits": 8})
    qtbot.addWidget(d)
    assert d.target() == jpeg.parent / "night-clode.jpg"
    assert d.options().quality == 80 and d.quality.isEnabled() and not d.bits.isEnabled()
    d.format_box.setCurrentIndex(d.format_box.findData("tiff"))
    assert d.target().suffix == ".tif" and d.bits.isEnabled() and not d.quality.isEnabled()
    d.bits.setCurrentIndex(d.bits.findData(16))
    d.strip.setChecked(True)
    o = d.options()
    assert (o.format, o.bits, o.strip_metadata) == ("tiff", 16, True)


def test_zoomed_in_the_visible_region_is_rendered_sharply(qtbot, make_window, jpeg):
    w = make_window(view_side=32)            # view images far smaller than the photo
    w.set_compare_mode(SPLIT)
    with qtbot.waitSignal(w.detailShown, timeout=WAIT) as shown:
        open_and_render(qtbot, w, jpeg)
    assert shown.args[0].region == (0, 0, 96, 64)       # fitted: all of it, at full resolution
    assert w.canvas.original_image().width() == 32
    c = w.canvas
    with qtbot.waitSignal(w.detailShown, timeout=WAIT) as shown:
        c.set_zoom(8.0)                      # 800 %: only part of the photo is visible
        c.pan_by(40, 24)
    d = shown.args[0]
    x, y, rw, rh = d.region
    assert rw < 96 and d.result.shape[:2] == (rh, rw) == d.original.shape[:2]
    # The original half shows the photo's own pixels (8 x 8 blocks), not an upscaled 32-pixel view image.
    photo = (load_image(jpeg).pixels * 255 + 0.5).astype(np.uint8)
    shot = as_array(c.grab().toImage())
    r = c.photo_rect(c.viewports()[0])
    checked = 0
    for i in range(y, y + rh):
        for j in range(x, x + rw):
            px, py = int(r.left() + 8 * j + 4), int(r.top() + 8 * i + 4)
            label_free = py > max(r.top(), 0) + 40        # the "Before" label sits at the top
            if label_free and py < shot.shape[0] and 0 <= px < c.divider_x() - 16:   # clear of the divider knob
                assert np.abs(shot[py, px].astype(int) - photo[i, j]).max() <= 1, (i, j)
                checked += 1
    assert checked > 100
    # a new T drops the stale detail, then renders it again
    with qtbot.waitSignal(w.detailShown, timeout=WAIT, check_params_cb=lambda d: d.T == 4.0):
        w.exposure.set_value(4.0)


def test_slow_renders_give_drafts_while_the_dial_moves_then_full_quality(qtbot, make_window, jpeg):
    w = make_window(view_side=64)
    open_and_render(qtbot, w, jpeg)
    w.editing.full_render_seconds = 1.0             # as if a full render were slow (a big view on a CPU)
    got = []
    w.rendered.connect(got.append)
    with qtbot.waitSignal(**final_render(w, 4.5)):
        w.exposure.set_value(4.0)
        w.exposure.set_value(4.5)
    drafts = [r for r in got if r.draft]
    assert drafts and max(drafts[0].image.shape[:2]) <= 64
    assert got[-1].T == 4.5 and not got[-1].draft and got[-1].image.shape[:2] == (43, 64)


def test_a_raw_shows_a_quick_preview_first(qtbot, make_window, tmp_path, monkeypatch):
    path = make_dng(tmp_path / "night.dng", dark_rgb(128, 192))
    w = make_window()
    seen = []
    w.previewOpened.connect(lambda p: seen.append(p))
    w.photoOpened.connect(lambda o: seen.append(o))
    w.rendered.connect(lambda r: seen.append(r))
    with qtbot.waitSignal(w.photoOpened, timeout=WAIT):
        w.open_file(path)
    with qtbot.waitSignal(**final_render(w)):
        pass
    # the preview, a first result prepared on it (before the full decode), the full decode, its result
    kinds = [type(o).__name__ + (":preview" if getattr(o, "is_preview", False) else "") for o in seen]
    assert kinds[:3] == ["Opened:preview", "Rendered", "Opened"]
    assert seen[0].full_size == seen[2].full_size == (128, 192)
    assert seen[2].prepared                 # the preview's solve carried over to the full decode
    assert "Rendered" in kinds[3:]


def test_auto_button_sets_T_from_the_photo(qtbot, make_window, jpeg):
    w = make_window()
    open_and_render(qtbot, w, jpeg)
    assert w.exposure.auto_button.isEnabled()
    expected = round(w.engine.session.auto_T(), 2)
    with qtbot.waitSignal(**final_render(w, -1.0)):
        w.exposure.set_value(-1.0)              # away from it, so that Auto visibly moves the dial
    with qtbot.waitSignal(**final_render(w)) as r:
        qtbot.mouseClick(w.exposure.auto_button, Qt.MouseButton.LeftButton)
    assert r.args[0].T == pytest.approx(expected, abs=0.01)
    assert w.exposure.value() == pytest.approx(expected, abs=0.01)


def test_a_new_photo_starts_at_auto_without_being_marked_edited(qtbot, make_window, jpeg):
    w = make_window(start_at_auto=True)
    w.open_file(jpeg)

    def at_auto():
        r = w.last_render
        return (not w.editing.auto_on_open and w.editing.prepared and r is not None and not r.draft
                and abs(r.T - w.exposure.value()) < 1e-6)
    qtbot.waitUntil(at_auto, timeout=WAIT)
    expected = round(w.engine.session.auto_T(), 2)
    assert expected == pytest.approx(w.model_state.default_T)      # a clearly dark photo: the default T
    assert w.exposure.value() == pytest.approx(expected, abs=0.01)
    assert w.exposure.auto_mark() == pytest.approx(expected, abs=0.01)     # the dial marks Auto
    assert w.last_render.T == pytest.approx(expected, abs=0.01)
    w.save_sidecar()
    assert not sidecar.sidecar_path(jpeg).exists()          # viewing a photo writes nothing beside it


def test_a_good_photo_opened_at_auto_never_shows_at_the_default_T(qtbot, make_window, tmp_path):
    """With a quick pass first, the first result is already at Auto (read on the quick curves),
    not at the model's default T for the seconds the refining takes: T = 3 washes out a good photo."""
    from PIL import Image
    rng = np.random.default_rng(3)
    bright = tmp_path / "day.jpg"
    Image.fromarray((rng.uniform(0.35, 0.75, (48, 64, 3)) * 255).astype(np.uint8)).save(bright, quality=95)
    w = make_window(start_at_auto=True, proxy_side=24, quick_proxy=8)
    shown = []
    w.rendered.connect(lambda r: shown.append(r.T) if not r.draft else None)
    w.open_file(bright)
    qtbot.waitUntil(lambda: not w.editing.auto_on_open and w.editing.prepared and not w.tasks.is_busy()
                    and shown and shown[-1] == w.exposure.value(), timeout=WAIT)
    final = w.engine.session.auto_T()
    assert final < 0.5 * w.model_state.default_T            # a good photo: Auto keeps it near as shot
    assert shown and all(abs(T - w.model_state.default_T) > 1.0 for T in shown), shown
    assert shown[-1] == pytest.approx(final, abs=0.01)


def test_a_photo_edited_before_keeps_its_T_when_new_photos_start_at_auto(qtbot, make_window, jpeg):
    sidecar.save_settings(jpeg, {"T": 4.25, "denoise": 1.0})
    w = make_window(start_at_auto=True)
    r = open_and_render(qtbot, w, jpeg)
    assert r.T == pytest.approx(4.25) and not w.editing.auto_on_open
    qtbot.waitUntil(lambda: not w.tasks.is_busy(), timeout=WAIT)
    assert w.exposure.value() == pytest.approx(4.25)
    # Auto is read all the same: the dial marks where it would be
    assert w.exposure.auto_mark() == pytest.approx(w.engine.session.auto_T(), abs=0.01)


def test_a_T_set_by_hand_teaches_auto_and_auto_left_alone_does_not(qtbot, make_window, jpeg):
    """Issue 28: the dial moved away from Auto and left there is recorded (per model) with Auto's
    reading; a photo left at Auto is not, and going back to Auto takes the record back."""
    from clode.engine import taste
    w = make_window(start_at_auto=True)
    w.open_file(jpeg)
    qtbot.waitUntil(lambda: not w.editing.auto_on_open and w.editing.prepared and w.exposure.auto_mark() is not None
                    and not w.tasks.is_busy(), timeout=WAIT)
    key = w.engine.taste_key()
    auto = w.exposure.value()
    w.save_sidecar()
    assert taste.count(key) == 0                       # viewing at Auto teaches nothing
    with qtbot.waitSignal(**final_render(w, auto - 1.0)):
        w.exposure.set_value(auto - 1.0)
    w.save_sidecar()
    records = taste.load_records()
    assert len(records) == 1 and records[0]["model"] == key and records[0]["chosen"] == pytest.approx(auto - 1.0)
    assert records[0]["photo"] == str(jpeg) and records[0]["features"][-1] == pytest.approx(auto)
    with qtbot.waitSignal(**final_render(w, auto - 0.5)):
        w.exposure.set_value(auto - 0.5)
    w.save_sidecar()
    assert [r["chosen"] for r in taste.load_records()] == [pytest.approx(auto - 0.5)]   # replaced, not added
    with qtbot.waitSignal(**final_render(w)):
        qtbot.mouseClick(w.exposure.auto_button, Qt.MouseButton.LeftButton)
    w.save_sidecar()
    assert taste.count(key) == 0                       # back at Auto: no longer a choice


def test_preferences_show_what_auto_learned_and_reset_it(qtbot):
    from clode.engine import taste
    from clode.engine.auto_exposure import FEATURES, Reading
    from clode_desktop.dialogs.preferences import PreferencesDialog
    for i in range(6):
        features = tuple(float(i + k) for k in range(len(FEATURES)))
        taste.record("mine:1", f"/p/{i}.jpg", Reading(features[-1], features), features[-1] + 0.5)
    taste.record("other:2", "/p/x.jpg", Reading(1.0, features), 2.0)
    d = PreferencesDialog("cpu", None, taste_model="mine:1")
    qtbot.addWidget(d)
    d.show()
    assert d.taste_label.text() == "Auto: learned from your 6 edits" and d.taste_reset.isEnabled()
    d.grab().save("/tmp/auto-preferences.png")
    qtbot.mouseClick(d.taste_reset, Qt.MouseButton.LeftButton)
    assert taste.count("mine:1") == 0 and taste.count("other:2") == 1      # only this model's taste
    assert d.taste_label.text().startswith("Auto: learned from your 0 edits") and not d.taste_reset.isEnabled()


def test_moving_the_dial_before_auto_arrives_wins(qtbot, make_window, jpeg):
    w = make_window(start_at_auto=True)
    w.open_file(jpeg)
    qtbot.waitUntil(lambda: w.last_render is not None, timeout=WAIT)
    with qtbot.waitSignal(**final_render(w, 1.5)):
        w.exposure.set_value(1.5)
    qtbot.waitUntil(lambda: w.editing.prepared and not w.tasks.is_busy(), timeout=WAIT)
    assert w.exposure.value() == pytest.approx(1.5) and not w.editing.auto_on_open


def test_only_a_T_of_the_users_own_cancels_a_pending_auto(qtbot, make_window, jpeg):
    w = make_window(start_at_auto=True)
    open_and_render(qtbot, w, jpeg)
    w.editing.auto_on_open = True                  # as when the curves are not final yet
    w.panel.set_denoise(0.4, emit=True)
    assert w.editing.auto_on_open                  # the noise reduction is another matter
    w.exposure.set_value(1.0)
    assert not w.editing.auto_on_open


def test_toolbar_and_window_have_icons(qtbot, make_window):
    from PySide6.QtWidgets import QToolButton

    from clode_desktop.widgets import theme
    w = make_window()
    buttons = [w.window_actions.toolbar.widgetForAction(a) for a in w.window_actions.toolbar.actions()]
    buttons = [b for b in buttons if isinstance(b, QToolButton)]
    assert len(buttons) == 10
    for b in buttons:
        assert not b.defaultAction().icon().isNull(), b.defaultAction().text()
        assert b.defaultAction().toolTip()       # icon-only buttons still say what they do
    assert not theme.icon("app").pixmap(64, 64).toImage().isNull()     # theme.apply makes it the window icon
    with pytest.raises(FileNotFoundError):
        theme.icon("no-such-icon")


@pytest.mark.parametrize("bad", ['"abc"', "NaN"])
def test_damaged_sidecar_opens_at_defaults_with_a_warning(qtbot, make_window, jpeg, bad):
    from clode.base.adjustments import DEFAULT_COLOUR_NOISE
    sidecar.sidecar_path(jpeg).write_text('{"settings": {"T": 2.0, "colour_noise": %s}}' % bad)
    w = make_window()
    r = open_and_render(qtbot, w, jpeg)                  # it opens and renders
    assert r.T == pytest.approx(2.0) and r.adjustments.colour_noise == DEFAULT_COLOUR_NOISE
    assert w.panel.colour_noise_value() == DEFAULT_COLOUR_NOISE and w.exposure.isEnabled()
    assert "colour noise" in w.status.message_label.text() and jpeg.name in w.status.message_label.text()   # visible
    with qtbot.waitSignal(**final_render(w, 1.5)):
        type_T(qtbot, w, "1.5")                          # editing works


def _right_of_divider(shot, c):
    """A band through the middle of the photo, right of the split divider (away from labels and edges)."""
    rect = c.photo_rect(c.viewports()[0])
    y = int(rect.center().y())
    return shot[y - 4:y + 4, int(c.divider_x()) + 20:int(rect.right()) - 8]


def test_switching_photos_never_shows_the_previous_result_beside_the_new_original(qtbot, make_window, tmp_path):
    """Defect: just after switching, the split view showed the new photo's before beside the previous
    photo's after (two photos of the same size kept the old result)."""
    folder = tmp_path / "two"
    folder.mkdir()
    base = dark_rgb()
    Image.fromarray((base * 255).round().astype(np.uint8)).save(folder / "a.png")
    Image.fromarray((base[::-1, ::-1] * 0.3 * 255).round().astype(np.uint8)).save(folder / "b.png")   # other, darker
    w = make_window()
    c = w.canvas
    open_and_render(qtbot, w, folder / "a.png")
    with qtbot.waitSignal(**final_render(w, 5.5)):
        type_T(qtbot, w, "5.5")                  # a bright result
    w.window_actions.mode_actions[SPLIT].trigger()
    seen = {}

    def at_switch(opened):
        # the moment the new photo is shown, before its first render can arrive
        seen["result"] = c.result_image()
        seen["shot"] = as_array(c.grab().toImage())
        c.set_peek(True)                         # the original on both sides
        seen["originals"] = as_array(c.grab().toImage())
        c.set_peek(False)
    w.photoOpened.connect(at_switch)
    with qtbot.waitSignal(**final_render(w)):
        w.open_file(folder / "b.png")
    w.photoOpened.disconnect(at_switch)
    assert seen["result"] is None
    after_side, original_there = _right_of_divider(seen["shot"], c), _right_of_divider(seen["originals"], c)
    assert after_side.size > 0 and np.abs(after_side.astype(int) - original_there.astype(int)).max() <= 2   # B's original, not A's result
    assert c.result_image() is not None          # then B's own result arrives


def test_side_by_side_keeps_zoom_and_pan_in_sync(qtbot, make_window, jpeg, artifacts):
    """Zoomed with the wheel and panned by dragging in the right half, both halves show the same
    part of the photo, pixel for pixel (compared with the original shown on both sides)."""
    from PySide6.QtGui import QWheelEvent
    w = make_window()
    w.resize(903, 600)                           # an odd width: the halves must still line up
    open_and_render(qtbot, w, jpeg)
    c = w.canvas
    w.window_actions.mode_actions[SIDE].trigger()
    left, right = c.viewports()
    at = QPointF(right.center().x() + 17, right.center().y() - 9)
    for _ in range(3):
        wheel = QWheelEvent(at, c.mapToGlobal(at), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(c, wheel)
    assert not c.is_fit() and c.zoom() > 1.5
    _drag(c, at.toPoint(), at.toPoint() + QPoint(-23, 11))
    left, right = c.viewports()
    shift = right.left() - left.left()
    assert c.photo_rect(left).translated(shift, 0) == c.photo_rect(right)
    c.set_peek(True)
    shot = as_array(c.grab().toImage())
    c.set_peek(False)
    h, half = shot.shape[0], int(left.width())
    a = shot[40:h - 40, 4:half - 4]
    b = shot[40:h - 40, int(right.left()) + 4:int(right.left()) + half - 4]
    assert a.shape == b.shape and np.array_equal(a, b)
    c.grab().save(str(artifacts / "side_by_side_zoomed.png"))
