"""Desktop app figures on a synthetic 100,000-photo (or, with --photos 1000000, million-photo) catalog.

Prints numbers; not a timed test.

    python benchmarks/gui_bench.py [--photos 100000] [--dir DIR] [--queries 60] [--index-photos 160]

1. Builds (or reuses, with --dir) a catalog of N photos in articles of 4 photos, each photo a symlink to
   one of the bundled sample photos (so thumbnails are real but repeat), with clustered random vectors of
   the bundled model's size (1280-d) stored under the bundled model's id, and labels on a third of the
   articles.
2. Start to first painted grid: a fresh interpreter runs the app on that catalog and reports the time from
   process start (before Qt is imported) to the first paint of a non-empty grid (a large catalog's first
   page of articles), then to every article shown. Goal: <= 2 s to the first paint. Then the window
   process's memory with the catalog open (it holds no vectors). Goal: <= 600 MB.
3. Selection to results: selects random articles one at a time and records the time from the selection
   to the similar results being in the panel's model, p50/p95 per method. Goal: 150 ms. Also a burst of
   selections 20 ms apart (a held arrow key) to show that stale requests are dropped.
4. Longest UI-thread stall while indexing: adds real photos to the folder and runs Update index with the
   bundled model while a 5 ms precise timer records how late the event loop serves it, and while the grid
   scrolls. Goal: <= 50 ms.

Runs offscreen by default (QT_QPA_PLATFORM=offscreen), or on any display when QT_QPA_PLATFORM is set.
"""

from __future__ import annotations

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402 - the clock above must start before anything heavy is imported
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "desktop_app" / "bundled" / "sample" / "photos"
VIEWS = ("front", "back", "side", "detail")


# ---------------------------------------------------------------------------------------------- building


def build_catalog(base: Path, n_photos: int, dim: int = 1280, seed: int = 0) -> Path:
    """A catalog of n_photos symlinked photos with synthetic vectors; reused when already complete.

    Written through the catalog's own API (`sync_articles`, `write_photos`, `set_labels`), as an index run
    would, so the benchmark reads a catalog exactly like a real one.
    """
    import numpy as np

    from desktop_app.core.engine import Engine
    from desktop_app.core.models import default_model, vector_identity
    from desktop_app.core.scan import GroupingRule
    from desktop_app.core.storage import PhotoWrite

    db = base / "catalog.sqlite"
    root = base / "photos"
    done_flag = base / f"complete-{n_photos}"
    if done_flag.exists() and db.exists():
        return db
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    model = default_model("cpu")
    model_id = vector_identity(model.manifest, None, False)
    dim = model.manifest.dim
    sources = sorted(SAMPLE.rglob("*.jpg"))
    if not sources:
        sys.exit("The bundled sample photos are missing.")
    rng = np.random.default_rng(seed)
    n_articles = n_photos // len(VIEWS)
    t0 = time.perf_counter()
    print(f"building a {n_photos:,}-photo catalog in {base} …", flush=True)
    engine = Engine.open(db, create=True, remember=False)
    engine.update_settings(
        photo_root=str(root),
        grouping=GroupingRule("folder"),
        model=model.manifest.name,
        model_manifest=str(model.manifest_path),
    )
    cat = engine.catalog
    keys = [f"cat{a % 40:02d}/a{a:06d}" for a in range(n_articles)]
    ids = cat.sync_articles(keys)
    # Products come in families: vectors of an article sit near its family's centre, photos near the article.
    families = rng.normal(size=(500, dim)).astype(np.float32)
    writes: list[PhotoWrite] = []
    for a, key in enumerate(keys):
        folder = root / key
        folder.mkdir(parents=True, exist_ok=True)
        centre = families[a % len(families)] + 0.6 * rng.normal(size=dim).astype(np.float32)
        for v, view in enumerate(VIEWS):
            dst = folder / f"{view}.jpg"
            os.symlink(sources[(a * len(VIEWS) + v) % len(sources)], dst)
            st = dst.stat()
            rel = f"{key}/{view}.jpg"
            vec = centre + 0.5 * rng.normal(size=dim).astype(np.float32)
            writes.append(
                PhotoWrite(
                    ids[key],
                    rel,
                    rel.encode(),
                    st.st_size,
                    st.st_mtime_ns,
                    None,
                    width=400,
                    height=500,
                    vector=vec / np.linalg.norm(vec),
                )
            )
        if len(writes) >= 20000:
            cat.write_photos(writes, model_id)
            writes.clear()
            print(f"  {(a + 1) * len(VIEWS):,} photos", flush=True)
    cat.write_photos(writes, model_id)
    engine.set_label_items(
        [(k, "category", f"family{a % 50}") for a, k in enumerate(keys) if a % 3 == 0], "import", "import"
    )
    run = cat.start_run(model_id)
    cat.finish_run(run, "done", {"photos": n_articles * len(VIEWS)})
    # An index run's last step: the local vector store and, for a large catalog, its graph index.
    print("updating the vector store and the search index, as an index run ends …", flush=True)
    engine.frozen_vectors()
    engine.close()
    done_flag.write_text("ok")
    print(f"built in {time.perf_counter() - t0:.0f} s ({db.stat().st_size / 1e6:.0f} MB)", flush=True)
    return db


