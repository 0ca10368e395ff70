"""The review queue: unlabelled articles with a suggested label, decided one keystroke at a time.

The curator sees each unlabelled article, the label its most similar labelled articles vote for, the
runner-up labels, and the neighbours that voted (thumbnails and scores). Enter accepts, 1-3 picks one of
the top three labels, typing sets a label of one's own, S skips, Ctrl+Z undoes. "Accept all with
confidence >= X" takes the sure ones in bulk after a confirmation that shows how many.

Every decision is written with `Catalog.set_labels` (which commits) before the queue moves on, so a crash
or a kill loses nothing that was shown as done. Undo goes through the catalog's decision log
(`undo_last_label_event`), so it also reaches decisions of an earlier session; the decisions of one bulk
accept or one import are undone together, as they were made together.

Nothing slow runs on the UI thread: the search index and the suggestions are made by a `workers.Runner`,
the thumbnails by a `thumbs.ThumbnailLoader` sharing its private thread pool, which the window waits for
when it closes.

Entry point for the main window: `open_review(parent, catalog, field)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QSize,
    QStringListModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import thumbnails
from desktop_app.core.catalog import Catalog, label_events_table
from desktop_app.core.errors import UserError
from desktop_app.core.labels import DEFAULT_FIELD, Suggestion, suggest_unlabelled
from desktop_app.core.search import SearchIndex
from desktop_app.gui.review_model import QueueEntry, SuggestionModel, share_text, shown_label, sort_key
from desktop_app.gui.thumbs import ThumbnailLoader
from desktop_app.gui.workers import Failure, Runner, Task

DEFAULT_K = 10
# Decisions the queue's undo takes back; imports and other bulk edits are left to their own tools.
REVIEW_ACTIONS = ("accept", "alternative", "set", "skip")
# Measured on the Magento catalogue (468 articles, category, greedy, k=10). Leave-one-out: 0.40 keeps 99% of
# suggestions at 98.5% accuracy. That is flattered by other colours of the same style; holding out each
# whole style (a truly new product), 0.40 keeps 95% at 81% and 0.90 keeps 41% at 98%. Below 0.40 the queue
# says "no suggestion"; bulk accept starts at 0.90, where even new styles are almost always right.
DEFAULT_MIN_CONFIDENCE = 0.40
DEFAULT_BULK_THRESHOLD = 0.90
THUMB_SIZE = thumbnails.DEFAULT_SIZE  # cached on disk at this size, scaled down for display
CARD_THUMB = 104
PHOTO_THUMB = 150
ROW_THUMB = 36

# Colours that read on light and dark palettes alike.
AGREE = "#2e7d32"
DISAGREE = "#9e6a00"
MUTED = "#7a7a7a"


# ============================================================================ data made off the UI thread


@dataclass
class ReviewData:
    """Everything the queue needs, computed on a worker thread in one go."""

    index: SearchIndex
    photos: dict[str, list[Path]]  # article -> absolute photo paths, cover first
    suggestions: list[Suggestion]
    known_labels: list[str]  # every value of the field in the catalog, for completion
    skipped: set[str] = field(default_factory=set)  # articles whose last decision was a skip
    labelled: int = 0  # articles with a label in this field


def vectors_model_id(catalog: Catalog) -> str:
    """The model id whose vectors this catalog searches with.

    Normally the catalog's configured model; when that model is no longer installed the catalog's vectors
    still work (only new photos would need the model), so fall back to the model with the most vectors.
    """
    from desktop_app.core.indexer import catalog_model, catalog_model_id

    try:
        return catalog_model_id(catalog, catalog_model(catalog))
    except UserError:
        by_model = catalog.counts()["vectors_by_model"]
        if not by_model:
            raise UserError("The catalog has no embedded photos yet; run Update index first.") from None
        return max(by_model, key=by_model.get)


def build_index(catalog: Catalog) -> SearchIndex:
    av = catalog.article_vectors(vectors_model_id(catalog))
    if av.n_photos == 0:
        raise UserError("The catalog has no embedded photos yet; run Update index first.")
    return SearchIndex(av)


def photo_paths(catalog: Catalog, index: SearchIndex) -> dict[str, list[Path]]:
    """Absolute photo paths per indexed article, the "main" view first (it is the best cover)."""
    root = catalog.photo_root()
    if root is None:
        return {}
    raw = {r.id: r.raw_path for r in catalog.photo_rows()}
    av = index.av
    out: dict[str, list[Path]] = {}
    for a, name in enumerate(av.articles):
        rows = list(range(*av.rows_of(a).indices(av.n_photos)))
        rows.sort(key=lambda r: (av.views[r] != "main", av.paths[r]))
        out[name] = [
            root / os.fsdecode(raw[int(av.photo_ids[r])]) for r in rows if int(av.photo_ids[r]) in raw
        ]
    return out


def skipped_articles(catalog: Catalog, field_name: str) -> set[str]:
    """Unlabelled articles whose latest live decision in this field is a skip (they wait at the end)."""
    e = label_events_table
    q = (
        sa.select(e.c.article, e.c.action)
        .where(e.c.field == field_name, e.c.undone.is_(False), e.c.action != "undo")
        .order_by(e.c.id)
    )
    last: dict[str, str] = {}
    with catalog.engine.connect() as conn:
        for article, action in conn.execute(q):
            last[article] = action
    return {a for a, action in last.items() if action == "skip"}


def last_live_event(catalog: Catalog, field_name: str) -> dict | None:
    """The decision `undo_last_label_event(field)` would undo next, without undoing it."""
    e = label_events_table
    q = (
        sa.select(e)
        .where(e.c.field == field_name, e.c.undone.is_(False), e.c.action != "undo")
        .order_by(e.c.id.desc())
        .limit(1)
    )
    with catalog.engine.connect() as conn:
        row = conn.execute(q).first()
    return dict(row._mapping) if row is not None else None


def prepare_review(
    catalog: Catalog, index: SearchIndex | None, field_name: str, k: int, method: str
) -> ReviewData:
    """Worker-thread half of loading: index (when not given), photos, suggestions, completion list."""
    if index is None:
        index = build_index(catalog)
    labels = {a: d[field_name] for a, d in catalog.labels(field_name).items() if field_name in d}
    suggestions: list[Suggestion] = []
    if labels:
        # No threshold here: the queue hides labels below its own, adjustable, threshold.
        suggestions = suggest_unlabelled(catalog, index, field_name, k, method, 0.0, "certain")
    return ReviewData(
        index=index,
        photos=photo_paths(catalog, index),
        suggestions=suggestions,
        known_labels=sorted(set(labels.values()), key=str.casefold),
        skipped=skipped_articles(catalog, field_name),
        labelled=len(labels),
    )


# ============================================================================ placeholders


_placeholders: dict[tuple[int, str], QPixmap] = {}


def placeholder(box: int, text: str = "") -> QPixmap:
    """A neutral tile for photos that are loading, missing or unreadable."""
    pix = _placeholders.get((box, text))
    if pix is None:
        pix = QPixmap(box, box)
        pix.fill(QColor("#ececec"))
        if text:
            p = QPainter(pix)
            p.setPen(QColor("#8a8a8a"))
            font = p.font()
            font.setPointSizeF(max(6.5, box / 14))
            p.setFont(font)
            p.drawText(pix.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), text)
            p.end()
        _placeholders[(box, text)] = pix
    return pix


# ============================================================================ widgets


class NeighbourCard(QFrame):
    """One labelled neighbour that voted: its cover, id, label and similarity score."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFixedWidth(CARD_THUMB + 18)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(2)
        self.photo = QLabel()
        self.photo.setFixedSize(CARD_THUMB, CARD_THUMB)
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.article = QLabel()
        self.label = QLabel()
        self.score = QLabel()
        small = self.article.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        for w in (self.article, self.score):
            w.setFont(small)
        bold = QFont(self.label.font())
        bold.setBold(True)
        self.label.setFont(bold)
        for w in (self.photo, self.article, self.label, self.score):
            lay.addWidget(w)
        self.path: str | None = None

    def show_neighbour(self, article: str, label: str, score: float, agrees: bool, path: Path | None) -> None:
        metrics = self.article.fontMetrics()
        self.article.setText(metrics.elidedText(article, Qt.TextElideMode.ElideMiddle, CARD_THUMB))
        self.label.setText(
            self.label.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, CARD_THUMB)
        )
        self.label.setStyleSheet(f"color: {AGREE if agrees else DISAGREE};")
        self.score.setText(f"similarity {score:.2f}")
        self.setToolTip(f"{article}\n{label}\nsimilarity {score:.3f}")
        self.path = str(path) if path else None


