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
from desktop_app.core.errors import UserError


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, help="catalog file (default: the photo folder's catalog in the user "
                   "data folder, or the catalog used last)")
    p.add_argument("--json", action="store_true", help="machine-readable output on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookalike", description="Find look-alike products in photo folders.")
    parser.add_argument("--version", action="version", version=f"lookalike {__version__}")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("index", help="index a photo folder into its catalog (incremental)")
    p.add_argument("photos_dir", type=Path)
    p.add_argument("--pattern", help="group by file name: regex over the stem with a named group 'article' "
                   "and optionally 'view'; 'magento' for <article>_<view> names")
    p.add_argument("--folders", action="store_true", help="group by folder (one article per folder)")
    p.add_argument("--model", help="model name, or a model's .onnx / .manifest.json file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "tensorrt"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, help="decode threads")
    p.add_argument("--letterbox", action="store_true", help="fit whole photos into the model input (pad white)")
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

    p = sub.add_parser("gui", help="start the desktop app")
    p.add_argument("--db", type=Path)
    p = sub.add_parser("demo", help="index the bundled sample photos into a new catalog and open the app")
    p.add_argument("--no-gui", action="store_true", help="index and print a query, without the window")
    p.add_argument("--dir", type=Path, help="where to put the demo copy (default: user data folder)")
    _add_common(p)

    _add_optional_commands(sub)
    return parser


def _add_optional_commands(sub) -> None:
    """Subcommands that live in their own modules."""
    try:
        from desktop_app.cli_models import add_models_parser
    except ImportError:
        return
    add_models_parser(sub)


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
        opts = IndexOptions(batch_size=args.batch_size, workers=args.workers, device=args.device,
                            resize="letterbox" if args.letterbox else None)
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
            summary = index_folder(catalog, args.photos_dir, rule=rule, model=args.model, options=opts,
                                   progress=progress)
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
    print(f"This run  new {s.new}, changed {s.changed}, moved {s.moved}, removed {s.removed}, "
          f"re-embedded {s.reembedded}, unchanged {s.unchanged}")
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
    print(f"Articles  {counts['articles']}   photos {counts['photos']} ({counts['photos_ok']} usable, "
          f"{counts['photos_error']} skipped)   labelled articles {counts['labelled_articles']}")
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
    import numpy as np

    from desktop_app.core.encoder import Encoder
    from desktop_app.core.images import PhotoError, preprocess, read_bytes
    from desktop_app.core.indexer import catalog_model, catalog_model_id

    with _open_catalog(args) as catalog:
        model = catalog_model(catalog)
        model_id = catalog_model_id(catalog, model)
        av = catalog.article_vectors(model_id)
        if av.n_photos == 0:
            raise UserError("The catalog has no embedded photos for its model yet; run lookalike index first.")
        queries = None
        if args.image:
            encoder = Encoder(model, device="auto")
            tensors = []
            for path in args.image:
                try:
                    t, _ = preprocess(read_bytes(path), model.manifest, resize=catalog.get_setting("resize"))
                except PhotoError as exc:
                    raise UserError(f"{path}: {exc}") from exc
                tensors.append(t)
            queries = encoder.encode(np.concatenate(tensors))
        if args.photos or not _has_search():
            return _similar_photos(args, av, queries)
        return _similar_articles(args, catalog, av, queries)


def _has_search() -> bool:
    try:
        import desktop_app.core.search  # noqa: F401
    except ImportError:
        return False
    return True


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
        hits.append({"path": av.paths[row], "article": av.articles[av.article_of_row[row]],
                     "score": round(float(sims[row]), 4)})
        if len(hits) >= args.top:
            break
    if args.json:
        print(json.dumps({"photos": hits}, indent=2))
    else:
        for h in hits:
            print(f"{h['score']:.3f}  {h['article']:<30} {h['path']}")
    return 0


def _similar_articles(args, catalog, av, queries) -> int:
    raise UserError("Article search is not available in this build.")


def cmd_gui(args) -> int:
    return _run_gui(args.db)


def _run_gui(db: Path | None) -> int:
    try:
        from desktop_app.gui.app import run
    except ImportError as exc:
        print(f"lookalike: the desktop app cannot start ({exc}). Is PySide6 installed?", file=sys.stderr)
        return 2
    return run(db)


def cmd_demo(args) -> int:
    raise UserError("The demo is not available in this build.")


COMMANDS = {"index": cmd_index, "stats": cmd_stats, "similar": cmd_similar, "gui": cmd_gui, "demo": cmd_demo}
