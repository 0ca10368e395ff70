"""Labels when adapting: a hint about the catalogue, not a verdict that every article of a label looks alike.

A curator who labelled most of the catalogue by category and trains an adapter from labels (the app's
default sources) expects search to still follow look: the other colours of a product first, then articles
that look like it. Category classes in the within-class whitening would make every article of a category
"the same", and search would rank by label. This measures, on the real Magento photos with the category as
the label of a random share of the articles (per seed) and no groups or decisions:

- style mAP: every article's other colours of the same style are the relevant answers (look),
- category P@10: the share of the top 10 that has the query's category (what labels teach),

for the frozen vectors, an adapter from the articles' own photos only, and adapters that also learn from the
labels at several weights (`adapt.LABEL_WEIGHT` is the default).

    python benchmarks/adapt_labels.py --db MAGENTO_CATALOG [--seeds 5] [--share 0.67] [--weights 0.1,0.25,1]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

import numpy as np

from desktop_app.core import adapt
from desktop_app.core import evaluate as ev
from desktop_app.core.engine import Engine
from desktop_app.core.search import SearchIndex

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"
METHOD = "greedy"


def category_precision(vectors, category: dict[str, str], k: int = 10) -> float:
    """Mean share of each labelled article's top k (by the method) that has its category."""
    index = SearchIndex(vectors)
    hits = []
    for a in vectors.articles:
        if a in category:
            result = index.search(a, METHOD, k)
            hits.append(np.mean([category.get(h.article) == category[a] for h in result]))
    return float(np.mean(hits))


def measure(vectors, styles, category) -> tuple[float, float]:
    index, queries = ev.group_queries(vectors, styles)
    score = ev.evaluate(index, queries, [ev.MethodSpec(METHOD)], with_single=False)[0]
    return score.map, category_precision(vectors, category)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--db", type=Path, required=True, help="the Magento photos indexed with --pattern magento"
    )
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--share", type=float, default=0.67, help="share of the articles labelled (default 0.67)")
    ap.add_argument("--weights", default="", help="label weights to try besides the default, comma-separated")
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-labels-home-"))
    with open(args.data / "manifest.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    styles = {r["article"]: r["style"] for r in rows}
    categories = {r["article"]: r["category"] for r in rows}
    weights = sorted({adapt.LABEL_WEIGHT, *(float(w) for w in args.weights.split(",") if w)})
    with Engine.open(args.db, remember=False) as engine:
        frozen = engine.frozen_vectors()
    model_id = frozen.model_id
    table: dict[str, list[tuple[float, float]]] = {}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        arts = sorted(categories)
        labelled = {a: categories[a] for a in rng.permutation(arts)[: int(args.share * len(arts))].tolist()}
        table.setdefault("frozen", []).append(measure(frozen, styles, categories))
        own = adapt.train(adapt.examples(frozen), model_id)
        table.setdefault("articles' own photos", []).append(measure(own.apply_to(frozen), styles, categories))
        ex = adapt.examples(frozen, labels=labelled)
        for w in weights:
            adapter = adapt.train(ex, model_id, label_weight=w)
            name = f"+ labels, weight {w:g}" + (" (default)" if w == adapt.LABEL_WEIGHT else "")
            table.setdefault(name, []).append(measure(adapter.apply_to(frozen), styles, categories))
        print(f"seed {seed}: " + "; ".join(f"{k} {v[-1][0]:.3f}/{v[-1][1]:.3f}" for k, v in table.items()))
    print(
        f"\n{len(labelled)} of {len(arts)} articles labelled by category; greedy; mean over {args.seeds} seeds"
    )
    print(f"{'vectors':<32} {'style mAP':>10} {'category P@10':>14}")
    for name, values in table.items():
        m = np.mean(values, axis=0)
        print(f"{name:<32} {m[0]:>10.3f} {m[1]:>14.3f}")


if __name__ == "__main__":
    main()
