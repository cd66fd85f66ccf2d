"""The editor's menu actions themselves, as a user fires them: ``QAction.trigger()`` (a menu click) and
their keyboard shortcuts, never the methods behind them. A slot that raises inside Qt only prints
to stderr: these tests fail on any exception that reaches ``sys.excepthook`` and on any traceback
on stderr, and check each action's effect where it can be seen."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox  # noqa: E402

from clode.io import sidecar  # noqa: E402
from clode_desktop.dialogs.batch_dialog import BatchDialog  # noqa: E402
from clode_desktop.dialogs.preferences import PreferencesDialog  # noqa: E402
from clode_desktop.dialogs.shortcuts_dialog import ShortcutsDialog  # noqa: E402
from conftest import WAIT, dark_rgb, final_render, open_and_render, open_burst, type_T  # noqa: E402,F401

pytestmark = pytest.mark.usefixtures("user_data", "one_torch_thread")     # tests/conftest.py

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def no_blocking_dialogs(monkeypatch, folder):
    """Modal dialogs answer at once: every QDialog.exec() is accepted as it opened (Paste keeps its
    ticks, Export its target, Preferences its choices), the file pickers name the burst, questions
    get Yes, message boxes are noted."""
    notes = []
    monkeypatch.setattr(QDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(folder / "p0.jpg"), "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    for name in ("about", "information", "warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(lambda *a, name=name, **k: notes.append(name)))
    return notes


class Guard:
    """Fails on an exception in a slot (pytest-qt's capture, which sees sys.excepthook) or a traceback on stderr."""

    def __init__(self, qtbot, capfd):
        self.qtbot, self.capfd = qtbot, capfd

    def run(self, what: str, fire) -> None:
        self.capfd.readouterr()
        with self.qtbot.captureExceptions() as exceptions:
            fire()
            self.qtbot.wait(50)                      # queued slots run
        err = self.capfd.readouterr().err
        assert not exceptions, f"{what}: {exceptions[0][1]!r}"
        assert "Traceback" not in err and "Error" not in err, f"{what}: {err}"


def select_in_strip(w, *names):
    for i in range(w.filmstrip.count()):
        item = w.filmstrip.item(i)
        if any(item.text() == n for n in names):
            item.setSelected(True)


def saved_T(path):
    settings = sidecar.load_settings(path)
    return None if settings is None else settings.get("T")


def test_paste_and_sync_work_from_the_menu_and_from_their_shortcuts(qtbot, make_window, folder, capfd,  # noqa: F811
                                                                    no_blocking_dialogs):
    """Defect: Paste and Sync did nothing; 'checked' (False) reached paste_settings(names) → TypeError."""
    w = make_window()
    guard = Guard(qtbot, capfd)
    open_burst(qtbot, w, folder)
    with qtbot.waitSignal(**final_render(w, 4.5)):
        type_T(qtbot, w, "4.5")
    guard.run("Copy Settings", w.window_actions.copy_action.trigger)
    select_in_strip(w, "p1.jpg", "p2.jpg")
    guard.run("Paste Settings (menu)", w.window_actions.paste_action.trigger)
    assert saved_T(folder / "p1.jpg") == 4.5 and saved_T(folder / "p2.jpg") == 4.5

    with qtbot.waitSignal(**final_render(w, 2.0)):
        type_T(qtbot, w, "2.0")
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    select_in_strip(w, "p1.jpg", "p2.jpg")
    guard.run("Sync Settings (Ctrl+Shift+S)", lambda: qtbot.keyClick(w, Qt.Key.Key_S, CTRL_SHIFT))
    assert saved_T(folder / "p1.jpg") == 2.0 and saved_T(folder / "p2.jpg") == 2.0

    select_in_strip(w, "p1.jpg", "p2.jpg")
    guard.run("Paste Settings (Ctrl+Shift+V)", lambda: qtbot.keyClick(w, Qt.Key.Key_V, CTRL_SHIFT))
    assert saved_T(folder / "p1.jpg") == 4.5 and saved_T(folder / "p2.jpg") == 4.5   # the copied T
    assert "Paste Settings: T, denoise" in w.status.message_label.text()


def menu_actions(w, titles):
    """(path, action) of every action of the menus ``titles``, submenus included, in menu order."""
    found = []

    def walk(menu, where):
        for a in menu.actions():
            if a.isSeparator():
                continue
            if a.menu() is not None:
                walk(a.menu(), f"{where} › {a.text().replace('&', '')}")
            else:
                found.append((f"{where} › {a.text()}", a))
    for top in w.menuBar().actions():
        if top.text().replace("&", "") in titles:
            walk(top.menu(), top.text().replace("&", ""))
    return found


def test_every_action_of_the_file_edit_view_folder_and_help_menus(qtbot, make_window, folder, tmp_path, capfd,  # noqa: F811
                                                           no_blocking_dialogs, monkeypatch):
    w = make_window()
    guard = Guard(qtbot, capfd)
    open_burst(qtbot, w, folder)
    with qtbot.waitSignal(**final_render(w, 4.5)):
        type_T(qtbot, w, "4.5")
    select_in_strip(w, "p1.jpg", "p2.jpg")
    p0 = folder / "p0.jpg"

    def rendered_at(T):
        return lambda: qtbot.waitUntil(lambda: w.last_render is not None and not w.last_render.draft
                                       and w.last_render.T == pytest.approx(T), timeout=WAIT)

    def visible(kind):
        return lambda: qtbot.waitUntil(lambda: any(d.isVisible() for d in w.findChildren(kind)), timeout=WAIT)

    def closed_all(kind):
        for d in w.findChildren(kind):
            d.close()

    # What each action must visibly do (checked right after it fired); "" = no effect to see.
    effects = {
        "File › Open…": lambda: qtbot.waitUntil(lambda: w.photo_path == p0 and w.opened is not None, timeout=WAIT),
        "File › Open Folder…": lambda: qtbot.waitUntil(lambda: w.filmstrip.count() == 3, timeout=WAIT),
        "File › Open Recent › p0.jpg": lambda: qtbot.waitUntil(lambda: w.opened is not None, timeout=WAIT),
        "File › Open Recent › Clear the list": lambda: w.settings.recent_files() == [] or pytest.fail("not cleared"),
        "File › Export…": lambda: qtbot.waitUntil(lambda: bool(exported) and exported[-1].exists(), timeout=WAIT),
        "File › Batch Export…": visible(BatchDialog),
        "File › Export Selection…": visible(BatchDialog),
        "Edit › Undo": rendered_at(3.0),
        "Edit › Redo": rendered_at(4.5),
        "Edit › Reset to Default": rendered_at(3.0),
        "Edit › Copy Settings": lambda: "Settings copied" in w.status.message_label.text() or pytest.fail("no note"),
        "Edit › Paste Settings…": lambda: saved_T(folder / "p1.jpg") == 3.0 or pytest.fail("not pasted"),
        "Edit › Sync Settings to Selection…": lambda: saved_T(folder / "p2.jpg") == 3.0 or pytest.fail("not synced"),
        "Edit › Preferences…": lambda: w.settings.start_at_auto() or pytest.fail("the choice was not kept"),
        "Folder › Rating › ★★★★": lambda: w.filmstrip.culling(folder / "p1.jpg").rating == 4 or pytest.fail("no stars"),
        "Folder › Reject": lambda: w.filmstrip.culling(folder / "p2.jpg").flag == "reject" or pytest.fail("not rejected"),
        "Folder › Colour Label › Green": lambda: w.filmstrip.culling(folder / "p1.jpg").label == "green"
        or pytest.fail("no label"),
        "Edit › Train a model on my photos…": lambda: qtbot.waitUntil(lambda: w.training_panel.isVisible()),
        "View › Fit": lambda: w.canvas.is_fit() or pytest.fail("not fitted"),
        "View › 100 %": lambda: w.canvas.zoom() == pytest.approx(1.0) or pytest.fail("not 100 %"),
        "View › Zoom in": lambda: w.canvas.zoom() == pytest.approx(2 ** 0.5) or pytest.fail("no zoom"),
        "View › Zoom out": lambda: w.canvas.zoom() == pytest.approx(1.0) or pytest.fail("no zoom"),
        "View › After": lambda: w.canvas.mode() == "result" or pytest.fail("mode"),
        "View › Split": lambda: w.canvas.mode() == "split" or pytest.fail("mode"),
        "View › Side by side": lambda: w.canvas.mode() == "side" or pytest.fail("mode"),
        "View › Next compare mode": lambda: w.canvas.mode() == "result" or pytest.fail("mode"),
        "View › Previous Photo": lambda: qtbot.waitUntil(lambda: w.photo_path == folder / "p1.jpg", timeout=WAIT),
        "View › Next Photo": lambda: qtbot.waitUntil(lambda: w.photo_path == folder / "p1.jpg", timeout=WAIT),
        "View › First Photo": lambda: qtbot.waitUntil(lambda: w.photo_path == p0, timeout=WAIT),
        "View › Last Photo": lambda: qtbot.waitUntil(lambda: w.photo_path == folder / "p2.jpg", timeout=WAIT),
        "View › History": lambda: not w.history_dock.isVisible() or pytest.fail("History not hidden"),
        "Help › Keyboard Shortcuts…": visible(ShortcutsDialog),
        "Help › About CLODE Desktop": lambda: no_blocking_dialogs[-1] == "about" or pytest.fail("no About box"),
        "File › Quit": lambda: (not w.isVisible() and not w.settings.history_shown()) or pytest.fail("still open"),
    }
    def clear_sidecars():
        for name in ("p1.jpg", "p2.jpg"):
            sidecar.sidecar_path(folder / name).unlink(missing_ok=True)
        select_in_strip(w, "p1.jpg", "p2.jpg")
    # What is set up just before an action (opening a photo or a folder clears the strip's selection).
    def tick_auto_in_preferences():
        # the user ticks "Start each new photo at Auto" and presses OK
        def answer(dialog):
            dialog.auto_check.setChecked(True)
            return QDialog.DialogCode.Accepted
        monkeypatch.setattr(PreferencesDialog, "exec", answer)
    before = {"Edit › Paste Settings…": clear_sidecars, "Edit › Sync Settings to Selection…": clear_sidecars,
              "Edit › Preferences…": tick_auto_in_preferences}
    exported = []
    w.exported.connect(exported.append)

    titles = ("File", "Edit", "View", "Folder", "Help")
    paths = [path for path, _ in menu_actions(w, titles)]
    # Quit last; Previous Photo after Last Photo, so that it moves; every photo shown again before it.
    order = {"File › Quit": 2, "View › Previous Photo": 1, "Folder › Show › All Photos": 0.5}
    paths.sort(key=lambda path: order.get(path, 0))
    fired = []
    for path in paths:
        # found again each time: Open Recent is rebuilt whenever a photo opens
        action = dict(menu_actions(w, titles)).get(path)
        assert action is not None, f"{path} went away"
        if path in before:
            before[path]()
        if not action.isEnabled():
            qtbot.waitUntil(action.isEnabled, timeout=WAIT)     # e.g. editing actions while a photo opens
        guard.run(path, action.trigger)
        effect = effects.get(path, "")
        if effect:
            effect()
        fired.append(path)
        for kind in (BatchDialog, ShortcutsDialog):
            closed_all(kind)
        if path == "Edit › Train a model on my photos…":
            w.training_panel.hide()
        if path.startswith("File › Open") or path.startswith("View ›") and "Photo" in path:
            qtbot.waitUntil(lambda: w.opened is not None and w.editing.can_edit, timeout=WAIT)
    missing = set(effects) - set(fired)
    assert not missing, f"menu actions gone or renamed: {sorted(missing)}"


def test_the_shortcut_list_is_a_searchable_dialog_of_the_windows_own_actions(qtbot, make_window, artifacts):  # noqa: F811
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QApplication, QMessageBox as Box
    from clode_desktop.widgets import theme
    theme.apply(QApplication.instance())
    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    qtbot.keyClick(w, Qt.Key.Key_F1)                  # Help › Keyboard Shortcuts…
    qtbot.waitUntil(lambda: any(d.isVisible() for d in w.findChildren(ShortcutsDialog)))
    dialog = next(d for d in w.findChildren(ShortcutsDialog) if d.isVisible())
    assert not [b for b in w.findChildren(Box) if b.isVisible()]
    rows = dialog.visible_rows()
    # Every action of the window with a shortcut is there, with its keys as the action has them.
    with_keys = {a for a in w.findChildren(QAction) if a.shortcuts() and a.text()}
    assert len([r for r in rows if r[2] != "Photo" and r[2] not in ("Exposure dial", "Filmstrip")]) == len(with_keys)
    paste = w.window_actions.paste_action
    assert (paste.text().rstrip("…"), paste.shortcut().toString(QKeySequence.SequenceFormat.NativeText), "Edit") in rows
    assert ("Next Photo", "Right", "View") in rows and ("Redo", "Ctrl+Shift+Z, Ctrl+Y", "Edit") in rows
    dialog.grab().save(str(artifacts / "shortcuts_dialog.png"))

    qtbot.keyClicks(dialog.filter_edit, "ctrl+shift+v")
    assert dialog.visible_rows() == [("Paste Settings", "Ctrl+Shift+V", "Edit")]
    dialog.filter_edit.clear()
    qtbot.keyClicks(dialog.filter_edit, "zoom")
    assert {r[0] for r in dialog.visible_rows()} == {"Zoom in", "Zoom out", "Zoom at the pointer"}
    qtbot.keyClicks(dialog.filter_edit, " nothing-like-this")
    assert dialog.visible_rows() == [] and dialog.empty_label.isVisible()
    dialog.grab().save(str(artifacts / "shortcuts_dialog_empty.png"))
    # A shortcut changed on the action shows in the list the next time it opens.
    dialog.close()
    w.window_actions.reset_action.setShortcut(QKeySequence("Ctrl+Alt+R"))
    w.window_actions.shortcuts_action.trigger()
    again = next(d for d in w.findChildren(ShortcutsDialog) if d.isVisible())
    assert ("Reset to Default", "Ctrl+Alt+R", "Edit") in again.visible_rows()
    again.close()
