"""The review queue's work: suggestions from the engine child, decisions written through the engine.

Loading asks the engine child that the main window's search uses (`search_controller.EngineClient`) for
`Engine.review`: every unlabelled article's suggestion by the catalog's search settings, with the photos to
show. The window's process never holds the catalog's vectors.

Every decision is one `Engine` call that commits before the queue moves on (`set_labels`, `skip`,
`set_label_items` for a bulk accept), so a crash or a kill loses nothing that was shown as done. Undo is
`Engine.undo`, which takes back a whole decision (all articles of a bulk accept) in one transaction, and
reaches decisions of an earlier session. Only review decisions are undone here: an import on top of the
log is left to its own tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop_app.core.engine import Engine
from desktop_app.core.labels import ReviewData, Suggestion
from desktop_app.core.settings import SearchSettings
from desktop_app.gui.review_model import QueueEntry, SuggestionModel, shown_label, sort_key
from desktop_app.gui.search_controller import EngineClient
from desktop_app.gui.workers import Failure, Runner, Task

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
    photos = {a: [root / p for p in paths] for a, paths in data.photos.items()} if root is not None else {}
    return ReviewLoad(data, photos, params, engine.text_problem())


@dataclass
class Undone:
    events: list[dict]  # the events taken back (one decision)
    back: int  # articles put back in the queue from memory
    missing: list[str]  # articles back in the queue whose suggestion must be computed again


class ReviewController(QObject):
    """Loads the queue and applies decisions to the catalog, then to the model (never the other way)."""

    loaded = Signal(object)  # ReviewLoad of the newest refresh
    failed = Signal(object)  # Failure of the newest refresh

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
        self._generation = 0

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
        asked, unlabelled = len(load.data.suggestions), load.data.unlabelled
        self.batch = (asked, unlabelled) if 0 < asked < unlabelled else None
        self.model.reset(load.data.suggestions, load.data.skipped)
        self.loaded.emit(load)

    def _failed(self, gen: int, failure: Failure) -> None:
        if gen == self._generation and not self.closed:
            self.loading = False
            self.failed.emit(failure)

    # ------------------------------------------------------------ decisions (each commits first)

    def decide(self, article: str, label: str, action: str, source: str) -> int:
        """Write one label, then take the article off the queue; returns the row it had."""
        self.engine.set_labels([article], self.field, label, source=source, action=action)
        self.decisions += 1
        return self.model.remove(article)

    def skip(self, article: str) -> None:
        self.engine.skip(article, self.field)
        self.model.mark_skipped(article)

    def bulk_candidates(self, threshold: float) -> list[Suggestion]:
        """Shown suggestions with confidence >= threshold (skipped articles are left alone)."""
        return [
            e.suggestion
            for e in self.model.entries()
            if not e.skipped
            and shown_label(e.suggestion, self.model.min_confidence) is not None
            and e.suggestion.confidence >= threshold
        ]

    def accept_all(self, chosen: list[Suggestion]) -> None:
        """Accept these suggestions as one decision: one undo takes them all back."""
        self.engine.set_label_items([(s.article, self.field, s.label) for s in chosen], "accepted", "accept")
        self.model.remove_many([s.article for s in chosen])
        self.decisions += len(chosen)

    def undo(self) -> Undone | str:
        """Take back the latest review decision of this field (a bulk accept as a whole).

        Returns what was undone, or a sentence saying why nothing was.
        """
        # An import may hold thousands of labels the curator did not make here; taking it back is not what
        # Ctrl+Z in a review queue should do by accident: only a review decision that is the latest is undone
        # (checked and undone in one transaction).
        events = self.engine.undo(self.field, REVIEW_ACTIONS, only_latest=True)
        if not events:
            latest = self.engine.last_label_decision(self.field)
            if latest is not None and latest["action"] not in REVIEW_ACTIONS:
                return (
                    f"Nothing to undo here: the last change of {self.field} labels is an {latest['action']}, "
                    "not a review decision."
                )
            return "Nothing to undo."
        return Undone(events, *self._requeue(events))

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
        self.closed = True


__all__ = ["DEFAULT_K", "REVIEW_ACTIONS", "ReviewController", "ReviewLoad", "Undone", "load_review"]
