"""Culling a folder in the app: stars, flags and labels from the keyboard on the real window, shown in
the filmstrip, kept in the sidecar and the .xmp file, the filter, Ctrl/Shift-click multi-select
that does not open photos, and exporting the filtered photos (issue 26)."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QAction  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PIL import Image  # noqa: E402

from clode.io import marks, sidecar, xmp  # noqa: E402
from clode.io.culling import PICK, REJECT, Culling, Filter  # noqa: E402
from clode_desktop.dialogs.batch_dialog import BatchDialog  # noqa: E402
from conftest import WAIT, make_folder  # noqa: E402
from test_xmp import DARKTABLE  # noqa: E402

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")     # tests/conftest.py

KEY = {str(n): getattr(Qt.Key, f"Key_{n}") for n in range(10)} | {"P": Qt.Key.Key_P, "X": Qt.Key.Key_X,
                                                                    "U": Qt.Key.Key_U}


@pytest.fixture(autouse=True)
def thumbnail_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_CACHE_DIR", str(tmp_path / "cache"))


def press(qtbot, w, *keys):
    """Type culling keys on the window, as a user does (whatever widget has the focus)."""
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    for k in keys:
        QTest.keyClick(w.focusWidget() or w, KEY[k])


def click(w, row, modifier=Qt.KeyboardModifier.NoModifier):
    strip = w.filmstrip
    rect = strip.visualItemRect(strip.item(row))
    QTest.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, modifier, rect.center())


def action(w, name) -> QAction:
    return w.findChild(QAction, name)


def test_rate_flag_and_label_from_the_keyboard_shown_kept_and_filtered(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 6)
    w = make_window(threaded=False)
    w.open_folder(folder)
    assert w.cull_bar.isVisible() and w.cull_bar.count.text() == "6 photos"
    assert w.photo_path == photos[0]

    press(qtbot, w, "3")
    assert w.filmstrip.culling(photos[0]) == Culling(3)
    assert sidecar.load(photos[0]).culling == Culling(3)
    assert xmp.read_sidecar(photos[0])[0] == Culling(3)                 # darktable / Lightroom see it
    assert not w.filmstrip.is_marked(photos[0])                        # stars are not an edit
    assert "★★★" in w.filmstrip.item(0).toolTip()

    # Ctrl-click and Shift-click select without opening; the keys then mark every selected photo
    click(w, 2, Qt.KeyboardModifier.ControlModifier)
    click(w, 4, Qt.KeyboardModifier.ControlModifier)
    assert w.photo_path == photos[0] and w.filmstrip.current_path() == photos[0]
    assert w.filmstrip.selected_paths() == [photos[0], photos[2], photos[4]]
    click(w, 2, Qt.KeyboardModifier.ControlModifier)                 # again: deselected
    assert w.filmstrip.selected_paths() == [photos[0], photos[4]]
    click(w, 3, Qt.KeyboardModifier.ShiftModifier)                   # from the open photo to this one
    assert w.photo_path == photos[0] and w.filmstrip.current_path() == photos[0]
    assert w.filmstrip.selected_paths() == photos[:4]
    click(w, 1, Qt.KeyboardModifier.ControlModifier)
    press(qtbot, w, "P", "6")
    for p in (photos[0], photos[2], photos[3]):
        assert w.filmstrip.culling(p).flag == PICK and w.filmstrip.culling(p).label == "red"
    press(qtbot, w, "6")                                               # the label key again takes it off
    assert w.filmstrip.culling(photos[2]).label is None

    click(w, 3)                                                        # a plain click opens
    assert w.photo_path == photos[3] and w.filmstrip.selected_paths() == [photos[3]]
    press(qtbot, w, "X", "5", "9")
    assert w.filmstrip.culling(photos[3]) == Culling(5, REJECT, "blue")
    assert xmp.read_sidecar(photos[3])[0] == Culling(0, REJECT, "blue")  # reject = rating -1
    press(qtbot, w, "U")
    assert w.filmstrip.culling(photos[3]) == Culling(5, None, "blue")

    # the filter: picked, then rated 3 or more, through the bar and through the menu
    w.cull_bar.flags.setCurrentIndex(w.cull_bar.flags.findData("picked"))
    assert w.filmstrip.visible_photos() == [photos[0], photos[2]]          # 3 was unflagged
    assert w.cull_bar.count.text() == "2 of 6 photos"
    w.cull_bar.stars.setCurrentIndex(w.cull_bar.stars.findData(3))
    assert w.filmstrip.visible_photos() == [photos[0]]
    action(w, "show_all_photos").trigger()
    assert len(w.filmstrip.visible_photos()) == 6 and w.cull_bar.filter() == Filter()
    action(w, "show_not_rejected").trigger()
    assert len(w.filmstrip.visible_photos()) == 6
    for row in (0, 1, 2):
        w.filmstrip.item(row).setSelected(True)
    action(w, "show_3_stars_or_more").trigger()
    assert w.filmstrip.visible_photos() == [photos[0], photos[3]]
    assert w.filmstrip.selected_paths() == [photos[0]]         # hidden photos left the selection (3 earlier)
    # arrows step over the hidden photos
    w.filmstrip.setFocus()
    QTest.keyClick(w.filmstrip, Qt.Key.Key_Left)
    assert w.photo_path == photos[0]
    QTest.keyClick(w.filmstrip, Qt.Key.Key_Right)
    assert w.photo_path == photos[3]

    # the marks come back with the folder (from the sidecars)
    w.cull_bar.flags.setCurrentIndex(0)
    w.open_folder(folder)
    assert w.filmstrip.culling(photos[0]) == Culling(3, PICK, None)
    assert w.filmstrip.culling(photos[1]) == Culling()
    w.grab().save(str(tmp_path / "culling.png"))


def test_every_culling_menu_action_works_when_triggered(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 2)
    w = make_window(threaded=False)
    w.open_folder(folder)
    for n in range(6):
        action(w, f"rate{n}").trigger()
        assert w.filmstrip.culling(photos[0]).rating == n
    for name, flag in (("pick", PICK), ("reject", REJECT), ("unflag", None)):
        action(w, name).trigger()
        assert w.filmstrip.culling(photos[0]).flag == flag
    for name in ("red", "yellow", "green", "blue", "purple"):
        action(w, f"label_{name}").trigger()
        assert w.filmstrip.culling(photos[0]).label == name
    action(w, "label_none").trigger()
    assert w.filmstrip.culling(photos[0]).label is None
    assert marks.load(photos[0]) == Culling(5)


def test_export_the_picked_photos(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 4)
    w = make_window(threaded=False)
    w.open_folder(folder)
    for row in (1, 3):
        click(w, row, Qt.KeyboardModifier.ControlModifier)
    w.culling.flag(PICK)                                  # photos 0, 1 and 3
    click(w, 0)
    w.culling.flag(REJECT)
    action(w, "show_picked").trigger()
    action(w, "export_filtered").trigger()
    dialog = next(d for d in w.findChildren(BatchDialog) if d.isVisible())
    qtbot.addWidget(dialog)
    assert dialog.windowTitle() == "Export 2 Photos (picked)"
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.update_count()
    assert [j.source for j in dialog.plan.jobs] == [photos[1], photos[3]]
    dialog.close()


def test_marks_from_darktable_and_from_the_photos_own_xmp_show_in_the_strip(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 3)
    photos[0].with_name(photos[0].name + ".xmp").write_text(DARKTABLE)          # 4 stars, green
    Image.open(photos[1]).save(photos[1], xmp=DARKTABLE.replace('xmp:Rating="4"', 'xmp:Rating="-1"').encode())
    w = make_window()
    with qtbot.waitSignal(w.folder.thumbnailsDone, timeout=WAIT):
        w.open_folder(folder)
    assert w.filmstrip.culling(photos[0]) == Culling(4, None, "green")
    qtbot.waitUntil(lambda: w.filmstrip.culling(photos[1]) == Culling(0, REJECT, "green"), timeout=WAIT)
    assert w.filmstrip.culling(photos[2]) == Culling()
    w.cull_bar.flags.setCurrentIndex(w.cull_bar.flags.findData("unrejected"))
    assert w.filmstrip.visible_photos() == [photos[0], photos[2]]


def test_copy_from_one_and_paste_chosen_settings_to_five_selected_without_opening_them(qtbot, make_window,
                                                                                      tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from clode_desktop.dialogs.paste_dialog import PasteDialog
    from conftest import type_T
    folder, photos = make_folder(tmp_path, 7)
    sidecar.save_settings(photos[6], {"T": 4.0, "denoise": 0.9})
    w = make_window(threaded=False)
    w.open_folder(folder)
    type_T(qtbot, w, "1.25")
    w.panel.set_denoise(0.3, emit=True)
    w.panel.neutral.setChecked(True)
    w.copy_settings()
    for row in (2, 3, 4, 5, 6):
        click(w, row, Qt.KeyboardModifier.ControlModifier)
    assert w.photo_path == photos[0]                      # selecting opened none of them
    click(w, 0, Qt.KeyboardModifier.ControlModifier)     # the open photo out of the selection
    assert w.filmstrip.selected_paths() == photos[2:7]

    def answer():                                         # the user ticks exposure and neutral only
        d = next(d for d in QApplication.topLevelWidgets() if isinstance(d, PasteDialog) and d.isVisible())
        for name, box in d.boxes.items():
            box.setChecked(name in ("T", "neutral"))
        d.accept()
    QTimer.singleShot(0, answer)
    assert w.paste_settings() == photos[2:7]
    for p in photos[2:6]:
        assert sidecar.load_settings(p) == {"T": 1.25, "neutral": True}
        assert w.filmstrip.is_marked(p)
    assert sidecar.load_settings(photos[6]) == {"T": 1.25, "denoise": 0.9, "neutral": True}   # unticked: kept
    assert not w.filmstrip.is_marked(photos[1]) and w.photo_path == photos[0]


def test_the_export_dialog_exports_a_rated_photo_at_a_preset_size(qtbot, make_window, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from clode_desktop.dialogs.export_dialog import ExportDialog
    folder, photos = make_folder(tmp_path, 1)
    w = make_window(threaded=False)
    w.open_folder(folder)
    press(qtbot, w, "4", "7")

    def answer():                                       # the user picks the web preset and a size, then Export
        d = next(d for d in QApplication.topLevelWidgets() if isinstance(d, ExportDialog) and d.isVisible())
        d.form.choose_preset("Web, 2048 px")
        d.long_edge.setValue(32)
        d.export_button.click()
    QTimer.singleShot(0, answer)
    with qtbot.waitSignal(w.exported, timeout=WAIT) as done:
        w.window_actions.export_action.trigger()
    target = done.args[0]
    assert target == folder / "web" / "IMG_0000-clode.jpg"
    with Image.open(target) as im:
        assert im.size == (32, 24)
    assert xmp.read_embedded(target) == Culling(4, None, "yellow")
    assert w.settings.export_options()["long_edge"] == 32          # the next export starts there


def test_marks_that_cannot_be_written_cost_one_message_per_keypress(qtbot, make_window, tmp_path):
    folder, photos = make_folder(tmp_path, 3)
    for p in photos:
        p.with_name(p.name + ".xmp").mkdir()           # an .xmp that cannot be written, for real (even as root)
    w = make_window(threaded=False)
    w.open_folder(folder)
    shown = []
    w.errorShown.connect(shown.append)
    for row in (1, 2):
        click(w, row, Qt.KeyboardModifier.ControlModifier)
    press(qtbot, w, "2")
    assert len(shown) == 1 and "cannot write the XMP sidecar" in shown[0] and "2 more like it" in shown[0]
    assert all(sidecar.load(p).culling == Culling(2) for p in photos)   # the app keeps them all the same
    assert w.filmstrip.culling(photos[2]) == Culling(2)
