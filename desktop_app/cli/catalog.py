"""`lookalike catalog ...`: check a catalog's health, and recover a damaged one into a new file."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import add_db, add_json, emit_json, safe


def register(sub) -> None:
    p = sub.add_parser("catalog", help="check a catalog, or recover a damaged one into a new file")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    cp = csub.add_parser("check", help="SQLite's full integrity check of every page and index",
                         description="Reads the whole catalog and reports any damage; writes nothing.")  # fmt: skip
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_check)
    cp = csub.add_parser("recover", help="copy every readable row of a damaged catalog into a new catalog",
                         description="Reads the catalog given with --db table by table, skips damaged pages, and "
                         "writes what it could read into OUTPUT, a new file. The damaged file is never "
                         "changed.")  # fmt: skip
    cp.add_argument("output", type=Path, help="the new catalog file (must not exist yet)")
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_recover)
    cp = csub.add_parser("root", help="where this catalog's photos are on this machine (shared catalogs)",
                         description="Photos are stored relative to the folder they were indexed from. Another "
                         "machine that mounts that folder elsewhere maps it here; this is kept in your own "
                         "settings, not in the catalog.")  # fmt: skip
    cp.add_argument(
        "folder", type=Path, nargs="?", help="the photo folder on this machine (default: show it)"
    )
    cp.add_argument("--forget", action="store_true", help="drop this machine's mapping")
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_root)
    cp = csub.add_parser("copy", help="copy a catalog to another file or database (SQLite <-> PostgreSQL)",
                         description="Copies every table of SRC into DST, a new SQLite file or an empty PostgreSQL "
                         "database (postgresql+psycopg://USER@HOST:PORT/DB), then compares both by row counts "
                         "and checksums.")  # fmt: skip
    cp.add_argument("source", metavar="SRC", help="the catalog to copy: a file or a database URL")
    cp.add_argument("target", metavar="DST", help="where to: a new file or an empty database URL")
    cp.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    add_json(cp)
    cp.set_defaults(handler=run_copy)


def run_check(args: argparse.Namespace) -> int:
    from desktop_app.core.engine import resolve_db
    from desktop_app.core.storage import Catalog

    db = resolve_db(args.db)
    with Catalog(db, create=False) as catalog:
        problems = catalog.health()
    ok = problems == ["ok"]
    if args.json:
        emit_json({"catalog": str(db), "ok": ok, "problems": [] if ok else problems})
    elif ok:
        print(f"{safe(db)}: no damage found.")
    else:
        print(f"{safe(db)} is damaged:")
        for line in problems[:20]:
            print(f"  {safe(line)}")
        print(
            f"Recover what can be read into a new file: lookalike catalog recover --db {safe(db)} NEW.sqlite"
        )
    return 0 if ok else 1


def run_recover(args: argparse.Namespace) -> int:
    from desktop_app.core.engine import resolve_db
    from desktop_app.core.storage.recover import recover

    report = recover(resolve_db(args.db), args.output)
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(f"Recovered into {safe(report.target)} (integrity: {report.integrity}):")
    for table, n in report.rows.items():
        lost = report.lost_ranges.get(table)
        print(f"  {table:<13} {n:>8} rows" + (f", {lost} damaged stretch(es) skipped" if lost else ""))
    for table in report.unreadable:
        print(f"  {table:<13} could not be read at all")
    for table, n in report.dropped.items():
        print(f"  dropped {n} {table} rows whose article or photo was lost")
    print(f"Open it with --db {safe(report.target)}; run `lookalike index` on the photo folder to re-embed "
          "anything that was lost.")  # fmt: skip
    return 0


def run_copy(args: argparse.Namespace) -> int:
    from desktop_app.cli.common import Bar
    from desktop_app.core.storage.copy import copy_catalog

    bar = Bar(not args.json and not args.no_progress, "row", "Copying")
    try:
        report = copy_catalog(
            args.source, args.target, progress=lambda table, done, total: bar.update(done, total, table)
        )
    finally:
        bar.close()
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(f"Copied {safe(report.source)} to {safe(report.target)}; verified by counts and checksums:")
    for table, n in report.rows.items():
        print(f"  {table:<16} {n:>9} rows  {report.checksums[table][:12]}")
    return 0


def run_root(args: argparse.Namespace) -> int:
    from desktop_app.cli.common import open_engine

    with open_engine(args) as engine:
        if args.forget or args.folder is not None:
            engine.map_photo_root(None if args.forget else args.folder)
        root = engine.photo_root()
        online = root is not None and root.is_dir()
        location = engine.location
    if args.json:
        emit_json({"catalog": location, "photo_root": str(root) if root else None, "online": online})
    else:
        state = "" if online else " (not reachable here: photos are offline; browsing and search still work)"
        print(f"Photos of {safe(location)}: {safe(root) if root else 'unknown'}{state}")
    return 0
