"""Label files: importing labels from a CSV file or a folder level (planned first, for a preview), and
exporting every label as CSV or JSON."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from desktop_app.core.errors import InputError
from desktop_app.core.files import (
    CSV_MAX_BYTES,
    SpreadsheetWriter,
    atomic_writer,
    check_columns_once,
    check_output_path,
    named_id,
    parse_csv,
    read_input,
    write_text,
)
from desktop_app.core.labels import DEFAULT_FIELD, check_field
from desktop_app.core.paths import relative_to_root
from desktop_app.core.storage import Catalog


@dataclass
class ImportReport:
    applied: int  # labels changed
    unknown: list[str]  # article ids or paths that are not in the catalog
    skipped_rows: int = 0
    no_folder: list[str] = field(default_factory=list)  # articles without a folder at the level asked for
    unchanged: int = 0  # labels the file gave that already had that value (nothing written for them)


@dataclass
class LabelPlan:
    """What an import would write, before writing it: for previews and for the import itself."""

    items: list[tuple[str, str, str]]  # (article, field, label), one per article and field
    unknown: list[str]  # article ids or paths that are not in the catalog
    skipped_rows: int = 0  # rows without a label
    no_folder: list[str] = field(default_factory=list)  # articles without a folder at the level asked for


def plan_folder_labels(
    catalog: Catalog, level: int, field_name: str = DEFAULT_FIELD, overwrite: bool = False
) -> LabelPlan:
    """Each article's label would be the folder at `level` (0 = top) of its cover photo's path."""
    if level < 0:
        raise InputError(f"The folder level counts from 0 (the top folder); {level} is not one.")
    existing = catalog.labels(field_name)
    items = []
    missing = []
    for row in catalog.articles_overview():
        parts = (row["cover"] or "").split("/")[:-1]
        if level >= len(parts):
            missing.append(row["article"])
            continue
        if not overwrite and field_name in existing.get(row["article"], {}):
            continue
        items.append((row["article"], field_name, parts[level]))
    return LabelPlan(items, [], no_folder=missing)


def import_folder_labels(
    catalog: Catalog, level: int, field_name: str = DEFAULT_FIELD, overwrite: bool = False
) -> ImportReport:
    """Label each article with the name of the folder at `level` (0 = top) of its photos' paths."""
    plan = plan_folder_labels(catalog, level, field_name, overwrite)
    catalog.set_labels(plan.items, source="folder", action="import")
    return ImportReport(len(plan.items), plan.unknown, no_folder=plan.no_folder)


def plan_csv_labels(
    catalog: Catalog, csv_path: Path, default_field: str = DEFAULT_FIELD, photo_root: Path | None = None
) -> LabelPlan:
    """Read rows with `article` or `path`, `label`, and optionally `field`, without writing anything.

    A column named after the field (e.g. `category`) stands in for `label` when there is no `label`
    column, so a catalogue manifest imports as it is. Manifests list one row per photo: an article's rows
    collapse into one label (the last row wins) instead of logging one undoable event per photo.
    Paths are the catalog's (relative to its photo folder); an absolute path under `photo_root`, one
    starting with ./ and one relative to the current folder that lies under `photo_root` are taken too.
    A file none of whose rows is in the catalog is an InputError that says what the rows must name.
    """
    check_field(default_field)
    data = read_input(csv_path, "labels file", CSV_MAX_BYTES)  # read once: it may be a pipe
    header, rows = parse_csv(data, Path(csv_path).expanduser(), "labels file")
    check_columns_once(header, {"article", "path", "label", "field", default_field}, csv_path, "labels file")
    cols = set(header)
    label_col = "label" if "label" in cols else default_field if default_field in cols else None
    if label_col is None or not ({"article", "path"} & cols):
        if _looks_like_json(data):
            raise InputError(f"{csv_path} is JSON; import takes CSV (labels export FILE.csv writes one).")
        raise InputError(
            f"{csv_path} needs a 'label' (or '{default_field}') column and an 'article' or "
            f"'path' column (it has: {', '.join(sorted(cols)) or 'no header'})."
        )
    # `field` names the field of each row only in the generic layout; in a manifest the column is the field
    field_col = "field" if label_col == "label" else None
    articles = set(catalog.article_keys())
    by_path = {r.path: r.article for r in catalog.photo_rows()}
    chosen: dict[tuple[str, str], str] = {}
    unknown, skipped, by_paths = [], 0, 0
    for row in rows:
        label = (row.get(label_col) or "").strip()
        if not label:
            skipped += 1
            continue
        key = named_id(row.get("article") or "", articles)  # spaces kept only where the id has them
        if not key.strip():
            path = named_id(row.get("path") or "", by_path)
            by_paths += 1
            key = by_path.get(path) or by_path.get(catalog_path(path.strip(), photo_root) or "", "")
            if not key:
                unknown.append(path)
                continue
        if key not in articles:
            unknown.append(key)
            continue
        name = ((row.get(field_col) or "").strip() if field_col else "") or default_field
        chosen[(key, name)] = label
    if unknown and not chosen:
        raise InputError(_none_known(csv_path, len(unknown), by_paths, photo_root, next(iter(by_path), "")))
    items = [(a, f, v) for (a, f), v in chosen.items()]
    return LabelPlan(items, list(dict.fromkeys(unknown)), skipped)


