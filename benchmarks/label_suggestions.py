"""Label suggestions for every unlabelled article (`labels suggest`, the review queue) on a large catalog.

A suggestion is a search among the labelled articles. This times, in one run, a sample of suggestions made
the way Lookalike makes them (an index of the labelled articles alone, their vectors in one contiguous
matrix) against the way it made them before (a search of the whole catalog with every unlabelled article
excluded, gathering the labelled rows from the memory-mapped store each time), checks that both give the
same suggestions, and then times suggestions for every unlabelled article.

Needs a catalog with labels, e.g. the synthetic one of search_latency.py with every fifth article labelled:

    python benchmarks/search_latency.py --store /tmp/s60k --articles 15000 --photos 60000 --dim 1280 --cluster 20
    python benchmarks/label_suggestions.py --db /tmp/s60k/catalog.sqlite --label-every 5 [--sample 300] [--all]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from desktop_app.core.engine import Engine  # noqa: E402
from desktop_app.core.labels import Neighbour, Suggester, suggest_unlabelled  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--field", default="category")
    ap.add_argument(
        "--label-every", type=int, help="first label every Nth article by its cluster (synthetic)"
    )
    ap.add_argument("--sample", type=int, default=300, help="suggestions timed both ways")
    ap.add_argument("--all", action="store_true", help="also time suggestions for every unlabelled article")
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", str(args.db.parent / "home"))
    with Engine.open(args.db, remember=False) as engine:
        if args.label_every:
            arts = engine.frozen_vectors().articles
            items = [(a, args.field, a.split("/")[0][-2:]) for a in arts[:: args.label_every]]
            engine.set_label_items(items, "import", "import")
        suggester = engine.suggester(args.field, 10, calibrated=False)
        av = suggester.index.av
        unlabelled = [i for i, a in enumerate(av.articles) if a not in suggester.labels]
        print(
            f"{av.n_articles:,} articles, {av.n_photos:,} photos, {len(suggester.labels):,} labelled; "
            f"{suggester.method}, k = {suggester.k}; load {os.getloadavg()[0]:.1f}"
        )
        sample = unlabelled[:: max(1, len(unlabelled) // args.sample)][: args.sample]

        t0 = time.perf_counter()
        suggester.voters()
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        now = [suggester.neighbours(i) for i in sample]
        t_now = (time.perf_counter() - t0) / len(sample)
        t0 = time.perf_counter()
        before = [whole_catalog_neighbours(suggester, i, unlabelled) for i in sample]
        t_before = (time.perf_counter() - t0) / len(sample)
        same = sum([n.article for n in a] == [n.article for n in b] for a, b in zip(now, before))
        print(
            f"per suggestion: {t_before * 1e3:.1f} ms searching the whole catalog, {t_now * 1e3:.1f} ms with the "
            f"labelled articles' own index ({t_before / t_now:.1f}x; that index built once in {built:.2f} s); "
            f"the same neighbours for {same} of {len(sample)}"
        )
        if args.all:
            t0 = time.perf_counter()
            out = suggest_unlabelled(suggester)
            print(f"suggestions for all {len(out):,} unlabelled articles: {time.perf_counter() - t0:.1f} s")


def whole_catalog_neighbours(s: Suggester, article: int, unlabelled: list[int]) -> list[Neighbour]:
    """How suggestions searched before: the whole catalog, every unlabelled article excluded."""
    result = s.index.search(
        article,
        s.method,
        s.k,
        threshold=s.threshold,
        max_matches=s.max_matches,
        exclude=unlabelled,
        n_pairs=0,
    )
    return [Neighbour(h.article, h.score, s.labels[h.article]) for h in result.hits]


if __name__ == "__main__":
    main()
