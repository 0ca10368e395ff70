"""Quality of search by words on the Magento catalogue photos, for a CLIP model with its text side.

Indexes ../shared/datasets/magento-luma/photos (file-name grouping) with the model (or uses --db, a catalog
already indexed with it), then prints:

- category search: each category name is a query ("men-hoodies" -> "a product photo of men hoodies"); R@10
  is the share of the 10 best articles in that category, out of min(10, the category's articles);
  P@1 whether the best one is. Per category and the mean over categories;
- "ARTICLE + a colour word": for every article whose style comes in other colours, and every such colour,
  the query is the article's photos with the colour word mixed in (`similar --article A --text COLOUR
  --text-weight W`); a hit is the sibling of that colour ranking first among the results. The share of
  hits is printed for each weight W and without the word (the photos alone), the baseline it must beat.

    python benchmarks/text_search_eval.py --model clip-vit-b32-int8 [--db PATH] [--data DIR]
        [--weights 0.25,0.5,0.75] [--method greedy] [--prompt "a product photo of {}"] [--json FILE]

Needs a CLIP model with its text side (`lookalike models fetch clip-vit-b32-int8`). With the tiny random
CLIP models of the tests the script runs end to end, and its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from desktop_app.core.engine import Engine, index_photos  # noqa: E402
from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule  # noqa: E402
from desktop_app.core.settings import SearchSettings  # noqa: E402
from desktop_app.core.similar import Query  # noqa: E402

DATA = REPO.parent / "shared" / "datasets" / "magento-luma"
COLOURS = {
    "black",
    "blue",
    "brown",
    "gray",
    "green",
    "lavender",
    "orange",
    "pink",
    "purple",
    "red",
    "white",
    "yellow",
}
K = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--model", help="installed CLIP model with a text side (default: the catalog's, or the default)"
    )
    ap.add_argument(
        "--db", type=Path, help="a catalog of the photos already indexed (default: index them anew)"
    )
    ap.add_argument(
        "--data", type=Path, default=DATA, help=f"folder with photos/ and manifest.csv (default: {DATA})"
    )
    ap.add_argument("--weights", default="0.25,0.5,0.75", help="text weights for the colour measure")
    ap.add_argument("--method", default="greedy", help="how articles are compared (default: greedy)")
    ap.add_argument("--prompt", default="a product photo of {}", help="how a category name is said")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    return ap.parse_args(argv)


def read_truth(data: Path) -> tuple[dict[str, str], dict[str, str]]:
    """article -> category, article -> style, from the dataset's manifest."""
    with open(data / "manifest.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {r["article"]: r["category"] for r in rows}, {r["article"]: r["style"] for r in rows}


def colour_of(article: str, style: str) -> str | None:
    rest = article[len(style) + 1 :] if article.startswith(style + "-") else ""
    word = rest.split("-")[0]
    return word if word in COLOURS else None


def category_search(engine: Engine, category: dict[str, str], prompt: str, method: str) -> dict[str, dict]:
    members: dict[str, set[str]] = defaultdict(set)
    for a, c in category.items():
        members[c].add(a)
    out = {}
    for cat in sorted(members):
        words = prompt.format(cat.replace("-", " "))
        hits = [h.article for h in engine.similar(Query.of_text(words), SearchSettings(method, top_k=K)).hits]
        relevant = members[cat]
        found = sum(a in relevant for a in hits)
        out[cat] = {
            "query": words,
            "articles": len(relevant),
            "r_at_10": found / min(K, len(relevant)),
            "p_at_1": float(bool(hits) and hits[0] in relevant),
        }
    return out


def colour_queries(style: dict[str, str], present: set[str]) -> list[tuple[str, str, str]]:
    """(query article, colour word, the sibling of that colour) for every style with several colours."""
    by_style: dict[str, dict[str, str]] = defaultdict(dict)
    for a, s in style.items():
        colour = colour_of(a, s)
        if colour and a in present:
            by_style[s].setdefault(colour, a)
    return [
        (a, c, b)
        for colours in by_style.values()
        for a in colours.values()
        for c, b in colours.items()
        if b != a
    ]


def colour_measure(
    engine: Engine, queries: list[tuple[str, str, str]], weights: list[float], method: str
) -> dict:
    params = SearchSettings(method, top_k=1)
    firsts: dict[str, int] = defaultdict(int)
    plain_cache: dict[str, str | None] = {}
    for a, colour, sibling in queries:
        if a not in plain_cache:
            hits = engine.similar(Query.of_articles(a), params).hits
            plain_cache[a] = hits[0].article if hits else None
        firsts["without the word"] += plain_cache[a] == sibling
        for w in weights:
            hits = engine.similar(Query.of_articles(a).with_text(colour, w), params).hits
            firsts[f"with the word, weight {w:g}"] += bool(hits) and hits[0].article == sibling
    n = max(1, len(queries))
    return {"queries": len(queries), **{k: v / n for k, v in firsts.items()}}


def open_catalog(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return args.db
    db = Path(tempfile.mkdtemp(prefix="lookalike-text-eval-")) / "magento.sqlite"
    t0 = time.perf_counter()
    summary = index_photos(
        db, args.data / "photos", rule=GroupingRule("pattern", MAGENTO_PATTERN), model=args.model
    )
    print(
        f"indexed {summary.photos} photos into {summary.articles} articles with {summary.model} "
        f"in {time.perf_counter() - t0:.0f} s"
    )
    return db


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    weights = [float(w) for w in args.weights.split(",") if w.strip()]
    category, style = read_truth(args.data)
    db = open_catalog(args)
    with Engine.open(db, remember=False) as engine:
        problem = engine.text_problem()
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        present = set(engine.catalog.article_keys())
        model = engine.model().manifest
        t0 = time.perf_counter()
        per_category = category_search(
            engine, {a: c for a, c in category.items() if a in present}, args.prompt, args.method
        )
        colours = colour_measure(engine, colour_queries(style, present), weights, args.method)
        elapsed = time.perf_counter() - t0
    mean_r = sum(v["r_at_10"] for v in per_category.values()) / max(1, len(per_category))
    mean_p = sum(v["p_at_1"] for v in per_category.values()) / max(1, len(per_category))
    print(
        f"\nSearch by words on {len(present)} articles, model {model.name} ({model.precision}), {args.method}"
    )
    print("| category | articles | R@10 | P@1 |\n|---|---:|---:|---:|")
    for cat, v in per_category.items():
        print(f"| {cat} | {v['articles']} | {v['r_at_10']:.2f} | {v['p_at_1']:.0f} |")
    print(f"| mean over {len(per_category)} categories | | {mean_r:.3f} | {mean_p:.3f} |")
    print(f"\nARTICLE + a colour word: the sibling of that colour ranks first ({colours['queries']} queries)")
    for key, value in colours.items():
        if key != "queries":
            print(f"  {key:<28} {value:.3f}")
    print(f"\n({elapsed:.1f} s of queries)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": model.name,
                    "precision": model.precision,
                    "method": args.method,
                    "categories": per_category,
                    "mean_r_at_10": mean_r,
                    "mean_p_at_1": mean_p,
                    "colour": colours,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
