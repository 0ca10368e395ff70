"""What `lookalike tune` costs per query, and what matching once per method saves, measured in one run.

tune tries 63 settings (greedy, Hungarian and ordered, each with 5 values of s and 4 of m, plus centroid,
max and the single-photo baseline) on every query, and each ranks the whole catalog. This times, on the
same queries of one catalog, the way evaluation ranks now (one matching per query and pair method,
`SearchIndex.picks`, then every s and m from its picks) against one exhaustive search per setting, and
checks that both give the same scores.

    python -m benchmarks.tune_speed --db CATALOG [--groups CSV] [--queries 10]

e.g. on the synthetic catalog of search_latency.py (15,000 articles, 60,000 photos):
    python benchmarks/search_latency.py --store /tmp/s60k --articles 15000 --photos 60000 --dim 1280 --cluster 20
    python -m benchmarks.tune_speed --db /tmp/s60k/catalog.sqlite
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from desktop_app.core import evaluate as ev
from desktop_app.core.engine import Engine


def per_setting(index, queries, specs) -> list[ev.MethodScore]:
    """The way evaluation ranked before: one exhaustive search per query and setting."""
    tallies = [ev._Tally(spec, False) for spec in specs] + [ev._Tally(ev.MethodSpec("max"), True)]
    for q in queries:
        for tally in tallies:
            tally.add(index, q)
    return [t.score() for t in tallies]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--groups", type=Path, help="groups CSV (default: the split protocol)")
    ap.add_argument("--queries", type=int, default=10)
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", str(args.db.parent / "home"))
    specs = ev.tuning_grid()
    with Engine.open(args.db, remember=False) as engine:
        index, queries = engine.evaluation_queries(args.groups)
        queries = ev.sample(queries, args.queries)
        index.search(queries[0].vectors, "greedy", 5, mode="exact")  # warm: vectors read, block cached once
        t0 = time.perf_counter()
        new = ev.evaluate(index, queries, specs)
        t1 = time.perf_counter()
        old = per_setting(index, queries, specs)
        t2 = time.perf_counter()
    n = len(queries)
    settings = len(specs) + 1
    same = all(a.to_dict() == b.to_dict() for a, b in zip(new, old))
    load = os.getloadavg()[0]
    print(
        f"{index.n_articles:,} articles, {len(index.av.vectors):,} photos, D={index.av.dim}; {n} queries x "
        f"{settings} settings; load average {load:.1f}"
    )
    print(f"  one search per setting           {t2 - t1:7.1f} s   {1e3 * (t2 - t1) / n:8.0f} ms per query")
    print(f"  one matching per pair method     {t1 - t0:7.1f} s   {1e3 * (t1 - t0) / n:8.0f} ms per query")
    print(f"  ratio {(t2 - t1) / max(t1 - t0, 1e-9):.1f}x; same scores: {same}")
    best = ev.best(new)
    print(f"  best setting: {best.label}, mAP {best.map:.3f}")


if __name__ == "__main__":
    main()
