"""Article detail: every photo of one article with its view tag, size, status and path, plus the labels.

Photos are read from the catalog by a worker; the page opens on the cover's row with the article still the
similar panel's question, and a photo the curator picks (click, arrow keys) becomes the question. Space
or a double-click shows it large in the lightbox (with the article's other photos); a right click offers
to use it as the article's cover. "Open" hands the photo to the system viewer and "Show in folder" reveals
it in the file manager: the window does both, as from its other views (`article_actions`, through
`open_external` and `reveal_in_file_manager` here, which tests intercept). Photos can be dragged out to
other programs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QModelIndex, QPoint, QProcess, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.overview import label_text
from desktop_app.core.wording import plural
from desktop_app.gui.delegates import UntintedPhotoDelegate
from desktop_app.gui.item_menus import item_menus
from desktop_app.gui.models import PathRole, PhotoIdRole, PhotoTableModel
from desktop_app.gui.thumbs import ThumbnailLoader


def open_external(path: Path) -> bool:
    """Open a photo with the system's default viewer; when the system has none, say so."""
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return True
    _no_application(path, "open photos")
    return False


def _open_folder(path: Path) -> None:
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
        _no_application(path, "show folders")


def _no_application(path: Path, what: str) -> QMessageBox:
    """Qt only writes a warning when no program takes the URL: the curator would see nothing happen."""
    box = QMessageBox(
        QMessageBox.Icon.Information,
        "No application to use",
        f"No application on this system is set up to {what}. The photo is at:\n\n{path}\n\n"
        "Right-click the photo and choose Copy path to open it in another program.",
        QMessageBox.StandardButton.Ok,
        QApplication.activeWindow(),
    )
    _shown.add(box)  # a box without a parent window lives as long as Python holds it
    box.finished.connect(lambda _result: _shown.discard(box))
    box.open()  # not exec(): nothing waits on it
    return box


_shown: set[QMessageBox] = set()


def reveal_in_file_manager(path: Path) -> bool:
    """Show the file selected in the platform's file manager, or at least open its folder."""
    path = Path(path)
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", str(path)])[0]
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{path}"])[0]
    # Freedesktop file managers (Nautilus, Dolphin, Nemo, ...) answer this D-Bus call and select the file.
    # It runs asynchronously: when it fails (no such service), the folder is opened instead.
    proc = QProcess(QCoreApplication.instance())

    def finished(code: int, _status=None) -> None:
        if code != 0:
            _open_folder(path)
        proc.deleteLater()

    def failed(_error) -> None:
        _open_folder(path)
        proc.deleteLater()

    proc.finished.connect(finished)
    proc.errorOccurred.connect(failed)
    proc.start(
        "dbus-send",
        [
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.FileManager1",
            "--type=method_call",
            "/org/freedesktop/FileManager1",
            "org.freedesktop.FileManager1.ShowItems",
            f"array:string:{QUrl.fromLocalFile(str(path)).toString()}",
            "string:",
        ],
    )
    return True


# The detail page's own keys (its table handles them), for the shortcut sheet.
DETAIL_KEYS = (
    (("Space", "double-click"), "View the photo large"),
    (("Esc",), "Back to the catalog"),
    (("right click",), "View, open, copy, use as cover"),
)


class PhotoTable(QTableView):
    """The photos of the article: Space asks for the lightbox (the table would only select)."""

    view_requested = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            self.view_requested.emit()
            return
        super().keyPressEvent(event)


