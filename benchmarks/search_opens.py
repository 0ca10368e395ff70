"""How often the window opens a catalog in its search child while a new catalog indexes, and how long search
takes to be ready after "Indexing finished". Prints figures; not a timed test.

    python benchmarks/search_opens.py [--photos DIR] [--limit N] [--map] [--json]

Drives the real app (offscreen unless QT_QPA_PLATFORM is set; real index and search child processes, the
bundled model) as a curator does: a first catalog (the bundled sample photos) is open with an article
selected, then a copy of the Magento photos (default /work/shared/datasets/magento-luma, licence files kept)
is made a new catalog and indexed at once. Counts the opens the window sends to the search child (during the
run, and in all), the live re-reads of the grid, and the time from the end of the run to the next search
answered; then switches back to the first catalog and times its search being ready. With --map the catalog
map tab is on show, as in the session that found the defect (the grid then never paints).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAGENTO = Path("/work/shared/datasets/magento-luma")


def copy_photos(source: Path, target: Path, limit: int | None) -> Path:
    """The dataset's photos (the first `limit` files in name order) with its licence notice."""
    photos = sorted((source / "photos").rglob("*.jpg"))[:limit]
    for p in photos:
        dest = target / "photos" / p.relative_to(source / "photos")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dest)
    for notice in source.glob("LICENSE*"):
        shutil.copy2(notice, target / notice.name)
    return target / "photos"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=Path, default=MAGENTO, help="dataset folder (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=None, help="index only this many photos (default: all)")
    ap.add_argument("--map", action="store_true", help="keep the catalog map tab on show (default: off)")
    ap.add_argument("--give-up", type=float, default=900, help="seconds to wait for search (default: 900)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON (default: text)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lookalike-opens-"))
    os.environ["LOOKALIKE_HOME"] = str(work / "home")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    try:
        figures = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:>34}: {value}")


def run(args: argparse.Namespace, work: Path) -> dict:
    from PySide6.QtWidgets import QApplication

    from desktop_app.cli import main as cli
    from desktop_app.core.paths import default_catalog_path
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
    from desktop_app.core.settings import UserSettings
    from desktop_app.gui.mainwindow import MainWindow

    app = QApplication.instance() or QApplication([])
    sample = REPO / "desktop_app" / "bundled" / "sample" / "photos"
    first_db = work / "sample.sqlite"
    assert cli(["index", str(sample), "--pattern", "magento", "--db", str(first_db), "--no-progress"]) == 0
    folder = copy_photos(args.photos, work / "magento", args.limit)
    n_files = sum(1 for _ in folder.rglob("*.jpg"))

    w = MainWindow(UserSettings())
    w.show()
    opens: list[tuple[float, str]] = []
    real_open = w.search.client.open

    def counted(db, device=None):
        opens.append((time.perf_counter(), str(db)))
        return real_open(db, device)

    w.search.client.open = counted
    marks: dict[str, float] = {}
    reloads = [0]
    w.catalog_loaded.connect(lambda: reloads.__setitem__(0, reloads[0] + 1))
    w.index_finished.connect(lambda _s: marks.setdefault("finished", time.perf_counter()))

    def wait(condition, timeout_s: float = 3600) -> None:
        end = time.perf_counter() + timeout_s
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError("the app did not get there in time")
            app.processEvents()
            time.sleep(0.01)  # a benchmark driver polling the event loop, not a test

    answers: list[float] = []
    w.results_shown.connect(lambda outcome: outcome is not None and answers.append(time.perf_counter()))
    w.open_catalog(first_db)
    wait(lambda: w.search.info is not None)
    w.select_article(w.snapshot.articles.keys[0])  # the similar panel has a question, as in the session
    wait(lambda: bool(answers))
    if args.map:
        w.map.toggle_action.setChecked(True)
    start, reloads_before = time.perf_counter(), reloads[0]
    w.catalogs.create(folder, default_catalog_path(folder), GroupingRule("pattern", MAGENTO_PATTERN))
    wait(lambda: "finished" in marks)
    finished = marks["finished"]
    opens_during = sum(1 for t, _db in opens if t >= start)
    reloads_during = reloads[0] - reloads_before
    new_catalog = str(w.snapshot.location)
    w.select_article(w.snapshot.articles.keys[0])
    try:
        wait(lambda: any(t > finished for t in answers), args.give_up)
        answered = f"{max(answers) - finished:.2f}"
    except TimeoutError:
        answered = f"not within {args.give_up:.0f} s (still {w.similar.status.text()!r})"
    w.open_catalog(first_db)
    switched = time.perf_counter()
    try:
        wait(lambda: str(w.snapshot.location) == str(first_db) and w.search.info is not None, args.give_up)
        back = f"{time.perf_counter() - switched:.2f}"
    except TimeoutError:
        back = f"not within {args.give_up:.0f} s"
    closing = time.perf_counter()
    w.close()
    closed = time.perf_counter()
    return {
        "photos indexed": n_files,
        "index run (s)": round(finished - start, 1),
        "re-reads of the catalog": reloads_during,
        "opens during the run": opens_during,
        "opens of the new catalog in all": sum(1 for _, db in opens if db == new_catalog),
        "finished to search answered (s)": answered,
        "switch back to search ready (s)": back,
        "opens in all": len(opens),
        "close the window (s)": round(closed - closing, 2),
        "load average": os.getloadavg()[0],
    }


if __name__ == "__main__":
    main()
