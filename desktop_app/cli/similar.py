"""`lookalike similar`: the articles (or photos) most similar to an article, several articles, photo files or
words (CLIP models), and to photos steered by words."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import (
    add_db,
    add_json,
    add_search_options,
    emit_json,
    fraction,
    num,
    open_engine,
    plural,
    positive_int,
    refuse_ignored,
    safe,
    score_text,
    search_params,
)
from desktop_app.core.errors import InputError
from desktop_app.core.wording import DECISION_WORDS, RELATION_WORDS

# Unmeasured here (no CLIP weights can be downloaded): an even mix. benchmarks/text_search_eval.py measures
# 0.25, 0.5 and 0.75 on a machine that has the weights.
DEFAULT_TEXT_WEIGHT = 0.5


def register(sub) -> None:
    p = sub.add_parser(
        "similar",
        help="most similar articles (or photos) for a query",
        description="The articles most similar to a query, scored by the catalog's search "
        "settings (method, s, m, top-K; see `lookalike tune` and `lookalike settings`) unless "
        "options override them.",
    )
    p.add_argument(
        "ids",
        nargs="*",
        metavar="ARTICLE",
        help="article id(s) to query by: one is --article ID, several are --articles (pooled)",
    )
    q = p.add_mutually_exclusive_group()
    q.add_argument("--article", metavar="ID", help="query by one article id")
    q.add_argument(
        "--articles", nargs="+", metavar="ID", help="query by several articles, their photos pooled"
    )
    q.add_argument(
        "--image",
        nargs="+",
        type=Path,
        metavar="PHOTO",
        help="query by photo files (they need not be in the catalog)",
    )
    p.add_argument(
        "--text",
        metavar="WORDS",
        help='search by words (CLIP models only), e.g. "red hooded sweatshirt"; with --article, '
        "--articles or --image the words are mixed into the photos (default: none)",
    )
    p.add_argument(
        "--text-weight",
        type=fraction("--text-weight"),
        metavar="W",
        help=f"share of the words in each query photo vector, 0..1 (default: {DEFAULT_TEXT_WEIGHT}; "
        "only with a photo query and --text)",
    )
    p.add_argument(
        "--photos",
        action="store_true",
        help="list the nearest photos instead of articles, by their own cosine similarity: the search "
        "options, --label, --folder and --show-rejected are for articles (default: articles)",
    )
    add_search_options(p)
    p.add_argument(
        "--top",
        type=positive_int("--top"),
        metavar="K",
        help="how many results (default: the catalog's setting, 20 unless changed)",
    )
    p.add_argument(
        "--label",
        metavar="FIELD=VALUE",
        help="only articles with this label (a bare VALUE means category=VALUE; default: every article)",
    )
    p.add_argument(
        "--folder",
        metavar="PREFIX",
        help="only articles under this folder, relative to the photo folder, e.g. shoes/men (default: every folder)",
    )
    p.add_argument(
        "--relations",
        action="store_true",
        help="also say which results' best photo pair is the query's own picture or another colour of its shot "
        "(same file / same photo / same shot, the duplicate finder's rules; reads the photos' fingerprints)",
    )
    p.add_argument(
        "--show-rejected",
        action="store_true",
        help="also show articles decided 'not a match' with the query (default: hidden)",
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def query_of(args: argparse.Namespace):
    """The query the options ask, with the --label and --folder filters."""
    from dataclasses import replace

    from desktop_app.core.filter_text import SearchFilter

    query = _asked(args)
    filters = SearchFilter.of_options(getattr(args, "label", None), getattr(args, "folder", None))
    return replace(query, filters=filters or None)


def _asked(args: argparse.Namespace):
    from desktop_app.core.similar import Query
    from desktop_app.core.text_encoder import has_words

    text = getattr(args, "text", None)
    weight = getattr(args, "text_weight", None)
    if args.ids:
        if args.image or args.articles or args.article:
            raise InputError("Give the query once: article ids, or --article, --articles or --image.")
        args.articles = args.ids
    photos = args.image or args.articles or args.article
    if not photos and text is None:
        raise InputError("Say what to search for: --article, --articles, --image or --text.")
    if weight is not None and not (photos and text is not None):
        raise InputError(
            "--text-weight mixes words into photos: use it with --text and --article, --articles or --image."
        )
    if not photos:
        return Query.of_text(text)
    query = (
        Query("files", files=list(args.image))
        if args.image
        else Query("articles", list(args.articles or [args.article]))
    )
    if text is None:
        return query
    if not has_words(text):
        raise InputError("--text is empty; give some words, or leave --text out.")
    return query.with_text(text, DEFAULT_TEXT_WEIGHT if weight is None else weight)


def check_photo_options(args: argparse.Namespace) -> None:
    """Refuse with --photos what only an article search uses (photos are ranked by their own cosine)."""
    if args.photos:
        refuse_ignored(
            {
                "--method": args.method is not None,
                "--threshold": args.threshold is not None,
                "--max-matches": args.max_matches is not None,
                "--label": args.label is not None,
                "--folder": args.folder is not None,
                "--show-rejected": args.show_rejected,
                "--relations": args.relations,
            },
            "with --photos (photos are ranked by their own cosine similarity, unfiltered)",
            "leave {it} out, or search articles (without --photos)",
        )


def run(args: argparse.Namespace) -> int:
    check_photo_options(args)
    query = query_of(args)
    with open_engine(args) as engine:
        params = search_params(engine, args)
        if args.photos:
            hits = engine.nearest_photos(query, params.top_k)
            if args.json:
                emit_json({**_words_of(query), "photos": hits})
            else:
                for h in hits:
                    print(f"{h['score']:.3f}  {safe(h['article']):<30} {safe(h['path'])}")
            return 0
        out = engine.similar(query, params, show_rejected=getattr(args, "show_rejected", False))
        relations = engine.hit_relations(out.hits) if args.relations else None
    if args.json:
        emit_json(outcome_dict(out, query, relations))
    else:
        show(out, query, args, relations)
    return 0


def outcome_dict(out, query, relations: dict[str, str | None] | None = None) -> dict:
    """The JSON of an article search: the settings the search really used, then its hits with their pairs
    (and, when asked, each hit's "relation": exact, near, edit or null)."""
    used = out.params  # words leave the threshold out: what the search really used
    return {
        "method": used.method,
        "threshold": used.threshold,
        "max_matches": used.max_matches,
        "top": used.top_k,
        "mode": out.mode,
        "elapsed_ms": round(out.elapsed_ms, 2),
        "note": out.note,
        **_words_of(query),
        "hits": [
            {
                "article": h.article,
                "score": num(h.score),
                "passed": h.passed,
                "fallback": h.fallback,
                "photos": h.photos,
                "labels": h.labels,
                "cover": h.cover,
                "decision": h.decision,
                "pairs": [
                    {
                        "query_path": p.query_path or None,  # None: words alone
                        "path": p.path,
                        "sim": round(p.sim, 4),
                        "rank": p.rank,
                        "used": p.used,
                        "reason": p.reason,
                    }
                    for p in h.pairs
                ],
            }
            | ({"relation": relations.get(h.article)} if relations is not None else {})
            for h in out.hits
        ],
    }


def show(out, query, args: argparse.Namespace, relations: dict[str, str | None] | None = None) -> None:
    """An article search as text: a heading, what to know about it, then one line per hit."""
    used = out.params
    print(
        f"{safe(query.title())}: method {used.describe()}, top {used.top_k}  ({out.mode}, {out.elapsed_ms:.1f} ms)"
    )
    if out.note:
        print(safe(out.note))
    if not used.uses_pairs and (args.threshold is not None or args.max_matches is not None):
        print(
            f"The {used.method} method scores no pairs, so --threshold and --max-matches do not apply to it."
        )
    if out.hidden:
        print(
            f"{plural(out.hidden, 'article')} decided 'not a match' with the query left out (--show-rejected shows them)."
        )
    for rank, h in enumerate(out.hits, 1):
        badge = DECISION_BADGES.get(h.decision or "", "")
        relation = (relations or {}).get(h.article)
        badge += f" [{RELATION_WORDS[relation]}]" if relation else ""
        print(f"{rank:>3}. {score_text(h.score):<7} {safe(h.article):<32} {_why(h, query)}{badge}")


DECISION_BADGES = {d: f" [{words}]" for d, words in DECISION_WORDS.items()}


def _why(hit, query) -> str:
    """What made a hit's score: its best photo (words) or best photo pair ("" when it has none)."""
    best = hit.pairs[0] if hit.pairs else None
    if best is None:
        return ""
    if query.kind == "text":
        return f"best photo {best.sim:.3f}: {safe(best.path)}"
    return f"best pair {best.sim:.3f}: {safe(best.query_path or 'query')} ~ {safe(best.path)}"


def _words_of(query) -> dict:
    """The words of a query and their weight in the photos (None when there are no photos to mix into)."""
    return {
        "text": query.text,
        "text_weight": query.text_weight if query.text and query.kind != "text" else None,
    }
