"""The window process stays small: it holds no vectors, and opening a catalog loads none of the heavy
numeric libraries that only the search child, the map (once it has points) or the duplicate finder need.
SciPy alone is about 40 MB resident; an empty map clearing itself at every catalog open once imported it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import index_sample

HEAVY = ("scipy", "onnxruntime", "sklearn", "openTSNE", "usearch", "torch")

OPEN_WINDOW = textwrap.dedent(
    """
    import json, sys
    from PySide6.QtCore import QTimer
    from desktop_app.gui.app import create_window, make_app

    app = make_app(["lookalike"])
    window = create_window(sys.argv[1])

    def loaded():
        if window.snapshot is None or window.snapshot.partial:
            return
        QTimer.singleShot(0, app.quit)

    window.catalog_loaded.connect(loaded)
    QTimer.singleShot(120000, app.quit)
    app.exec()
    rows = window.grid_model.rowCount()
    window.shutdown()
    print("RESULT " + json.dumps({"rows": rows, "modules": sorted(m.split(".")[0] for m in sys.modules)}))
    """
)


def test_opening_a_catalog_loads_no_heavy_library_into_the_window(tmp_path, tiny_model):
    db = index_sample(tmp_path / "c.sqlite", str(tiny_model.manifest_path))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", OPEN_WINDOW, str(db)], capture_output=True, text=True, timeout=300, env=env
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, proc.stderr[-3000:]
    out = json.loads(line[7:])
    assert out["rows"] > 0
    assert [m for m in HEAVY if m in out["modules"]] == []