class DetailPage(QWidget):
    back = Signal()
    photo_selected = Signal(int, str)  # photo id, relative path
    compare_requested = Signal(str)  # this article; the window asks which article to compare it with
    view_requested = Signal(str, str)  # article, relative path of the photo to show first
    menu_requested = Signal(str, str, object, QPoint)  # article, photo (relative), the chosen cover, position
    open_requested = Signal(str)  # photo (relative): open it in the system viewer
    reveal_requested = Signal(str)  # photo (relative): show it in the file manager

    def __init__(self, thumbs: ThumbnailLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbs = thumbs
        self.back_btn = QPushButton("◀  Back to catalog")
        self.back_btn.setToolTip("Back to the grid (Esc)")
        self.back_btn.clicked.connect(self.back)
        self.title = QLabel()
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.4)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = PhotoTableModel(thumbs, self)
        self.chosen_cover: str | None = None  # the cover a curator chose (None: the automatic one)
        # Whether the curator picked the selected photo (its question is then the similar panel's). The
        # page opens on the cover row for the keys without asking about that photo: a close-up detail shot
        # as the question changed the results the curator had for the article.
        self.picked = False
        self._quiet = False  # selecting a row for the keys: no photo question
        self._keep_picked = False
        self.table = PhotoTable()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setIconSize(thumbs_size(thumbs))
        self.table.setItemDelegate(UntintedPhotoDelegate(self.table))
        self.table.verticalHeader().setDefaultSectionSize(thumbs_size(thumbs).height() + 8)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.resizeSection(0, thumbs_size(thumbs).width() + 260)
        for c in (1, 2, 3):
            hh.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.doubleClicked.connect(lambda _i: self.view_current())
        # A click on the row selected for the keys (the cover's) picks that photo: it changes no current row
        self.table.clicked.connect(lambda idx: None if self.picked else self._pick(idx.row()))
        self.table.view_requested.connect(self.view_current)
        item_menus(self.table, self._menu)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_label.setWordWrap(True)
        self.open_btn = QPushButton("Open photo")
        self.open_btn.setToolTip("Open the selected photo in the system viewer")
        self.open_btn.clicked.connect(lambda: self._ask(self.open_requested))
        self.reveal_btn = QPushButton("Show in folder")
        self.reveal_btn.setToolTip("Reveal the selected photo in the file manager")
        self.reveal_btn.clicked.connect(lambda: self._ask(self.reveal_requested))
        self.compare_btn = QPushButton("Compare with…")
        self.compare_btn.setToolTip("Open the match inspector for this article and another one")
        self.compare_btn.clicked.connect(lambda: self.compare_requested.emit(self.title.text()))
        top = QHBoxLayout()
        top.addWidget(self.back_btn)
        top.addSpacing(12)
        top.addWidget(self.title, 1)
        top.addWidget(self.compare_btn)
        actions = QHBoxLayout()
        actions.addWidget(self.path_label, 1)
        actions.addWidget(self.open_btn)
        actions.addWidget(self.reveal_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(self.table, 1)
        lay.addLayout(actions)
        self._keep_rel: str | None = None  # the photo to select again when the article is shown anew
        self._update_buttons()

    def show_loading(self, article: str) -> None:
        # The same article again (a reload: a new cover, a label): its photo stays selected, and with it
        # the photo query of the similar panel, instead of jumping back to the first row.
        same = article == self.model.article
        self._keep_rel = self.current_rel() if same else None
        self._keep_picked = same and self.picked
        self.picked = False
        self.title.setText(article)
        self.info.setText("Loading photos…")
        self.model.set_photos(article, [], None)
        self._update_buttons()

    def set_article(
        self,
        article: str,
        photos: list,
        root: Path | None,
        labels: dict[str, str],
        folder: str,
        chosen_cover: str | None = None,
    ) -> None:
        self.title.setText(article)
        n = len(photos)
        bad = sum(1 for p in photos if p.status != "ok")
        views = sorted({p.view for p in photos if p.view})
        parts = [plural(n, "photo")]
        if bad:
            parts.append(f"{bad} could not be read")
        if views:
            parts.append("views: " + ", ".join(views))
        parts.append("labels: " + (label_text(labels) or "none yet"))
        if folder:
            parts.append(f"folder: {folder}")
        self.info.setText(" · ".join(parts))
        self.chosen_cover = chosen_cover
        self.model.set_photos(article, photos, root, chosen_cover or cover_of(photos))
        if n:
            self._select_first_row()
        self._keep_rel = None
        self._update_buttons()

    def _select_first_row(self) -> None:
        """After a load: the photo the curator picked before a reload, with its question again; else that
        row or the cover's, selected for the keys only (the article stays the question)."""
        rows = self.model.rows
        kept = [i for i, p in enumerate(rows) if p.path == self._keep_rel]
        if kept and self._keep_picked:
            self.table.selectRow(kept[0])
            return
        cover = [i for i, p in enumerate(rows) if p.path == self.model.cover]
        self._quiet = True
        try:
            self.table.selectRow((kept or cover or [0])[0])
        finally:
            self._quiet = False

    def _ask(self, signal: Signal) -> None:
        """The window opens or reveals the photo, as from any other view (and says so in its banner when the
        photo folder is offline, instead of the system viewer's own "file not found")."""
        rel = self.current_rel()
        if rel is not None:
            signal.emit(rel)

    def current_rel(self) -> str | None:
        idx = self.table.currentIndex()
        return self.model.rows[idx.row()].path if idx.isValid() and idx.row() < len(self.model.rows) else None

    def view_current(self) -> None:
        rel = self.current_rel()
        if rel is not None:
            self.view_requested.emit(self.model.article, rel)

    def _menu(self, pos: QPoint) -> None:
        idx = self.table.indexAt(pos)
        if not idx.isValid():
            return
        self.table.selectRow(idx.row())
        rel = self.model.rows[idx.row()].path
        self.menu_requested.emit(
            self.model.article, rel, self.chosen_cover, self.table.viewport().mapToGlobal(pos)
        )

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_buttons()
        if not current.isValid():
            return
        row = current.row()
        path = self.model.data(self.model.index(row, 0), PathRole)
        self.path_label.setText(path or "")
        if not self._quiet:
            self._pick(row)

    def _pick(self, row: int) -> None:
        """The curator picked this photo: it is the similar panel's question now."""
        pid = self.model.data(self.model.index(row, 0), PhotoIdRole)
        if pid is not None:
            self.picked = True
            self.photo_selected.emit(int(pid), self.model.rows[row].path)

    def _update_buttons(self) -> None:
        has = self.table.currentIndex().isValid()
        self.open_btn.setEnabled(has)
        self.reveal_btn.setEnabled(has)
        if not has:
            self.path_label.setText("")


def cover_of(photos: list) -> str | None:
    """The automatic cover among an article's photos (`scan.cover_position`: main/front/1/a, else untagged)."""
    from desktop_app.core.scan import cover_position

    if not photos:
        return None
    return photos[cover_position([p.view for p in photos])].path


def thumbs_size(thumbs: ThumbnailLoader):
    from PySide6.QtCore import QSize

    s = min(thumbs.size, 128)
    return QSize(s, s)
