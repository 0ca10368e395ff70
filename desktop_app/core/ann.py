"""The candidate stage's persisted index for large catalogs: an HNSW graph (usearch) over a projection.

Below MIN_PHOTOS the exhaustive search meets its goals and no index is kept. Above, every photo's vector is
projected onto RANK principal directions of the catalog (fitted once on a sample; the second moment, not
centred, since search compares raw dot products) and added to a usearch HNSW graph keyed by its catalog
photo id. A query photo's `per_photo * OVERSAMPLE` nearest keys come from the graph; the full vectors in
the vector store then re-score them exactly and the best `per_photo` rows are kept.

The index is part of the vector store (`vector_store.py`): built while indexing, changed by the same
difference that changes the store (photos added, re-embedded or removed: keys removed and added), saved
under a new file name and switched to together with the store's state, and opened memory-mapped by a
search process. It is never built inside a query.

Why these choices (measured with benchmarks/search_latency.py and benchmarks/ann_choice.py on up to 1,000,000
synthetic 1280-d photos; figures in README): the exhaustive scan of a compact PCA copy, the stage this
replaces, took 330 ms per query; the graph over the full float16 vectors costs 5x the build time and
memory of the graph over the projection at the same recall after re-scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from desktop_app.core.vector_store_check import StoreDamaged

MIN_PHOTOS = 50_000  # below this the exhaustive search is fast enough: no index
RANK = 256  # dimensions of the projection the graph is built on
CONNECTIVITY = 32  # HNSW edges per node
EXPANSION_ADD = 128  # candidate list while inserting (graph quality)
OVERSAMPLE = 4  # graph neighbours fetched per neighbour wanted, re-scored exactly
MIN_EXPANSION_SEARCH = 256
FIT_SAMPLE = 50_000
REFIT_GROWTH = 4.0  # a catalog this many times larger than the fit sample's catalog gets a new basis
MAX_REMOVED_SHARE = 0.25  # rebuild when this share of the graph's nodes are removed ones
ADD_CHUNK = 20_000
Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)


class Cancelled(Exception):
    pass


def wanted(n_photos: int) -> bool:
    return n_photos >= MIN_PHOTOS


def fit_basis(
    vectors: np.ndarray, rank: int | None = None, sample: int = FIT_SAMPLE, seed: int = 0
) -> np.ndarray:
    """The top `rank` eigenvectors of the second moment of a sample of the (unit) vectors: the directions
    that keep dot products best."""
    rank = RANK if rank is None else rank
    n = len(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, sample), replace=False))
    X = np.asarray(vectors[rows], dtype=np.float32)
    moment = (X.T @ X).astype(np.float64) / max(len(X), 1)
    _, vecs = np.linalg.eigh(moment)
    return np.ascontiguousarray(vecs[:, ::-1][:, : min(rank, vecs.shape[1])], dtype=np.float32)


def usearch_index():
    """usearch's Index class, loaded safely: with usearch 2.26's native module loaded first, importing
    onnxruntime (1.31, Linux) crashes the process with SIGSEGV, as the search process does when it opens
    a large catalog and then the encoder. onnxruntime loaded first, both work; through `device.onnxruntime`,
    like every load of it, so that it writes no telemetry file under the user's home."""
    from desktop_app.core.device import onnxruntime

    onnxruntime()  # the order matters, see above
    from usearch.index import Index

    return Index


def _new_index(rank: int):
    Index = usearch_index()

    return Index(ndim=rank, metric="ip", dtype="f16", connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD)


class AnnIndex:
    """An opened (memory-mapped) index: answers nearest-row queries for a search process."""

    def __init__(self, index, basis: np.ndarray, info: dict) -> None:
        self.index = index
        self.basis = basis
        self.info = info

    @classmethod
    def open(cls, folder: Path, info: dict) -> AnnIndex:
        """The saved index, memory-mapped; StoreDamaged when its files cannot be read as what they are."""
        return cls(*_restore(Path(folder), info, view=True), info)

    def __len__(self) -> int:
        return len(self.index)

    def knn_rows(
        self,
        vectors: np.ndarray,
        rows_of_ids: Callable[[np.ndarray], np.ndarray],
        queries: np.ndarray,
        per_photo: int,
    ) -> np.ndarray:
        """The `per_photo` rows nearest each query vector (union, unique): graph neighbours of the projected
        query, re-scored exactly in the full vectors."""
        q = np.asarray(queries, dtype=np.float32)
        want = min(len(self.index), per_photo * OVERSAMPLE)
        self.index.expansion_search = max(MIN_EXPANSION_SEARCH, want)
        found = self.index.search(q @ self.basis, want, threads=1)
        if hasattr(found, "counts"):
            keys, counts = np.asarray(found.keys).astype(np.int64), np.asarray(found.counts)
        else:  # one query vector: usearch answers with a single Matches
            keys, counts = np.asarray(found.keys).astype(np.int64)[None, :], np.array([len(found.keys)])
        out = []
        for qv, row_keys, count in zip(q, keys, counts):
            rows = np.sort(rows_of_ids(row_keys[:count]))
            rows = rows[rows >= 0]
            if rows.size == 0:
                continue
            exact = np.asarray(vectors[rows], dtype=np.float32) @ qv
            take = min(per_photo, rows.size)
            out.append(rows[np.argpartition(-exact, take - 1)[:take]])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


