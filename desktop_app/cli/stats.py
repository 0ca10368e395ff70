"""`lookalike stats`: what a catalog holds and how it was made."""

from __future__ import annotations

import argparse
import time
from collections import Counter

from desktop_app.cli.common import add_db, add_json, emit_json, open_engine, safe
from desktop_app.core.wording import skipped_counts


def register(sub) -> None:
    p = sub.add_parser(
        "stats",
        help="catalog counts, grouping rule, model, device, skipped files",
        description="Counts, the grouping rule, the model with its precision and the device the "
        "last index run used, the search settings, and every skipped file with its reason.",
    )
    add_db(p)
    add_json(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        info = engine.stats()
    if args.json:
        emit_json(info)
        return 0
    counts, model, last = info["counts"], info["model"], info["last_run"]
    print(
        f"Catalog   {safe(info['catalog'])} ({info['size_bytes'] / 1e6:.1f} MB, schema {info['schema_version']})"
    )
    print(_photos_line(info))
    print(f"Grouping  {safe(info['grouping_text'])}")
    if model.get("installed"):
        device = f", last run on {model['device']}" if model.get("device") else ""
        default = "" if model.get("chosen", True) else "; the default, until an index run chooses one"
        print(f"Model     {model['name']} ({model['precision']}, {model['dim']}-d{device}{default})")
    else:
        print(f"Model     {model['name']} (not installed here: {model.get('problem', '')})")
    pre = info["preprocessing"]
    fit = "letterbox" if pre["letterbox"] else "the model's crop"
    print(f"Photo fit {fit}{', mirror averaged' if pre['mirror'] else ''}")
    s = info["search"]
    extra = (f" s={s['threshold']:g}" if s["threshold"] is not None else "") + (
        f" m={s['max_matches']}" if s["max_matches"] is not None else ""
    )
    space = f" (adapter {info['search_space']})" if info.get("search_space") is not None else ""
    print(f"Search    {s['method']}{extra}, top {s['top_k']}{space}")
    print(
        f"Articles  {counts['articles']}   photos {counts['photos']} ({counts['photos_ok']} usable, "
        f"{counts['photos_error']} not usable)   labelled articles {counts['labelled_articles']}"
    )
    for model_id, n in counts["vectors_by_model"].items():
        print(f"Vectors   {n} from {model_id}")
    thumbs = info["thumbnails"]
    if thumbs["kept"]:
        each = f", {thumbs['bytes'] / thumbs['stored'] / 1024:.1f} KB each" if thumbs["stored"] else ""
        print(f"Thumbnails {thumbs['stored']} of {thumbs['photos']} usable photos in the catalog{each}")
    server = info["server_index"]
    if server["enabled"]:
        print(
            f"Server    pgvector {server['pgvector_installed']} answers search's candidate stage ({server['photos']} photos)"
        )
    elif server["pgvector_available"]:
        print(
            f"Server    offers pgvector {server['pgvector_available']} (lookalike catalog pgvector --enable)"
        )
    if last:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last["started_at"]))
        print(f"Last run  {when}, {last['status']}")
    if info["skipped"]:
        print(f"Skipped   {skipped_counts(Counter(item['reason'] for item in info['skipped']))}:")
        for item in info["skipped"]:
            print(f"          {safe(item['path'])}: {safe(item['message'])}")
    return 0


def _photos_line(info: dict) -> str:
    """Where the photos are; for a catalog never indexed (nor mapped here), that it has none yet and how to
    give it one."""
    if info["photo_root"] is None:
        return (
            "Photos    no photo folder yet: index one with `lookalike index PHOTOS --db CATALOG`, or, for a "
            "shared catalog, say where its photos are here with `lookalike catalog root FOLDER --db CATALOG`"
        )
    return f"Photos in {safe(info['photo_root'])}" + _stored_root_note(info)


def _stored_root_note(info: dict) -> str:
    """The folder the catalog keeps, named only when this machine finds the photos elsewhere."""
    stored = info.get("stored_photo_root")
    if not stored or stored == info["photo_root"]:
        return ""
    return f" (this machine's mapping; the catalog keeps {safe(stored)} for machines without one)"
