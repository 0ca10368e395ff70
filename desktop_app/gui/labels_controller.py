"""Labels from the main window: the review queue, set label, import, export and the photo inbox.

Each action writes through the window's engine (one decision per action, undoable as one) and then says
which articles changed (`changed`), so every view that shows labels refreshes: the window re-reads the
grid and asks its search again, and open review queues recompute their suggestions when another view
changed labels. Changes are gathered for a moment first: a curator deciding one article a second in the
review queue causes one refresh, not one per key. Review queues get their suggestions from the engine
child the window's search uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from desktop_app.core.engine import Engine
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.wording import plural
from desktop_app.gui import labels_dialog, labels_import_dialog, review_inbox
from desktop_app.gui.catalog_controller import CatalogController
from desktop_app.gui.export_dialog import ask_export_path, file_name
from desktop_app.gui.search_controller import SearchController

SETTLE_MS = 300  # label changes closer together than this refresh the other views once


class LabelsController(QObject):
    changed = Signal(list)  # articles whose labels changed; [] when too many to list (an import)
    message = Signal(str)  # a line for the status bar
    error = Signal(str, object)  # title, Failure
    index_wanted = Signal()  # new photos are in the inbox: update the index

    def __init__(
        self,
        window: QWidget,
        catalogs: CatalogController,
        search: SearchController,
        selection: Callable[[], list[str]],
    ) -> None:
        super().__init__(window)
        self.window = window
        self.catalogs = catalogs
        self.search = search
        self.selection = selection
        self.reviews: list[QWidget] = []
        self._changed_articles: list[str] = []
        self._changed_by: set[QWidget | None] = set()  # the views the gathered changes came from
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._announce)

    def _engine(self) -> Engine | None:
        return self.catalogs.engine

    # ------------------------------------------------------------ review queue

    def open_review(self, field: str = DEFAULT_FIELD) -> QWidget | None:
        engine = self._engine()
        if engine is None:
            return None
        from desktop_app.gui.review import open_review

        window = open_review(None, engine, self.search.client, field, device=self.search.device)
        window.labels_changed.connect(lambda articles, w=window: self._review_changed(w, articles))
        self.reviews = [*self._live_reviews(), window]
        return window

    def _live_reviews(self) -> list[QWidget]:
        return [r for r in self.reviews if shiboken6.isValid(r) and r.isVisible()]

    def _review_changed(self, source: QWidget, articles: list) -> None:
        self._changed(articles, source)

    def _changed(self, articles: list, source: QWidget | None = None) -> None:
        self._changed_articles += articles
        self._changed_by.add(source)
        self._settle.start()

    def _announce(self) -> None:
        articles, sources = self._changed_articles, self._changed_by
        self._changed_articles, self._changed_by = [], set()
        self.changed.emit(list(dict.fromkeys(articles)))
        for review in self._live_reviews():
            if sources - {review}:  # labels changed somewhere else than in this queue
                review.refresh(rebuild_index=False)

    def announce(self, articles: list) -> None:
        """Labels of these articles were changed by another view (the map's bulk label): refresh the others."""
        self._changed(articles)

    def close_reviews(self) -> None:
        """The catalog is switching (or the window closing): a queue belongs to the catalog it was opened on."""
        self._settle.stop()
        self._changed_articles, self._changed_by = [], set()
        for review in self._live_reviews():
            review.close()
        self.reviews = []

    # ------------------------------------------------------------ the other label actions

    def set_label(self) -> None:
        self.set_label_on(self.selection())

    def set_label_on(self, articles: list[str]) -> None:
        """Set or clear a label on these articles (the grid's selection, a result, ...)."""
        engine = self._engine()
        if engine is None or not articles:
            self.message.emit("Select one or more articles in the grid first.")
            return
        written = labels_dialog.edit_labels(self.window, engine, articles)
        if written is not None:
            self._changed(articles)
            self.message.emit(written.summary())

    def import_labels(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        report = labels_import_dialog.import_labels(self.window, engine)
        if report is not None:
            self.imported(report)

    def imported(self, report) -> None:
        """An import was written: every view re-reads its labels; the status bar says how many."""
        n = report.applied
        unknown = f"; {len(report.unknown)} rows name no article of this catalog" if report.unknown else ""
        if report.no_folder:
            unknown += f"; {len(report.no_folder):,} articles have no folder at that level"
        self._changed([])
        same = f" ({report.unchanged:,} already set so)" if report.unchanged else ""
        self.message.emit(f"Imported {plural(n, 'label')}{same}{unknown}.")

    def export_labels(self) -> None:
        engine = self._engine()
        if engine is None:
            return
        name = file_name(engine.title(), "labels", ext="csv")
        path = ask_export_path(self.window, "Export labels", name, "CSV (*.csv);;JSON (*.json)")
        if not path:
            return
        self.catalogs.call(
            engine.export_labels,
            Path(path),
            on_done=lambda n: self.message.emit(f"Wrote {plural(n, 'label')} to {path}"),
            on_failed=lambda f: self.error.emit("Labels not exported", f),
        )

    def add_inbox(self) -> None:
        snap = self.catalogs.snapshot
        if snap is None:
            return
        if review_inbox.import_inbox(self.window, snap.photo_root):
            self.index_wanted.emit()


__all__ = ["LabelsController"]
