"""Similar-article search for the window: the engine child of the open catalog, and the newest question.

`EngineClient` owns the engine in a child process (`core.engine_process.EngineProcess`, or `LocalEngine`
in tests) and knows which catalog it has open. The window's search and the review queue share it, so a
catalog's vectors are loaded once, and never in the window's process.

`SearchController` presents the similar panel. It opens the catalog in the engine when the catalog opens
(and once more after an index run changed it: the re-reads of the grid while a run goes on keep the open
already asked for) through a `Lane` of its own, so only the newest open of the catalog on show ever runs.
It sends the newest query through another `Lane`, so that a newer selection supersedes a queued one and
late answers are dropped, and handles edits of the panel's search
controls by storing them in the catalog (`Engine.update_search`: those of the vector space in use) in
the same job that then searches. The engine always searches with the catalog's stored settings and reports them in
`Outcome.params`, which the panel shows: there is no GUI-side copy of method, s, m or top-K.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.core.child import ChildError
from desktop_app.core.engine_process import EngineInfo, EngineProcess, LocalEngine
from desktop_app.core.errors import InputError, NoVectors, UserError
from desktop_app.core.overview import Snapshot
from desktop_app.core.scan import image_suffixes
from desktop_app.core.settings import MAX_TOP_K, SearchSettings
from desktop_app.core.similar import Outcome, Query
from desktop_app.gui.similar_panel import HINT, SimilarPanel
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Failure, Lane, Runner

PANEL_TITLE = "Similar articles"
LOAD_AFTER_PAINT_MS = 2500  # open the engine at the latest this long after the catalog is on show

log = logging.getLogger(__name__)


def file_is_image(path: Path) -> bool:
    return path.is_file() and os.path.splitext(path.name)[1].lower() in image_suffixes()


class EngineClient:
    """The engine of one catalog in a child process (or in this process); safe to call from workers."""

    def __init__(self, in_subprocess: bool = True) -> None:
        self.in_subprocess = in_subprocess
        self._engine: EngineProcess | LocalEngine | None = None
        self._lock = threading.Lock()
        self._db: str | None = None  # the catalog open in the engine: a file path or a database URL
        self.info: EngineInfo | None = None

    def open(self, db: Path | str, device: str | None = None) -> EngineInfo:
        """(Re)open a catalog in the engine: loads its vectors and the encoder session; worker threads only."""
        with self._lock:
            if self._engine is None:
                self._engine = EngineProcess() if self.in_subprocess else LocalEngine()
            self._db = self.info = None
            info = self._engine.open(str(db), device)
            self._db, self.info = str(db), info
            return info

    def ensure(self, db: Path | str, device: str | None = None) -> EngineInfo:
        """The engine with this catalog open, opening it only when another one (or none) is."""
        with self._lock:
            if self._db == str(db) and self.info is not None:
                return self.info
        return self.open(db, device)

    def call(self, verb: str, *args: Any, **kwargs: Any) -> Any:
        # The reference is taken under the lock, so a call never sees an engine that open() on another worker
        # is half-way through replacing; the call itself runs unlocked (a search must not hold up an open).
        with self._lock:
            engine = self._engine
        if engine is None:
            raise ChildError("No catalog is open in the search process.")
        return engine.call(verb, *args, **kwargs)

    def interrupt(self) -> None:
        """Stop the child's running call (an open, a search) now, without waiting for it; the call fails
        with ChildError. For closing the window: nothing is left to wait for its answer."""
        engine = self._engine  # not under the lock: open() holds it for as long as the child reads
        if isinstance(engine, EngineProcess):
            engine.interrupt()

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.close()
            self._engine = self._db = self.info = None


class SearchController(QObject):
    """Asks the engine child the similar panel's questions and shows the newest answer."""

    ready = Signal(object)  # EngineInfo: search is available (the device is what the session really got)
    answered = Signal(object)  # Outcome now on show
    error = Signal(str, object)  # title, Failure of something the curator should see as an error dialog

    def __init__(self, panel: SimilarPanel, thumbs: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.thumbs = thumbs
        self.client = EngineClient()
        self.runner = Runner(1, "search", self)
        self.lane = Lane(self.runner, self)
        self.lane.result.connect(self._done)
        self.lane.failed.connect(self._failed)
        self.lane.idle.connect(thumbs.resume)
        # Opens of the catalog in the engine: only the newest runs, one for a catalog left never does.
        self.opens = Lane(self.runner, self)
        self.opens.result.connect(self._loaded)
        self.opens.failed.connect(self._load_failed)
        # How the results' best pairs are related as pictures: fingerprints, off the search's own thread;
        # only the newest results' are worked out (a curator stepping through the grid leaves the others).
        self.relations = Runner(1, "relations", self)
        self.relation_lane = Lane(self.relations, self)
        self.relation_lane.result.connect(self._related)
        self.relation_lane.failed.connect(
            # The cards show no relation: a help to the curator, not needed for the results.
            lambda _gen, f: log.warning("How the results' photos are related is not known: %s", f.traceback)
        )
        self.device = "auto"
        self.show_rejected = False  # list results decided "not a match" with the query too
        self.indexing = False  # an index run is adding photos (the advice for articles without vectors)
        self.snapshot: Snapshot | None = None
        self.info: EngineInfo | None = None  # set once the engine has the catalog open
        self.query: Query | None = None
        self.stale = False  # the catalog changed under the engine (an index run): open it again
        self.last_outcome: Outcome | None = None
        self._unsaved: SearchSettings | None = None  # an edit not yet written (it rides with the next search)
        self.adjust_query: Callable[[Query], Query] | None = None  # e.g. words mixed in (gui/words.py)
        self._opening: str | None = None  # the model id of the snapshot an open was asked for, until it ends
        panel.params_edited.connect(self.edit)
        self._load_timer = QTimer(self)
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(LOAD_AFTER_PAINT_MS)
        self._load_timer.timeout.connect(self.grid_painted)
        self._pending_load: bool | None = None  # load once the grid has painted; the value: indexing

    # ------------------------------------------------------------ the catalog

    def show_catalog(self, snap: Snapshot, same_catalog: bool) -> bool:
        """A (re-read) catalog is on show. Returns whether the engine must (re)open it."""
        if not same_catalog:
            if self._unsaved is not None and self.snapshot is not None:
                self._write(self._unsaved)  # to the catalog it was made in
            self.query = None
        self.snapshot = snap
        if self._unsaved is None:
            self.panel.set_params(snap.search)
        if same_catalog and not self.stale and self._serves(snap.model_id):
            return False  # nothing the search depends on changed (re-reads while indexing: see `stale`)
        self._forget_engine()  # questions asked before the engine has this catalog open wait for it
        return True

    def _serves(self, model_id: str) -> bool:
        """The engine has this catalog's model open, or an open of it is asked for (and not yet answered)."""
        if self.info is not None:
            return self.info.model_id == model_id
        if self._pending_load is not None:
            return True  # the load after paint reads the snapshot then on show
        return self._opening == model_id

    def load_after_paint(self, indexing: bool = False) -> None:
        """Open the engine once the grid has painted (or a little later): not while it paints first."""
        self._pending_load = indexing
        self._load_timer.start()

    def grid_painted(self) -> None:
        if self._pending_load is not None:
            self.load(self._pending_load)

    def load(self, indexing: bool = False) -> None:
        """Open the current catalog in the engine (reads its vectors there), off the UI thread."""
        self._load_timer.stop()
        self._pending_load = None
        snap = self.snapshot
        self._forget_engine()
        self.stale = False
        if snap is None:
            return
        if not any(snap.counts.get("vectors_by_model", {}).values()):
            self.panel.show_message(PANEL_TITLE, _no_vectors_message(snap, indexing))
            return
        self.panel.show_message(self.panel.title.full_text(), "Preparing search…")
        client, location, device = self.client, snap.location, self.device
        self._opening = snap.model_id
        self.opens.submit(lambda: client.open(location, device))

    def _forget_engine(self) -> None:
        self.info = None
        self._opening = None
        self.opens.invalidate()  # an open not started yet never runs; one running is answered to no one
        self.lane.invalidate()
        if self._unsaved is not None and self.snapshot is not None:
            self._write(self._unsaved)  # its search was dropped; the edit itself must not be

    def _loaded(self, _gen: int, info: EngineInfo) -> None:
        self._opening = None
        self.info = info
        self.ready.emit(info)
        if self.query is not None:
            self.ask(self.query)

    def _load_failed(self, _gen: int, failure: Failure) -> None:
        self._opening = None
        self.panel.show_message(PANEL_TITLE, f"Search is not available: {failure.error}")
        if not isinstance(failure.error, UserError):
            self.error.emit("Search could not be prepared", failure)

    # ------------------------------------------------------------ questions

    def ask(self, query: Query) -> None:
        """Ask for the similar articles of a query; only the newest question is answered."""
        self.query = query
        if self.info is None:
            if self.snapshot is not None and any(self.snapshot.counts.get("vectors_by_model", {}).values()):
                self.panel.show_message(query.title(), "Preparing search…")
            return
        self._submit(query)

    def ask_files(self, files: list[Path], before: Callable[[], None] | None = None) -> None:
        """Search by photo files from outside the catalog; the files are checked off the UI thread."""

        def checked(images: list[Path]) -> None:
            if not images:
                self.error.emit(
                    "Not photos",
                    InputError(
                        "None of the dropped files is a photo Lookalike can read (JPEG, PNG, WebP, TIFF, BMP or GIF)."
                    ),
                )
                return
            if before is not None:
                before()
            self.ask(Query("files", files=images))

        self.runner.call(lambda: [p for p in files if file_is_image(p)], on_done=checked)

    def rerun(self) -> None:
        """Ask the current question again (labels, decisions or the stored search settings changed)."""
        if self.query is not None:
            self.ask(self.query)

    def forget_query(self, message: str) -> None:
        """No question any more (nothing is selected): drop a pending answer and say what to do."""
        self.query = None
        self.lane.invalidate()
        self.last_outcome = None
        self.panel.show_message(PANEL_TITLE, message)
        self.answered.emit(None)

    def set_show_rejected(self, on: bool) -> None:
        if on != self.show_rejected:
            self.show_rejected = on
            self.rerun()

    def query_article(self) -> str | None:
        """The one article the current question is about (decisions are made on it and a result): the query
        article, or the article of the query photo(s), as the engine found it."""
        q = self.query
        if q is None:
            return None
        if q.kind in ("articles", "photo"):
            return q.articles[0] if len(q.articles) == 1 else None
        out = self.last_outcome
        return out.query_article if out is not None and out.query == q else None

    def rank_all(self, on_done: Callable[[list[str]], None]) -> bool:
        """Every article (up to the engine's limit) by similarity to the current question, most similar
        first, for the grid's "similarity" order; False when there is no question to rank by."""
        query, snap = self.query, self.snapshot
        if query is None or snap is None or self.info is None:
            return False
        client, device = self.client, self.device
        top = min(MAX_TOP_K, max(1, self.info.n_articles))

        def run() -> list[str]:
            params = snap.engine.search_settings(top_k=top)
            outcome = client.call("similar", query, params, device=device, show_rejected=True)
            return [*query.articles, *(h.article for h in outcome.hits)]

        self.runner.call(run, on_done=on_done, on_failed=lambda f: self.error.emit("Sorting failed", f))
        return True

    def edit(self, params: SearchSettings) -> None:
        """The curator changed a search control: store it in the catalog, then search with it."""
        if self.snapshot is None:
            return
        if self.query is not None and self.info is not None:
            self._unsaved = params
            self._submit(self.query)
        else:
            self._write(params)

    def _write(self, params: SearchSettings) -> None:
        engine = self.snapshot.engine
        self._unsaved = None
        self.runner.call(
            engine.update_search,
            **params.to_dict(),
            on_failed=lambda f: self.error.emit("Search settings not saved", f),
        )

    def _submit(self, query: Query) -> None:
        if self.adjust_query is not None:
            query = self.adjust_query(query)
        client, engine, device, write = self.client, self.snapshot.engine, self.device, self._unsaved
        show_rejected = self.show_rejected

        def run() -> Outcome:
            if write is not None:
                engine.update_search(**write.to_dict())  # one store: the engine reads it back to search
            return client.call("similar", query, device=device, show_rejected=show_rejected)

        self.panel.show_query(query.title())
        # Thumbnails wait while the search runs: on two cores they would take half of its CPU.
        self.thumbs.pause()
        self.lane.submit(run)

    def _done(self, gen: int, outcome: Outcome) -> None:
        self._unsaved = None  # the newest job carried the newest edit
        self.last_outcome = outcome
        # What the engine really used; s that words set aside stays shown, as the catalog keeps it.
        shown = outcome.params
        if outcome.threshold_unused is not None:
            shown = replace(shown, threshold=outcome.threshold_unused)
        self.panel.set_params(shown)
        root = self.snapshot.photo_root if self.snapshot is not None else None
        q = outcome.query
        single = outcome.query_article is not None  # decisions are with it, also for a photo of it
        self.panel.show_results(
            q.title(), outcome.hits, outcome.total_ms, outcome.note, root, outcome.hidden, single
        )
        self._relate(outcome)
        self.answered.emit(outcome)

    def _related(self, gen: int, relations: dict[str, str | None] | None) -> None:
        if gen == self.relation_lane.generation and relations is not None:
            self.panel.model.set_relations(relations)

    def _relate(self, outcome: Outcome) -> None:
        """Which results are the query's picture or another colour of its shot (their best pairs, by the
        duplicate finder's rules), marked on their cards when that is known."""
        if self.snapshot is None:
            self.relation_lane.invalidate()
            return
        engine, hits = self.snapshot.engine, outcome.hits
        self.relation_lane.submit(lambda: engine.hit_relations(hits))

    def _failed(self, gen: int, failure: Failure) -> None:
        self._unsaved = None
        title = self.query.title() if self.query else PANEL_TITLE
        if isinstance(failure.error, NoVectors):
            self.panel.show_message(
                title, no_vectors_advice(self.snapshot, self.query, self.indexing, str(failure.error))
            )
        elif isinstance(failure.error, UserError):
            self.panel.show_message(title, str(failure.error))
        else:
            self.panel.show_message(title, "The search failed; see the error message.")
            self.error.emit("The search failed", failure)

    # ------------------------------------------------------------ lifetime

    def close_catalog(self) -> None:
        """The catalog closes: forget its question and engine (the child keeps running for the next one)."""
        if self._unsaved is not None and self.snapshot is not None:
            self._write(self._unsaved)
        self._load_timer.stop()
        self._pending_load = None
        self._forget_engine()
        self.snapshot = self.query = self.last_outcome = None
        self.panel.show_message(PANEL_TITLE, HINT)

    def shutdown(self) -> None:
        self._load_timer.stop()
        self._pending_load = None
        self.opens.invalidate()
        self.lane.invalidate()
        # An open (or a search) still running in the child is stopped with it rather than waited for: closing
        # the window must not take as long as reading a large catalog's vectors.
        self.client.interrupt()
        self.relations.shutdown()
        self.runner.shutdown()
        self.client.close()


def no_vectors_advice(snap: Snapshot | None, query: Query | None, indexing: bool, said: str) -> str:
    """What to do about an article without vectors, honestly: wait for the run, or fix unreadable photos."""
    article = query.articles[0] if query is not None and query.kind == "articles" and query.articles else None
    i = snap.articles.index_of.get(article) if snap is not None and article is not None else None
    if i is not None and snap.articles.errors[i] and snap.articles.errors[i] >= snap.articles.counts[i]:
        return (
            f"{article} has no photo that could be read (see its detail page for why), so it cannot be "
            "compared. Replace the damaged files in the photo folder, then use Update index."
        )
    if indexing:
        what = article or "This photo"
        return (
            f"{what} is not embedded yet; indexing is running and will reach it. Select it again afterwards."
        )
    return said


def _no_vectors_message(snap: Snapshot, indexing: bool) -> str:
    if indexing:
        return "Search becomes available when indexing finishes."
    if snap.model_error:
        return snap.model_error
    return (
        "No photo is embedded yet. Use Update index (Ctrl+U) to index the photos; then select an article "
        "to see similar ones."
    )


__all__ = ["EngineClient", "SearchController"]
