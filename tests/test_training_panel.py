"""The training panel, end to end: real photos, a real ``clode train`` process, real widgets (pytest-qt).

The runs are tiny (32 px crops of 64 px photos, one Euler step per solve, one thread) so that
the trainer's start-up (importing torch) is most of their time.
"""

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from clode.base.paths import user_models_dir  # noqa: E402
from clode.training.train import remove_partial_files  # noqa: E402
from clode.training.data import scan_folders  # noqa: E402
from clode.engine.weights import DEFAULT_MODEL, load_model, save_model  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel  # noqa: E402

from clode_desktop.dialogs import preferences  # noqa: E402
from clode_desktop.widgets import theme  # noqa: E402
from clode_desktop.window.main_window import MainWindow  # noqa: E402
from clode_desktop.base.settings import Settings  # noqa: E402
from clode_desktop.training.training_panel import model_card  # noqa: E402
from conftest import DATASETS  # noqa: E402

WAIT = 60_000
TRAIN_WAIT = 90_000     # a run: the process starts torch (seconds on a busy machine), then a few steps
TINY = ["--crop", "32", "--batch", "2", "--solver", "euler:1.0", "--max-side", "96", "--device", "cpu"]


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))


@pytest.fixture
def photo_dir(tmp_path):
    """Four 64 x 64 JPEGs cut from the shared photos."""
    folder = tmp_path / "my photos"
    folder.mkdir()
    for i, src in enumerate(sorted((DATASETS / "photos").glob("*.jpg"))[:4]):
        with Image.open(src) as im:
            im.draft("RGB", (256, 256))
            im = im.convert("RGB")
            side = min(im.size)
            im.crop((0, 0, side, side)).resize((64, 64), Image.Resampling.BOX).save(folder / f"p{i}.jpg", quality=90)
    return folder


@pytest.fixture
def start_model(fixture_model):
    """The fixture's weights as one of the user's models, to start from: it solves in a few
    evaluations, where the shipped default's curves take the fast engine far longer on a busy CPU."""
    path = user_models_dir() / "start.safetensors"
    save_model(fixture_model, path, name="start")
    return path


@pytest.fixture
def window(qtbot, tmp_path, photo_dir, start_model):
    """The editor with the starting model and one of the photos open."""
    theme.apply(QApplication.instance())      # the screenshots show the app's look
    w = MainWindow(start_model, device="cpu", settings=Settings(tmp_path / "settings.ini"), proxy_side=16, quick_proxy=None)
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.show()
    qtbot.waitUntil(lambda: w.model_state is not None, timeout=WAIT)
    with qtbot.waitSignal(w.rendered, timeout=WAIT):
        w.open_file(photo_dir / "p0.jpg")
    yield w
    w.close()
    panel = w.training_panel
    assert panel is None or (panel.process is None and not panel.tasks.thread_running), "left running"


def make_panel(qtbot, window, folder, name, steps, *extra, init="start"):
    panel = window.training_panel_dialog()
    panel.extra_args = TINY + list(extra)
    panel.extra_env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with qtbot.waitSignal(panel.scanned, timeout=WAIT):
        panel.add_folder(folder)
    panel.settings.name_edit.setText(name)
    panel.settings.steps_box.setValue(steps)
    init = DEFAULT_MODEL if init == "default" else user_models_dir() / f"{init}.safetensors"
    panel.settings.init_box.setCurrentIndex(panel.settings.init_box.findData(str(init)))
    assert panel.settings.init_box.currentData() == str(init)
    return panel


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]


def test_scan_counts_usable_photos_and_says_why_others_are_skipped(tmp_path, photo_dir):
    (photo_dir / "notes.jpg").write_text("not a photo")
    (photo_dir / "empty.png").write_bytes(b"")
    Image.new("RGB", (40, 30)).save(photo_dir / "tiny.png")
    usable, skipped = scan_folders([photo_dir, tmp_path / "missing"])
    assert [p.name for p in usable] == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]
    why = {p.name: reason for p, reason in skipped}
    assert why == {"empty.png": "empty file (0 bytes)", "notes.jpg": "not a valid JPEG file (unrecognised or damaged contents)",
                   "tiny.png": "too small (40x30)", "missing": "folder not found"}