class ServerAnn:
    """The candidate stage answered by the catalog's server (pgvector's HNSW index over the full vectors,
    `storage.server_index`), for a shared catalog that has it switched on: no graph index on this machine.
    The server compares the same vectors exactly as they are stored, so its neighbours need no re-scoring;
    those of photos this machine's copy does not hold (removed since it was synced) are left out."""

    def __init__(self, nearest: Callable[[np.ndarray, int], list[np.ndarray]], photos: int) -> None:
        self.nearest = nearest
        self.photos = photos

    def __len__(self) -> int:
        return self.photos

    def knn_rows(
        self,
        vectors: np.ndarray,
        rows_of_ids: Callable[[np.ndarray], np.ndarray],
        queries: np.ndarray,
        per_photo: int,
    ) -> np.ndarray:
        found = [rows_of_ids(ids) for ids in self.nearest(queries, per_photo)]
        rows = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return np.unique(rows[rows >= 0])


def build(
    folder: Path,
    name: str,
    vectors: np.ndarray,
    ids: np.ndarray,
    progress: Progress | None = None,
    basis: np.ndarray | None = None,
    fitted_on: int | None = None,
) -> dict:
    """A new index of every row of `vectors` (keys `ids`), saved in folder as `name`; its info."""
    if basis is None:
        basis, fitted_on = fit_basis(vectors), len(vectors)
    index = _new_index(basis.shape[1])
    n = len(vectors)
    for s in range(0, n, ADD_CHUNK):
        e = min(s + ADD_CHUNK, n)
        index.add(ids[s:e].astype(np.uint64), np.asarray(vectors[s:e], dtype=np.float32) @ basis)
        if progress:
            progress(e, n, "candidate index")
    return _save(folder, name, index, basis, fitted_on or n, removed=0)


def update(
    folder: Path,
    old: dict,
    name: str,
    vectors: np.ndarray,
    ids: np.ndarray,
    add_rows: np.ndarray,
    remove_ids: np.ndarray,
    progress: Progress | None = None,
) -> dict:
    """The old index (its info `old`, in folder) with `remove_ids` taken out and the rows `add_rows` of
    `vectors` (keys ids[add_rows]) put in, saved as `name`; rebuilt instead when too much changed."""
    n = len(vectors)
    removed = old.get("removed", 0) + int(remove_ids.size)
    if n > REFIT_GROWTH * old["fitted_on"] or removed > MAX_REMOVED_SHARE * max(n, 1):
        return build(folder, name, vectors, ids, progress)
    try:
        index, basis = _restore(Path(folder), old, view=False)
    except StoreDamaged as exc:  # the store's own check found nothing wrong; the graph's files say otherwise
        log.warning("The candidate index is damaged (%s); building it again.", exc)
        return build(folder, name, vectors, ids, progress)
    if remove_ids.size:
        index.remove(remove_ids.astype(np.uint64))
    total = int(add_rows.size)
    for s in range(0, total, ADD_CHUNK):
        rows = add_rows[s : s + ADD_CHUNK]
        index.add(ids[rows].astype(np.uint64), np.asarray(vectors[rows], dtype=np.float32) @ basis)
        if progress:
            progress(min(s + ADD_CHUNK, total), total, "candidate index")
    return _save(folder, name, index, basis, old["fitted_on"], removed)


def _restore(folder: Path, info: dict, view: bool):
    """A saved index (memory-mapped with `view`) and its projection basis; StoreDamaged when the files cannot
    be read as what `info` says they are."""
    Index = usearch_index()
    try:
        index = Index.restore(str(folder / info["file"]), view=view)
        basis = np.load(folder / info["basis"])
    except (OSError, EOFError, ValueError, RuntimeError) as exc:  # usearch says ValueError or RuntimeError
        raise StoreDamaged(f"{info['file']} cannot be read ({exc})", ann_only=True) from exc
    if index is None:
        raise StoreDamaged(f"{info['file']} is not a usearch index", ann_only=True)
    if len(index) != info["size"]:
        raise StoreDamaged(f"{info['file']} holds {len(index)} photos, not {info['size']}", ann_only=True)
    return index, basis


def _save(folder: Path, name: str, index, basis: np.ndarray, fitted_on: int, removed: int) -> dict:
    folder = Path(folder)
    np.save(folder / f"{name}.basis.npy", basis)
    index.save(str(folder / f"{name}.usearch"))
    return {
        "file": f"{name}.usearch",
        "basis": f"{name}.basis.npy",
        "rank": int(basis.shape[1]),
        "fitted_on": int(fitted_on),
        "removed": int(removed),
        "size": len(index),
        "bytes": (folder / f"{name}.usearch").stat().st_size,  # what opening checks the file against
    }
