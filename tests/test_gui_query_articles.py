"""What a question of several articles compares, and what an article's detail page asks (the curator probe
of issues 12/13/16): the inspector on a result of several query articles compares the query article closest
to it, and says which; opening an article's page keeps the article's question until a photo is picked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.core.engine import search as search_room
from tests.test_gui import T
from tests.test_gui_curator import active, card_centre, sample_window


def closest_by_inspection(engine, query: list[str], result: str) -> str:
    """The closest query article worked out the inspector's way: each pair inspected on its own."""
    method = engine.search_settings().method
    return max(query, key=lambda a: engine.inspect(a, result).results[method].score)


def test_the_inspector_on_a_result_of_several_articles_compares_the_closest_and_says_so(
    qtbot, window, sample_copy, monkeypatch
):
    w = sample_window(qtbot, window, sample_copy)
    engine = w.snapshot.engine
    keys = list(w.snapshot.articles.keys)
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_articles(keys[:6])
    outcome = blocker.args[0]
    query = list(outcome.query.articles)
    assert len(query) == 6 and outcome.query.title() == "Similar to 6 articles together"
    # A result whose closest query article is not the first one (the one the inspector used to take).
    row, hit, closest = next(
        (i, h.article, c)
        for i, h in enumerate(outcome.hits)
        if (c := closest_by_inspection(engine, query, h.article)) != query[0]
    )
    active(qtbot, w)
    view = w.similar.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, row))
    assert w.similar.selected_hit() == hit
    before = w.inspector_window
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.inspector_window is not before, timeout=T)
    inspector = w.inspector_window
    assert (inspector.article_a, inspector.article_b) == (closest, hit)
    assert inspector.windowTitle().endswith(f"{closest} vs {hit}, the closest of the 6 query articles")
    qtbot.waitUntil(lambda: inspector.inspector is not None, timeout=T)  # its matrix is on show
    assert inspector.inspector.isVisible()
    inspector.close()

    # The engine's answer, scored against each pair inspected on its own; a query past the cap is scored
    # in part, and the note says so.
    answer = engine.closest_query_article(query, hit)
    method = engine.search_settings().method
    assert answer.article == closest and (answer.scored, answer.total) == (6, 6)
    assert answer.score == pytest.approx(engine.inspect(closest, hit).results[method].score)
    monkeypatch.setattr(search_room, "CLOSEST_SCORED_AT_MOST", 2)
    capped = engine.closest_query_article(query, hit)
    assert capped.article == closest_by_inspection(engine, query[:2], hit)
    assert capped.note() == "the closest of the first 2 of the 6 query articles"


def test_compare_photos_without_pairs_shows_the_closest_query_articles_cover(qtbot, window, sample_copy):
    # Centroid scores have no photo pairs: Compare photos shows the two covers, the query's being the
    # cover of its article closest to the result (it was the first query article's).
    w = sample_window(qtbot, window, sample_copy)
    engine = w.snapshot.engine
    keys = list(w.snapshot.articles.keys)
    with qtbot.waitSignal(w.results_shown, timeout=T):
        w.select_articles(keys[:6])
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.similar.method.setCurrentIndex(w.similar.method.findData("centroid"))
    outcome = blocker.args[0]
    assert outcome.params.method == "centroid" and not any(h.pairs for h in outcome.hits)
    query = list(outcome.query.articles)
    row, hit, closest = next(
        (i, h.article, c)
        for i, h in enumerate(outcome.hits)
        if (c := closest_by_inspection(engine, query, h.article)) != query[0]
    )
    qtbot.mouseClick(w.similar.view.viewport(), Qt.MouseButton.LeftButton, pos=card_centre(w, row))
    qtbot.mouseClick(w.similar.compare_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.articles.lightbox is not None, timeout=T)
    box = w.articles.lightbox
    assert box.windowTitle() == f"Compare {closest} (the closest of the 6 query articles) and {hit}"
    [(mine, theirs)] = box.items
    assert mine.path == w.articles.absolute(w.articles.cover_of(closest))
    box.close()


def test_opening_an_article_keeps_its_question_until_a_photo_is_picked(qtbot, window, sample_copy):
    # Enter in the grid opened the page with its first photo selected, which asked about that photo (a
    # close-up detail shot): the results the curator was looking at changed.
    w = sample_window(qtbot, window, sample_copy)
    article = "wj08-gray"  # its photos: a detail crop (alt1) sorts first, the cover is the main view
    before = [h.article for h in show_results_of(qtbot, w, article).hits]
    active(qtbot, w)
    w.grid.setFocus()
    with qtbot.waitSignal(w.detail_loaded, timeout=T):
        qtbot.keyClick(w.grid, Qt.Key.Key_Return)
    q = w.search.query  # a photo question would have been asked as the row was selected, before this
    assert q is not None
    assert q.kind == "articles" and q.articles == [article]
    assert [h.article for h in w.similar.model.hits] == before
    # The cover's row is selected for the keys, and the keys work on it.
    table, rows = w.detail.table, w.detail.model.rows
    assert QApplication.focusWidget() is table and w.detail.current_rel() == w.detail.model.cover
    assert rows[0].path != w.detail.model.cover and w.detail.open_btn.isEnabled()
    # A click on the selected (cover) row picks it: its question is asked.
    cover_row = table.currentIndex().row()
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        qtbot.mouseClick(
            table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(table.currentIndex()).center()
        )
    assert blocker.args[0].query.kind == "photo" and blocker.args[0].query.photo_path == rows[cover_row].path
    # A key moving to another photo picks that one.
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Up if cover_row else Qt.Key.Key_Down)
    assert blocker.args[0].query.photo_path == w.detail.current_rel() != rows[cover_row].path


def show_results_of(qtbot, w, article: str):
    with qtbot.waitSignal(w.results_shown, timeout=T) as blocker:
        w.select_article(article)
    return blocker.args[0]
