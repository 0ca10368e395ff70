"""Search latency on a synthetic clustered catalog: p50/p95 per method, peak memory, candidate recall.

The default catalog matches the performance goal: 25,000 articles, 100,000 photos, D=512, 1-8 photos per
article, articles grouped in clusters of look-alikes. Queries are articles with 4 photos.

    python benchmarks/search_latency.py            # full size
    python benchmarks/search_latency.py --articles 2000 --photos 8000 --queries 20   # quick look

Wall-clock timings include whatever else the machine is doing, so the load average is printed with them,
and "cpu ms" (this process's CPU time per query, all threads) is the figure to compare on a busy machine.
With --ann usearch (needs the usearch package) the candidate stage uses a prebuilt HNSW index.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_app.core.search import SearchIndex, candidate_recall  # noqa: E402
from desktop_app.core.vectors import ArticleVectors  # noqa: E402

GOALS_MS = {"greedy": 50.0, "centroid": 50.0, "max": 50.0, "hungarian": 150.0, "ordered": None}


def article_sizes(n_articles: int, n_photos: int, rng: np.random.Generator) -> np.ndarray:
    """Sizes in 1..8 summing exactly to n_photos (needs n_articles <= n_photos <= 8 * n_articles)."""
    if not n_articles <= n_photos <= 8 * n_articles:
        raise SystemExit("photos must lie between articles and 8 x articles")
    sizes = rng.integers(1, 9, size=n_articles)
    diff = n_photos - int(sizes.sum())
    # Nudge random articles by one photo until the total is right, staying inside 1..8.
    while diff != 0:
        step = 1 if diff > 0 else -1
        idx = rng.integers(0, n_articles, size=abs(diff))
        ok = (sizes[idx] + step >= 1) & (sizes[idx] + step <= 8)
        idx = np.unique(idx[ok])[: abs(diff)]
        sizes[idx] += step
        diff -= step * idx.size
    return sizes


def make_catalog(
    n_articles: int = 25_000,
    n_photos: int = 100_000,
    dim: int = 512,
    cluster: int = 10,
    seed: int = 0,
) -> ArticleVectors:
    """Clustered catalog: cosine ~0.85 within an article, ~0.6 within a cluster, ~0 otherwise."""
    rng = np.random.default_rng(seed)
    sizes = article_sizes(n_articles, n_photos, rng)
    n_clusters = -(-n_articles // cluster)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    art = centres[np.arange(n_articles) // cluster] + 0.6 * rng.standard_normal(
        (n_articles, dim), dtype=np.float32
    )
    V = np.repeat(art, sizes, axis=0)
    V += 0.5 * rng.standard_normal(V.shape, dtype=np.float32)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    articles = [f"c{a // cluster:05d}/a{a:06d}" for a in range(n_articles)]
    views_cycle = ["front", "back", "side", "top", "detail", "sole", "inside", "label"]
    views: list[str | None] = []
    paths: list[str] = []
    for a, n in enumerate(sizes.tolist()):
        views.extend(views_cycle[:n])
        paths.extend(f"{articles[a]}/{i}.jpg" for i in range(n))
    labels = [{"colour": ("red", "blue", "green")[a % 3]} for a in range(n_articles)]
    return ArticleVectors(
        vectors=np.ascontiguousarray(V, dtype=np.float32),
        photo_ids=np.arange(V.shape[0], dtype=np.int64),
        offsets=offsets,
        articles=articles,
        views=views,
        paths=paths,
        labels=labels,
        model_id="synthetic",
    )


def percentile_ms(times: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(times), p))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=25_000)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--query-size", type=int, default=4, help="photos per query article")
    ap.add_argument("--methods", default="greedy,centroid,max,hungarian,ordered")
    ap.add_argument("--modes", default="exact,candidates")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ann", choices=("numpy", "usearch"), default="numpy", help="candidate-stage engine")
    args = ap.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    t0 = time.perf_counter()
    av = make_catalog(args.articles, args.photos, args.dim, seed=args.seed)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = SearchIndex(av, ann=args.ann)
    index.prepare(methods, ann=args.ann == "usearch")
    t_prep = time.perf_counter() - t0
    sizes = np.diff(av.offsets)
    rng = np.random.default_rng(args.seed + 1)
    pool = np.flatnonzero(sizes == args.query_size)
    if pool.size == 0:
        pool = np.arange(av.n_articles)
    queries = rng.choice(pool, size=min(args.queries, pool.size), replace=False).tolist()
    print(
        f"catalog: {av.n_articles} articles, {av.n_photos} photos, D={av.dim}, "
        f"{av.vectors.nbytes / 2**20:.0f} MiB vectors; built in {t_build:.1f} s, index prepared in {t_prep:.2f} s"
    )
    print(f"queries: {len(queries)} articles of {args.query_size} photos, k={args.k}; cpus={os.cpu_count()}")

    rows = []
    for mode in modes:
        for method in methods:
            index.search(queries[0], method, args.k, mode=mode)  # warm caches and BLAS threads
            times = []
            load = os.getloadavg()[0]
            cpu0 = time.process_time()
            for q in queries:
                t = time.perf_counter()
                res = index.search(q, method, args.k, mode=mode)
                times.append((time.perf_counter() - t) * 1e3)
            cpu_ms = (time.process_time() - cpu0) / len(queries) * 1e3
            # Memory of one query, measured apart from the timings because tracing slows allocation.
            tracemalloc.start()
            res = index.search(queries[0], method, args.k, mode=mode)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            goal = GOALS_MS.get(method)
            p95 = percentile_ms(times, 95)
            verdict = "-" if goal is None else ("ok" if p95 <= goal else "SLOW")
            rows.append(
                (
                    mode,
                    method,
                    percentile_ms(times, 50),
                    p95,
                    cpu_ms,
                    goal,
                    verdict,
                    peak / 2**20,
                    res.n_exact,
                    load,
                )
            )

    print(f"\nload average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (on {os.cpu_count()} cpus)")
    print(
        f"{'mode':<11}{'method':<11}{'p50 ms':>8}{'p95 ms':>8}{'cpu ms':>8}{'goal':>6}{'':>6}"
        f"{'query MiB':>10}{'exact':>7}{'load':>6}"
    )
    for mode, method, p50, p95, cpu_ms, goal, verdict, mib, n_exact, load in rows:
        g = "" if goal is None else f"{goal:.0f}"
        print(
            f"{mode:<11}{method:<11}{p50:8.1f}{p95:8.1f}{cpu_ms:8.1f}{g:>6}{verdict:>6}"
            f"{mib:10.1f}{n_exact:7d}{load:6.1f}"
        )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak RSS of the whole run: {maxrss:.0f} MiB")

    if "candidates" in modes:
        print("\ncandidate stage recall vs exhaustive (same queries):")
        print(f"{'method':<11}{'recall@' + str(args.k):>10}{'min':>7}{'exact ms':>10}{'cand ms':>9}")
        for method in methods:
            rep = candidate_recall(index, queries, method, args.k)
            print(
                f"{method:<11}{rep.recall:10.3f}{min(rep.per_query, default=1.0):7.2f}"
                f"{rep.exact_ms:10.1f}{rep.candidate_ms:9.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
