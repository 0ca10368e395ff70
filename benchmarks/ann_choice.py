"""Why the candidate stage is an HNSW graph over a PCA projection: the alternatives measured side by side.

On a synthetic clustered catalog (benchmarks/search_latency.py's generator, 1280-d like the bundled
model) each candidate stage answers the same query photos; for each it prints the build rate, the size on
disk, the time per query photo and the recall of the exact `--per-photo` nearest photos after re-scoring
the candidates in the full vectors (what the search does with them):

- scan-pca: the exhaustive scan of a PCA-256 copy of every vector (the stage before the graph index);
- hnsw-pca: usearch HNSW over the PCA-256 projection, through core/ann.py itself (the choice);
- hnsw-f16: usearch HNSW over the full vectors in float16;
- hnsw-i8: usearch HNSW over the full vectors quantised to int8.

    python benchmarks/ann_choice.py                       # 100,000 photos
    python benchmarks/ann_choice.py --photos 1000000 --articles 250000 --only scan-pca,hnsw-pca
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

CHOICES = ("scan-pca", "hnsw-pca", "hnsw-f16", "hnsw-i8")


def exact_top(V: np.ndarray, Q: np.ndarray, k: int) -> list[set[int]]:
    out = []
    for q in Q:
        sims = V @ q
        out.append(set(np.argpartition(-sims, k - 1)[:k].tolist()))
    return out


def rescored(V: np.ndarray, q: np.ndarray, rows: np.ndarray, k: int) -> set[int]:
    rows = rows[rows >= 0]
    exact = V[rows] @ q
    return set(rows[np.argsort(-exact)[:k]].tolist())


def run_graph(name: str, V, Q, truth, per_photo: int, folder: Path) -> dict:
    from usearch.index import Index

    want = per_photo * ann.OVERSAMPLE
    ids = np.arange(len(V), dtype=np.int64)
    t = time.perf_counter()
    if name == "hnsw-pca":
        info = ann.build(folder, "choice", V, ids)
        build_s = time.perf_counter() - t
        index = ann.AnnIndex.open(folder, info)
        size = os.path.getsize(folder / info["file"])
        t = time.perf_counter()
        found = [index.knn_rows(V, lambda keys: keys, q[None, :], per_photo) for q in Q]
        query_s = time.perf_counter() - t
        hits = [len(set(f.tolist()) & tr) / per_photo for f, tr in zip(found, truth)]
    else:
        dtype = "f16" if name == "hnsw-f16" else "i8"
        index = Index(ndim=V.shape[1], metric="ip", dtype=dtype, connectivity=ann.CONNECTIVITY,
                      expansion_add=ann.EXPANSION_ADD)  # fmt: skip
        for s in range(0, len(V), ann.ADD_CHUNK):
            index.add(ids[s : s + ann.ADD_CHUNK].astype(np.uint64), V[s : s + ann.ADD_CHUNK])
        build_s = time.perf_counter() - t
        index.save(str(folder / f"{name}.usearch"))
        size = os.path.getsize(folder / f"{name}.usearch")
        index.expansion_search = max(ann.MIN_EXPANSION_SEARCH, want)
        t = time.perf_counter()
        found = [np.asarray(index.search(q, want, threads=1).keys, dtype=np.int64) for q in Q]
        query_s = time.perf_counter() - t
        hits = [len(rescored(V, q, f, per_photo) & tr) / per_photo for q, f, tr in zip(Q, found, truth)]
    return {"build_per_s": len(V) / build_s, "mib": size / 2**20, "ms": query_s / len(Q) * 1e3, "hits": hits}


def run_scan(V, Q, truth, per_photo: int) -> dict:
    t = time.perf_counter()
    basis = ann.fit_basis(V)
    P = np.ascontiguousarray(V @ basis, dtype=np.float16)
    build_s = time.perf_counter() - t
    want = per_photo * ann.OVERSAMPLE
    hits = []
    t = time.perf_counter()
    for q, tr in zip(Q, truth):
        approx = (P @ (q @ basis).astype(np.float16)).astype(np.float32)
        rows = np.argpartition(-approx, want - 1)[:want]
        hits.append(len(rescored(V, q, rows, per_photo) & tr) / per_photo)
    query_s = time.perf_counter() - t
    return {
        "build_per_s": len(V) / build_s,
        "mib": P.nbytes / 2**20,
        "ms": query_s / len(Q) * 1e3,
        "hits": hits,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--articles", type=int, default=25_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=40, help="query photos")
    ap.add_argument("--per-photo", type=int, default=250, help="nearest photos wanted per query photo")
    ap.add_argument("--only", default=",".join(CHOICES))
    args = ap.parse_args(argv)
    av = make_catalog(args.articles, args.photos, args.dim)
    V = av.vectors
    Q = V[np.random.default_rng(7).choice(len(V), args.queries, replace=False)]
    truth = exact_top(V, Q, args.per_photo)
    print(f"{len(V):,} photos, D={V.shape[1]}, {args.queries} query photos, exact top {args.per_photo} "
          f"each; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'stage':10} {'build/s':>9} {'MiB':>7} {'ms/query':>9} {'recall':>7} {'worst':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only.split(","):
            if name == "scan-pca":
                r = run_scan(V, Q, truth, args.per_photo)
            else:
                r = run_graph(name, V, Q, truth, args.per_photo, Path(tmp))
            print(f"{name:10} {r['build_per_s']:9.0f} {r['mib']:7.0f} {r['ms']:9.1f} "
                  f"{np.mean(r['hits']):7.4f} {np.min(r['hits']):6.3f}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
