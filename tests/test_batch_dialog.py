"""The Batch Export dialog (issue 7), driven with pytest-qt: real folders, the real batch, in the task manager's batch lane."""

from __future__ import annotations

import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from clode_desktop.widgets import theme  # noqa: E402
from clode_desktop.dialogs.batch_dialog import BatchDialog  # noqa: E402
from test_batch import outputs, photo, to8  # noqa: E402

WAIT = 60_000


@pytest.fixture(autouse=True)
def quiet(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)        # tiny images; see test_batch.one_thread
    yield
    torch.set_num_threads(before)


@pytest.fixture
def folders(tmp_path):
    inp = tmp_path / "Night out"
    (inp / "later").mkdir(parents=True)
    for i in range(4):
        to8(photo(i)).save(inp / f"IMG_{i:04d}.jpg", quality=95)
    to8(photo(9)).save(inp / "later" / "IMG_0100.png")
    (inp / "IMG_0005.jpg").write_bytes(b"\xff\xd8 a card error cut this one short")
    return inp, tmp_path / "Night out enhanced"


@pytest.fixture
def dialog(qtbot, fixture_model_path):
    d = BatchDialog(str(fixture_model_path), "cpu")
    qtbot.addWidget(d)
    d.resize(720, 760)
    d.show()
    yield d
    d.stop()


def choose(dialog, inp, out, T=0.5):
    dialog.input_edit.setText(str(inp))
    dialog.output_edit.setText(str(out))
    dialog.exposure_mode.setCurrentIndex(dialog.exposure_mode.findData("fixed"))
    dialog.T.setValue(T)
    dialog.update_count()


def test_live_count_and_bad_folders(qtbot, dialog, folders, tmp_path):
    inp, out = folders
    choose(dialog, inp, out)
    assert dialog.count_label.text() == "5 photos found"
    assert dialog.start_button.isEnabled()
    dialog.recursive.setChecked(True)
    dialog.update_count()
    assert dialog.count_label.text() == "6 photos found"
    dialog.output_edit.setText(str(inp))
    dialog.update_count()
    assert "must not be the input folder" in dialog.count_label.text()
    assert not dialog.start_button.isEnabled()
    dialog.input_edit.setText(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: "no such folder" in dialog.count_label.text(), timeout=2000)   # the debounce timer
    dialog.input_edit.setText(str(inp))
    dialog.output_edit.setText(str(out))
    dialog.name_edit.setText("{date}")
    assert dialog.name_example.text() == "not a valid name"
    dialog.name_edit.setText("{stem}-night")
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("png"))
    assert dialog.name_example.text() == "e.g. IMG_0001-night.png"
    assert not dialog.quality.isEnabled() and dialog.bits.isEnabled()
    dialog.exposure_mode.setCurrentIndex(dialog.exposure_mode.findData("sidecar"))
    assert not dialog.T.isEnabled() and dialog.options().T == "sidecar"


def test_run_to_the_summary_with_screenshots(qtbot, dialog, folders, artifacts):
    theme.apply(QApplication.instance())
    inp, out = folders
    choose(dialog, inp, out)
    dialog.recursive.setChecked(True)
    dialog.update_count()
    events = []

    def seen(p):
        events.append(p)
        if sum(e.item is not None for e in events) == 2 and dialog.is_running():
            assert dialog.grab().save(str(artifacts / "batch_dialog_running.png"))

    dialog.progressed.connect(seen)
    with qtbot.waitSignal(dialog.batchFinished, timeout=WAIT) as blocker:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running() and dialog.cancel_button.isVisible() and not dialog.start_button.isVisible()
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT)
    assert (result.done, result.skipped, result.failed) == (5, 0, 1) and not result.cancelled
    assert outputs(out) == [f"IMG_{i:04d}_clode.jpg" for i in range(4)] + ["later/IMG_0100_clode.jpg"]
    # progress: count, current file, elapsed and ETA reached the dialog
    assert [e.finished for e in events if e.item is not None] == list(range(1, 7))
    assert any(e.current == inp / "later" / "IMG_0100.png" for e in events)
    assert events[-1].fraction == 1.0
    assert dialog.progress_bar.value() == 1000
    assert dialog.current_label.text().startswith("Finished: 5 done, 0 skipped, 1 failed")
    text = dialog.summary.toPlainText()
    assert "failed   IMG_0005.jpg:" in text and "done     later/IMG_0100.png -> later/IMG_0100_clode.jpg" in text
    assert result.log_path.name in dialog.time_label.text() and result.log_path.parent == out
    assert text.splitlines()[0].startswith("done     IMG_0000.jpg")
    assert dialog.start_button.isVisible() and dialog.close_button.isVisible()
    assert dialog.grab().save(str(artifacts / "batch_dialog_summary.png"))
    assert (artifacts / "batch_dialog_running.png").exists()


