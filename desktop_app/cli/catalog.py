"""`lookalike catalog ...`: check a catalog's health, recover a damaged one into a new file, copy it, map
its photo folder, and let its server answer the candidate stage (`catalog_server_index`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop_app.cli import catalog_server_index
from desktop_app.cli.common import add_db, add_json, emit_json, safe
from desktop_app.core.errors import UserError
from desktop_app.core.wording import plural

DAMAGE_FOUND = UserError.exit_code  # `catalog check` found damage: something the user acts on (recover)
SHOWN = 20  # problems `catalog check` lists on the terminal


def register(sub) -> None:
    p = sub.add_parser(
        "catalog",
        help="check a catalog, recover a damaged one, copy it (SQLite <-> PostgreSQL), or set where its "
        "photos are on this machine",
    )
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="COMMAND")
    cp = csub.add_parser(
        "check",
        help="SQLite's full integrity check of every page and index, and a check of every stored vector",
        description="Reads the whole catalog and reports any damage, including vectors whose bytes were "
        "damaged on disk (which SQLite's own check cannot see); writes nothing. Exits with 0 when there is "
        "none, 2 (and one line naming `catalog recover`) when there is.",
    )
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_check)
    cp = csub.add_parser(
        "recover",
        help="copy every readable row of a damaged catalog into a new catalog",
        description="Reads the catalog given with --db table by table, skips damaged pages, and "
        "writes what it could read into OUTPUT, a new file. The damaged file is never "
        "changed.",
    )
    cp.add_argument("output", type=Path, help="the new catalog file (must not exist yet)")
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_recover)
    cp = csub.add_parser(
        "root",
        help="where this catalog's photos are on this machine (shared catalogs)",
        description="Photos are stored relative to the folder they were indexed from. Another "
        "machine that mounts that folder elsewhere maps it here; this is kept in your own "
        "settings, not in the catalog.",
    )
    cp.add_argument(
        "folder",
        type=_folder,
        nargs="?",
        help="the photo folder on this machine; one not there yet (a share not mounted now) is taken with a "
        "warning (default: show it)",
    )
    cp.add_argument("--forget", action="store_true", help="drop this machine's mapping")
    add_db(cp)
    add_json(cp)
    cp.set_defaults(handler=run_root)
    cp = csub.add_parser(
        "copy",
        help="copy a catalog to another file or database (SQLite <-> PostgreSQL)",
        description="Copies every table of SRC into DST, a new SQLite file or an empty PostgreSQL "
        "database (postgresql+psycopg://USER@HOST:PORT/DB), then compares both by row counts "
        "and checksums. A copy that fails or is stopped leaves no DST behind (a new file is built "
        "under a temporary name and renamed when verified), so it can simply be run again.",
    )
    cp.add_argument("source", metavar="SRC", help="the catalog to copy: a file or a database URL")
    cp.add_argument("target", metavar="DST", help="where to: a new file or an empty database URL")
    cp.add_argument(
        "--curator-as",
        type=_curator,
        metavar="NAME",
        help="credit every label, decision, cover and verdict the source names a curator on to NAME in the "
        "copy, e.g. your database user when a laptop's catalog (which names its login) moves to the team's "
        "server, so your history stays yours to see and undo (default: names copied as they are)",
    )
    cp.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    add_json(cp)
    cp.set_defaults(handler=run_copy)
    catalog_server_index.register(csub)


def run_check(args: argparse.Namespace) -> int:
    from desktop_app.core.engine import resolve_db
    from desktop_app.core.storage import Catalog
    from desktop_app.core.storage.catalog import damage_summary
    from desktop_app.core.storage.recover import recover_command

    db = resolve_db(args.db)
    vectors: list[dict] = []
    with Catalog(db, create=False) as catalog:
        problems = catalog.health()
        if problems == ["ok"]:  # (a damaged file may fail any read: its damage is reported first)
            vectors = catalog.damaged_vectors()
    if vectors:
        problems = [
            f"the {v['model']} vector of {v['path']} is not a unit vector of finite numbers (damaged bytes)"
            for v in vectors
        ]
    ok = problems == ["ok"]
    if args.json:
        emit_json(
            {"catalog": str(db), "ok": ok, "problems": [] if ok else problems, "damaged_vectors": vectors}
        )
    elif ok:
        print(f"{safe(db)}: no damage found.")
    else:
        print(f"{safe(db)} is damaged:")
        for line in problems[:SHOWN]:
            print(f"  {safe(line)}")
        if len(problems) > SHOWN:
            print(f"  ... and {plural(len(problems) - SHOWN, 'more problem')} (--json lists them all)")
    if ok:
        return 0
    # Damage is the answer the user asked for, not a bug of ours: the user-facing exit code (2) and one line
    # on stderr that names the fix.
    then = "; the next index run embeds their photos again" if vectors else ""
    print(
        f"lookalike: {safe(db)} is damaged ({safe(damage_summary(problems, 1))}); recover what can be read "
        f"into a new file: {recover_command(safe(db))}{then}",
        file=sys.stderr,
    )
    return DAMAGE_FOUND


def run_recover(args: argparse.Namespace) -> int:
    from desktop_app.core.engine import resolve_db
    from desktop_app.core.storage.recover import recover

    report = recover(resolve_db(args.db), args.output)
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(f"Recovered into {safe(report.target)} (integrity: {report.integrity}):")
    for line in recovery_lines(report):
        print(f"  {line}")
    print(
        f"Open it with --db {safe(report.target)}; run `lookalike index` on the photo folder to re-embed "
        "anything that was lost."
    )
    return 0


def recovery_lines(report) -> list[str]:
    """Per table what was recovered and what could not be read; then what was left out, and why."""
    lines = []
    for table, n in report.rows.items():
        if table in report.unreadable:
            continue  # listed below
        notes = []
        if table in report.absent:
            notes.append("not in this catalog (an older version)")
        for before, after in report.lost.get(table, []):
            start = "the start" if before is None else f"rowid {before}"
            end = "the end" if after is None else f"rowid {after}"
            notes.append(f"could not read the damaged stretch between {start} and {end}")
        if table == "vectors" and report.damaged_vectors:
            notes.append(
                f"{report.damaged_vectors} vector(s) left out whose bytes are damaged (not unit vectors of "
                "finite numbers): the next index run embeds their photos again"
            )
        if report.rejected.get(table):
            notes.append(f"{report.rejected[table]} row(s) read with values the catalog refuses, left out")
        if report.dropped.get(table):
            notes.append(f"{report.dropped[table]} row(s) dropped whose article or photo was lost")
        lines.append(f"{table:<18} {n:>8} rows" + ("; " + "; ".join(notes) if notes else ""))
    lines += [f"{table:<18} could not be read at all" for table in report.unreadable]
    lines += [f"{table:<18} not copied: {why}" for table, why in report.not_copied.items()]
    lines += [f"{what:<18} rebuilt on demand: {how}" for what, how in report.rebuilt_on_demand.items()]
    return lines


def run_copy(args: argparse.Namespace) -> int:
    from desktop_app.cli.common import Bar, with_password
    from desktop_app.core.storage.copy import copy_catalog

    with Bar(not args.json and not args.no_progress, "row", "Copying") as bar:
        report = with_password(  # both catalogs may ask for a password, each its own
            args,
            lambda: copy_catalog(
                args.source,
                args.target,
                progress=lambda table, done, total: bar.update(done, total, table),
                curator_as=args.curator_as,
            ),
        )
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(f"Copied {safe(report.source)} to {safe(report.target)}; verified by counts and checksums:")
    for table, n in report.rows.items():
        print(f"  {table:<16} {n:>9} rows  {report.checksums[table][:12]}")
    if report.curator_as is not None:
        moved = ", ".join(f"{n} {table}" for table, n in report.recredited.items()) or "no rows"
        print(f"Credited to {safe(report.curator_as)}: {moved} (the source keeps its names).")
    return 0


def _curator(text: str) -> str:
    from desktop_app.core.errors import InputError
    from desktop_app.core.settings import curator_name

    try:
        name = curator_name(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if not name:
        raise argparse.ArgumentTypeError("the curator's name is empty")
    return name


def _folder(text: str) -> Path:
    if not text.strip():  # Path("") is the current folder: an empty argument is a slip, not a choice
        raise argparse.ArgumentTypeError("the folder is empty; give the photo folder's path")
    return Path(text)


def run_root(args: argparse.Namespace) -> int:
    from desktop_app.cli.common import open_engine

    if args.forget and args.folder is not None:
        raise UserError("Give a folder or --forget, not both.")
    found = None
    with open_engine(args) as engine:
        if args.forget or args.folder is not None:
            note = engine.map_photo_root(None if args.forget else args.folder)
            if note:
                print(f"lookalike: warning: {safe(note)}", file=sys.stderr)
        if args.folder is not None and args.folder.is_dir():
            found = _photos_found(engine, args.folder)
        root = engine.photo_root()
        online = engine.photos_online()
        location = engine.location
    if args.json:
        emit_json(
            {
                "catalog": location,
                "photo_root": str(root) if root else None,
                "online": online,
                "photos_found": None if found is None else {"found": found[0], "checked": found[1]},
            }
        )
    else:
        state = "" if online else " (not reachable here: photos are offline; browsing and search still work)"
        print(f"Photos of {safe(location)}: {safe(root) if root else 'unknown'}{state}")
        if found is not None and found[1] and found[0] < found[1]:
            print(
                f"Note: only {found[0]} of {found[1]} of the catalog's photos checked are in {safe(args.folder)}; "
                "is it the folder they were indexed from?"
            )
    return 0


ROOT_CHECK = 50  # photos of the catalog `catalog root DIR` looks for in DIR


def _photos_found(engine, folder: Path) -> tuple[int, int]:
    """(found, checked): how many of about 50 photos spread over the catalog are in `folder`."""
    from desktop_app.core.paths import photos_found

    sample = engine.root_sample(ROOT_CHECK)
    return photos_found(folder, sample), len(sample)
