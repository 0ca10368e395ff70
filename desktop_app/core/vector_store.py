"""A local, memory-mapped copy of one catalog's vectors of one model, kept in step with the catalog.

Reading a million vectors out of database rows at every start takes a minute and twice the memory; this
store keeps them as one contiguous float16 matrix in article order on disk (beside an SQLite catalog, or in
the user's data folder for a shared one), with the photo ids, article offsets, names, views and paths, the
article centroids and a compact copy for the candidate stage (`coarse.py`). Opening maps the files: the
pages a search touches are read, nothing else.

The store carries the catalog revision it was made at (`Catalog.vectors_revision`). When the catalog has
changed, `sync` reads only the metadata and the vectors of photos that are new or changed since, reuses
the rest from the old files, and replaces the whole folder atomically. A sync killed half-way leaves the
old store (or none); the next open rebuilds or updates it. One sync at a time per store (a file lock).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core import coarse
from desktop_app.core.paths import user_data_dir
from desktop_app.core.vectors import ArticleVectors

STORE_VERSION = 1
DTYPE = np.float16
FETCH_CHUNK = 20_000
Progress = Callable[[int, int, str], None]


@dataclass
class SyncReport:
    photos: int
    fetched: int  # vectors read from the catalog
    reused: int  # vectors taken over from the previous store
    seconds: float
    rebuilt_coarse: bool


def store_folder(catalog, model_id: str) -> Path:
    """Where a catalog's store for a model lives: beside a catalog file, or per user for a shared catalog."""
    model_key = hashlib.sha1(model_id.encode()).hexdigest()[:16]
    if catalog.path is not None:
        return Path(f"{catalog.path}.vectors") / model_key
    where = hashlib.sha1(catalog.location.encode()).hexdigest()[:16]
    return user_data_dir() / "vector-cache" / where / model_key


def _pack(strings: list[str]) -> np.ndarray:
    """Strings as one uint8 array ("\\0"-separated; no path or id holds a NUL)."""
    return np.frombuffer("\0".join(strings).encode("utf-8", "surrogateescape"), dtype=np.uint8)


def _unpack(data: np.ndarray, count: int) -> list[str]:
    if count == 0:
        return []
    return bytes(data).decode("utf-8", "surrogateescape").split("\0")


