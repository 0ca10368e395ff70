"""The similar panel: the current query, method/s/m/top-K controls, and the similar articles as cards.

The panel only shows and says what the curator asked for. Its controls show the catalog's stored search
settings (`CatalogSettings.search`): they are set from the catalog when it opens and from each answer's
`Outcome.params`, the settings the engine really used. An edit emits `params_edited`; the search controller
stores it in the catalog and searches again, so there is no copy of the settings here that could drift.

Clicking a result selects it here and keeps the query; double-click or Enter inspects the match, Space
compares the photos side by side, "Show in catalog" selects it in the grid. With one article as the query,
the curator can decide the pair (same product 1, look-alike 2, not a match 3, undecided 0); "not a match"
results are hidden unless "Show 'not a match'" is on.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.matching import METHOD_LABELS, METHODS, PAIR_METHODS
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Hit
from desktop_app.core.wording import plural
from desktop_app.gui.decision_bar import DECISION_KEYS, NO_DECISION_KEY, DecisionBar
from desktop_app.gui.elided import ElidedLabel
from desktop_app.gui.models import ArticleRole
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.results import ResultDelegate, ResultsView, SimilarModel
from desktop_app.gui.thumbs import ThumbnailLoader

MAX_SHOWN = 1000  # results the list offers at most (the engine allows more, for the command line)
HINT = (
    "Select an article, a photo or several articles to see the most similar articles. "
    "You can also drop photo files on the window."
)


def results_status(n: int, elapsed_ms: float, hidden: int, note: str) -> tuple[str, str]:
    """The results header (one short line) and what it leaves to the tooltip."""
    if n:
        text = f"{n} most similar · {elapsed_ms:.0f} ms"
        detail = f"The {plural(n, 'most similar article')}, found in {elapsed_ms:.0f} ms."
    else:
        text = "No similar articles"
        detail = "Nothing passes the threshold s, or the catalog has no other articles."
    if hidden:
        text += f" · {hidden} hidden"
        detail += (
            f"\n{hidden} decided “not a match” with the query {'is' if hidden == 1 else 'are'} hidden; "
            "tick Show “not a match” to list them."
        )
    if note:
        text += f" · {note}"
        detail += f"\n{note}"
    return text, detail


def _buddy(text: str, field: QWidget, name: str) -> QLabel:
    label = QLabel(text)
    label.setBuddy(field)
    field.setAccessibleName(name)
    return label


class SimilarPanel(QWidget):
    params_edited = Signal(object)  # SearchSettings: the curator changed a control
    inspect_requested = Signal(str)  # article id of a result: the inspector on the query and it
    compare_requested = Signal(str)  # article id: the best photo pair side by side
    show_in_catalog = Signal(str)  # article id: select it in the grid
    decide_requested = Signal(str, str)  # article id, decision ("same", "alike", "not_match", "none")
    show_rejected_changed = Signal(bool)
    menu_requested = Signal(str, QPoint)  # article id, global position
    zoom_requested = Signal(int)
    copy_requested = Signal()
    export_requested = Signal()

    def __init__(self, thumbs: ThumbnailLoader, thumb_size: int = 160, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(360)
        self.decisions_enabled = False  # a single-article query: its results can be decided
        # Results set aside ("not a match") that are still listed until the search answers again.
        self._leaving: set[str] = set()
        self._wanted: str | None = None  # to select in the next answer (an undone decision's result)
        # One line: a title holds what the curator asked, and words can be a paragraph (the tooltip has it all).
        self.title = ElidedLabel("Similar articles")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.status = ElidedLabel()  # one line over results: a wrapped header pushed the results down
        self.status.set_message(HINT)  # nothing shown yet: the hint whole
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self._build_controls()
        self.model = SimilarModel(thumbs, self)
        self.view = ResultsView()
        self.view.setModel(self.model)
        self.delegate = ResultDelegate(thumbs, thumb_size, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setAccessibleName("Similar articles")
        self.set_thumb_size(thumb_size)
        self.view.open_requested.connect(lambda idx: self._emit_for(idx, self.inspect_requested))
        self.view.compare_requested.connect(lambda idx: self._emit_for(idx, self.compare_requested))
        self.view.menu_requested.connect(self._menu)
        self.view.zoom_requested.connect(self.zoom_requested)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._sync_actions())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addLayout(self._controls_row())
        lay.addLayout(self._status_row())
        lay.addWidget(self.view, 1)
        lay.addWidget(self._decision_row())
        lay.addLayout(self._action_row())
        self._quiet = False
        self._sync_actions()

    # ------------------------------------------------------------ building

    def _build_controls(self) -> None:
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_LABELS.get(m, m), m)
        self.method.setToolTip("How two sets of photos are compared")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setSpecialValueText("off")
        self.threshold.setToolTip("s: photo pairs less similar than this do not count")
        self.max_matches = QSpinBox()
        self.max_matches.setRange(0, 50)
        self.max_matches.setSpecialValueText("all")
        self.max_matches.setToolTip("m: only the m most similar pairs count")
        self.top_k = QSpinBox()
        self.top_k.setRange(1, MAX_SHOWN)
        self.top_k.setToolTip("How many similar articles to list")
        self.method.currentIndexChanged.connect(self._controls_changed)
        for spin in (self.threshold, self.max_matches, self.top_k):
            spin.valueChanged.connect(self._controls_changed)

    def _controls_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        items = [
            (_buddy("&Method", self.method, "Comparison method"), self.method, 3),
            (_buddy("&s", self.threshold, "Threshold s"), self.threshold, 0),
            (_buddy("&m", self.max_matches, "Pairs counted m"), self.max_matches, 0),
            (_buddy("&top", self.top_k, "Number of results"), self.top_k, 0),
        ]
        for i, (label, field, stretch) in enumerate(items):
            if i:
                row.addSpacing(6)
            row.addWidget(label)
            row.addWidget(field, stretch)
        for spin in (self.threshold, self.max_matches, self.top_k):
            # As wide as their longest value: stretched, they stood ~150 px wide around "off" or "20".
            spin.setMaximumWidth(spin.sizeHint().width() + 8)
        return row

    def _status_row(self) -> QGridLayout:
        self.rejected_check = QCheckBox("Show “not a match”")
        self.rejected_check.setToolTip("Also list the articles you decided are not a match with the query")
        self.rejected_check.toggled.connect(self.show_rejected_changed)
        self.copy_btn = QToolButton()
        self.copy_btn.setText("Copy")
        self.copy_btn.setToolTip("Copy the results (article, score, pairs) as a table for a spreadsheet")
        self.copy_btn.clicked.connect(self.copy_requested)
        self.export_btn = QToolButton()
        self.export_btn.setText("Export…")
        self.export_btn.setToolTip("Save the results (article, score, decision, pairs) as a CSV file")
        self.export_btn.clicked.connect(self.export_requested)
        self.row_tools = QWidget()
        tools = QHBoxLayout(self.row_tools)
        tools.setContentsMargins(0, 0, 0, 0)
        tools.addWidget(self.rejected_check)
        tools.addWidget(self.copy_btn)
        tools.addWidget(self.export_btn)
        self._status_grid = QGridLayout()
        self._status_grid.setContentsMargins(0, 0, 0, 0)
        self._status_grid.setColumnStretch(0, 1)
        self._message_layout = None
        self._place_status(message=True)
        return self._status_grid

    def _place_status(self, message: bool) -> None:
        """Results: the one-line header beside the tools. A message standing in for results: the whole row
        to itself (wrapped beside the tools, advice was crammed into a narrow column), the tools under it."""
        if message == self._message_layout:
            return
        self._message_layout = message
        grid = self._status_grid
        for w in (self.status, self.row_tools):
            grid.removeWidget(w)
        if message:
            grid.addWidget(self.status, 0, 0, 1, 2)
            grid.addWidget(self.row_tools, 1, 1)
        else:
            grid.addWidget(self.status, 0, 0)
            grid.addWidget(self.row_tools, 0, 1)

    def _decision_row(self) -> DecisionBar:
        self.decisions = DecisionBar()
        self.decisions.decide_requested.connect(self.decide)
        self.decision_actions: dict[str, QAction] = {}
        for decision, text, key in DECISION_KEYS:
            self.decision_actions[decision] = self._view_action(
                f"Decide: {text.lower()}", key, lambda d=decision: self.decide(d)
            )
        self.decision_actions["none"] = self._view_action(
            "Decide: take the decision back", NO_DECISION_KEY, lambda: self.decide("none")
        )
        return self.decisions

    def _action_row(self) -> QHBoxLayout:
        self.inspect_btn = QPushButton("Inspect match")
        self.inspect_btn.setToolTip(
            "Compare the query and the selected result photo by photo (Enter, Ctrl+I)"
        )
        self.inspect_btn.clicked.connect(lambda: self._emit_current(self.inspect_requested))
        self.compare_btn = QPushButton("Compare photos")
        self.compare_btn.setToolTip("The best photo pair side by side, large (Space)")
        self.compare_btn.clicked.connect(lambda: self._emit_current(self.compare_requested))
        self.goto_btn = QPushButton("Show in catalog")
        self.goto_btn.setToolTip("Select the result in the article grid (its own similar articles follow)")
        self.goto_btn.clicked.connect(lambda: self._emit_current(self.show_in_catalog))
        row = QHBoxLayout()
        row.addWidget(self.goto_btn)
        row.addStretch(1)
        row.addWidget(self.compare_btn)
        row.addWidget(self.inspect_btn)
        return row

    def _view_action(self, text: str, key: str, slot) -> QAction:
        """A key that works while the results have the focus (listed in the shortcut sheet). It changes the
        catalog, so it acts only while the curator works in the results: they have the focus and are shown
        (a key pressed while working elsewhere, such as 0 on the map, must not take back a decision)."""
        action = QAction(text, self.view)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        action.triggered.connect(lambda _c=False: self._working_in_results() and slot())
        self.view.addAction(action)
        return action

    def _working_in_results(self) -> bool:
        return self.view.hasFocus() and self.view.isVisible()

    # ------------------------------------------------------------ zoom

    def set_thumb_size(self, size: int) -> None:
        self.delegate.set_thumb_size(size)
        self.view.fit_cards()
        self.view.viewport().update()

    # ------------------------------------------------------------ parameters

    def set_params(self, params: SearchSettings) -> None:
        """Show these settings without emitting an edit (they come from the catalog or an answer)."""
        self._quiet = True
        try:
            i = self.method.findData(params.method)
            self.method.setCurrentIndex(max(i, 0))
            self.threshold.setValue(params.threshold or 0.0)
            self.max_matches.setValue(params.max_matches or 0)
            self.top_k.setValue(params.top_k)
        finally:
            self._quiet = False
        self._sync_enabled()

    def params(self) -> SearchSettings:
        """The settings the controls show (0 in s or m means off)."""
        s = self.threshold.value()
        m = self.max_matches.value()
        return SearchSettings(
            self.method.currentData(), s if s > 0 else None, m if m > 0 else None, self.top_k.value()
        )

    def _controls_changed(self, *_args) -> None:
        self._sync_enabled()
        if not self._quiet:
            self.params_edited.emit(self.params())

    def _sync_enabled(self) -> None:
        pairs = self.method.currentData() in PAIR_METHODS
        # centroid and best pair have no set of pairs that s and m could filter
        self.threshold.setEnabled(pairs)
        self.max_matches.setEnabled(pairs)

    # ------------------------------------------------------------ results

    def show_query(self, title: str) -> None:
        self.title.setText(title)
        self.status.setText("Searching…")
        self._leaving.clear()

    def show_results(
        self,
        title: str,
        hits: list[Hit],
        elapsed_ms: float,
        note: str = "",
        root: Path | None = None,
        hidden: int = 0,
        decisions: bool = False,
    ) -> None:
        """Show an answer; the selected result stays selected when it is still among the hits."""
        wanted, self._wanted = self._wanted, None
        keep = wanted if any(h.article == wanted for h in hits) else self.selected_hit()
        keep_row = self.view.currentIndex().row()
        self.title.setText(title)
        self.decisions_enabled = decisions
        # A row of further pairs only when a good share of the results have them: else it is empty space.
        small = 3 * sum(len(h.pairs) > 1 for h in hits) >= max(1, len(hits))
        if small != self.delegate.small_row:
            self.delegate.small_row = small
            self.delegate.clear_cache()
        self.model.set_hits(hits, root)
        self.view.fit_cards()
        self.status.set_text(*results_status(len(hits), elapsed_ms, hidden, note))
        self._place_status(message=False)
        row = self.model.row_of(keep) if keep else -1
        if row < 0 and keep is not None and keep in self._leaving and hits:
            row = min(keep_row, len(hits) - 1)
        self._leaving &= {h.article for h in hits}  # those gone have left; the others' writes are on the way
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))
        self._sync_actions()

    def select_when_shown(self, article: str) -> None:
        """Select this result in the next answer when it is among the hits (the curator's place after an
        undo brings it back)."""
        self._wanted = article

    def show_message(self, title: str, message: str) -> None:
        self._wanted = None
        self.title.setText(title)
        self.model.clear()
        self._leaving.clear()
        self.decisions_enabled = False
        self.status.set_message(message)  # advice in place of results: whole, wrapped
        self._place_status(message=True)
        self._sync_actions()

    def selected_hit(self) -> str | None:
        idx = self.view.currentIndex()
        return model_data(idx, ArticleRole) if idx.isValid() else None

    def selected_decision(self) -> str | None:
        row = self.view.currentIndex().row()
        return self.model.hits[row].decision if 0 <= row < len(self.model.hits) else None

    def show_decision(self, article: str, decision: str | None) -> None:
        self.model.set_decision(article, decision)
        if decision != "not_match":
            self._leaving.discard(article)  # not set aside after all (another curator's decision stands)
        self._sync_actions()

    # ------------------------------------------------------------ what the curator asked for

    def decide(self, decision: str) -> None:
        article = self.selected_hit()
        if article and self.decisions_enabled:
            if decision == "not_match" and not self.rejected_check.isChecked():
                # A result set aside leaves the list: the one after it is selected at once, so the curator's
                # next key decides on it (as in a review queue), even while this decision is being saved.
                self._leaving.add(article)
                self._select_next_staying(self.model.row_of(article))
            self.decide_requested.emit(article, decision)

    def _select_next_staying(self, row: int) -> None:
        """Select the first result after `row` that is not leaving, else the last one before it."""
        hits = self.model.hits
        after = [r for r in range(row + 1, len(hits)) if hits[r].article not in self._leaving]
        before = [r for r in range(row - 1, -1, -1) if hits[r].article not in self._leaving]
        if after or before:
            self.view.setCurrentIndex(self.model.index((after or before)[0], 0))

    def _emit_for(self, index: QModelIndex, signal) -> None:
        article = model_data(index, ArticleRole)
        if article:
            signal.emit(article)

    def _emit_current(self, signal) -> None:
        article = self.selected_hit()
        if article:
            signal.emit(article)

    def _menu(self, index: QModelIndex, pos: QPoint) -> None:
        article = model_data(index, ArticleRole)
        if article:
            self.menu_requested.emit(article, pos)

    def _sync_actions(self) -> None:
        has = self.selected_hit() is not None
        for b in (self.inspect_btn, self.compare_btn, self.goto_btn):
            b.setEnabled(has)
        has_hits = self.model.rowCount() > 0
        self.copy_btn.setEnabled(has_hits)
        self.export_btn.setEnabled(has_hits)
        can = has and self.decisions_enabled
        why = (
            ""
            if self.decisions_enabled
            else "Decisions are between two articles: select one article as the query."
        )
        self.decisions.set_state(can, self.selected_decision(), why)
        for action in self.decision_actions.values():
            action.setEnabled(can)


__all__ = ["HINT", "SimilarPanel"]
