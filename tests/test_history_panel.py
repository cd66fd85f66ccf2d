"""The edit history in the editor: it survives moving to another photo and back, and restarting
the app (it is kept with the photo's sidecar), and its list (the History dock) takes the edit back
to the step clicked. Driven as a user does: the arrow keys, Ctrl+Z, clicks on the list."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from clode.base.adjustments import Adjustments  # noqa: E402
from conftest import final_render, open_burst, type_T  # noqa: E402

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")     # tests/conftest.py


def key(qtbot, w, k, mods=Qt.KeyboardModifier.NoModifier):
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    qtbot.keyClick(w, k, mods)


def click_row(qtbot, w, row):
    lst = w.history_list
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(lst.item(row)).center())


def test_undo_survives_moving_to_another_photo_and_back(qtbot, make_window, folder):  # noqa: F811
    """Defect: change T, →, ←, Ctrl+Z did nothing (each open started a new history)."""
    w = make_window()
    open_burst(qtbot, w, folder)
    with qtbot.waitSignal(**final_render(w, 4.5)):
        type_T(qtbot, w, "4.5")
    with qtbot.waitSignal(**final_render(w)):
        key(qtbot, w, Qt.Key.Key_Right)
    assert w.photo_path == folder / "p1.jpg"
    with qtbot.waitSignal(**final_render(w, 4.5)):
        key(qtbot, w, Qt.Key.Key_Left)
    assert w.photo_path == folder / "p0.jpg"
    with qtbot.waitSignal(**final_render(w, 3.0)):
        key(qtbot, w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.adjustments.T == 3.0 and w.exposure.value() == 3.0
    # the list shows the step, undone (greyed), and where the photo stands
    assert w.history_list.labels() == ["Original", "1  Exposure (T) 4.50"] and w.history_list.currentRow() == 0


def test_history_survives_a_restart_and_its_list_goes_back_to_a_clicked_step(qtbot, make_window, folder,  # noqa: F811
                                                                             tmp_path, artifacts):
    w = make_window()
    open_burst(qtbot, w, folder)
    with qtbot.waitSignal(**final_render(w, 4.5)):
        type_T(qtbot, w, "4.5")
    w.panel.denoise.slider.setValue(30)               # as a drag ends
    qtbot.waitUntil(lambda: w.adjustments.denoise == 0.3)
    with qtbot.waitSignal(**final_render(w, 3.0)):
        w.window_actions.reset_action.trigger()
    assert w.history_list.labels() == ["Original", "1  Exposure (T) 4.50", "2  Denoiser 30 %", "3  Reset to default"]
    w.close()                                         # the sidecar is written on closing

    again = make_window()                             # the app started again
    with qtbot.waitSignal(**final_render(again, 3.0)):
        again.open_file(folder / "p0.jpg")
    lst = again.history_list
    assert lst.labels() == ["Original", "1  Exposure (T) 4.50", "2  Denoiser 30 %", "3  Reset to default"]
    assert lst.currentRow() == 3
    # A click on "Denoiser 30 %" brings back that state; the later step stays, greyed, to redo.
    with qtbot.waitSignal(**final_render(again, 4.5)):
        click_row(qtbot, again, 2)
    assert again.adjustments == Adjustments(T=4.5, denoise=0.3)
    assert again.panel.denoise_value() == 0.3 and again.exposure.value() == 4.5
    assert lst.currentRow() == 2 and lst.count() == 4
    again.grab().save(str(artifacts / "history_panel.png"))
    with qtbot.waitSignal(**final_render(again, 3.0)):
        key(qtbot, again, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert again.adjustments == Adjustments(T=3.0) and lst.currentRow() == 3
    with qtbot.waitSignal(**final_render(again, 3.0)):
        click_row(qtbot, again, 0)                # the original
    assert again.adjustments == Adjustments(T=3.0) and lst.currentRow() == 0
    # A new change after going back replaces the undone steps.
    with qtbot.waitSignal(**final_render(again, 2.0)):
        type_T(qtbot, again, "2.0")
    assert lst.labels() == ["Original", "1  Exposure (T) 2.00"]


def test_the_history_dock_leaves_the_photo_the_room(qtbot, make_window):
    """On a laptop-sized window the dock opens narrow (Qt's list asked for 256 px of 1100) and can
    still be dragged wider."""
    w = make_window()
    w.resize(1100, 700)
    qtbot.waitUntil(lambda: w.history_dock.isVisible())
    qtbot.wait(50)
    assert w.history_dock.width() <= 200 and w.canvas.width() >= 550
    assert w.history_dock.minimumWidth() < w.history_dock.width()
