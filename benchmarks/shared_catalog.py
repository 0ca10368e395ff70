"""A shared catalog on PostgreSQL against the SQLite file: indexing, opening, concurrent curators.

Starts a throwaway PostgreSQL cluster (tools/pg_cluster.py; Debian's `postgresql` server binaries) and prints:
  1. the Magento photos (../shared/datasets/magento-luma) indexed into PostgreSQL and into SQLite: photos/s
     and catalog size;
  2. open to first search answered for a synthetic 100,000-photo catalog (D=1280) in PostgreSQL, with a cold
     local vector cache (everything crosses the connection) and a warm one (nothing changed), and after
     1,000 photos were added elsewhere (only those cross);
  3. label decisions per second with 4 concurrent writers (separate processes, each its own curator), on
     PostgreSQL and on SQLite.

    python benchmarks/shared_catalog.py [--photos 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DATA = REPO.parent / "shared" / "datasets" / "magento-luma"


def index_magento(location, label: str) -> dict:
    from desktop_app.core.engine import Engine, index_photos
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    t0 = time.perf_counter()
    summary = index_photos(location, DATA / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN))
    seconds = time.perf_counter() - t0
    with Engine.open(location, remember=False) as engine:
        size = engine.catalog.size_bytes()
    print(
        f"  {label:<11} {summary.photos} photos in {seconds:.1f} s: {summary.photos / seconds:.1f} photos/s "
        f"end to end, catalog {size / 1e6:.1f} MB"
    )
    return {"photos_per_s": round(summary.photos / seconds, 1), "catalog_mb": round(size / 1e6, 1)}


def first_search_s(location) -> float:
    from desktop_app.core.engine import Engine
    from desktop_app.core.similar import Query

    t0 = time.perf_counter()
    with Engine.open(location, remember=False) as engine:
        index = engine.search_index()
        engine.similar(Query.of_articles(index.av.articles[len(index.av.articles) // 2]))
    return time.perf_counter() - t0


def synthetic_catalog(server: str, n_photos: int, cluster: int = 10) -> tuple[str, str, Path]:
    """A new database on `server` holding `n_photos` synthetic photos of the bundled model (D = 1280, 4 an
    article on average, `cluster` look-alike articles a cluster, as benchmarks/search_latency.py makes them);
    (its URL, the model id, this machine's local vector cache folder of it)."""
    from search_latency import synthetic_rows, write_articles

    from desktop_app.core.engine import Engine
    from desktop_app.core.models import default_model, vector_identity
    from desktop_app.core.vector_store import store_folder
    from tools import pg_cluster

    url = pg_cluster.create_database(server, "synthetic")
    model = default_model("cpu")
    model_id = vector_identity(model.manifest, None, False)
    with Engine.open(url, create=True, remember=False) as engine:
        engine.update_settings(model=model.manifest.name, model_manifest=str(model.manifest_path))
        t0 = time.perf_counter()
        write_articles(engine, model_id, synthetic_rows(n_photos // 4, n_photos, 1280, 0, cluster))
        print(f"  wrote {n_photos:,} synthetic photos into PostgreSQL in {time.perf_counter() - t0:.0f} s")
        return url, model_id, store_folder(engine.catalog, model_id)


def open_times(server: str, n_photos: int) -> dict:
    from search_latency import synthetic_rows, write_articles

    from desktop_app.core.engine import Engine

    url, model_id, cache = synthetic_catalog(server, n_photos)
    shutil.rmtree(cache, ignore_errors=True)
    cold = first_search_s(url)
    warm = first_search_s(url)
    with Engine.open(url, remember=False) as engine:
        more = ([(f"new/{k}", v) for k, v in block] for block in synthetic_rows(250, 1000, 1280, 9))
        write_articles(engine, model_id, more)
    changed = first_search_s(url)
    print(
        f"  open to first search, {n_photos:,} photos: cold cache {cold:.1f} s, warm {warm:.2f} s, "
        f"after 1,000 photos were added elsewhere {changed:.1f} s"
    )
    return {
        "photos": n_photos,
        "cold_s": round(cold, 2),
        "warm_s": round(warm, 2),
        "after_1000_added_s": round(changed, 2),
    }


def _writer(location: str, home: str, name: str, articles: list[str], count: int, go, out) -> None:
    os.environ["LOOKALIKE_HOME"] = home
    from desktop_app.core.engine import Engine

    engine = Engine.open(location, remember=False)
    go.wait(60)
    t0 = time.perf_counter()
    for i in range(count):
        engine.set_labels([articles[i % len(articles)]], "category", f"{name}-{i}")
    out.put((count, time.perf_counter() - t0))
    engine.close()


def decisions_per_second(
    location, articles: list[str], workdir: Path, writers: int = 4, each: int = 200
) -> float:
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = []
    for w in range(writers):
        home = workdir / f"curator{w}"
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.json").write_text(json.dumps({"curator": f"c{w}"}))
        mine = articles[w::writers]  # each curator labels their own articles: no conflicts, only contention
        procs.append(
            ctx.Process(target=_writer, args=(str(location), str(home), f"c{w}", mine, each, go, out))
        )
    for p in procs:
        p.start()
    time.sleep(3)  # let every writer connect before the clock starts
    t0 = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(60)
    return sum(n for n, _ in results) / wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--photos", type=int, default=100_000, help="size of the synthetic catalog (default 100,000)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from tools import pg_cluster

    work = Path(tempfile.mkdtemp(prefix="lookalike-shared-"))
    os.environ["LOOKALIKE_HOME"] = str(work / "home")
    out: dict = {}
    with pg_cluster.cluster(fsync=True) as server:
        print("1. the Magento photos indexed (bundled model)")
        pg = pg_cluster.create_database(server, "magento")
        out["index_postgresql"] = index_magento(pg, "PostgreSQL")
        out["index_sqlite"] = index_magento(work / "magento.sqlite", "SQLite")
        print("2. opening a shared catalog")
        out["open"] = open_times(server, args.photos)
        print("3. label decisions with 4 concurrent writers")
        from desktop_app.core.engine import Engine

        with Engine.open(pg, remember=False) as engine:
            articles = engine.catalog.article_keys()
        for name, location in (("PostgreSQL", pg), ("SQLite", work / "magento.sqlite")):
            rate = decisions_per_second(location, articles, work / name)
            out[f"decisions_per_s_{name.lower()}"] = round(rate, 1)
            print(f"  {name:<11} {rate:.0f} decisions/s (each one transaction under the write lock)")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    if args.json:
        print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
