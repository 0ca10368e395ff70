"""The Duplicates window: clusters of duplicate photos or products listed twice, judged side by side.

The list holds clusters (connected pairs), largest first; under each, its pairs. The pane on the right shows
the selected pair's two photos side by side at a readable size with what differs; Space, Enter, a
double-click or Compare opens them in the lightbox, side by side at one scale as large as the screen allows,
zoomed and panned together (`duplicates_compare`; the verdict keys work there too). Per pair, or for a whole
cluster when the cluster row is selected: D "duplicate", N "not a duplicate", S "same product" (a match
decision between the two articles, shared with search and the inspector). A verdict is about the pair on
show when its key is pressed: the pair leaves the list at once and the next one is shown, while the
verdicts are saved one at a time, in order (`duplicates_verdicts`); pairs judged once never come back.
Undo (Ctrl+Z) takes the latest verdicts back one at a time and lists their pairs again where they were,
also after Find again (the verdicts are in the catalog; see `duplicates_list`). Finding runs in a child
process with progress and cancel; Export writes the pairs on show as CSV. Nothing here moves or deletes a
photo file.

Entry point for the main window: `open_duplicates(parent, engine)`.
"""

from __future__ import annotations

import logging

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.engine import DuplicateReport, Engine
from desktop_app.core.paths import photo_file
from desktop_app.core.wording import plural
from desktop_app.gui.duplicates_compare import compare_items, compare_photos, compare_title
from desktop_app.gui.duplicates_list import (
    KIND_NAMES,
    cluster_item,
    how_it_differs,
    pairs_on_show,
    visible_children,
)
from desktop_app.gui.duplicates_menu import photo_menu, row_menu
from desktop_app.gui.duplicates_pane import PREVIEW, PhotoPane
from desktop_app.gui.duplicates_verdicts import VerdictWriting
from desktop_app.gui.duplicates_work import DuplicateSearch, Preview, load_preview
from desktop_app.gui.errors import show_error
from desktop_app.gui.export_dialog import ask_export_path, file_name
from desktop_app.gui.item_menus import item_menus
from desktop_app.gui.lightbox import Lightbox
from desktop_app.gui.screen_fit import fit_to_screen
from desktop_app.gui.secondary import CLOSE_KEYS, KeyTable, add_close_keys
from desktop_app.gui.workers import Failure, Runner, Task

log = logging.getLogger(__name__)
EDIT_BAND = 0.7  # min score with "same shot, different edit" included
VERDICT_KEYS = (("D", "duplicate"), ("N", "not_duplicate"), ("S", "same"))
DUPLICATES_KEYS: KeyTable = (
    (("D",), "Duplicate: the selected pair, or every pair of the selected cluster"),
    (("N",), "Not a duplicate"),
    (("S",), "Same product (a match decision between the two articles)"),
    (("Space", "Enter", "double-click"), "Compare the pair (or the cluster's pairs) in the lightbox"),
    (("D", "N", "S"), "In the lightbox: close it and judge what it was opened for"),
    (("H",), "Show or hide the marks of where the two photos differ"),
    (("Ctrl+Z",), "Undo the latest verdict"),
    (("Ctrl+Shift+Z", "Ctrl+Y"), "Redo the verdict Undo took back"),
    *CLOSE_KEYS,
)


