"""`lookalike similar`: the articles (or photos) most similar to an article, several articles or photo files."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import (
    add_db,
    add_json,
    add_search_options,
    emit_json,
    num,
    open_engine,
    positive_int,
    safe,
    search_params,
)


def register(sub) -> None:
    p = sub.add_parser("similar", help="most similar articles (or photos) for a query",
                       description="The articles most similar to a query, scored by the catalog's search "
                       "settings (method, s, m, top-K; see `lookalike tune` and `lookalike settings`) unless "
                       "options override them.")  # fmt: skip
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--article", metavar="ID", help="query by one article id")
    q.add_argument(
        "--articles", nargs="+", metavar="ID", help="query by several articles, their photos pooled"
    )
    q.add_argument("--image", nargs="+", type=Path, metavar="PHOTO",
                   help="query by photo files (they need not be in the catalog)")  # fmt: skip
    p.add_argument("--photos", action="store_true", help="list the nearest photos instead of articles")
    add_search_options(p)
    p.add_argument("--top", type=positive_int("--top"), metavar="K",
                   help="how many results (default: the catalog's setting, 20 unless changed)")  # fmt: skip
    p.add_argument("--label", metavar="FIELD=VALUE",
                   help="only articles with this label (a bare VALUE means category=VALUE)")  # fmt: skip
    p.add_argument("--folder", metavar="PREFIX", help="only articles under this folder of the photo folder")
    p.add_argument("--show-rejected", action="store_true",
                   help="also show articles decided 'not a match' with the query (default: hidden)")  # fmt: skip
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def query_of(args: argparse.Namespace):
    from desktop_app.core.similar import Query

    if args.image:
        return Query("files", files=list(args.image))
    return Query("articles", list(args.articles or [args.article]))


def run(args: argparse.Namespace) -> int:
    query = query_of(args)
    with open_engine(args) as engine:
        params = search_params(engine, args)
        if args.photos:
            hits = engine.nearest_photos(query, params.top_k)
            if args.json:
                emit_json({"photos": hits})
            else:
                for h in hits:
                    print(f"{h['score']:.3f}  {safe(h['article']):<30} {safe(h['path'])}")
            return 0
        label = args.label if not args.label or "=" in args.label else f"category={args.label}"
        out = engine.similar(query, params, label=label, folder=args.folder,
                             show_rejected=getattr(args, "show_rejected", False))  # fmt: skip
    if args.json:
        emit_json({
            "method": params.method, "threshold": params.threshold, "max_matches": params.max_matches,
            "top": params.top_k, "mode": out.mode, "elapsed_ms": round(out.elapsed_ms, 2), "note": out.note,
            "hits": [{"article": h.article, "score": num(h.score), "passed": h.passed, "fallback": h.fallback,
                      "photos": h.photos, "labels": h.labels, "cover": h.cover, "decision": h.decision,
                      "pairs": [{"query_path": p.query_path, "path": p.path, "sim": round(p.sim, 4), "rank": p.rank,
                                 "used": p.used, "reason": p.reason} for p in h.pairs]}
                     for h in out.hits],
        })  # fmt: skip
        return 0
    print(f"Method {params.describe()}, top {params.top_k}  ({out.mode}, {out.elapsed_ms:.1f} ms)")
    if out.note:
        print(safe(out.note))
    for rank, h in enumerate(out.hits, 1):
        best = h.pairs[0] if h.pairs else None
        why = (
            f"best pair {best.sim:.3f}: {safe(best.query_path or 'query')} ~ {safe(best.path)}"
            if best
            else ""
        )
        score = num(h.score)
        badge = {"same": " [same product]", "alike": " [look-alike]", "not_match": " [not a match]"}.get(
            h.decision or "", ""
        )
        print(f"{rank:>3}. {score if score is not None else 'n/a':<7} {safe(h.article):<32} {why}{badge}")
    return 0
