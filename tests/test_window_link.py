"""Dialogs and panels reach the editor through its ``EditorLink``, never into the window (issue 27).

The main window was a hub reached by duck typing: dialogs read its private attributes, a panel set
an attribute on it, and it re-exported its parts' private state for them. These tests grep the app,
the tests, the scripts and the benchmarks for code that reaches a window's private attribute from
outside it, and check that the dialogs' and panels' modules take the link, not a window."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

import clode_desktop  # noqa: E402

ROOT = Path(clode_desktop.__file__).parent.parent
APP = Path(clode_desktop.__file__).parent
SEARCHED = [APP, ROOT / "tests", ROOT / "scripts", ROOT / "benchmarks"]

#: a name that holds a window (w, w2, window, main, the window of a part or a dialog…), then a private name
WINDOW = r"(?:\b(?:w\d?|win|window|main|main_window|editor|mw)|\bself\.(?:window|editor|main|_window)|\.window\(\))"
REACHES = [
    re.compile(WINDOW + r"\._(?!_)[A-Za-z]\w*"),                                   # window._device
    re.compile(r"\b(?:getattr|setattr|hasattr)\(\s*" + WINDOW + r"\s*,\s*['\"]_(?!_)"),   # getattr(w, "_x")
    re.compile(r"monkeypatch\.setattr\(\s*" + WINDOW + r"\s*,\s*['\"]_(?!_)"),
]


def python_files() -> list[Path]:
    return sorted(p for folder in SEARCHED if folder.exists() for p in folder.rglob("*.py"))


def test_no_code_reaches_a_windows_private_attribute_from_outside_it():
    this = Path(__file__).resolve()
    found = []
    for path in python_files():
        if path.resolve() == this:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if any(r.search(code) for r in REACHES):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "reaches into a window:\n" + "\n".join(found)


def test_the_grep_sees_what_it_looks_for():
    """The patterns catch the shapes the review found (so the test above cannot pass by missing them)."""
    caught = ["dialog = BatchDialog(window.model_choice(), window._device)", "w._auto_on_open = True",
              "self.window._closing", "getattr(w, '_prepared')", "monkeypatch.setattr(w, \"_preview_ready\", f)",
              "x = main._models", "w2._explicit_model = None"]
    fine = ["w.editing.prepared", "self._device = device", "window.__class__", "w.models.explicit = None",
            "canvas._overlay"]
    assert all(any(r.search(c) for r in REACHES) for c in caught)
    assert not any(any(r.search(c) for r in REACHES) for c in fine)


def test_the_window_re_exports_none_of_its_parts_private_state():
    source = next(APP.rglob("main_window.py")).read_text(encoding="utf-8")
    tree = ast.parse(source)
    [window] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MainWindow"]
    properties = [f.name for f in window.body if isinstance(f, ast.FunctionDef)
                  and any(isinstance(d, ast.Name) and d.id == "property" for d in f.decorator_list)]
    assert properties and not [p for p in properties if p.startswith("_")]
    assert "_part_attribute" not in source


#: the dialogs and panels the window opens, and the window's parts that open them
LINKED = ("batch_dialog", "training_panel", "model_shelf", "folder_editing", "folder_culling")


@pytest.mark.parametrize("name", LINKED)
def test_dialogs_and_panels_take_the_link_not_the_window(name):
    [path] = [p for p in APP.rglob(f"{name}.py")]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    takes_window = [f"{f.name}({a.arg})" for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef,))
                    for a in f.args.args + f.args.kwonlyargs if a.arg == "window"]
    assert not takes_window, f"{path.name} takes a window: {takes_window}"
    annotations = {ast.unparse(a.annotation) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                   for a in f.args.args + f.args.kwonlyargs if a.annotation is not None}
    assert any("EditorLink" in a for a in annotations), f"{path.name} does not take an EditorLink"


def test_the_window_keeps_qts_actions_method_and_gives_its_dialogs_a_link(make_window):
    from PySide6.QtGui import QAction

    from clode_desktop.base.link import EditorLink
    w = make_window(threaded=False)
    assert isinstance(w.actions(), list) and all(isinstance(a, QAction) for a in w.actions())
    assert w.window_actions.nav_actions[0] in w.actions()          # the arrow keys are the window's
    link = w.link
    assert isinstance(link, EditorLink) and link.parent is w and link.tasks is w.tasks
    assert link.device() == "cpu" and link.model_choice() == w.models.path()
    assert link.photo_path() is None and link.photo_view() is None
    assert link.adjustments() == w.editing.adjustments