class ReviewQueue(QWidget):
    """Unlabelled articles of one label field with their suggestions, reviewed from the keyboard."""

    ready = Signal()  # suggestions are loaded and shown (also after a refresh)
    decided = Signal(str, object, str)  # article, new label (None when cleared), action
    labels_changed = Signal(list)  # articles whose label changed (decisions and undos), for other views
    failed = Signal(str)

    def __init__(
        self,
        catalog: Catalog,
        index: SearchIndex | None = None,
        field: str = DEFAULT_FIELD,
        parent: QWidget | None = None,
        k: int = DEFAULT_K,
        method: str | None = None,
    ) -> None:
        super().__init__(parent)
        # The runner is the first child: when the window is destroyed with its parent it is destroyed first,
        # and its pool's destructor waits for running jobs before the thumbnail loader's signals go away.
        # Thumbnails take at most two of its three threads, so loading suggestions never queues behind them.
        self._runner = Runner(3, "review", self)
        self._pool = self._runner.pool  # everything this window runs; closing waits until it is idle
        self.catalog = catalog
        self.field = field
        self.k = k
        self.method = method or catalog.get_setting("method") or "greedy"
        self._index = index
        self._photos: dict[str, list[Path]] = {}
        self._suggestions: dict[str, Suggestion] = {}
        self._known: list[str] = []
        self._generation = 0
        self._loading = False
        self._closed = False
        self.decisions = 0  # made in this window, for the counter
        self._shown_paths: dict[str, list[QLabel]] = {}
        self._cover_articles: dict[str, str] = {}
        self._focus_after_load: str | None = None  # the article to show once suggestions are reloaded

        self.thumbs = ThumbnailLoader(THUMB_SIZE, threads=2, parent=self, runner=self._runner)
        self.thumbs.ready.connect(self._on_thumb)
        self.model = SuggestionModel(self)
        self.model.min_confidence = DEFAULT_MIN_CONFIDENCE
        self.model.cover_lookup = self._cover_pixmap

        self.setWindowTitle(f"Review {field} labels — {catalog.path.stem}")
        self._build_ui()
        self.refresh(rebuild_index=index is None)

    # ------------------------------------------------------------------ layout

    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        bar = QToolBar()
        bar.setMovable(False)
        bar.addWidget(QLabel("Order "))
        self.order_box = QComboBox()
        self.order_box.addItem("Most certain first", "certain")
        self.order_box.addItem("Least certain first (hard cases)", "uncertain")
        self.order_box.currentIndexChanged.connect(lambda _i: self.set_order(self.order_box.currentData()))
        bar.addWidget(self.order_box)
        bar.addSeparator()
        bar.addWidget(QLabel(" No suggestion below "))
        self.min_conf_spin = _percent_spin(DEFAULT_MIN_CONFIDENCE)
        self.min_conf_spin.setToolTip('Suggestions less certain than this are shown as "no suggestion"')
        self.min_conf_spin.valueChanged.connect(lambda v: self.set_min_confidence(v / 100))
        bar.addWidget(self.min_conf_spin)
        bar.addSeparator()
        self.bulk_button = QPushButton("Accept all with confidence ≥")
        self.bulk_button.clicked.connect(lambda: self.accept_all_above(self.bulk_spin.value() / 100))
        bar.addWidget(self.bulk_button)
        self.bulk_spin = _percent_spin(DEFAULT_BULK_THRESHOLD)
        bar.addWidget(self.bulk_spin)
        bar.addSeparator()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Undo the last decision (Ctrl+Z); a bulk accept is undone as a whole")
        self.undo_button.clicked.connect(self.undo)
        bar.addWidget(self.undo_button)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip(
            "Recompute the suggestions with every label given so far (and pick up newly indexed photos)"
        )
        self.refresh_button.clicked.connect(lambda: self.refresh(rebuild_index=True))
        bar.addWidget(self.refresh_button)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.count_label = QLabel()
        bar.addWidget(self.count_label)
        for w in (self.bulk_button, self.undo_button, self.refresh_button):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the queue, not to a stray button
        outer.addWidget(bar)

        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(True)
        self.busy.setMaximumHeight(18)
        outer.addWidget(self.busy)

        split = QSplitter(Qt.Orientation.Horizontal)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setTabKeyNavigation(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(ROW_THUMB + 6)
        self.view.setIconSize(QSize(ROW_THUMB, ROW_THUMB))
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(SuggestionModel.ARTICLE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(SuggestionModel.ALTERNATIVES, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(SuggestionModel.ARTICLE, 190)
        header.resizeSection(SuggestionModel.LABEL, 140)
        header.resizeSection(SuggestionModel.CONFIDENCE, 84)
        self.view.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._show_row(cur.row()))
        self.view.installEventFilter(self)
        split.addWidget(self.view)
        split.addWidget(self._build_detail())
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([580, 700])
        outer.addWidget(split, 1)

        self.status = QLabel()
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        keys = QLabel(
            "Enter accept · 1–3 pick a label · type to set your own · S skip · Ctrl+Z undo · ↑↓ move"
        )
        keys.setStyleSheet(f"color: {MUTED};")
        outer.addWidget(keys)

    def _build_detail(self) -> QWidget:
        panel = QWidget()
        panel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(10, 0, 0, 0)
        lay.setSpacing(6)

        self.title = QLabel()
        big = QFont(self.title.font())
        big.setPointSizeF(big.pointSizeF() * 1.35)
        big.setBold(True)
        self.title.setFont(big)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.title)

        self.photo_row = QHBoxLayout()
        self.photo_row.setSpacing(6)
        self.photo_labels: list[QLabel] = []
        for _ in range(5):
            lbl = QLabel()
            lbl.setFixedSize(PHOTO_THUMB, PHOTO_THUMB)
            lbl.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lbl.setVisible(False)
            self.photo_labels.append(lbl)
            self.photo_row.addWidget(lbl)
        self.more_photos = QLabel()
        self.more_photos.setStyleSheet(f"color: {MUTED};")
        self.photo_row.addWidget(self.more_photos)
        self.photo_row.addStretch(1)
        lay.addLayout(self.photo_row)

        self.suggestion_label = QLabel()
        sfont = QFont(self.suggestion_label.font())
        sfont.setPointSizeF(sfont.pointSizeF() * 1.25)
        self.suggestion_label.setFont(sfont)
        self.suggestion_label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.suggestion_label)

        alt_row = QHBoxLayout()
        self.alt_buttons: list[QPushButton] = []
        for i in range(3):
            b = QPushButton()
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(lambda _c=False, n=i + 1: self.pick_alternative(n))
            self.alt_buttons.append(b)
            alt_row.addWidget(b)
        alt_row.addStretch(1)
        lay.addLayout(alt_row)

        entry_row = QHBoxLayout()
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText(f"Type a {self.field} label and press Enter…")
        self.label_edit.setClearButtonEnabled(True)
        self._completion = QStringListModel(self)
        completer = QCompleter(self._completion, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.label_edit.setCompleter(completer)
        self.label_edit.returnPressed.connect(self._on_label_entered)
        self.label_edit.installEventFilter(self)
        entry_row.addWidget(self.label_edit, 1)
        self.accept_button = QPushButton("Accept  ⏎")
        self.skip_button = QPushButton("Skip  S")
        for b in (self.accept_button, self.skip_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            entry_row.addWidget(b)
        self.accept_button.clicked.connect(self.accept_current)
        self.skip_button.clicked.connect(self.skip_current)
        lay.addLayout(entry_row)

        self.neigh_title = QLabel()
        self.neigh_title.setStyleSheet(f"color: {MUTED};")
        lay.addWidget(self.neigh_title)
        grid_host = QWidget()
        self.neigh_grid = QGridLayout(grid_host)
        self.neigh_grid.setContentsMargins(0, 0, 0, 0)
        self.neigh_grid.setSpacing(6)
        self.cards: list[NeighbourCard] = []
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setWidget(grid_host)
        lay.addWidget(scroll, 1)

        self.empty_note = QLabel()
        self.empty_note.setWordWrap(True)
        self.empty_note.setVisible(False)
        lay.addWidget(self.empty_note)
        self.import_button = QPushButton("Import labels…")
        self.import_button.setVisible(False)
        self.import_button.clicked.connect(self._import_labels)
        lay.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignLeft)
        return panel

    # ------------------------------------------------------------------ loading

    def refresh(self, rebuild_index: bool = True) -> None:
        """Recompute the suggestions (and, by default, rebuild the index: new photos may be indexed)."""
        if self._closed:
            return
        self._generation += 1
        gen = self._generation
        index = None if rebuild_index else self._index
        self._loading = True
        self.busy.setFormat("Building the search index…" if index is None else "Computing suggestions…")
        self.busy.setVisible(True)
        self._enable_actions()
        catalog, field_name, k, method = self.catalog, self.field, self.k, self.method
        self._runner.start(
            Task(prepare_review, catalog, index, field_name, k, method),
            lambda data: self._on_loaded(gen, data),
            lambda failure: self._on_failed(gen, failure),
            priority=1_000_000_000,
        )  # ahead of any queued thumbnail

    def _on_loaded(self, gen: int, data: ReviewData) -> None:
        if gen != self._generation or self._closed:
            return  # superseded by a later refresh
        self._loading = False
        self.busy.setVisible(False)
        self._index = data.index
        self._photos = data.photos
        self._suggestions = {s.article: s for s in data.suggestions}
        self._cover_articles = {str(p[0]): a for a, p in data.photos.items() if p}
        self._set_known(data.known_labels)
        current = self._focus_after_load or self.current_article()
        self._focus_after_load = None
        self.model.reset(data.suggestions, data.skipped)
        if data.labelled == 0:
            self._show_empty(
                f"No article has a {self.field} label yet. Label a few (or import labels from a "
                "CSV file or from folder names) and the queue suggests the rest.",
                importing=True,
            )
        elif not data.suggestions:
            self._show_empty(f"Nothing to review: every indexed article has a {self.field} label.")
        else:
            self._hide_empty()
            row = self.model.row_of(current) if current else -1
            self._select(row if row >= 0 else 0)
        self._update_counts()
        self._enable_actions()
        self.view.setFocus()
        self.ready.emit()

    def _on_failed(self, gen: int, failure: Failure) -> None:
        if gen != self._generation or self._closed:
            return
        self._loading = False
        self.busy.setVisible(False)
        exc, tb = failure.error, failure.traceback
        text = str(exc) if isinstance(exc, UserError) else f"Could not prepare the review queue: {exc}"
        self._show_empty(text)
        self._set_status(text)
        self._enable_actions()
        if not isinstance(exc, UserError):
            print(tb)  # a bug: keep the traceback somewhere a developer will see it
        self.failed.emit(text)

    # ------------------------------------------------------------------ public actions

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
        try:
            self.catalog.record_skip(article, self.field)
        except Exception as exc:  # noqa: BLE001 - shown to the curator; the queue stays where it was
            self._report_write_error(exc)
            return False
        row = self.view.currentIndex().row()
        self.model.mark_skipped(article)
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
        chosen = [
            e.suggestion
            for e in self.model.entries()
            if not e.skipped
            and shown_label(e.suggestion, self.model.min_confidence) is not None
            and e.suggestion.confidence >= threshold
        ]
        if not chosen:
            self._set_status(f"No suggestion reaches {threshold:.0%}.")
            return 0
        if confirm:
            n_skipped = self.model.counts()[1]
            text = (
                f"Accept {len(chosen)} suggestion{'s' if len(chosen) != 1 else ''} with confidence "
                f"≥ {threshold:.0%}?\n\nEach becomes the article's {self.field} label now. "
                "Undo (Ctrl+Z) takes them all back at once."
            )
            if n_skipped:
                text += f"\n\n{n_skipped} skipped article{'s are' if n_skipped != 1 else ' is'} left alone."
            answer = QMessageBox.question(
                self,
                "Accept suggestions",
                text,
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return 0
        try:
            self.catalog.set_labels(
                [(s.article, self.field, s.label) for s in chosen], source="accepted", action="accept"
            )
        except Exception as exc:  # noqa: BLE001
            self._report_write_error(exc)
            return 0
        articles = [s.article for s in chosen]
        self.model.remove_many(articles)
        self._set_known(self._known + [s.label for s in chosen if s.label])
        self.decisions += len(chosen)
        self._select(0)
        self._set_status(
            f"Accepted {len(chosen)} suggestions with confidence ≥ {threshold:.0%}. "
            "Ctrl+Z undoes them together."
        )
        self._update_counts()
        self.labels_changed.emit(articles)
        return len(chosen)

    def undo(self) -> int:
        """Undo the latest review decision of this field (a bulk accept as a whole); returns how many."""
        if self._busy():
            return 0
        try:
            latest = last_live_event(self.catalog, self.field)
            if latest is None:
                self._set_status("Nothing to undo.")
                return 0
            if latest["action"] not in REVIEW_ACTIONS:
                # An import may hold thousands of labels the curator did not make here; taking it back
                # is not what Ctrl+Z in a review queue should do by accident.
                self._set_status(
                    f"Nothing to undo here: the last change of {self.field} labels is an "
                    f"{latest['action']}, not a review decision."
                )
                return 0
            first = self.catalog.undo_last_label_event(self.field)
            undone = [first] if first is not None else []
            # One set_labels call stamps all its events with the same time: undo that call as a whole.
            while first is not None:
                nxt = last_live_event(self.catalog, self.field)
                if nxt is None or nxt["at"] != first["at"] or nxt["action"] != first["action"]:
                    break
                ev = self.catalog.undo_last_label_event(self.field)
                if ev is None:
                    break
                undone.append(ev)
        except Exception as exc:  # noqa: BLE001
            self._report_write_error(exc)
            return 0
        if undone:
            self._apply_undo(undone)
        return len(undone)

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
        self._closed = True
        self.thumbs.shutdown()  # stops its queue first, so no thumbnail starts while the runner winds down
        self._runner.shutdown()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ decisions

    def _decide(self, article: str, label: str, action: str, source: str) -> bool:
        # Commit first, then move on: what the queue shows as done is always on disk already.
        try:
            self.catalog.set_labels([(article, self.field, label)], source=source, action=action)
        except Exception as exc:  # noqa: BLE001
            self._report_write_error(exc)
            return False
        row = self.model.remove(article)
        self.decisions += 1
        if label.casefold() not in {k.casefold() for k in self._known}:
            self._set_known(self._known + [label])
        self.label_edit.clear()
        self._select(min(row, self.model.rowCount() - 1))
        verb = {"accept": "accepted", "alternative": "picked", "set": "typed"}.get(action, action)
        self._set_status(f"{article} → {label} ({verb}). Ctrl+Z undoes.")
        self._update_counts()
        if self.model.rowCount() == 0:
            self._show_empty(
                f"Done: no unlabelled article is left in {self.field}. Refresh after indexing new photos."
            )
        self.view.setFocus()
        self.decided.emit(article, label, action)
        self.labels_changed.emit([article])
        return True

    def _apply_undo(self, undone: list[dict]) -> None:
        back: list[QueueEntry] = []
        missing: list[str] = []
        for ev in undone:
            article = ev["article"]
            if ev["action"] == "skip":
                row = self.model.row_of(article)
                if row >= 0:
                    entry = self.model.entry(row)
                    self.model.remove(article)
                    entry.skipped = False
                    back.append(entry)
            elif ev["old_value"] is None:
                s = self._suggestions.get(article)
                if s is not None:
                    back.append(QueueEntry(s))
                elif self._indexed(article):
                    missing.append(article)  # decided before this window opened: no suggestion in memory
            else:
                self.model.remove(article)  # labelled again (an undone relabel): not in the queue
        back.sort(key=lambda e: sort_key(e, self.model.order))
        for i, entry in enumerate(back):
            self.model.insert(i, entry)
        if back:
            self._hide_empty()
            self._select(0)
        self.decisions = max(0, self.decisions - sum(ev["action"] != "skip" for ev in undone))
        first = undone[0]
        if len(undone) == 1:
            what = (
                "skip"
                if first["action"] == "skip"
                else f"{first['article']} → {first['new_value'] or '(none)'}"
            )
            self._set_status(f"Undid {what}; back to {first['old_value'] or 'unlabelled'}.")
        else:
            self._set_status(f"Undid {len(undone)} {first['action']} decisions made together.")
        self._update_counts()
        self.labels_changed.emit([ev["article"] for ev in undone])
        if missing:
            # Its suggestion needs a search with today's labels: recompute off the UI thread and come back
            # to the article once it is ready.
            self._focus_after_load = missing[0] if not back else None
            self.refresh(rebuild_index=False)

    def _busy(self) -> bool:
        # While suggestions are recomputed the labels they were built from may be read at any moment: a
        # decision now could come back as "unlabelled" in the new queue. Loading takes seconds; wait.
        if self._loading:
            self._set_status("Still computing suggestions — a moment.")
        return self._loading

    def _indexed(self, article: str) -> bool:
        if self._index is None:
            return False
        try:
            self._index.av.article_index(article)
        except KeyError:
            return False
        return True

    def _canonical(self, text: str) -> str:
        # "Tops" and "tops" would be two labels for one thing: reuse the existing spelling.
        text = " ".join(text.split())
        for k in self._known:
            if k.casefold() == text.casefold():
                return k
        return text

    def _report_write_error(self, exc: BaseException) -> None:
        self._set_status(f"Not saved: {exc}")
        QMessageBox.warning(
            self,
            "Label not saved",
            f"The decision could not be written to the catalog, so the queue stayed where it was.\n\n{exc}",
        )

    # ------------------------------------------------------------------ keyboard

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress:
            if obj is self.view:
                return self._queue_key(event)
            if obj is self.label_edit and event.key() == Qt.Key.Key_Escape:
                self.label_edit.clear()
                self.view.setFocus()
                return True
        return super().eventFilter(obj, event)

    def _queue_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Z and mods == Qt.KeyboardModifier.ControlModifier:
            self.undo()
            return True
        if mods not in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_current()
            return True
        if key in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3) and mods == Qt.KeyboardModifier.NoModifier:
            self.pick_alternative(key - Qt.Key.Key_0)
            return True
        if key == Qt.Key.Key_S and mods == Qt.KeyboardModifier.NoModifier:
            self.skip_current()
            return True
        if key in (Qt.Key.Key_Slash, Qt.Key.Key_F2):
            self.label_edit.setFocus()
            return True
        text = event.text()
        if text and text.isprintable() and not text.isspace():
            # Any other character starts a label of one's own (a capital S, too: Shift+S types "S").
            self.label_edit.setFocus()
            self.label_edit.setText(self.label_edit.text() + text)
            return True
        return False

    def _on_label_entered(self) -> None:
        text = self.label_edit.text().strip()
        popup = self.label_edit.completer().popup() if self.label_edit.completer() else None
        if popup is not None and popup.isVisible():
            return  # Enter chose a completion; a second Enter commits it
        if text:
            self.set_label(text)
        else:
            self.accept_current()
        self.view.setFocus()

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
        entry = self.model.entry(row)
        self._shown_paths = {}
        if entry is None:
            self.title.setText("")
            self.suggestion_label.setText("")
            for lbl in self.photo_labels:
                lbl.setVisible(False)
            self.more_photos.setText("")
            for b in self.alt_buttons:
                b.setVisible(False)
            self._show_cards([], None)
            self.neigh_title.setText("")
            self._enable_actions()
            return
        s = entry.suggestion
        self.title.setText(s.article + ("   (skipped)" if entry.skipped else ""))
        photos = self._photos.get(s.article, [])
        for i, lbl in enumerate(self.photo_labels):
            if i < len(photos):
                lbl.setVisible(True)
                self._put_thumb(lbl, photos[i], PHOTO_THUMB)
            else:
                lbl.setVisible(False)
        extra = len(photos) - len(self.photo_labels)
        self.more_photos.setText(f"+{extra} more" if extra > 0 else "")
        label = shown_label(s, self.model.min_confidence)
        if label is not None:
            self.suggestion_label.setText(
                f"Suggested: <b>{_html(label)}</b> &nbsp;<span style='color:{MUTED}'>"
                f"confidence {s.confidence:.0%}</span>"
            )
        elif s.label is not None:
            self.suggestion_label.setText(
                f"<span style='color:{MUTED}'>No suggestion — best guess {_html(s.label)} at "
                f"{s.confidence:.0%} is below {self.model.min_confidence:.0%}</span>"
            )
        else:
            self.suggestion_label.setText(
                f"<span style='color:{MUTED}'>No suggestion: no labelled neighbour</span>"
            )
        for i, b in enumerate(self.alt_buttons):
            if i < len(s.alternatives):
                name, share = s.alternatives[i]
                b.setText(f"{i + 1}  {name}  {share_text(share)}")
                b.setToolTip(f"Press {i + 1} to label {s.article} as {name}")
                b.setVisible(True)
            else:
                b.setVisible(False)
        self.neigh_title.setText(
            f"Labelled neighbours that voted ({len(s.neighbours)}, most similar first; "
            f"green agrees with the {'suggestion' if label else 'best guess'})"
            if s.neighbours
            else ""
        )
        self._show_cards(s.neighbours, label or s.label)
        self._enable_actions()

    def _show_cards(self, neighbours: list, winner: str | None) -> None:
        while len(self.cards) < len(neighbours):
            card = NeighbourCard()
            self.cards.append(card)
        per_row = 5
        for i, card in enumerate(self.cards):
            if i < len(neighbours):
                n = neighbours[i]
                paths = self._photos.get(n.article, [])
                path = paths[0] if paths else None
                card.show_neighbour(n.article, n.label, n.score, n.label == winner, path)
                self._put_thumb(card.photo, path, CARD_THUMB)
                if card.parent() is None or self.neigh_grid.indexOf(card) < 0:
                    self.neigh_grid.addWidget(card, i // per_row, i % per_row)
                card.setVisible(True)
            else:
                card.setVisible(False)
        self.neigh_grid.setColumnStretch(per_row, 1)
        self.neigh_grid.setRowStretch(max(1, (len(neighbours) + per_row - 1) // per_row), 1)

    def _thumb(self, path: Path | str | None, box: int) -> QPixmap | None:
        """A box x box (at most) pixmap, or None while it is being made (this call queues it)."""
        if not path:
            return placeholder(box, "no photo")
        if self.thumbs.is_broken(path):
            # The window's own grey tile rather than the loader's, so every stand-in here looks alike.
            return placeholder(box, "cannot show\nphoto")
        return self.thumbs.scaled(path, box)

    def _put_thumb(self, target: QLabel, path: Path | None, box: int) -> None:
        pix = self._thumb(path, box)
        target.setPixmap(pix if pix is not None else placeholder(box))
        if path is not None and pix is None:
            self._shown_paths.setdefault(str(path), []).append(target)
        target.setProperty("thumb_box", box)

    def _on_thumb(self, path: str) -> None:
        for target in self._shown_paths.pop(path, []):
            box = int(target.property("thumb_box") or PHOTO_THUMB)
            pix = self._thumb(path, box)
            if pix is not None:
                target.setPixmap(pix)
        article = self._cover_articles.get(path)
        if article is not None:
            self.model.refresh_covers(article)

    def _cover_pixmap(self, article: str) -> QPixmap | None:
        photos = self._photos.get(article)
        if not photos:
            return None
        return self._thumb(photos[0], ROW_THUMB)

    def _set_known(self, labels: list[str]) -> None:
        seen: dict[str, str] = {}
        for label in labels:
            seen.setdefault(label.casefold(), label)
        self._known = sorted(seen.values(), key=str.casefold)
        self._completion.setStringList(self._known)

    def _update_counts(self) -> None:
        n, skipped = self.model.counts()
        text = f"<b>{n - skipped}</b> to review"
        if skipped:
            text += f" · {skipped} skipped"
        text += f" · {self.decisions} decided here"
        self.count_label.setText(text)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _enable_actions(self) -> None:
        has = self.model.entry(self.view.currentIndex().row()) is not None
        for w in (self.accept_button, self.skip_button, self.label_edit):
            w.setEnabled(has and not self._loading)
        self.bulk_button.setEnabled(self.model.rowCount() > 0 and not self._loading)
        self.refresh_button.setEnabled(not self._loading)
        self.undo_button.setEnabled(not self._loading)

    def _show_empty(self, text: str, importing: bool = False) -> None:
        self.empty_note.setText(text)
        self.empty_note.setVisible(True)
        self.import_button.setVisible(importing)
        self._show_row(-1)

    def _hide_empty(self) -> None:
        self.empty_note.setVisible(False)
        self.import_button.setVisible(False)

    def _import_labels(self) -> None:
        from desktop_app.gui.labels_dialog import import_labels

        if import_labels(self, self.catalog, self.field) is not None:
            self.refresh(rebuild_index=False)


def _percent_spin(value: float) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, 100)
    spin.setSingleStep(5)
    spin.setSuffix(" %")
    spin.setValue(round(value * 100))
    return spin


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def open_review(parent: QWidget | None, catalog: Catalog, field: str = DEFAULT_FIELD) -> ReviewQueue:
    """Open the review queue of one label field in its own non-modal window and return it.

    The search index is built on a worker thread; the window shows a busy bar until the suggestions are
    ready. Connect `labels_changed` to refresh views that show labels.
    """
    window = ReviewQueue(catalog, None, field, parent)
    window.setWindowFlag(Qt.WindowType.Window, True)  # its own window even with a parent
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    window.resize(1200, 780)
    window.show()
    return window


__all__ = ["ReviewData", "ReviewQueue", "SuggestionModel", "open_review", "prepare_review"]
