"""The review queue's decisions: started from a key or a button, shown once the catalog committed them.

A mixin of `ReviewQueue` (it needs the queue's list, detail pane, status line and `work`, the
`ReviewController`). The controller writes each decision on a thread of its own, so the window keeps
painting and answering while a write waits for the catalog (SQLite's busy timeout while an index update
commits, the network of a shared catalog). While a write is on its way the next decision is refused (a key
held down decides once), the status line says "Saving…" if it takes a moment, and the queue moves on only
after the commit: what it shows as done is on disk. A failed write leaves the queue where it was and says
why; a label another curator set meanwhile shows the conflict box.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from desktop_app.core import label_evidence as lab
from desktop_app.core import label_sources as src
from desktop_app.core.errors import Conflict
from desktop_app.core.labels import Suggestion
from desktop_app.core.wording import plural
from desktop_app.gui.conflicts import show_conflict
from desktop_app.gui.errors import show_error
from desktop_app.gui.review_controller import Undone
from desktop_app.gui.review_model import percent_text, shown_label
from desktop_app.gui.workers import Failure

SAVING_NOTE_MS = 250  # a write slower than this says "Saving…"; quicker ones do not make the status flicker
NOT_SAVED_ADVICE = "The decision could not be written to the catalog, so the queue stayed where it was."


class QueueDecisions:
    """Decisions of the review queue and what the queue shows once they are written."""

    def _connect_decisions(self) -> None:
        work = self.work
        work.decided.connect(self._on_decided)
        work.skipped.connect(self._on_skipped)
        work.accepted.connect(self._on_accepted)
        work.undone.connect(self._on_undone)
        work.redone.connect(self._on_redone)
        work.not_saved.connect(self._on_not_saved)
        work.settled.connect(self._on_settled)
        self._saving_note = QTimer(self)
        self._saving_note.setSingleShot(True)
        self._saving_note.setInterval(SAVING_NOTE_MS)
        self._saving_note.timeout.connect(lambda: self._set_status("Saving…"))
        self._moved_while_saving = False  # the curator went to another article while a write was on its way
        self._refresh_after_write: bool | None = None  # a refresh asked for during a write (rebuild_index)
        self.conflict_box: QMessageBox | None = None  # the last conflict shown, for tests
        self.error_box: QMessageBox | None = None  # the last failed write shown, for tests
        self._bulk_threshold = 0.0  # of the bulk accept on its way, for its message

    # ------------------------------------------------------------------ starting a decision

    def accept_current(self) -> bool:
        """Accept the current suggestion; False when there is none or the queue cannot decide now."""
        s = self.current_suggestion()
        if s is None or self._busy():
            return False
        label = shown_label(s, self.model.min_confidence)
        if label is None:
            self._set_status("No suggestion for this article: pick 1–3, type a label, or skip with S.")
            return False
        return self._decide(s.article, label, "accept", src.REVIEWED)

    def pick_alternative(self, n: int) -> bool:
        """Label the current article with its n-th best label (1-based), whatever the threshold says; a
        runner-up below lab.PICK_FLOOR is not offered (its button is greyed) and the status says so."""
        s = self.current_suggestion()
        if s is None or not (1 <= n <= len(s.alternatives)) or self._busy():
            return False
        e = s.evidence()[n - 1]
        if n > 1 and not e.offered:
            self._set_status(
                f"{e.label} is below {percent_text(lab.PICK_FLOOR)} ({e.describe()}), so {n} does not pick "
                "it; type the label to set it."
            )
            return False
        return self._decide(s.article, e.label, "alternative", src.REVIEWED)

    def set_label(self, text: str) -> bool:
        """Label the current article with a label typed by the curator."""
        s = self.current_suggestion()
        label = self._canonical(text)
        if s is None or not label or self._busy():
            return False
        return self._decide(s.article, label, "set", "manual")

    def skip_current(self) -> bool:
        article = self.current_article()
        if article is None or self._busy():
            return False
        return self._started(self.work.skip(article))

    def accept_all_above(self, threshold: float, confirm: bool = True) -> int:
        """Accept every shown suggestion with confidence >= threshold (skipped articles are left alone);
        returns how many are being written (0: none, declined or busy)."""
        if self._busy():
            return 0
        chosen = self.work.bulk_candidates(threshold)
        if not chosen:
            self._set_status(f"No suggestion reaches {threshold:.0%}.")
            return 0
        if confirm and not self._confirm_bulk(len(chosen), threshold):
            return 0
        self._bulk_threshold = threshold
        return len(chosen) if self._started(self.work.accept_all(chosen)) else 0

    def _confirm_bulk(self, n: int, threshold: float) -> bool:
        text = (
            f"Accept {plural(n, 'suggestion')} with confidence ≥ {threshold:.0%}?\n\n"
            f"Each becomes the article's {self.field} label now. Undo (Ctrl+Z) takes them all back at once."
        )
        n_skipped = self.model.counts()[1]
        if n_skipped:
            text += f"\n\n{n_skipped} skipped article{'s are' if n_skipped != 1 else ' is'} left alone."
        answer = QMessageBox.question(
            self,
            "Accept suggestions",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def undo(self) -> bool:
        """Undo the latest review decision of this field (a bulk accept as a whole); `undone` says how many
        decisions it took back once written. False when the queue cannot undo now."""
        if self._busy():
            return False
        return self._started(self.work.undo())

    def redo(self) -> bool:
        """Write the latest decision Undo took back here again (a bulk accept as a whole, with its labels
        and source). False when there is nothing to redo or the queue cannot write now."""
        if not self.work.redo_stack:
            self._set_status("Nothing to redo.")
            return False
        if self._busy():
            return False
        return self._started(self.work.redo())

    def _decide(self, article: str, label: str, action: str, source: str) -> bool:
        return self._started(self.work.decide(article, label, action, source))

    def _started(self, started: bool) -> bool:
        if started:
            self._moved_while_saving = False
            self._saving_note.start()
        return started

    def _busy(self) -> bool:
        # While suggestions are recomputed the labels they were built from may be read at any moment: a
        # decision now could come back as "unlabelled" in the new queue. Loading takes seconds; wait.
        if self.work.loading:
            self._set_status("Still computing suggestions — a moment.")
            return True
        # One write at a time: a second key press must not decide an article the first has not left yet.
        if self.work.writing is not None:
            self._set_status("Saving the last decision — a moment.")
            return True
        return False

    def _canonical(self, text: str) -> str:
        # "Tops" and "tops" would be two labels for one thing: reuse the existing spelling.
        text = " ".join(text.split())
        return next((k for k in self._known if k.casefold() == text.casefold()), text)

    def _current_moved(self) -> None:
        if self.work.writing is not None:
            self._moved_while_saving = True

    # ------------------------------------------------------------------ written

    def _move_on(self, row: int) -> None:
        """After a decision took an article off its row: the article now there, unless the curator went
        elsewhere while it was being written."""
        if self._moved_while_saving:
            self._show_row(self.view.currentIndex().row())
        else:
            self._select(min(row, self.model.rowCount() - 1))

    def _on_decided(self, article: str, label: str, action: str, row: int) -> None:
        if label.casefold() not in {k.casefold() for k in self._known}:
            self._set_known(self._known + [label])
        if self._canonical(self.label_edit.text()).casefold() == label.casefold():
            self.label_edit.clear()  # what was typed is written (something typed since stays)
        self._move_on(row)
        verb = {"accept": "accepted", "alternative": "picked", "set": "typed"}.get(action, action)
        self._set_status(f"{article} → {label} ({verb}). Ctrl+Z undoes.")
        self._update_counts()
        if self.model.rowCount() == 0:
            self.detail.show_empty(
                f"Done: no unlabelled article is left in {self.field}. Refresh after indexing new photos."
            )
        if not self.label_edit.hasFocus():
            self.view.setFocus()
        self.decided.emit(article, label, action)
        self.labels_changed.emit([article])

    def _on_skipped(self, article: str, row: int) -> None:
        n, skipped = self.model.counts()
        # Move on to the next undecided article; only skipped ones left means we wrap to the first.
        self._move_on(row if row < n - skipped else 0)
        self._set_status(f"Skipped {article}; it waits at the end of the queue.")
        self._update_counts()

    def _on_accepted(self, chosen: list[Suggestion]) -> None:
        self._set_known(self._known + [s.label for s in chosen if s.label])
        self._select(0)
        self._set_status(
            f"Accepted {len(chosen)} suggestions with confidence ≥ {self._bulk_threshold:.0%}. "
            "Ctrl+Z undoes them together."
        )
        self._update_counts()
        self.labels_changed.emit([s.article for s in chosen])

    def _on_undone(self, result: Undone | str) -> None:
        if isinstance(result, str):
            self._set_status(result)
            self.undone.emit(0)
            return
        if result.back:
            self.detail.hide_empty()
            self._select(0)
        first = result.events[0]
        if len(result.events) > 1:
            self._set_status(f"Undid {len(result.events)} {first['action']} decisions made together.")
        else:
            what = (
                "skip"
                if first["action"] == "skip"
                else f"{first['article']} → {first['new_value'] or '(none)'}"
            )
            self._set_status(f"Undid {what}; back to {first['old_value'] or 'unlabelled'}.")
        self._update_counts()
        self.labels_changed.emit([ev["article"] for ev in result.events])
        self.undone.emit(len(result.events))
        if result.missing:
            # Its suggestion needs a search with today's labels: recompute off the UI thread and come back
            # to the article once it is ready.
            self._focus_after_load = result.missing[0] if not result.back else None
            self._refresh_after_write = bool(self._refresh_after_write)

    def _on_redone(self, events: list[dict], row: int) -> None:
        self._set_known(self._known + [ev["new_value"] for ev in events if ev["new_value"]])
        n, skipped = self.model.counts()
        self._move_on(max(0, min(row, n - skipped - 1)))
        first = events[0]
        if len(events) > 1:
            self._set_status(f"Redid {len(events)} {first['action']} decisions made together. Ctrl+Z undoes.")
        elif first["action"] == "skip":
            self._set_status(f"Redid: skipped {first['article']}; it waits at the end of the queue.")
        else:
            self._set_status(f"Redid {first['article']} → {first['new_value'] or '(none)'}. Ctrl+Z undoes.")
        self._update_counts()
        self.labels_changed.emit([ev["article"] for ev in events])

    def _on_not_saved(self, failure: Failure) -> None:
        # A window closing while its last write failed is going away: the box stands on its own then.
        parent = None if self.work.closed else self
        exc = failure.error
        if isinstance(exc, Conflict):  # another curator labelled it meanwhile: who and when, theirs stands
            self._set_status("Not saved: another curator labelled it meanwhile.")
            self.conflict_box = show_conflict(parent, "Your label", exc)
            return
        self._set_status(f"Not saved: {exc}")
        self.error_box = show_error(parent, "Label not saved", failure, NOT_SAVED_ADVICE)

    def _on_settled(self) -> None:
        self._saving_note.stop()
        self._enable_actions()
        rebuild, self._refresh_after_write = self._refresh_after_write, None
        if rebuild is not None:
            self.refresh(rebuild_index=rebuild)
        self.settled.emit()


__all__ = ["NOT_SAVED_ADVICE", "SAVING_NOTE_MS", "QueueDecisions"]
