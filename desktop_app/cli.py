"""The `lookalike` command: a thin front end over desktop_app.core for scripting.

Every subcommand takes --db (the catalog file) and --json. Without arguments it starts the desktop app.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from desktop_app import __version__
from desktop_app.cli_models import add_models_parser
from desktop_app.core.errors import UserError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        type=Path,
        help="catalog file (default: the photo folder's catalog in the user "
        "data folder, or the catalog used last)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lookalike", description="Find look-alike products in photo folders."
    )
    parser.add_argument("--version", action="version", version=f"lookalike {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("index", help="index a photo folder into its catalog (incremental)")
    p.add_argument("photos_dir", type=Path)
    p.add_argument(
        "--pattern",
        help="group by file name: regex over the stem with a named group 'article' "
        "and optionally 'view'; 'magento' for <article>_<view> names",
    )
    p.add_argument("--folders", action="store_true", help="group by folder (one article per folder)")
    p.add_argument("--model", help="model name, or a model's .onnx / .manifest.json file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, help="decode threads")
    fit = p.add_mutually_exclusive_group()
    fit.add_argument(
        "--letterbox",
        action="store_true",
        help="fit whole photos into the model input, padded white (stored with the catalog)",
    )
    fit.add_argument("--crop", action="store_true", help="back to the model's own resize and crop")
    mir = p.add_mutually_exclusive_group()
    mir.add_argument(
        "--mirror",
        action="store_true",
        default=None,
        help="average each photo's vector with its mirror image's (twice the work; stored)",
    )
    mir.add_argument("--no-mirror", dest="mirror", action="store_false", help="turn mirror averaging off")
    p.add_argument("--no-progress", action="store_true")
    _add_common(p)

    p = sub.add_parser("stats", help="catalog counts, grouping rule, model, skipped files")
    _add_common(p)

    p = sub.add_parser("similar", help="most similar articles (or photos) for a query")
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--article", help="query by one article id")
    q.add_argument("--articles", nargs="+", help="query by several articles taken together")
    q.add_argument("--image", nargs="+", type=Path, help="query by photo files (need not be in the catalog)")
    p.add_argument("--photos", action="store_true", help="list nearest photos instead of articles")
    p.add_argument("--method", default=None, help="greedy, hungarian, ordered, centroid or max")
    p.add_argument("--threshold", type=float, default=None, help="s: pairs below this are left out")
    p.add_argument("--max-matches", type=int, default=None, help="m: only the m best pairs count")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--label", help="only articles with this label (FIELD=VALUE or VALUE for category)")
    p.add_argument("--folder", help="only articles under this folder prefix")
    _add_common(p)

    p = sub.add_parser("inspect", help="why two articles match: similarity matrix and each method's pairs")
    p.add_argument("article_a")
    p.add_argument("article_b")
    p.add_argument("--method", default="greedy", help="method drawn in the PNG")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--max-matches", type=int, default=None)
    p.add_argument("--png", type=Path, help="write the matrix view as a PNG")
    p.add_argument("--csv", type=Path, help="write the matrix as CSV")
    _add_common(p)

    for name, text in [
        ("evaluate", "measure search quality per method (Recall@K, mAP)"),
        ("tune", "grid over method, s and m; store the best as the catalog default"),
    ]:
        p = sub.add_parser(name, help=text)
        proto = p.add_mutually_exclusive_group(required=True)
        proto.add_argument("--groups", type=Path, help="CSV with columns article, group")
        proto.add_argument("--split", action="store_true", help="split articles into halves and re-find them")
        p.add_argument(
            "--min-photos", type=int, default=2, help="with --split: articles with at least this many"
        )
        p.add_argument("--seed", type=int, default=0)
        if name == "evaluate":
            p.add_argument("--method", nargs="+", default=None, help="methods (default: all)")
        _add_common(p)

    p = sub.add_parser("labels", help="import, suggest, accept, export and evaluate article labels")
    lsub = p.add_subparsers(dest="labels_command", required=True)
    lp = lsub.add_parser("import", help="labels from a CSV (article|path, label[, field]) or folder names")
    src = lp.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path)
    src.add_argument("--folder-level", type=int, help="use the folder at this depth (0 = top) as label")
    lp.add_argument("--field", default="category")
    _add_common(lp)
    for name, text in [
        ("suggest", "suggest labels for unlabelled articles"),
        ("accept", "accept suggestions with at least --min-confidence"),
    ]:
        lp = lsub.add_parser(name, help=text)
        lp.add_argument("--field", default="category")
        lp.add_argument("--k", type=int, default=10, help="labelled neighbours that vote")
        lp.add_argument("--method", default=None)
        lp.add_argument("--min-confidence", type=float, default=0.0 if name == "suggest" else 0.8)
        lp.add_argument("--order", choices=["certain", "uncertain"], default="certain")
        _add_common(lp)
    lp = lsub.add_parser("export", help="write labels as CSV or JSON")
    lp.add_argument("output", type=Path)
    lp.add_argument("--format", choices=["csv", "json"])
    _add_common(lp)
    lp = lsub.add_parser("evaluate", help="leave-one-out accuracy and coverage at >= 95% accuracy")
    lp.add_argument("--field", default="category")
    lp.add_argument("--k", type=int, default=10)
    lp.add_argument("--method", default=None)
    lp.add_argument("--plot", type=Path, help="write the coverage/accuracy curve as a PNG")
    lp.add_argument(
        "--groups",
        type=Path,
        help="CSV article,group: leave out the query's whole group "
        "(e.g. all colours of its style) to measure products without siblings",
    )
    _add_common(lp)
    lp = lsub.add_parser("set", help="set (or with no value, clear) a label on articles")
    lp.add_argument("articles", nargs="+")
    lp.add_argument("--value", default=None)
    lp.add_argument("--field", default="category")
    _add_common(lp)
    lp = lsub.add_parser("undo", help="undo the last label decision")
    lp.add_argument("--field", default=None)
    _add_common(lp)

    p = sub.add_parser("gui", help="start the desktop app")
    p.add_argument("--db", type=Path)
    p = sub.add_parser("demo", help="index the bundled sample photos into a new catalog and open the app")
    p.add_argument("--no-gui", action="store_true", help="index and print a query, without the window")
    p.add_argument("--dir", type=Path, help="where to put the demo copy (default: user data folder)")
    _add_common(p)

    add_models_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not argv:
        return _run_gui(None)
    args = build_parser().parse_args(argv)
    if args.command is None:
        return _run_gui(None)
    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    try:
        return int(handler(args) or 0)
    except UserError as exc:
        _fail(args, str(exc))
        return 2
    except KeyboardInterrupt:
        print("Interrupted; the catalog keeps everything committed so far.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours. Silence the flush at exit.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _fail(args, message: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}))
    print(f"lookalike: {message}", file=sys.stderr)


def _open_catalog(args, photo_dir: Path | None = None, create: bool = False):
    from desktop_app.core.catalog import Catalog
    from desktop_app.core.paths import default_catalog_path
    from desktop_app.core.state import last_catalog, remember_catalog

    db = args.db
    if db is None and photo_dir is not None:
        db = default_catalog_path(photo_dir)
    if db is None:
        db = last_catalog()
        if db is None:
            raise UserError("No catalog yet. Index a folder first: lookalike index PHOTOS_DIR")
    catalog = Catalog(db, create=create)
    remember_catalog(catalog.path)
    return catalog


def _rule_from_args(args):
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule

    if args.pattern and args.folders:
        raise UserError("Choose either --pattern or --folders, not both.")
    if args.pattern:
        return GroupingRule("pattern", MAGENTO_PATTERN if args.pattern == "magento" else args.pattern)
    if args.folders:
        return GroupingRule("folder")
    return None


def cmd_index(args) -> int:
    from desktop_app.core.indexer import IndexOptions, index_folder

    if not args.photos_dir.exists():
        raise UserError(f"The photo folder {args.photos_dir} does not exist.")
    rule = _rule_from_args(args)
    with _open_catalog(args, photo_dir=args.photos_dir, create=True) as catalog:
        opts = IndexOptions(
            batch_size=args.batch_size,
            workers=args.workers,
            device=args.device,
            resize="letterbox" if args.letterbox else "model" if args.crop else None,
            mirror=args.mirror,
        )
        bar = None
        show = not args.no_progress and not args.json and sys.stderr.isatty()

        def progress(p) -> None:
            nonlocal bar
            if not show or p.total == 0:
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=p.total, unit="photo", desc="Embedding", file=sys.stderr)
            bar.n = p.done
            bar.refresh()

        try:
            summary = index_folder(
                catalog, args.photos_dir, rule=rule, model=args.model, options=opts, progress=progress
            )
        finally:
            if bar is not None:
                bar.close()
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    s = summary
    print(f"Catalog   {s.catalog}")
    print(f"Grouping  {s.rule}")
    print(f"Model     {s.model} on {s.device}")
    print(f"Articles  {s.articles}   photos {s.photos}")
    print(
        f"This run  new {s.new}, changed {s.changed}, moved {s.moved}, removed {s.removed}, "
        f"re-embedded {s.reembedded}, unchanged {s.unchanged}"
    )
    if s.unmatched:
        print(f"          {s.unmatched} photos did not match the pattern and are single-photo articles")
    if s.skipped:
        print("Skipped   " + ", ".join(f"{n} {reason}" for reason, n in sorted(s.skipped.items())))
        for item in s.skipped_files[:10]:
            print(f"          {item['path']}: {item['message']}")
        if len(s.skipped_files) > 10:
            print(f"          ... and {len(s.skipped_files) - 10} more (lookalike stats)")
    print(f"Time      {s.seconds:.1f} s, {s.photos_per_s:.1f} photos/s embedded")
    if s.cancelled:
        print("Cancelled: run the same command again to continue.")
    return 0


def cmd_stats(args) -> int:
    with _open_catalog(args) as catalog:
        settings = catalog.settings()
        counts = catalog.counts()
        last = catalog.last_run()
        info = {
            "catalog": str(catalog.path),
            "schema_version": catalog.schema_version(),
            "photo_root": settings.get("photo_root"),
            "grouping": settings.get("grouping") or {"kind": "folder"},
            "model": settings.get("model"),
            "counts": counts,
            "last_run": last,
            "skipped": catalog.skipped(),
            "size_bytes": catalog.path.stat().st_size,
        }
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    from desktop_app.core.scan import GroupingRule

    print(f"Catalog   {info['catalog']} ({info['size_bytes'] / 1e6:.1f} MB, schema {info['schema_version']})")
    print(f"Photos in {info['photo_root']}")
    print(f"Grouping  {GroupingRule.from_dict(info['grouping']).describe()}")
    print(f"Model     {info['model']}")
    print(
        f"Articles  {counts['articles']}   photos {counts['photos']} ({counts['photos_ok']} usable, "
        f"{counts['photos_error']} skipped)   labelled articles {counts['labelled_articles']}"
    )
    for model_id, n in counts["vectors_by_model"].items():
        print(f"Vectors   {n} from {model_id}")
    if last:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last["started_at"]))
        print(f"Last run  {when}, {last['status']}")
    if info["skipped"]:
        print("Skipped files:")
        for item in info["skipped"]:
            print(f"  {item['path']}: {item['reason']} ({item['message']})")
    return 0


def cmd_similar(args) -> int:
    from desktop_app.core.encoder import Encoder
    from desktop_app.core.indexer import catalog_model, catalog_model_id, embed_files, preprocessing

    with _open_catalog(args) as catalog:
        model = catalog_model(catalog)
        model_id = catalog_model_id(catalog, model)
        av = catalog.article_vectors(model_id)
        if av.n_photos == 0:
            raise UserError(
                "The catalog has no embedded photos for its model yet; run lookalike index first."
            )
        queries = None
        if args.image:
            resize, mirror = preprocessing(catalog, model.manifest)
            queries, _, problems = embed_files(Encoder(model, device="auto"), args.image, resize, mirror)
            if problems:
                raise UserError("; ".join(problems))
        if args.photos:
            return _similar_photos(args, av, queries)
        return _similar_articles(args, catalog, av, queries)


def _similar_photos(args, av, queries) -> int:
    import numpy as np

    if queries is None:
        idx = [av.article_index(a) for a in (args.articles or [args.article])]
        queries = np.concatenate([av.article_matrix(i) for i in idx])
        exclude = set(idx)
    else:
        exclude = set()
    sims = (queries @ av.vectors.T).max(axis=0)
    order = np.argsort(-sims, kind="stable")
    hits = []
    for row in order:
        if int(av.article_of_row[row]) in exclude:
            continue
        hits.append(
            {
                "path": av.paths[row],
                "article": av.articles[av.article_of_row[row]],
                "score": round(float(sims[row]), 4),
            }
        )
        if len(hits) >= args.top:
            break
    if args.json:
        print(json.dumps({"photos": hits}, indent=2))
    else:
        for h in hits:
            print(f"{h['score']:.3f}  {h['article']:<30} {h['path']}")
    return 0


def _search_defaults(catalog, args) -> tuple[str, float | None, int | None]:
    method = getattr(args, "method", None) or catalog.get_setting("method") or "greedy"
    threshold = (
        args.threshold if getattr(args, "threshold", None) is not None else catalog.get_setting("threshold")
    )
    m = (
        args.max_matches
        if getattr(args, "max_matches", None) is not None
        else catalog.get_setting("max_matches")
    )
    return method, threshold, m


def _similar_articles(args, catalog, av, queries) -> int:
    from desktop_app.core.search import SearchIndex

    method, threshold, m = _search_defaults(catalog, args)
    index = SearchIndex(av)
    label = args.label
    if label and "=" not in label:
        label = f"category={label}"
    if queries is not None:
        query = queries
    else:
        names = args.articles or [args.article]
        for name in names:
            if name not in av:
                raise UserError(f"Article {name!r} is not in the catalog or has no embedded photo.")
        query = names if args.articles else names[0]
    try:
        res = index.search(
            query,
            method,
            args.top,
            threshold=threshold,
            max_matches=m,
            label=label,
            folder=args.folder,
            n_pairs=3,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(
            json.dumps(
                {
                    "method": method,
                    "threshold": threshold,
                    "max_matches": m,
                    "mode": res.mode,
                    "elapsed_ms": round(res.elapsed_ms, 2),
                    "hits": [
                        {
                            "article": h.article,
                            "score": _num(h.score),
                            "passed": h.passed,
                            "fallback": h.fallback,
                            "pairs": [
                                {
                                    "query_path": p.query_path,
                                    "path": p.path,
                                    "sim": round(p.sim, 4),
                                    "rank": p.rank,
                                    "used": p.used,
                                    "reason": p.reason,
                                }
                                for p in h.pairs
                            ],
                        }
                        for h in res.hits
                    ],
                },
                indent=2,
            )
        )
        return 0
    opts = f"s={threshold}" if threshold is not None else ""
    opts += f" m={m}" if m is not None else ""
    print(f"Method {method} {opts}  ({res.mode}, {res.elapsed_ms:.1f} ms)")
    for rank, h in enumerate(res.hits, 1):
        best = h.pairs[0] if h.pairs else None
        why = f"best pair {best.sim:.3f}: {best.query_path or 'query'} ~ {best.path}" if best else ""
        print(f"{rank:>3}. {_num(h.score) if _num(h.score) is not None else 'n/a':<7} {h.article:<32} {why}")
    return 0


def _num(x: float) -> float | None:
    import math

    return round(float(x), 4) if math.isfinite(x) else None


def _catalog_vectors(catalog):
    from desktop_app.core.indexer import catalog_model, catalog_model_id

    model = catalog_model(catalog)
    av = catalog.article_vectors(catalog_model_id(catalog, model))
    if av.n_photos == 0:
        raise UserError("The catalog has no embedded photos for its model yet; run lookalike index first.")
    return model, av


def cmd_inspect(args) -> int:
    from desktop_app.core.inspect import compare_line, inspect_articles, render_png

    with _open_catalog(args) as catalog:
        _, av = _catalog_vectors(catalog)
        missing = {}
        for art in (args.article_a, args.article_b):
            missing[art] = [r.path for r in catalog.photos_of(art) if r.status != "ok"]
        try:
            ins = inspect_articles(
                av, args.article_a, args.article_b, args.threshold, args.max_matches, missing
            )
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        if args.csv:
            ins.write_csv(args.csv)
        if args.png:
            render_png(ins, args.method, args.png, catalog.photo_root())
    if args.json:
        print(json.dumps(ins.to_dict(), indent=2))
        return 0
    width = max(len(p) for p in ins.paths_a)
    print(f"{args.article_a} (rows) vs {args.article_b} (columns)")
    for j, p in enumerate(ins.paths_b, 1):
        print(f"  col {j}: {p}" + (f" [{ins.views_b[j - 1]}]" if ins.views_b[j - 1] else ""))
    print(" " * (width + 2) + "".join(f"{'col ' + str(j):>9}" for j in range(1, len(ins.paths_b) + 1)))
    for i, p in enumerate(ins.paths_a):
        print(f"{p:<{width}}  " + "".join(f"{v:>9.3f}" for v in ins.matrix[i]))
    for m, res in ins.results.items():
        pairs = ", ".join(
            f"({p.row + 1},{p.col + 1}) {p.sim:.3f}{'' if p.used else ' [' + p.reason + ']'}"
            for p in res.pairs
        )
        score = _num(res.score)
        print(
            f"{m:<10} score {score if score is not None else 'n/a'}  {pairs}"
            + (f"  (fell back to {res.fallback})" if res.fallback else "")
        )
    print(compare_line(ins))
    return 0


def _eval_setup(args, catalog):
    from desktop_app.core import evaluate as ev

    _, av = _catalog_vectors(catalog)
    if args.groups:
        return ev.group_queries(av, ev.read_groups(args.groups))
    return ev.split_queries(av, args.min_photos, args.seed)


def _print_scores(scores, title: str) -> None:
    print(title)
    print(f"{'method':<26}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'mAP':>7}")
    for s in scores:
        print(f"{s.label:<26}{s.recall[1]:>7.3f}{s.recall[5]:>7.3f}{s.recall[10]:>7.3f}{s.map:>7.3f}")


def cmd_evaluate(args) -> int:
    from desktop_app.core import evaluate as ev

    with _open_catalog(args) as catalog:
        index, queries = _eval_setup(args, catalog)
        specs = [ev.MethodSpec(m) for m in args.method] if args.method else ev.default_specs()
        try:
            scores = ev.evaluate(index, queries, specs)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    protocol = (
        f"groups from {args.groups}" if args.groups else f"split (articles with >= {args.min_photos} photos)"
    )
    if args.json:
        print(
            json.dumps(
                {"protocol": protocol, "queries": len(queries), "results": [s.to_dict() for s in scores]},
                indent=2,
            )
        )
    else:
        _print_scores(scores, f"{protocol}: {len(queries)} queries over {index.n_articles} articles")
    return 0


def cmd_tune(args) -> int:
    from desktop_app.core import evaluate as ev

    with _open_catalog(args) as catalog:
        index, queries = _eval_setup(args, catalog)
        scores = ev.evaluate(index, queries, ev.tuning_grid())
        top = ev.best(scores)
        catalog.set_settings(method=top.method, threshold=top.threshold, max_matches=top.max_matches)
    scores_sorted = sorted(scores, key=lambda s: (-s.map, -s.recall[1]))
    if args.json:
        print(json.dumps({"best": top.to_dict(), "results": [s.to_dict() for s in scores_sorted]}, indent=2))
    else:
        _print_scores(
            scores_sorted, f"{len(queries)} queries; grid of {len(scores) - 1} settings, best first"
        )
        print(f"Stored as the catalog default: {top.label} (mAP {top.map:.3f}, R@1 {top.recall[1]:.3f})")
    return 0


def cmd_labels(args) -> int:
    from desktop_app.core import labels as lab

    with _open_catalog(args) as catalog:
        cmd = args.labels_command
        if cmd == "import":
            if args.csv:
                rep = lab.import_csv_labels(catalog, args.csv, args.field)
            else:
                rep = lab.import_folder_labels(catalog, args.folder_level, args.field)
            out = {"applied": rep.applied, "unknown": rep.unknown, "skipped_rows": rep.skipped_rows}
            if args.json:
                print(json.dumps(out, indent=2))
            else:
                print(
                    f"Applied {rep.applied} labels."
                    + (
                        f" {len(rep.unknown)} not in the catalog: " + ", ".join(rep.unknown[:10])
                        if rep.unknown
                        else ""
                    )
                )
            return 0
        if cmd == "export":
            n = lab.export_labels(catalog, args.output, args.format)
            print(
                json.dumps({"written": n, "path": str(args.output)})
                if args.json
                else f"Wrote {n} labels to {args.output}"
            )
            return 0
        if cmd == "set":
            unknown = [a for a in args.articles if a not in set(catalog.article_keys())]
            if unknown:
                raise UserError(f"Not in the catalog: {', '.join(unknown)}")
            catalog.set_labels([(a, args.field, args.value) for a in args.articles])
            print(
                json.dumps({"updated": len(args.articles)}) if args.json else f"Updated {len(args.articles)}"
            )
            return 0
        if cmd == "undo":
            ev = catalog.undo_last_label_event(args.field)
            if args.json:
                print(json.dumps({"undone": ev}, default=str))
            else:
                print(
                    "Nothing to undo."
                    if ev is None
                    else f"Undid {ev['action']} of {ev['article']} ({ev['field']}): back to {ev['old_value'] or '(none)'}"
                )
            return 0
        from desktop_app.core.search import SearchIndex

        _, av = _catalog_vectors(catalog)
        index = SearchIndex(av)
        method = args.method or catalog.get_setting("method") or "greedy"
        if cmd == "evaluate":
            labels = {a: d[args.field] for a, d in catalog.labels(args.field).items()}
            from desktop_app.core.evaluate import read_groups

            groups = read_groups(args.groups) if args.groups else None
            result = lab.evaluate_labels(index, labels, args.field, args.k, method, groups=groups)
            if args.plot:
                lab.plot_curve(result, args.plot)
            table = lab.curve_table(result)
            if args.json:
                print(json.dumps({**result.to_dict(), "table": table}, indent=2))
            else:
                scope = "leave-group-out" if groups else "leave-one-out"
                print(
                    f"{scope} over {result.n} labelled articles ({result.n_labels} labels), {method}, k={args.k}"
                )
                print(f"Accuracy at full coverage: {result.accuracy:.1%}")
                t95 = (
                    f" (confidence >= {result.threshold_at_95:.2f})"
                    if result.threshold_at_95 is not None
                    else ""
                )
                print(f"Coverage at >= 95% accuracy: {result.coverage_at_95:.1%}{t95}")
                print(f"{'min confidence':>15}{'coverage':>10}{'accuracy':>10}")
                for r in table:
                    print(f"{r['min_confidence']:>15.2f}{r['coverage']:>10.1%}{r['accuracy']:>10.1%}")
            return 0
        suggestions = lab.suggest_unlabelled(
            catalog, index, args.field, args.k, method, args.min_confidence, args.order
        )
        if cmd == "accept":
            chosen = [s for s in suggestions if s.label is not None and s.confidence >= args.min_confidence]
            catalog.set_labels(
                [(s.article, args.field, s.label) for s in chosen], source="accepted", action="accept"
            )
            print(
                json.dumps({"accepted": len(chosen)})
                if args.json
                else f"Accepted {len(chosen)} suggestions with confidence >= {args.min_confidence:.2f}"
            )
            return 0
        if args.json:
            print(json.dumps([s.to_dict() for s in suggestions], indent=2))
        else:
            for s in suggestions:
                alts = ", ".join(f"{a} {c:.2f}" for a, c in s.alternatives[1:])
                print(
                    f"{s.article:<32} {s.label or '(no suggestion)':<22} {s.confidence:.2f}"
                    + (f"   also: {alts}" if alts else "")
                )
        return 0


def _has_display() -> bool:
    import os

    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_gui(args) -> int:
    return _run_gui(args.db)


def _missing_qt_system_libs() -> str | None:
    """Qt's X11 plugin aborts the process without libxcb-cursor; say so before that happens."""
    import ctypes.util
    import os

    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return (
            "No screen found (DISPLAY is not set). Run Lookalike on a desktop, or use the CLI "
            "(lookalike --help)."
        )
    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt needs the system library libxcb-cursor0 to open a window on X11. Install it "
            "(Debian/Ubuntu: sudo apt-get install libxcb-cursor0) and start Lookalike again."
        )
    xcb_name = ctypes.util.find_library("xcb")
    if xcb_name:
        xcb = ctypes.CDLL(xcb_name)
        xcb.xcb_connect.restype = ctypes.c_void_p
        xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
        xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
        conn = xcb.xcb_connect(None, None)
        failed = xcb.xcb_connection_has_error(conn)
        xcb.xcb_disconnect(conn)
        if failed:
            return f"Cannot connect to the display {os.environ['DISPLAY']}. Is the desktop session running?"
    return None