def test_settings_become_clode_train_arguments(qtbot, tmp_path):
    from clode.commands.cli import build_parser
    from clode_desktop.training.training_panel import TrainingPanel
    mine = user_models_dir() / "mine.safetensors"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(DEFAULT_MODEL.read_bytes())
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.settings.unit_box.setCurrentIndex(panel.settings.unit_box.findData("minutes"))
    panel.settings.steps_box.setValue(20)
    panel.settings.bright_slider.setValue(50)
    panel.settings.crop_box.setCurrentIndex(panel.settings.crop_box.findData(192))
    panel.settings.lr_box.setCurrentText("3e-5")
    panel.settings.batch_box.setValue(4)
    panel.settings.init_box.setCurrentIndex(panel.settings.init_box.findData(str(mine)))
    args, steps, minutes = panel.settings_args()
    parsed = build_parser().parse_args(["train", "--data", str(tmp_path), *args])
    assert (parsed.minutes, parsed.E, parsed.crop, parsed.lr, parsed.batch) == (20.0, 0.5, 192, 3e-5, 4)
    assert parsed.init == str(mine) and parsed.steps == steps > 10_000 and minutes == 20.0
    panel.settings.lr_box.setCurrentText("fast")
    with pytest.raises(Exception, match="learning rate 'fast'"):
        panel.settings_args()
    panel.tasks.shutdown()


def test_tiny_training_makes_a_model_that_is_listed_loads_and_renders(qtbot, window, photo_dir, artifacts):
    panel = make_panel(qtbot, window, photo_dir, "my portraits", 4)
    assert "4 photos" in panel.photos.photos_label.text()
    assert panel.start_button.isEnabled()
    panel.show_advanced(True)
    panel.settings.lr_box.setCurrentText("3e-3")           # big steps, so four of them visibly change the model
    with qtbot.waitSignal(panel.finished, timeout=TRAIN_WAIT) as done:
        assert panel.start()
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    path = Path(done.args[0])
    assert path == user_models_dir() / "my portraits.safetensors" and path.exists()
    assert not path.with_suffix(".checkpoints").exists() and not leftovers(user_models_dir())
    assert panel.plot.points() == 4 and panel.progress_bar.value() == 1000
    assert "Saved the model 'my portraits'" in panel.message()

    # The card says how it was made; the editor's model picker lists it; it loads.
    card = model_card(path)
    assert card["steps"] == 4 and card["images"] == 4 and card["E"] == pytest.approx(0.6)
    assert card["init"].endswith("start.safetensors") and card["lr"] == pytest.approx(3e-3)
    picker = preferences.PreferencesDialog("cpu", None, window)      # Edit > Preferences' model picker
    assert picker.user_box.findData(str(path)) >= 0
    picker.deleteLater()
    assert load_model(path).info.name == "my portraits"
    assert panel.selected_path() == path and panel.shelf.model_list.currentItem().text() == "my portraits"

    # The before/after preview shows the final model.
    qtbot.waitUntil(lambda: "final" in panel.previews.thumb_after.caption.text(), timeout=WAIT)
    assert panel.previews.thumb_after.array() is not None and panel.previews.thumb_before.array() is not None
    # One photo was kept out of training; the starting and the new model's figures on it are shown.
    figures = panel.findChild(QLabel, "validationFigures")
    assert figures.isVisible() and figures.text().startswith("On 1 photo kept out of training (starting model")
    assert card["held_out"]["photos"] == 1 and card["held_out_photos"] == 1

    # Compared against the default on the current photo: same size, not the same picture.
    with qtbot.waitSignal(panel.compared, timeout=WAIT) as compared:
        panel.compare_selected()
    default, theirs = compared.args[0]
    assert default.shape == theirs.shape and default.shape[:2] == window.opened.view.shape[:2]
    assert np.abs(default.astype(int) - theirs.astype(int)).mean() > 0.1
    panel._compare.grab().save(str(artifacts / "training_compare.png"))
    panel._compare.close()

    # Made the editor's model: it renders the open photo.
    with qtbot.waitSignal(window.rendered, timeout=WAIT):
        panel.use_selected()
    assert window.model_state.path == path and window.model_state.name == "my portraits"
    assert window.settings.model_path() == str(path)
    assert panel.shelf.model_list.currentItem().text() == "my portraits   (in use)"

    # Renamed (file and stored name; the editor follows), then deleted (the editor goes back to the default).
    with qtbot.waitSignal(window.modelChanged, timeout=WAIT):
        renamed = panel.rename(path, "night walks")
    assert renamed == user_models_dir() / "night walks.safetensors" and not path.exists()
    assert load_model(renamed).info.name == "night walks" and window.model_state.path == renamed
    assert panel.rename(renamed, "bad/name") is None and "not a usable model name" in panel.message()
    with qtbot.waitSignal(window.modelChanged, timeout=WAIT):
        panel.delete(renamed)
    assert not renamed.exists() and panel.model_names() == ["start"]
    assert window.model_choice() is None and window.model_state.path.name == "default.safetensors"