# ---------------------------------------------------------------------------------------------- child: start


def child_start(db: Path) -> None:
    """Run in a fresh interpreter: from process start to the first painted, non-empty grid."""
    from PySide6.QtCore import QTimer

    from desktop_app.gui.app import create_window, make_app

    app = make_app(["lookalike"])
    window = create_window(db)
    out: dict = {}

    def painted() -> None:
        out["first_grid_paint_s"] = time.perf_counter() - PROCESS_START
        out["rows"] = window.grid_model.rowCount()
        out["snapshot_load_s"] = window.snapshot.loaded_in_s if window.snapshot else None

    def loaded() -> None:
        if window.snapshot is None or window.snapshot.partial:
            return  # a large catalog's first page: the rest follows
        out["all_articles_shown_s"] = time.perf_counter() - PROCESS_START
        out["all_rows"] = window.grid_model.rowCount()
        # The window process keeps no vectors (the engine child does): its memory with the catalog open,
        # a few seconds after every article is shown, when the search child has loaded.
        QTimer.singleShot(5000, measured)

    def measured() -> None:
        out["window_rss_mib"] = round(_rss_mib())
        out["window_peak_rss_mib"] = round(_rss_mib("VmHWM:"))
        QTimer.singleShot(0, app.quit)

    window.grid.first_paint.connect(painted)
    window.catalog_loaded.connect(loaded)
    QTimer.singleShot(60000, app.quit)
    app.exec()
    window.shutdown()
    print("RESULT " + json.dumps(out), flush=True)


def _rss_mib(field: str = "VmRSS:") -> float:
    """The current (VmRSS) or peak (VmHWM) resident set of this process from Linux /proc; getrusage's peak
    where that is missing (on Linux that one also counts the parent's peak from before the exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------------------------- in process


class StallMeter:
    """Event-loop lateness: a 5 ms precise timer; every tick later than planned is a stall of the UI thread."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.lateness: list[float] = []

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness.append(max(0.0, now - self.last - self.interval))
        self.last = now

    def summary(self) -> dict:
        import numpy as np

        late = np.array(self.lateness or [0.0]) * 1000
        return {
            "ticks": len(self.lateness),
            "max_ms": float(late.max()),
            "p99_ms": float(np.percentile(late, 99)),
            "over_50ms": int((late > 50).sum()),
        }


def wait_until(app, cond, timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.001)


def percentiles(values: list[float]) -> dict:
    import numpy as np

    a = np.array(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "max_ms": round(float(a.max()), 1),
    }


