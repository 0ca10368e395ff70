"""The review queue: unlabelled articles with a suggested label, decided one keystroke at a time.

The curator sees each unlabelled article, the label its most similar labelled articles vote for, the
runner-up labels, and the neighbours that voted (thumbnails and scores). Enter accepts, 1-3 picks one of
the top three labels, typing sets a label of one's own, S skips, Ctrl+Z undoes. "Accept all with
confidence >= X" takes the sure ones in bulk after a confirmation that shows how many.

This module is the window: the list, the toolbar, loading and display. `review_controller` loads the
suggestions from the engine child (by the catalog's search settings) and writes every decision through the
engine on a thread of its own; `review_decisions` starts decisions and moves the queue on once they are
written, `review_keys` maps the keys to them and `review_detail` shows the current article. Nothing slow
runs on the UI thread.

Entry point for the main window: `open_review(parent, engine, client, field)`.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails
from desktop_app.core.engine import Engine
from desktop_app.core.errors import UserError
from desktop_app.core.labels import DEFAULT_FIELD, Suggestion
from desktop_app.core.zero_shot import FEW_LABELLED
from desktop_app.gui.label_quality import LabelQualityDialog
from desktop_app.gui.review_controller import DEFAULT_K, ReviewController, ReviewLoad
from desktop_app.gui.review_decisions import QueueDecisions
from desktop_app.gui.review_detail import ROW_THUMB, ReviewDetail, ReviewToolbar, queue_view
from desktop_app.gui.review_keys import QueueKeys
from desktop_app.gui.review_model import SuggestionModel
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.search_controller import EngineClient
from desktop_app.gui.secondary import add_close_keys
from desktop_app.gui.thumbs import ThumbnailLoader, catalog_source
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


class ReviewQueue(QueueKeys, QueueDecisions, QWidget):
    """Unlabelled articles of one label field with their suggestions, reviewed from the keyboard."""

    ready = Signal()  # suggestions are loaded and shown (also after a refresh)
    decided = Signal(str, object, str)  # article, new label (None when cleared), action
    labels_changed = Signal(list)  # articles whose label changed (decisions and undos), for other views
    failed = Signal(str)
    undone = Signal(int)  # decisions an undo took back once written (0: nothing to undo)
    settled = Signal()  # a decision's write finished (saved or not): the queue takes the next one

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
        self._connect_decisions()
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
        self.bulk_button, self.undo_button, self.redo_button, self.refresh_button = (
            bar.bulk_button,
            bar.undo_button,
            bar.redo_button,
            bar.refresh_button,
        )
        self.count_label = bar.count_label
        self.order_box.currentIndexChanged.connect(lambda _i: self.set_order(self.order_box.currentData()))
        self.min_conf_spin.valueChanged.connect(lambda v: self.set_min_confidence(v / 100))
        self.bulk_button.clicked.connect(lambda: self.accept_all_above(self.bulk_spin.value() / 100))
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.refresh_button.clicked.connect(lambda: self.refresh(rebuild_index=True))
        bar.quality_button.clicked.connect(self.show_reliability)
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
        self.view.selectionModel().currentRowChanged.connect(
            lambda cur, _prev: self._current_changed(cur.row())
        )
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
        # The keys, and the search settings the suggestions were made with: quiet, on the bottom line, so the
        # toolbar keeps its room for the counts on a 1366 px screen.
        bottom = QHBoxLayout()
        keys = QLabel(KEYS_HINT)
        self.params_label = QLabel()
        for label in (keys, self.params_label):
            label.setStyleSheet("color: palette(placeholder-text);")
        bottom.addWidget(keys, 1)
        bottom.addWidget(self.params_label)
        outer.addLayout(bottom)

    # ------------------------------------------------------------------ loading

    def refresh(self, rebuild_index: bool = True) -> None:
        """Recompute the suggestions (rebuild_index: first pick up newly indexed photos)."""
        if self.work.closed:
            return
        if self.work.writing is not None:  # suggestions read the labels: after the write on its way
            self._refresh_after_write = bool(self._refresh_after_write) or rebuild_index
            return
        self.busy.setFormat("Loading the search index…" if rebuild_index else "Computing suggestions…")
        self.busy.setVisible(True)
        self.work.refresh(rebuild_index)
        self._enable_actions()

    def _on_loaded(self, load: ReviewLoad) -> None:
        self.busy.setVisible(False)
        self.thumbs.use_catalog(catalog_source(self.engine, load.photo_root))
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

    def show_reliability(self) -> LabelQualityDialog:
        """How far the suggestions of this field can be trusted, in a window of its own (worked out by the
        engine child, as `lookalike labels evaluate` does)."""
        work = self.work

        def evaluate():
            self.client.ensure(self.engine.location, work.device)
            return self.client.call("evaluate_labels", self.field, work.k)

        dialog = LabelQualityDialog(self.field, evaluate, self._runner, self)
        dialog.show()
        return dialog

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

    def _current_changed(self, row: int) -> None:
        self._current_moved()
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
        self.redo_button.setEnabled(not loading and bool(self.work.redo_stack))

    def _import_labels(self) -> None:
        from desktop_app.gui.labels_import_dialog import import_labels

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
