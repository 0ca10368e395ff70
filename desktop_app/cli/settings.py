"""`lookalike settings`: show or change the catalog's search settings (method, s, m, top-K), and the name
this user's decisions carry."""

from __future__ import annotations

import argparse

from desktop_app.cli.common import (
    add_db,
    add_json,
    add_search_options,
    emit_json,
    open_engine,
    positive_int,
    safe,
)
from desktop_app.core.errors import InputError


def register(sub) -> None:
    p = sub.add_parser(
        "settings",
        help="show or change the catalog's search settings and your curator name",
        description="The method, threshold s, cap m and number of results that `similar`, "
        "`inspect`, every `labels` command and the app use for this catalog, and the name your "
        "decisions carry (--curator). With no option, prints them.",
    )
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
    p.add_argument(
        "--curator",
        metavar="NAME",
        help="the name your label and match decisions carry, kept in "
        'your own settings; "" goes back to the default (default: unchanged; unset, a shared catalog\'s '
        "database user, else your login name)",
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def _set_curator(name: str) -> None:
    from desktop_app.core.settings import UserSettings

    user = UserSettings.load()
    user.set_curator(name)
    user.save(strict=True)


def _search_options_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) is not None for name in ("method", "threshold", "max_matches", "top")) or (
        args.no_threshold or args.all_pairs
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from desktop_app.core.engine import curator_and_source

    if args.no_threshold and args.threshold is not None:
        raise InputError("Give --threshold S or --no-threshold, not both.")
    if args.all_pairs and args.max_matches is not None:
        raise InputError("Give --max-matches M or --all-pairs, not both.")
    if args.curator is not None:
        _set_curator(args.curator)
        if not _search_options_given(args) and args.db is None:  # a user setting: no catalog needed
            return _show_curator(args, None)
    with open_engine(args) as engine:
        current = engine.search_settings()
        new = current.override(args.method, args.threshold, args.max_matches, args.top)
        if args.no_threshold:
            new = replace(new, threshold=None)
        if args.all_pairs:
            new = replace(new, max_matches=None)
        if new != current:
            engine.update_search(**new.to_dict())
        location, space = engine.location, engine.vector_space()
        note = engine.search_space_note()
    curator, source = curator_and_source(location)
    if args.json:
        emit_json({**new.to_dict(), "adapter": space, "curator": curator, "curator_from": source})
    else:
        where = f" (adapter {space})" if space is not None else ""
        print(
            f"Search settings{where}: {new.describe()}, top {new.top_k}"
            + (" (changed)" if new != current else "")
        )
        if note:
            print(f"Note: {note}")
        print(f"Curator: {safe(curator)} ({source})")
    return 0


def _show_curator(args: argparse.Namespace, location: str | None) -> int:
    from desktop_app.core.engine import curator_and_source

    curator, source = curator_and_source(location)
    if args.json:
        emit_json({"curator": curator, "curator_from": source})
    else:
        print(f"Curator: {safe(curator)} ({source})")
    return 0