class VectorStore:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    # ------------------------------------------------------------ state

    def state(self) -> dict | None:
        try:
            data = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == STORE_VERSION else None

    def fresh(self, revision: tuple, model_id: str) -> bool:
        state = self.state()
        return (
            state is not None
            and state.get("model_id") == model_id
            and tuple(state["revision"]) == tuple(revision)
        )

    # ------------------------------------------------------------ opening

    def open(self, labels: dict[str, dict[str, str]] | None = None) -> ArticleVectors:
        """The stored vectors as ArticleVectors over memory-mapped float16 files."""
        state = self.state()
        if state is None:
            raise FileNotFoundError(self.folder)
        n, dim = state["n"], state["dim"]
        vectors = np.load(self.folder / "vectors.npy", mmap_mode="r") if n else np.zeros((0, dim), DTYPE)
        with np.load(self.folder / "meta.npz") as meta:
            photo_ids = meta["photo_ids"]
            offsets = meta["offsets"]
            articles = _unpack(meta["articles"], len(offsets) - 1)
            paths = _unpack(meta["paths"], n)
            view_list = _unpack(meta["views"], n)
            has_view = meta["has_view"]
        views = [v if has else None for v, has in zip(view_list, has_view)]
        labels = labels or {}
        av = ArticleVectors(vectors, photo_ids, offsets, articles, views, paths,
                            [labels.get(a, {}) for a in articles], state["model_id"])  # fmt: skip
        if (self.folder / "centroids.npy").exists():
            av.centroids = np.load(self.folder / "centroids.npy", mmap_mode="r")
        av.coarse = coarse.Coarse.load(self.folder)
        return av

    # ------------------------------------------------------------ keeping in step

    def sync(self, catalog, model_id: str, revision: tuple | None = None,
             progress: Progress | None = None) -> SyncReport:  # fmt: skip
        """Bring the store to the catalog's current vectors; reads only what changed since the last sync."""
        from desktop_app.core.storage.locks import FileLock

        t0 = time.perf_counter()
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.folder.parent / f"{self.folder.name}.sync-lock")
        lock.acquire(wait=True)
        try:
            revision = revision or catalog.vectors_revision(model_id)
            if self.fresh(revision, model_id):
                return SyncReport(self.state()["n"], 0, self.state()["n"], 0.0, False)
            return self._rebuild(catalog, model_id, revision, progress, t0)
        finally:
            lock.release()

    def _rebuild(self, catalog, model_id, revision, progress, t0) -> SyncReport:
        rows = catalog.vector_meta(model_id)  # (article, photo id, path, view, updated_at), article order
        n = len(rows)
        old = self._previous(model_id)
        ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
        updated = np.fromiter((r[4] for r in rows), dtype=np.float64, count=n)
        reuse = np.zeros(n, dtype=bool)
        old_rows = np.full(n, -1, dtype=np.int64)
        if old is not None:
            old_ids, old_updated, old_vectors = old
            order = np.argsort(old_ids)
            pos = np.searchsorted(old_ids[order], ids)
            pos = np.minimum(pos, max(len(old_ids) - 1, 0))
            if len(old_ids):
                match = old_ids[order][pos] == ids
                old_rows = np.where(match, order[pos], -1)
                reuse = match & (old_updated[np.maximum(old_rows, 0)] >= updated)
        need = int((~reuse).sum())
        tmp = self.folder.with_name(f".{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        dim = int(old[2].shape[1]) if old is not None and len(old[2]) else 0
        out = None
        fetched_so_far = 0
        # A chunk of rows at a time: the vectors it needs are read from the catalog, the rest copied from the
        # old store, so memory stays at one chunk however large the catalog is.
        for i in range(0, n, FETCH_CHUNK):
            j = min(i + FETCH_CHUNK, n)
            kept = reuse[i:j]
            new_rows = np.flatnonzero(~kept)
            fetched = catalog.vector_data(model_id, ids[i:j][new_rows].tolist()) if new_rows.size else {}
            if out is None:
                dim = dim or next((len(v) for v in fetched.values()), 0)
                out = np.lib.format.open_memmap(tmp / "vectors.npy", mode="w+", dtype=DTYPE, shape=(n, dim))
            block = np.empty((j - i, dim), dtype=DTYPE)
            if kept.any():
                block[kept] = old[2][old_rows[i:j][kept]]
            if new_rows.size:
                block[new_rows] = np.stack([fetched[int(x)] for x in ids[i:j][new_rows]]).astype(DTYPE)
            out[i:j] = block
            fetched_so_far += new_rows.size
            if progress and need:
                progress(fetched_so_far, need, "reading vectors")
        if out is not None:
            out.flush()
            del out
        articles, offsets = _articles_and_offsets([r[0] for r in rows])
        views = [r[3] for r in rows]
        np.savez(tmp / "meta.npz", photo_ids=ids, updated=updated, offsets=offsets, articles=_pack(articles),
                 paths=_pack([r[2] for r in rows]), views=_pack([v or "" for v in views]),
                 has_view=np.array([v is not None for v in views], dtype=bool))  # fmt: skip
        vectors = np.load(tmp / "vectors.npy", mmap_mode="r") if n else np.zeros((0, dim), DTYPE)
        np.save(tmp / "centroids.npy", _centroids(vectors, offsets).astype(DTYPE))
        rebuilt = coarse.Coarse.update(tmp, vectors, self.folder if old is not None else None, ids,
                                       old_rows if old is not None else None, reuse, progress)  # fmt: skip
        (tmp / "state.json").write_text(json.dumps({"version": STORE_VERSION, "model_id": model_id,
                                                    "revision": list(revision), "n": n, "dim": dim}),
                                        encoding="utf-8")  # fmt: skip
        self._replace(tmp)
        return SyncReport(n, need, int(reuse.sum()), round(time.perf_counter() - t0, 3), rebuilt)

    def _previous(self, model_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        state = self.state()
        if state is None or state.get("model_id") != model_id or not state.get("n"):
            return None
        try:
            with np.load(self.folder / "meta.npz") as meta:
                return meta["photo_ids"], meta["updated"], np.load(self.folder / "vectors.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError):
            return None

    def _replace(self, tmp: Path) -> None:
        """Swap the new folder in; maps of the old files held by running searches stay valid (POSIX)."""
        old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}")
        if self.folder.exists():
            os.replace(self.folder, old)
        os.replace(tmp, self.folder)
        shutil.rmtree(old, ignore_errors=True)


def _articles_and_offsets(keys: list[str]) -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    offsets = [0]
    for i, k in enumerate(keys):
        if not names or names[-1] != k:
            if names:
                offsets.append(i)
            names.append(k)
    offsets.append(len(keys))
    return names, np.asarray(offsets if names else [0], dtype=np.int64)


def _centroids(vectors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Normalised mean vector of each article, computed a block of articles at a time."""
    n_articles = len(offsets) - 1
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    out = np.zeros((n_articles, dim), dtype=np.float32)
    step = 50_000
    for a0 in range(0, n_articles, step):
        a1 = min(a0 + step, n_articles)
        r0, r1 = int(offsets[a0]), int(offsets[a1])
        block = np.asarray(vectors[r0:r1], dtype=np.float32)
        sums = np.add.reduceat(block, offsets[a0:a1] - r0, axis=0) if r1 > r0 else np.zeros((0, dim))
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out[a0:a1] = sums / np.maximum(norms, 1e-12)
    return out
