"""The catalog map in the main window: a tab beside the articles, kept in step with the rest of the window.

- The layout comes from `Engine.catalog_map` in a child process (`map_job.MapJob`) with progress and
  cancel: when the map is first shown, when the catalog's articles or model change (the engine places new
  articles on the stored layout, or lays it out afresh when they are many), and when the curator asks for a
  recompute. While an index run is going the layout is not asked for again at each of its re-reads: the
  map keeps what it shows and is brought up to date once when the run ends.
- Linked selection: the map's selection is the grid's, which drives the similar panel: selecting on the
  map (click or lasso) selects those articles in the grid (clearing a filter that hides some), selecting in
  the grid shows that selection on the map. The current question's articles and, once answered, its
  results are ringed on the map.
- Lasso actions: set a label on every selected article, with the map's Undo of it (`map_labels.MapLabels`),
  show them in the grid, inspect two.
- Another catalog: nothing of the last one (layout, legend, selection, rings, undo) stays on the map.

The window creates it with `MapController(window, tabs, thumbs)`: it adds a tab to `tabs` (beside the
grid, so that each has the pane's whole height) and gives an action (View ▸ Catalog map, Ctrl+M);
everything else is connected here, to the window's signals. Of the window it uses only what
`window_surface.WindowSurface` offers and its methods (`open_detail`, `close_detail`, `inspect`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QTabWidget

from desktop_app.core import map_picture as pic
from desktop_app.core.errors import UserError
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.layout import METHOD_NAMES, MapLayout
from desktop_app.core.map_child import MapRequest
from desktop_app.core.overview import Snapshot
from desktop_app.core.wording import plural
from desktop_app.gui.map_contents import colouring, label_fields, points
from desktop_app.gui.map_job import MapJob
from desktop_app.gui.map_labels import MapLabels
from desktop_app.gui.map_panel import COLOUR_CHOICES_EXTRA, MapPanel
from desktop_app.gui.map_view import MapPoints
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Failure, Runner

INDEXING_NOTE = "Indexing… the map is laid out when it ends."


class MapController(QObject):
    shown = Signal(object)  # the MapLayout now on the map (tests wait on it)
    failed = Signal(object)  # Failure of a layout request

    def __init__(self, window: Any, tabs: QTabWidget, thumbs: ThumbnailLoader) -> None:
        super().__init__(window)
        self.window = window
        self.panel = MapPanel(thumbs.get)
        self.view = self.panel.view
        self.tabs = tabs
        self.labels = MapLabels(window, self.panel)
        # Checked while the map's tab is open; Ctrl+M brings it to the front, and closes it when in front.
        self.toggle_action = QAction("Catalog map", self)
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcut(QKeySequence("Ctrl+M"))
        self.toggle_action.setStatusTip("Every article on one zoomable map, similar ones together")
        self.in_subprocess = True
        self.runner = Runner(1, "map", self)
        self.job: MapJob | None = None
        self._pending: MapRequest | None = None
        self.layout: MapLayout | None = None
        self.colour_by = DEFAULT_FIELD
        # colour-by choice -> value -> colour shown this session: a group keeps its colour when labels change
        self.colours_shown: dict[str, dict[str, str]] = {}
        self._catalog = ""  # the catalog (location) the map is about
        self._asked: tuple | None = None  # what the last request was for (catalog, model, articles)
        self._pushing = False  # the map is selecting in the grid: do not echo the grid's selection back
        thumbs.ready.connect(lambda _path: self.view.thumbnail_ready())
        self._connect()

    def _connect(self) -> None:
        w, p = self.window, self.panel
        self.toggle_action.triggered.connect(self._triggered)
        self.tabs.currentChanged.connect(lambda _i: self._visibility(self.shown_now()))
        self.tabs.tabCloseRequested.connect(self._tab_close)
        w.catalog_loaded.connect(self.refresh)
        w.catalog_closed.connect(self._catalog_closed)
        w.selection_changed.connect(self._grid_selected)
        w.results_shown.connect(lambda _outcome: self._rings())
        self.view.selection_changed.connect(self._map_selected)
        self.view.activated.connect(w.open_detail)
        p.colour_by_changed.connect(self.set_colour_by)
        p.recompute_requested.connect(lambda: self.request(MapRequest(recompute=True)))
        p.cancel_requested.connect(self.cancel)
        p.show_in_grid_requested.connect(self.show_in_grid)
        p.inspect_requested.connect(self.inspect_pair)

    # ------------------------------------------------------------ the tab

    def shown_now(self) -> bool:
        """Whether the map tab is open and on top."""
        return self.tabs.currentWidget() is self.panel

    def _triggered(self) -> None:
        """Ctrl+M or View ▸ Catalog map: open the map, or bring it forward when it is open behind the
        articles; close it only when it is the tab in front."""
        if self.shown_now():
            self.close_tab()
        else:
            self.open_tab()

    def open_tab(self) -> None:
        at = self.tabs.indexOf(self.panel)
        if at < 0:
            at = self.tabs.addTab(self.panel, "Catalog map")
            self.tabs.setTabsClosable(True)
            bar = self.tabs.tabBar()
            bar.setTabButton(0, bar.ButtonPosition.RightSide, None)  # the articles' tab stays
            self.tabs.setTabToolTip(
                at, "Every article on one zoomable map (Ctrl+M brings it forward or closes it)"
            )
        self.toggle_action.setChecked(True)
        self.tabs.setCurrentIndex(at)

    def close_tab(self) -> None:
        at = self.tabs.indexOf(self.panel)
        if at >= 0:
            self.tabs.removeTab(at)
            self.tabs.setTabsClosable(False)
        self.toggle_action.setChecked(False)

    def _tab_close(self, index: int) -> None:
        if self.tabs.widget(index) is self.panel:
            self.close_tab()

    def show_articles(self) -> None:
        """The articles' tab in front (the map stays open behind it)."""
        self.tabs.setCurrentIndex(0)

    def _visibility(self, visible: bool) -> None:
        if visible:
            # The curator turned to the map (Ctrl+M, its tab): its keys work at once, and the keys of the
            # panel that had the focus (the results' 1/2/3/0 decide) no longer take the map's 0.
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)
            self.refresh()

    # ------------------------------------------------------------ the layout

    def refresh(self) -> None:
        """The catalog was (re)read: ask for the layout when what it depends on changed, else recolour."""
        snap = self.window.snapshot
        if snap is None:
            return
        if snap.location != self._catalog:
            self._forget_catalog(snap.location)
        if not self.shown_now():
            return
        self.panel.set_colour_choices(label_fields(snap, self.colour_by), self.colour_by)
        if self.window.is_indexing():
            # Each re-read of a run would restart the layout on a partly indexed catalog: keep what is shown,
            # and ask once the run has ended (whatever it changed: the note below must not outlive it).
            self._asked = None
            self._recolour()
            if self.layout is None and self.job is None:
                self.panel.show_message(INDEXING_NOTE)
            return
        key = (snap.location, snap.model_id, len(snap.articles), hash(snap.articles.keys))
        if key != self._asked:
            self._asked = key
            if not snap.embedded:
                self.panel.show_message("The map appears once photos are indexed (Update index).")
                return
            self.request(MapRequest())
        elif self.layout is not None:
            self._recolour()  # labels, folders or covers may have changed; the positions did not
            # An adapter switched on or off (here or from the command line) changes the vectors, not the
            # articles: ask the catalog (off the UI thread) which vectors are in use now.
            self.window.catalog_call(snap.engine.map_key, on_done=self._check_key)

    def _forget_catalog(self, location: str) -> None:
        """Another catalog (or none): nothing of the last one's map stays, nor its job's answer."""
        self._catalog = location
        self._asked = None
        self._pending = None
        if self.job is not None:
            self.job.cancel()
        self.layout = None
        self.labels.forget()
        self.view.set_points(MapPoints([], np.zeros((0, 2)), np.zeros(0, np.uint32), [], []))
        self.view.set_highlight([], [])
        self.view.set_legend([], "")
        self.panel.show_state("")
        self.panel.show_message("")
        self.panel.show_selection(0)

    def _catalog_closed(self) -> None:
        self._forget_catalog("")
        self.close_tab()

    def _check_key(self, key: tuple) -> None:
        if (
            self.layout is not None
            and self.job is None
            and key != (self.layout.model_id, self.layout.adapter_id)
        ):
            self.request(MapRequest())

    def request(self, request: MapRequest) -> None:
        snap = self.window.snapshot
        if snap is None:
            return
        if self.job is not None:
            self._pending = request  # after the running one ends (cancelled: it is superseded)
            self.job.cancel()
            return
        self.panel.show_running(True)
        if self.layout is None:
            self.panel.show_message("Laying out the articles… similar ones will land together.")
        job = MapJob(snap.engine, request, self.in_subprocess, self.runner, self)
        job.progress.connect(self.panel.show_progress)
        job.done.connect(lambda layout: self._done(job, layout))
        job.cancelled.connect(lambda: self._cancelled(job))
        job.failed.connect(lambda failure: self._failed(job, failure))
        self.job = job

    def cancel(self) -> None:
        if self.job is not None:
            self._pending = None
            self.job.cancel()
            self.panel.cancel.setEnabled(False)

    def _job_over(self) -> bool:
        """Forget the finished job; True when a newer request is waiting (and now started)."""
        job, self.job = self.job, None
        if job is not None:
            job.deleteLater()
        self.panel.show_running(False)
        pending, self._pending = self._pending, None
        if pending is not None:
            self.request(pending)
            return True
        return False

    def _done(self, job: MapJob, layout: MapLayout | None) -> None:
        if self._job_over() or layout is None or job.catalog != self._catalog:
            return
        self._show(layout, keep_view=self.layout is not None and self.layout.model_id == layout.model_id)

    def _cancelled(self, job: MapJob) -> None:
        if not self._job_over() and self.layout is None and job.catalog == self._catalog:
            self.panel.show_message("Layout cancelled. Use Recompute layout to lay out the articles.")

    def _failed(self, job: MapJob, failure: Failure) -> None:
        if self._job_over() or job.catalog != self._catalog:
            return  # superseded, or about the catalog shown before: this one's map is on its way
        err = failure.error
        self.panel.show_message(
            str(err) if isinstance(err, UserError) else "The map could not be made; see the error."
        )
        if not isinstance(err, UserError):
            self.window.report_error("The map could not be made", failure)
        self.failed.emit(failure)

    # ------------------------------------------------------------ showing it

    def _show(self, layout: MapLayout, keep_view: bool) -> None:
        snap = self.window.snapshot
        if snap is None:
            return
        self.layout = layout
        self.panel.show_message("")
        self.view.set_points(points(layout, snap, self._colouring(layout, snap)), keep_view=keep_view)
        self._legend(layout, snap)
        self._show_grid_selection()
        self._rings()
        self.shown.emit(layout)

    def _legend(self, layout: MapLayout, snap: Snapshot) -> None:
        colours = self._colouring(layout, snap)
        by = dict(COLOUR_CHOICES_EXTRA).get(self.colour_by, self.colour_by).lower()
        self.view.set_legend(colours.legend, f"{plural(len(layout), 'article')} · colour: {by}")
        info = layout.info
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.get("created_at", time.time())))
        placed = f" · {layout.placed:,} placed among their neighbours" if layout.placed else ""
        adapter = " · adapted vectors" if layout.adapter_id is not None else ""
        method = METHOD_NAMES.get(layout.method, layout.method)
        running = " · indexing: new articles join when it ends" if self.window.is_indexing() else ""
        self.panel.show_state(
            f"{method} layout of {when} ({info.get('seconds', 0):.0f} s){placed}{adapter}{running}"
        )

    def _colouring(self, layout: MapLayout, snap: Snapshot) -> pic.Colouring:
        shown = self.colours_shown.setdefault(self.colour_by, {})
        colours = colouring(layout, snap, self.colour_by, shown)
        shown.update(colours.own)
        return colours

    def set_colour_by(self, by: str) -> None:
        self.colour_by = by
        self._recolour()

    def _recolour(self) -> None:
        """Colours, tooltips and covers from the current snapshot, on the positions already shown."""
        snap = self.window.snapshot
        if self.layout is None or snap is None:
            return
        shown = points(self.layout, snap, self._colouring(self.layout, snap))
        self.view.set_colours(shown.colours)
        self.view.tips, self.view.points.covers = shown.tips, shown.covers
        self._legend(self.layout, snap)

    # ------------------------------------------------------------ linked selection

    def _map_selected(self, keys: list[str]) -> None:
        """A click or lasso on the map: those articles become the grid's selection (a filter hiding some is
        cleared, as when one article is opened), and the map shows exactly what the grid then selected."""
        self._pushing = True
        try:
            self.window.select_articles(keys, reveal=True)
        finally:
            self._pushing = False
        self._show_grid_selection()
        self._rings()  # the grid asked the new question: its old results are not this selection's

    def _grid_selected(self) -> None:
        if self._pushing or self.layout is None:
            return
        self._show_grid_selection()
        # The window asks the new question after this (its slot is connected later): ring it then.
        QTimer.singleShot(0, self._rings)

    def _show_grid_selection(self) -> None:
        """The map's selection is the grid's (what the similar panel and Set label act on)."""
        self.view.set_selection(self.window.selected_articles())
        self.panel.show_selection(len(self.view.selected_keys()))

    def _rings(self) -> None:
        """Ring the current question's articles, and its results once they are the answer to it (never the
        results of an earlier question, nor of the last catalog's)."""
        if self.layout is None:
            return
        q, out = self.window.current_query(), self.window.last_outcome()
        if q is None:
            self.view.set_highlight([], [])
            return
        query = list(q.articles) if q.kind in ("articles", "photo") else []
        hits = [h.article for h in out.hits] if out is not None and out.query == q else []
        self.view.set_highlight(query, hits)

    # ------------------------------------------------------------ lasso actions

    def show_in_grid(self) -> None:
        keys = self.view.selected_keys()
        if not keys:
            return
        self.window.close_detail()
        self.show_articles()
        self._map_selected(keys)  # clears a filter that hides some of them
        self.window.focus_articles()

    def inspect_pair(self) -> None:
        keys = self.view.selected_keys()
        if len(keys) == 2:
            self.window.inspect(keys[1], keys[0])

    # ------------------------------------------------------------ lifetime

    def shutdown(self) -> None:
        self._pending = None
        if self.job is not None:
            self.job.shutdown()
            self.job = None
        self.runner.shutdown()


__all__ = ["MapController"]
