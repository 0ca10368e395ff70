"""`lookalike index PHOTOS_DIR`: index a photo folder into its catalog, incrementally."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop_app.cli.common import Bar, add_json, emit_json, positive_int, safe
from desktop_app.core.errors import InputError
from desktop_app.core.scan import KNOWN_PATTERNS, GroupingRule
from desktop_app.core.settings import DEVICES
from desktop_app.core.wording import skipped_counts


def register(sub) -> None:
    p = sub.add_parser(
        "index",
        help="index a photo folder into its catalog (incremental)",
        description="Scan a photo folder, group its photos into articles and embed every new or "
        "changed photo. Unchanged photos cost a stat; moved ones keep their vectors.",
    )
    p.add_argument("photos_dir", type=Path, help="the folder holding the photos (searched recursively)")
    p.add_argument(
        "--pattern",
        metavar="REGEX",
        help="group by file name: a regular expression over the name "
        "without extension, with a named group 'article' and optionally 'view'; 'magento' for "
        "<article>_<view> names (default: the catalog's rule; one article per folder for a new one)",
    )
    p.add_argument("--folders", action="store_true", help="group by folder: one article per folder")
    p.add_argument(
        "--model",
        help="model name, or a model's .onnx / .manifest.json file (default: the "
        "catalog's model; for a new catalog CLIP ViT-B/32 when installed, else the bundled model)",
    )
    p.add_argument(
        "--device",
        default=None,
        choices=DEVICES,
        help="where the model runs (default: your setting, 'auto': CUDA only when it really works)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int("--batch-size"),
        default=32,
        help="photos per model call (default: 32)",
    )
    p.add_argument(
        "--workers",
        type=positive_int("--workers"),
        help="threads that read and decode photos (default: the physical cores, at most 4)",
    )
    fit = p.add_mutually_exclusive_group()
    fit.add_argument(
        "--letterbox",
        action="store_true",
        help="fit whole photos into the model input, padded white (stored with the catalog)",
    )
    fit.add_argument(
        "--crop", action="store_true", help="back to the model's own resize and crop (the default)"
    )
    mir = p.add_mutually_exclusive_group()
    mir.add_argument(
        "--mirror",
        action="store_true",
        default=None,
        help="average each photo's vector with its mirror image's (twice the work; stored)",
    )
    mir.add_argument(
        "--no-mirror", dest="mirror", action="store_false", help="turn mirror averaging off (default)"
    )
    p.add_argument(
        "--db",
        metavar="CATALOG",
        help="catalog file (default: the photo folder's catalog in the user data folder)",
    )
    p.add_argument(
        "--new-root",
        action="store_true",
        help="let the catalog hold this folder's photos even though it holds few of the photos "
        "indexed so far; the others are removed (default: refuse such a folder)",
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (default: a bar on a terminal)"
    )
    add_json(p)
    p.set_defaults(handler=run)


def rule_from_args(args: argparse.Namespace) -> GroupingRule | None:
    if args.pattern and args.folders:
        raise InputError("Choose either --pattern or --folders, not both.")
    if args.pattern:
        return GroupingRule("pattern", KNOWN_PATTERNS.get(args.pattern, args.pattern))
    if args.folders:
        return GroupingRule("folder")
    return None


def run(args: argparse.Namespace) -> int:
    from desktop_app.core.engine import index_photos, resolve_db
    from desktop_app.core.indexer import IndexOptions
    from desktop_app.core.settings import UserSettings

    rule = rule_from_args(args)
    opts = IndexOptions(
        batch_size=args.batch_size,
        workers=args.workers,
        device=args.device or UserSettings.load().device,
        resize="letterbox" if args.letterbox else "model" if args.crop else None,
        mirror=args.mirror,
    )
    with Bar(not args.no_progress and not args.json, "photo", "Embedding") as bar:
        summary = index_photos(
            resolve_db(args.db, args.photos_dir),
            args.photos_dir,
            rule=rule,
            model=args.model,
            options=opts,
            progress=lambda p: bar.update(p.done, p.total, p.note),
            new_root=args.new_root,
        )
    if args.json:
        emit_json(summary.to_dict())
        return 0
    print_summary(summary)
    return 0


def print_summary(s) -> None:
    print(f"Catalog   {safe(s.catalog)}")
    print(f"Grouping  {safe(s.rule)}")
    print(
        f"Model     {s.model} on {s.device}" if s.device else f"Model     {s.model}; nothing needed embedding"
    )
    print(f"Articles  {s.articles}   photos {s.photos}")
    print(
        f"This run  new {s.new}, changed {s.changed}, moved {s.moved}, removed {s.removed}, "
        f"re-embedded {s.reembedded}, unchanged {s.unchanged}"
    )
    if s.unmatched:
        print(f"          {s.unmatched} photos did not match the pattern and are single-photo articles")
    for folder in s.skipped_folders:
        print(
            f"Kept      {safe(folder['path'] or '.')}/ ({folder['message']}): its photos stay in the catalog as they were"
        )
    if s.skipped:
        print(f"Skipped   {skipped_counts(s.skipped)}")
        for item in s.skipped_files[:10]:
            print(f"          {safe(item['path'])}: {safe(item['message'])}")
        if len(s.skipped_files) > 10:
            print(f"          ... and {len(s.skipped_files) - 10} more (lookalike stats)")
    if s.thumbnails_filled or s.thumbnails_unreadable:
        unread = (
            f"; {s.thumbnails_unreadable} photos could not be read for one" if s.thumbnails_unreadable else ""
        )
        print(f"Thumbnails stored for {s.thumbnails_filled} photos indexed before{unread}")
    print(f"Time      {s.seconds:.1f} s, {s.photos_per_s:.1f} photos/s embedded")
    if s.advice:
        print(f"Hint      {s.advice}")
    if s.orphaned_text():
        print(f"Kept      {s.orphaned_text()}")
    if s.cancelled:
        print("Cancelled: run the same command again to continue.")
