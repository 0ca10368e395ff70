"""Match decisions and the learned adapter from the main window.

A decision on the query and a result (from the similar panel, its menu or its keys) or on the two articles
of a match inspector is written through the window's engine on the catalog's threads, with the decision the
curator saw as `expected`: when another curator decided the pair meanwhile, the engine refuses
(`Conflict`), the views show their decision and the curator may overwrite it. `decided` tells every view
(the panel's badges, open inspectors) and the edit history.

Decisions are written one at a time, in the order they were asked for: a curator pressing keys faster than
a write is saved gets every press, in order (two writes side by side on the catalog's threads could land in
either order). A later press on a pair whose earlier one is still waiting expects what that one writes, so
the curator's own press does not read as another curator's change.

"Learn from my decisions" trains an adapter in a child process (`core.adapt_child`) with progress and
Cancel; switching one on prepares its vectors in a child process too. Switching on or off, or a new one,
makes the engine child reload its vectors and search again.

The controller needs the catalog (`CatalogController`) and the search (`SearchController`, with its similar
panel) and nothing else of the window; the adapter status it reads goes out as `adapter_read`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QProgressDialog, QWidget

from desktop_app.core.adapt_child import switch_on_main
from desktop_app.core.engine.decisions import ImportCancelled
from desktop_app.core.errors import Conflict, UserError
from desktop_app.core.wording import decision_words, plural
from desktop_app.gui.child_job import ChildJob
from desktop_app.gui.conflicts import show_conflict
from desktop_app.gui.export_dialog import ask_export_path, file_name
from desktop_app.gui.workers import Failure, Task

if TYPE_CHECKING:
    from desktop_app.gui.catalog_controller import CatalogController
    from desktop_app.gui.search_controller import SearchController

NOT_SAVED = "Your decision"
WRITE_WAIT_S = 30  # at a close, how long the waiting decisions wait for the one being written
IMPORT_DIALOG_AFTER_MS = 400  # an import that takes longer than this shows its progress dialog
log = logging.getLogger("desktop_app.gui")


@dataclass
class PendingDecision:
    """One decision asked for and not yet written."""

    engine: Any  # the catalog it was made in: one closed meanwhile does not get it
    a: str
    b: str
    decision: str  # "same", "alike", "not_match" or "none"
    expected: str | None  # the pair's decision the curator saw (or an earlier press will write)
    force: bool = False
    finished: threading.Event = field(default_factory=threading.Event)  # its write is over, however it ended

    @property
    def pair(self) -> tuple[str, str]:
        return (self.a, self.b) if self.a < self.b else (self.b, self.a)

    def write(self) -> str | None:
        """Write it (worker thread); the decision now stored."""
        try:
            self.engine.decide(self.a, self.b, self.decision, expected=self.expected, force=self.force)
        finally:
            self.finished.set()
        return None if self.decision == "none" else self.decision


class DecisionsController(QObject):
    decided = Signal(str, str, object)  # article a, article b, the decision now stored (None: undecided)
    imported = Signal()  # decisions changed in bulk (an import): every view reads them again
    adapter_changed = Signal(object)  # the adapter status after a change (Engine.adapter_status())
    adapter_read = Signal(object)  # the adapter status as last read (the menu's check mark, the status bar)
    message = Signal(str)
    error = Signal(str, object)  # title, Failure

    def __init__(self, catalogs: CatalogController, search: SearchController, parent: QWidget) -> None:
        super().__init__(parent)
        self.catalogs = catalogs
        self.search = search
        self.dialog_parent = parent  # the window the conflict box and the adapter dialog belong to
        self.adapter_dialog = None
        self.switch_job: ChildJob | None = None  # switching the adapter on
        self.status: dict | None = None  # the adapter status last read
        self.conflict_box = None  # the conflict message on show, for tests
        self.queue: deque[PendingDecision] = deque()  # asked for, waiting for the write before them
        self.writing: PendingDecision | None = None
        self.import_dialog: QProgressDialog | None = None  # the progress of an import running now
        catalogs.releasing.connect(self._write_waiting)

    # ------------------------------------------------------------ decisions

    def decide_result(self, article: str, decision: str) -> None:
        """Decide the current query article and one of its results."""
        query = self.search.query_article()
        if query is None:
            self.message.emit("Decisions are between two articles: select one article as the query.")
            return
        results = self.search.panel.model
        row = results.row_of(article)
        seen = results.hits[row].decision if row >= 0 else None
        self.decide(query, article, decision, seen)

    def decide(self, a: str, b: str, decision: str, expected: str | None, force: bool = False) -> None:
        """Write one decision ("none" takes it back) unless the pair changed since `expected` was seen; after
        the decisions asked for before it."""
        engine = self.catalogs.engine
        if engine is None:
            return
        item = PendingDecision(engine, a, b, decision, expected, force)
        for earlier in (*([self.writing] if self.writing else []), *self.queue):
            if earlier.pair == item.pair and earlier.engine is engine:
                item.expected = earlier.decision if earlier.decision != "none" else None
        self.queue.append(item)
        self._write_next()

    def _write_next(self) -> None:
        if self.writing is not None:
            return
        while self.queue:
            item = self.queue.popleft()
            if item.engine is self.catalogs.engine:
                break
            log.info("Decision on %s / %s not written: its catalog was closed", item.a, item.b)
        else:
            return
        self.writing = item
        self.catalogs.call(
            item.write,
            on_done=lambda d: self._written(item, d),
            on_failed=lambda f: self._not_written(item, f),
        )

    def _written(self, item: PendingDecision, decision: str | None) -> None:
        self.writing = None
        self._decided(item.a, item.b, decision)
        self._write_next()

    def _not_written(self, item: PendingDecision, failure: Failure) -> None:
        self.writing = None
        # Later presses on this pair were meant over this one: the box says what stands, and asks again.
        later = [q for q in self.queue if q.pair == item.pair]
        for q in later:
            self.queue.remove(q)
        self._failed(item.a, item.b, item.decision, failure)
        if later:
            were = "was" if len(later) == 1 else "were"
            self.message.emit(
                f"{item.a} and {item.b}: your {plural(len(later), 'later decision')} on this pair "
                f"{were} not written either; decide it again."
            )
        self._write_next()

    def _decided(self, a: str, b: str, decision: str | None) -> None:
        self.decided.emit(a, b, decision)
        self.message.emit(f"{a} and {b}: {decision_words(decision)}.")

    def _failed(self, a: str, b: str, decision: str, failure: Failure) -> None:
        exc = failure.error
        if not isinstance(exc, Conflict):
            self.error.emit("Decision not saved", failure)
            return
        theirs = exc.conflicts[0].get("decision") if exc.conflicts else None
        self.decided.emit(a, b, theirs)  # every view shows the decision that stands
        self.conflict_box = show_conflict(
            self.dialog_parent,
            NOT_SAVED,
            exc,
            overwrite=lambda: self.decide(a, b, decision, theirs, force=True),
        )

    def export_decisions(self) -> None:
        """Match > Export decisions…: every current decision as CSV (article_a, article_b, decision, ...)."""
        engine = self.catalogs.engine
        if engine is None:
            return
        name = file_name(engine.title(), "match decisions", ext="csv")
        path = ask_export_path(self.dialog_parent, "Export match decisions", name, "CSV (*.csv)")
        if path:
            self.catalogs.call(
                engine.export_decisions,
                Path(path),
                on_done=lambda n: self.message.emit(f"Wrote {plural(n, 'decision')} to {path}."),
                on_failed=lambda f: self.error.emit("Decisions not exported", f),
            )

    def import_decisions(self) -> None:
        """Match > Import decisions…: a CSV with article_a, article_b, decision, as one undoable batch."""
        engine = self.catalogs.engine
        if engine is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self.dialog_parent, "Import match decisions", "", "CSV (*.csv);;All files (*)"
        )
        if path:
            self._import(engine, Path(path), force=False)

    def _import(self, engine: Any, path: Path, force: bool) -> None:
        """Import on the catalog's threads with a progress dialog; its Cancel writes nothing (one transaction)."""
        task = Task(import_in_thread, engine, path, force, with_progress=True, with_cancel=True)
        dialog = QProgressDialog(f"Importing decisions from {path.name}…", "Cancel", 0, 0, self.dialog_parent)
        dialog.setWindowTitle("Import decisions")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(IMPORT_DIALOG_AFTER_MS)  # a small file is done before it would show
        dialog.setAutoReset(False)  # the last rows written are not the end: the transaction still commits
        dialog.setAutoClose(False)
        dialog.canceled.connect(task.cancel)
        dialog.canceled.connect(lambda: dialog.setLabelText("Cancelling; nothing will be written…"))
        self.import_dialog = dialog

        def progress(p: tuple[int, int, str]) -> None:
            done, total, _note = p
            if not dialog.wasCanceled():
                dialog.setMaximum(max(total, 1))
                dialog.setValue(min(done, total))

        def finished() -> None:
            dialog.canceled.disconnect()
            dialog.close()
            dialog.deleteLater()
            if self.import_dialog is dialog:
                self.import_dialog = None

        def done(report) -> None:
            finished()
            self._imported(report)

        def failed(failure: Failure) -> None:
            finished()
            if isinstance(failure.error, ImportCancelled):
                self.message.emit(f"Import of {path.name} cancelled; no decision was written.")
            elif not isinstance(failure.error, Conflict):
                self.error.emit("Decisions not imported", failure)
            else:  # another curator decided some of the file's pairs otherwise: nothing written; theirs or mine?
                self.conflict_box = show_conflict(
                    self.dialog_parent,
                    f"The import of {path.name}",
                    failure.error,
                    overwrite=lambda: self._import(engine, path, force=True),
                )

        self.catalogs.runner.start(task, on_done=done, on_failed=failed, on_progress=progress)

    def _imported(self, report) -> None:
        self.imported.emit()
        same = f" ({report.unchanged:,} already so)" if report.unchanged else ""
        self.message.emit(f"Imported {plural(report.imported, 'decision')}{same}; Undo takes them back.")

    # ------------------------------------------------------------ the adapter

    def read_adapter(self) -> None:
        """Read whether an adapter is on (for the menu's check mark), off the UI thread."""
        engine = self.catalogs.engine
        if engine is not None:
            self.catalogs.call(adapter_status, engine, on_done=self._status, on_failed=lambda _f: None)

    def _status(self, status: dict | None) -> None:
        self.status = status
        self.adapter_read.emit(status)

    def use_adapter(self, on: bool) -> None:
        """Switch the learned similarity on (its vectors are prepared in a child process first, with progress
        in the status bar; unchecking meanwhile cancels) or off."""
        engine = self.catalogs.engine
        if engine is None:
            return
        if self.switch_job is not None:
            if not on:
                self.switch_job.cancel()
                self.message.emit("Stopping…")
            return
        if on:
            job = switch_on_job(engine.location, self)
            job.progress.connect(lambda p: self.message.emit(preparing_text(p)))
            job.done.connect(self.adapter_switched)
            job.cancelled.connect(lambda: self.message.emit("Not switched on; search is as it was."))
            job.failed.connect(lambda f: self._adapter_failed("The adapter was not switched on", f))
            job.finished.connect(self._switch_over)
            self.switch_job = job
            self.message.emit(preparing_text(None))
            job.start()
            return

        def switch() -> dict | None:
            engine.use_adapter(False)
            return adapter_status(engine)

        self.catalogs.call(
            switch,
            on_done=self.adapter_switched,
            on_failed=lambda f: self._adapter_failed("The adapter was not switched off", f),
        )

    def shutdown(self) -> None:
        self._write_waiting()
        if self.adapter_dialog is not None and shiboken6.isValid(self.adapter_dialog):
            self.adapter_dialog.close()  # stops a training run: nothing half-stored
        if self.switch_job is not None:
            self.switch_job.shutdown()  # stops before the switch: search stays as it was
            self.switch_job = None

    def _write_waiting(self, engine: Any = None) -> None:
        """The window or the catalog closes (or another catalog replaces it): the decisions still waiting
        for it are written now, in order, after the one on its way on the catalog's threads (a decision the
        curator made is never dropped for a close, nor written before an earlier press on its pair)."""
        engine = engine or self.catalogs.engine
        waiting = [i for i in self.queue if i.engine is engine]
        if not waiting:
            return
        if self.writing is not None and self.writing.engine is engine:
            self.writing.finished.wait(WRITE_WAIT_S)
        for item in waiting:
            self.queue.remove(item)
            try:
                item.write()
            except UserError as exc:  # a pair another curator changed: theirs stands, as in the app
                log.warning("Decision on %s / %s not written at close: %s", item.a, item.b, exc)

    def _switch_over(self) -> None:
        self.switch_job = None
        self.read_adapter()  # the menu shows what is stored, whatever the end

    def adapter_switched(self, status: dict | None) -> None:
        """A new adapter, or one switched on or off: the engine child reads its vectors again."""
        self._status(status)
        self.adapter_changed.emit(status)
        search = self.search
        if search.info is not None:
            search.runner.call(
                search.client.call,
                "reload",
                on_done=lambda _r: search.rerun(),
                on_failed=lambda f: self.error.emit("Search was not updated", f),
            )
        on = bool(status and status.get("active"))
        self.message.emit(
            "Search now uses what it learned from your decisions."
            if on
            else "Search uses the model's own similarity again."
        )

    def _adapter_failed(self, title: str, failure: Failure) -> None:
        self.read_adapter()  # the menu shows what is stored
        self.error.emit(title, failure)

    def open_adapter_dialog(self) -> QObject | None:
        snap = self.catalogs.snapshot
        if snap is None:
            return None
        from desktop_app.gui.adapter_dialog import AdapterDialog

        dialog = AdapterDialog(snap.engine, self.catalogs.runner, self.dialog_parent)
        dialog.changed.connect(self.adapter_switched)
        self.adapter_dialog = dialog  # the reference a non-blocking dialog needs until it closes
        dialog.open()
        return dialog


def import_in_thread(engine: Any, path: Path, force: bool, progress, should_cancel):
    """`Engine.import_decisions` on a worker thread, its progress sent as one (done, total, note) tuple."""
    return engine.import_decisions(
        path, force=force, progress=lambda *p: progress(p), should_cancel=should_cancel
    )


def switch_on_job(location: str, parent: QObject) -> ChildJob:
    """A child process that prepares the newest adapter's vectors for search and switches it on."""
    return ChildJob(
        switch_on_main,
        (location, None),
        "lookalike-adapter-on",
        "The process preparing the learned similarity stopped unexpectedly; search is as it was",
        parent,
    )


def preparing_text(progress: tuple[int, int, str] | None) -> str:
    text = "Preparing the learned similarity for search…"
    if progress is None:
        return text
    done, total, note = progress
    share = f" {100 * done // total}%" if total else ""
    return f"{text} {note}{share}".rstrip()


def adapter_status(engine: Any) -> dict | None:
    """The engine's adapter status, or None when the catalog has no vectors to adapt (worker thread)."""
    from desktop_app.core.errors import ModelError

    try:
        return engine.adapter_status()
    except ModelError:
        return None


__all__ = ["DecisionsController", "adapter_status"]