def test_cancel_then_resume_with_skip(qtbot, dialog, folders):
    inp, out = folders
    choose(dialog, inp, out)

    def cancel_after_the_first(p):
        if p.item is not None and p.finished == 1:
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    dialog.progressed.connect(cancel_after_the_first)
    with qtbot.waitSignal(dialog.batchFinished, timeout=WAIT) as blocker:
        dialog.start()
    result = blocker.args[0]
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT)
    assert result.cancelled and result.done == 1 and result.not_started == 4
    assert outputs(out) == ["IMG_0000_clode.jpg"]
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    assert dialog.current_label.text().startswith("Cancelled: 1 done")
    assert "cancelled  IMG_0001.jpg" in result.log_path.read_text()

    dialog.progressed.disconnect(cancel_after_the_first)
    dialog.conflict.setCurrentIndex(dialog.conflict.findData("skip"))
    with qtbot.waitSignal(dialog.batchFinished, timeout=WAIT) as blocker:
        dialog.start()
    again = blocker.args[0]
    assert (again.done, again.skipped, again.failed) == (3, 1, 1)
    assert outputs(out) == [f"IMG_{i:04d}_clode.jpg" for i in range(4)]


def test_closing_during_a_run_cancels_cleanly(qtbot, dialog, folders):
    inp, out = folders
    choose(dialog, inp, out)
    finished = []
    dialog.batchFinished.connect(finished.append)

    def close_when_solving(p):
        if p.current == inp / "IMG_0001.jpg" and p.item is None and dialog.isVisible():
            dialog.close()

    dialog.progressed.connect(close_when_solving)
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.is_running() and not dialog.isVisible(), timeout=WAIT)
    [result] = finished
    assert result.cancelled and result.done <= 2
    for name in outputs(out):
        Image.open(out / name).load()          # only complete files
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


# -- issue 27: the batch runs in the task manager's batch lane, like the editor's jobs -------------------------

@pytest.mark.parametrize("at", [0, 1, 3, 6])
def test_a_cancel_at_any_moment_leaves_only_whole_files(qtbot, fixture_model_path, folders, at):
    """A lane without threads runs the batch inside ``start()``: the cancel lands exactly at the
    ``at``-th progress report (0: before the model is loaded), inside a solve or between photos."""
    from clode_desktop.base.worker import TaskManager
    inp, out = folders
    tasks = TaskManager(threaded=False)
    d = BatchDialog(str(fixture_model_path), "cpu", tasks=tasks)
    qtbot.addWidget(d)
    choose(d, inp, out)
    seen, finished = [], []
    d.batchFinished.connect(finished.append)

    def cancel_at(p):
        seen.append(p)
        if len(seen) == at:
            d.cancel()

    d.progressed.connect(cancel_at)
    if at == 0:                                  # cancelled as the job is handed to the lane
        lane = tasks.lane("batch")
        submit = lane.submit

        def cancelled_first(fn, **kw):
            kw["token"].cancel()
            return submit(fn, **kw)
        lane.submit = cancelled_first
    d.start()
    assert not d.is_running()
    [result] = finished
    assert result.cancelled and d.current_label.text().startswith("Cancelled")
    assert result.done <= max(0, at - 1)
    done = sorted(it.target.relative_to(out).as_posix() for it in result.items if it.status == "done")
    assert outputs(out) == done                  # nothing half-written, no temporary file left
    for name in done:
        Image.open(out / name).load()
    assert not d.start_button.isHidden() and d.cancel_button.isHidden()


