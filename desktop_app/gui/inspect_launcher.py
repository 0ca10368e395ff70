"""Opening the match inspector from the main window: on the query and a hit, two grid articles, or a pair
chosen from an article's detail page.

The inspector window gets the window's engine (it reads the vectors of the two articles only) and starts
with the catalog's search settings; when the curator changes them there, the window's search runs again
with the stored values. Of the main window it uses only what `window_surface.WindowSurface` offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtWidgets import QInputDialog, QWidget

from desktop_app.gui import inspector_window


class InspectLauncher:
    """The main window's "Inspect match" (Ctrl+I) and "Compare with…"."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.last: QWidget | None = None  # the inspector window opened last
        self.windows: list = []  # the inspector windows open now

    def inspect_current(self) -> None:
        hit = self.window.selected_hit()
        keys = self.window.selected_articles()
        if hit:
            self.inspect(hit)
        elif len(keys) == 2:
            self.inspect(keys[1], keys[0])
        else:
            self.window.show_status("Select a similar article first (or two articles in the grid).", 4000)

    def inspect(self, article: str, query_article: str | None = None) -> QWidget | None:
        """The inspector on the query (or query_article, the rows) and an article (the columns). A query of
        several articles is compared through its article closest to the result, found off the UI thread
        (the window opens then; None is returned)."""
        w = self.window
        if w.snapshot is None:
            return None
        if query_article is None:
            q = w.current_query()
            if q is None or q.kind == "files" or not q.articles:
                self.window.show_status(
                    "The inspector compares two catalog articles; dropped photos are not one."
                )
                return None
            if q.kind == "articles" and len(set(q.articles) - {article}) > 1:
                self.with_closest(
                    list(q.articles), article, lambda c: self.open(c.article, article, c.note())
                )
                return None
            query_article = q.articles[0]
        return self.open(query_article, article)

    def with_closest(self, query_articles: list[str], article: str, then: Callable) -> None:
        """Ask the engine which query article's own match with `article` scores highest, then call `then`
        with its answer (`ClosestQueryArticle`), unless the catalog changed meanwhile."""
        w = self.window
        engine = w.snapshot.engine
        w.show_status(f"Finding which of the {len(query_articles):,} query articles is closest to {article}…")

        def found(closest) -> None:
            if w.snapshot is not None and w.snapshot.engine is engine:
                w.show_status("", 1)
                then(closest)

        w.catalog_call(
            engine.closest_query_article,
            query_articles,
            article,
            on_done=found,
            on_failed=lambda f: w.report_error("The query articles cannot be compared with the result", f),
        )

    def open(self, query_article: str, article: str, note: str = "") -> QWidget | None:
        """The inspector window on two articles; `note` says in its title which query article this is."""
        w = self.window
        if w.snapshot is None:
            return None
        # A top-level window of its own (no parent); it is closed, and stops its workers, with this window.
        window = inspector_window.open_inspector(None, w.snapshot.engine, query_article, article, note=note)
        window.settings_changed.connect(w.rerun_search)  # it stored new search settings in the catalog
        window.decide_requested.connect(w.decide)
        window.cover_changed.connect(w.cover_chosen)
        w.keep(window)
        self.last = window
        self.windows = [x for x in self.windows if shiboken6.isValid(x) and x.isVisible()] + [window]
        return window

    def _open(self) -> list:
        self.windows = [x for x in self.windows if shiboken6.isValid(x) and x.isVisible()]
        return self.windows

    def show_decision(self, a: str, b: str, decision: str | None) -> None:
        """A pair was decided (here or anywhere in the window): the inspectors on it show it."""
        for window in self._open():
            if {window.article_a, window.article_b} == {a, b}:
                window.show_decision(decision)

    def refresh_decisions(self) -> None:
        """Decisions changed in bulk (an undo, a redo): every open inspector reads its pair's again."""
        engine = self.window.engine
        for window in self._open():
            a, b = window.article_a, window.article_b
            if engine is not None and a != b:
                self.window.catalog_call(
                    lambda a=a, b=b: engine.decisions_with([a]).get(b), on_done=window.show_decision
                )

    def compare_with(self, article: str) -> QWidget | None:
        """Article detail's "Compare with…": pick the other article, open the inspector on the pair."""
        w = self.window
        if w.snapshot is None or not article:
            return None
        keys = [k for k in w.snapshot.articles.keys if k != article]
        # The result the curator is looking at, else the most similar one: never an arbitrary article.
        outcome = w.last_outcome()
        best = outcome.hits[0].article if outcome is not None and outcome.hits else None
        hit = w.selected_hit() or best
        start = keys.index(hit) if hit in keys else 0
        other = choose_article(w, article, keys, start)
        return self.inspect(other, article) if other in keys else None


def choose_article(parent: QWidget, article: str, keys: list[str], start: int) -> str | None:
    """Ask which article to compare `article` with (typing completes an id); None when cancelled. Wide
    enough for its title and for long ids: the plain item dialog was 155 px wide, its title elided."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Compare with")
    dialog.setLabelText(f"Compare {article} with:")
    dialog.setComboBoxItems(keys)
    dialog.setComboBoxEditable(True)
    if keys:
        dialog.setTextValue(keys[start])
    hint = dialog.sizeHint()
    dialog.resize(max(420, hint.width()), hint.height())
    return dialog.textValue() if dialog.exec() else None


__all__ = ["InspectLauncher"]
