"""Search latency on a synthetic clustered catalog: p50/p95 per method, peak memory, candidate recall.

In memory (the default): 25,000 articles, 100,000 photos, D=512, 1-8 photos per article, articles grouped in
clusters of look-alikes, searched in memory. Queries are articles with 4 photos.

    python benchmarks/search_latency.py            # full size
    python benchmarks/search_latency.py --articles 2000 --photos 8000 --queries 20   # quick look

Through a real catalog (--store DIR, the scale configuration): the synthetic vectors are written into an
SQLite catalog through its own API, the local vector store (memory-mapped float16, with the candidate
stage's HNSW graph index) is built from it, and a fresh search process opens it, answers the queries and
reports its peak RSS; then 1,000 photos of new articles are added and the store and its graph index
updated, timed against embedding them:

    python benchmarks/search_latency.py --store /tmp/scale --articles 250000 --photos 1000000 --dim 1280 --json

--adapter (with --store) trains a catalog-adapted embedding (whitening, on the clusters of 20,000 articles
as groups), builds its vector store and graph index, measures the search process with it switched on
instead of the update, and switches it off.

--cluster sets how many look-alike articles share a cluster (10 by default). With 10, an article's top 10
holds its 9 cluster mates and one unrelated article, picked from a quarter of a million near-ties at
similarity ~0.12: strict recall@10 then also measures luck with noise. --cluster 20 makes every one of the
top 10 a look-alike.

Wall-clock timings include whatever else the machine is doing, so the load average is printed with them,
and "cpu ms" (this process's CPU time per query, all threads) is the figure to compare on a busy machine.
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

from desktop_app.core.evaluate import candidate_recall  # noqa: E402
from desktop_app.core.search import SearchIndex  # noqa: E402
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
    ap.add_argument("--cluster", type=int, default=10, help="look-alike articles per cluster")
    ap.add_argument(
        "--store", type=Path, help="through a real catalog and vector store in this folder (reused)"
    )
    ap.add_argument(
        "--adapter",
        action="store_true",
        help="with --store: search with a catalog-adapted embedding switched on (whitening, trained "
        "on the clusters of 20,000 articles as groups; switched off again at the end)",
    )
    ap.add_argument("--json", action="store_true", help="also print the figures as JSON")
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads of the search process (default 1, as the app's search process; 0: the library's own)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: the search process of --store
    args = ap.parse_args(argv)
    if args.child:
        return store_child(args)
    if args.store:
        return store_run(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    t0 = time.perf_counter()
    av = make_catalog(args.articles, args.photos, args.dim, cluster=args.cluster, seed=args.seed)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = SearchIndex(av)
    index.prepare(methods)
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


# ---------------------------------------------------------------------------------------------- --store


def synthetic_rows(n_articles: int, n_photos: int, dim: int, seed: int, cluster: int = 10):
    """(article key, [n_i, dim] unit vectors) in blocks, as make_catalog does but never all in memory."""
    rng = np.random.default_rng(seed)
    sizes = article_sizes(n_articles, n_photos, rng)
    n_clusters = -(-n_articles // cluster)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    for a0 in range(0, n_articles, 5000):
        a1 = min(a0 + 5000, n_articles)
        art = centres[np.arange(a0, a1) // cluster] + 0.6 * rng.standard_normal(
            (a1 - a0, dim), dtype=np.float32
        )
        V = np.repeat(art, sizes[a0:a1], axis=0)
        V += 0.5 * rng.standard_normal(V.shape, dtype=np.float32)
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        starts = np.concatenate([[0], np.cumsum(sizes[a0:a1])])
        yield [
            (f"c{a // cluster:05d}/a{a:06d}", V[starts[i] : starts[i + 1]])
            for i, a in enumerate(range(a0, a1))
        ]


def write_articles(
    engine, model_id: str, blocks, views=("front", "back", "side", "top", "detail", "sole", "inside", "label")
) -> int:
    from desktop_app.core.storage import PhotoWrite

    n = 0
    for block in blocks:
        ids = engine.catalog.sync_articles([k for k, _ in block])
        writes = []
        for key, vecs in block:
            for i, v in enumerate(vecs):
                rel = f"{key}/{i}.jpg"
                writes.append(
                    PhotoWrite(ids[key], rel, rel.encode(), 1, 1, views[i % len(views)], hash=rel, vector=v)
                )
        engine.catalog.write_photos(writes, model_id)
        n += len(writes)
    return n


def store_run(args) -> int:
    """Build (or reuse) the catalog and its vector store, measure a search process, then an update."""
    import json
    import subprocess

    os.environ.setdefault("LOOKALIKE_HOME", str(args.store / "home"))
    from desktop_app.core.engine import Engine
    from desktop_app.core.models import default_model, vector_identity
    from desktop_app.core.vector_store import VectorStore, store_folder

    args.store.mkdir(parents=True, exist_ok=True)
    db = args.store / "catalog.sqlite"
    done = args.store / f"written-{args.articles}-{args.photos}-{args.dim}-{args.cluster}"
    model = default_model("cpu")
    model_id = vector_identity(model.manifest, None, False)
    out: dict = {"articles": args.articles, "photos": args.photos, "dim": args.dim}
    engine = Engine.open(db, create=True, remember=False)
    engine.update_settings(model=model.manifest.name, model_manifest=str(model.manifest_path))
    if not done.exists():
        t0 = time.perf_counter()
        written = write_articles(
            engine, model_id, synthetic_rows(args.articles, args.photos, args.dim, args.seed, args.cluster)
        )
        out["catalog_write_s"] = round(time.perf_counter() - t0, 1)
        print(f"wrote {written:,} photos into {db} in {out['catalog_write_s']} s", flush=True)
        done.write_text("ok")
    folder = store_folder(engine.catalog, model_id)
    store = VectorStore(folder)
    t0 = time.perf_counter()
    report = store.sync(engine.catalog, model_id, progress=lambda d, t, note: None)
    out["store_build_s"] = round(time.perf_counter() - t0, 1)
    out["store_mib"] = round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20)
    state = store.state()
    if state.get("ann"):
        out["ann_mib"] = round((folder / state["ann"]["file"]).stat().st_size / 2**20)
    out["catalog_mib"] = round(db.stat().st_size / 2**20)
    print(
        f"vector store: {report.photos:,} photos, {report.fetched:,} read from the catalog, {report.how}, "
        f"graph index {report.ann}, in {out['store_build_s']} s; {out['store_mib']} MiB on disk, of which "
        f"the graph index {out.get('ann_mib', 0)} MiB (catalog {out['catalog_mib']} MiB)",
        flush=True,
    )
    if args.adapter:
        groups = args.store / "groups.csv"
        keys = engine.frozen_vectors().articles[:20_000]
        groups.write_text("article,group\n" + "".join(f"{k},{k.split('/')[0]}\n" for k in keys))
        t0 = time.perf_counter()
        adapter = engine.train_adapter(("groups",), groups, "whitening", activate=False)
        t1 = time.perf_counter()
        engine.use_adapter(True, adapter.id)
        engine.sync_vectors()  # what `adapt train` does after training: the adapted store and its graph
        out.update(
            adapter_dim=adapter.dim,
            adapter_train_s=round(t1 - t0, 1),
            adapter_store_s=round(time.perf_counter() - t1, 1),
        )
        print(
            f"adapter: whitening to {adapter.dim} dimensions, trained in {out['adapter_train_s']} s on "
            f"{len(keys):,} articles' clusters; its store and graph index built in {out['adapter_store_s']} s",
            flush=True,
        )
    engine.close()

    # A fresh search process: open to first answer, latencies, recall, peak RSS.
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            str(db),
            "--queries",
            str(args.queries),
            "--k",
            str(args.k),
            "--methods",
            args.methods,
            "--seed",
            str(args.seed),
            "--query-size",
            str(args.query_size),
            "--blas-threads",
            str(args.blas_threads),
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    if child.returncode != 0:
        print(child.stderr[-3000:])
        return 1
    print(child.stderr, end="")
    out.update(json.loads(child.stdout))
    if args.adapter:
        with Engine.open(db, remember=False) as engine:
            engine.use_adapter(False)
        if args.json:
            print(json.dumps(out, indent=2))
        return 0

    # Adding 1,000 photos of new articles (a new folder of products): write them as an index run does (in a
    # fresh process, so the catalog's check before its first write is included), update the store and the
    # graph index, against the time to embed 1,000 photos.
    engine = Engine.open(db, remember=False)
    t0 = time.perf_counter()
    engine.catalog.check_before_writing()
    t_check = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = len(list(args.store.glob("added-*")))
    blocks = synthetic_rows(250, 1000, args.dim, args.seed + 7 + batch, args.cluster)
    write_articles(engine, model_id, ([(f"new{batch}/{k}", v) for k, v in block] for block in blocks))
    (args.store / f"added-{batch}").write_text("ok")
    t_write = time.perf_counter() - t0
    t0 = time.perf_counter()
    upd = store.sync(engine.catalog, model_id)
    t_sync = time.perf_counter() - t0
    engine.close()
    embed_s = embed_seconds_per_photo() * 1000
    total = t_check + t_write + t_sync
    out.update(
        add_1000_check_s=round(t_check, 1),
        add_1000_write_s=round(t_write, 1),
        add_1000_store_s=round(t_sync, 1),
        add_1000_store_how=upd.how,
        add_1000_ann=upd.ann,
        embed_1000_s=round(embed_s, 1),
        add_1000_ratio=round(total / embed_s, 2),
        add_1000_ratio_without_check=round((t_write + t_sync) / embed_s, 2),
    )
    print(
        f"adding 1,000 photos: the catalog's check before writing {t_check:.1f} s, write {t_write:.1f} s, store "
        f"{upd.how} and graph index {upd.ann} in {t_sync:.1f} s ({upd.fetched} vectors read); embedding "
        f"1,000 photos takes {embed_s:.1f} s here: ratio {total / embed_s:.2f} (goal <= 2; "
        f"{(t_write + t_sync) / embed_s:.2f} without the check)"
    )
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def own_memory_mib() -> float:
    """The process's anonymous resident memory (RssAnon): what it allocated, not file pages it maps."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def embed_seconds_per_photo() -> float:
    """Seconds per photo of the bundled model on real photos (decode + encode), measured now."""
    from desktop_app.core.encoder import Encoder
    from desktop_app.core.images import preprocess, read_bytes
    from desktop_app.core.models import default_model

    photos = sorted(
        (Path(__file__).resolve().parents[1] / "desktop_app" / "bundled" / "sample" / "photos").rglob("*.jpg")
    )
    model = default_model("cpu")
    encoder = Encoder(model, device="cpu")
    encoder.encode(preprocess(read_bytes(photos[0]), model.manifest)[0])
    t0 = time.perf_counter()
    for i in range(0, len(photos), 32):
        batch = np.concatenate([preprocess(read_bytes(p), model.manifest)[0] for p in photos[i : i + 32]])
        encoder.encode(batch)
    return (time.perf_counter() - t0) / len(photos)


