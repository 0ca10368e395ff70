"""Screenshots of the catalog map on the real Magento photos (../shared/datasets/magento-luma).

Indexes the photos with the bundled model (or reuses --db), labels every article with its manifest category,
opens the app on the catalog with an article selected, shows the map and saves docs/screenshots/map.png (the
window with the whole map, coloured by category, the selection's similar articles highlighted) and
map-covers.png (the map zoomed in on one cluster: cover thumbnails framed in their category's colour).

    QT_QPA_PLATFORM=offscreen python tools/map_screenshot.py [--db CATALOG] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "datasets" / "magento-luma"
QUERY = "mh01-gray"  # a hoodie: its cluster is a good place to zoom in


def build_catalog(db: Path | None, base: Path) -> Path:
    from desktop_app.core.engine import Engine, index_photos
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    if db is None:
        db = base / "magento.sqlite"
        index_photos(db, DATA / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with open(DATA / "manifest.csv", encoding="utf-8") as fh:
        cats = dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))
    with Engine.open(db, remember=False) as engine:
        engine.set_label_items([(a, "category", c) for a, c in cats.items()], "import", "import", force=True)
        engine.catalog_map()  # the layout, stored; the app then shows it at once
    return db


def wait_for(app, predicate, timeout_ms: int = 120000) -> None:
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    deadline = QDeadlineTimer(timeout_ms)
    while not predicate():
        if deadline.hasExpired():
            raise TimeoutError("the window did not get ready in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an indexed Magento catalog to reuse (default: index one)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="lookalike-map-shot-") as tmp:
        os.environ.setdefault("LOOKALIKE_HOME", str(Path(tmp) / "home"))
        db = build_catalog(args.db, Path(tmp))
        from PySide6.QtWidgets import QApplication

        from desktop_app.core.settings import UserSettings
        from desktop_app.gui.mainwindow import MainWindow

        app = QApplication.instance() or QApplication(sys.argv[:1])
        w = MainWindow(UserSettings())
        w.resize(1600, 1150)
        w.show()
        w.open_catalog(db)
        wait_for(app, lambda: w.snapshot is not None and w.search.info is not None)
        shown = []
        w.map.shown.connect(shown.append)
        w.map.toggle_action.trigger()
        wait_for(app, lambda: bool(shown))
        outcomes = []
        w.results_shown.connect(outcomes.append)
        w.select_article(QUERY)
        wait_for(app, lambda: bool(outcomes))
        view = w.map.view
        view.fit()
        wait_for(app, lambda: w.thumbs.pending() == 0)  # the results' photos, not grey boxes
        for _ in range(10):
            app.processEvents()
        args.out.mkdir(parents=True, exist_ok=True)
        w.grab().save(str(args.out / "map.png"))
        # Zoomed in round the selected hoodie: covers instead of dots.
        from desktop_app.gui.map_view import THUMB_UNITS

        while view.scale_ * THUMB_UNITS < 58:  # covers about 60 px across
            view.zoom_by(1.25, animate=False)
        view.centre_on(QUERY)
        view.viewport().repaint()
        wait_for(app, lambda: view.points.last_mode == "covers" and w.thumbs.pending() == 0)
        for _ in range(20):
            app.processEvents()
        view.viewport().repaint()
        w.map.panel.grab().save(str(args.out / "map-covers.png"))
        print(
            f"wrote {args.out / 'map.png'} and {args.out / 'map-covers.png'} "
            f"({len(shown[-1])} articles; zoomed: {view.points.last_drawn} covers at scale {view.scale_:.1f})"
        )
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
