"""The catalog map in the main window: a tab beside the articles, kept in step with the rest of the window.

- The layout comes from `Engine.catalog_map` in a child process (`core.map_child`, or a worker thread in
  tests) with progress and cancel: when the map is first shown, when the catalog's articles or model
  change (new articles are placed on the stored layout), and when the curator asks for a recompute.
- Linked selection: selecting on the map (click or lasso) selects those articles in the grid, which drives
  the similar panel; selecting in the grid shows the selection on the map. The similar panel's query and
  results are highlighted on the map.
- Lasso actions: set a label on every selected article (one undoable decision through `Engine.set_labels`),
  show them in the grid, inspect two.

The window creates it with `MapController(window)` and gets a tab (in `window.left_tabs`, beside the grid,
so that each has the pane's whole height) and a toggle action; everything else is connected here, to the
window's existing signals.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from desktop_app.core import map_picture as pic
from desktop_app.core.engine import Engine
from desktop_app.core.errors import UserError
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.layout import METHOD_NAMES, MapLayout
from desktop_app.core.map_child import MapRequest, child_main
from desktop_app.core.overview import Snapshot, label_text
from desktop_app.core.similar import Outcome
from desktop_app.gui.child_job import ChildJob
from desktop_app.gui.map_panel import COLOUR_CHOICES_EXTRA, MapPanel, overwrite_question
from desktop_app.gui.map_view import MapPoints, argb
from desktop_app.gui.workers import Failure, Runner, Task


class MapJob(QObject):
    """One layout request in a child process (or, in tests, a worker thread), with progress and cancel."""

    progress = Signal(int, int, str)
    done = Signal(object)  # MapLayout or None
    cancelled = Signal()
    failed = Signal(object)  # Failure

    def __init__(
        self,
        engine: Engine,
        request: MapRequest,
        in_subprocess: bool,
        runner: Runner,
        parent: QObject | None = None,
    ) -> None:
        """In a child process the layout is made by an engine of its own on the catalog; in a thread (tests),
        by the window's `engine` (a second catalog connection in this process is what SQLite warns about)."""
        super().__init__(parent)
        self.child: ChildJob | None = None
        self.task: Task | None = None
        if in_subprocess:
            self.child = ChildJob(
                child_main,
                (engine.location, request),
                "lookalike-map",
                "The map process stopped unexpectedly",
                self,
            )
            self.child.progress.connect(lambda p: self.progress.emit(*p))
            self.child.done.connect(self._finish_done)
            self.child.cancelled.connect(self._finish_cancelled)
            self.child.failed.connect(self._finish_failed)
            self.child.start()
        else:
            self.task = Task(_make_map_in_thread, engine, request, with_progress=True, with_cancel=True)
            self.task.signals.progress.connect(lambda p: self.progress.emit(*p))
            runner.start(self.task, on_done=self._finish_done, on_failed=self._task_failed)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif self.child is not None:
            self.child.cancel()

    def _task_failed(self, failure: Failure) -> None:
        from desktop_app.core.layout import Cancelled

        if isinstance(failure.error, Cancelled):
            self._finish_cancelled()
        else:
            self._finish_failed(failure)

    def _finish_done(self, layout: MapLayout | None) -> None:
        self.done.emit(layout)

    def _finish_cancelled(self) -> None:
        self.cancelled.emit()

    def _finish_failed(self, failure: Failure) -> None:
        self.failed.emit(failure)

    def shutdown(self) -> None:
        """Stop the child (cancel, then terminate) and release its queue; a thread is asked to cancel."""
        if self.child is not None:
            self.child.shutdown()
        else:
            self.cancel()


def _make_map_in_thread(engine: Engine, request: MapRequest, progress, should_cancel) -> MapLayout | None:
    # A worker's progress signal carries one object: the (done, total, note) triple.
    return engine.catalog_map(
        method=request.method,
        recompute=request.recompute,
        compute=request.compute,
        progress=lambda d, t, n: progress((d, t, n)),
        should_cancel=should_cancel,
    )


