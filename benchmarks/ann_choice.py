"""Why the candidate stage is an HNSW graph over a PCA projection: the alternatives measured side by side.

On a synthetic clustered catalog (benchmarks/search_latency.py's generator, 1280-d like the bundled model,
20 look-alike articles per cluster so that every one of an article's top 10 is a look-alike and not a
near-tie among unrelated ones) each candidate stage is plugged into the real search, and for each the
script prints the build rate, the size, and per method the candidate search's mean time and its recall@10
against the exhaustive search (benchmarks/search_latency.py's figure):

- exact-knn: the exhaustive k-NN over the full vectors (what runs below ann.MIN_PHOTOS);
- scan-pca: an exhaustive scan of a PCA-256 copy of every vector, re-scored (the stage before the graph);
- hnsw-pca: usearch HNSW over the PCA-256 projection, re-scored, through core/ann.py itself (the choice);
- hnsw-f16: usearch HNSW over the full vectors in float16;
- hnsw-i8: usearch HNSW over the full vectors quantised to int8.

    python benchmarks/ann_choice.py                       # 100,000 photos
    python benchmarks/ann_choice.py --photos 1000000 --articles 250000 --only hnsw-pca
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_latency import make_catalog  # noqa: E402

from desktop_app.core import ann  # noqa: E402
from desktop_app.core.evaluate import candidate_recall  # noqa: E402
from desktop_app.core.search import SearchIndex  # noqa: E402

CHOICES = ("exact-knn", "scan-pca", "hnsw-pca", "hnsw-f16", "hnsw-i8")
METHODS = ("greedy", "max", "centroid")


class _Rescored:
    """A candidate stage answering like ann.AnnIndex: `per_photo * OVERSAMPLE` approximate neighbours of
    each query vector, re-scored in the full vectors."""

    def __init__(self, approx) -> None:
        self.approx = approx  # (queries float32 [q, D], want) -> list of row arrays

    def knn_rows(self, vectors, rows_of_ids, queries, per_photo):
        out = []
        for qv, rows in zip(
            queries, self.approx(np.asarray(queries, np.float32), per_photo * ann.OVERSAMPLE)
        ):
            rows = rows[rows >= 0]
            exact = np.asarray(vectors[rows], dtype=np.float32) @ qv
            out.append(rows[np.argsort(-exact)[:per_photo]])
        return np.unique(np.concatenate(out))


def build(name: str, V: np.ndarray, folder: Path):
    """The stage `name` over V: (object for ArticleVectors.ann, size in bytes)."""
    Index = ann.usearch_index()
    ids = np.arange(len(V), dtype=np.int64)
    if name == "exact-knn":
        return None, 0
    if name == "hnsw-pca":
        info = ann.build(folder, "choice", V, ids)
        return ann.AnnIndex.open(folder, info), os.path.getsize(folder / info["file"])
    if name == "scan-pca":
        basis = ann.fit_basis(V)
        P = np.ascontiguousarray(V @ basis, dtype=np.float32)  # float32: NumPy multiplies float16 slowly

        def scan(Q, want):
            approx = P @ (Q @ basis).T
            return list(np.argpartition(-approx, want - 1, axis=0)[:want].T)

        return _Rescored(scan), P.nbytes
    index = Index(
        ndim=V.shape[1],
        metric="ip",
        dtype="f16" if name == "hnsw-f16" else "i8",
        connectivity=ann.CONNECTIVITY,
        expansion_add=ann.EXPANSION_ADD,
    )
    for s in range(0, len(V), ann.ADD_CHUNK):
        index.add(ids[s : s + ann.ADD_CHUNK].astype(np.uint64), V[s : s + ann.ADD_CHUNK])
    index.save(str(folder / f"{name}.usearch"))

    def graph(Q, want):
        index.expansion_search = max(ann.MIN_EXPANSION_SEARCH, want)
        found = index.search(Q, want, threads=1)
        keys = np.atleast_2d(np.asarray(found.keys)).astype(np.int64)
        return list(keys)

    return _Rescored(graph), os.path.getsize(folder / f"{name}.usearch")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--articles", type=int, default=25_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--cluster", type=int, default=20)
    ap.add_argument("--queries", type=int, default=20, help="query articles (4 photos each)")
    ap.add_argument("--only", default=",".join(CHOICES))
    args = ap.parse_args(argv)
    av = make_catalog(args.articles, args.photos, args.dim, cluster=args.cluster)
    V = av.vectors
    sizes = np.diff(av.offsets)
    pool = np.flatnonzero(sizes == 4)
    queries = np.random.default_rng(7).choice(pool, min(args.queries, pool.size), replace=False).tolist()
    print(
        f"{len(V):,} photos, D={V.shape[1]}, clusters of {args.cluster}, {len(queries)} query articles; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'stage':10} {'build/s':>9} {'MiB':>6}  "
        + "  ".join(f"{m + ' ms':>12} {'recall':>6}" for m in METHODS)
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            t = time.perf_counter()
            av.ann, size = build(name, V, Path(tmp))
            rate = len(V) / (time.perf_counter() - t) if av.ann is not None else float("nan")
            index = SearchIndex(av)
            cells = []
            for method in METHODS:
                r = candidate_recall(index, queries, method, k=10)
                cells.append(f"{r.candidate_ms:12.1f} {r.recall:6.3f}")
            print(f"{name:10} {rate:9.0f} {size / 2**20:6.0f}  " + "  ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
