"""`lookalike labels ...`: import, suggest, accept, set, undo, export and evaluate article labels."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from desktop_app.cli.common import (
    Bar,
    add_db,
    add_json,
    add_search_options,
    emit_json,
    fraction,
    non_negative_int,
    open_engine,
    plural,
    png_path,
    positive_int,
    query_count,
    refuse_ignored,
    safe,
    search_params,
)
from desktop_app.core.errors import InputError
from desktop_app.core.export_targets import PNG
from desktop_app.core.files import check_output_path
from desktop_app.core.labels import DEFAULT_FIELD, MAX_QUERIES
from desktop_app.core.zero_shot import DEFAULT_PROMPT

FIELD_HELP = f"the label field (default: {DEFAULT_FIELD})"
DEFAULT_K = 10
K_HELP = f"how many of the most similar labelled articles vote (default: {DEFAULT_K})"


def register(sub) -> None:
    p = sub.add_parser(
        "labels",
        help="import, suggest, accept, set, undo, export and evaluate article labels",
        description="Labels on articles. Suggestions are a vote of the most similar labelled "
        "articles, found with the catalog's search settings (method, s, m).",
    )
    lsub = p.add_subparsers(dest="labels_command", required=True, metavar="COMMAND")

    lp = lsub.add_parser("import", help="labels from a CSV (article|path, label[, field]) or folder names")
    src = lp.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="UTF-8 CSV with an 'article' or 'path' column and a 'label' (or FIELD) column",
    )
    src.add_argument(
        "--folder-level",
        type=non_negative_int("--folder-level"),
        metavar="N",
        help="use the folder at this depth of each article's photos (0 = top) as its label",
    )
    lp.add_argument("--field", default=DEFAULT_FIELD, help=FIELD_HELP)
    lp.add_argument(
        "--force",
        action="store_true",
        help="overwrite labels another curator set (default: stop, write nothing and show their decision)",
    )
    _common(lp, run_import)

    for name, text, default in [
        ("suggest", "suggest labels for unlabelled articles", 0.0),
        ("accept", "accept every suggestion with at least --min-confidence, as one undoable decision", 0.8),
    ]:
        lp = lsub.add_parser(name, help=text)
        lp.add_argument("--field", default=DEFAULT_FIELD, help=FIELD_HELP)
        lp.add_argument("--k", type=positive_int("--k"), default=None, help=K_HELP)
        add_search_options(lp)
        lp.add_argument(
            "--min-confidence",
            type=fraction("--min-confidence"),
            default=default,
            metavar="C",
            help=f"only suggestions at least this confident (0..1, default: {default})",
        )
        if name == "suggest":
            lp.add_argument(
                "--order",
                choices=["certain", "uncertain"],
                default="certain",
                help="most certain first, or least (default: certain)",
            )
        _zero_shot_options(lp, name)
        _common(lp, run_suggest if name == "suggest" else run_accept)

    lp = lsub.add_parser("export", help="write every label as CSV or JSON")
    lp.add_argument(
        "output", type=Path, help="the file to write (its folder must exist), or - for standard output"
    )
    lp.add_argument("--format", choices=["csv", "json"], help="default: from the file's extension, else csv")
    lp.add_argument(
        "--raw",
        action="store_true",
        help="CSV cells exactly as stored (default: cells that start "
        "with = + - @ get a leading ' so that spreadsheets show them as text, not formulas)",
    )
    _common(lp, run_export)

    lp = lsub.add_parser("evaluate", help="leave-one-out accuracy and coverage at >= 95%% accuracy")
    lp.add_argument("--field", default=DEFAULT_FIELD, help=FIELD_HELP)
    lp.add_argument("--k", type=positive_int("--k"), default=DEFAULT_K, help=K_HELP)
    add_search_options(lp)
    lp.add_argument(
        "--plot",
        type=png_path,
        metavar="PNG",
        help="write the coverage/accuracy curve and the reliability diagram (confidence against the share "
        "right, raw and calibrated) as a PNG (default: none)",
    )
    lp.add_argument(
        "--groups",
        type=Path,
        metavar="CSV",
        help="CSV article,group: leave out the query's whole "
        "group (e.g. all colours of its style) to measure products without siblings (default: leave out "
        "the query article only)",
    )
    lp.add_argument(
        "--queries",
        type=query_count,
        default=MAX_QUERIES,
        metavar="N|all",
        help=f"ask at most N labelled articles, drawn at random; the others still vote (default: "
        f"{MAX_QUERIES}; all: every one)",
    )
    _common(lp, run_evaluate)

    lp = lsub.add_parser("set", help="set (or with no --value, clear) a label on articles, as one decision")
    lp.add_argument(
        "articles", nargs="+", metavar="ARTICLE", help="the articles to label (ids as `similar` shows them)"
    )
    lp.add_argument(
        "--value", default=None, help="the label (default: none; no value or an empty one clears it)"
    )
    lp.add_argument("--field", default=DEFAULT_FIELD, help=FIELD_HELP)
    lp.add_argument(
        "--force",
        action="store_true",
        help="overwrite a label another curator set (default: stop and show their decision)",
    )
    _common(lp, run_set)

    lp = lsub.add_parser("undo", help="undo the last label decision (a bulk accept or import as a whole)")
    lp.add_argument("--field", default=None, help="only decisions on this field (default: any)")
    lp.add_argument(
        "--force",
        action="store_true",
        help="undo it even where another curator changed a label since; theirs stays (default: stop "
        "and show their change)",
    )
    _common(lp, run_undo)


def _zero_shot_options(lp: argparse.ArgumentParser, command: str) -> None:
    lp.add_argument(
        "--zero-shot",
        action="store_true",
        help=f"{'suggest' if command == 'suggest' else 'accept suggestions made'} from the label names alone "
        "with the model's text side (CLIP models), no examples needed; the confidence is calibrated on the "
        "articles already labelled, if any (default: suggestions from the most similar labelled articles; "
        "--k and the search options are refused with it)",
    )
    lp.add_argument(
        "--labels",
        metavar="A,B,C",
        help="with --zero-shot: the label names to choose from, each VALUE or VALUE=words to say it "
        "with (default: the labels the field already has)",
    )
    lp.add_argument(
        "--prompt",
        action="append",
        metavar="TEXT",
        help=f"with --zero-shot: how a label is said, {{}} standing for it; repeat to average several "
        f'(default: "{DEFAULT_PROMPT}")',
    )


def _common(p: argparse.ArgumentParser, handler) -> None:
    add_db(p)
    add_json(p)
    p.set_defaults(handler=handler)


def run_import(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        rep = engine.import_labels(
            csv=args.csv, folder_level=args.folder_level, field=args.field, force=args.force
        )
    if args.json:
        emit_json(
            {
                "applied": rep.applied,
                "unchanged": rep.unchanged,
                "unknown": rep.unknown,
                "skipped_rows": rep.skipped_rows,
                "no_folder": rep.no_folder,
            }
        )
        return 0
    if rep.applied == 0 and rep.unchanged:
        where = f"in {safe(str(args.csv))}" if args.csv else f"from folder level {args.folder_level}"
        notes = [f"Nothing changed: every label {where} is already set so."]
    else:
        kept = f" ({rep.unchanged:,} already set so)" if rep.unchanged else ""
        notes = [f"Applied {plural(rep.applied, 'label')}{kept}."]
    if rep.unknown:
        notes.append(f"{len(rep.unknown):,} not in the catalog: " + _sample(rep.unknown))
    if rep.no_folder:
        notes.append(
            f"{len(rep.no_folder):,} {'has' if len(rep.no_folder) == 1 else 'have'} no folder at level "
            f"{args.folder_level}: " + _sample(rep.no_folder)
        )
    if rep.skipped_rows:
        notes.append(f"{plural(rep.skipped_rows, 'row')} without a label left out.")
    print(" ".join(notes))
    return 0


def _sample(names: list[str]) -> str:
    return safe(", ".join(names[:10])) + (" ..." if len(names) > 10 else "") + "."


def run_export(args: argparse.Namespace) -> int:
    from desktop_app.core.label_files import export_format

    to_stdout = str(args.output) == "-"
    refuse_ignored(
        {"--raw": args.raw and export_format(None if to_stdout else args.output, args.format) == "json"},
        "in a JSON export (only CSV cells are guarded for spreadsheets)",
    )
    if to_stdout:  # standard output, for a pipe; the count goes to stderr
        with open_engine(args) as engine:
            n = engine.export_labels(None, args.format, raw=args.raw, stream=sys.stdout)
        print(f"Wrote {plural(n, 'label')}", file=sys.stderr)
        return 0
    with open_engine(args) as engine:
        check_output_path(args.output, "labels export")
        n = engine.export_labels(args.output, args.format, raw=args.raw)
    emit_json({"written": n, "path": str(args.output)}) if args.json else print(
        f"Wrote {plural(n, 'label')} to {args.output}"
    )
    return 0


def run_set(args: argparse.Namespace) -> int:
    clearing = not args.value  # an empty value clears the label, as no value does
    with open_engine(args) as engine:
        n = engine.set_labels(args.articles, args.field, args.value or None, force=args.force)
    if args.json:
        emit_json({"updated": n, "cleared": clearing})
    elif n == 0:  # nothing logged either: there is no decision to undo
        print(
            "Nothing changed: "
            + ("no article had that label." if clearing else "every article already has that label.")
        )
    else:
        print(f"{'Cleared' if clearing else 'Updated'} {plural(n, 'label')}")
    return 0


def run_undo(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        undone = engine.undo(args.field, force=args.force)
    if args.json:
        emit_json({"undone": undone[0] if undone else None, "events": undone})
    elif not undone:
        print("Nothing to undo.")
    else:
        back = [ev for ev in undone if not ev.get("kept")]
        if len(back) == 1 and len(undone) == 1:
            ev = back[0]
            print(
                f"Undid {ev['action']} of {safe(ev['article'])} ({safe(ev['field'])}): back to "
                f"{safe(ev['old_value'] or '(none)')}"
            )
        elif back:
            print(f"Undid one {undone[0]['action']} decision on {plural(len(back), 'article')}.")
        for ev in [ev for ev in undone if ev.get("kept")][:5]:
            k = ev["kept"]
            print(
                safe(
                    f"Kept {ev['article']} ({ev['field']}) = {k['value'] or '(none)'}: {k['curator'] or 'someone'} "
                    "changed it since, and that stands."
                )
            )
    return 0


def _label_names(args: argparse.Namespace) -> list[str] | None:
    """--labels a,b,c as a list (blanks dropped); None without --labels (the field's own labels)."""
    if args.labels is None:
        return None
    names = [x for x in args.labels.split(",") if x.strip()]
    if not names:
        raise InputError("--labels names no label; give them as a,b,c, or leave --labels out.")
    return names


def run_zero_shot(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        result = engine.zero_shot(args.field, _label_names(args), args.prompt or [DEFAULT_PROMPT])
    for s in result.suggestions:
        if s.confidence < args.min_confidence:
            s.label = None
    if args.order == "uncertain":
        result.suggestions.sort(key=lambda s: (s.confidence, s.article))
    if args.json:
        emit_json(result.to_dict())
        return 0
    print(safe(result.describe()))
    _print_suggestions(result.suggestions)
    return 0


def _fraction(value: float) -> str:
    """A confidence to two decimals, rounded down as the review queue shows it (0.9965 is not 1.00: a
    calibrated confidence never is), and "<0.01" below that rather than a "0.00" beside a runner-up."""
    if value < 0.01:
        return "<0.01"
    return f"{math.floor(round(value * 100, 6)) / 100:.2f}"


def _with_votes(e) -> str:
    """A label's confidence and what it rests on: how many neighbours voted for it, or (zero-shot) the
    similarity of its words to the photos."""
    if e.neighbours or e.similarity is not None:
        return f"{_fraction(e.confidence)} ({e.short()})"
    return _fraction(e.confidence)


def _print_suggestions(suggestions) -> None:
    for s in suggestions:
        # The runners-up on the confidence's own scale (calibrated or not), never raw votes beside it; the
        # votes as counts, since two close neighbours can outweigh five far ones.
        shown = s.evidence()
        alts = ", ".join(f"{safe(e.label)} {_with_votes(e)}" for e in shown[1:])
        best = _with_votes(shown[0]) if shown else _fraction(s.confidence)
        print(
            f"{safe(s.article):<32} {safe(s.label or '(no suggestion)'):<22} {best}"
            + (f"   also: {alts}" if alts else "")
        )


def check_zero_shot_options(args: argparse.Namespace) -> None:
    """Refuse the options of the other kind of suggestion: --k and the search options do nothing with
    --zero-shot (the label names choose), --labels and --prompt nothing without it."""
    if args.zero_shot:
        refuse_ignored(
            {
                "--k": args.k is not None,
                "--method": args.method is not None,
                "--threshold": args.threshold is not None,
                "--max-matches": args.max_matches is not None,
            },
            "with --zero-shot (the label names choose, not the most similar labelled articles)",
        )
    elif args.labels or args.prompt:
        raise InputError("--labels and --prompt belong to --zero-shot suggestions.")


def run_suggest(args: argparse.Namespace) -> int:
    check_zero_shot_options(args)
    if args.zero_shot:
        return run_zero_shot(args)
    with Bar(not args.json, "article", "Suggesting") as bar:
        with open_engine(args) as engine:
            suggestions = engine.suggest(
                args.field,
                args.k or DEFAULT_K,
                args.min_confidence,
                args.order,
                search_params(engine, args),
                progress=bar.update,
            )
    if args.json:
        emit_json([s.to_dict() for s in suggestions])
        return 0
    _print_suggestions(suggestions)
    return 0


def run_accept(args: argparse.Namespace) -> int:
    check_zero_shot_options(args)
    conflicts: list[dict] = []
    if args.zero_shot:
        with open_engine(args) as engine:
            n = engine.accept_zero_shot(
                args.field,
                _label_names(args),
                args.prompt or [DEFAULT_PROMPT],
                args.min_confidence,
                conflicts,
            )
    else:
        with Bar(not args.json, "article", "Suggesting") as bar, open_engine(args) as engine:
            n = engine.accept(
                args.field,
                args.min_confidence,
                args.k or DEFAULT_K,
                search_params(engine, args),
                conflicts,
                progress=bar.update,
            )
    if args.json:
        emit_json({"accepted": n, "conflicts": conflicts})
    else:
        undo = " (one decision: `lookalike labels undo` takes it back)" if n else ""
        kind = "zero-shot " if args.zero_shot else ""
        print(f"Accepted {plural(n, kind + 'suggestion')} with confidence >= {args.min_confidence:.2f}{undo}")
        if conflicts:
            print(
                f"Left {plural(len(conflicts), 'article')} another curator labelled meanwhile: "
                + safe(", ".join(c["article"] for c in conflicts[:10]))
            )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from desktop_app.core.label_plot import plot_evaluation
    from desktop_app.core.labels import curve_table

    with open_engine(args) as engine:
        if args.plot:
            check_output_path(args.plot, "plot", PNG)
        params = search_params(engine, args)
        result = engine.evaluate_labels(args.field, args.k, args.groups, params, max_queries=args.queries)
        if args.plot:  # with the catalog open: its own files and photos are refused
            plot_evaluation(result, args.plot, _scope(args))
    table = curve_table(result)
    if args.json:
        emit_json({**result.to_dict(), "table": table})
        return 0
    print_evaluation(result, table, params.describe(), args)
    return 0


def _percent(x: float | None, width: int) -> str:
    """A share for a table column; "-" when it is undefined (an accuracy with no suggestion kept)."""
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.1%}"


def _scope(args: argparse.Namespace) -> str:
    return "leave-group-out" if args.groups else "leave-one-out"


def print_evaluation(result, table: list[dict], setting: str, args: argparse.Namespace) -> None:
    scope = _scope(args)
    drawn = f" (drawn at random from {result.n_labelled:,})" if result.n < result.n_labelled else ""
    print(
        f"{scope} over {plural(result.n, 'labelled article')}{drawn} ({plural(result.n_labels, 'label')}), "
        f"{setting}, k={args.k}"
    )
    if result.n_unconfirmed:
        print(
            f"Not asked: {plural(result.n_unconfirmed, 'label')} accepted in bulk from suggestions (they vote, "
            "but are no truth to score suggestions on; setting one by hand confirms it)"
        )
    print(f"Accuracy at full coverage: {result.accuracy:.1%}")
    t95 = f" (confidence >= {result.threshold_at_95:.2f})" if result.threshold_at_95 is not None else ""
    print(f"Coverage at >= 95% accuracy: {result.coverage_at_95:.1%}{t95}")
    print(f"{'min confidence':>15}{'coverage':>10}{'accuracy':>10}")
    for r in table:
        print(f"{r['min_confidence']:>15.2f}{r['coverage']:>10.1%}{_percent(r['accuracy'], 10)}")
    raw = f"Calibration: expected calibration error {result.ece_raw:.3f} for the raw vote shares"
    if result.not_calibrated:
        print(
            f"{raw}; no calibration fitted ({result.not_calibrated}), so confidences are the raw vote shares"
        )
    else:
        print(
            f"{raw}, {result.ece_calibrated:.3f} for calibrated confidences (fitted on the other half of the "
            "articles)"
        )
    print(f"{'confidence':>15}{'suggestions':>13}{'mean':>8}{'right':>8}")
    for b in result.reliability:
        print(f"{b['low']:>8.1f}-{b['high']:<6.1f}{b['n']:>13}{b['confidence']:>8.1%}{b['accuracy']:>8.1%}")
    if result.note:
        print(f"Note: {result.note}")
