"""Culling a folder, as in Lightroom and darktable: stars, pick/reject flags and colour labels set
from the keyboard on the photos selected in the filmstrip (the open photo when none is), the
filter that shows only some of them, and exporting the photos it shows.

The keys are Lightroom's: 0-5 stars, P pick, X reject, U unflag, 6-9 the colour labels red,
yellow, green and blue (a label key on a photo that has the label takes it off). They are the
shortcuts of the Folder menu's actions, so they work whichever part of the window has the focus,
except while a text field takes the digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from clode.io.culling import LABELS, MAX_RATING, PICK, REJECT, Culling, Filter

from ..widgets.cull_bar import CullBar
from ..widgets.filmstrip import Filmstrip
from .folder_session import FolderSession
from ..base.link import EditorLink

LABEL_KEYS = dict(zip(LABELS[:4], "6789"))
FILTER_PRESETS = (("All Photos", Filter()), ("Picked", Filter(flags="picked")),
                  ("Not Rejected", Filter(flags="unrejected")),
                  *((f"{n} Stars or More" if n < MAX_RATING else "5 Stars", Filter(min_rating=n))
                    for n in range(1, MAX_RATING + 1)))


class FolderCulling:
    def __init__(self, link: EditorLink, folder: FolderSession, filmstrip: Filmstrip, bar: CullBar, *,
                 targets: Callable[[], list[Path]], save_sidecar: Callable[[], None],
                 notify: Callable[[str], None], error: Callable[[str], None]) -> None:
        self.link, self.folder, self.filmstrip, self.bar = link, folder, filmstrip, bar
        self._targets, self._save_sidecar, self._notify, self._error = targets, save_sidecar, notify, error
        bar.filterChanged.connect(self.set_filter)

    # -- marks -------------------------------------------------------------------------------------
    def rate(self, stars: int) -> list[Path]:
        return self._mark(lambda c: c.with_rating(stars), "★" * stars if stars else "no stars")

    def flag(self, flag: Optional[str]) -> list[Path]:
        return self._mark(lambda c: c.with_flag(flag), {PICK: "picked", REJECT: "rejected", None: "unflagged"}[flag])

    def label(self, label: Optional[str]) -> list[Path]:
        photos = self._targets()
        # Lightroom's toggle: the key of a label every chosen photo has takes it off
        off = label is not None and photos and all(self.filmstrip.culling(p).label == label for p in photos)
        return self._mark(lambda c: c.with_label(None if off else label),
                          f"label {label}" if label and not off else "no label", photos)

    def _mark(self, change: Callable[[Culling], Culling], what: str,
              photos: Optional[list[Path]] = None) -> list[Path]:
        photos = self._targets() if photos is None else photos
        if not photos:
            return []
        problems = self.folder.set_culling(photos, change)
        if problems:                    # one dialog for the keypress, however many photos (a read-only card)
            more = len(problems) - 1
            self._error(problems[0] + (f" (and {more} more like it)" if more else ""))
        self._update_count()
        self._notify(f"{photos[0].name}: {what}" if len(photos) == 1 else f"{len(photos)} photos: {what}")
        return photos

    # -- the filter --------------------------------------------------------------------------------
    def set_filter(self, f: Filter) -> None:
        self.filmstrip.set_filter(f)
        self.bar.set_filter(f)
        self._update_count()

    def _update_count(self) -> None:
        self.bar.set_count(len(self.filmstrip.visible_photos()), self.filmstrip.count())

    def folder_opened(self, photos: list[Path]) -> None:
        self.bar.setVisible(bool(photos) or self.folder.active)
        self.set_filter(self.filmstrip.filter())

    def export_filtered(self) -> None:
        """Batch export the photos the filter shows, each with its own saved settings."""
        from ..dialogs.batch_dialog import open_batch_dialog
        photos = self.filmstrip.visible_photos() if self.folder.active else []
        if not photos:
            self._notify("No photos to export: open a folder, or change the filter")
            return
        self._save_sidecar()
        f = self.filmstrip.filter()
        title = f"Export {len(photos)} Photo{'s' if len(photos) != 1 else ''}" + (
            f" ({f.describe()})" if f.active else "")
        open_batch_dialog(self.link, selection=photos, title=title)


def build_folder_menu(parent: QWidget, bar: QMenuBar, culling: FolderCulling) -> QMenu:
    """The Folder menu (before Help): stars, flags, labels, the filter and Export Filtered Photos.
    Its actions are the culling keys (shortcuts of ``parent``, the editor window)."""
    menu = QMenu("F&older", parent)
    bar.insertMenu(bar.actions()[-1], menu)

    def add(to: QMenu, text: str, slot, key: Optional[str] = None, name: str = "") -> QAction:
        a = QAction(text, parent)
        if key:
            a.setShortcut(QKeySequence(key))
        a.triggered.connect(lambda checked=False: slot())
        if name:
            a.setObjectName(name)
        to.addAction(a)
        return a

    stars = menu.addMenu("Rating")
    for n in range(MAX_RATING + 1):
        add(stars, "No Stars" if n == 0 else "★" * n, lambda n=n: culling.rate(n), str(n), f"rate{n}")
    menu.addSeparator()
    add(menu, "Pick", lambda: culling.flag(PICK), "P", "pick")
    add(menu, "Reject", lambda: culling.flag(REJECT), "X", "reject")
    add(menu, "Unflag", lambda: culling.flag(None), "U", "unflag")
    labels = menu.addMenu("Colour Label")
    for name in LABELS:
        add(labels, name.capitalize(), lambda name=name: culling.label(name), LABEL_KEYS.get(name), f"label_{name}")
    add(labels, "None", lambda: culling.label(None), None, "label_none")
    menu.addSeparator()
    show = menu.addMenu("Show")
    group = QActionGroup(parent)
    for text, f in FILTER_PRESETS:
        a = add(show, text, lambda f=f: culling.set_filter(f), None, "show_" + text.lower().replace(" ", "_"))
        a.setCheckable(True)
        a.setChecked(not f.active)
        group.addAction(a)
    def check_shown(f: Filter) -> None:          # the menu follows the bar's filter, however it changed
        for a, (_t, g) in zip(group.actions(), FILTER_PRESETS):
            a.setChecked(g == f)
    culling.bar.filterChanged.connect(check_shown)
    menu.addSeparator()
    add(menu, "Export Filtered Photos…", culling.export_filtered, "Ctrl+Alt+E", "export_filtered")
    return menu
