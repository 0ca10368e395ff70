"""`lookalike settings`: show or change the catalog's search settings (method, s, m, top-K)."""

from __future__ import annotations

import argparse

from desktop_app.cli.common import add_db, add_json, add_search_options, emit_json, open_engine, positive_int
from desktop_app.core.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("settings", help="show or change the catalog's search settings",
                       description="The method, threshold s, cap m and number of results that `similar`, "
                       "`inspect`, every `labels` command and the app use for this catalog. With no option, "
                       "prints them.")  # fmt: skip
    add_search_options(p)
    p.add_argument(
        "--top",
        type=positive_int("--top"),
        metavar="K",
        help="how many results searches return (default: unchanged)",
    )
    p.add_argument(
        "--no-threshold", action="store_true", help="turn the threshold s off (not with --threshold)"
    )
    p.add_argument(
        "--all-pairs",
        action="store_true",
        help="turn the cap m off: every pair counts (not with --max-matches)",
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    if args.no_threshold and args.threshold is not None:
        raise InputError("Give --threshold S or --no-threshold, not both.")
    if args.all_pairs and args.max_matches is not None:
        raise InputError("Give --max-matches M or --all-pairs, not both.")
    with open_engine(args) as engine:
        current = engine.settings().search
        new = current.override(args.method, args.threshold, args.max_matches, args.top)
        if args.no_threshold:
            new = replace(new, threshold=None)
        if args.all_pairs:
            new = replace(new, max_matches=None)
        if new != current:
            engine.update_settings(search=new)
    if args.json:
        emit_json(new.to_dict())
    else:
        print(
            f"Search settings: {new.describe()}, top {new.top_k}" + (" (changed)" if new != current else "")
        )
    return 0
