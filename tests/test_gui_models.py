"""Qt item models, thumbnail loading and the latest-request-wins lane, each on its own."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QModelIndex, Qt

from desktop_app.core.filter_text import FilterTerm, parse_filter
from desktop_app.core.overview import Articles
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule, preview_grouping
from desktop_app.core.similar import Hit, Pair
from desktop_app.core.storage import PhotoRow
from desktop_app.gui.models import (
    ArticleGridModel,
    CountRole,
    GroupingPreviewModel,
    LabelRole,
    PairsRole,
    PhotoTableModel,
    ScoreRole,
    SkippedModel,
)
from desktop_app.gui.results import SimilarModel
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Lane, Runner, Task
from tests.conftest import write_photo


def overview(n: int = 6) -> list[dict]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "article": f"sku{i:03d}",
                "folder": "shoes" if i % 2 else "bags",
                "added_at": 1000.0 + i,
                "photos": 1 + i % 3,
                "cover": f"sku{i:03d}_front.jpg",
                "errors": int(i == 4),
                "labels": {"category": "boots"} if i % 3 == 0 else {},
            }
        )
    return rows


@pytest.fixture
def loader(qtbot):
    loader = ThumbnailLoader(96, threads=2)
    yield loader
    loader.shutdown()


def test_article_grid_model_filter_sort_and_tester(qtmodeltester, loader, tmp_path):
    model = ArticleGridModel(loader)
    model.set_articles(Articles.from_overview(overview()), tmp_path)
    qtmodeltester.check(model)
    assert model.rowCount() == 6
    assert model.data(model.index(0, 0)) == "sku000"
    assert model.data(model.index(0, 0), CountRole) == 1
    assert model.data(model.index(0, 0), LabelRole) == "boots"
    model.set_filter("boots")
    assert [model.article_at(r) for r in range(model.rowCount())] == ["sku000", "sku003"]
    model.set_filter("folder:shoes")
    assert model.rowCount() == 3
    model.set_filter("id:sku00")
    assert model.rowCount() == 6
    model.set_filter("nothing-like-this")
    assert model.rowCount() == 0 and model.row_of("sku000") == -1
    # terms combine; label:FIELD=VALUE looks in that field alone, as a search's label filter does
    model.set_filter("label:Boots folder:bags")
    assert [model.article_at(r) for r in range(model.rowCount())] == ["sku000"]
    model.set_filter("label:category=boo")
    assert model.rowCount() == 2
    model.set_filter("label:colour=boots")
    assert model.rowCount() == 0
    model.set_filter("")
    model.set_sort("added")
    assert model.article_at(0) == "sku005"  # newest first
    model.set_sort("label")
    assert {model.article_at(0), model.article_at(1)} == {"sku000", "sku003"}  # labelled first
    model.set_sort("folder")
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DisplayRole).startswith("sku")
    assert model.row_of("sku003") >= 0
    qtmodeltester.check(model)


def test_parse_filter():
    assert parse_filter("Label: Boots") == [FilterTerm("label", "Boots")]
    assert parse_filter("  shoes ") == [FilterTerm("any", "shoes")]
    assert parse_filter("red label:new season FOLDER:w/b id:") == [
        FilterTerm("any", "red"),
        FilterTerm("label", "new season"),
        FilterTerm("folder", "w/b"),
    ]
    assert parse_filter("a:b relabel:x") == [FilterTerm("any", "a:b relabel:x")]  # prefixes start a word


def test_photo_table_model(qtmodeltester, loader, tmp_path):
    rows = [
        PhotoRow(1, "a", "a/front.jpg", b"a/front.jpg", 10, 1, "h", 640, 480, "front", "ok", None),
        PhotoRow(
            2,
            "a",
            "a/back.jpg",
            b"a/back.jpg",
            10,
            1,
            None,
            None,
            None,
            "back",
            "error",
            "truncated: cannot be decoded",
        ),
    ]
    model = PhotoTableModel(loader)
    model.set_photos("a", rows, tmp_path)
    qtmodeltester.check(model)
    assert model.data(model.index(0, 1)) == "front"
    assert model.data(model.index(0, 2)) == "640 × 480"
    assert model.data(model.index(1, 3)) == "truncated"
    assert model.headerData(4, Qt.Orientation.Horizontal) == "Path"


def test_similar_skipped_and_preview_models(qtmodeltester, loader, tmp_path):
    sim = SimilarModel(loader)
    # Catalog photos come relative to the photo folder, a dropped query file absolute: the model joins
    # the relative ones with the folder, so views and the thumbnail loader see absolute paths only.
    dropped = str(tmp_path / "dropped.jpg")
    sim.set_hits(
        [
            Hit("b", 1, 0.91, 3, {"category": "boots"}, "b/c.jpg", [Pair("a/q.jpg", "b/h.jpg", 0.93)]),
            Hit("c", 2, 0.52, 1, {}, None, [Pair(dropped, "c/h.jpg", 0.5)]),
        ],
        tmp_path,
    )
    qtmodeltester.check(sim)
    assert sim.data(sim.index(0, 0), ScoreRole) == pytest.approx(0.91)
    assert sim.data(sim.index(0, 0), PairsRole) == [
        (str(tmp_path / "a/q.jpg"), str(tmp_path / "b/h.jpg"), 0.93)
    ]
    assert sim.data(sim.index(1, 0), PairsRole)[0][0] == dropped
    assert sim.data(sim.index(0, 0), LabelRole) == "boots"
    assert "b/h.jpg" not in sim.data(sim.index(0, 0), Qt.ItemDataRole.ToolTipRole)  # names, not paths
    skipped = SkippedModel([{"path": "x.jpg", "reason": "truncated", "message": "cannot be decoded"}])
    qtmodeltester.check(skipped)
    assert skipped.data(skipped.index(0, 1)) == "truncated or corrupt"
    for name in ["mh01-gray_main", "mh01-gray_back", "odd name"]:
        write_photo(tmp_path / "p" / f"{name}.jpg")
    preview = GroupingPreviewModel()
    preview.set_preview(preview_grouping(tmp_path / "p", GroupingRule("pattern", MAGENTO_PATTERN), 10))
    qtmodeltester.check(preview)
    assert "form 2 articles" in preview.summary()
    empty = GroupingPreviewModel()
    qtmodeltester.check(empty)
    assert empty.summary() == "No photos found in this folder."


def test_thumbnail_loader_delivers_off_the_ui_thread(qtbot, loader, tmp_path):
    good = write_photo(tmp_path / "good.jpg", size=(300, 200))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage")
    assert loader.get(good) is None  # a miss never blocks: it queues
    with qtbot.waitSignal(loader.ready, check_params_cb=lambda p: p == str(good), timeout=10000):
        pass
    pix = loader.get(good)
    assert pix is not None and max(pix.width(), pix.height()) == 96
    assert loader.get(bad) is None
    qtbot.waitUntil(lambda: loader.is_broken(bad), timeout=10000)
    assert loader.get(bad) is not None  # the "cannot show photo" tile


def test_thumbnail_bug_is_logged_and_shown_as_broken(qtbot, loader, tmp_path, monkeypatch, caplog):
    # A bug in the thumbnail code is not a broken photo: it leaves a traceback in the log (the crash log in
    # the app), while the other photos' thumbnails keep coming.
    from desktop_app.core import thumbnails

    photo = write_photo(tmp_path / "fine.jpg")

    def buggy(path, size, root=None, offline_copy=True):
        raise KeyError("a bug, not a photo problem")

    monkeypatch.setattr(thumbnails, "thumbnail", buggy)
    loader.get(photo)
    qtbot.waitUntil(lambda: loader.is_broken(photo), timeout=10000)
    failures = [r for r in caplog.records if r.name == "desktop_app.gui.thumbs" and r.exc_info]
    assert failures and failures[0].exc_info[0] is KeyError and str(photo) in failures[0].getMessage()


def test_a_thumbnail_loop_that_cannot_deliver_still_lets_the_next_loops_start(qtbot, tmp_path):
    # A loop whose delivery fails (the loader's Qt side deleted under it) must count itself off: with one
    # thread, a loop still counted as running would mean no later request is ever served.
    single = ThumbnailLoader(96, threads=1)
    real = single._bridge

    class GoneOnce:
        """The bridge as a deleted Qt object looks to the first delivery, then the real one again."""

        def __init__(self) -> None:
            self.gone = True

        @property
        def loaded(self):
            if self.gone:
                self.gone = False
                raise RuntimeError("Internal C++ object (_Bridge) already deleted.")
            return real.loaded

    single._bridge = GoneOnce()
    first, second = write_photo(tmp_path / "first.jpg"), write_photo(tmp_path / "second.jpg", seed=1)
    try:
        single.get(first)
        qtbot.waitUntil(lambda: single.pending() == 0, timeout=10000)
        assert single.get(first) is None  # its thumbnail never arrived
        with qtbot.waitSignal(single.ready, check_params_cb=lambda p: p == str(second), timeout=10000):
            single.get(second)
        assert single.get(second) is not None
    finally:
        single.shutdown()


def test_engine_client_calls_the_engine_that_open_installs():
    # open() on one worker replaces the engine under the client's lock; a call on another worker takes the
    # reference under that lock too, so it waits for the open and asks the new engine, never the old one.
    from desktop_app.gui.search_controller import EngineClient

    class Fake:
        def __init__(self, name: str) -> None:
            self.name = name

        def call(self, verb, *args, **kwargs):
            return self.name

    client = EngineClient(in_subprocess=False)
    client._engine = Fake("old")
    answers: list[str] = []
    with client._lock:  # an open() in progress
        caller = threading.Thread(target=lambda: answers.append(client.call("similar")))
        caller.start()
        caller.join(0.3)
        assert caller.is_alive() and answers == []
        client._engine = Fake("new")
    caller.join(10)
    assert answers == ["new"]


def test_lane_drops_stale_results(qtbot):
    runner = Runner(1)
    lane = Lane(runner)
    gate = threading.Event()
    seen: list[tuple[int, object]] = []
    lane.result.connect(lambda g, v: seen.append((g, v)))

    def slow(value):
        gate.wait(5)
        return value

    lane.submit(lambda: slow("first"))
    for i in range(5):
        lane.submit(lambda i=i: f"stale {i}")
    last = lane.submit(lambda: "newest")
    gate.set()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    qtbot.waitUntil(lambda: lane._running is None, timeout=5000)
    assert seen == [
        (last, "newest")
    ]  # the running "first" finished but was dropped; queued stale ones never ran
    runner.shutdown()


def test_task_failure_reaches_the_ui_thread(qtbot):
    runner = Runner(1)
    failures = []

    def boom():
        raise ValueError("broken on purpose")

    task = Task(boom)
    with qtbot.waitSignal(task.signals.finished, timeout=5000):
        runner.start(task, on_failed=failures.append)
    assert isinstance(failures[0].error, ValueError) and "broken on purpose" in failures[0].traceback
    runner.shutdown()


def test_articles_orders_scale(qtbot):
    # The grid's sort orders and filter of 100,000 articles are arrays (their speed is measured by
    # benchmarks/gui_bench.py); here: the filter finds exactly the matching rows and no row has children.
    n = 100_000
    rows = [
        {
            "article": f"a{i:06d}",
            "folder": f"f{i % 97}",
            "added_at": float(i % 1000),
            "photos": 1,
            "cover": f"a{i:06d}.jpg",
            "errors": 0,
            "labels": {"category": f"c{i % 13}"} if i % 2 else {},
        }
        for i in range(n)
    ]
    arts = Articles.from_overview(rows)
    model = ArticleGridModel(None)
    model.set_articles(arts, Path("/photos"))
    model.set_filter("c7")
    assert model.rowCount() == sum(1 for i in range(n) if i % 2 and i % 13 == 7)
    assert isinstance(model.visible, np.ndarray)
    assert model.rowCount(model.index(0, 0)) == 0 and model.rowCount(QModelIndex()) > 0


def test_suggested_grouping_rule(tmp_path):
    from desktop_app.gui.grouping import suggest_rule

    shop = tmp_path / "shop"
    for name in ["m/h/mh01-gray_main", "m/h/mh01-gray_back", "m/h/mh02-red_main", "w/b/wb01-black_main"]:
        write_photo(shop / f"{name}.jpg")
    assert suggest_rule(shop).kind == "pattern"
    cameras = tmp_path / "cameras"
    for folder in ["sku1", "sku2", "sku3"]:
        for i in range(2):
            write_photo(cameras / folder / f"IMG_{folder}{i}.jpg")
    assert suggest_rule(cameras).kind == "folder"
    plain = tmp_path / "plain"
    for folder in ["a", "b"]:
        write_photo(plain / folder / "front.jpg")
    assert suggest_rule(plain).kind == "folder"


def test_many_emits_and_index_data_calls_do_not_exhaust_refcounts(qtbot):
    # PySide6 6.12 on CPython 3.11 loses a reference to True per emit and to None per index.data() that
    # returns nothing; desktop_app.gui guards against it at import (qtcompat.protect_refcounts).
    import sys

    from PySide6.QtCore import QObject, Signal

    from desktop_app.gui import qtcompat

    class Source(QObject):
        ping = Signal(int)

    before = {"None": sys.getrefcount(None), "True": sys.getrefcount(True)}
    src = Source()
    for _ in range(30000):
        src.ping.emit(1)
    model = ArticleGridModel(None)
    model.set_articles(Articles.from_overview(overview(3)), None)
    index = model.index(0, 0)
    for _ in range(30000):
        index.data(Qt.ItemDataRole.DecorationRole)
    after = {"None": sys.getrefcount(None), "True": sys.getrefcount(True)}
    for name in before:
        # Either nothing was lost (a fixed PySide6, or immortal objects), or the guard is on and the count is
        # still far above what any session can lose: never a count heading for zero.
        kept = before[name] - after[name] < 1000
        guarded = qtcompat._protected and after[name] > qtcompat.EXTRA_REFERENCES // 2
        assert kept or guarded, f"{name} lost {before[name] - after[name]} references with no guard"


def test_similar_panel_offers_the_cores_methods_and_edits_search_settings(qtbot, loader):
    from desktop_app.core import matching
    from desktop_app.core.settings import SearchSettings
    from desktop_app.gui.similar_panel import SimilarPanel

    panel = SimilarPanel(loader)
    qtbot.addWidget(panel)
    assert [panel.method.itemData(i) for i in range(panel.method.count())] == list(matching.METHODS)
    # Showing settings emits nothing; an edit emits the whole new SearchSettings.
    edits = []
    panel.params_edited.connect(edits.append)
    panel.set_params(SearchSettings("hungarian", 0.6, 2, 25))
    assert edits == [] and panel.params() == SearchSettings("hungarian", 0.6, 2, 25)
    panel.max_matches.setValue(0)  # "all"
    assert edits == [SearchSettings("hungarian", 0.6, None, 25)]
    panel.method.setCurrentIndex(panel.method.findData("centroid"))
    assert edits[-1].method == "centroid" and not panel.threshold.isEnabled()


def test_runner_starts_nothing_after_shutdown(qtbot):
    runner = Runner(1)
    runner.shutdown()
    ran = []
    runner.call(lambda: ran.append(1))
    assert runner.pool.activeThreadCount() == 0 and not runner.busy()
    assert ran == []


def test_grid_repaints_a_cell_when_its_cover_thumbnail_arrives(qtbot, loader, tmp_path):
    rows = overview(3)
    for r in rows:
        write_photo(tmp_path / r["cover"], seed=len(r["cover"]))
    model = ArticleGridModel(loader)
    model.set_articles(Articles.from_overview(rows), tmp_path)
    model.set_sort("added")  # row 0 is now the newest article, sku002
    index = model.index(0, 0)
    assert model.data(index, Qt.ItemDataRole.DecorationRole) is None  # queued, not blocking
    with qtbot.waitSignal(
        model.dataChanged, timeout=10000, check_params_cb=lambda a, b, roles: a.row() == 0
    ) as blocker:
        pass
    assert blocker.args[0] == index
    assert model.data(index, Qt.ItemDataRole.DecorationRole) is not None
    assert model.cover_path(2) == str(tmp_path / "sku002_front.jpg")
