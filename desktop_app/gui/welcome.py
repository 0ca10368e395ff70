"""The first screen when no catalog is open: open a photo folder, an existing catalog, or a recent one."""

from __future__ import annotations

from pathlib import Path

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


class WelcomePage(QWidget):
    open_folder = Signal()
    open_catalog = Signal()
    open_recent = Signal(Path)

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
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_btn, 2)
        buttons.addWidget(self.catalog_btn, 1)
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
        self.recent.itemActivated.connect(self._activated)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b04040;")
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

    def set_recent(self, paths: list[Path]) -> None:
        self.recent.clear()
        for p in paths:
            item = QListWidgetItem(f"{Path(p).stem}    —    {p}")
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.recent.addItem(item)
        self.recent.setVisible(bool(paths))
        self.recent_label.setVisible(bool(paths))

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _activated(self, item: QListWidgetItem) -> None:
        self.open_recent.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