class MapController(QObject):
    shown = Signal(object)  # the MapLayout now on the map (tests wait on it)
    failed = Signal(object)  # Failure of a layout request

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.panel = MapPanel(lambda path: window.thumbs.get(path))
        self.view = self.panel.view
        self.tabs = window.left_tabs
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
        self._asked: tuple | None = None  # what the last request was for (catalog, model, articles)
        self._pushing = False  # the map is selecting in the grid: do not echo the grid's selection back
        self._label_field: str | None = None
        self._layout_catalog = ""
        self._connect()

    def _connect(self) -> None:
        w, p = self.window, self.panel
        self.toggle_action.toggled.connect(self._toggled)
        self.tabs.currentChanged.connect(lambda _i: self._visibility(self.shown_now()))
        self.tabs.tabCloseRequested.connect(self._tab_close)
        w.catalog_loaded.connect(self.refresh)
        w.grid_panel.selection_changed.connect(self._grid_selected)
        w.results_shown.connect(self._results)
        w.thumbs.ready.connect(lambda _path: self.view.thumbnail_ready())
        self.view.selection_changed.connect(self._map_selected)
        self.view.activated.connect(w.open_detail)
        p.colour_by_changed.connect(self.set_colour_by)
        p.recompute_requested.connect(lambda: self.request(MapRequest(recompute=True)))
        p.cancel_requested.connect(self.cancel)
        p.label_requested.connect(self.label_selection)
        p.undo_requested.connect(self.undo_label)
        p.show_in_grid_requested.connect(self.show_in_grid)
        p.inspect_requested.connect(self.inspect_pair)

    # ------------------------------------------------------------ the layout

    def shown_now(self) -> bool:
        """Whether the map tab is open and on top."""
        return self.tabs.currentWidget() is self.panel

    def _toggled(self, on: bool) -> None:
        """Open the map as a tab and bring it to the front, or close its tab."""
        at = self.tabs.indexOf(self.panel)
        if on:
            if at < 0:
                at = self.tabs.addTab(self.panel, "Catalog map")
                self.tabs.setTabsClosable(True)
                bar = self.tabs.tabBar()
                bar.setTabButton(0, bar.ButtonPosition.RightSide, None)  # the articles' tab stays
                self.tabs.setTabToolTip(at, "Every article on one zoomable map (Ctrl+M shows or hides it)")
            self.tabs.setCurrentIndex(at)
        elif at >= 0:
            self.tabs.removeTab(at)
            self.tabs.setTabsClosable(False)

    def _tab_close(self, index: int) -> None:
        if self.tabs.widget(index) is self.panel:
            self.toggle_action.setChecked(False)

    def show_articles(self) -> None:
        """The articles' tab in front (the map stays open behind it)."""
        self.tabs.setCurrentIndex(0)

    def _visibility(self, visible: bool) -> None:
        if visible:
            self.refresh()

    def refresh(self) -> None:
        """The catalog was (re)read: ask for the layout when what it depends on changed, else recolour."""
        snap = self.window.snapshot
        if snap is None or not self.shown_now():
            return
        self.panel.set_colour_choices(_label_fields(snap, self.colour_by), self.colour_by)
        key = (str(snap.path), snap.model_id, len(snap.articles), hash(snap.articles.keys))
        if key != self._asked:
            self._asked = key
            if self.layout is not None and self._layout_catalog != str(snap.path):
                self.layout = None
                self.view.set_points(MapPoints([], np.zeros((0, 2)), np.zeros(0, np.uint32), [], []))
            if not snap.embedded:
                self.panel.show_message("The map appears once photos are indexed (Update index).")
                return
            self.request(MapRequest())
        elif self.layout is not None:
            self._recolour()  # labels, folders or covers may have changed; the positions did not
            # An adapter switched on or off (here or from the command line) changes the vectors, not the
            # articles: ask the catalog (off the UI thread) which vectors are in use now.
            self.window.catalogs.call(snap.engine.map_key, on_done=self._check_key)

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
        self._layout_catalog = str(snap.path)
        job = MapJob(snap.engine, request, self.in_subprocess, self.runner, self)
        job.progress.connect(self.panel.show_progress)
        job.done.connect(self._done)
        job.cancelled.connect(self._cancelled)
        job.failed.connect(self._failed)
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

    def _done(self, layout: MapLayout | None) -> None:
        if self._job_over() or layout is None:
            return
        self._show(layout, keep_view=self.layout is not None and self.layout.model_id == layout.model_id)

    def _cancelled(self) -> None:
        if not self._job_over() and self.layout is None:
            self.panel.show_message("Layout cancelled. Use Recompute layout to lay out the articles.")

    def _failed(self, failure: Failure) -> None:
        self._job_over()
        err = failure.error
        self.panel.show_message(
            str(err) if isinstance(err, UserError) else "The map could not be made; see the error."
        )
        if not isinstance(err, UserError):
            self.window._error("The map could not be made", failure)
        self.failed.emit(failure)

    # ------------------------------------------------------------ showing it

    def _show(self, layout: MapLayout, keep_view: bool) -> None:
        snap = self.window.snapshot
        if snap is None:
            return
        self.layout = layout
        self.panel.show_message("")
        self.view.set_points(_points(layout, snap, self._colouring(layout, snap)), keep_view=keep_view)
        self._legend(layout, snap)
        self.view.set_selection(self.window.grid_panel.selected_articles())
        self.panel.show_selection(len(self.view.selected_keys()))
        last = self.window.search.last_outcome
        if last is not None:
            self._results(last)
        self.shown.emit(layout)

    def _legend(self, layout: MapLayout, snap: Snapshot) -> None:
        colours = self._colouring(layout, snap)
        by = dict(COLOUR_CHOICES_EXTRA).get(self.colour_by, self.colour_by).lower()
        self.view.set_legend(colours.legend, f"{len(layout):,} articles · colour: {by}")
        info = layout.info
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.get("created_at", time.time())))
        placed = f" · {layout.placed:,} placed among their neighbours" if layout.placed else ""
        adapter = " · adapted vectors" if layout.adapter_id is not None else ""
        method = METHOD_NAMES.get(layout.method, layout.method)
        self.panel.show_state(f"{method} layout of {when} ({info.get('seconds', 0):.0f} s){placed}{adapter}")

    def _colouring(self, layout: MapLayout, snap: Snapshot) -> pic.Colouring:
        shown = self.colours_shown.setdefault(self.colour_by, {})
        colours = _colouring(layout, snap, self.colour_by, shown)
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
        points = _points(self.layout, snap, self._colouring(self.layout, snap))
        self.view.set_colours(points.colours)
        self.view.tips, self.view.points.covers = points.tips, points.covers
        self._legend(self.layout, snap)

    # ------------------------------------------------------------ linked selection

    def _map_selected(self, keys: list[str]) -> None:
        self.panel.show_selection(len(keys))
        self._pushing = True
        try:
            self.window.select_articles(keys)
        finally:
            self._pushing = False

    def _grid_selected(self) -> None:
        if self._pushing or self.layout is None:
            return
        grid = self.window.grid_panel
        # Articles the grid's filter hides keep their place in the map's selection: the grid says nothing
        # about what it does not show.
        hidden = [k for k in self.view.selected_keys() if grid.model.row_of(k) < 0]
        self.view.set_selection(grid.selected_articles() + hidden)
        self.panel.show_selection(len(self.view.selected_keys()))

    def _results(self, outcome: Outcome | None) -> None:
        if self.layout is None:
            return
        if outcome is None:  # the similar panel was cleared: nothing to ring
            self.view.set_highlight([], [])
            return
        q = outcome.query
        query = list(q.articles) if q.kind in ("articles", "photo") else []
        self.view.set_highlight(query, [h.article for h in outcome.hits])

    # ------------------------------------------------------------ lasso actions

    def label_selection(self, field: str, value: str) -> None:
        """One undoable decision: this label on every article selected on the map."""
        keys = self.view.selected_keys()
        snap = self.window.snapshot
        if not keys or snap is None:
            return
        if not self._overwrite_ok(keys, snap, field, value):
            return
        self._label_field = field

        def done(n: int) -> None:
            self.panel.undo.setEnabled(True)
            self.window.labels.announce(keys)
            self.window.statusBar().showMessage(
                f"{field} = {value} on {n:,} articles (Undo on the map takes it back).", 8000
            )

        self.window.catalogs.call(
            snap.engine.set_labels,
            keys,
            field,
            value,
            on_done=done,
            on_failed=lambda f: self.window._error("Labels not set", f),
        )

    def _overwrite_ok(self, keys: list[str], snap: Snapshot, field: str, value: str) -> bool:
        """Ask first when the label would replace a different one (a lasso easily takes in a few articles
        already labelled); No is the default, as for the review queue's bulk accept."""
        arts = snap.articles
        current = [arts.labels[i].get(field) for i in (arts.index_of.get(k) for k in keys) if i is not None]
        text = overwrite_question(len(keys), field, value, [v for v in current if v])
        if text is None:
            return True
        answer = QMessageBox.question(
            self.window,
            "Replace labels",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def undo_label(self) -> None:
        snap = self.window.snapshot
        if snap is None or self._label_field is None:
            return

        def done(undone: list) -> None:
            self.panel.undo.setEnabled(False)
            articles = sorted({e["article"] for e in undone if "article" in e})
            self.window.labels.announce(articles)
            self.window.statusBar().showMessage(f"Took back the label on {len(articles):,} articles.", 6000)

        self.window.catalogs.call(
            snap.engine.undo,
            self._label_field,
            ["set"],
            True,
            on_done=done,
            on_failed=lambda f: self.window._error("Nothing undone", f),
        )

    def show_in_grid(self) -> None:
        keys = self.view.selected_keys()
        if not keys:
            return
        w = self.window
        grid = w.grid_panel
        if grid.filter_edit.text() and any(grid.model.row_of(k) < 0 for k in keys):
            grid.filter_edit.clear()
            grid.apply_filter()
        w.close_detail()
        self.show_articles()
        self._map_selected(keys)
        w.grid.setFocus()

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


def _label_fields(snap: Snapshot, current: str) -> list[str]:
    """The label fields to colour by: those with labels, and the one the map is coloured by even before it
    has any (else the box would show another choice than the colours do)."""
    fields = set().union(*snap.articles.labels) if snap.articles.labels else set()
    if current not in dict(COLOUR_CHOICES_EXTRA):
        fields.add(current)
    return sorted(fields, key=lambda f: (f != DEFAULT_FIELD, f))


def _colouring(layout: MapLayout, snap: Snapshot, by: str, keep: dict[str, str]) -> pic.Colouring:
    arts = snap.articles
    labels = {k: arts.labels[i] for k, i in arts.index_of.items()}
    folders = {k: arts.folders[i] for k, i in arts.index_of.items()}
    return pic.colouring(pic.colour_values(by, layout.articles, labels, folders), keep=keep)


def _points(layout: MapLayout, snap: Snapshot, colours: pic.Colouring) -> MapPoints:
    arts = snap.articles
    row = arts.index_of
    palette = argb([c for _, c, _ in colours.legend]) if colours.legend else np.zeros(1, np.uint32)
    root = str(snap.photo_root) if snap.photo_root is not None and snap.root_ok else None
    covers, tips = [], []
    for k in layout.articles:
        i = row.get(k)
        cover = arts.covers[i] if i is not None else ""
        covers.append(str(Path(root) / cover) if root and cover else None)
        labels = label_text(arts.labels[i]) if i is not None else ""
        folder = arts.folders[i] if i is not None else ""
        tips.append(
            "\n".join(t for t in (k, labels or "unlabelled", f"folder: {folder}" if folder else "") if t)
        )
    return MapPoints(list(layout.articles), layout.xy, palette[colours.codes], covers, tips)


__all__ = ["MapController", "MapJob"]
