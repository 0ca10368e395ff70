"""`lookalike catalog pgvector`: let a shared catalog's PostgreSQL server answer the candidate stage."""

from __future__ import annotations

import argparse
import sys

from desktop_app.cli.common import Bar, add_db, add_json, emit_json, open_engine, plural, safe
from desktop_app.core.ann import MIN_PHOTOS


def register(csub) -> None:
    cp = csub.add_parser(
        "pgvector",
        help="let the PostgreSQL server answer search's candidate stage (shared catalogs with pgvector)",
        description="A shared catalog on a server with the pgvector extension can keep its vectors in "
        "pgvector's HNSW index on the server: every machine's searches then ask the server for each query "
        "photo's nearest photos instead of building and keeping a graph index of their own (from "
        f"{MIN_PHOTOS:,} photos). Index runs and searches keep it up to date. Without an option: say what "
        "the server offers and whether the catalog uses it.",
    )
    on_off = cp.add_mutually_exclusive_group()
    on_off.add_argument(
        "--enable",
        action="store_true",
        help="switch it on: install the extension in the database (needs a superuser the first time), copy "
        "the vectors to the server and build the index",
    )
    on_off.add_argument(
        "--disable", action="store_true", help="switch it off: each machine builds its own graph index again"
    )
    cp.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.enable:
            with Bar(not args.json and not args.no_progress, "photo", "Server index") as bar:
                engine.enable_server_index(progress=bar.update)
        elif args.disable:
            engine.disable_server_index()
        state = engine.server_index_status()
        location = engine.location
    if args.enable and state.photos < MIN_PHOTOS:
        print(
            f"lookalike: note: below {MIN_PHOTOS:,} photos this machine's exhaustive search is usually faster "
            "than asking the server; it is switched on as asked (`--disable` to go back).",
            file=sys.stderr,
        )
    if args.json:
        emit_json({"catalog": location, **state.as_dict()})
    else:
        print(_describe(state, safe(location)))
    return 0


def _describe(state, location: str) -> str:
    if not state.server:
        return (
            f"{location} is a SQLite file: search uses its own graph index from {MIN_PHOTOS:,} photos "
            "(pgvector is for shared catalogs on PostgreSQL)."
        )
    if state.enabled:
        return (
            f"The server answers the candidate stage of {location}: pgvector {state.installed}, an HNSW index "
            f"of {plural(state.photos, 'photo')} ({state.dim}-d vectors of {safe(state.model_id)}). "
            "`--disable` goes back to each machine's own graph index."
        )
    if state.available is None:
        return (
            f"The server of {location} has no pgvector: search uses each machine's own graph index from "
            f"{MIN_PHOTOS:,} photos, as now."
        )
    return (
        f"The server of {location} offers pgvector {state.available}; search uses each machine's own graph "
        f"index from {MIN_PHOTOS:,} photos. `lookalike catalog pgvector --enable` lets the server answer "
        "instead: no graph to build or keep on each machine."
    )
