"""The in-memory form of a catalog's embeddings: one contiguous float32 matrix, grouped by article.

Search, matching, the inspector and label suggestions all read this; the catalog builds it once per model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core.scan import cover_position


@dataclass
class ArticleVectors:
    """Photo vectors of one model, rows sorted so that each article's photos are contiguous.

    vectors:   float32 or float16 [P, D] (float16 memory-mapped from a vector store), rows L2-normalised.
    photo_ids: int64 [P], catalog photo id of each row.
    offsets:   int64 [A + 1]; rows offsets[a]:offsets[a + 1] are the photos of article a.
    articles:  A article ids (readable strings such as "shoes/sku123" or "mh01-gray").
    views:     P view tags (None when the grouping rule gives none).
    paths:     P photo paths relative to the photo folder.
    labels:    A dicts field -> label (may be empty).
    """

    vectors: np.ndarray
    photo_ids: np.ndarray
    offsets: np.ndarray
    articles: list[str]
    views: list[str | None]
    paths: list[str]
    labels: list[dict[str, str]] = field(default_factory=list)
    model_id: str = ""
    centroids: np.ndarray | None = None  # [A, D] normalised article means, when a vector store kept them
    ann: Any = None  # the candidate stage: a graph index (core.ann.AnnIndex, large catalogs) or the server's (ServerAnn)

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = [{} for _ in self.articles]
        self.article_of_row = np.repeat(np.arange(len(self.articles), dtype=np.int64), np.diff(self.offsets))
        self._index = {a: i for i, a in enumerate(self.articles)}
        self._row_of_photo: dict[int, int] | None = None
        self._id_order: np.ndarray | None = None  # rows sorted by photo id, for rows_of_ids
        self._sorted_ids: np.ndarray | None = None

    @property
    def n_articles(self) -> int:
        return len(self.articles)

    @property
    def n_photos(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0

    def __contains__(self, article: object) -> bool:
        """Whether the article has at least one embedded photo here."""
        return article in self._index

    def article_index(self, article: str) -> int:
        try:
            return self._index[article]
        except KeyError:
            raise KeyError(f"Article {article!r} has no embedded photos in this catalog.") from None

    def row_of_photo(self, photo_id: int) -> int | None:
        """The row of a catalog photo id, or None when it has no vector here."""
        if self._row_of_photo is None:
            self._row_of_photo = {int(p): i for i, p in enumerate(self.photo_ids.tolist())}
        return self._row_of_photo.get(int(photo_id))

    def rows_of_ids(self, photo_ids: np.ndarray) -> np.ndarray:
        """The rows of many catalog photo ids at once (-1 for ids without a vector here)."""
        if self._id_order is None:
            self._id_order = np.argsort(self.photo_ids, kind="stable")
            self._sorted_ids = self.photo_ids[self._id_order]
        ids = np.asarray(photo_ids, dtype=np.int64)
        if self._id_order.size == 0:
            return np.full(ids.shape, -1, dtype=np.int64)
        sorted_ids = self._sorted_ids
        pos = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
        return np.where(sorted_ids[pos] == ids, self._id_order[pos], -1)

    def cover_row(self, a: int) -> int:
        """The row of article a's cover photo (see `scan.cover_position`)."""
        rows = self.rows_of(a)
        return rows.start + cover_position(self.views[rows])

    def rows_of(self, a: int) -> slice:
        return slice(int(self.offsets[a]), int(self.offsets[a + 1]))

    def article_matrix(self, a: int) -> np.ndarray:
        return self.vectors[self.rows_of(a)]

    def nearest_photos(self, queries: np.ndarray, exclude: set[int], top: int) -> list[dict]:
        """The `top` photos nearest any of the query vectors (their best similarity), outside the articles
        `exclude`: path, article and score each, best first (ties by row)."""
        from desktop_app.core.set_scores import products

        sims = products(self.vectors, None, np.ascontiguousarray(np.asarray(queries, np.float32).T)).max(
            axis=0
        )
        skip = sum(self.offsets[a + 1] - self.offsets[a] for a in exclude)
        want = min(sims.size, top + int(skip))
        rows = np.argpartition(-sims, want - 1)[:want] if 0 < want < sims.size else np.arange(sims.size)
        rows = rows[np.lexsort((rows, -sims[rows]))]
        hits = []
        for row in rows.tolist():
            a = int(self.article_of_row[row])
            if a in exclude:
                continue
            hits.append(
                {"path": self.paths[row], "article": self.articles[a], "score": round(float(sims[row]), 4)}
            )
            if len(hits) >= top:
                break
        return hits

    def take(self, indices: Sequence[int], dtype=np.float32) -> ArticleVectors:
        """Some articles (indices, in the order given) as their own ArticleVectors, their vectors gathered into
        one contiguous `dtype` matrix (a block of rows at a time from a memory-mapped store)."""
        idx = np.asarray(indices, dtype=np.int64)
        sizes = (self.offsets[idx + 1] - self.offsets[idx]).astype(np.int64)
        total = int(sizes.sum())
        rows = np.arange(total, dtype=np.int64) + np.repeat(
            self.offsets[idx] - (np.cumsum(sizes) - sizes), sizes
        )
        vectors = np.empty((total, self.dim), dtype=dtype)
        for start in range(0, total, 1 << 16):
            vectors[start : start + (1 << 16)] = self.vectors[rows[start : start + (1 << 16)]]
        listed = rows.tolist()
        return ArticleVectors(
            vectors,
            self.photo_ids[rows],
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            [self.articles[i] for i in idx.tolist()],
            [self.views[r] for r in listed],
            [self.paths[r] for r in listed],
            [self.labels[i] for i in idx.tolist()],
            self.model_id,
        )

    @classmethod
    def from_groups(
        cls,
        groups: dict[str, np.ndarray],
        views: dict[str, list[str | None]] | None = None,
        model_id: str = "",
    ) -> ArticleVectors:
        """Build from {article: [n_i, D] vectors}; handy for tests and synthetic benchmarks."""
        articles = list(groups)
        mats = [np.asarray(groups[a], dtype=np.float32) for a in articles]
        sizes = np.array([m.shape[0] for m in mats], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        dim = mats[0].shape[1] if mats else 0
        vectors = np.concatenate(mats, axis=0) if mats else np.zeros((0, dim), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
        all_views: list[str | None] = []
        paths: list[str] = []
        for a, m in zip(articles, mats):
            v = (views or {}).get(a) or [None] * m.shape[0]
            all_views.extend(v)
            paths.extend(f"{a}/{i}" for i in range(m.shape[0]))
        return cls(
            vectors=np.ascontiguousarray(vectors, dtype=np.float32),
            photo_ids=np.arange(vectors.shape[0], dtype=np.int64),
            offsets=offsets,
            articles=articles,
            views=all_views,
            paths=paths,
            model_id=model_id,
        )


def articles_and_offsets(keys: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The article of each row (rows grouped by article) -> (articles in row order, their row offsets)."""
    names: list[str] = []
    offsets = [0]
    for i, k in enumerate(keys):
        if not names or names[-1] != k:
            if names:
                offsets.append(i)
            names.append(k)
    offsets.append(len(keys))
    return names, np.asarray(offsets if names else [0], dtype=np.int64)


# How far a stored vector's length may be from 1: float16 storage rounds each value by at most 2^-11 of it,
# which moves a unit vector's length by well under 0.001. Damaged bytes give lengths far from 1.
UNIT_LENGTH_TOLERANCE = 0.01


def sound_rows(vectors: np.ndarray) -> np.ndarray:
    """Which rows are vectors a search can use: finite numbers, of unit length within float16 rounding.

    The one rule for every vector Lookalike keeps: the indexer refuses a model's output that breaks it (NaN
    from a broken export, a zero vector), the catalog refuses to store one, `catalog check` reports stored
    ones that break it (bytes damaged on disk, which SQLite's own checks cannot see) and `catalog recover`
    leaves them out, so that the next index run embeds their photos again."""
    rows = np.asarray(vectors).astype(np.float32, copy=False)
    if rows.ndim == 1:
        rows = rows[None, :]
    # A NaN or infinite value anywhere makes the length NaN or infinite, which no tolerance accepts. Damaged
    # float32 values may be so huge that their squares overflow: infinite too.
    with np.errstate(over="ignore", invalid="ignore"):
        lengths = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        return np.abs(lengths - 1.0) <= UNIT_LENGTH_TOLERANCE
