"""The server's candidate index (pgvector) against each machine's own graph index, on a shared catalog.

Starts a throwaway PostgreSQL server that has pgvector (the pgserver wheel's PostgreSQL 16 build, from the
dev extra; tools/pg_cluster.py), writes a synthetic catalog (clustered unit vectors, D = 1280, 4 photos an
article on average, clusters of 20 look-alike articles, as benchmarks/search_latency.py makes them) and prints, for the local graph index and
for the server's:
  - open to first search answered with a cold local vector cache (the local copy of the vectors is made in
    both cases; the local graph is built only without the server's);
  - switching the server index on (copying the vectors to the server and building its HNSW index), and the
    server's table and index size;
  - search p50/p95 (greedy and centroid, top 10, after 5 untimed queries) and recall@10 against the
    exhaustive search;
  - after 1,000 photos were added by another machine: its index run's closing sync step (the local copy and
    the candidate index in use brought up to date), then open to first search.

    python benchmarks/server_index.py [--photos 100000] [--queries 40] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

METHODS = ("greedy", "centroid")
# Look-alike articles a cluster: with 20 every one of an article's top 10 is a look-alike, so recall@10
# measures the candidate stage, not which of many near-ties fills the tenth place (benchmarks/search_latency.py).
CLUSTER = 20
WARM_UP = 5  # queries asked first and not timed: the first ones read the index into the caches


def first_search_s(url: str) -> float:
    from desktop_app.core.engine import Engine
    from desktop_app.core.similar import Query

    t0 = time.perf_counter()
    with Engine.open(url, remember=False) as engine:
        index = engine.search_index()
        engine.similar(Query.of_articles(index.av.articles[len(index.av.articles) // 2]))
    return time.perf_counter() - t0


def search_figures(url: str, n_queries: int) -> dict:
    """p50/p95 of searches through the candidate stage in use and their recall@10 against exhaustive search."""
    from desktop_app.core.engine import Engine

    out = {}
    with Engine.open(url, remember=False) as engine:
        index = engine.search_index()
        kind = type(index.av.ann).__name__
        rng = np.random.default_rng(1)
        queries = rng.choice(index.av.n_articles, n_queries, replace=False).tolist()
        for q in queries[:WARM_UP]:
            index.search(q, METHODS[0], 10, mode="candidates", n_pairs=0)
        for method in METHODS:
            times, recalls = [], []
            for q in queries:
                got = index.search(q, method, 10, mode="candidates", n_pairs=0)
                want = set(index.search(q, method, 10, mode="exact", n_pairs=0).indices)
                times.append(got.elapsed_ms)
                recalls.append(len(want & set(got.indices)) / max(len(want), 1))
            out[method] = {
                "p50_ms": round(float(np.percentile(times, 50)), 1),
                "p95_ms": round(float(np.percentile(times, 95)), 1),
                "recall_at_10": round(float(np.mean(recalls)), 4),
            }
            print(
                f"    {method:<9} p50 {out[method]['p50_ms']:6.1f} ms  p95 {out[method]['p95_ms']:6.1f} ms  "
                f"recall@10 {out[method]['recall_at_10']:.4f}   ({kind})"
            )
    return out


def added_elsewhere(url: str, model_id: str, prefix: str) -> tuple[float, float]:
    """1,000 photos written as an index run writes them, then the index run's closing step (bringing the
    local vector store and the candidate index in use up to date: `sync_vectors`), timed; then open to first
    search on the same machine."""
    from search_latency import synthetic_rows, write_articles

    from desktop_app.core.engine import Engine

    seed = 9 if prefix == "new" else 10
    with Engine.open(url, remember=False) as engine:
        more = (
            [(f"{prefix}/{k}", v) for k, v in block]
            for block in synthetic_rows(250, 1000, 1280, seed, CLUSTER)
        )
        write_articles(engine, model_id, more)
        t0 = time.perf_counter()
        engine.sync_vectors()
        synced = time.perf_counter() - t0
    return synced, first_search_s(url)


def server_size_mb(url: str) -> float:
    import sqlalchemy as sa

    with sa.create_engine(url).connect() as conn:
        size = conn.execute(sa.text("SELECT pg_total_relation_size('server_ann')")).scalar()
    return round(size / 1e6, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from shared_catalog import synthetic_catalog

    from desktop_app.core.engine import Engine
    from tools import pg_cluster

    bindir = pg_cluster.pgvector_binaries()
    if bindir is None:
        print("No PostgreSQL build with pgvector: pip install -e '.[dev]' (the pgserver wheel).")
        return 2
    n = args.photos
    result: dict = {"photos": n, "dim": 1280, "load_before": round(os.getloadavg()[0], 1)}
    with pg_cluster.cluster(bindir=bindir) as server:
        url, model_id, cache = synthetic_catalog(server, n, CLUSTER)

        print("each machine's own graph index:")
        shutil.rmtree(cache, ignore_errors=True)
        local_cold = first_search_s(url)
        print(f"  open to first search, cold local cache (copy + graph built): {local_cold:.1f} s")
        local = search_figures(url, args.queries)

        with Engine.open(url, remember=False) as engine:
            t0 = time.perf_counter()
            engine.enable_server_index()
            enable_s = time.perf_counter() - t0
        size = server_size_mb(url)
        print(
            f"the server's index: switched on in {enable_s:.1f} s (copy and HNSW build); {size:,} MB on the server"
        )
        shutil.rmtree(cache, ignore_errors=True)
        server_cold = first_search_s(url)
        print(f"  open to first search, cold local cache (copy only): {server_cold:.1f} s")
        remote = search_figures(url, args.queries)

        server_sync, server_added = added_elsewhere(url, model_id, "new")
        with Engine.open(url, remember=False) as engine:
            engine.disable_server_index()
        first_search_s(url)  # the local graph built again
        local_sync, local_added = added_elsewhere(url, model_id, "more")
        print(
            "after 1,000 photos were added by another machine's index run: its closing sync step "
            f"{server_sync:.1f} s with the server index, {local_sync:.1f} s with the local graph; then open to "
            f"first search {server_added:.2f} s / {local_added:.2f} s"
        )
    result.update(
        local={
            "cold_open_s": round(local_cold, 2),
            "sync_1000_added_s": round(local_sync, 2),
            "after_1000_added_s": round(local_added, 2),
            **local,
        },
        server={
            "enable_s": round(enable_s, 1),
            "server_mb": size,
            "cold_open_s": round(server_cold, 2),
            "sync_1000_added_s": round(server_sync, 2),
            "after_1000_added_s": round(server_added, 2),
            **remote,
        },
        load_after=round(os.getloadavg()[0], 1),
    )
    print(f"load average {result['load_before']} before, {result['load_after']} after (2 CPUs)")
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