def test_the_batch_lane_runs_beside_the_editors_queue(qtbot, fixture_model_path, folders):
    """The editor's worker is held by a job until the batch has written a photo: the batch does
    not queue behind the editor's work (nor would the editor's renders behind the batch)."""
    import threading
    from clode_desktop.base.worker import TaskManager
    inp, out = folders
    tasks = TaskManager(threaded=True)
    try:
        d = BatchDialog(str(fixture_model_path), "cpu", tasks=tasks)
        qtbot.addWidget(d)
        choose(d, inp, out)
        gate, held = threading.Event(), []
        tasks.submit(lambda job: gate.wait(WAIT / 1000), on_done=held.append)
        d.progressed.connect(lambda p: p.item is not None and p.item.status == "done" and gate.set())
        with qtbot.waitSignal(d.batchFinished, timeout=WAIT) as blocker:
            d.start()
            assert d.is_running() and d.job is not None and d.job.manager is tasks.lane("batch")
        assert (blocker.args[0].done, blocker.args[0].failed) == (4, 1)
        qtbot.waitUntil(lambda: held == [True], timeout=WAIT)
    finally:
        assert tasks.shutdown(WAIT) and not tasks.thread_running


def test_file_menu_opens_the_dialog(qtbot, tmp_path, fixture_model_path, folders):
    from clode_desktop.window.main_window import MainWindow
    from clode_desktop.base.settings import Settings
    w = MainWindow(fixture_model_path, device="cpu", settings=Settings(tmp_path / "s.ini"), threaded=False)
    qtbot.addWidget(w)
    file_menu = w.menuBar().actions()[0].menu()
    [action] = [a for a in file_menu.actions() if a.text() == "Batch Export…"]
    action.trigger()
    [d] = [c for c in w.findChildren(BatchDialog)]
    qtbot.waitUntil(d.isVisible, timeout=2000)
    assert d.model_path == str(fixture_model_path) and d.device == "cpu"
    d.close()
    w.close()


def test_the_batch_job_reports_a_model_that_cannot_load(qtbot, folders, tmp_path):
    inp, out = folders
    bad_model = tmp_path / "broken.pth"
    bad_model.write_bytes(b"not a model")
    d = BatchDialog(str(bad_model), "cpu")
    qtbot.addWidget(d)
    choose(d, inp, out)
    d.start()
    qtbot.waitUntil(lambda: not d.is_running(), timeout=WAIT)
    assert d.current_label.text().startswith("The batch could not start: ")
    assert "broken.pth" in d.current_label.text() and d.last_result is None
    assert not out.exists() or not outputs(out)
    assert not d.start_button.isHidden() and d.cancel_button.isHidden()


# -- issue 26, defect 5: the batch dialog's defaults, and the export form it shares ---------------------------

def settings_file(tmp_path):
    from clode_desktop.base.settings import Settings
    return Settings(tmp_path / "settings.ini")


def test_it_opens_at_each_photos_own_settings(qtbot, fixture_model_path, folders):
    d = BatchDialog(str(fixture_model_path), "cpu", folder=str(folders[0]))
    qtbot.addWidget(d)
    assert d.exposure_mode.currentData() == "sidecar" and d.options().T == "sidecar"
    assert not d.T.isEnabled()


