"""The window's status bar: catalog size, model, the device the engine really got, and the index state."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_app.core.engine_process import EngineInfo
from desktop_app.core.indexer import Progress
from desktop_app.core.overview import Snapshot, model_title
from desktop_app.gui.grid_panel import articles_text

NO_DEVICE = "Device: —"


class StatusPanel:
    """Permanent labels of a QStatusBar, filled from the snapshot, the engine and index progress."""

    def __init__(self, bar: QStatusBar) -> None:
        self.catalog_label = QLabel()
        self.model_label = QLabel()
        self.device_label = QLabel(NO_DEVICE)
        self.engine_info: EngineInfo | None = None  # the loaded engine's, for Help ▸ About
        self.state_label = QLabel()
        self.adapter_label = QLabel()  # shown while a learned adapter shapes search
        self.adapter_label.hide()
        for w in (
            self.catalog_label,
            self.model_label,
            self.adapter_label,
            self.device_label,
            self.state_label,
        ):
            w.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(w)

    def show_snapshot(self, snap: Snapshot | None, indexing: bool) -> None:
        if snap is None:
            for w in (self.catalog_label, self.model_label, self.state_label):
                w.setText("")
            self.adapter_label.hide()
            return
        c = snap.counts
        shown = len(snap.articles)
        found = int(c.get("articles", shown))
        photos = int(c.get("photos", 0))
        # While indexing, photos are counted once, by the run's progress (here and in the banner); the articles
        # by the grid's last re-read, the same number the grid shows.
        articles = articles_text(shown, shown, found, indexing)
        self.catalog_label.setText(articles if indexing else f"{articles} · {photos:,} photos")
        self.catalog_label.setToolTip(
            f"Catalog: {snap.location}\nPhotos: {snap.photo_root or 'no folder yet'}"
        )
        self.model_label.setText(f"Model: {model_title(snap.model)}" if snap.model else "Model: missing")
        self.model_label.setToolTip(
            snap.model.manifest.description if snap.model else (snap.model_error or "")
        )
        if not indexing:
            state, tip = snap.index_state()
            self.state_label.setText(f"Index: {state}")
            self.state_label.setToolTip(tip)

    def show_adapter(self, status: dict | None) -> None:
        """Whether searches use a learned adapter (Engine.adapter_status()), so a curator knows why rankings
        differ from the model's own."""
        active = (status or {}).get("active")
        self.adapter_label.setVisible(bool(active))
        if active:
            note = status.get("note") if status else None
            # A fresh adapter searches without the frozen s: the bar says so, the tooltip says why.
            self.adapter_label.setText("Learned similarity: on" + (" (no s yet)" if note else ""))
            self.adapter_label.setToolTip(
                f"A learned adapter ({active['kind']}) reshapes the model's vectors from your decisions, "
                "groups and labels. Match ▸ Use learned similarity switches it off."
                + (f"\n\n{note}" if note else "")
            )

    def show_engine(self, info: EngineInfo | None) -> None:
        """The device the engine's encoder session really got (not a prediction), with why when it differs."""
        self.engine_info = info
        if info is None or info.device is None:
            self.device_label.setText(NO_DEVICE)
            self.device_label.setToolTip(info.device_note if info is not None else "")
            return
        self.device_label.setText(f"Device: {info.device}")
        self.device_label.setToolTip(info.device_note or f"The model runs on the {info.device}.")

    def show_indexing(self, p: Progress | None = None) -> None:
        self.state_label.setText(
            f"Index: {p.done:,} of {p.total:,} photos" if p is not None and p.total else "Index: indexing…"
        )


__all__ = ["StatusPanel"]
