"""Search and label-suggestion quality on the real Magento catalogue photos with the bundled model.

Indexes ../shared/datasets/magento-luma/photos (file-name grouping), then prints:
- article search, groups protocol (relevant = other colours of the same style) and split protocol
  (articles with 3+ photos, one half finds the other), per method, with single-photo and centroid baselines;
- the best s/m settings of a tuning grid on both protocols;
- leave-one-out label suggestions for `category`.

    python benchmarks/evaluate_magento.py [--db PATH] [--data DIR] [--model NAME|FILE] [--json]

With --model it measures another installed model (e.g. efficientnet-lite1-imagenet, exported by
models/export_efficientnet_lite.py --variant lite1) and prints its indexing speed beside the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

from desktop_app.core import evaluate as ev
from desktop_app.core.engine import Engine, index_photos
from desktop_app.core.labels import curve_table, evaluate_labels
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
from desktop_app.core.search import SearchIndex

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "magento-luma"


def table(scores, title: str) -> None:
    print(f"\n{title}")
    print("| method | R@1 | R@5 | R@10 | mAP |\n|---|---:|---:|---:|---:|")
    for s in scores:
        print(f"| {s.label} | {s.recall[1]:.3f} | {s.recall[5]:.3f} | {s.recall[10]:.3f} | {s.map:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--model", default=None, help="model name or manifest (default: the default model)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("LOOKALIKE_HOME", tempfile.mkdtemp(prefix="lookalike-eval-home-"))
    db = args.db or Path(tempfile.mkdtemp(prefix="lookalike-eval-")) / "magento.sqlite"
    rows = list(csv.DictReader(open(args.data / "manifest.csv", encoding="utf-8")))
    style = {r["article"]: r["style"] for r in rows}
    category = {r["article"]: r["category"] for r in rows}
    out: dict = {}
    t0 = time.perf_counter()
    summary = index_photos(
        db, args.data / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN), model=args.model
    )
    with Engine.open(db, remember=False) as engine:
        av = engine.vectors()
    print(
        f"{summary.articles} articles, {summary.photos} photos, model {summary.model} "
        f"(indexed in {time.perf_counter() - t0:.0f} s, {summary.photos_per_s:.1f} photos/s embedded)"
    )
    out["model"] = {"name": summary.model, "photos_per_s": summary.photos_per_s}

    for name, (index, queries) in [
        ("groups (relevant = same style)", ev.group_queries(av, style)),
        ("split (articles with 3+ photos)", ev.split_queries(av, min_photos=3, seed=0)),
    ]:
        t0 = time.perf_counter()
        scores = ev.evaluate(index, queries, ev.default_specs())
        table(scores, f"{name}: {len(queries)} queries, {time.perf_counter() - t0:.0f} s")
        grid = ev.evaluate(index, queries, ev.tuning_grid(), with_single=False)
        top = sorted(grid, key=lambda s: (-s.map, -s.recall[1]))[:5]
        table(top, f"{name}: best 5 of a {len(grid)}-setting grid over method, s and m")
        out[name] = {"scores": [s.to_dict() for s in scores], "grid_top": [s.to_dict() for s in top]}

    index = SearchIndex(av)
    labelled = {a: c for a, c in category.items() if a in set(av.articles)}
    for key, groups, title in [
        ("labels", None, "label suggestions (category, leave-one-out, greedy, k=10)"),
        (
            "labels_style_held_out",
            style,
            "the same with each article's whole style left out (a new product without siblings)",
        ),
    ]:
        lab = evaluate_labels(index, labelled, "category", k=10, method="greedy", groups=groups)
        print(
            f"\n{title} over {lab.n} articles, {lab.n_labels} labels: accuracy {lab.accuracy:.3f} at full "
            f"coverage, coverage at >= 95% accuracy {lab.coverage_at_95:.3f} (confidence >= {lab.threshold_at_95})"
        )
        print("| min confidence | coverage | accuracy |\n|---:|---:|---:|")
        for r in curve_table(lab):
            print(f"| {r['min_confidence']:.2f} | {r['coverage']:.1%} | {r['accuracy']:.1%} |")
        out[key] = lab.to_dict()
    if args.json:
        print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
