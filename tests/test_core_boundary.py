"""The core must never import Qt: import every core module in a fresh interpreter with PySide6 blocked."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import desktop_app.core

SCRIPT = """
import importlib, sys
class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6"):
            raise ImportError(f"core module imported Qt ({name})")
        return None
sys.meta_path.insert(0, BlockQt())
for name in sys.argv[1:]:
    importlib.import_module(name)
print("ok", len(sys.argv) - 1)
"""


def test_core_imports_without_qt():
    names = [m.name for m in pkgutil.walk_packages(desktop_app.core.__path__, "desktop_app.core.")]
    names += ["desktop_app.cli"]
    assert len(names) >= 8
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *names], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ok {len(names)}"
