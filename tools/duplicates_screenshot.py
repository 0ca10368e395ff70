"""Screenshot of the Duplicates window on real Magento photos with known duplicates.

Copies the photos of a few Magento styles (every colour: the look-alikes that must not count), adds edited
copies of some (50% resize, 5% crop, JPEG quality 60, a text overlay, an exact copy; benchmarks/photo_edits.py)
as a second listing, indexes them with the bundled model in a temporary folder, finds the duplicates in the
window and saves docs/screenshots/duplicates.png with a cropped copy on show, then opens the copy with a text
overlay in the lightbox compare (Space), where what differs is outlined, and saves
docs/screenshots/duplicates-compare.png.

    QT_QPA_PLATFORM=offscreen python tools/duplicates_screenshot.py [--data DIR] [--out docs/screenshots]
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
DATA = REPO.parent / "shared" / "datasets" / "magento-luma"
STYLES = ("mh01", "ws03", "mj03", "wb01", "mp09")
COPIES = {
    "mh01-gray_main.jpg": "crop",
    "mh01-gray_back.jpg": "resize",
    "ws03-blue_main.jpg": "jpeg60",
    "mj03-black_main.jpg": "text",
    "wb01-black_main.jpg": "exact",
}


def build_catalog(data: Path, base: Path) -> Path:
    from benchmarks.photo_edits import make_copy
    from desktop_app.core.engine import index_photos
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    photos = base / "photos"
    with open(data / "manifest.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["style"] in STYLES]
    for r in rows:
        src = data / "photos" / r["path"]
        (photos / "shop").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, photos / "shop" / src.name)
        if src.name in COPIES:
            make_copy(src, photos / "supplier-b" / f"b{src.name}", COPIES[src.name])
    db = base / "catalog.sqlite"
    index_photos(db, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
    return db


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-shot-home-"))
    base = Path(tempfile.mkdtemp(prefix="lookalike-shot-"))
    db = build_catalog(args.data, base)

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.engine import Engine
    from desktop_app.gui.duplicates_view import DuplicatesWindow

    app = QApplication.instance() or QApplication([])
    engine = Engine.open(db, remember=False)
    window = DuplicatesWindow(engine)
    window.edits_box.setChecked(True)
    window.show()
    # The offscreen screen is 800 px square, which the window fits itself to; show it as on a desktop.
    window.resize(1280, 760)
    window.split.setSizes([520, 760])

    def wait(signal=None, ms: int = 300_000, until=None) -> None:
        loop = QEventLoop()
        if signal is not None:
            signal.connect(loop.quit)
        timer = QTimer()
        timer.timeout.connect(lambda: (until is None or until()) and signal is None and loop.quit())
        timer.start(50)
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    window.find()
    wait(window.found)
    tree = window.tree

    def select(photo: str) -> None:
        for i in range(tree.topLevelItemCount()):
            top = tree.topLevelItem(i)
            for j in range(top.childCount()):
                pair = top.child(j).data(0, 256)
                if pair.kind == "near" and photo in pair.b + pair.a:
                    tree.expandItem(top)
                    tree.setCurrentItem(top.child(j))

    select("mh01-gray_main")
    loaded = lambda: all(not p.image.pixmap().isNull() for p in (window.left, window.right))  # noqa: E731
    wait(until=loaded, ms=30_000)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "duplicates.png"
    window.grab().save(str(target))
    print(f"wrote {target}")
    select("mj03-black_main")  # the copy with a text overlay: the lightbox outlines where it differs
    window.compare()  # what Space on the list does
    box = window.lightbox
    box.resize(1280, 760)  # as on a desktop; the offscreen screen is 800 px square
    wait(until=lambda: box.is_shown() and box.has_marks(), ms=30_000)
    box.fit()
    app.processEvents()
    target = args.out / "duplicates-compare.png"
    box.grab().save(str(target))
    print(f"wrote {target}")
    box.close()
    window.close()
    engine.close()
    app.quit()


if __name__ == "__main__":
    main()
