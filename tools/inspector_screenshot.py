"""Screenshots of the match inspector for the README, taken from the real widget with QWidget.grab().

Two pictures:

- inspector-worked-example.png: the 4 x 5 matrix of the article-similarity worked example, built straight
  into an `Inspection` (no photos, so the headers show names), greedy and Hungarian side by side.
- inspector-real.png: two articles of the bundled Magento sample (default wh02-blue vs wj08-gray, where
  greedy and Hungarian pick different pairs), indexed
  into a throw-away catalog with the bundled model, opened through `open_inspector` like the main window does.

Runs under Xvfb (xvfb-run python tools/inspector_screenshot.py) or, without a display, on Qt's offscreen
platform. It also prints how long a change of s or m takes to show on a 30 x 30 matrix.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORKED_EXAMPLE = [
    [0.837, 0.835, 0.747, 0.703, 0.698],
    [0.803, 0.799, 0.838, 0.760, 0.769],
    [0.772, 0.752, 0.794, 0.761, 0.796],
    [0.787, 0.785, 0.794, 0.866, 0.881],
]


def _wait(signal, timeout_ms: int = 120_000) -> None:
    """Run the event loop until `signal` fires (or the time runs out: a screenshot tool must not hang)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def _settle(app) -> None:
    # Layouts and the first paint need a few passes of the event loop after show().
    for _ in range(5):
        app.processEvents()


def worked_example(app, out: Path) -> Path:
    from desktop_app.gui.inspector import InspectorWidget, inspection_from_matrix

    ins = inspection_from_matrix(
        WORKED_EXAMPLE,
        "query article",
        "candidate article",
        names_a=[f"query photo {i}" for i in range(1, 5)],
        names_b=[f"candidate photo {j}" for j in range(1, 6)],
    )
    w = InspectorWidget(ins, method="greedy", compare="hungarian", side_by_side=True)
    w.resize(1480, 560)
    w.show()
    _settle(app)
    w.show_cell(2, 4)  # row 3, column 5: Hungarian pairs it, greedy does not
    _settle(app)
    path = out / "inspector-worked-example.png"
    w.grab().save(str(path))
    w.close()
    return path


def real_photos(app, out: Path, a: str, b: str, work: Path) -> Path:
    from desktop_app.core.engine import Engine, index_photos
    from desktop_app.core.indexer import IndexOptions
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
    from desktop_app.gui.inspector_window import open_inspector

    photos = REPO / "desktop_app" / "bundled" / "sample" / "photos"
    db = work / "sample.sqlite"
    started = time.perf_counter()
    index_photos(
        db, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN), options=IndexOptions(batch_size=16)
    )
    print(f"indexed the sample in {time.perf_counter() - started:.1f} s")
    engine = Engine.open(db, remember=False)
    window = open_inspector(None, engine, a, b, method="greedy")
    _wait(window.ready)
    w = window.inspector
    if w is None:
        raise SystemExit(f"The inspector showed a message instead of the matrix: {window.message}")
    w.set_compare_method("hungarian")
    w.set_side_by_side(True)
    window.resize(1500, 640)
    if w.thumbnails_pending:
        _wait(w.thumbnails_ready)
    # Hover a pair Hungarian takes and greedy does not, and click its row header: the two reasons to open
    # the inspector in one picture.
    ins = w.inspection
    greedy = {(p.row, p.col) for p in ins.results["greedy"].pairs}
    row, col = next(
        ((p.row, p.col) for p in ins.results["hungarian"].pairs if (p.row, p.col) not in greedy), (0, 0)
    )
    w.show_cell(row, col)
    if w.thumbnails_pending:
        _wait(w.thumbnails_ready)
    w.set_highlight(row, None)
    _settle(app)
    path = out / "inspector-real.png"
    window.grab().save(str(path))
    window.close()
    engine.close()
    return path


def time_updates(app) -> None:
    """How long a change of s or m takes on a 30 x 30 matrix: core re-scoring plus a synchronous repaint."""
    import numpy as np

    from desktop_app.gui.inspector import InspectorWidget, inspection_from_matrix

    rng = np.random.default_rng(0)
    S = np.clip(0.75 + 0.08 * rng.standard_normal((30, 30)), -1, 1)
    w = InspectorWidget(inspection_from_matrix(S), method="greedy", compare="hungarian", side_by_side=True)
    w.resize(2700, 1150)  # wide enough that both panes show all 900 cells: the worst case for painting
    w.show()
    _settle(app)
    views = [p.view.viewport() for p in w.panes]
    visible = [v.width() >= 30 * w.cell and v.height() >= 30 * w.cell for v in views]
    wall, cpu = [], []
    for k in range(60):
        t0, c0 = time.perf_counter(), time.process_time()
        if k % 2:
            w.set_max_matches(1 + k % 20)
        else:
            w.set_threshold(0.70 + 0.002 * k)
        for v in views:
            v.repaint()  # paint now instead of at the next frame, so the clock sees the whole cost
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    wall.sort()
    cpu.sort()
    # CPU time is printed too: on a busy machine the wall clock also counts other processes' turns.
    print(
        f"30x30, two panes: s/m change to repainted view: wall median {1000 * wall[len(wall) // 2]:.1f} ms, "
        f"worst {1000 * wall[-1]:.1f} ms; CPU median {1000 * cpu[len(cpu) // 2]:.1f} ms, worst "
        f"{1000 * cpu[-1]:.1f} ms over {len(wall)} changes (one frame at 60 Hz = 16.7 ms); every cell on "
        f"screen: {all(visible)}"
    )
    w.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--a", default="wh02-blue", help="query article of the real-photo screenshot")
    parser.add_argument("--b", default="wj08-gray", help="candidate article of the real-photo screenshot")
    parser.add_argument("--skip-real", action="store_true", help="only the worked example (no indexing)")
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="lookalike-shots-") as tmp:
        # A private user-data folder: the throw-away catalog's thumbnails must not land in the real cache.
        os.environ["LOOKALIKE_HOME"] = tmp
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        args.out.mkdir(parents=True, exist_ok=True)
        print(worked_example(app, args.out))
        if not args.skip_real:
            print(real_photos(app, args.out, args.a, args.b, Path(tmp)))
        time_updates(app)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
