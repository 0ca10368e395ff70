"""Words in the app (CLIP models): the "Search by words" box, the words field under the similar panel's
controls that steers a photo query, and the label names that ask the review queue for zero-shot suggestions.

The widgets only show and emit; `WordsController` puts them into the window (the toolbar and the similar
panel) and connects them to the search controller, which asks the engine child as for any other query. A
search by words keeps to the grid filter's label: and folder: terms (`core.filter_text`, as `lookalike
similar --label --folder`), follows the filter when it changes, and its title says which applied. With
a model that has no text side every widget is disabled and says why in one line (the engine's own
`text_side_problem`): nothing is ever faked.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from desktop_app.core.filter_text import SearchFilter
from desktop_app.core.overview import Snapshot
from desktop_app.core.similar import Query
from desktop_app.core.text_encoder import text_side_problem

DEFAULT_WEIGHT = 0.5  # as `lookalike similar --text-weight`
SEARCH_PLACEHOLDER = "Search by words, e.g. red hooded sweatshirt"
STEER_PLACEHOLDER = "Steer with words, e.g. in black"
WORDS_ONLY_TIP = (
    "This search is by words alone, so there are no photos to steer. Select an article or a photo, "
    "then add words here to steer its search."
)


def problem_of(snap: Snapshot | None) -> str | None:
    """Why the open catalog cannot use words (None: it can); read from its model's manifest."""
    if snap is None:
        return "open a catalog to search by words"
    if snap.model is None:
        return snap.model_error or text_side_problem(None)
    return text_side_problem(snap.model)


class WordsSearchBox(QWidget):
    """A line edit: Enter searches the catalog by its words."""

    search_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setObjectName("wordsSearch")
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(260)
        self.edit.returnPressed.connect(self._enter)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(self.edit)
        self.set_problem("open a catalog to search by words")

    def set_problem(self, problem: str | None) -> None:
        """Enable the box (None), or disable it with the reason as its tooltip and placeholder."""
        self.edit.setEnabled(problem is None)
        self.edit.setPlaceholderText(
            SEARCH_PLACEHOLDER if problem is None else "Search by words needs a CLIP model"
        )
        self.edit.setToolTip("Find articles by describing them (CLIP)" if problem is None else problem)

    def _enter(self) -> None:
        text = self.edit.text().strip()
        if text:
            self.search_requested.emit(text)


class SteerField(QWidget):
    """Words mixed into the similar panel's photo query, with their weight."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setObjectName("wordsSteer")
        self.edit.setClearButtonEnabled(True)
        self.weight = QDoubleSpinBox()
        self.weight.setRange(0.05, 1.0)
        self.weight.setSingleStep(0.05)
        self.weight.setDecimals(2)
        self.weight.setValue(DEFAULT_WEIGHT)
        self.weight.setToolTip("Share of the words in each query photo (0..1)")
        self.edit.editingFinished.connect(self._edited)
        self.weight.valueChanged.connect(lambda _v: self.text() and self.changed.emit())
        self._last = ""
        self._problem: str | None = None
        self._words_only = False  # the query on show is words alone: nothing to steer
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Words"))
        lay.addWidget(self.edit, 1)
        lay.addWidget(QLabel("weight"))
        lay.addWidget(self.weight)
        self.set_problem(None)

    def text(self) -> str:
        return self.edit.text().strip() if self.edit.isEnabled() else ""

    def set_problem(self, problem: str | None) -> None:
        self._problem = problem
        self._sync()

    def set_words_only(self, on: bool) -> None:
        """Off while the query is words alone (there are no photos to mix them into), on again after."""
        self._words_only = on
        self._sync()

    def _sync(self) -> None:
        usable = self._problem is None and not self._words_only
        for w in (self.edit, self.weight):
            w.setEnabled(usable)
        self.edit.setPlaceholderText("Words need a CLIP model" if self._problem else STEER_PLACEHOLDER)
        if self._problem is not None:
            tip = self._problem
        elif self._words_only:
            tip = WORDS_ONLY_TIP
        else:
            tip = "Mix words into the photos of the query (CLIP)"
        for w in (self.edit, self.weight):
            w.setToolTip(tip)

    def apply(self, query: Query) -> Query:
        """The query with these words mixed in; a search by words, or no words, leaves it as it is."""
        if query.kind == "text" or not self.text():
            return query
        return query.with_text(self.text(), self.weight.value())

    def _edited(self) -> None:
        if self.edit.text().strip() != self._last:
            self._last = self.edit.text().strip()
            self.changed.emit()


class ZeroShotNames(QWidget):
    """Label names for the review queue's zero-shot suggestions (comma-separated)."""

    names_entered = Signal(list)

    def __init__(self, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setObjectName("zeroShotNames")
        self.edit.setPlaceholderText(f"{field} names for zero-shot suggestions, e.g. hoodies, pants, bags")
        self.button = QPushButton("Suggest from names")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.edit.returnPressed.connect(self._enter)
        self.button.clicked.connect(self._enter)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 2)
        lay.addWidget(self.button)
        lay.addWidget(self.note, 1)

    def show_state(self, problem: str | None, labelled: int, few: int, note: str) -> None:
        """Shown while the field has few labelled articles; disabled, with the reason, without a text side."""
        self.setVisible(labelled < few)
        for w in (self.edit, self.button):
            w.setEnabled(problem is None)
        self.note.setText(problem if problem else note)
        self.note.setToolTip(self.note.text())

    def _enter(self) -> None:
        names = [n.strip() for n in self.edit.text().split(",") if n.strip()]
        if len(names) >= 2:
            self.names_entered.emit(names)
        else:
            self.note.setText("Name at least two labels, separated by commas.")


class WordsController(QObject):
    """Puts the words widgets into the main window and connects them to its search."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.box = WordsSearchBox()
        self.steer = SteerField()
        window.acts.toolbar.addSeparator()
        window.acts.toolbar.addWidget(self.box)
        panel = window.similar
        panel.layout().insertWidget(2, self.steer)  # under the panel's method/s/m/top controls
        window.search.adjust_query = self._adjust
        self.box.search_requested.connect(self.search)
        self.steer.changed.connect(self._steer_changed)
        window.catalogs.loaded.connect(lambda snap, _same: self.show_catalog(snap))
        window.grid_panel.filter_applied.connect(self._grid_filtered)

    def show_catalog(self, snap: Snapshot | None) -> None:
        problem = problem_of(snap)
        self.box.set_problem(problem)
        self.steer.set_problem(problem)

    def _adjust(self, query: Query) -> Query:
        """Every query on its way to the engine: the steer field follows it, and steers it if it can."""
        self.steer.set_words_only(query.kind == "text")
        return self.steer.apply(query)

    def search(self, text: str) -> None:
        if self.window.snapshot is None:
            return
        self.window.close_detail()
        self.window.search.ask(Query.of_text(text, self._filters()))

    def _filters(self) -> SearchFilter | None:
        """The grid's filter as a search takes it (`lookalike similar --label --folder`); None: no filter."""
        return SearchFilter.of_text(self.window.grid_panel.filter_edit.text()) or None

    def _grid_filtered(self, _text: str) -> None:
        """The grid's filter changed: a search by words on show follows it, as it would have been asked."""
        query = self.window.search.query
        if query is None or query.kind != "text":
            return
        filters = self._filters()
        if filters != query.filters:
            self.window.search.ask(replace(query, filters=filters))

    def _steer_changed(self) -> None:
        query = self.window.search.query
        if query is not None and query.kind != "text":
            self.window.search.rerun()


__all__ = ["SteerField", "WordsController", "WordsSearchBox", "ZeroShotNames", "problem_of"]
