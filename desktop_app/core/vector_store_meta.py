"""A vector store's row metadata and how the catalog's current rows differ from it.

Each row of a store is one photo: its id, when its vector was last written (`updated`), its article, path
and view; articles are runs of consecutive rows (`offsets`). The metadata is one .npz file per store
generation. A sync compares it with the catalog's rows (`diff_rows`) to decide what to read again: nothing
for a photo whose vector is not newer, everything for a changed one; and whether the new rows only add
articles, so that the store can grow in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.vectors import articles_and_offsets


def _pack(strings: list[str]) -> np.ndarray:
    """Strings as one uint8 array ("\\0"-separated; no path or id holds a NUL)."""
    return np.frombuffer("\0".join(strings).encode("utf-8", "surrogateescape"), dtype=np.uint8)


def _unpack(data: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    return bytes(data).decode("utf-8", "surrogateescape").split("\0")


@dataclass
class StoreMeta:
    """Per-row and per-article metadata of a store (or of the catalog's current rows)."""

    ids: np.ndarray  # int64 [P]
    updated: np.ndarray  # float64 [P]
    offsets: np.ndarray  # int64 [A + 1]
    articles: list[str]
    paths: list[str]
    views: list[str | None]

    @classmethod
    def of_rows(cls, rows: list[tuple]) -> StoreMeta:
        """From the catalog's (article, photo id, path, view, updated_at) rows in article order."""
        n = len(rows)
        articles, offsets = articles_and_offsets([r[0] for r in rows])
        return cls(
            np.fromiter((r[1] for r in rows), dtype=np.int64, count=n),
            np.fromiter((r[4] for r in rows), dtype=np.float64, count=n),
            offsets,
            articles,
            [r[2] for r in rows],
            [r[3] for r in rows],
        )

    def concat(self, other: StoreMeta) -> StoreMeta:
        return StoreMeta(
            np.concatenate([self.ids, other.ids]),
            np.concatenate([self.updated, other.updated]),
            np.concatenate([self.offsets, other.offsets[1:] + self.offsets[-1]]),
            self.articles + other.articles,
            self.paths + other.paths,
            self.views + other.views,
        )

    def take(self, rows: np.ndarray) -> StoreMeta:
        """The rows `rows` (whole articles, in order) as a store of their own."""
        keys = [self.articles[a] for a in self.article_of_row()[rows].tolist()]
        articles, offsets = articles_and_offsets(keys)
        return StoreMeta(
            self.ids[rows],
            self.updated[rows],
            offsets,
            articles,
            [self.paths[r] for r in rows.tolist()],
            [self.views[r] for r in rows.tolist()],
        )

    def article_of_row(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.articles), dtype=np.int64), np.diff(self.offsets))

    def save(self, path: Path) -> None:
        with open(path, "wb") as fh:
            np.savez(
                fh,
                photo_ids=self.ids,
                updated=self.updated,
                offsets=self.offsets,
                articles=_pack(self.articles),
                paths=_pack(self.paths),
                views=_pack([v or "" for v in self.views]),
                has_view=np.array([v is not None for v in self.views], dtype=bool),
            )
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: Path) -> StoreMeta:
        with np.load(path) as meta:
            ids, offsets = meta["photo_ids"], meta["offsets"]
            n = len(ids)
            views = _unpack(meta["views"], n)
            return cls(
                ids,
                meta["updated"],
                offsets,
                _unpack(meta["articles"], len(offsets) - 1),
                _unpack(meta["paths"], n),
                [v if has else None for v, has in zip(views, meta["has_view"].tolist())],
            )


@dataclass
class StoreDiff:
    """How the catalog's rows relate to the store's."""

    reuse: np.ndarray  # [P new] bool: same photo, vector not newer than the stored one
    old_rows: np.ndarray  # [P new] int64: its row in the store, -1 for none
    removed_ids: np.ndarray  # photo ids in the store that the catalog no longer has
    changed_ids: np.ndarray  # photo ids whose vector was written again in the catalog since the store read it
    appendable: bool  # only new articles: the store can grow in place


def diff_rows(old: StoreMeta | None, new: StoreMeta) -> StoreDiff:
    """How the catalog's rows `new` relate to the store's rows `old` (None: no store yet)."""
    n = len(new.ids)
    none = np.zeros(0, dtype=np.int64)
    if old is None or len(old.ids) == 0:
        return StoreDiff(np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64), none, none, False)
    order = np.argsort(old.ids, kind="stable")
    sorted_ids = old.ids[order]
    pos = np.minimum(np.searchsorted(sorted_ids, new.ids), len(sorted_ids) - 1)
    matched = sorted_ids[pos] == new.ids
    old_rows = np.where(matched, order[pos], -1)
    # Any other write time means another vector, older or newer: the time is the indexing machine's clock,
    # which may lag another curator's, and a catalog restored from a backup goes back in time.
    reuse = matched & (old.updated[np.maximum(old_rows, 0)] == new.updated)
    removed = old.ids[~np.isin(old.ids, new.ids)]
    changed = new.ids[matched & ~reuse]
    appendable = removed.size == 0 and changed.size == 0 and bool(matched.any())
    if appendable:
        # Every stored photo still where it was (same article, path and view), every other one in an
        # article the store does not have yet.
        m = np.flatnonzero(matched)
        old_index = {a: i for i, a in enumerate(old.articles)}
        new_art = new.article_of_row()
        old_art_of_new = np.array([old_index.get(a, -1) for a in new.articles], dtype=np.int64)[new_art]
        same_article = old_art_of_new[m] == old.article_of_row()[old_rows[m]]
        new_rows = np.flatnonzero(~matched)
        appendable = (
            bool(same_article.all())
            and bool((old_art_of_new[new_rows] == -1).all())
            and [new.paths[i] for i in m.tolist()] == [old.paths[j] for j in old_rows[m].tolist()]
            and [new.views[i] for i in m.tolist()] == [old.views[j] for j in old_rows[m].tolist()]
        )
    return StoreDiff(reuse, old_rows, removed, changed, appendable)
