"""The core never imports Qt: every core module must import with PySide6 (and any other Qt binding) blocked.

Runs in a fresh interpreter so that Qt modules already imported by the GUI tests cannot hide a violation.
"""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import desktop_app.core

CORE_DIR = Path(desktop_app.core.__file__).resolve().parent

PROBE = r"""
import importlib, sys
# A None entry in sys.modules makes `import PySide6` (and its submodules) raise ImportError at once.
for name in ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2"):
    sys.modules[name] = None
names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "PyQt5", "PyQt6") and sys.modules[m] is not None)
assert not leaked, leaked
print("imported", len(names))
"""


def core_modules() -> list[str]:
    # The CLI is a front end like the GUI but must start without Qt too (scripts, servers, CI).
    return sorted(m.name for m in pkgutil.walk_packages([str(CORE_DIR)], "desktop_app.core.")) + [
        "desktop_app.cli",
        "desktop_app.cli_models",
    ]


def test_every_core_module_imports_with_qt_blocked():
    names = core_modules()
    assert "desktop_app.core.thumbnails" in names and "desktop_app.core.catalog" in names
    proc = subprocess.run([sys.executable, "-c", PROBE, *names], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == f"imported {len(names)}"


def test_no_core_source_mentions_a_qt_binding():
    # Catches lazy imports inside functions, which importing the module alone would not run.
    pattern = re.compile(r"^\s*(from|import)\s+(PySide\d|PyQt\d|shiboken\d)", re.MULTILINE)
    offenders = [p.name for p in CORE_DIR.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_gui_helpers_without_widgets_stay_plain_python():
    # The worker-side modules of the GUI run in pool threads: they must not touch widgets either.
    gui = CORE_DIR.parent / "gui"
    for name in ("session.py", "similarity.py"):
        text = (gui / name).read_text(encoding="utf-8")
        assert "PySide6" not in text, name
