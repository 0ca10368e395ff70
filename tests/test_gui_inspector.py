"""The match inspector (issue 6): model, live s and m, method switch, hover, headers, export, opening.

The worked example of the article-similarity issue is the main fixture: its greedy picks, unused column and
scores are known by hand. A few tests open the inspector on a real catalog (a subset of the bundled sample
photos, embedded with the tiny test model) the way the main window does. Tests wait on signals, never sleep.
"""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from desktop_app.core import matching
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.indexer import IndexOptions
from desktop_app.core.inspect import compare_line, render_png
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.settings import SearchSettings
from desktop_app.gui.inspector import InspectorWidget, inspection_from_matrix, summary_html
from desktop_app.gui.inspector_model import (
    BELOW,
    BEYOND,
    USED,
    GreyRole,
    HighlightRole,
    MatrixModel,
    PairRole,
    ValueRole,
    cell_sim,
    colour_range,
    format_sim,
    photo_name,
)
from desktop_app.gui.inspector_window import open_inspector
from desktop_app.gui.qtcompat import protect_refcounts, refcount_leak
from tests.conftest import SAMPLE_PHOTOS, bundled_sample_photos

T = 20_000  # ms; generous for a loaded CI machine, never reached when things work

WORKED = [
    [0.837, 0.835, 0.747, 0.703, 0.698],
    [0.803, 0.799, 0.838, 0.760, 0.769],
    [0.772, 0.752, 0.794, 0.761, 0.796],
    [0.787, 0.785, 0.794, 0.866, 0.881],
]


@pytest.fixture
def worked(qtbot):
    w = InspectorWidget(
        inspection_from_matrix(WORKED, "query", "candidate"), method="greedy", compare="hungarian"
    )
    qtbot.addWidget(w)
    w.resize(1300, 600)
    w.show()
    qtbot.waitExposed(w)
    return w


def states(model: MatrixModel) -> dict[tuple[int, int], tuple[int, int]]:
    """(row, col) -> (rank, state) of every marked cell, read through the model's public role."""
    out = {}
    for i in range(model.rowCount()):
        for j in range(model.columnCount()):
            pair = model.data(model.index(i, j), PairRole)
            if pair is not None:
                out[(i, j)] = pair[:2]
    return out


# ---------------------------------------------------------------------- model


def test_model_passes_qtmodeltester(qtmodeltester):
    ins = inspection_from_matrix(WORKED)
    model = MatrixModel(ins, "greedy")
    qtmodeltester.check(model)
    # The tester keeps watching: decorations changing under it must still be consistent.
    ins.threshold, ins.max_matches = 0.8, 2
    from desktop_app.core.inspect import rescore

    rescore(ins)
    model.refresh()
    model.set_method("hungarian")
    model.set_highlight(1, 2)
    qtmodeltester.check(model)
    empty = MatrixModel(inspection_from_matrix(np.zeros((0, 3))), "greedy")
    qtmodeltester.check(empty)


def test_model_roles_and_colours():
    ins = inspection_from_matrix(WORKED)
    model = MatrixModel(ins, "greedy")
    ix = model.index(3, 4)
    assert model.data(ix) == ".881"
    assert model.data(ix, ValueRole) == pytest.approx(0.881)
    # The darkest cell is the largest value; white ink on it, dark ink on the palest.
    assert (
        model.data(ix, Qt.ItemDataRole.BackgroundRole).lightness()
        < model.data(model.index(0, 4), Qt.ItemDataRole.BackgroundRole).lightness()
    )
    assert model.data(ix, Qt.ItemDataRole.ForegroundRole).lightness() > 200
    assert model.data(model.index(0, 4), Qt.ItemDataRole.ForegroundRole).lightness() < 60
    assert "pair 1" in model.data(ix, Qt.ItemDataRole.ToolTipRole)
    assert model.headerData(1, Qt.Orientation.Horizontal) == "B2"
    assert model.headerData(1, Qt.Orientation.Horizontal, GreyRole) is True
    assert colour_range(np.array([[0.5]])) == pytest.approx((0.475, 0.525))  # a 1x1 matrix still has a scale
    # One format: three decimals with the leading zero; matrix cells all drop it, for room.
    assert (
        format_sim(0.8371) == "0.837" and format_sim(-0.12) == "-0.120" and format_sim(float("-inf")) == "n/a"
    )
    assert cell_sim(0.8371) == ".837" and cell_sim(-0.12) == "-.120" and cell_sim(1.0) == "1.000"
    assert photo_name("w/j/wj08-gray_back.jpg") == "wj08-gray_back"
    assert photo_name("cand. photo 5") == "cand. photo 5"


