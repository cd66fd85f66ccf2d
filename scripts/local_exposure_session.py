"""Local exposure in a real session, scripted against the real app (issue 30's acceptance), with screenshots.

Run under a real X server (the README's Linux notes list Qt's X11 libraries):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/local_exposure_session.py OUT_DIR

Three dim photos from ../shared/datasets/photos, each edited as a photographer would, only through
the keys, the mouse on the canvas and the layer list:

* the pool hall (pool_2): the flash lit the table, not the player; the dial at T 1 keeps the table
  as it was, and the brush (B), edge-aware, lifts the player's face by +1.5;
* the lit bridge (cincinnati-bridge): the dial up to T 3 lifts the night; a radial gradient
  (Shift+G), -2, holds the lit tower, the scene's "window", which T 3 would wash out;
* the sunset: at T 3 the foreground comes out of the dark; a linear gradient (G), -2, dragged from
  the top down to the horizon darkens the sky back to its colour.

For each, screenshots at fit and at 100 % side by side with the original, with the layer shown and
hidden, go to OUT_DIR/shots. Then ``clode enhance --mask`` renders the photo with the sidecar's
layers and without them: the script prints the mean brightness change inside the edited region and
in a region the edit should leave alone (one JSON summary). Exit 1 on any failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from session_driver import Driver

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "datasets" / "photos"

#: per photo: the source, the dial's T, the tool, the amount, the gesture (photo pixels), the edited
#: region and a region left alone (x0, y0, x1, y1 in photo pixels) for the numbers
EDITS = {
    "pool": dict(src="kphotoalbum-pool_2.jpg", T=1.0, tool="brush", amount=1.5, edges=True,
                 strokes=[[(240, 70), (256, 82), (250, 100)]],
                 radius=0.03, inside=(220, 50, 280, 115), outside=(350, 600, 550, 750)),
    "bridge": dict(src="palapeli-cincinnati-bridge.jpg", T=3.0, tool="radial", amount=-2.0, edges=False,
                   drag=[(495, 330), (495, 560)], inside=(450, 250, 540, 420), outside=(60, 780, 400, 900)),
    "sunset": dict(src="kphotoalbum-sunset.jpg", T=3.0, tool="linear", amount=-2.0, edges=False,
                   drag=[(400, 20), (400, 290)], inside=(100, 40, 700, 200), outside=(100, 380, 700, 500)),
}


def luminance(path: Path) -> np.ndarray:
    a = np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    return a @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def main(out: Path) -> int:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    from clode.io import sidecar

    if out.exists():
        shutil.rmtree(out)
    shots = out / "shots"
    shots.mkdir(parents=True)
    shoot = out / "shoot"
    shoot.mkdir()
    paths = {}
    for name, e in EDITS.items():
        paths[name] = shoot / f"{name}.jpg"
        shutil.copyfile(PHOTOS / e["src"], paths[name])
    driver = Driver(out)
    app, w, problems = driver.app, driver.window, driver.problems
    settle, wait, key = driver.settle, driver.wait, driver.key

    finals: list = []
    w.rendered.connect(lambda r: None if r.draft else finals.append((w.photo_path, round(r.T, 4), r.adjustments)))

    def rendered_now() -> bool:
        """The newest full-quality render is of the photo and the edit on screen."""
        return bool(finals) and finals[-1][0] == w.photo_path and finals[-1][2] == w.editing.adjustments

    def shot(name):
        # the view is final once the worker is idle: renders, the refined curves and the 100 % detail
        wait(lambda: rendered_now() and not w.tasks.is_busy(), what=f"the render for {name}")
        settle(0.5)
        w.grab().save(str(shots / f"{name}.png"))

    canvas = w.canvas

    def at(px):
        """A photo pixel as a point on the canvas widget."""
        H, W = canvas.photo_size()
        long = float(max(H, W))
        p = canvas.view_point((px[0] / long, px[1] / long))
        return QPoint(round(p.x()), round(p.y()))

    def drag(points):
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(points[0]))
        for a, b in zip(points, points[1:]):
            for f in np.linspace(0, 1, 12)[1:]:
                QTest.mouseMove(canvas, at((a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))))
                app.processEvents()
                time.sleep(0.01)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(points[-1]))
        app.processEvents()

    def set_dial(T: float):
        """Type T into the dial's number box, as a person does."""
        box = w.exposure.field
        box.setFocus()
        box.selectAll()
        QTest.keyClicks(box, f"{T:g}")
        key(Qt.Key.Key_Return, widget=box)
        settle(0.5)

    wait(lambda: w.model_state is not None, what="the model")
    summary: dict = {}
    for name, e in EDITS.items():
        photo = paths[name]
        finals.clear()
        w.open_file(photo)
        wait(lambda: w.photo_path == photo and rendered_now() and not w.tasks.is_busy(), what=f"{name} to open")
        opened_T = w.exposure.value()
        set_dial(e["T"])
        if abs(w.exposure.value() - e["T"]) > 1e-6:
            problems.append(f"{name}: the dial shows {w.exposure.value()} after typing {e['T']}")
        key(Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier, widget=canvas)       # Fit
        shot(f"{name}-1-global")
        # take up the tool with its key, draw, then set the layer's amount (and edges) in the list
        tool_key = {"brush": (Qt.Key.Key_B, Qt.KeyboardModifier.NoModifier),
                    "linear": (Qt.Key.Key_G, Qt.KeyboardModifier.NoModifier),
                    "radial": (Qt.Key.Key_G, Qt.KeyboardModifier.ShiftModifier)}[e["tool"]]
        canvas.setFocus()
        key(*tool_key, widget=canvas)
        if w.local.tool != e["tool"]:
            problems.append(f"{name}: the key took up {w.local.tool}, not the {e['tool']}")
        if e["tool"] == "brush":
            size = w.panel.layers.brush.size_box        # the brush's size, typed as a person does
            size.setFocus()
            size.selectAll()
            QTest.keyClicks(size, f"{e['radius'] * 100:g}")
            key(Qt.Key.Key_Return, widget=size)
            if abs(w.local.radius - e["radius"]) > 1e-9:
                problems.append(f"{name}: the brush's size is {w.local.radius}, not {e['radius']}")
            for stroke in e["strokes"]:
                drag(stroke)
        else:
            drag(e["drag"])
        settle(0.5)
        rows = w.panel.layers.rows
        if len(rows) != 1:
            problems.append(f"{name}: {len(rows)} layers after the gesture")
            continue
        row = rows[0]
        row.amount.setFocus()
        row.amount.selectAll()
        QTest.keyClicks(row.amount, f"{e['amount']:g}")
        key(Qt.Key.Key_Return, widget=row.amount)
        if e["edges"]:
            QTest.mouseClick(row.edges, Qt.MouseButton.LeftButton)
        key(Qt.Key.Key_Escape, widget=canvas)          # leave the tool
        settle(0.5)
        layers = w.editing.adjustments.local
        if len(layers) != 1 or abs(layers[0].amount - e["amount"]) > 1e-9 or layers[0].edges != e["edges"]:
            problems.append(f"{name}: the edit holds {layers}")
        shot(f"{name}-2-layer")
        key(Qt.Key.Key_O, widget=canvas)               # the mask overlay
        shot(f"{name}-3-mask")
        key(Qt.Key.Key_O, widget=canvas)
        # 100 %, side by side with the original, centred on the edited region
        x0, y0, x1, y1 = e["inside"]
        for _ in range(3):                             # Y cycles the compare modes
            if canvas.mode() == "side":
                break
            key(Qt.Key.Key_Y, widget=canvas)
        if canvas.mode() != "side":
            problems.append(f"{name}: Y never reached side by side ({canvas.mode()})")
        key(Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier, widget=canvas)       # 100 %
        settle(0.3)
        c = canvas.view_point(((x0 + x1) / 2 / max(canvas.photo_size()), (y0 + y1) / 2 / max(canvas.photo_size())))
        vp = canvas.viewports()[-1]
        canvas.pan_by(vp.center().x() - c.x(), vp.center().y() - c.y())
        shot(f"{name}-4-100pct-with-layer")
        row.visible.setChecked(False)                  # the same view without the layer
        shot(f"{name}-5-100pct-without-layer")
        row.visible.setChecked(True)
        while canvas.mode() != "result":
            key(Qt.Key.Key_Y, widget=canvas)
        key(Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier, widget=canvas)
        summary[name] = {"opened_at_T": round(opened_T, 3), "T": e["T"], "layer": layers[0].shape.__class__.__name__,
                         "amount": e["amount"]}
    finals.clear()
    w.close()
    settle(2.0)

    # The numbers: the CLI with the sidecar's layers and without them, at the same T.
    for name, e in EDITS.items():
        photo = paths[name]
        sc = sidecar.load(photo)
        if sc is None or not sc.settings.get("local"):
            problems.append(f"{name}: the sidecar holds no layers")
            continue
        side = sidecar.sidecar_path(photo)
        outs = {}
        for kind, extra in (("with", ["--mask", str(side)]), ("without", [])):
            dest = out / f"cli-{kind}"
            cmd = [sys.executable, "-m", "clode", "enhance", str(photo), "-o", str(dest), "--T", f"{e['T']:g}",
                   "--format", "png", "--on-conflict", "overwrite", *extra]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                problems.append(f"{name}: clode enhance {kind} layers failed: {r.stderr.strip()[-300:]}")
                break
            outs[kind] = luminance(dest / f"{name}.png")
        if len(outs) < 2:
            continue
        original = luminance(photo)
        x0, y0, x1, y1 = e["inside"]
        a0, b0, a1, b1 = e["outside"]
        change_in = float(outs["with"][y0:y1, x0:x1].mean() - outs["without"][y0:y1, x0:x1].mean())
        change_out = float(outs["with"][b0:b1, a0:a1].mean() - outs["without"][b0:b1, a0:a1].mean())
        summary[name].update({
            "inside_mean": {"original": round(float(original[y0:y1, x0:x1].mean()), 3),
                            "without_layer": round(float(outs["without"][y0:y1, x0:x1].mean()), 3),
                            "with_layer": round(float(outs["with"][y0:y1, x0:x1].mean()), 3)},
            "outside_change": round(change_out, 4)})
        if np.sign(change_in) != np.sign(e["amount"]) or abs(change_in) < 0.03:
            problems.append(f"{name}: the edited region moved by {change_in:+.3f} for an amount {e['amount']:+g}")
        if abs(change_out) > 0.1 * abs(change_in):
            problems.append(f"{name}: the region left alone moved by {change_out:+.3f} ({change_in:+.3f} inside)")
        for kind in ("with", "without"):
            Image.open(out / f"cli-{kind}" / f"{name}.png").save(shots / f"{name}-cli-{kind}-layer.png")
    summary["problems"] = problems
    print(json.dumps(summary, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/local-exposure-session")))
