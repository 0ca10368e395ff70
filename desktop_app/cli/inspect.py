"""`lookalike inspect A B`: why two articles match: the similarity matrix and the pairs each method chose."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import (
    add_db,
    add_json,
    add_search_options,
    emit_json,
    method_list,
    open_engine,
    png_path,
    refuse_ignored,
    safe,
    score_text,
)
from desktop_app.core import matching
from desktop_app.core.export_targets import PNG, TEXT
from desktop_app.core.files import check_output_path

# Why a chosen pair does not count in the score, as the search options name it.
LEFT_OUT = {matching.BELOW_THRESHOLD: "below s", matching.BEYOND_M: "beyond m"}


def register(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="why two articles match: similarity matrix and each method's pairs",
        description="The cosine similarity of every photo of A (rows) with every photo of B "
        "(columns), and the pairs greedy, Hungarian, ordered, centroid and best-pair choose, "
        "with the catalog's s and m unless given.",
    )
    p.add_argument("article_a", help="the first article id (rows)")
    p.add_argument("article_b", help="the second article id (columns)")
    p.add_argument(
        "--method",
        type=method_list,
        metavar="M[,M2]",
        help="with --png: the method(s) the PNG draws, side by side (default: the catalog's method; the "
        "text and JSON show every method)",
    )
    add_search_options(p, method=False)
    p.add_argument(
        "--png",
        type=png_path,
        metavar="FILE",
        help="write the matrix view as a PNG, drawn with the methods of --method (comma-separated; default: none)",
    )
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the matrix as CSV (default: none)")
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.inspect import compare_line, photos_note, render_png

    refuse_ignored(
        {"--method": args.method is not None and not args.png},
        "without --png FILE (the text and JSON show every method)",
        "add --png FILE, or leave {it} out",
    )
    png_note = None
    with open_engine(args) as engine:
        for path, what, kind in ((args.csv, "matrix CSV", TEXT), (args.png, "matrix picture", PNG)):
            if path is not None:
                check_output_path(path, what, kind)  # before any work: a wrong target fails at once
        params = engine.search_settings(None, args.threshold, args.max_matches)
        ins = engine.inspect(args.article_a, args.article_b, params)
        if args.csv:
            ins.write_csv(args.csv)
        if args.png:
            root = engine.photo_root()
            render_png(ins, args.method or params.method, args.png, root)
            png_note = photos_note(ins, root)  # what the picture says above its panels, said here too
    if args.json:
        emit_json({**ins.to_dict(), "png_note": png_note})
        return 0
    width = max(len(safe(p)) for p in ins.paths_a)
    print(f"{safe(args.article_a)} (rows) vs {safe(args.article_b)} (columns)")
    for j, p in enumerate(ins.paths_b, 1):
        print(f"  col {j}: {safe(p)}" + (f" [{safe(ins.views_b[j - 1])}]" if ins.views_b[j - 1] else ""))
    print(" " * (width + 2) + "".join(f"{'col ' + str(j):>9}" for j in range(1, len(ins.paths_b) + 1)))
    for i, p in enumerate(ins.paths_a):
        print(f"{safe(p):<{width}}  " + "".join(f"{v:>9.3f}" for v in ins.matrix[i]))
    for m, res in ins.results.items():
        pairs = ", ".join(
            f"({p.row + 1},{p.col + 1}) {p.sim:.3f}{'' if p.used else ' [' + LEFT_OUT[p.reason] + ']'}"
            for p in res.pairs
        )
        print(
            f"{m:<10} score {score_text(res.score)}  {pairs}"
            + (f"  (fell back to {res.fallback})" if res.fallback else "")
        )
    print(compare_line(ins))
    if png_note:
        print(f"Note: {safe(png_note)}")
    return 0