# ---------------------------------------------------------------------- the worked example


def test_worked_example_greedy_picks_order_and_unused_column(worked):
    model = worked.panes[0].model
    # Greedy: (4,5) .881, (2,3) .838, (1,1) .837, (3,4) .761 in that order; column 2 unused.
    assert states(model) == {(3, 4): (1, USED), (1, 2): (2, USED), (0, 0): (3, USED), (2, 3): (4, USED)}
    assert [model.pair_at(*rc)[2] for rc in [(3, 4), (1, 2), (0, 0), (2, 3)]] == ["(1)", "(2)", "(3)", "(4)"]
    assert [model.data(model.index(0, j), GreyRole) for j in range(5)] == [False, True, False, False, False]
    assert not any(model.row_greyed(i) for i in range(4))
    text = worked.panes[0].summary.text()
    for part in (
        "score <b>0.829</b>",
        "4 of 4 chosen pairs count",
        "best (4, 5) 0.881",
        "worst (3, 4) 0.761",
        "unpaired: column 2",
    ):
        assert part in text
    assert worked.compare_label.text() == compare_line(worked.inspection)
    assert "its worst pair 0.796 vs greedy's 0.761" in worked.compare_label.text()


def test_switch_method_and_side_by_side(worked, qtbot):
    with qtbot.waitSignal(worked.updated, timeout=T):
        worked.method_box.setCurrentIndex(worked.methods.index("hungarian"))
    model = worked.panes[0].model
    assert model.method == "hungarian"
    assert set(states(model)) == {(3, 3), (1, 2), (0, 0), (2, 4)}
    # Hungarian's pairs are one choice, not a sequence: no pick numbers on them.
    assert model.pair_at(3, 3)[2] == ""
    assert "score <b>0.834</b>" in worked.panes[0].summary.text()
    assert not worked.panes[1].isVisible()
    worked.set_method("greedy")
    with qtbot.waitSignal(worked.updated, timeout=T):
        qtbot.mouseClick(
            worked.side_check, Qt.MouseButton.LeftButton, pos=QPoint(4, worked.side_check.height() // 2)
        )
    assert worked.side_check.isChecked() and worked.panes[1].isVisible()
    assert worked.methods_shown == ["greedy", "hungarian"]
    assert (2, 4) in states(worked.panes[1].model) and (2, 4) not in states(worked.panes[0].model)
    # "Ordered" needs view tags: the worked example has none, so it is not offered.
    assert "ordered" not in worked.methods and "max" in worked.methods
    with pytest.raises(ValueError):
        worked.set_method("centroid")  # needs the photo vectors, which a bare matrix does not have


def test_moving_s_strikes_pairs_below_it(worked, qtbot):
    model = worked.panes[0].model
    with qtbot.waitSignal(worked.updated, timeout=T):
        worked.s_spin.setValue(0.80)
    assert worked.inspection.threshold == pytest.approx(0.80)
    assert worked.s_slider.value() == 800
    assert states(model)[(2, 3)] == (4, BELOW)
    expected = matching.greedy(np.array(WORKED, np.float32), 0.80).score
    assert worked.inspection.results["greedy"].score == pytest.approx(expected)
    assert f"score <b>{expected:.3f}</b>" in worked.panes[0].summary.text()
    assert "1 below s" in worked.panes[0].summary.text()
    # The slider drives the same path.
    with qtbot.waitSignal(worked.updated, timeout=T):
        worked.s_slider.setValue(850)
    assert worked.s_spin.value() == pytest.approx(0.85)
    assert [s for (_r, s) in states(model).values()].count(USED) == 1
    worked.set_threshold(0.95)
    assert "No chosen pair reaches s = 0.950" in worked.panes[0].summary.text()
    assert worked.inspection.results["greedy"].score == matching.NO_PASS_SCORE
    worked.set_threshold(None)
    assert worked.s_spin.value() == 0 and worked.s_spin.text() == "off"
    assert all(s == USED for (_r, s) in states(model).values())


def test_moving_m_marks_pairs_beyond_it(worked, qtbot):
    model = worked.panes[0].model
    with qtbot.waitSignal(worked.updated, timeout=T):
        worked.m_spin.setValue(2)
    assert states(model) == {(3, 4): (1, USED), (1, 2): (2, USED), (0, 0): (3, BEYOND), (2, 3): (4, BEYOND)}
    assert worked.inspection.results["greedy"].score == pytest.approx((0.881 + 0.838) / 2, abs=1e-6)
    assert "2 beyond m" in worked.panes[0].summary.text()
    # s and m together: .838 and .837 pass s = .8, .761 does not; m = 2 keeps the two best passing pairs.
    worked.set_threshold(0.8)
    worked.set_max_matches(2)
    assert states(model)[(2, 3)] == (4, BELOW) and states(model)[(0, 0)] == (3, BEYOND)
    with qtbot.waitSignal(worked.updated, timeout=T):
        worked.m_spin.setValue(0)
    assert worked.m_spin.text() == "all" and worked.inspection.max_matches is None


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (6, 6), (12, 9)])
def test_marks_are_exactly_the_cores_pairs(qtbot, shape):
    """Whatever s and m, every pane shows the pairs and reasons of desktop_app.core.matching, nothing else."""
    rng = np.random.default_rng(sum(shape))
    S = np.clip(0.7 + 0.12 * rng.standard_normal(shape), -1, 1).astype(np.float32)
    views = (
        [["front", "back", None][k % 3] for k in range(shape[0])],
        [["back", "front"][k % 2] for k in range(shape[1])],
    )
    w = InspectorWidget(inspection_from_matrix(S, views_a=views[0], views_b=views[1]), side_by_side=True)
    qtbot.addWidget(w)
    assert "ordered" in w.methods
    for s, m in [(None, None), (0.7, None), (None, 2), (0.75, 1), (0.99, 3)]:
        w.set_threshold(s)
        w.set_max_matches(m)
        for method in ("greedy", "hungarian", "ordered", "max"):
            w.set_compare_method(method)
            res = matching.match(method, S, views[0], views[1], s, m)
            want = {
                (p.row, p.col): (
                    p.rank,
                    {"": USED, matching.BELOW_THRESHOLD: BELOW, matching.BEYOND_M: BEYOND}[p.reason],
                )
                for p in res.pairs
            }
            assert states(w.panes[1].model) == want, (method, s, m)
            if np.isfinite(res.score):
                assert f"score <b>{res.score:.3f}</b>" in w.panes[1].summary.text()


