"""The first screen when no catalog is open: open a photo folder, a catalog file, a shared catalog on a
server, or a recent one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.overview import catalog_title
from desktop_app.gui.theme import error_text


class WelcomePage(QWidget):
    open_folder = Signal()
    open_catalog = Signal()
    open_shared = Signal()
    open_recent = Signal(str)  # a catalog file's path or a shared catalog's URL

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(560)
        card.setStyleSheet(
            "#welcomeCard { background: palette(base); border: 1px solid palette(mid); border-radius: 10px; }"
        )
        title = QLabel("Lookalike")
        f = title.font()
        f.setPointSizeF(f.pointSizeF() * 2.2)
        f.setBold(True)
        title.setFont(f)
        subtitle = QLabel(
            "Find look-alike products in a folder of catalogue photos. Everything runs on this "
            "computer; your photos are never uploaded or changed."
        )
        subtitle.setWordWrap(True)
        self.folder_btn = QPushButton("Open photo folder…")
        self.folder_btn.setDefault(True)
        self.folder_btn.setMinimumHeight(36)
        self.folder_btn.clicked.connect(self.open_folder)
        self.catalog_btn = QPushButton("Open catalog file…")
        self.catalog_btn.clicked.connect(self.open_catalog)
        self.shared_btn = QPushButton("Open shared catalog…")
        self.shared_btn.setToolTip("A catalog your team shares on a PostgreSQL server")
        self.shared_btn.clicked.connect(self.open_shared)
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_btn, 2)
        buttons.addWidget(self.catalog_btn, 1)
        buttons.addWidget(self.shared_btn, 1)
        hint = QLabel(
            "Lookalike makes a catalog for the folder: it groups photos into articles (by folder or by "
            "file name) and indexes them with an image model, then shows you which articles look "
            "alike."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.recent_label = QLabel("Recent catalogs")
        rf = self.recent_label.font()
        rf.setBold(True)
        self.recent_label.setFont(rf)
        self.recent = QListWidget()
        self.recent.setMaximumHeight(140)
        self.recent.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long paths keep their start and end
        self.recent.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent.itemActivated.connect(self._activated)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {error_text(self.palette()).name()};")
        self.message.hide()
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 24)
        inner.setSpacing(12)
        inner.addWidget(title)
        inner.addWidget(subtitle)
        inner.addLayout(buttons)
        inner.addWidget(hint)
        inner.addWidget(self.message)
        inner.addWidget(self.recent_label)
        inner.addWidget(self.recent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 3)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        self.set_recent([])

    def set_recent(self, locations: list[str]) -> None:
        self.recent.clear()
        for where in locations:
            item = QListWidgetItem(f"{catalog_title(where)}    —    {where}")
            item.setData(Qt.ItemDataRole.UserRole, str(where))
            item.setToolTip(str(where))
            self.recent.addItem(item)
        self.recent.setVisible(bool(locations))
        self.recent_label.setVisible(bool(locations))

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _activated(self, item: QListWidgetItem) -> None:
        self.open_recent.emit(item.data(Qt.ItemDataRole.UserRole))
