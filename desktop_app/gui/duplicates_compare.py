"""The Duplicates window's pairs in the lightbox: the two photos side by side at one scale, as large as the
screen allows, zoomed and panned together (`gui.lightbox`).

A pair row opens its two photos; a products-listed-twice pair, its matched photo pairs one after the other;
a cluster row, every pair still on show in it. The verdict keys work in the lightbox as in the window: the
lightbox closes and the verdict goes to the row it was opened for (its pair, or its whole cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from desktop_app.core.paths import photo_file
from desktop_app.gui.duplicates_list import KIND_NAMES
from desktop_app.gui.lightbox import LightboxPhoto


def compare_items(pairs: Sequence, root: Path | None) -> list[list[LightboxPhoto]]:
    """One lightbox item of two photos per photo pair; per matched photo pair of an article pair."""
    items: list[list[LightboxPhoto]] = []
    for p in pairs:
        if p.kind == "article":
            items.extend(_two(root, (x, p.a), (y, p.b), f"cosine {cos:.3f}") for x, y, cos in p.matched)
        else:
            note = f"{KIND_NAMES[p.kind]}, score {p.score:.3f}"
            items.append(_two(root, (p.a, p.article_a), (p.b, p.article_b), note))
    return items


def compare_title(pairs: Sequence, cluster: str | None) -> str:
    if cluster is not None:
        return f"Compare — {cluster}"
    p = pairs[0]
    if p.kind == "article":
        return f"Compare {p.a} and {p.b}"
    return f"Compare {Path(p.a).name} and {Path(p.b).name}"


def _two(root: Path | None, left: tuple[str, str], right: tuple[str, str], note: str) -> list[LightboxPhoto]:
    """(photo path, its article) on each side; the pair's note under the right one."""
    return [
        LightboxPhoto(photo_file(root, left[0]) if root is not None else None, _caption(*left)),
        LightboxPhoto(
            photo_file(root, right[0]) if root is not None else None, f"{_caption(*right)} · {note}"
        ),
    ]


def _caption(path: str, article: str) -> str:
    return f"{article} · {path}"


__all__ = ["compare_items", "compare_title"]