def test_save_to_follows_photos_from_until_the_user_chooses_one(qtbot, fixture_model_path, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    d = BatchDialog(str(fixture_model_path), "cpu", folder=str(a))
    qtbot.addWidget(d)
    assert d.output_edit.text() == str(a / "clode")
    d.input_edit.setText(str(b))
    assert d.output_edit.text() == str(b / "clode")
    d.export_form.choose_preset("Web, 2048 px")               # a preset's folder, under the photos' folder
    assert d.output_edit.text() == str(b / "web") and d.options().export.long_edge == 2048
    d.input_edit.setText(str(a))
    assert d.output_edit.text() == str(a / "web")
    d.show()
    d.activateWindow()
    qtbot.waitUntil(d.isActiveWindow, timeout=5000)
    d.output_edit.setFocus()
    d.output_edit.selectAll()
    qtbot.keyClicks(d.output_edit, str(tmp_path / "mine"))     # typed: the user's own, it stays
    d.input_edit.setText(str(b))
    assert d.output_edit.text() == str(tmp_path / "mine")


def test_earlier_exports_of_the_app_are_not_counted(qtbot, fixture_model_path, folders, tmp_path):
    from clode.io import batch
    inp, out = folders
    for name in ("IMG_0001-clode.jpg", "IMG_0002_clode.jpg", "IMG_0003-clode-2.jpg", "IMG_0001_CLODE.png"):
        to8(photo(1)).save(inp / name)
    to8(photo(1)).save(inp / "clodewise.jpg")                 # a photo whose name merely contains it
    d = BatchDialog(str(fixture_model_path), "cpu")
    qtbot.addWidget(d)
    choose(d, inp, out)
    assert d.count_label.text() == "6 photos found (4 earlier exports of this app left out)"
    assert "IMG_0001-clode.jpg" not in {j.source.name for j in d.plan.jobs}
    plan = batch.plan(inp, out)                                # the CLI's batch leaves them out too
    assert plan.total == 6 and plan.left_out == 4


def test_it_remembers_the_exposure_mode_between_openings(qtbot, fixture_model_path, tmp_path):
    s = settings_file(tmp_path)
    d = BatchDialog(str(fixture_model_path), "cpu", folder=str(tmp_path), settings=s)
    qtbot.addWidget(d)
    assert d.exposure_mode.currentData() == "sidecar"
    d.exposure_mode.setCurrentIndex(d.exposure_mode.findData("fixed"))
    d.T.setValue(1.25)
    d.close()
    again = BatchDialog(str(fixture_model_path), "cpu", folder=str(tmp_path), settings=s)
    qtbot.addWidget(again)
    assert again.exposure_mode.currentData() == "fixed" and again.T.value() == 1.25
    again.exposure_mode.setCurrentIndex(again.exposure_mode.findData("auto"))
    selection = BatchDialog(str(fixture_model_path), "cpu", settings=s, selection=[tmp_path / "x.jpg"])
    qtbot.addWidget(selection)
    assert selection.exposure_mode.currentData() == "sidecar"  # a selection: each photo's own settings
    third = BatchDialog(str(fixture_model_path), "cpu", folder=str(tmp_path), settings=s)
    qtbot.addWidget(third)
    assert third.exposure_mode.currentData() == "auto"


def test_export_and_batch_dialogs_share_one_form_and_its_presets(qtbot, fixture_model_path, tmp_path, folders):
    from clode_desktop.dialogs.export_dialog import ExportDialog
    from clode_desktop.dialogs.export_form import ExportForm
    inp, out = folders
    s = settings_file(tmp_path)
    source = inp / "IMG_0001.jpg"
    e = ExportDialog(source, s.export_options(), settings=s, full_size=(3000, 4000))
    qtbot.addWidget(e)
    assert isinstance(e.form, ExportForm) and e.subsampling.isEnabled()     # chroma in both dialogs now
    assert e.options().quality == 92 and e.form.preset.currentText() == "Full size JPEG"
    e.form.choose_preset("Web, 2048 px")
    assert e.target() == inp / "web" / "IMG_0001-clode.jpg" and e.options().long_edge == 2048
    assert "Resized to 2048 × 1536" in e.note.text()
    e.quality.setValue(70)
    assert e.form.preset.currentText() == "Custom"
    e.long_edge.setValue(1200)
    assert e.form.save_as_preset("Small") is not None
    assert [p.name for p in s.export_presets()] == ["Small"]
    assert s.export_presets()[0].folder == "{folder}/web" and s.export_presets()[0].long_edge == 1200

    b = BatchDialog(str(fixture_model_path), "cpu", folder=str(inp), settings=s)
    qtbot.addWidget(b)
    assert isinstance(b.export_form, ExportForm) and b.export_form.subsampling.isEnabled()
    assert "Small" in [b.export_form.preset.itemText(i) for i in range(b.export_form.preset.count())]
    b.export_form.choose_preset("Small")
    o = b.options().export
    assert (o.quality, o.long_edge, o.format) == (70, 1200, "jpeg")
    assert b.output_edit.text() == str(inp / "web")
    b.export_form.delete_chosen_preset()
    assert s.export_presets() == [] and b.export_form.preset.currentText() == "Custom"
