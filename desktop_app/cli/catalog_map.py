"""`lookalike map`: the catalog map as a picture (covers or dots, coloured by a label field) and as coordinates."""

from __future__ import annotations

import argparse

from desktop_app.cli.common import (
    Bar,
    add_db,
    add_json,
    emit_json,
    num,
    open_engine,
    png_path,
    positive_int,
    refuse_ignored,
    safe,
)
from desktop_app.core import layout as lay
from desktop_app.core import map_picture as pic
from desktop_app.core.export_targets import PNG
from desktop_app.core.files import check_output_path, write_bytes
from desktop_app.core.labels import DEFAULT_FIELD
from desktop_app.core.paths import photo_file
from desktop_app.core.wording import plural, quoted

DEFAULT_SIZE = "2000x2000"  # the picture's size in pixels when --size is not given


def register(sub) -> None:
    p = sub.add_parser(
        "map",
        help="the catalog map: every article on one picture, similar ones together",
        description="A 2-D layout of the catalog's articles (t-SNE of their vectors; adapted vectors "
        "when an adapter is on), the same one the app's map shows. It is computed once and "
        "stored in the catalog; articles indexed later are placed among their nearest "
        "neighbours until you --recompute, or until more than a fifth of the articles would be "
        "placed that way (then it is laid out afresh). Writes it as a PNG and/or prints the "
        "coordinates.",
    )
    add_db(p)
    p.add_argument(
        "--png",
        metavar="FILE",
        type=png_path,
        help="write the map as a PNG picture: cover thumbnails when the photos are reachable and "
        "there is room for them, else dots (default: no picture)",
    )
    p.add_argument(
        "--color-by",
        "--colour-by",
        dest="color_by",
        metavar="FIELD",
        default=None,
        help=f"with --png or --json: colour the articles by this label field, by '{pic.BY_FOLDER}', or by "
        f"'{pic.BY_UNLABELLED}' (labelled or not) (default: {DEFAULT_FIELD})",
    )
    p.add_argument(
        "--size",
        metavar="WxH",
        default=None,
        type=_size,
        help=f"with --png: the picture's size in pixels (default: {DEFAULT_SIZE})",
    )
    p.add_argument(
        "--dots",
        action="store_true",
        help="with --png: draw dots even where covers would fit (default: covers)",
    )
    p.add_argument(
        "--method",
        choices=lay.METHODS,
        default=None,
        help="how to lay out the articles: tsne (similar ones together) or pca (a quick, coarse "
        "linear projection) (default: the stored t-SNE map, else the stored PCA map, else a new t-SNE one)",
    )
    p.add_argument(
        "--recompute",
        action="store_true",
        help="compute the layout afresh instead of placing new articles on the stored one "
        "(default: reuse the stored layout)",
    )
    p.add_argument(
        "--seed",
        type=positive_int("--seed", lowest=0),
        default=None,
        help="random seed of a new layout: with --recompute, or when none is stored yet (default: 0)",
    )
    add_json(p)
    p.set_defaults(handler=run)