# ---------------------------------------------------------------------- hover, headers, zoom


def test_hover_shows_both_photos_and_the_score(worked, qtbot):
    view = worked.panes[0].view
    rect = view.visualRect(view.model().index(2, 4))
    # From another cell first: a pointer already resting on the cell (an earlier test) sends no move.
    qtbot.mouseMove(view.viewport(), view.visualRect(view.model().index(0, 0)).center())
    with qtbot.waitSignal(view.hovered, timeout=T) as hovered:
        qtbot.mouseMove(view.viewport(), rect.center())
    assert hovered.args == [2, 4]
    assert worked.hover.cell == (2, 4)
    assert ".796" in worked.hover.score.text()
    assert "not paired" in worked.hover.score.text()  # greedy leaves (3, 5) alone
    assert "column 5" in worked.hover.captions[1].text()
    # Without photos the two large images show the names instead.
    assert worked.hover.images[0].text() == "A3" and worked.hover.images[1].text() == "B5"


def test_clicking_a_header_highlights_and_shows_the_path(worked, qtbot):
    header = worked.panes[0].view.horizontalHeader()
    pos = QPoint(header.sectionViewportPosition(1) + header.sectionSize(1) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    model = worked.panes[0].model
    assert model.highlight == (None, 1)
    assert model.data(model.index(0, 1), HighlightRole) and not model.data(model.index(0, 2), HighlightRole)
    assert model.headerData(1, Qt.Orientation.Horizontal, HighlightRole)
    assert "column 2" in worked.selected.text() and "B2" in worked.selected.text()
    rows = worked.panes[0].view.verticalHeader()
    qtbot.mouseClick(
        rows.viewport(),
        Qt.MouseButton.LeftButton,
        pos=QPoint(rows.width() // 2, rows.sectionViewportPosition(3) + 5),
    )
    assert model.highlight == (3, 1)
    assert worked.panes[1].model.highlight == (3, 1)  # both panes follow
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # a second click clears
    assert model.highlight == (3, None)


def test_large_matrix_zoom_and_fit(qtbot):
    rng = np.random.default_rng(1)
    w = InspectorWidget(inspection_from_matrix(np.clip(0.7 + 0.1 * rng.standard_normal((40, 40)), -1, 1)))
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    view = w.panes[0].view
    assert w.cell == 28 and view.horizontalHeader().sectionSize(0) == 28
    assert view.horizontalScrollBar().maximum() > 0  # 40 columns do not fit: it scrolls
    w.zoom_by(1)
    assert w.cell > 28 and view.horizontalHeader().sectionSize(39) == w.cell
    w.fit()
    assert w.cell * 40 <= view.viewport().width() + w.cell  # the whole row fits (or the minimum size is hit)
    w.set_cell_size(8)
    assert w.cell == 16  # never below the minimum
    assert not w.grab().isNull()


def test_fit_fills_a_large_window_with_a_small_matrix_and_shows_the_best_pair(qtbot):
    """A 1 x 2 matrix sat at 160 px cells in a corner of a 1300 x 840 window, beside an empty photo panel."""
    w = InspectorWidget(inspection_from_matrix([[0.61, 0.83]]))
    qtbot.addWidget(w)
    assert w.hover.cell == (0, 1) and ".830" in w.hover.score.text()  # the best pair, before any hover
    w.resize(1300, 840)
    w.show()
    qtbot.waitExposed(w)
    w.fit_to_window()
    assert w.cell > 160 and w.panes[0].view.horizontalHeader().sectionSize(1) == w.cell


# ---------------------------------------------------------------------- export


def test_export_csv_and_png(worked, tmp_path, qtbot):
    out = worked.export_csv(tmp_path / "m.csv")
    worked.inspection.write_csv(tmp_path / "core.csv")
    assert out.read_text() == (tmp_path / "core.csv").read_text()
    rows = list(csv.reader(out.open()))
    assert rows[0][1:] == ["B1", "B2", "B3", "B4", "B5"] and rows[4][5] == "0.8810"
    single = QImage(str(worked.export_png(tmp_path / "one.png")))
    worked.set_side_by_side(True)
    double = QImage(str(worked.export_png(tmp_path / "two.png")))
    assert not single.isNull() and not double.isNull()
    # Every cell is in the picture (no scrolling) and the second method adds a second matrix.
    assert single.width() >= 5 * worked.cell and single.height() >= 4 * worked.cell
    assert double.width() >= single.width() + 5 * worked.cell - 50


def test_cli_png_draws_several_methods_side_by_side(tmp_path):
    ins = inspection_from_matrix(WORKED, threshold=0.8, max_matches=2)
    from PIL import Image

    one = Image.open(render_png(ins, "greedy", tmp_path / "g.png"))
    two = Image.open(render_png(ins, "greedy,hungarian", tmp_path / "gh.png"))
    assert two.width > 2 * one.width - 40 and two.height == one.height
    with pytest.raises(Exception, match="Unknown method"):
        render_png(ins, "greedy,nope", tmp_path / "x.png")


def test_cli_png_draws_names_for_photos_it_cannot_read(tmp_path, monkeypatch):
    from PIL import Image

    from tests.conftest import write_photo

    write_photo(tmp_path / "shop" / "A1.jpg", size=(200, 200))
    (tmp_path / "shop" / "B1.jpg").write_bytes(b"not a jpeg")  # broken; A2 and B2..B5 are missing
    names_a, names_b = ["A1.jpg", "A2.jpg", "A3.jpg", "A4.jpg"], [f"B{j}.jpg" for j in range(1, 6)]
    ins = inspection_from_matrix(WORKED, names_a=names_a, names_b=names_b, threshold=0.8)
    out = render_png(ins, "greedy", tmp_path / "m.png", photo_root=tmp_path / "shop")
    assert Image.open(out).size[0] > 5 * 72
    # A bug is not a missing photo: it is not swallowed into a header with no thumbnail.
    from desktop_app.core import images

    def buggy(data, min_size=None, shrink=None):
        raise KeyError("a bug in the decoding code")

    monkeypatch.setattr(images, "load_photo", buggy)
    with pytest.raises(KeyError):
        render_png(ins, "greedy", tmp_path / "bug.png", photo_root=tmp_path / "shop")


# ---------------------------------------------------------------------- opening from a catalog


@pytest.fixture
def sample_catalog(tmp_path, tiny_model):
    """Jackets and hoodies of the sample, plus one article whose only photo is broken and one half broken."""
    bundled_sample_photos()
    root = tmp_path / "photos"
    for sub in ("w/j", "w/h"):
        shutil.copytree(SAMPLE_PHOTOS / sub, root / sub)
    (root / "w/j/wj99-red_main.jpg").write_bytes(b"this is not a photo")
    (root / "w/h/wh02-blue_zoom.jpg").write_bytes(b"")
    db = tmp_path / "c.sqlite"
    index_photos(
        db,
        root,
        rule=GroupingRule("pattern", MAGENTO_PATTERN),
        model=tiny_model,
        options=IndexOptions(batch_size=8, workers=1),
    )
    engine = Engine.open(db, remember=False)
    yield engine
    engine.close()


def _open(qtbot, engine, a, b, **kw):
    window = open_inspector(None, engine, a, b, **kw)
    qtbot.addWidget(window)
    return window


def test_open_inspector_on_a_catalog(qtbot, sample_catalog):
    window = _open(qtbot, sample_catalog, "wh02-blue", "wj08-gray", method="hungarian", threshold=0.5)
    with qtbot.waitSignal(window.ready, timeout=T):
        pass
    w = window.inspector
    assert w is not None and window.isVisible() and not window.isModal()
    assert w.inspection.matrix.shape == (3, 4)
    assert w.panes[0].method == "hungarian" and w.inspection.threshold == 0.5
    assert "centroid" in w.methods and "ordered" in w.methods  # vectors and view tags are there
    w.set_method("centroid")
    assert "s and m do not apply" in w.panes[0].summary.text()
    # The half-broken article says which photo takes no part, and why.
    assert w.banner.isVisibleTo(w) and "wh02-blue_zoom.jpg" in w.banner.text()
    if w.thumbnails_pending:
        with qtbot.waitSignal(w.thumbnails_ready, timeout=T):
            pass
    assert set(w.thumbs) == set(w.inspection.paths_a + w.inspection.paths_b)
    assert not w.thumbs[w.inspection.paths_a[0]].isNull()
    w.show_cell(0, 0)
    if w.thumbnails_pending:
        with qtbot.waitSignal(w.thumbnails_ready, timeout=T):
            pass
    assert not w.hover.images[0].pixmap().isNull()
    window.close()
    # Nothing outlives the window.
    assert w.loader.pool.activeThreadCount() == 0 and window.worker.pool.activeThreadCount() == 0


@pytest.mark.parametrize(
    "article, words",
    [
        ("wj99-red", ["no embedded photo", "1 photos failed to embed", "wj99-red_main.jpg"]),
        ("nowhere-0", ["not in this catalog"]),
    ],
)
def test_clear_message_instead_of_the_matrix(qtbot, sample_catalog, article, words):
    window = _open(qtbot, sample_catalog, article, "wj08-gray")
    with qtbot.waitSignal(window.ready, timeout=T):
        pass
    assert window.inspector is None
    shown = window.status.text()
    assert "Nothing to compare" in shown
    for word in words:
        assert word in shown


def test_inspector_defaults_come_from_the_catalog(qtbot, sample_catalog):
    sample_catalog.update_settings(search=SearchSettings("ordered", 0.3, 2))
    window = _open(qtbot, sample_catalog, "wj04-white", "wj08-gray")
    with qtbot.waitSignal(window.ready, timeout=T):
        pass
    w = window.inspector
    assert w.panes[0].method == "ordered"
    assert (w.inspection.threshold, w.inspection.max_matches) == (0.3, 2)
    assert w.s_spin.value() == pytest.approx(0.3) and w.m_spin.value() == 2


def test_inspector_uses_the_tuned_settings_and_reads_two_articles_only(qtbot, sample_catalog, monkeypatch):
    # What `lookalike tune` stores: the inspector opens with it, not with greedy and no s or m.
    sample_catalog.update_settings(search=SearchSettings("hungarian", 0.6, 2))
    read: list = []
    real = sample_catalog.catalog.article_vectors
    monkeypatch.setattr(
        sample_catalog.catalog, "article_vectors", lambda mid, arts=None: read.append(arts) or real(mid, arts)
    )
    window = _open(qtbot, sample_catalog, "wj04-white", "wj08-gray")
    with qtbot.waitSignal(window.ready, timeout=T):
        pass
    w = window.inspector
    assert w.panes[0].method == "hungarian"
    assert (w.inspection.threshold, w.inspection.max_matches) == (0.6, 2)
    assert w.s_spin.value() == pytest.approx(0.6) and w.m_spin.value() == 2
    assert window.comparison.params == SearchSettings("hungarian", 0.6, 2)
    assert w.inspection.results["hungarian"].score == pytest.approx(
        matching.match(
            "hungarian", w.inspection.matrix, w.inspection.views_a, w.inspection.views_b, 0.6, 2
        ).score
    )
    # The window process read the vectors of these two articles and nothing else.
    assert read and all(arts is not None and set(arts) == {"wj04-white", "wj08-gray"} for arts in read)
    # Moving m stores it as the catalog's (after a short pause, as a slider is dragged).
    with qtbot.waitSignal(window.settings_changed, timeout=T):
        w.set_max_matches(1)
    assert sample_catalog.settings().search == SearchSettings("hungarian", 0.6, 1)


def test_summary_of_an_empty_article():
    ins = inspection_from_matrix(np.zeros((0, 2), np.float32))
    assert "score <b>n/a</b>" in summary_html(ins, "greedy")


def test_none_guard_is_active_where_pyside_needs_it():
    # Importing the inspector turns the guard on when this PySide6 build drops references to None.
    protect_refcounts()
    from PySide6.QtCore import QRect

    r = QRect()
    for _ in range(20_000):  # several times None's natural reference count on CPython 3.11
        r.setWidth(1)
    assert protect_refcounts() or not refcount_leak()