def test_stop_keeps_the_checkpoint_and_resume_finishes(qtbot, window, photo_dir):
    panel = make_panel(qtbot, window, photo_dir, "stopped", 12, "--checkpoint-every", "1")
    with qtbot.waitSignal(panel.trainerEvent, timeout=TRAIN_WAIT, check_params_cb=lambda e: e["event"] == "checkpoint"):
        assert panel.start()
    # Paused: no steps while suspended; continued: steps again.
    panel.set_paused(True)
    assert panel.paused and "Paused at step" in panel.status_label.text()
    qtbot.wait(300)                                   # lines already in the pipe arrive
    steps = panel.plot.points()
    qtbot.wait(1500)
    assert panel.plot.points() == steps
    with qtbot.waitSignal(panel.trainerEvent, timeout=WAIT, check_params_cb=lambda e: e["event"] == "step"):
        panel.set_paused(False)

    with qtbot.waitSignal(panel.stopped, timeout=WAIT) as stopped:
        panel.stop()
    kept = stopped.args[0]
    assert panel.run.cancelled                        # it ended cleanly on SIGTERM, not killed
    run_dir = user_models_dir() / "stopped.checkpoints"
    assert 1 <= kept < 12 and (run_dir / f"step-{kept:06d}" / "model.safetensors").exists()
    assert not (user_models_dir() / "stopped.safetensors").exists()
    assert not leftovers(run_dir) and panel.process is None
    assert f"checkpoint at step {kept} is kept" in panel.message()
    assert any("stopped at step" in n and "resumable" in n for n in panel.model_names())
    assert panel.resume_button.isEnabled() and panel.start_button.isEnabled()

    # The stopped run's checkpoint is usable in the editor (it was not: Use stayed disabled): it
    # becomes a model of its own, the editor renders with it, and the run stays resumable.
    panel.select_model(run_dir)
    assert panel.selected_path() == run_dir and panel.shelf.use_button.isEnabled()
    with qtbot.waitSignal(window.rendered, timeout=WAIT):
        qtbot.mouseClick(panel.shelf.use_button, Qt.MouseButton.LeftButton)
    kept_model = user_models_dir() / f"stopped-step{kept}.safetensors"
    assert window.model_state.path == kept_model and window.settings.model_path() == str(kept_model)
    assert load_model(kept_model).info.card["checkpoint_step"] == kept
    assert f"stopped-step{kept}   (in use)" in panel.model_names()
    assert (run_dir / "latest.json").exists() and panel.resume_button.isEnabled()

    with qtbot.waitSignal(panel.finished, timeout=TRAIN_WAIT) as done:
        assert panel.resume("stopped")
    assert panel.plot.points() == 12 - kept           # only the remaining steps ran
    card = model_card(Path(done.args[0]))
    assert card["steps"] == 12 and card["crop"] == 32
    assert not run_dir.exists()
    assert not any("resumable" in n for n in panel.model_names())