def store_child(args) -> int:
    """The search process: open the catalog's store, answer queries, measure recall; JSON on stdout."""
    import json

    t_start = time.perf_counter()
    from desktop_app.core.engine import Engine
    from desktop_app.core.engine_process import limit_blas_threads
    from desktop_app.core.similar import Query

    limit_blas_threads(args.blas_threads or None)

    engine = Engine.open(args.child, remember=False)
    index = engine.search_index()
    av = index.av
    sizes = np.diff(av.offsets)
    rng = np.random.default_rng(args.seed + 1)
    pool = np.flatnonzero(sizes == args.query_size)
    queries = [av.articles[a] for a in rng.choice(pool, size=min(args.queries, pool.size), replace=False)]
    engine.similar(Query.of_articles(queries[0]))
    open_s = time.perf_counter() - t_start
    print(
        f"search process: open to first answer {open_s:.2f} s ({av.n_photos:,} photos, "
        f"{'with' if av.ann is not None else 'without'} the graph index)",
        file=sys.stderr,
    )
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    result: dict = {"open_to_first_search_s": round(open_s, 2), "load": os.getloadavg()[0], "methods": {}}
    peak_own = own_memory_mib()
    for method in methods:
        times = []
        for q in queries:
            t = time.perf_counter()
            index.search(q, method, args.k)
            times.append((time.perf_counter() - t) * 1e3)
            peak_own = max(peak_own, own_memory_mib())
        result["methods"][method] = {
            "p50_ms": round(percentile_ms(times, 50), 1),
            "p95_ms": round(percentile_ms(times, 95), 1),
        }
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    recall_queries = queries[: min(10, len(queries))]
    for method in methods:
        rep = candidate_recall(index, recall_queries, method, args.k)
        result["methods"][method].update(recall=round(rep.recall, 3), exact_ms=round(rep.exact_ms, 1))
    result["peak_rss_mib_searching"] = round(rss)
    result["own_memory_mib_searching"] = round(peak_own)
    for method, r in result["methods"].items():
        print(
            f"  {method:<10} p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  recall@{args.k} {r['recall']:.3f}"
            f"  (exhaustive {r['exact_ms']:.0f} ms)",
            file=sys.stderr,
        )
    print(
        f"  peak RSS while searching {result['peak_rss_mib_searching']} MiB, of which the process's own memory "
        f"(anonymous, the largest seen after a query) {result['own_memory_mib_searching']} MiB and the rest pages "
        f"of the vector store's files mapped from the OS file cache; load {result['load']:.1f}",
        file=sys.stderr,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
