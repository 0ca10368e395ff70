"""`lookalike evaluate` and `lookalike tune`: measure search quality, and store the best settings."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import (
    Bar,
    add_db,
    add_json,
    emit_json,
    open_engine,
    positive_int,
    query_count,
    refuse_ignored,
)
from desktop_app.core.evaluate import MAX_QUERIES, MIN_TUNING_QUERIES
from desktop_app.core.matching import METHODS


def register(sub) -> None:
    for name, text, description in [
        (
            "evaluate",
            "measure search quality per method (Recall@K, mAP)",
            "Recall@1/5/10 and mAP of each method, and of single-photo queries, on a groups file (relevant = "
            "another article of the same group) or by splitting articles into halves that must find each other.",
        ),
        (
            "tune",
            "grid over method, s and m; store the best as the catalog's search settings",
            "Evaluates greedy, Hungarian and ordered over s in {off, 0.3, 0.5, 0.6, 0.7} and m in {all, 1, 2, 3}, "
            "plus centroid and best pair, and stores the best (by mAP, then R@1; a tie keeps the current setting) "
            "as the catalog's search settings, which `similar`, `labels` and the app then use. Fewer than 20 "
            "queries choose nothing: the results are shown and the settings stay.",
        ),
    ]:
        p = sub.add_parser(name, help=text, description=description)
        proto = p.add_mutually_exclusive_group(required=True)
        proto.add_argument("--groups", type=Path, metavar="CSV", help="CSV with the columns article, group")
        proto.add_argument(
            "--split",
            action="store_true",
            help="split articles into two halves and re-find one from the other",
        )
        proto.add_argument(
            "--decisions",
            action="store_true",
            help="groups of articles decided 'same product' (lookalike decide --same)",
        )
        p.add_argument(
            "--min-photos",
            type=positive_int("--min-photos", lowest=2),
            default=None,
            help="with --split: articles with at least this many photos, 2 or more: each is split "
            "into two halves (default: 2)",
        )
        p.add_argument(
            "--seed",
            type=positive_int("--seed", lowest=0),
            default=0,
            help="the random split (--split) and the draw of queries (default: 0)",
        )
        p.add_argument(
            "--queries",
            type=query_count,
            default=MAX_QUERIES,
            metavar="N|all",
            help=f"at most N queries, drawn at random: each ranks the whole catalog under every "
            f"setting, which takes long in a large catalog (default: {MAX_QUERIES}; all: every one)",
        )
        if name == "evaluate":
            p.add_argument(
                "--method", nargs="+", choices=METHODS, default=None, help="methods (default: all)"
            )
        p.add_argument(
            "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
        )
        add_db(p)
        add_json(p)
        p.set_defaults(handler=run_evaluate if name == "evaluate" else run_tune)


def groups_of(args: argparse.Namespace):
    """The ground truth of --groups or --decisions (None: --split); refuses --min-photos without --split,
    which only the split uses."""
    from desktop_app.core.engine import DECISION_GROUPS

    refuse_ignored(
        {"--min-photos": args.min_photos is not None and not args.split},
        f"with {'--decisions' if args.decisions else '--groups'} (it chooses the articles --split halves)",
    )
    return DECISION_GROUPS if args.decisions else args.groups


def min_photos(args: argparse.Namespace) -> int:
    return 2 if args.min_photos is None else args.min_photos


def print_scores(scores, title: str) -> None:
    print(title)
    print(f"{'method':<26}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'mAP':>7}")
    for s in scores:
        print(f"{s.label:<26}{s.recall[1]:>7.3f}{s.recall[5]:>7.3f}{s.recall[10]:>7.3f}{s.map:>7.3f}")


def run_evaluate(args: argparse.Namespace) -> int:
    truth = groups_of(args)
    with Bar(not args.json and not args.no_progress, "search", "Evaluating") as bar:
        with open_engine(args) as engine:
            result = engine.evaluate(
                truth,
                args.method,
                min_photos(args),
                args.seed,
                progress=bar.update,
                max_queries=args.queries,
            )
    if args.json:
        emit_json(result.to_dict())
    else:
        print_scores(
            result.scores, f"{result.protocol}: {result.n_queries} queries over {result.n_articles} articles"
        )
        for text in (result.note, result.leak):
            if text:
                print(f"Note: {text}")
    return 0


def run_tune(args: argparse.Namespace) -> int:
    truth = groups_of(args)
    with open_engine(args) as engine:
        with Bar(not args.json and not args.no_progress, "search", "Tuning") as bar:
            top, result = engine.tune(
                truth,
                min_photos(args),
                args.seed,
                progress=bar.update,
                store=False,
                max_queries=args.queries,
            )
        ranked = sorted(result.scores, key=lambda s: (-s.map, -s.recall[1]))
        enough = result.n_queries >= MIN_TUNING_QUERIES
        space = engine.vector_space()
        where = "the catalog's search settings" if space is None else f"adapter {space}'s search settings"
        note = (
            f"Not stored: {result.leak} The search settings are unchanged."
            if enough and result.leak
            else f"Stored as {where}: {top.label} (mAP {top.map:.3f}, R@1 {top.recall[1]:.3f})"
            if enough
            else f"Not stored: too few queries ({result.n_queries}) to choose settings by (at least "
            f"{MIN_TUNING_QUERIES}); the catalog's search settings are unchanged. "
            "Give more groups or same-product decisions."
        )
        # The results are shown before they are stored: if storing fails (a full disk), the measurement
        # of the whole grid is not lost with it.
        if args.json:
            emit_json(
                {
                    "best": top.to_dict(),
                    "results": [s.to_dict() for s in ranked],
                    "stored": enough and not result.leak,
                    "adapter": space,
                    "note": " ".join(x for x in (result.note, result.leak) if x) or None,
                }
            )
        else:
            print_scores(
                ranked,
                f"{result.protocol}: {result.n_queries} queries; grid of {len(ranked) - 1} "
                "settings, best first",
            )
            if result.note:
                print(f"Note: {result.note}")
        if enough and not result.leak:
            engine.store_tuned(top)
    if not args.json:
        print(note)
    return 0
