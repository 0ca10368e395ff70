"""The candidate stage's index: a compact copy of the vectors, scanned exhaustively, then re-scored exactly.

A basis of the catalog's own principal directions (the top eigenvectors of the vectors' second moment,
fitted on a sample) projects every photo to RANK dimensions in float32. A query's nearest photos are found
by one scan of that matrix (ten times smaller than the vectors, and BLAS-friendly), keeping several times
more than needed, which the full vectors then re-score exactly. It is saved with the vector store, updated
with it (photos whose vectors did not change keep their rows; new ones are projected), and refitted when
the catalog has grown far beyond the sample it was fitted on. Measured against a graph index (HNSW) in
benchmarks/search_latency.py: the graph's build took minutes per 100,000 photos on two cores, this one a
few seconds, at the same recall.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

RANK = 192
MIN_PHOTOS = 50_000  # below this the exact search meets its goals: no compact copy is made
FIT_SAMPLE = 50_000
REFIT_GROWTH = 2.0  # refit when the catalog has this many times the photos the basis was fitted on
OVERSAMPLE = 8  # rows kept from the compact scan per row wanted, for the exact re-scoring
SCAN_CHUNK = 1 << 17
Progress = Callable[[int, int, str], None]


class Coarse:
    def __init__(self, basis: np.ndarray, reduced: np.ndarray, fitted_on: int) -> None:
        self.basis = basis  # [D, RANK] float32
        self.reduced = reduced  # [P, RANK] float32, the store's row order
        self.fitted_on = fitted_on

    @classmethod
    def load(cls, folder: Path) -> Coarse | None:
        folder = Path(folder)
        if not (folder / "coarse.json").exists():
            return None
        info = json.loads((folder / "coarse.json").read_text(encoding="utf-8"))
        return cls(
            np.load(folder / "basis.npy"), np.load(folder / "reduced.npy", mmap_mode="r"), info["fitted_on"]
        )

    @classmethod
    def update(cls, folder: Path, vectors: np.ndarray, previous: Path | None, ids: np.ndarray,
               old_rows: np.ndarray | None, reuse: np.ndarray, progress: Progress | None = None) -> bool:  # fmt: skip
        """Write the compact copy for `vectors` into folder; True when the basis was (re)fitted.

        previous: the old store's folder, whose rows are reused where `reuse` (mapped by `old_rows`)."""
        n = len(vectors)
        if n < MIN_PHOTOS:
            return False
        old = cls.load(previous) if previous is not None else None
        refit = (old is None or old.basis.shape != (vectors.shape[1], min(RANK, vectors.shape[1]))
                 or n > REFIT_GROWTH * old.fitted_on)  # fmt: skip
        basis = fit_basis(vectors) if refit else old.basis
        fitted_on = n if refit else old.fitted_on
        out = np.lib.format.open_memmap(
            folder / "reduced.npy", mode="w+", dtype=np.float32, shape=(n, basis.shape[1])
        )
        for i in range(0, n, SCAN_CHUNK):
            j = min(i + SCAN_CHUNK, n)
            block = np.empty((j - i, basis.shape[1]), dtype=np.float32)
            kept = np.zeros(j - i, dtype=bool) if refit or old_rows is None else reuse[i:j]
            if kept.any():
                block[kept] = old.reduced[old_rows[i:j][kept]]
            new = np.flatnonzero(~kept)
            if new.size:
                block[new] = np.asarray(vectors[i:j][new], dtype=np.float32) @ basis
            out[i:j] = block
            if progress:
                progress(j, n, "candidate index")
        out.flush()
        np.save(folder / "basis.npy", basis)
        (folder / "coarse.json").write_text(
            json.dumps({"rank": int(basis.shape[1]), "fitted_on": int(fitted_on)})
        )
        return refit

    def knn_rows(self, vectors: np.ndarray, queries: np.ndarray, per_photo: int) -> np.ndarray:
        """The `per_photo` rows nearest each query vector (union, unique): compact scan, exact re-score."""
        n = len(self.reduced)
        keep = min(n, per_photo * OVERSAMPLE)
        qr = (np.asarray(queries, np.float32) @ self.basis).T  # [RANK, q]
        best_rows = np.zeros((queries.shape[0], 0), dtype=np.int64)
        best = np.zeros((queries.shape[0], 0), dtype=np.float32)
        for s in range(0, n, SCAN_CHUNK):
            e = min(s + SCAN_CHUNK, n)
            scores = (self.reduced[s:e] @ qr).T  # [q, chunk]
            scores = np.concatenate([best, scores], axis=1)
            rows = np.concatenate(
                [best_rows, np.broadcast_to(np.arange(s, e), (queries.shape[0], e - s))], axis=1
            )
            if scores.shape[1] > keep:
                part = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
                best, best_rows = np.take_along_axis(scores, part, 1), np.take_along_axis(rows, part, 1)
            else:
                best, best_rows = scores, rows
        # Exact re-scoring of the shortlist in the full vectors.
        out = []
        for q, cand in zip(np.asarray(queries, np.float32), best_rows):
            cand = np.sort(cand)
            exact = np.asarray(vectors[cand], dtype=np.float32) @ q
            take = min(per_photo, len(cand))
            out.append(cand[np.argpartition(-exact, take - 1)[:take]])
        return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def fit_basis(
    vectors: np.ndarray, rank: int | None = None, sample: int = FIT_SAMPLE, seed: int = 0
) -> np.ndarray:
    """The top `rank` eigenvectors of the second moment of a sample of the (unit) vectors: the directions
    that keep dot products best. Not centred: search compares raw dot products."""
    n = len(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(n, min(n, sample), replace=False))
    X = np.asarray(vectors[rows], dtype=np.float32)
    moment = (X.T @ X).astype(np.float64) / len(X)
    values, vecs = np.linalg.eigh(moment)
    rank = RANK if rank is None else rank
    return np.ascontiguousarray(vecs[:, ::-1][:, : min(rank, vecs.shape[1])], dtype=np.float32)