def in_process(db: Path, base: Path, queries: int, index_photos: int) -> dict:
    import random

    from desktop_app.core.settings import UserSettings
    from desktop_app.gui.app import freeze_startup_objects, make_app
    from desktop_app.gui.mainwindow import MainWindow

    app = make_app(["lookalike"])
    results: dict = {}
    w = MainWindow(UserSettings(batch_size=16))
    w.resize(1360, 860)
    w.show()
    freeze_startup_objects()  # as app.run() does
    t0 = time.perf_counter()
    w.open_catalog(db)
    wait_until(app, lambda: w.snapshot is not None)
    results["catalog_open_s"] = round(time.perf_counter() - t0, 2)
    meter = StallMeter()
    meter.start()
    wait_until(app, lambda: w.search.info is not None)
    meter.stop()
    results["search_ready_s"] = round(time.perf_counter() - t0, 2)
    results["stall_while_loading_vectors"] = meter.summary()
    results["articles"] = w.search.info.n_articles
    results["photos"] = w.search.info.n_photos
    results["device"] = w.search.info.device
    rng = random.Random(1)
    keys = w.snapshot.articles.keys
    shown: list = []
    w.results_shown.connect(lambda o: shown.append(o))
    latency: dict = {}
    for method in ("greedy", "centroid", "max", "hungarian", "ordered"):
        w.similar.method.setCurrentIndex(w.similar.method.findData(method))
        wait_until(app, lambda: w.search.lane._running is None)
        times, engine, steps = [], [], []
        for i in range(queries if method in ("greedy", "centroid") else max(10, queries // 3)):
            if i % 2:
                # the next article, as with an arrow key: no scrolling
                row = min(w.grid_model.rowCount() - 1, w.grid.currentIndex().row() + 1)
                article = w.grid_model.article_at(row)
            else:
                article = rng.choice(keys)  # a jump, as when clicking a result: the grid scrolls
            shown.clear()
            t = time.perf_counter()
            w.select_article(article)
            wait_until(app, lambda a=article: bool(shown) and shown[-1].query.articles == [a])
            (steps if i % 2 else times).append((time.perf_counter() - t) * 1000)
            engine.append(shown[-1].elapsed_ms)
        latency[method] = {
            "jump": percentiles(times),
            "next": percentiles(steps),
            "search_alone": percentiles(engine),
        }
    results["selection_to_results"] = latency
    # a burst: 15 selections 20 ms apart, as when an arrow key is held down
    w.similar.method.setCurrentIndex(w.similar.method.findData("greedy"))
    wait_until(app, lambda: w.search.lane._running is None)
    shown.clear()
    burst = [rng.choice(keys) for _ in range(15)]
    t = time.perf_counter()
    for article in burst:
        w.select_article(article)
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end:
            app.processEvents()
    wait_until(app, lambda: bool(shown) and shown[-1].query.articles == [burst[-1]])
    results["burst"] = {
        "selections": len(burst),
        "results_shown": len(shown),
        "last_result_after_last_selection_ms": round((time.perf_counter() - t) * 1000 - 15 * 20, 1),
    }

    # indexing: add real photos, run Update index with the bundled model, scroll meanwhile
    if index_photos > 0:
        root = w.snapshot.photo_root
        new = root / f"zz-new-{os.getpid()}"
        if new.exists():
            shutil.rmtree(new)
        sources = sorted(SAMPLE.rglob("*.jpg"))
        for i in range(index_photos):
            dst = new / f"n{i // 4:04d}" / f"{VIEWS[i % 4]}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sources[i % len(sources)], dst)
        finished: list = []
        w.index_finished.connect(finished.append)
        w.index_failed.connect(finished.append)
        scroll = w.grid.verticalScrollBar()
        from PySide6.QtCore import QTimer

        scroller = QTimer()
        scroller.setInterval(100)
        scroller.timeout.connect(lambda: scroll.setValue((scroll.value() + 300) % max(1, scroll.maximum())))
        meter = StallMeter()
        meter.start()
        scroller.start()
        t = time.perf_counter()
        w.update_index()
        wait_until(app, lambda: bool(finished), timeout=1800)
        index_s = time.perf_counter() - t
        during = meter.summary()
        meter.lateness.clear()
        wait_until(
            app,
            lambda: w.search.info is not None and w.snapshot is not None and not w.catalogs.busy(),
            timeout=600,
        )
        after = meter.summary()
        meter.stop()
        scroller.stop()
        summary = finished[0]
        results["indexing"] = {
            "new_photos": getattr(summary, "new", None),
            "seconds": round(index_s, 1),
            "photos_per_s": getattr(summary, "photos_per_s", None),
            "ui_stall_during_index": during,
            "ui_stall_reloading_after": after,
        }
        # Leave the catalog as it was: remove the added photos and let an update drop their rows.
        shutil.rmtree(new)
        finished.clear()
        w.update_index()
        wait_until(app, lambda: bool(finished), timeout=1800)
    w.close()
    app.processEvents()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="keep the synthetic catalog here and reuse it next time")
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--index-photos", type=int, default=160)
    parser.add_argument("--child-start", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(REPO))
    if args.child_start:
        child_start(args.child_start)
        return 0
    base = args.dir or Path(tempfile.mkdtemp(prefix="lookalike-gui-bench-"))
    home = Path(tempfile.mkdtemp(prefix="lookalike-gui-bench-home-"))
    os.environ["LOOKALIKE_HOME"] = str(home)  # thumbnails and settings of this run only
    try:
        db = build_catalog(base, args.photos)
        starts = []
        for _ in range(3):
            proc = subprocess.run(
                [sys.executable, __file__, "--child-start", str(db)],
                capture_output=True,
                text=True,
                timeout=300,
                env=dict(os.environ),
            )
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(proc.stderr[-2000:])
                raise SystemExit("the start-up run failed")
            starts.append(json.loads(line[7:]))
        report = {
            "start_to_first_grid_paint_s": [round(s["first_grid_paint_s"], 2) for s in starts],
            "snapshot_load_s": [s["snapshot_load_s"] for s in starts],
            "window_rss_mib": [s.get("window_rss_mib") for s in starts],
            "window_peak_rss_mib": [s.get("window_peak_rss_mib") for s in starts],
            "first_page_rows": starts[0]["rows"],
            "start_to_all_articles_shown_s": [
                round(s.get("all_articles_shown_s", float("nan")), 2) for s in starts
            ],
            "grid_rows": starts[0].get("all_rows"),
        }
        report.update(in_process(db, base, args.queries, args.index_photos))
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
