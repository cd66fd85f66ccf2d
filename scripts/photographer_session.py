"""A photographer's session, scripted against the real app (issue 26's acceptance), with screenshots.

Run under a real X server (the README's Linux notes list Qt's X11 libraries):

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/photographer_session.py OUT_DIR

It copies 20 real photos from ../shared/datasets/photos (the first four enlarged to 3000 px, so the
2048 px preset has something to shrink) into OUT_DIR/shoot, then, only through keys, menu actions
and the dialogs a person uses: rates and flags with the keyboard, filters to picks, edits three,
copies from one and pastes to five, undoes after moving between photos, and exports the picks with
the "Web, 2048 px" preset. It checks the files written, their size, and the stars an XMP reader
(exiv2) sees, and prints one JSON summary; screenshots go to OUT_DIR/shots. Exit 1 on any failure.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from PIL import Image

from session_driver import Driver

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "datasets" / "photos"


def make_shoot(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    photos = []
    for i, src in enumerate(sorted(PHOTOS.glob("*.jpg"))[:20]):
        dst = folder / f"IMG_{i:04d}.jpg"
        im = Image.open(src).convert("RGB")
        if i < 4:           # a camera-sized frame: the preset's 2048 px must shrink it
            im = im.resize((3000, round(3000 * im.height / im.width)), Image.LANCZOS)
        im.save(dst, quality=92)
        photos.append(dst)
    return photos


def main(out: Path) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    from clode.io import sidecar
    from clode_desktop.dialogs.batch_dialog import BatchDialog

    if out.exists():
        shutil.rmtree(out)
    shots = out / "shots"
    shots.mkdir(parents=True)
    photos = make_shoot(out / "shoot")
    driver = Driver(out)
    w, problems = driver.window, driver.problems
    settle, wait, key = driver.settle, driver.wait, driver.key
    notes: list[str] = []          # what the status bar said at some steps

    finals: list = []          # (photo, T) of each full-quality render, as the canvas shows it
    w.rendered.connect(lambda r: None if r.draft else finals.append((w.photo_path, round(r.T, 4))))

    def ready(photo, what):
        """Wait until ``photo`` is open and rendered: the dial and the edit are live from then on."""
        wait(lambda: w.photo_path == photo and any(p == photo for p, _T in finals), timeout=900,
             what=f"{what} ({photo.name}) to render")

    def shot(name):
        """A screenshot once the photo on screen has its full-quality render at the dial's T."""
        wait(lambda: (w.photo_path, round(w.exposure.value(), 4)) in finals[-4:], timeout=900,
             what=f"the render for {name}")
        settle(0.5)
        w.grab().save(str(shots / f"{name}.png"))

    def action(name: str):
        for a in w.findChildren(type(w.menuBar().actions()[0])):
            if a.objectName() == name or a.text().replace("&", "") == name:
                return a
        raise LookupError(name)

    def accept_next_dialog(setup=None):
        """Answer the next modal dialog as a person would: set it up, then press its OK."""
        def answer():
            d = QApplication.activeModalWidget()
            if isinstance(d, QDialog):
                if setup:
                    setup(d)
                d.accept()
            else:
                QTimer.singleShot(100, answer)
        QTimer.singleShot(200, answer)

    wait(lambda: w.model_state is not None, what="the model")
    w.open_folder(out / "shoot")
    wait(lambda: w.photo_path == photos[0] and w.filmstrip.count() == 20, what="the folder")
    shot("01-folder")

    # Rate and flag with the keyboard: → through the strip, stars and P/X as Lightroom's keys.
    marks = {0: ("5", "P"), 1: ("3", None), 2: ("4", "P"), 3: ("1", "X"), 5: ("2", None), 6: ("5", "P"),
             9: ("4", "P"), 12: (None, "X"), 15: ("3", None)}
    for i in range(20):
        wait(lambda: w.photo_path == photos[i], what=f"photo {i}")
        stars, flag = marks.get(i, (None, None))
        if stars:
            key(getattr(Qt.Key, f"Key_{stars}"))
        if flag:
            key(Qt.Key.Key_P if flag == "P" else Qt.Key.Key_X)
        if i < 19:
            key(Qt.Key.Key_Right)
    shot("02-rated")
    picks = [photos[i] for i, (_s, f) in marks.items() if f == "P"]

    # Filter to picks (Folder › Show › Picked).
    action("show_picked").trigger()
    settle()
    shown = w.filmstrip.visible_photos()
    if sorted(shown) != sorted(picks):
        problems.append(f"the Picked filter shows {[p.name for p in shown]}")
    key(Qt.Key.Key_Home)
    wait(lambda: w.photo_path == picks[0], what="the first pick")
    shot("03-picked")

    # Edit three picks with the dial's keys (Page Up: +0.5 T, Up: +0.05).
    edited = {}
    for n, p in enumerate(sorted(picks)[:3]):
        finals.clear()
        w.open_file(p)
        ready(p, "the pick")
        w.exposure.dial.setFocus()
        key(Qt.Key.Key_PageDown, times=n + 1)
        key(Qt.Key.Key_Up, times=3)
        settle(1.0)
        edited[p] = w.exposure.value()
    shot("04-edited")

    # Copy from the first edited pick, paste to five others chosen with Ctrl-click in the strip.
    action("show_all_photos").trigger()
    source = sorted(picks)[0]
    finals.clear()
    w.open_file(source)
    ready(source, "the source photo")
    key(Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    targets = [photos[i] for i in (10, 11, 13, 14, 16)]
    w.filmstrip.clearSelection()
    for t in targets:
        for i in range(w.filmstrip.count()):
            item = w.filmstrip.item(i)
            if Path(item.data(Qt.ItemDataRole.UserRole)) == t:
                item.setSelected(True)
    accept_next_dialog()
    key(Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    settle(1.5)
    notes.append(w.statusBar().currentMessage())
    pasted = {t.name: (sidecar.load(t).settings.get("T") if sidecar.load(t) else None) for t in targets}
    if any(v is None or abs(v - edited[source]) > 1e-6 for v in pasted.values()):
        problems.append(f"paste to five: {pasted}, source T {edited[source]}")
    shot("05-pasted")

    # Undo after moving between photos: change T, →, ←, Ctrl+Z.
    before = w.exposure.value()
    w.exposure.dial.setFocus()
    key(Qt.Key.Key_PageUp)
    settle(1.0)
    changed = w.exposure.value()
    key(Qt.Key.Key_Right)
    wait(lambda: w.photo_path != source, what="the next photo")
    key(Qt.Key.Key_Left)
    finals.clear()
    ready(source, "coming back")
    key(Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(1.0)
    if abs(w.exposure.value() - before) > 1e-6 or abs(changed - before) < 1e-6:
        problems.append(f"undo after moving: T {w.exposure.value()} (before {before}, changed {changed})")
    shot("06-undone")

    # Export the picks with the "Web, 2048 px" preset (Folder › Show › Picked, Export Filtered Photos).
    action("show_picked").trigger()
    settle()
    action("export_filtered").trigger()
    wait(lambda: any(d.isVisible() for d in w.findChildren(BatchDialog)), what="the batch dialog")
    dialog = next(d for d in w.findChildren(BatchDialog) if d.isVisible())
    dialog.export_form.choose_preset("Web, 2048 px")
    settle()
    dialog.grab().save(str(shots / "07-batch-dialog.png"))
    dialog.start()
    wait(lambda: not dialog.is_running(), timeout=1800, what="the export")
    settle()
    dialog.grab().save(str(shots / "08-batch-done.png"))
    web = out / "shoot" / "web"
    written = sorted(web.glob("*")) if web.exists() else []
    sizes = {p.name: Image.open(p).size for p in written if p.suffix.lower() in (".jpg", ".jpeg")}
    if len(sizes) != len(picks):
        problems.append(f"{len(sizes)} files exported for {len(picks)} picks: {sorted(sizes)}")
    if any(max(s) > 2048 for s in sizes.values()):
        problems.append(f"a file over 2048 px: {sizes}")
    if not any(max(s) == 2048 for s in sizes.values()):
        problems.append(f"no enlarged frame was shrunk to 2048 px: {sizes}")

    # Stars as an XMP reader sees them: the .xmp sidecars and the exported files' own XMP.
    from exiv2 import ImageFactory   # the reader darktable uses: no code of ours
    exported_stars = {}
    for p in written:
        if p.suffix.lower() not in (".jpg", ".jpeg"):
            continue
        im = ImageFactory.open(str(p))
        im.readMetadata()
        data = im.xmpData()
        exported_stars[p.name] = str(data["Xmp.xmp.Rating"].toString()) if "Xmp.xmp.Rating" in data else None
    side_stars = {}
    for p in photos:
        for x in (Path(str(p) + ".xmp"), p.with_suffix(".xmp")):
            if x.exists():
                im = ImageFactory.open(str(x))
                im.readMetadata()
                d = im.xmpData()
                side_stars[p.name] = str(d["Xmp.xmp.Rating"].toString()) if "Xmp.xmp.Rating" in d else None
    for i, (stars, flag) in marks.items():
        want = "-1" if flag == "X" else (stars or "0")
        got = side_stars.get(photos[i].name)
        if got != want:
            problems.append(f"{photos[i].name}: an XMP reader sees rating {got}, expected {want}")
    w.close()
    settle(2.0)
    if w.tasks.is_busy():
        problems.append("the worker was still busy after the window closed")
    summary = {"photos": len(photos), "picks": [p.name for p in picks], "edited_T": {p.name: T for p, T in edited.items()},
               "pasted_T": pasted, "exported": sizes, "xmp_sidecar_ratings": side_stars,
               "exported_ratings": exported_stars, "status_bar": notes,
               "problems": problems}
    print(json.dumps(summary, indent=1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/photographer-session")))
