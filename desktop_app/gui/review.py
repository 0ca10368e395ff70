"""The review queue: unlabelled articles with a suggested label, decided one keystroke at a time.

The curator sees each unlabelled article, the label its most similar labelled articles vote for, the
runner-up labels, and the neighbours that voted (thumbnails and scores). Enter accepts, 1-3 picks one of
the top three labels, typing sets a label of one's own, S skips, Ctrl+Z undoes. "Accept all with
confidence >= X" takes the sure ones in bulk after a confirmation that shows how many.

This module is the window: the list, the toolbar and the keys. `review_controller` loads the suggestions
from the engine child (by the catalog's search settings) and writes every decision through the engine
before the queue moves on; `review_detail` shows the current article. Nothing slow runs on the UI thread.

Entry point for the main window: `open_review(parent, engine, client, field)`.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails
from desktop_app.core.engine import Engine
from desktop_app.core.errors import Conflict, UserError
from desktop_app.core.labels import DEFAULT_FIELD, Suggestion
from desktop_app.core.zero_shot import FEW_LABELLED
from desktop_app.gui.conflicts import show_conflict
from desktop_app.gui.review_controller import DEFAULT_K, ReviewController, ReviewLoad, Undone
from desktop_app.gui.review_detail import ROW_THUMB, ReviewDetail, ReviewToolbar, queue_view
from desktop_app.gui.review_keys import QueueKeys
from desktop_app.gui.review_model import SuggestionModel, shown_label
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.search_controller import EngineClient
from desktop_app.gui.secondary import add_close_keys
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.words import ZeroShotNames
from desktop_app.gui.workers import Failure, Runner

# Measured on the Magento catalogue (468 articles, category, greedy, k=10). Leave-one-out: 0.40 keeps 99% of
# suggestions at 98.5% accuracy. That is flattered by other colours of the same style; holding out each
# whole style (a truly new product), 0.40 keeps 95% at 81% and 0.90 keeps 41% at 98%. Below 0.40 the queue
# says "no suggestion"; bulk accept starts at 0.90, where even new styles are almost always right.
DEFAULT_MIN_CONFIDENCE = 0.40
DEFAULT_BULK_THRESHOLD = 0.90
THUMB_SIZE = thumbnails.DEFAULT_SIZE  # cached on disk at this size, scaled down for display
KEYS_HINT = "Enter accept · 1–3 pick a label · type to set your own · S skip · Ctrl+Z undo · ↑↓ move"


class ReviewQueue(QueueKeys, QWidget):
    """Unlabelled articles of one label field with their suggestions, reviewed from the keyboard."""

    ready = Signal()  # suggestions are loaded and shown (also after a refresh)
    decided = Signal(str, object, str)  # article, new label (None when cleared), action
    labels_changed = Signal(list)  # articles whose label changed (decisions and undos), for other views
    failed = Signal(str)

    def __init__(
        self,
        engine: Engine,
        client: EngineClient | None = None,
        field: str = DEFAULT_FIELD,
        parent: QWidget | None = None,
        k: int = DEFAULT_K,
        device: str | None = None,
    ) -> None:
        super().__init__(parent)
        # The runner is the first child: when the window is destroyed with its parent it is destroyed first,
        # and its pool's destructor waits for running jobs before the thumbnail loader's signals go away.
        # Thumbnails take at most two of its three threads, so loading suggestions never queues behind them.
        self._runner = Runner(3, "review", self)
        self._pool = self._runner.pool  # everything this window runs; closing waits until it is idle
        self._own_client = client is None  # a queue opened on its own starts its own engine child
        self.client = client if client is not None else EngineClient()
        self.engine = engine
        self.field = field
        self._known: list[str] = []
        self.thumbs = ThumbnailLoader(THUMB_SIZE, threads=2, parent=self, runner=self._runner)
        self.model = SuggestionModel(self)
        self.model.min_confidence = DEFAULT_MIN_CONFIDENCE
        self.model.cover_lookup = self._cover_pixmap
        self.work = ReviewController(engine, self.client, field, k, device, self.model, self._runner, self)
        self.work.loaded.connect(self._on_loaded)
        self.work.failed.connect(self._on_failed)
        self._focus_after_load: str | None = None  # the article to show once suggestions are reloaded
        self._cover_articles: dict[str, str] = {}
        self.thumbs.ready.connect(self._on_cover)
        self.setWindowTitle(f"Review {field} labels — {engine.title()}")
        self._build_ui()
        add_close_keys(self)
        self.refresh(rebuild_index=False)

    # ------------------------------------------------------------------ layout

    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)
        bar = ReviewToolbar(DEFAULT_MIN_CONFIDENCE, DEFAULT_BULK_THRESHOLD)
        self.order_box, self.min_conf_spin, self.bulk_spin = bar.order_box, bar.min_conf_spin, bar.bulk_spin
        self.bulk_button, self.undo_button, self.refresh_button = (
            bar.bulk_button,
            bar.undo_button,
            bar.refresh_button,
        )
        self.params_label, self.count_label = bar.params_label, bar.count_label
        self.order_box.currentIndexChanged.connect(lambda _i: self.set_order(self.order_box.currentData()))
        self.min_conf_spin.valueChanged.connect(lambda v: self.set_min_confidence(v / 100))
        self.bulk_button.clicked.connect(lambda: self.accept_all_above(self.bulk_spin.value() / 100))
        self.undo_button.clicked.connect(self.undo)
        self.refresh_button.clicked.connect(lambda: self.refresh(rebuild_index=True))
        outer.addWidget(bar)
        self.zero_shot = ZeroShotNames(self.field)  # label names -> zero-shot suggestions (CLIP models)
        self.zero_shot.names_entered.connect(self._zero_shot_names)
        self.zero_shot.hide()
        outer.addWidget(self.zero_shot)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(True)
        self.busy.setMaximumHeight(18)
        outer.addWidget(self.busy)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.view = queue_view(self.model)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._show_row(cur.row()))
        self.view.installEventFilter(self)
        split.addWidget(self.view)
        self.detail = ReviewDetail(self.thumbs, self.field)
        d = self.detail
        self.photo_labels, self.cards, self.label_edit = d.photo_labels, d.cards, d.label_edit
        self.empty_note, self.import_button, self._completion = d.empty_note, d.import_button, d.completion
        d.pick.connect(self.pick_alternative)
        d.accept.connect(self.accept_current)
        d.skip.connect(self.skip_current)
        d.label_entered.connect(self._on_label_entered)
        d.import_requested.connect(self._import_labels)
        self.label_edit.installEventFilter(self)
        split.addWidget(d)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([580, 700])
        self.batch_note = QLabel()  # a large catalog's queue holds a batch of its unlabelled articles
        self.batch_note.setWordWrap(True)
        self.batch_note.hide()
        outer.addWidget(self.batch_note)
        outer.addWidget(split, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        keys = QLabel(KEYS_HINT)
        keys.setStyleSheet("color: palette(placeholder-text);")
        outer.addWidget(keys)

    # ------------------------------------------------------------------ loading

    def refresh(self, rebuild_index: bool = True) -> None:
        """Recompute the suggestions (rebuild_index: first pick up newly indexed photos)."""
        if self.work.closed:
            return
        self.busy.setFormat("Loading the search index…" if rebuild_index else "Computing suggestions…")
        self.busy.setVisible(True)
        self.work.refresh(rebuild_index)
        self._enable_actions()

    def _on_loaded(self, load: ReviewLoad) -> None:
        self.busy.setVisible(False)
        self._cover_articles = {str(p[0]): a for a, p in load.photos.items() if p}
        self._set_known(load.data.known_labels)
        self.zero_shot.show_state(load.text_problem, load.data.labelled, FEW_LABELLED, load.data.note)
        if load.data.labelled >= FEW_LABELLED:
            self.work.zero_shot_labels = None  # enough examples now: labelled neighbours suggest from here on
        self.params_label.setText(
            "suggested zero-shot  "
            if load.data.note
            else f"suggested by {load.params.describe()}, k={self.work.k}  "
        )
        current, self._focus_after_load = self._focus_after_load or self.current_article(), None
        if load.data.labelled == 0 and not load.data.suggestions:
            names = (
                f"Type a few {self.field} names in the field above (e.g. hoodies, pants, bags) to get "
                "suggestions from the names alone, or label"
                if load.text_problem is None
                else "Label"
            )
            self.detail.show_empty(
                f"No article has a {self.field} label yet. {names} a few (or import labels from a "
                "CSV file or from folder names) and the queue suggests the rest.",
                importing=True,
            )
        elif not load.data.suggestions:
            self.detail.show_empty(f"Nothing to review: every indexed article has a {self.field} label.")
        else:
            self.detail.hide_empty()
            row = self.model.row_of(current) if current else -1
            self._select(row if row >= 0 else 0)
        self._update_counts()
        self._enable_actions()
        self.view.setFocus()
        self.ready.emit()

    def _on_failed(self, failure: Failure) -> None:
        self.busy.setVisible(False)
        exc = failure.error
        text = str(exc) if isinstance(exc, UserError) else f"Could not prepare the review queue: {exc}"
        self.detail.show_empty(text)
        self._set_status(text)
        self._enable_actions()
        if not isinstance(exc, UserError):
            print(failure.traceback)  # a bug: keep the traceback somewhere a developer will see it
        self.failed.emit(text)

    # ------------------------------------------------------------------ public actions

    def _zero_shot_names(self, names: list[str]) -> None:
        self.work.zero_shot_labels = names
        self.refresh(rebuild_index=False)

    def current_article(self) -> str | None:
        entry = self.model.entry(self.view.currentIndex().row())
        return entry.article if entry else None

    def current_suggestion(self) -> Suggestion | None:
        entry = self.model.entry(self.view.currentIndex().row())
        return entry.suggestion if entry else None

    def accept_current(self) -> bool:
        s = self.current_suggestion()
        if s is None or self._busy():
            return False
        label = shown_label(s, self.model.min_confidence)
        if label is None:
            self._set_status("No suggestion for this article: pick 1–3, type a label, or skip with S.")
            return False
        return self._decide(s.article, label, "accept", "accepted")

    def pick_alternative(self, n: int) -> bool:
        """Label the current article with its n-th best label (1-based), whatever the threshold says."""
        s = self.current_suggestion()
        if s is None or not (1 <= n <= len(s.alternatives)) or self._busy():
            return False
        return self._decide(s.article, s.alternatives[n - 1][0], "alternative", "accepted")

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
        row = self.view.currentIndex().row()
        try:
            self.work.skip(article)
        except UserError as exc:  # shown to the curator; the queue stays where it was
            self._report_write_error(exc)
            return False
        n, skipped = self.model.counts()
        # Move on to the next undecided article; only skipped ones left means we wrap to the first.
        self._select(row if row < n - skipped else 0)
        self._set_status(f"Skipped {article}; it waits at the end of the queue.")
        self._update_counts()
        return True

    def accept_all_above(self, threshold: float, confirm: bool = True) -> int:
        """Accept every shown suggestion with confidence >= threshold (skipped articles are left alone)."""
        if self._busy():
            return 0
        chosen = self.work.bulk_candidates(threshold)
        if not chosen:
            self._set_status(f"No suggestion reaches {threshold:.0%}.")
            return 0
        if confirm and not self._confirm_bulk(len(chosen), threshold):
            return 0
        try:
            self.work.accept_all(chosen)
        except UserError as exc:
            self._report_write_error(exc)
            return 0
        self._set_known(self._known + [s.label for s in chosen if s.label])
        self._select(0)
        self._set_status(
            f"Accepted {len(chosen)} suggestions with confidence ≥ {threshold:.0%}. Ctrl+Z undoes them together."
        )
        self._update_counts()
        self.labels_changed.emit([s.article for s in chosen])
        return len(chosen)

    def _confirm_bulk(self, n: int, threshold: float) -> bool:
        text = (
            f"Accept {n} suggestion{'s' if n != 1 else ''} with confidence ≥ {threshold:.0%}?\n\n"
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

    def undo(self) -> int:
        """Undo the latest review decision of this field (a bulk accept as a whole); returns how many."""
        if self._busy():
            return 0
        try:
            result = self.work.undo()
        except UserError as exc:
            self._report_write_error(exc)
            return 0
        if isinstance(result, str):
            self._set_status(result)
            return 0
        self._show_undo(result)
        return len(result.events)

    def _show_undo(self, undone: Undone) -> None:
        if undone.back:
            self.detail.hide_empty()
            self._select(0)
        first = undone.events[0]
        if len(undone.events) > 1:
            self._set_status(f"Undid {len(undone.events)} {first['action']} decisions made together.")
        else:
            what = (
                "skip"
                if first["action"] == "skip"
                else f"{first['article']} → {first['new_value'] or '(none)'}"
            )
            self._set_status(f"Undid {what}; back to {first['old_value'] or 'unlabelled'}.")
        self._update_counts()
        self.labels_changed.emit([ev["article"] for ev in undone.events])
        if undone.missing:
            # Its suggestion needs a search with today's labels: recompute off the UI thread and come back
            # to the article once it is ready.
            self._focus_after_load = undone.missing[0] if not undone.back else None
            self.refresh(rebuild_index=False)

    def select_article(self, article: str) -> bool:
        row = self.model.row_of(article)
        if row >= 0:
            self._select(row)
        return row >= 0

    def set_order(self, order: str) -> None:
        self.model.set_order(order)
        i = self.order_box.findData(order)
        if i >= 0 and i != self.order_box.currentIndex():
            self.order_box.setCurrentIndex(i)
        self._select(0)

    def set_min_confidence(self, value: float) -> None:
        self.model.set_min_confidence(value)
        if round(value * 100) != self.min_conf_spin.value():
            self.min_conf_spin.setValue(round(value * 100))
        self._show_row(self.view.currentIndex().row())

    def remaining(self) -> int:
        return self.model.counts()[0]

    def shutdown(self) -> None:
        """Stop queued work and wait for running work: nothing of this window outlives it."""
        self.work.shutdown()
        self.thumbs.shutdown()  # stops its queue first, so no thumbnail starts while the runner winds down
        self._runner.shutdown()
        if self._own_client:
            self.client.close()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ decisions

    def _decide(self, article: str, label: str, action: str, source: str) -> bool:
        # Commit first, then move on: what the queue shows as done is always on disk already.
        try:
            row = self.work.decide(article, label, action, source)
        except UserError as exc:
            self._report_write_error(exc)
            return False
        if label.casefold() not in {k.casefold() for k in self._known}:
            self._set_known(self._known + [label])
        self.label_edit.clear()
        self._select(min(row, self.model.rowCount() - 1))
        verb = {"accept": "accepted", "alternative": "picked", "set": "typed"}.get(action, action)
        self._set_status(f"{article} → {label} ({verb}). Ctrl+Z undoes.")
        self._update_counts()
        if self.model.rowCount() == 0:
            self.detail.show_empty(
                f"Done: no unlabelled article is left in {self.field}. Refresh after indexing new photos."
            )
        self.view.setFocus()
        self.decided.emit(article, label, action)
        self.labels_changed.emit([article])
        return True

    def _busy(self) -> bool:
        # While suggestions are recomputed the labels they were built from may be read at any moment: a
        # decision now could come back as "unlabelled" in the new queue. Loading takes seconds; wait.
        if self.work.loading:
            self._set_status("Still computing suggestions — a moment.")
        return self.work.loading

    def _canonical(self, text: str) -> str:
        # "Tops" and "tops" would be two labels for one thing: reuse the existing spelling.
        text = " ".join(text.split())
        return next((k for k in self._known if k.casefold() == text.casefold()), text)

    def _report_write_error(self, exc: BaseException) -> None:
        if isinstance(exc, Conflict):  # another curator labelled it meanwhile: who and when, theirs stands
            self._set_status("Not saved: another curator labelled it meanwhile.")
            self.conflict_box = show_conflict(self, "Your label", exc)
            return
        self._set_status(f"Not saved: {exc}")
        QMessageBox.warning(
            self,
            "Label not saved",
            f"The decision could not be written to the catalog, so the queue stayed where it was.\n\n{exc}",
        )

    # ------------------------------------------------------------------ display

    def _select(self, row: int) -> None:
        if self.model.rowCount() == 0 or row < 0:
            self.view.setCurrentIndex(QModelIndex())
            self._show_row(-1)
            return
        idx = self.model.index(row, 0)
        self.view.setCurrentIndex(idx)
        self.view.selectRow(row)
        self.view.scrollTo(idx)
        self._show_row(row)

    def _show_row(self, row: int) -> None:
        self.detail.show_entry(self.model.entry(row), self.work.photos, self.model.min_confidence)
        self._enable_actions()

    def _cover_pixmap(self, article: str) -> QPixmap | None:
        photos = self.work.photos.get(article)
        return self.detail.thumb(photos[0], ROW_THUMB) if photos else None

    def _on_cover(self, path: str) -> None:
        article = self._cover_articles.get(path)
        if article is not None:
            self.model.refresh_covers(article)

    def _set_known(self, labels: list[str]) -> None:
        seen: dict[str, str] = {}
        for label in labels:
            seen.setdefault(label.casefold(), label)
        self._known = sorted(seen.values(), key=str.casefold)
        self.detail.set_known(self._known)

    def _update_counts(self) -> None:
        n, skipped = self.model.counts()
        text = f"<b>{n - skipped}</b> to review"
        if skipped:
            text += f" · {skipped} skipped"
        self.count_label.setText(text + f" · {self.work.decisions} decided here")
        if self.work.batch is not None:
            asked, unlabelled = self.work.batch
            self.batch_note.setText(
                f"Suggestions for the first {asked:,} of the {unlabelled:,} unlabelled articles "
                "(skipped ones last); Refresh brings the next ones."
            )
        self.batch_note.setVisible(self.work.batch is not None)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _enable_actions(self) -> None:
        has = self.model.entry(self.view.currentIndex().row()) is not None
        loading = self.work.loading
        for w in (self.detail.accept_button, self.detail.skip_button, self.label_edit):
            w.setEnabled(has and not loading)
        self.bulk_button.setEnabled(self.model.rowCount() > 0 and not loading)
        self.refresh_button.setEnabled(not loading)
        self.undo_button.setEnabled(not loading)

    def _import_labels(self) -> None:
        from desktop_app.gui.labels_dialog import import_labels

        if import_labels(self, self.engine, self.field) is not None:
            self.labels_changed.emit([])
            self.refresh(rebuild_index=False)


def open_review(
    parent: QWidget | None,
    engine: Engine,
    client: EngineClient | None = None,
    field: str = DEFAULT_FIELD,
    device: str | None = None,
) -> ReviewQueue:
    """Open the review queue of one label field in its own non-modal window and return it.

    The suggestions come from the engine child on a worker; the window shows a busy bar until they are
    ready. Connect `labels_changed` to refresh views that show labels.
    """
    window = ReviewQueue(engine, client, field, parent, device=device)
    window.setWindowFlag(Qt.WindowType.Window, True)  # its own window even with a parent
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    fit_to_screen(window, 1440, 900)
    window.show()
    return window


__all__ = ["ReviewQueue", "SuggestionModel", "open_review"]
