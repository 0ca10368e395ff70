"""`lookalike duplicates`: the same photo and the same product listed twice, and the curator's verdicts."""

from __future__ import annotations

import argparse

from desktop_app.cli.common import (
    Bar,
    add_db,
    add_json,
    emit_json,
    fraction,
    open_engine,
    output_path,
    plural,
    safe,
)
from desktop_app.core.wording import decision_words

KIND_NAMES = {
    "exact": "same file",
    "near": "near duplicate",
    "edit": "same shot, edited",
    "article": "same product",
}


def register(sub) -> None:
    p = sub.add_parser(
        "duplicates",
        help="find duplicate photos and products listed twice",
        description="Photo level: the same file (exact), the same picture resized, recompressed, "
        "slightly cropped, brightened or marked (near), the same shot edited (edit: mirrored, "
        "recoloured; from --min-score 0.7). Article level: articles whose photos match as the "
        "same product. Pairs you judged (--mark, or in the app) never come back. Photos are only "
        "read, never moved or deleted.",
    )
    p.add_argument(
        "--level",
        choices=("photo", "article"),
        default="photo",
        help="photo pairs or article pairs (default: photo)",
    )
    p.add_argument(
        "--min-score",
        type=fraction("--min-score"),
        metavar="X",
        help="only pairs scoring X or more (default: 0.9, exact and near duplicates; 0.7 adds "
        "same shot, different edit)",
    )
    p.add_argument(
        "--csv",
        type=output_path,
        metavar="FILE",
        help="also write the pairs as CSV with their cluster numbers (default: none)",
    )
    p.add_argument(
        "--all", action="store_true", help="also list pairs already judged (default: they are left out)"
    )
    p.add_argument(
        "--mark",
        nargs=2,
        metavar=("A", "B"),
        help="record a verdict on two photos (stored paths) or, with --level article, two articles, "
        "instead of finding (default: find)",
    )
    verdict = p.add_mutually_exclusive_group()
    verdict.add_argument(
        "--duplicate",
        dest="verdict",
        action="store_const",
        const="duplicate",
        help="with --mark: they are duplicates (articles: the same product)",
    )
    verdict.add_argument(
        "--not-duplicate",
        dest="verdict",
        action="store_const",
        const="not_duplicate",
        help="with --mark: they are not duplicates (articles: look-alikes)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --level article --mark: overwrite a decision another curator made on the pair "
        "(default: stop and show it)",
    )
    p.add_argument(
        "--undo",
        action="store_true",
        help="take back your latest photo verdict, so its pairs are listed again (an article "
        "verdict is a match decision: lookalike decide --undo)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)"
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run, verdict=None)


def run(args: argparse.Namespace) -> int:
    check_options(args)
    if args.undo:
        return run_undo(args)
    if args.mark is not None:
        return run_mark(args)
    return run_find(args)


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that the action asked for (find, --mark or --undo) would ignore, before any work."""
    from desktop_app.core.errors import InputError

    if args.force and (args.mark is None or args.level != "article"):
        raise InputError(
            "--force goes with --level article --mark A B: only an article pair can carry another curator's "
            "decision."
        )
    finding = _finding_options(args)
    if (args.undo or args.mark is not None) and finding:
        raise InputError(
            f"{', '.join(finding)} {'go' if len(finding) > 1 else 'goes'} with finding duplicates, not with "
            f"{'--undo' if args.undo else '--mark'}; run them separately."
        )
    if args.undo:
        if args.mark is not None or args.verdict is not None:
            raise InputError("--undo takes back your latest verdict; it goes without --mark.")
        if args.level == "article":
            raise InputError(
                "--undo takes back a photo verdict; an article verdict is a match decision: lookalike decide --undo."
            )
    elif args.mark is not None:
        if args.verdict is None:
            raise InputError("Say what the pair is: --mark A B --duplicate or --not-duplicate.")
    elif args.verdict is not None:
        raise InputError("--duplicate and --not-duplicate go with --mark A B.")


def _finding_options(args: argparse.Namespace) -> list[str]:
    """The options given that only finding duplicates uses."""
    given = (
        ("--csv", args.csv is not None),
        ("--all", args.all),
        ("--min-score", args.min_score is not None),
    )
    return [name for name, present in given if present]


def run_undo(args: argparse.Namespace) -> int:
    """Take back the curator's latest photo verdict and say what it was."""
    with open_engine(args) as engine:
        undone = engine.undo_duplicate_verdict()
    if args.json:
        emit_json({"undone": [{"a": r["path_a"], "b": r["path_b"], "verdict": r["verdict"]} for r in undone]})
    elif not undone:
        print("No photo verdict of yours to take back.")
    else:
        for r in undone:
            print(f"Took back: {safe(r['path_a'])} / {safe(r['path_b'])} ({r['verdict'].replace('_', ' ')})")
    return 0


def run_mark(args: argparse.Namespace) -> int:
    """Record a verdict on a pair; at article level, say which match decision stands."""
    with open_engine(args) as engine:
        standing = engine.mark_duplicate(
            args.mark[0], args.mark[1], args.verdict, args.level, force=args.force
        )
    if args.json:
        entry = {"a": args.mark[0], "b": args.mark[1], "level": args.level, "verdict": args.verdict}
        emit_json({**entry, "decision": standing} if args.level == "article" else entry)
    else:
        print(marked(args.mark[0], args.mark[1], args.verdict, standing))
    return 0


def run_find(args: argparse.Namespace) -> int:
    """Find the pairs (and write them as CSV when asked), then list them."""
    with Bar(not args.json and not args.no_progress, "step", "Duplicates") as bar:
        with open_engine(args) as engine:
            if args.csv is not None:
                from desktop_app.core.files import check_output_path

                check_output_path(args.csv, "duplicates export")
            report = engine.find_duplicates(
                args.level, args.min_score, include_decided=args.all, progress=bar.update
            )
            if args.csv is not None:
                engine.export_duplicates(report, args.csv)
    if args.json:
        emit_json(report.to_dict())
        return 0
    show(report)
    return 0


def marked(a: str, b: str, verdict: str, standing: str | None) -> str:
    """What a verdict did, in one line; at article level, the match decision that stands if it said more."""
    from desktop_app.core.engine.duplicates import ARTICLE_VERDICTS

    what = decision_words(verdict)
    if standing is not None and standing != ARTICLE_VERDICTS[verdict]:
        what += f"; their decision '{decision_words(standing)}' stands"
    return f"{safe(a)} / {safe(b)}: {what} (they will not be listed again)"


def show(report) -> None:
    level = "photo" if report.level == "photo" else "article"
    print(
        f"{plural(len(report.pairs), level + ' pair')} in {plural(len(report.clusters), 'cluster')}, score >= {report.min_score:g} "
        f"({report.candidates} candidate photo pairs, {report.elapsed_s:.1f} s)"
    )
    if report.decided:
        were = "was" if report.decided == 1 else "were"
        print(f"{plural(report.decided, 'pair')} you already judged {were} left out (--all shows them).")
    if report.note:
        print(safe(report.note))
    for n, cluster in enumerate(report.clusters, start=1):
        print(f"\nCluster {n}: {len(cluster.members)} {level}s")
        for p in sorted(cluster.pairs, key=lambda p: -p.score):
            print(f"  {p.score:.3f}  {KIND_NAMES[p.kind]:<18} {safe(p.a)}  ~  {safe(p.b)}")
