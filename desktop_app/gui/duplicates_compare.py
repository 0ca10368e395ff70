"""The Duplicates window's pairs in the lightbox: the two photos side by side at one scale, as large as the
screen allows, zoomed and panned together (`gui.lightbox`).

A pair row opens its two photos; a products-listed-twice pair, its matched photo pairs one after the other;
a cluster row, every pair still on show in it. Each pair's caption says how its second photo differs from
the first (mirror image, brightness, crop, share of the picture changed), and the lightbox outlines where.
The verdict keys work in the lightbox as in the window: the lightbox closes and the verdict goes to the row
it was opened for (its pair, or its whole cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from desktop_app.core.paths import photo_file
from desktop_app.gui.duplicates_list import KIND_NAMES, how_it_differs
from desktop_app.gui.lightbox import LightboxPhoto


def compare_photos(pairs: Sequence) -> list[tuple[tuple[str, str], tuple[str, str], str]]:
    """Per lightbox item, ((photo, its article), (photo, its article), note): one item per photo pair, one
    per matched photo pair of an article pair."""
    items = []
    for p in pairs:
        if p.kind == "article":
            items.extend(((x, p.a), (y, p.b), f"cosine {cos:.3f}") for x, y, cos in p.matched)
        else:
            items.append(((p.a, p.article_a), (p.b, p.article_b), _note(p)))
    return items


def compare_items(pairs: Sequence, root: Path | None) -> list[list[LightboxPhoto]]:
    """The lightbox items of `compare_photos`."""
    return [_two(root, left, right, note) for left, right, note in compare_photos(pairs)]


def _note(p) -> str:
    """A photo pair's kind and score, and how its second photo differs from its first."""
    words = [f"{KIND_NAMES[p.kind]}, score {p.score:.3f}"]
    d = p.difference
    if d is not None:
        changed = max(d.luma_changed, d.chroma_changed)
        words += how_it_differs(d)
        words.append(
            f"{100 * changed:.0f}% of the picture differs" if changed >= 0.005 else "nothing else differs"
        )
    return ", ".join(words)


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


__all__ = ["compare_items", "compare_photos", "compare_title"]
