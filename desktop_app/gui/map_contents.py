"""What the catalog map shows of a catalog snapshot on a layout: each article's dot colour, cover and
tooltip, and the label fields it can be coloured by (`map_controller.MapController` puts them on the map)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core import map_picture as pic
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.layout import MapLayout
from desktop_app.core.overview import Snapshot, label_text
from desktop_app.gui.map_panel import COLOUR_CHOICES_EXTRA
from desktop_app.gui.map_view import MapPoints, argb


def label_fields(snap: Snapshot, current: str) -> list[str]:
    """The label fields to colour by: those with labels, and the one the map is coloured by even before it
    has any (else the box would show another choice than the colours do)."""
    fields = set().union(*snap.articles.labels) if snap.articles.labels else set()
    if current not in dict(COLOUR_CHOICES_EXTRA):
        fields.add(current)
    return sorted(fields, key=lambda f: (f != DEFAULT_FIELD, f))


def colouring(layout: MapLayout, snap: Snapshot, by: str, keep: dict[str, str]) -> pic.Colouring:
    arts = snap.articles
    labels = {k: arts.labels[i] for k, i in arts.index_of.items()}
    folders = {k: arts.folders[i] for k, i in arts.index_of.items()}
    return pic.colouring(pic.colour_values(by, layout.articles, labels, folders), keep=keep)


def points(layout: MapLayout, snap: Snapshot, colours: pic.Colouring) -> MapPoints:
    arts = snap.articles
    row = arts.index_of
    palette = argb([c for _, c, _ in colours.legend]) if colours.legend else np.zeros(1, np.uint32)
    root = str(snap.photo_root) if snap.photo_root is not None and snap.root_ok else None
    covers, tips = [], []
    for k in layout.articles:
        i = row.get(k)
        cover = arts.covers[i] if i is not None else ""
        covers.append(str(Path(root) / cover) if root and cover else None)
        labels = label_text(arts.labels[i]) if i is not None else ""
        folder = arts.folders[i] if i is not None else ""
        tips.append(
            "\n".join(t for t in (k, labels or "unlabelled", f"folder: {folder}" if folder else "") if t)
        )
    return MapPoints(list(layout.articles), layout.xy, palette[colours.codes], covers, tips)


__all__ = ["colouring", "label_fields", "points"]
