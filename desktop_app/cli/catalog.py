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
