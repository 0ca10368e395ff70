"""The similar panel: the current query, method/s/m/top-K controls, and the top-K similar articles.

The panel only shows. Its controls show the catalog's stored search settings (`CatalogSettings.search`):
they are set from the catalog when it opens and from each answer's `Outcome.params`, the settings the
engine really used. An edit emits `params_edited` with the new `SearchSettings`; the search controller
stores it in the catalog and searches again, so there is no copy of the settings here that could drift.
Each hit row shows the score and the best photo pairs (query photo next to the hit's photo). Clicking a
hit selects it in the grid; "Inspect match" opens the match inspector on the query and the hit.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.matching import METHOD_LABELS, METHODS, PAIR_METHODS
from desktop_app.core.settings import SearchSettings
from desktop_app.core.similar import Hit
from desktop_app.gui.delegates import SimilarDelegate
from desktop_app.gui.models import ArticleRole, SimilarModel
from desktop_app.gui.qtcompat import model_data
from desktop_app.gui.thumbs import ThumbnailLoader

MAX_SHOWN = 1000  # results the list offers at most (the engine allows more, for the command line)


class SimilarPanel(QWidget):
    params_edited = Signal(object)  # SearchSettings: the curator changed a control
    hit_activated = Signal(str)  # article id
    inspect_requested = Signal(str)  # article id of the selected hit

    def __init__(self, thumbs: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(380)
        self.title = QLabel("Similar articles")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.title.setWordWrap(True)
        self.status = QLabel(
            "Select an article, a photo or several articles to see the most similar articles. "
            "You can also drop photo files on the window."
        )
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")

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
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Method", self.method)
        row = QHBoxLayout()
        row.addWidget(QLabel("s"))
        row.addWidget(self.threshold, 1)
        row.addSpacing(8)
        row.addWidget(QLabel("m"))
        row.addWidget(self.max_matches, 1)
        row.addSpacing(8)
        row.addWidget(QLabel("top"))
        row.addWidget(self.top_k, 1)
        form.addRow(row)

        self.model = SimilarModel(thumbs, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(SimilarDelegate(thumbs, self.view))
        self.view.setUniformItemSizes(True)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.clicked.connect(self._clicked)
        self.view.activated.connect(self._clicked)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_inspect())

        self.inspect_btn = QPushButton("Inspect match")
        self.inspect_btn.setToolTip("Compare the query and the selected result photo by photo (Ctrl+I)")
        self.inspect_btn.clicked.connect(self._inspect)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.inspect_btn)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.title)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(self.view, 1)
        lay.addLayout(buttons)

        for w in (self.method,):
            w.currentIndexChanged.connect(self._controls_changed)
        self.threshold.valueChanged.connect(self._controls_changed)
        self.max_matches.valueChanged.connect(self._controls_changed)
        self.top_k.valueChanged.connect(self._controls_changed)
        self._quiet = False
        self._update_inspect()

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

    def show_results(
        self, title: str, hits: list[Hit], elapsed_ms: float, note: str = "", root: Path | None = None
    ) -> None:
        self.title.setText(title)
        self.model.set_hits(hits, root)
        if hits:
            text = f"{len(hits)} most similar articles · {elapsed_ms:.0f} ms"
        else:
            text = (
                "No similar articles: nothing passes the threshold s, or the catalog has no other articles."
            )
        if note:
            text += f"\n{note}"
        self.status.setText(text)
        self._update_inspect()

    def show_message(self, title: str, message: str) -> None:
        self.title.setText(title)
        self.model.clear()
        self.status.setText(message)
        self._update_inspect()

    def selected_hit(self) -> str | None:
        idx = self.view.currentIndex()
        return model_data(idx, ArticleRole) if idx.isValid() else None

    def _clicked(self, index: QModelIndex) -> None:
        self._update_inspect()
        article = model_data(index, ArticleRole)
        if article:
            self.hit_activated.emit(article)

    def _inspect(self) -> None:
        article = self.selected_hit()
        if article:
            self.inspect_requested.emit(article)

    def _update_inspect(self) -> None:
        self.inspect_btn.setEnabled(self.selected_hit() is not None)
