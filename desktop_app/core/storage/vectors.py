"""The catalog's vectors: how they are stored (float16 blobs, one row per photo and model) and read, whole
(`article_vectors`) or in the pieces a local vector store copies (`vector_meta`, `vector_data`,
`vectors_revision`). The indexer writes them with their photos (`PhotoStore.write_photos`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa

from desktop_app.core.storage.schema import articles_table, photos_table, vectors_table
from desktop_app.core.storage.sql import IN_LIST_SIZE, in_lists
from desktop_app.core.vectors import ArticleVectors, articles_and_offsets, sound_rows

# Vectors are stored as little-endian float16: half the size of float32, and on the Magento photos the same
# R@1 and mAP to four decimals on both evaluation protocols. Older catalogs hold float32 blobs; a blob's
# length tells which (dim * 2 or dim * 4 bytes), and the two read alike.
VECTOR_DTYPE = np.dtype("<f2")
WRITE_TIME_MODULUS = 1_000_000_007  # a prime: write times summed modulo it (see vectors_revision)


def sound_blobs(blobs: Sequence[object], dims: Sequence[object]) -> np.ndarray:
    """Which stored vectors (blob and dim column of each row) are sound: a blob of `dim` float16 or float32
    values that `vectors.sound_rows` accepts. Bytes damaged on disk pass SQLite's own checks and fail here
    (so do a damaged row's values of the wrong type or length). Rows of one shape are judged together."""
    ok = np.zeros(len(blobs), dtype=bool)
    shapes: dict[tuple[int, int], list[int]] = {}
    for i, (blob, dim) in enumerate(zip(blobs, dims)):
        if isinstance(blob, (bytes, memoryview)) and isinstance(dim, int) and dim > 0:
            if len(blob) in (2 * dim, 4 * dim):
                shapes.setdefault((dim, len(blob)), []).append(i)
    for (dim, size), rows in shapes.items():
        data = np.frombuffer(b"".join(bytes(blobs[i]) for i in rows), "<f2" if size == 2 * dim else "<f4")
        ok[rows] = sound_rows(data.reshape(len(rows), dim))
    return ok


def decode_vectors(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """float32 [n, dim] from stored blobs of float16 or (older) float32 values."""
    out = np.empty((len(blobs), dim), dtype=np.float32)
    for i, blob in enumerate(blobs):
        out[i] = np.frombuffer(blob, dtype="<f2" if len(blob) == 2 * dim else "<f4")
    return out


class StoredVectors:
    """Mixin of `Catalog`: needs `read()` and `labels()`."""

    def article_vectors(self, model_id: str, articles: Sequence[str] | None = None) -> ArticleVectors:
        """Embedded photos of one model as one contiguous matrix grouped by article.

        articles: only these (the inspector's two, a few neighbours); None reads the whole catalog.
        """
        p, a, v = photos_table, articles_table, vectors_table
        q = (
            sa.select(a.c.key, p.c.id, p.c.path, p.c.view, v.c.data, v.c.dim)
            .join(p, p.c.article_id == a.c.id)
            .join(v, v.c.photo_id == p.c.id)
            .where(v.c.model_id == model_id, p.c.status == "ok")
            .order_by(a.c.key, p.c.path)
        )
        with self.read() as conn:
            if articles is None:
                rows = conn.execute(q).all()
            else:
                wanted = list(dict.fromkeys(articles))
                rows = []
                for start in range(0, len(wanted), IN_LIST_SIZE):
                    rows.extend(
                        conn.execute(q.where(a.c.key.in_(wanted[start : start + IN_LIST_SIZE]))).all()
                    )
                rows.sort(key=lambda r: (r[0], r[2]))
        labels = self.labels()
        if not rows:
            return ArticleVectors(
                np.zeros((0, 0), np.float32),
                np.zeros(0, np.int64),
                np.zeros(1, np.int64),
                [],
                [],
                [],
                [],
                model_id,
            )
        vectors = decode_vectors([r[4] for r in rows], rows[0][5])
        names, offsets = articles_and_offsets([r[0] for r in rows])
        return ArticleVectors(
            vectors=vectors,
            photo_ids=np.array([r[1] for r in rows], dtype=np.int64),
            offsets=offsets,
            articles=names,
            views=[r[3] for r in rows],
            paths=[r[2] for r in rows],
            labels=[labels.get(k, {}) for k in names],
            model_id=model_id,
        )

    def vectors_revision(self, model_id: str) -> tuple:
        """Changes whenever the vectors of a model or the photos they belong to change (for local copies).

        Write times are summed, not only their newest: a time is the writing machine's clock, so a vector
        written again may carry an older time than the one before (a curator's clock that lags, a catalog
        restored from a backup). Summed as whole milliseconds modulo a prime, exact on both dialects and
        far from any integer overflow at millions of photos."""
        p, v = photos_table, vectors_table
        millis = sa.cast(p.c.updated_at * 1000, sa.BigInteger) % WRITE_TIME_MODULUS
        q = (
            sa.select(
                sa.func.count(),
                sa.func.max(p.c.updated_at),
                sa.func.max(p.c.id),
                sa.func.sum(p.c.article_id),
                sa.func.sum(millis),
            )
            .select_from(v.join(p, p.c.id == v.c.photo_id))
            .where(v.c.model_id == model_id, p.c.status == "ok")
        )
        with self.read() as conn:
            count, newest, top, articles, times = conn.execute(q).one()
        return (int(count), float(newest or 0.0), int(top or 0), int(articles or 0), int(times or 0))

    def vector_meta(self, model_id: str) -> list[tuple]:
        """(article key, photo id, path, view, updated_at) of every embedded photo, in article order; no data."""
        p, a, v = photos_table, articles_table, vectors_table
        q = (
            sa.select(a.c.key, p.c.id, p.c.path, p.c.view, p.c.updated_at)
            .join(p, p.c.article_id == a.c.id)
            .join(v, v.c.photo_id == p.c.id)
            .where(v.c.model_id == model_id, p.c.status == "ok")
            .order_by(a.c.key, p.c.path)
        )
        with self.read() as conn:
            return [tuple(r) for r in conn.execution_options(yield_per=20_000).execute(q)]

    def damaged_vectors(self) -> list[dict]:
        """Every stored vector that is not sound (see `sound_blobs`), of any model: {"path", "model"} each, by
        path. Read in partitions: every vector of the catalog passes through here once."""
        p, v = photos_table, vectors_table
        # In the order they are stored (sorting every blob by path would copy them all); the few found are sorted.
        q = sa.select(p.c.path, v.c.model_id, v.c.dim, v.c.data).join(p, p.c.id == v.c.photo_id)
        damaged = []
        with self.read() as conn:
            for part in conn.execution_options(yield_per=5_000).execute(q).partitions():
                ok = sound_blobs([r[3] for r in part], [r[2] for r in part])
                damaged += [{"path": r[0], "model": r[1]} for r, good in zip(part, ok.tolist()) if not good]
        return sorted(damaged, key=lambda d: (d["path"], d["model"]))

    def vector_data(self, model_id: str, photo_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """photo id -> float32 vector, for these photos."""
        v = vectors_table
        out: dict[int, np.ndarray] = {}
        with self.read() as conn:
            for chunk in in_lists(list(photo_ids)):
                q = sa.select(v.c.photo_id, v.c.data, v.c.dim).where(
                    v.c.model_id == model_id, v.c.photo_id.in_(chunk)
                )
                for pid, blob, dim in conn.execute(q):
                    out[int(pid)] = decode_vectors([blob], dim)[0]
        return out
