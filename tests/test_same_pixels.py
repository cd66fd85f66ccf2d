"""One photo, one edit, three ways out -- the command line, a batch, the editor's export: the same
pixels. The settings that make a result (T, denoise, colour noise, neutral colours) go through
``Adjustments.finish`` and one render path everywhere, and this holds them to it."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from clode.base.finish import Finish  # noqa: E402
from clode.commands.cli import main as cli  # noqa: E402
from clode.io.export import ExportOptions  # noqa: E402
from clode.io.imageio import load_image  # noqa: E402
from clode_desktop.window.main_window import MainWindow  # noqa: E402
from clode_desktop.base.settings import Settings  # noqa: E402
from conftest import DATASETS  # noqa: E402

WAIT = 120_000


@pytest.fixture
def photo(tmp_path):
    src = Image.open(DATASETS / "lowlight-dev" / "low" / "02.png").convert("RGB").resize((96, 64), Image.BOX)
    path = tmp_path / "in" / "night.png"
    path.parent.mkdir()
    src.save(path)
    return path


def editor_with(qtbot, tmp_path, photo, model_path) -> MainWindow:
    """The editor, its model loaded, ``photo`` open and rendered (at its sidecar's settings, else the default T)."""
    settings = Settings(tmp_path / "settings.ini")
    settings.set_start_at_auto(False)
    w = MainWindow(model_path, device="cpu", settings=settings, proxy_side=128)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.model_state is not None, timeout=WAIT)
    with qtbot.waitSignal(w.rendered, timeout=WAIT, check_params_cb=lambda r: not r.draft):
        w.open_file(photo)
    return w


def written(tmp_path) -> list:
    """The CLI's, the batch's and the editor's file, as pixels."""
    return [load_image(tmp_path / way / "night.png").pixels for way in ("cli", "batch", "app")]


@pytest.mark.parametrize("neutral", [False, True])
def test_cli_batch_and_editor_write_the_same_pixels(qtbot, tmp_path, photo, fixture_model_path, monkeypatch,
                                                    neutral):
    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    T, denoise, colour, protect = "2.5", "0.8", "0.7", "0.6"
    extra = ["--neutral"] if neutral else []
    common = ["--model", str(fixture_model_path), "--device", "cpu", "--T", T, "--denoise", denoise,
              "--colour-noise", colour, "--protect", protect, *extra]
    assert cli(["enhance", str(photo), "-o", str(tmp_path / "cli"), *common]) == 0
    assert cli(["batch", str(photo.parent), "-o", str(tmp_path / "batch"), "--format", "png",
                "--name", "{stem}", *common]) == 0

    w = editor_with(qtbot, tmp_path, photo, fixture_model_path)
    w.exposure.set_value(float(T), emit=True)
    w.panel.set_denoise(float(denoise), emit=True)
    w.panel.set_colour_noise(float(colour), emit=True)
    w.panel.set_neutral(neutral, emit=True)
    w.panel.set_protect(float(protect), emit=True)
    assert w.adjustments.finish == Finish(denoise=0.8, colour_noise=0.7, neutral=neutral, protect=0.6,
                                          local=(), near_black=True)
    with qtbot.waitSignal(w.exported, timeout=WAIT):
        w.export(tmp_path / "app" / "night.png", ExportOptions(format="png"))
    w.close()

    outs = written(tmp_path)
    assert outs[0].mean() > load_image(photo).pixels.mean() + 0.05
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_layers_from_the_sidecar_give_the_same_pixels_in_the_editor_cli_and_batch(qtbot, tmp_path, photo,
                                                                                  fixture_model_path, monkeypatch):
    from clode.base.adjustments import Adjustments
    from clode.base.local_exposure import Brush, Layer, Linear, Radial, Stroke
    from clode.io.sidecar import save_settings

    monkeypatch.setenv("CLODE_DATA_DIR", str(tmp_path / "userdata"))
    local = (Layer(Brush((Stroke(((0.4, 0.3), (0.6, 0.35)), radius=0.12),)), amount=1.5, edges=True),
             Layer(Radial((0.7, 0.3), (0.2, 0.15)), amount=-1.0), Layer(Linear((0, 0), (0, 0.3)), amount=-0.6))
    save_settings(photo, Adjustments(T=2.0, denoise=0.8, colour_noise=0.5, local=local).to_dict())
    common = ["--model", str(fixture_model_path), "--device", "cpu", "--denoise", "0.8", "--colour-noise", "0.5"]
    assert cli(["enhance", str(photo), "-o", str(tmp_path / "cli"), "--T", "2",
                "--mask", str(photo.parent / "night.png.clode.json"), *common]) == 0
    assert cli(["batch", str(photo.parent), "-o", str(tmp_path / "batch"), "--format", "png",
                "--name", "{stem}", "--T", "sidecar", *common]) == 0

    w = editor_with(qtbot, tmp_path, photo, fixture_model_path)
    assert w.adjustments.local == local and w.adjustments.T == 2.0
    with qtbot.waitSignal(w.exported, timeout=WAIT):
        w.export(tmp_path / "app" / "night.png", ExportOptions(format="png"))
    w.close()

    outs = written(tmp_path)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])
