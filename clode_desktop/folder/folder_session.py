"""The open folder behind the filmstrip: thumbnails and the next photo made in the background.

Thumbnails and the look-ahead decode run on a task lane of their own (a second ``TaskManager``,
so its own worker thread): the editor's worker keeps the model's work (renders while the dial
moves) and never waits behind a thumbnail. Opening another folder cancels what is left of the
previous one. Once the open photo shows its result, the next photo of the strip is decoded ahead,
so moving on skips the decode.

The photos' culling marks (stars, flags, labels) are read when the folder opens, from their
sidecars and .xmp files (small files); a photo with neither gets the marks of its own embedded
XMP with its thumbnail, in the background.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

from clode.io import culling, xmp
from clode.io import marks as kept_marks
from clode.io.imageio import Photo, load_image

from ..rules import folder
from ..widgets.filmstrip import Filmstrip
from ..base.worker import TaskManager


class FolderSession(QObject):
    #: every thumbnail of the folder is shown
    thumbnailsDone = Signal()

    def __init__(self, strip: Filmstrip, parent: Optional[QObject] = None, threaded: bool = True) -> None:
        super().__init__(parent)
        self.strip = strip
        self.lane = TaskManager(self, threaded=threaded)
        self.folder: Optional[Path] = None
        self._waiting = 0
        self._ahead: Optional[Photo] = None
        self._ahead_path: Optional[Path] = None

    @property
    def active(self) -> bool:
        return self.folder is not None and self.strip.count() > 0

    def open(self, path: Path) -> list[Path]:
        """Show the folder's photos in the strip and start their thumbnails (raises ClodeError)."""
        photos = folder.photos_in(path)
        self.lane.cancel_group("thumbs")
        self.lane.cancel_group("ahead")
        self.folder = Path(path).expanduser()
        self._ahead = self._ahead_path = None
        self.strip.set_photos(photos)
        self.strip.show()
        unmarked = set()
        for p in photos:
            self.strip.set_marked(p, folder.has_settings(p))
            marks = kept_marks.stored(p)
            if marks is None:
                unmarked.add(p)
            else:
                self.strip.set_culling(p, marks)
        self._waiting = len(photos)
        for p in photos:
            def work(job, p=p, embedded=p in unmarked):
                return folder.thumbnail(p), (xmp.read_embedded(p) if embedded else None)
            self.lane.submit(work, label=f"Thumbnail of {p.name}", group="thumbs",
                             on_done=partial(self._thumbnail_done, p),
                             on_error=lambda _message: self._thumbnail(None, None))
        if not photos:
            self.thumbnailsDone.emit()
        return photos

    def _thumbnail_done(self, path: Path, done: tuple) -> None:
        self._thumbnail(path, *done)

    def _thumbnail(self, path: Optional[Path], img, marks: Optional[culling.Culling] = None) -> None:
        if path is not None:
            self.strip.set_thumbnail(path, img)
            if marks is not None and self.strip.culling(path).is_default:   # not rated here meanwhile
                self.strip.set_culling(path, marks)
        self._waiting -= 1
        if self._waiting == 0:
            self.thumbnailsDone.emit()

    def contains(self, path: Optional[Path]) -> bool:
        return path is not None and self.active and Path(path) in self.strip.photos()

    # -- the next photo, decoded ahead -------------------------------------------------------------
    def prepare_ahead(self, current: Path) -> None:
        """Decode the photo after ``current`` in the background (once)."""
        nxt = self.strip.neighbour(current) if self.active else None
        if nxt is None or nxt == self._ahead_path:
            return
        self.lane.cancel_group("ahead")
        self._ahead, self._ahead_path = None, nxt

        def done(photo: Photo) -> None:
            if self._ahead_path == nxt:
                self._ahead = photo
        self.lane.submit(lambda job: load_image(nxt), label=f"Reading {nxt.name} ahead", group="ahead",
                         key="ahead", on_done=done, on_error=lambda _message: None)

    def take_ahead(self, path: Path) -> Optional[Photo]:
        """The decode of ``path`` if it was made ahead (handed over once)."""
        if self._ahead is None or Path(self._ahead.path) != Path(path):
            return None
        photo, self._ahead, self._ahead_path = self._ahead, None, None
        return photo

    # -- settings across photos --------------------------------------------------------------------
    def paste(self, photos: list[Path], source, names: list[str], base) -> list[str]:
        """Write ``names`` of ``source`` into the sidecars of ``photos`` (``base``: the edit of a photo
        without one); mark them. Problems, one line each."""
        problems = folder.paste_settings(photos, source, names, base)
        for p in photos:
            self.strip.set_marked(p, folder.has_settings(p))
        return problems

    def set_culling(self, photos: list[Path], change) -> list[str]:
        """Give each of ``photos`` the marks ``change(its marks)`` and keep them (sidecar, .xmp).
        Problems, one line each."""
        problems = []
        for p in photos:
            marks = change(self.strip.culling(p))
            self.strip.set_culling(p, marks)
            problems += kept_marks.save(p, marks)
        return problems

    def shutdown(self) -> None:
        self.lane.shutdown()