def test_folder_without_usable_photos_gives_a_message_and_no_run(qtbot, window, tmp_path):
    empty = tmp_path / "nothing here"
    empty.mkdir()
    (empty / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (empty / "readme.txt").write_text("hello")
    action = next(a for m in window.menuBar().actions() for a in m.menu().actions()
                  if a.text().startswith("Train a model"))
    action.trigger()                                  # Edit > Train a model on my photos…
    assert window.training_panel.isVisible()
    panel = make_panel(qtbot, window, empty, "none", 4)
    assert "No usable photos" in panel.photos.photos_label.text()
    assert panel.photos.skipped_list.count() == 1 and "broken.jpg" in panel.photos.skipped_list.item(0).text()
    assert not panel.start_button.isEnabled()
    assert panel.start() is False
    assert panel.process is None and "No usable photos" in panel.message()
    assert not (user_models_dir() / "none.checkpoints").exists()


def test_killed_trainer_gives_a_clear_message_and_the_editor_keeps_working(qtbot, window, photo_dir, artifacts):
    # From the shipped model, so the screenshot's previews look like real use.
    panel = make_panel(qtbot, window, photo_dir, "killed", 400, "--checkpoint-every", "2", init="default")
    panel.resize(1040, 760)
    with qtbot.waitSignal(panel.previewUpdated, timeout=TRAIN_WAIT):
        assert panel.start()
    # The editor stays usable while it trains.
    with qtbot.waitSignal(window.rendered, timeout=WAIT, check_params_cb=lambda r: not r.draft and abs(r.T - 2.0) < 1e-6):
        window.exposure.set_value(2.0)
    assert panel.is_running()
    qtbot.waitUntil(lambda: panel.plot.points() >= 6, timeout=WAIT)
    panel.grab().save(str(artifacts / "training_panel_running.png"))

    pid = panel.run.pid
    # As if the trainer had died in the middle of writing a checkpoint.
    partial = user_models_dir() / "killed.checkpoints" / f".tmp-step-000999-{pid}"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    with qtbot.waitSignal(panel.failed, timeout=WAIT) as failed:
        os.kill(pid, signal.SIGKILL)
    message = failed.args[0]
    assert "was killed or crashed" in message and "is kept: Resume continues" in message
    assert message in panel.message() and panel.process is None
    assert window.status.message_label.text() == message        # the editor's status bar says it too
    assert not partial.exists() and panel.resume_button.isEnabled()
    panel.grab().save(str(artifacts / "training_panel_killed.png"))

    # The editor still works: a new exposure renders.
    assert window.isVisible()
    with qtbot.waitSignal(window.rendered, timeout=WAIT, check_params_cb=lambda r: not r.draft and abs(r.T - 4.0) < 1e-6):
        window.exposure.set_value(4.0)
    assert remove_partial_files("killed", pid) == []


def test_the_quick_preset_suits_this_computer_and_shows_its_cost(qtbot):
    from clode.training import recipes as recipes
    from clode_desktop.training.training_panel import TrainingPanel
    panel = TrainingPanel(free_memory=lambda device: 16 * 2**30)
    qtbot.addWidget(panel)
    quick = recipes.recipe("quick", __import__("torch").device("cpu"), free=16 * 2**30)
    assert panel.settings.preset_box.currentText() == "Quick on this computer"
    form = panel.settings
    assert (form.crop_box.currentData(), form.batch_box.value(), form.solver_box.currentData(),
            form.adjoint_box.isChecked(), form.steps_box.value()) == (quick.crop, quick.batch, quick.solver,
                                                                      quick.adjoint, quick.steps)
    text = panel.settings.estimate_label.text()
    assert text.startswith("Needs about") and "GB of memory" in text and "s a step" in text
    args, _, _ = panel.settings_args()
    assert args[args.index("--solver") + 1] == quick.solver and "--holdout" in args
    # every setting says what it does
    for name in ("preset_box", "name_edit", "init_box", "steps_box", "unit_box", "bright_slider", "crop_box",
                 "device_box", "lr_box", "batch_box", "solver_box", "adjoint_box"):
        assert getattr(panel.settings, name).toolTip(), name
    # changing a cost setting makes it Custom, and the estimate follows
    panel.settings.crop_box.setCurrentIndex(panel.settings.crop_box.findData(128))
    assert panel.settings.preset_box.currentData() == "custom" and panel.settings.estimate_label.text() != text
    panel.settings.preset_box.setCurrentIndex(panel.settings.preset_box.findData("thorough"))
    assert panel.settings.crop_box.currentData() > quick.crop
    panel.tasks.shutdown()


def test_a_setting_too_big_for_the_free_memory_is_refused_and_never_started(qtbot, photo_dir):
    from clode_desktop.training.training_panel import TrainingPanel
    panel = TrainingPanel(free_memory=lambda device: 3 * 2**30)       # a small laptop with 3 GB free
    qtbot.addWidget(panel)
    panel.show()
    with qtbot.waitSignal(panel.scanned, timeout=WAIT):
        panel.add_folder(photo_dir)
    assert "Needs about" in panel.settings.estimate_label.text()                 # the preset fits
    panel.settings.crop_box.setCurrentIndex(panel.settings.crop_box.findData(256))
    panel.settings.batch_box.setValue(16)
    assert panel.settings.estimate_label.text().startswith("<b>Too big for the memory free now:</b>")
    assert not panel.start()
    assert "would need about" in panel.message() and "\n" not in panel.message()
    assert panel.process is None and not list(user_models_dir().glob("*.checkpoints"))
    panel.tasks.shutdown()
