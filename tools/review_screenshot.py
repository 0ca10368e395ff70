"""Screenshot of the review queue on the bundled sample photos, half of them labelled.

Indexes a copy of desktop_app/bundled/sample with the bundled model in a temporary folder, labels every
other article with its manifest category (like `lookalike demo`), opens the review queue and saves
docs/screenshots/review.png, review-hard.png (least-certain first: a low-confidence article) and
review-import.png (the import dialog previewing the sample's manifest).

    QT_QPA_PLATFORM=offscreen python tools/review_screenshot.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build_catalog(base: Path) -> Path:
    """Index the sample photos and label every other article; returns the catalog path."""
    from desktop_app.core.engine import Engine, index_photos
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    sample = REPO / "desktop_app" / "bundled" / "sample"
    photos = base / "photos"
    shutil.copytree(sample / "photos", photos)
    db = base / "catalog.sqlite"
    index_photos(db, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    with open(sample / "manifest.csv", encoding="utf-8") as fh:
        cats = dict(sorted({r["article"]: r["category"] for r in csv.DictReader(fh)}.items()))
    with Engine.open(db, remember=False) as engine:
        engine.set_label_items([(a, "category", c) for a, c in list(cats.items())[::2]], "import", "import")
    return db


def wait_for(app, predicate, timeout_ms: int = 60000) -> None:
    """Spin the event loop until predicate() holds (a tool, not a test: a deadline is enough)."""
    from PySide6.QtCore import QDeadlineTimer, QEventLoop

    deadline = QDeadlineTimer(timeout_ms)
    while not predicate():
        if deadline.hasExpired():
            raise TimeoutError("the review queue did not get ready in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="lookalike-shot-") as tmp:
        os.environ["LOOKALIKE_HOME"] = str(Path(tmp) / "home")
        db = build_catalog(Path(tmp))

        from PySide6.QtWidgets import QApplication

        from desktop_app.core.engine import Engine
        from desktop_app.gui.review import ReviewQueue

        app = QApplication.instance() or QApplication([])
        engine = Engine.open(db, remember=False)
        queue = ReviewQueue(engine, None, "category")  # suggestions from its own engine child
        queue.resize(1280, 760)
        queue.show()
        loaded = []
        queue.ready.connect(lambda: loaded.append(True))
        wait_for(app, lambda: bool(loaded))

        def settle() -> None:
            # Let the thumbnails of what is on screen arrive before grabbing.
            app.processEvents()
            wait_for(app, lambda: queue.thumbs.pending() == 0)
            app.processEvents()

        args.out.mkdir(parents=True, exist_ok=True)
        # Decide one article first, so the status line and the counter show the queue in use.
        queue.accept_current()
        settle()
        queue.grab().save(str(args.out / "review.png"))
        queue.set_order("uncertain")
        settle()
        queue.grab().save(str(args.out / "review-hard.png"))
        queue.undo()
        queue.close()

        # The import dialog previewing the sample's manifest: what each article would get.
        from desktop_app.gui.labels_import_dialog import ImportLabelsDialog

        dialog = ImportLabelsDialog(engine, "category")
        dialog.set_csv(REPO / "desktop_app" / "bundled" / "sample" / "manifest.csv")
        dialog.resize(760, 560)
        dialog.show()
        app.processEvents()
        dialog.grab().save(str(args.out / "review-import.png"))
        dialog.close()
        engine.close()
    print(f"Wrote review.png, review-hard.png and review-import.png to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
