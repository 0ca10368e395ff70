"""The review queue's work: suggestions from the engine child, decisions written through the engine.

Loading asks the engine child that the main window's search uses (`search_controller.EngineClient`) for
`Engine.review`: every unlabelled article's suggestion by the catalog's search settings, with the photos to
show. The window's process never holds the catalog's vectors.

Every decision is one `Engine` call that commits before the queue moves on (`set_labels`, `skip`,
`set_label_items` for a bulk accept), so a crash or a kill loses nothing that was shown as done. Undo is
`Engine.undo`, which takes back a whole decision (all articles of a bulk accept) in one transaction, and
reaches decisions of an earlier session. Only review decisions are undone here: an import on top of the
log is left to its own tools. Redo writes the latest undone decision again exactly as it was (its labels,
action and source; a skip skips again), as a new decision with what the undo left as `expected` (a label
someone changed since is a Conflict); a new decision clears what can be redone.

Writes run on a thread of their own, one at a time: a catalog write can wait seconds (SQLite's busy timeout
while an index update commits, the network of a shared catalog) and the UI thread must not wait with it.
While one is on its way the next decision is refused (`writing`); the queue's model changes only once the
write committed, and a failed write leaves it as it was (`not_saved`). Closing waits for the write on its
way and settles it, so a decision made just before closing is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop_app.core.engine import Engine
from desktop_app.core.errors import Conflict
from desktop_app.core.label_sources import BULK_ACCEPTED, ZERO_SHOT_ACCEPTED
from desktop_app.core.labels import ReviewData, Suggestion
from desktop_app.core.paths import photo_file
from desktop_app.core.settings import SearchSettings
from desktop_app.gui.history import SOURCE_OF_ACTION
from desktop_app.gui.review_model import QueueEntry, SuggestionModel, shown_label, sort_key
from desktop_app.gui.search_controller import EngineClient
from desktop_app.gui.workers import Failure, Runner, Task, excepthook_text

DEFAULT_K = 10
# Decisions the queue's undo takes back; imports and other bulk edits are left to their own tools.
REVIEW_ACTIONS = ("accept", "alternative", "set", "skip")
LOAD_PRIORITY = 1_000_000_000  # ahead of any queued thumbnail


@dataclass
class ReviewLoad:
    data: ReviewData
    photos: dict[str, list[Path]]  # article -> absolute photo paths, cover first
    params: SearchSettings  # the search settings the suggestions were computed with
    text_problem: str | None = (
        None  # why the catalog's model cannot make zero-shot suggestions (None: it can)
    )
    photo_root: Path | None = None  # where the photos are on this machine


def load_review(
    engine: Engine,
    client: EngineClient,
    field: str,
    k: int,
    device: str | None,
    reload: bool,
    zero_shot_labels: list[str] | None = None,
) -> ReviewLoad:
    """Worker body: the engine child computes the suggestions (zero-shot from label names while the field
    has few labels and the model has a text side); reload first picks up newly indexed photos."""
    client.ensure(engine.location, device)
    if reload:
        client.call("reload")
    params = client.call("search_settings")
    data = client.call("review", field, k, params, zero_shot_labels)
    root = engine.photo_root()
    photos = (
        {a: [photo_file(root, p) for p in paths] for a, paths in data.photos.items()}
        if root is not None
        else {}
    )
    return ReviewLoad(data, photos, params, engine.text_problem(), root)


def undo_latest(engine: Engine, field: str) -> list[dict] | str:
    """Worker body of undo: the events of the latest review decision taken back, or why there were none."""
    # An import may hold thousands of labels the curator did not make here; taking it back is not what
    # Ctrl+Z in a review queue should do by accident: only a review decision that is the latest is undone
    # (checked and undone in one transaction).
    events = engine.undo(field, REVIEW_ACTIONS, only_latest=True)
    if events:
        return events
    latest = engine.last_label_decision(field)
    if latest is not None and latest["action"] not in REVIEW_ACTIONS:
        return (
            f"Nothing to undo here: the last change of {field} labels is an {latest['action']}, "
            "not a review decision."
        )
    return "Nothing to undo."


def redo_events(engine: Engine, events: list[dict]) -> list[dict]:
    """Worker body of redo: write the decision these undone events were again, as one new decision."""
    for ev in events:
        if ev["action"] == "skip":
            engine.skip(ev["article"], ev["field"])
    rows = [ev for ev in events if ev["action"] != "skip"]
    if rows:
        items = [(r["article"], r["field"], r["new_value"]) for r in rows]
        expected = {(r["article"], r["field"]): r["old_value"] for r in rows}
        action = rows[0]["action"]
        source = next((r["new_source"] for r in rows if r.get("new_source")), None)
        engine.set_label_items(
            items, source or SOURCE_OF_ACTION.get(action, "manual"), action, expected=expected
        )
    return events


@dataclass
class PendingWrite:
    """One decision on its way to the catalog: the engine call (on the write thread), then what follows on
    the UI thread once it committed."""

    write: Callable[[], Any]
    then: Callable[[Any], None]
    result: Any = None
    failure: Failure | None = None
    finished: bool = False

    new_decision: bool = True  # a decision of the curator's (not an undo or redo): nothing is left to redo
    refused: Callable[[Failure], None] | None = None  # on the UI thread when the write failed

    def run(self) -> None:  # the write thread
        try:
            self.result = self.write()
        except BaseException as exc:  # noqa: BLE001 - carried to the UI thread, which says why it failed
            self.failure = Failure(exc, excepthook_text(exc))
        self.finished = True


@dataclass
class Undone:
    events: list[dict]  # the events taken back (one decision)
    back: int  # articles put back in the queue from memory
    missing: list[str]  # articles back in the queue whose suggestion must be computed again


class ReviewController(QObject):
    """Loads the queue and applies decisions to the catalog, then to the model (never the other way)."""

    loaded = Signal(object)  # ReviewLoad of the newest refresh
    failed = Signal(object)  # Failure of the newest refresh
    # After a write committed (the model already follows it):
    decided = Signal(str, str, str, int)  # article, label, action, the row the article had
    skipped = Signal(str, int)  # article, the row it had before it moved to the end
    accepted = Signal(list)  # the Suggestions accepted together
    undone = Signal(object)  # Undone, or a sentence saying why nothing was undone
    redone = Signal(list, int)  # the undone events written again, the row the first article had
    not_saved = Signal(object)  # Failure of a write: nothing changed, the queue is as it was
    settled = Signal()  # after each of the above: the next decision may start

    def __init__(
        self,
        engine: Engine,
        client: EngineClient,
        field: str,
        k: int,
        device: str | None,
        model: SuggestionModel,
        runner: Runner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine, self.client, self.field, self.k, self.device = engine, client, field, k, device
        self.model = model
        self.runner = runner
        self.photos: dict[str, list[Path]] = {}
        self.suggestions: dict[str, Suggestion] = {}
        self.params: SearchSettings | None = None
        self.loading = False
        self.closed = False
        self.decisions = 0  # made in this window, for the counter
        self.batch: tuple[int, int] | None = None  # (suggested, unlabelled) when the queue holds a batch
        self.zero_shot_labels: list[str] | None = None  # label names the curator gave for zero-shot
        self.zero_shot = False  # whether the queue shows zero-shot suggestions (not labelled neighbours')
        self._generation = 0
        # One write at a time on a thread of its own: never queued behind thumbnails or a load.
        self.writes = Runner(1, "review-writes", self)
        self.writing: PendingWrite | None = None  # the decision on its way to the catalog
        self.redo_stack: list[list[dict]] = []  # decisions undone in this window, latest last (their events)

    # ------------------------------------------------------------ loading

    def refresh(self, reload: bool) -> None:
        if self.closed:
            return
        self._generation += 1
        gen = self._generation
        self.loading = True
        task = Task(
            load_review,
            self.engine,
            self.client,
            self.field,
            self.k,
            self.device,
            reload,
            self.zero_shot_labels,
        )
        self.runner.start(
            task, lambda load: self._loaded(gen, load), lambda f: self._failed(gen, f), priority=LOAD_PRIORITY
        )

    def _loaded(self, gen: int, load: ReviewLoad) -> None:
        if gen != self._generation or self.closed:
            return  # superseded by a later refresh
        self.loading = False
        self.photos = load.photos
        self.params = load.params
        self.suggestions = {s.article: s for s in load.data.suggestions}
        self.zero_shot = bool(load.data.note)  # a note says how, when not by labelled neighbours
        asked, unlabelled = len(load.data.suggestions), load.data.unlabelled
        self.batch = (asked, unlabelled) if 0 < asked < unlabelled else None
        self.model.reset(load.data.suggestions, load.data.skipped)
        self.loaded.emit(load)

    def _failed(self, gen: int, failure: Failure) -> None:
        if gen == self._generation and not self.closed:
            self.loading = False
            self.failed.emit(failure)

    # ------------------------------------------------------------ decisions (each commits first)

    def decide(self, article: str, label: str, action: str, source: str) -> bool:
        """Write one label, then take the article off the queue (`decided` says which row it had)."""

        def then(_n: int) -> None:
            self.decisions += 1
            self.decided.emit(article, label, action, self.model.remove(article))

        return self._write(
            lambda: self.engine.set_labels([article], self.field, label, source=source, action=action), then
        )

    def skip(self, article: str) -> bool:
        def then(_none: None) -> None:
            row = self.model.row_of(article)
            self.model.mark_skipped(article)
            self.skipped.emit(article, row)

        return self._write(lambda: self.engine.skip(article, self.field), then)

    def bulk_candidates(self, threshold: float) -> list[Suggestion]:
        """Shown suggestions with confidence >= threshold (skipped articles are left alone)."""
        return [
            e.suggestion
            for e in self.model.entries()
            if not e.skipped
            and shown_label(e.suggestion, self.model.min_confidence) is not None
            and e.suggestion.confidence >= threshold
        ]

    def accept_all(self, chosen: list[Suggestion]) -> bool:
        """Accept these suggestions as one decision: one undo takes them all back."""
        items = [(s.article, self.field, s.label) for s in chosen]

        def then(_n: int) -> None:
            self.model.remove_many([s.article for s in chosen])
            self.decisions += len(chosen)
            self.accepted.emit(chosen)

        # Accepted by a threshold, unseen one by one: never ground truth for calibration (label_sources).
        source = ZERO_SHOT_ACCEPTED if self.zero_shot else BULK_ACCEPTED
        return self._write(lambda: self.engine.set_label_items(items, source, "accept"), then)

    def undo(self) -> bool:
        """Take back the latest review decision of this field (a bulk accept as a whole); `undone` carries
        what was undone, or a sentence saying why nothing was."""

        def then(result: list[dict] | str) -> None:
            if not isinstance(result, str):
                self.redo_stack.append(result)
            self.undone.emit(result if isinstance(result, str) else Undone(result, *self._requeue(result)))

        return self._write(lambda: undo_latest(self.engine, self.field), then, new_decision=False)

    def redo(self) -> bool:
        """Write the latest undone decision again; `redone` says which once written. False when there is
        nothing to redo or a write is on its way."""
        if not self.redo_stack:
            return False
        events = self.redo_stack[-1]

        def then(_events: list[dict]) -> None:
            self.redo_stack.pop()
            self.redone.emit(events, self._take_off_again(events))

        def refused(failure: Failure) -> None:
            if isinstance(failure.error, Conflict) and self.redo_stack and self.redo_stack[-1] is events:
                self.redo_stack.pop()  # a label moved on since: this redo can never apply

        return self._write(
            lambda: redo_events(self.engine, events), then, new_decision=False, refused=refused
        )

    def _take_off_again(self, events: list[dict]) -> int:
        """The queue after a redo: labelled articles leave it, skipped ones wait at the end; returns the row
        the first of them had."""
        row = self.model.row_of(events[0]["article"])
        for ev in events:
            if ev["action"] == "skip":
                self.model.mark_skipped(ev["article"])
            else:
                self.model.remove(ev["article"])
        self.decisions += sum(ev["action"] != "skip" for ev in events)
        return row

    def _write(
        self,
        write: Callable[[], Any],
        then: Callable[[Any], None],
        new_decision: bool = True,
        refused: Callable[[Failure], None] | None = None,
    ) -> bool:
        """Start a write unless one is on its way (or the window closed); False when refused."""
        if self.writing is not None or self.closed:
            return False
        pending = PendingWrite(write, then, new_decision=new_decision, refused=refused)
        self.writing = pending
        task = Task(pending.run)
        task.signals.finished.connect(self._settle)  # a bound slot: never called once this object is gone
        self.writes.start(task)
        return True

    def _settle(self) -> None:
        """The write on its way finished: the queue follows what was committed, or stays as it was."""
        pending = self.writing
        if pending is None or not pending.finished:
            return  # settled already (by `shutdown`)
        self.writing = None
        if pending.failure is not None:
            if pending.refused is not None:
                pending.refused(pending.failure)
            self.not_saved.emit(pending.failure)
        else:
            if pending.new_decision:
                self.redo_stack.clear()  # as in every editor: a new decision leaves nothing to redo
            pending.then(pending.result)
        self.settled.emit()

    def _requeue(self, events: list[dict]) -> tuple[int, list[str]]:
        """Put undone articles back in the queue; those without a suggestion in memory are returned."""
        back: list[QueueEntry] = []
        missing: list[str] = []
        for ev in events:
            entry = self._entry_after_undo(ev)
            if entry is not None:
                back.append(entry)
            elif ev["action"] != "skip" and ev["old_value"] is None and self.model.row_of(ev["article"]) < 0:
                missing.append(ev["article"])  # decided before this window opened: no suggestion in memory
        back.sort(key=lambda e: sort_key(e, self.model.order))
        for i, entry in enumerate(back):
            self.model.insert(i, entry)
        self.decisions = max(0, self.decisions - sum(ev["action"] != "skip" for ev in events))
        return len(back), missing

    def _entry_after_undo(self, ev: dict) -> QueueEntry | None:
        article = ev["article"]
        if ev["action"] == "skip":
            row = self.model.row_of(article)
            if row < 0:
                return None
            entry = self.model.entry(row)
            self.model.remove(article)
            entry.skipped = False
            return entry
        if ev["old_value"] is not None:
            self.model.remove(article)  # labelled again (an undone relabel): not in the queue
            return None
        s = self.suggestions.get(article)
        if s is None or self.model.row_of(article) >= 0:
            return None
        return QueueEntry(s)

    def shutdown(self) -> None:
        """No new work; a write on its way is waited for (never dropped) and settled now."""
        self.closed = True
        self.writes.closed = True
        self.writes.pool.waitForDone()
        self._settle()


__all__ = [
    "DEFAULT_K",
    "REVIEW_ACTIONS",
    "PendingWrite",
    "ReviewController",
    "ReviewLoad",
    "Undone",
    "load_review",
    "redo_events",
    "undo_latest",
]