def catalog_path(path: str, photo_root: Path | None) -> str | None:
    """A path as a user may write it (absolute, ./-prefixed, relative to the current folder) as the catalog
    stores it, relative to its photo folder; None when it cannot be one."""
    rel = path
    while rel.startswith("./"):
        rel = rel[2:]
    if photo_root is None:
        return rel
    given = Path(rel)
    if not given.is_absolute():
        if not (photo_root / given).exists() and (Path.cwd() / given).exists():
            given = Path.cwd() / given  # photos/img/a.jpg typed from the photo folder's parent
        else:
            return rel
    return relative_to_root(given, photo_root)


def _none_known(csv_path: Path, unknown: int, by_paths: int, photo_root: Path | None, example: str) -> str:
    """Why no row of an import names anything in the catalog, in one line."""
    if by_paths:
        where = f"the photo folder {photo_root}" if photo_root else "the catalog's photo folder"
        return (
            f"None of the {unknown:,} rows of {csv_path} names a photo of the catalog: paths must be "
            f"relative to {where} (like {example}) or lie inside it."
        )
    return (
        f"None of the {unknown:,} articles in {csv_path} is in the catalog; use the article ids "
        "`lookalike similar` shows."
    )


def _looks_like_json(data: bytes) -> bool:
    start = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return start[:1] in (b"[", b"{")


def import_csv_labels(catalog: Catalog, csv_path: Path, default_field: str = DEFAULT_FIELD) -> ImportReport:
    """Rows with `article` or `path`, `label`, and optionally `field` (see `plan_csv_labels`)."""
    plan = plan_csv_labels(catalog, csv_path, default_field)
    catalog.set_labels(plan.items, source="import", action="import")
    return ImportReport(len(plan.items), plan.unknown, plan.skipped_rows)


def export_format(path: Path | None, fmt: str | None = None) -> str:
    """The format of a labels export: `fmt` as asked, else from the file's extension, else csv."""
    fmt = fmt or (Path(path).suffix.lstrip(".").lower() if path is not None else "") or "csv"
    if fmt not in ("csv", "json"):
        raise InputError(f"Unknown export format {fmt!r}; use csv or json.")
    return fmt


def export_labels(
    catalog: Catalog,
    path: Path | None,
    fmt: str | None = None,
    raw: bool = False,
    stream: TextIO | None = None,
) -> int:
    """Write every label as CSV (cells safe for spreadsheets unless raw) or JSON to `path` (the old file
    survives any failure) or, with `stream` (standard output), there."""
    fmt = export_format(path, fmt)
    if stream is None:
        check_output_path(path, "labels export")
    rows = catalog.labels_with_source()
    if fmt == "json":
        text = json.dumps(rows, indent=2)
        stream.write(text + "\n") if stream is not None else write_text(path, text, what="labels export")
        return len(rows)
    target = (
        contextlib.nullcontext(stream)
        if stream is not None
        else atomic_writer(path, "w", newline="", what="labels export")
    )
    with target as fh:
        writer = SpreadsheetWriter(fh, raw=raw)
        writer.writerow(["article", "field", "label", "source"])
        for r in rows:
            writer.writerow([r["article"], r["field"], r["value"], r["source"]])
    return len(rows)