def _run_gui(db: Path | None) -> int:
    problem = _missing_qt_system_libs()
    if problem:
        print(f"lookalike: {problem}", file=sys.stderr)
        return 2
    try:
        from desktop_app.gui.app import run
    except ImportError as exc:
        print(f"lookalike: the desktop app cannot start ({exc}). Is PySide6 installed?", file=sys.stderr)
        return 2
    return run(db)


def cmd_demo(args) -> int:
    """Copy the bundled sample photos, index them, label half of them, and open the app (or print a query)."""
    import csv
    import shutil

    from desktop_app.core.catalog import Catalog
    from desktop_app.core.indexer import index_folder
    from desktop_app.core.models import BUNDLED_DIR
    from desktop_app.core.paths import user_data_dir
    from desktop_app.core.scan import MAGENTO_PATTERN, GroupingRule
    from desktop_app.core.state import remember_catalog

    sample = BUNDLED_DIR / "sample"
    if not (sample / "photos").is_dir():
        raise UserError(f"The bundled sample photos are missing ({sample}); reinstall Lookalike.")
    base = args.dir or user_data_dir() / "demo"
    photos = base / "photos"
    if not photos.exists():
        shutil.copytree(sample / "photos", photos)
        for name in ("README.md", "LICENSE_OSL.txt", "LICENSE_AFL.txt"):
            if (sample / name).exists():
                shutil.copy(sample / name, base / name)
    db = args.db or base / "demo.sqlite"
    with Catalog(db) as catalog:
        summary = index_folder(catalog, photos, rule=GroupingRule("pattern", MAGENTO_PATTERN))
        if not catalog.labels():
            # Label every other article from the sample's ground truth: the rest is left for suggestions.
            rows = list(csv.DictReader(open(sample / "manifest.csv", encoding="utf-8")))
            cats = dict(sorted({r["article"]: r["category"] for r in rows}.items()))
            catalog.set_labels(
                [(a, "category", c) for a, c in list(cats.items())[::2]], source="import", action="import"
            )
        remember_catalog(catalog.path)
        first = catalog.article_keys()[0]
    if not args.json:
        print(
            f"Demo catalog {db}: {summary.articles} articles, {summary.photos} photos "
            f"({summary.embedded} embedded now) with {summary.model} on {summary.device}."
        )
        print(
            "This model is an ImageNet classifier's features (EfficientNet-Lite0), not CLIP; "
            "see `lookalike models list` for CLIP."
        )
    if not args.no_gui and not _has_display():
        print(
            "No screen here (no DISPLAY or WAYLAND_DISPLAY): showing the result in the terminal instead. "
            "Run `lookalike gui` on a desktop to browse it."
        )
        args.no_gui = True
    if args.no_gui:
        ns = argparse.Namespace(
            db=db,
            json=args.json,
            article=first,
            articles=None,
            image=None,
            photos=False,
            method=None,
            threshold=None,
            max_matches=None,
            top=5,
            label=None,
            folder=None,
        )
        if not args.json:
            print(f"\nMost similar to {first}:")
        return cmd_similar(ns)
    return _run_gui(Path(db))


COMMANDS = {
    "index": cmd_index,
    "stats": cmd_stats,
    "similar": cmd_similar,
    "gui": cmd_gui,
    "demo": cmd_demo,
    "inspect": cmd_inspect,
    "evaluate": cmd_evaluate,
    "tune": cmd_tune,
    "labels": cmd_labels,
}
