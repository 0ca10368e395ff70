"""`lookalike decide`: mark two articles the same product, a look-alike or not a match; list, undo, share."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from desktop_app.cli.common import Bar, add_db, add_json, emit_json, open_engine, plural, safe
from desktop_app.core.wording import decision_words


def register(sub) -> None:
    p = sub.add_parser(
        "decide",
        help="mark a pair of articles same product, look-alike or not a match",
        description="Decisions are about articles, not photos: they survive re-indexing and "
        "model changes. Search hides 'not a match' results and shows the others with a badge; "
        "same-product decisions are ground truth for `evaluate --decisions` and `tune "
        "--decisions`.",
    )
    p.add_argument("articles", nargs="*", metavar="ARTICLE", help="the two articles (A B)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--same", dest="decision", action="store_const", const="same", help="the same product")
    what.add_argument(
        "--alike",
        dest="decision",
        action="store_const",
        const="alike",
        help="similar, but a different product (a look-alike)",
    )
    what.add_argument(
        "--not-a-match",
        dest="decision",
        action="store_const",
        const="not_match",
        help="not a match: never show it as similar again",
    )
    what.add_argument(
        "--clear", dest="decision", action="store_const", const="none", help="take the pair's decision back"
    )
    what.add_argument(
        "--list",
        action="store_true",
        help="list every current decision, or with ARTICLE names only the decisions about those articles",
    )
    what.add_argument("--undo", action="store_true", help="undo your last decision (an import as a whole)")
    what.add_argument(
        "--export",
        type=Path,
        metavar="CSV",
        help="write every decision as CSV (article_a, article_b, decision, note, curator, at)",
    )
    what.add_argument(
        "--import",
        dest="import_",
        type=Path,
        metavar="CSV",
        help="read decisions from a CSV with article_a, article_b, decision and optionally note "
        "(one undoable step)",
    )
    p.add_argument("--note", help="a note kept with the decision (default: none)")
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite a decision another curator made (also by --import); with --undo, take yours back even "
        "where another curator decided the pair since (theirs stays) (default: stop and show it)",
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run, decision=None)


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.errors import InputError

    check_combination(args)
    with open_engine(args) as engine:
        if args.list:
            return show(args, engine.decisions(args.articles or None))
        if args.undo:
            return report_undo(args, engine.undo_decision(force=args.force))
        if args.export:
            n = engine.export_decisions(args.export)
            emit_json({"written": n}) if args.json else print(
                f"Wrote {plural(n, 'decision')} to {args.export}"
            )
            return 0
        if args.import_:
            with Bar(not args.json, "row", "Importing decisions") as bar:
                done = engine.import_decisions(args.import_, force=args.force, progress=bar.update)
            return report_import(args, done)
        if len(args.articles) != 2 or args.decision is None:
            raise InputError(
                "Name two articles and a decision: lookalike decide A B --same|--alike|--not-a-match."
            )
        a, b = args.articles
        ident = engine.decide(a, b, args.decision, note=args.note, force=args.force)
    if args.json:
        emit_json({"id": ident, "article_a": a, "article_b": b, "decision": args.decision})
    else:
        what = decision_words(args.decision if args.decision != "none" else None)
        print(f"{safe(a)} / {safe(b)}: {what}")
    return 0


def report_undo(args: argparse.Namespace, undone: list[dict]) -> int:
    """What `--undo` took back, and the pairs it kept because another curator decided them since."""
    if args.json:
        emit_json({"undone": undone})
        return 0
    if not undone:
        print("Nothing to undo.")
        return 0
    back = [u for u in undone if not u.get("kept")]
    kept = [u["kept"] for u in undone if u.get("kept")]
    if back:
        print(
            f"Undid {plural(len(back), 'decision')}: "
            + safe(", ".join(f"{u['article_a']} / {u['article_b']}" for u in back[:5]))
        )
    for k in kept[:5]:
        print(
            safe(
                f"Kept {k['article_a']} / {k['article_b']}: {k['curator'] or 'someone'} decided it "
                f"{k['decision']} since, and that stands."
            )
        )
    return 0


def check_combination(args: argparse.Namespace) -> None:
    """Refuse what an action would silently ignore: articles named with --undo, --export or --import (an
    undo takes back your last step, not a pair's decision), a note with anything but a decision, --force
    where nothing could be overwritten."""
    from desktop_app.core.errors import InputError

    action = next(
        (
            flag
            for flag, on in (("--undo", args.undo), ("--export", args.export), ("--import", args.import_))
            if on
        ),
        None,
    )
    if action and args.articles:
        fix = (
            f"to take back the decision on {safe(' / '.join(args.articles))}, use lookalike decide A B --clear"
            if action == "--undo"
            else f"{action} is about every decision"
        )
        raise InputError(f"{action} takes no article names ({fix}).")
    action = action or ("--list" if args.list else "--clear" if args.decision == "none" else None)
    if args.note is not None and action:
        raise InputError(
            f"--note goes with a decision (--same, --alike or --not-a-match), not with {action}."
        )
    if args.force and action in ("--list", "--export"):
        raise InputError(f"--force changes nothing with {action}; leave it out.")


def report_import(args: argparse.Namespace, done) -> int:
    if args.json:
        emit_json({"imported": done.imported, "unchanged": done.unchanged})
        return 0
    same = f"; {plural(done.unchanged, 'pair')} already decided so" if done.unchanged else ""
    back = " (`decide --undo` takes the import back as one step)" if done.imported else ""
    print(f"Imported {plural(done.imported, 'decision')}{same}{back}")
    return 0


def show(args: argparse.Namespace, rows: list[dict]) -> int:
    if args.json:
        emit_json(rows)
        return 0
    if not rows:
        print("No decisions yet.")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["at"]))
        note = f"  ({safe(r['note'])})" if r["note"] else ""
        print(
            f"{safe(r['article_a']):<28} {safe(r['article_b']):<28} {decision_words(r['decision']):<13} "
            f"{safe(r['curator'] or '')} {when}{note}"
        )
    return 0