class DuplicatesWindow(VerdictWriting, QWidget):
    """Find, look at and judge duplicates of one catalog."""

    found = Signal(object)  # the DuplicateReport now on show
    judged = Signal(str, str, str)  # a, b, verdict: written to the catalog
    unjudged = Signal(int)  # pairs listed again by Undo
    failed = Signal(str)
    article_wanted = Signal(str)  # "Show in the catalog": the main window selects the article

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.engine = engine
        self.runner = Runner(3, "duplicates", self)
        self.search: DuplicateSearch | None = None
        self.report: DuplicateReport | None = None
        self.root = engine.photo_root()
        self._preview_gen = 0
        self.lightbox: Lightbox | None = None  # the compare opened last
        self._compared: QTreeWidgetItem | None = None  # the row it was opened for
        self.menu: QMenu | None = None  # the right-click menu shown last
        self._photos: tuple[tuple[str, str], ...] = ()  # (photo, article) on each side of the pair on show
        self._init_verdicts()
        self.setWindowTitle(f"Duplicates — {engine.title()}")
        self._build()
        self._shortcuts()
        size = fit_to_screen(self, 1420, 820)
        self.split.setSizes([size.width() * 2 // 5, size.width() * 3 // 5])  # the list gets room for paths

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.level_box = QComboBox()
        self.level_box.addItem("Duplicate photos", "photo")
        self.level_box.addItem("Products listed twice", "article")
        self.edits_box = QCheckBox("Also edited copies")
        self.edits_box.setToolTip("Also the same shot, edited: mirrored, recoloured, brightened")
        self.find_button = QPushButton("Find duplicates")
        self.find_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        for w in (self.level_box, self.edits_box):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.find_button, self.cancel_button, self.export_button):
            bar.addWidget(w)
        outer.addLayout(bar)
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.progress.hide()
        self.status = QLabel("Find duplicates compares every photo with its nearest neighbours.")
        self.status.setWordWrap(True)
        outer.addWidget(self.progress)
        outer.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Cluster / pair", "Kind", "Score"])
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # only when the paths do not fit
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.currentItemChanged.connect(lambda cur, _prev: self._show(cur))
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        item_menus(self.tree, self._row_menu)
        split.addWidget(self.tree)
        split.addWidget(self._pair_panel())
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        self.split = split
        outer.addWidget(split, 1)
        self.find_button.clicked.connect(self.find)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.export)

    def _pair_panel(self) -> QWidget:
        panel = QWidget()
        grid = QGridLayout(panel)
        self.left, self.right = PhotoPane(), PhotoPane()
        for side, pane in enumerate((self.left, self.right)):
            pane.image.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            pane.image.customContextMenuRequested.connect(
                lambda pos, s=side, p=pane: self._photo_menu(s, p.image.mapToGlobal(pos))
            )
        grid.addWidget(self.left, 0, 0)
        grid.addWidget(self.right, 0, 1)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.compare_button = QPushButton("Compare (Space)")
        self.compare_button.setToolTip(
            "The two photos side by side at one scale, as large as the screen allows; zoom and pan together"
        )
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self.compare)
        about = QHBoxLayout()
        about.addWidget(self.why, 1)
        side = QVBoxLayout()
        side.addWidget(self.compare_button)
        self.marks_box = QCheckBox("Outline what differs (H)")
        self.marks_box.setToolTip("Outline on both photos the parts where they differ once lined up")
        self.marks_box.setChecked(True)
        self.marks_box.toggled.connect(self._show_marks)
        side.addWidget(self.marks_box)
        side.addStretch(1)
        about.addLayout(side)
        grid.addLayout(about, 1, 0, 1, 2)
        buttons = QHBoxLayout()
        self.dup_button = QPushButton("Duplicate (D)")
        self.not_button = QPushButton("Not a duplicate (N)")
        self.same_button = QPushButton("Same product (S)")
        for b, verdict in (
            (self.dup_button, "duplicate"),
            (self.not_button, "not_duplicate"),
            (self.same_button, "same"),
        ):
            b.clicked.connect(lambda _c=False, v=verdict: self.judge(v))
            b.setEnabled(False)
            buttons.addWidget(b)
        buttons.addStretch(1)
        grid.addLayout(buttons, 2, 0, 1, 2)
        history = QHBoxLayout()  # on a row of their own: the pair list keeps its room on a small screen
        history.addStretch(1)
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.undo_button.setToolTip("Take back the latest verdict (Ctrl+Z): its pairs are listed again")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        history.addWidget(self.undo_button)
        self.redo_button = QPushButton("Redo (Ctrl+Shift+Z)")
        self.redo_button.setToolTip(
            "Save again the verdict Undo took back (Ctrl+Shift+Z or Ctrl+Y): its pairs leave the list again"
        )
        self.redo_button.setEnabled(False)
        self.redo_button.clicked.connect(self.redo)
        history.addWidget(self.redo_button)
        grid.addLayout(history, 3, 0, 1, 2)
        grid.setRowStretch(4, 1)
        return panel

    def _shortcuts(self) -> None:
        for key, verdict in VERDICT_KEYS:
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda v=verdict: self.judge(v))
        # Space and Enter on the list (elsewhere they press the focused button or tick the box, as ever).
        for key in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            sc = QShortcut(QKeySequence(key), self.tree)
            sc.setContext(Qt.ShortcutContext.WidgetShortcut)
            sc.activated.connect(self.compare)
        QShortcut(QKeySequence("H"), self).activated.connect(self.toggle_marks)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Undo), self).activated.connect(self.undo)
        for key in ("Ctrl+Shift+Z", "Ctrl+Y"):
            QShortcut(QKeySequence(key), self).activated.connect(self.redo)
        add_close_keys(self)

    # ------------------------------------------------------------------ finding

    def find(self) -> None:
        """Find again; not while a verdict is being saved (the new list would not know its pairs' fate)."""
        if (self.search is not None and self.search.running) or self.saving():
            return
        level = self.level_box.currentData()
        min_score = EDIT_BAND if (level == "photo" and self.edits_box.isChecked()) else None
        self.search = DuplicateSearch(str(self.engine.location), level, min_score, self)
        self.search.progress.connect(lambda p: self._progress(*p))
        self.search.done.connect(self._found)
        self.search.failed.connect(self._failed)
        self.search.finished.connect(self._search_over)
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText("Finding duplicates…")
        self.search.start()

    def cancel(self) -> None:
        if self.search is not None and self.search.running:
            self.search.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def _progress(self, done: int, total: int, note: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(f"{note[:1].upper()}{note[1:]}: {done} of {total}")

    def _search_over(self) -> None:
        self._sync_buttons()
        self.cancel_button.setEnabled(False)
        self.progress.hide()

    def _failed(self, failure: Failure) -> None:
        self.status.setText("The duplicate search stopped.")
        show_error(self, "Duplicates not found", failure)
        self.failed.emit(str(failure.error))

    def _found(self, report: DuplicateReport) -> None:
        self.report = report
        # The verdicts stay in the catalog and undoable; only the rows they were listed in go with the list.
        for entry in self.undo_stack:
            entry.forget_rows()
        self.tree.clear()
        for n, cluster in enumerate(report.clusters, start=1):
            self.tree.addTopLevelItem(cluster_item(n, cluster, self._noun()))
        self._settle_new_list()
        self.export_button.setEnabled(bool(report.pairs))
        self._summary()
        first = next(
            (
                t
                for t in map(self.tree.topLevelItem, range(self.tree.topLevelItemCount()))
                if not t.isHidden()
            ),
            None,
        )
        if first is not None:
            self.tree.expandItem(first)
            self.tree.setCurrentItem(visible_children(first)[0])
        self.tree.setFocus()
        self.found.emit(report)

    def _noun(self) -> str:
        return "photo" if self.report is None or self.report.level == "photo" else "article"

    def _summary(self) -> None:
        r = self.report
        if r is None:
            return
        tops = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        pairs = sum(len(visible_children(t)) for t in tops)  # not those whose verdict is on its way
        text = f"{plural(pairs, 'pair')} in {plural(sum(not t.isHidden() for t in tops), 'cluster')}"
        if r.cancelled:
            text += " (cancelled: what was checked so far)"
        if r.decided:
            text += f"; {r.decided} judged before and left out"
        self.status.setText(" ".join(x for x in (text + ".", r.note) if x))

    # ------------------------------------------------------------------ showing a pair

    def _show(self, item: QTreeWidgetItem | None) -> None:
        pairs = pairs_on_show(item)
        self._photos = ()
        for b in (self.compare_button, self.dup_button, self.not_button, self.same_button):
            b.setEnabled(bool(pairs))
        if not pairs:
            return
        p = pairs[0]
        whole = item is not None and item.parent() is None
        scope = f" — applies to {_cluster_pairs(len(pairs))}" if whole else ""
        self.why.setText(
            f"<b>{KIND_NAMES[p.kind]}</b>, score {p.score:.3f}{_html(scope)}<br>{_html(_details(p))}"
        )
        if p.kind == "article":
            self.left.show_item(p.a, plural(len(p.matched), "matched photo"))
            self.right.show_item(p.b, "")
            photos = (p.matched[0][0], p.matched[0][1])
            self._photos = ((photos[0], p.a), (photos[1], p.b))
        else:
            self.left.show_item(p.a, f"article {p.article_a}")
            self.right.show_item(p.b, f"article {p.article_b}")
            photos = (p.a, p.b)
            self._photos = ((p.a, p.article_a), (p.b, p.article_b))
        same_article = p.kind != "article" and p.article_a == p.article_b
        self.same_button.setEnabled(not same_article)
        self._load_previews(photos)

    def _row_menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is not None:
            self.tree.setCurrentItem(item)
            row_menu(self, item, self.tree.viewport().mapToGlobal(pos))

    def _photo_menu(self, side: int, at) -> None:
        if self._photos:
            photo_menu(self, *self._photos[side], at)

    def toggle_marks(self) -> None:
        self.marks_box.toggle()

    def _show_marks(self, shown: bool) -> None:
        for pane in (self.left, self.right):
            pane.image.show_marks(shown)

    def _photo_changes(self, a: str, b: str):
        """Where two photos differ (worker thread). A photo pair is one picture, edited at most; the matched
        photos of a product listed twice can be two shots, which differ all over: marked only when one."""
        article_level = self.report is not None and self.report.level == "article"
        return self.engine.photo_changes(a, b, same_shot_only=article_level)

    def _load_previews(self, photos: tuple[str, str]) -> None:
        self._preview_gen += 1
        gen = self._preview_gen
        self.runner.call(
            self._photo_changes,
            *photos,
            on_done=lambda found, g=gen: self._changes(g, found),
            # The photos show unmarked: what differs is a help to the verdict, not needed for it.
            on_failed=lambda f: log.warning("Where a pair differs is not known: %s", f.traceback),
        )
        for pane, rel in zip((self.left, self.right), photos):
            if self.root is None:
                pane.image.setText("the photo folder is not known on this machine")
                continue
            task = Task(load_preview, photo_file(self.root, rel), PREVIEW)
            self.runner.start(
                task,
                lambda img, p=pane, g=gen: self._preview(p, g, img),
                lambda _f, p=pane, g=gen: self._preview(p, g, None),
            )

    def _changes(self, gen: int, found: tuple | None) -> None:
        if gen == self._preview_gen and found is not None:
            for pane, changes in zip((self.left, self.right), found):
                pane.image.set_changes(changes)

    def _preview(self, pane: PhotoPane, gen: int, preview: Preview | None) -> None:
        if gen != self._preview_gen:
            return  # the curator moved on
        if preview is None:
            pane.image.setText("cannot show this photo (offline or unreadable)")
        else:
            pane.show_preview(preview)

    # ------------------------------------------------------------------ the lightbox

    def compare(self) -> None:
        """The selected pair (or cluster's pairs) in the lightbox, whose verdict keys judge that row."""
        item = self.tree.currentItem()
        pairs = pairs_on_show(item)
        if not pairs:
            return
        cluster = item.text(0) if item.parent() is None else None
        keys = [(key, lambda v=verdict: self._judge_compared(v)) for key, verdict in VERDICT_KEYS]
        if self.lightbox is not None and shiboken6.isValid(self.lightbox):
            self.lightbox.close()
        scope = " (the whole cluster)" if cluster else ""
        shown = compare_photos(pairs)
        self.lightbox = Lightbox(
            compare_title(pairs, cluster),
            compare_items(pairs, self.root),
            actions=keys,
            hint=f"D duplicate · N not a duplicate · S same product{scope}",
            changes=lambda i: self._photo_changes(shown[i][0][0], shown[i][1][0]),
        )
        box = self.lightbox
        box.destroyed.connect(lambda _obj=None: self._compare_closed(box))
        self.lightbox.show()
        self._compared = item

    def _compare_closed(self, box: Lightbox) -> None:
        """Back to the list, where the verdict keys and Space work again (the lightbox was the active window);
        not when the lightbox that closed was replaced by another compare, nor after this window went."""
        if shiboken6.isValid(self) and box is self.lightbox and self.isVisible():
            self.activateWindow()
            self.tree.setFocus()

    def _judge_compared(self, verdict: str) -> None:
        """A verdict key in the lightbox: it closes, and the row it was opened for is judged (when still
        listed: Find again or a verdict may have taken it away meanwhile)."""
        if self.lightbox is not None and shiboken6.isValid(self.lightbox):
            self.lightbox.close()
        item = self._compared
        if item is None or not shiboken6.isValid(item) or item.treeWidget() is not self.tree:
            return
        if not item.isHidden():
            self.tree.setCurrentItem(item)
            self.judge(verdict)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.parent() is not None:  # a cluster row opens and closes, as tree rows do
            self.compare()

    # ------------------------------------------------------------------ export, closing

    def export(self) -> None:
        if self.report is None:
            return
        name = file_name(self.engine.title(), f"duplicate {self.report.level}s", ext="csv")
        path = ask_export_path(self, "Export duplicates", name, "CSV (*.csv)")
        if path is None:
            return
        task = Task(self.engine.export_duplicates, self.report, path)
        self.runner.start(
            task,
            lambda n: self.status.setText(f"Wrote {plural(n, 'pair')} to {path}"),
            lambda f: show_error(self, "Duplicates not exported", f),
        )

    def closeEvent(self, event) -> None:
        if self.lightbox is not None and shiboken6.isValid(self.lightbox):
            self.lightbox.close()
        if self.search is not None:
            self.search.shutdown()
        self.runner.shutdown()  # waits for the verdict being saved
        self._save_waiting_now()
        super().closeEvent(event)


def _details(p) -> str:
    if p.kind == "article":
        dups = f"; {p.photo_duplicates} of them duplicate photos" if p.photo_duplicates else ""
        return f"{plural(len(p.matched), 'photo pair')} matched at cosine ≥ 0.9{dups}."
    d = p.difference
    if d is None:
        return "The two files have the same content."
    bits = [f"embedding cosine {p.cos:.3f}", f"pHash bits differing {d.hamming}", *how_it_differs(d)]
    bits.append(f"luma changed on {d.luma_changed:.1%}, colour on {d.chroma_changed:.1%} of the picture")
    return "; ".join(bits) + "."


def _cluster_pairs(n: int) -> str:
    if n == 1:
        return "the one pair of this cluster"
    return "both pairs of this cluster" if n == 2 else f"all {n} pairs of this cluster"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def open_duplicates(parent: QWidget | None, engine: Engine) -> DuplicatesWindow:
    window = DuplicatesWindow(engine, parent)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window


__all__ = ["DUPLICATES_KEYS", "DuplicatesWindow", "open_duplicates"]