def _size(text: str) -> tuple[int, int]:
    from desktop_app.core.errors import InputError

    try:
        return pic.parse_size(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _colour_by(asked: str | None, labels: dict[str, dict[str, str]]) -> str:
    """What to colour by: `asked`, which must be folder, unlabelled or a field some article has a label in;
    the default field when not asked (a catalog without labels then shows every article unlabelled)."""
    if asked is None or asked in (pic.BY_FOLDER, pic.BY_UNLABELLED):
        return asked or DEFAULT_FIELD
    fields = sorted(set().union(*labels.values())) if labels else []
    if asked not in fields:
        from desktop_app.core.errors import InputError

        known = ", ".join(fields) if fields else "none yet"
        raise InputError(
            f"No article has a label in the field {quoted(asked)} (label fields: {known}); colour by one of "
            f"them, by {pic.BY_FOLDER} or by {pic.BY_UNLABELLED}."
        )
    return asked


def check_options(args: argparse.Namespace) -> None:
    """Refuse the options that would change nothing: those of the picture without --png, the colouring
    without a picture or JSON to show it in."""
    picture = args.png is not None
    refuse_ignored(
        {"--dots": args.dots and not picture, "--size": args.size is not None and not picture},
        "without --png FILE",
        "add --png FILE, or leave {it} out",
    )
    refuse_ignored(
        {"--color-by": args.color_by is not None and not picture and not args.json},
        "without --png FILE or --json",
        "add one, or leave {it} out",
    )


def check_seed(engine, args: argparse.Namespace) -> None:
    """--seed without --recompute while a layout is stored: the stored one is shown, the seed changes nothing."""
    if args.seed is not None and not args.recompute and engine.stored_map(args.method) is not None:
        refuse_ignored(
            {"--seed": True},
            "while the stored map is reused (the seed lays out a new one)",
            "add --recompute to lay it out afresh with it, or leave --seed out",
        )


def run(args: argparse.Namespace) -> int:
    check_options(args)
    size = args.size or pic.parse_size(DEFAULT_SIZE)
    with open_engine(args) as engine:
        if args.png is not None:  # with the catalog open: its own files and photos are refused too
            check_output_path(args.png, "picture", PNG)
        check_seed(engine, args)
        rows = engine.catalog.articles_overview()
        labels = {r["article"]: r["labels"] for r in rows}
        # Checked before the layout (minutes on a big catalog): a mistyped field would colour it all grey.
        args.color_by = _colour_by(args.color_by, labels)
        with Bar(not args.json, "‰", "laying out the map") as bar:
            layout = engine.catalog_map(
                method=args.method, recompute=args.recompute, seed=args.seed or 0, progress=bar.update
            )
        folders = {r["article"]: r["folder"] for r in rows}
        covers = {r["article"]: r["cover"] for r in rows}
        values = pic.colour_values(args.color_by, layout.articles, labels, folders)
        colours = pic.colouring(values)
        stats = None
        if args.png is not None:
            root = engine.photo_root()
            reachable = not args.dots and engine.photos_online()  # an empty mount point is offline too

            def cover_of(article: str):
                rel = covers.get(article)
                return photo_file(root, rel) if reachable and rel else None

            title = f"{len(layout):,} articles, {lay.METHOD_NAMES.get(layout.method)}, coloured by {args.color_by}"
            data, stats = pic.render_png(layout, colours, size, cover_of if reachable else None, title)
            write_bytes(args.png, data, what="picture")
    if args.json:
        emit_json(_as_json(layout, values, colours, args, stats, size))
        return 0
    info = layout.info
    method = lay.METHOD_NAMES.get(layout.method, layout.method)
    print(
        f"Map of {plural(len(layout), 'article')} ({method}, {layout.model_id}"
        f"{f', adapter {layout.adapter_id}' if layout.adapter_id is not None else ''}); "
        f"laid out in {info.get('seconds', 0):.1f} s{_placed_note(layout)}."
    )
    if stats is not None:
        print(f"Wrote {safe(args.png)} ({_picture_note(stats)}), coloured by {safe(args.color_by)}:")
        for value, colour, count in colours.legend:
            print(f"  {colour}  {safe(value)} ({count})")
    return 0


def _placed_note(layout: lay.MapLayout) -> str:
    """How the articles not laid out by the method got there, and why a layout was made afresh."""
    notes = []
    if layout.placed:
        notes.append(f"{plural(layout.placed, 'article')} placed among their neighbours")
    outgrown = layout.info.get("outgrown")
    if outgrown:
        notes.append(f"laid out afresh: {plural(outgrown, 'article')} had joined the previous layout")
    return "".join(f"; {n}" for n in notes)


def _picture_note(stats: pic.PictureStats) -> str:
    """What the picture shows: "468 dots", "12 covers of 96 px and 3 dots" (no part that is none)."""
    parts = []
    if stats.thumbnails:
        parts.append(f"{plural(stats.thumbnails, 'cover')} of {stats.thumb_px} px")
    if stats.dots or not parts:
        parts.append(plural(stats.dots, "dot"))
    return " and ".join(parts)


def _as_json(
    layout: lay.MapLayout,
    values: list,
    colours: pic.Colouring,
    args: argparse.Namespace,
    stats,
    size: tuple[int, int],
) -> dict:
    return {
        "catalog": args.db,
        "model_id": layout.model_id,
        "adapter_id": layout.adapter_id,
        "method": layout.method,
        "info": layout.info,
        "articles": len(layout),
        "placed": layout.placed,
        "color_by": args.color_by,
        "legend": [{"value": v, "color": c, "count": n} for v, c, n in colours.legend],
        "png": str(args.png) if args.png is not None else None,
        "picture": None
        if stats is None
        else {
            "thumbnails": stats.thumbnails,
            "dots": stats.dots,
            "thumb_px": stats.thumb_px,
            "size": list(size),
        },
        "points": [
            {"article": a, "x": num(x), "y": num(y), "color_value": v, "placed": bool(p)}
            for a, (x, y), v, p in zip(
                layout.articles, layout.xy.tolist(), values, layout.placed_mask.tolist()
            )
        ],
    }
