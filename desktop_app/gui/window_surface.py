"""What the main window offers the controllers that work beside it (the map, the inspector launcher, the
article menus): named signals and methods, so that none of them reaches into the window's parts (the grid,
the similar panel, the status bar, the edit history, the catalog's threads and engine).

A controller keeps to these and to the window's other methods (`open_detail`, `inspect`, `reload`...); a
test (tests/test_gui_boundaries.py) checks that those controllers use nothing of the window but its
methods, properties and signals, and that no GUI module reads another object's private attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from desktop_app.gui.errors import show_error

if TYPE_CHECKING:
    from desktop_app.core.engine import Engine
    from desktop_app.core.overview import Snapshot
    from desktop_app.core.similar import Outcome, Query


class WindowSurface:
    """A mixin of `MainWindow` (`self` is the window, which holds the parts used here)."""

    # What is now on screen; controllers, tests and the benchmark follow these.
    catalog_loaded = Signal()
    catalog_closed = Signal()  # before the window lets go of the catalog's widgets
    selection_changed = Signal()  # the grid's selection (before the window asks the similar panel's question)
    search_ready = Signal()
    results_shown = Signal(object)  # core.similar.Outcome (None: the panel was cleared)
    detail_loaded = Signal(str)
    history_shown = Signal(object)  # history.HistoryState: what Edit ▸ Undo and Redo would do now
    labels_redone = Signal(object, object)  # (batch undone, batch written): Redo wrote a label decision again
    index_progress = Signal(object)  # Progress
    index_finished = Signal(object)  # IndexSummary
    index_failed = Signal(object)  # Failure
    error_shown = Signal(str)

    # ------------------------------------------------------------ the catalog

    @property
    def snapshot(self: Any) -> Snapshot | None:
        """What the window shows of the open catalog (None: no catalog)."""
        return self.catalogs.snapshot

    @property
    def engine(self: Any) -> Engine | None:
        """The open catalog's engine, for cheap reads and writes on the catalog's threads."""
        return self.catalogs.engine

    def catalog_call(
        self: Any,
        fn: Callable,
        *args: Any,
        on_done: Callable | None = None,
        on_failed: Callable | None = None,
    ) -> None:
        """Run a small catalog job (a read or a write) off the UI thread; its answer comes back queued."""
        self.catalogs.call(fn, *args, on_done=on_done, on_failed=on_failed)

    def is_indexing(self: Any) -> bool:
        return bool(self.indexer.running)

    # ------------------------------------------------------------ articles and the question

    def selected_articles(self: Any) -> list[str]:
        """The grid's selection: what the similar panel, Set label and the map act on."""
        return self.grid_panel.selected_articles()

    def select_articles(self: Any, articles: list[str], reveal: bool = False) -> None:
        """Make these articles the grid's selection in one change; with `reveal`, a filter that hides some of
        them is cleared first."""
        self.grid_panel.select_articles(articles, reveal)

    def focus_articles(self: Any) -> None:
        """The keyboard goes to the articles' grid."""
        self.grid.setFocus()

    def current_query(self: Any) -> Query | None:
        """The question the similar panel shows (or is asking)."""
        return self.search.query

    def last_outcome(self: Any) -> Outcome | None:
        """The newest answer the similar panel received (check `.query` before taking it as the current one's)."""
        return self.search.last_outcome

    def selected_hit(self: Any) -> str | None:
        """The similar article selected in the results, if any."""
        return self.similar.selected_hit()

    def rerun_search(self: Any) -> None:
        """Ask the current question again (after labels, decisions or search settings changed)."""
        self.search.rerun()

    # ------------------------------------------------------------ edits

    def decide(self: Any, a: str, b: str, decision: str, expected: str | None, force: bool = False) -> None:
        """Write one match decision unless the pair changed since `expected` was seen."""
        self.decisions.decide(a, b, decision, expected, force)

    def labels_written(self: Any, articles: list[str]) -> None:
        """Labels of these articles were written by a view of their own (the map): the others refresh."""
        self.labels.announce(articles)

    def undo(self: Any) -> None:
        """Edit ▸ Undo: take back your latest decision (says what it did in the status bar)."""
        self.history.undo()

    # ------------------------------------------------------------ telling the curator

    def show_status(self: Any, text: str, ms: int = 5000) -> None:
        self.statusBar().showMessage(text, ms)

    def report_error(self: Any, title: str, error: Any) -> None:
        """A failure in an error box of its own (a user error says what to do, a bug shows its traceback)."""
        box = show_error(self, title, error)
        self.keep(box)
        self.last_error = box
        self.error_shown.emit(box.text())

    def keep(self: Any, widget: QWidget) -> None:
        """Hold a non-blocking dialog or top-level window until it closes (it needs a Python reference)."""
        self._dialogs = [d for d in self._dialogs if shiboken6.isValid(d) and d.isVisible()] + [widget]


__all__ = ["WindowSurface"]
