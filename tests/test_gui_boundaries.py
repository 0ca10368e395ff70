"""The GUI's modules keep to each other's public surface: no module under desktop_app/gui reads or writes
another object's private attributes, and the controllers that work beside the main window (the map, its
labels, the inspector launcher) use the window's methods, properties and signals only, never its parts (the
grid, the similar panel, the status bar, the edit history, the catalog controller).

Both are checked on the source (AST), so a new reach into a private attribute fails here before it is run.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import desktop_app.gui as gui_package

GUI = Path(gui_package.__file__).parent
# The controllers that get the main window and must keep to its surface (window_surface.WindowSurface).
BESIDE_THE_WINDOW = ["map_controller.py", "map_labels.py", "inspect_launcher.py"]
OWN = {"self", "cls"}


def private_reaches(source: str) -> list[tuple[int, str]]:
    """(line, expression) of every `x._name` whose `x` is not `self`, `cls` or `super()` (dunders are
    Python's, not an object's private state)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in OWN:
            continue
        if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
            continue
        found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [(line, expr) for line, _col, expr in sorted(found)]


def test_private_reaches_are_found():
    """The check itself: it finds reads, calls and writes through another object, not one's own."""
    source = (
        "def f(self, w):\n"
        "    self._own = w._theirs\n"
        "    self.window._error('t', 1)\n"
        "    w.grid_model._key_index().get('a')\n"
        "    other._x = 1\n"
        "    super()._base()\n"
        "    return self.__class__, cls._fine\n"
    )
    assert [expr for _line, expr in private_reaches(source)] == [
        "w._theirs",
        "self.window._error",
        "w.grid_model._key_index",
        "other._x",
    ]


def test_no_gui_module_reaches_into_another_objects_private_attributes():
    reaches = [
        f"{path.name}:{line}: {expr}"
        for path in sorted(GUI.glob("*.py"))
        for line, expr in private_reaches(path.read_text(encoding="utf-8"))
    ]
    assert reaches == []


def window_uses(source: str) -> list[tuple[int, str]]:
    """(line, name) of every attribute taken of the main window: `self.window.X`, or `X` of a name bound to
    the window (the `window` parameter of `__init__`, or a local `w = self.window`)."""
    used = []
    for func in ast.walk(ast.parse(source)):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        aliases = {a.arg for a in func.args.args if func.name == "__init__" and a.arg == "window"}
        for node in ast.walk(func):
            if isinstance(node, ast.Assign):
                pairs = []
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        pairs += zip(target.elts, node.value.elts, strict=False)
                    else:
                        pairs.append((target, node.value))
                aliases |= {t.id for t, v in pairs if isinstance(t, ast.Name) and is_window(v, set())}
        for node in ast.walk(func):
            if isinstance(node, ast.Attribute) and is_window(node.value, aliases):
                used.append((node.lineno, node.attr))
    return sorted(set(used))


def is_window(node: ast.AST, aliases: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in aliases
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "window"
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    )


def surface_of_the_window() -> set[str]:
    """The public methods, properties and signals the main window's own classes define (not the panels and
    controllers it holds as attributes, nor Qt's methods such as statusBar)."""
    from PySide6.QtCore import Signal

    from desktop_app.gui.mainwindow import MainWindow

    names = set()
    for cls in MainWindow.__mro__:
        if not cls.__module__.startswith("desktop_app."):
            continue
        for name, value in vars(cls).items():
            if not name.startswith("_") and (
                inspect.isfunction(value) or isinstance(value, property | Signal)
            ):
                names.add(name)
    return names


def test_window_uses_are_found():
    source = (
        "class C:\n"
        "    def __init__(self, window, panel):\n"
        "        self.window = window\n"
        "        window.catalog_loaded.connect(self.f)\n"
        "    def f(self):\n"
        "        w, p = self.window, self.panel\n"
        "        w.grid_panel.clear()\n"
        "        window = make_other()\n"
        "        window.article_a\n"
        "        return self.window.snapshot\n"
    )
    assert [name for _line, name in window_uses(source)] == ["catalog_loaded", "grid_panel", "snapshot"]


@pytest.mark.parametrize("module", BESIDE_THE_WINDOW)
def test_controllers_beside_the_window_use_its_surface_only(module):
    surface = surface_of_the_window()
    assert {"select_articles", "current_query", "show_status", "undo", "catalog_loaded"} <= surface
    assert not {"grid_panel", "similar", "history", "catalogs", "search"} & surface
    used = window_uses((GUI / module).read_text(encoding="utf-8"))
    assert used, "the check must see the window being used"
    assert [f"{module}:{line}: window.{name}" for line, name in used if name not in surface] == []
