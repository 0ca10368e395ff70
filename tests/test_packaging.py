"""The frozen app: build it with PyInstaller, start the GUI offscreen, index and search with the frozen CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_frozen_app_smoke():
    pytest.importorskip("PyInstaller", reason="install the [packaging] extra to build the frozen app")
    proc = subprocess.run(
        [sys.executable, str(REPO / "packaging" / "smoke_test.py")],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=REPO,
    )
    print(proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SMOKE OK" in proc.stdout and "first painted article grid" in proc.stdout
