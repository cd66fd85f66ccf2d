"""The core library must never import Qt (the GUI lives in clode_desktop/)."""

import ast
import subprocess
import sys
from pathlib import Path

import clode

QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy")
CORE = Path(clode.__file__).parent


def test_no_qt_import_statement_in_core():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in QT for n in names):
                offenders.append(f"{path.relative_to(CORE.parent)}:{node.lineno}")
    assert not offenders, f"Qt imported in the core: {offenders}"


def test_importing_every_core_module_loads_no_qt():
    code = (
        "import importlib, pkgutil, sys, clode\n"
        "for m in pkgutil.walk_packages(clode.__path__, 'clode.'):\n"
        "    if m.name != 'clode.__main__': importlib.import_module(m.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
