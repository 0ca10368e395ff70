"""What an index run has to do: a folder scan compared with the catalog, worked out before anything is written.

The plan names the articles the grouping makes, the photos to embed (new, changed, or without a vector from
this model), the photos that only move to another article or view, the photos whose files are gone, and the
vanished photos whose vectors a moved copy can take over. Only reads: an index run that fails before it
applies the plan (a model that cannot load, say) leaves the catalog as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app.core.scan import FoundFile, Grouped, Grouper, GroupingRule, ScanResult, path_text, printable
from desktop_app.core.storage import Catalog, PhotoRow
from desktop_app.core.wording import quoted


@dataclass
class Work:
    """One photo file to read and embed."""

    kind: str  # new, changed, reembed
    found: FoundFile
    row: PhotoRow | None  # the catalog's photo at this path; None for a new one
    article: str  # the article key the grouping gives it
    view: str | None


@dataclass
class Regroup:
    """A photo whose file is unchanged but whose article or view the grouping changed."""

    photo_id: int
    article: str
    view: str | None


@dataclass
class PathRewrite:
    """A photo found by its bytes whose stored path an earlier version wrote in another form."""

    photo_id: int
    old: str
    new: str


@dataclass
class IndexPlan:
    articles: set[str]  # every article key the grouping makes of the files found
    folders: dict[str, str] | None  # article key -> folder, when the grouping is not by folder
    work: list[Work] = field(default_factory=list)
    regroup: list[Regroup] = field(default_factory=list)
    unchanged: int = 0
    unmatched: int = 0  # files the file-name pattern did not match (single-photo articles)
    problems: list[dict] = field(default_factory=list)  # files skipped by the scan or for a name clash
    gone: list[PhotoRow] = field(default_factory=list)  # photos whose file this scan did not find
    orphans: dict[str, list[int]] = field(default_factory=dict)  # content hash -> gone photos with a vector
    rewrites: list[PathRewrite] = field(default_factory=list)  # stored paths to write in the current form


def plan_index(
    catalog: Catalog, root: Path, scan: ScanResult, rule: GroupingRule, model_id: str
) -> IndexPlan:
    """Compare a complete scan of `root` with the catalog's photos and this model's vectors."""
    found, clashes = unique_paths(scan.files)
    grouper = Grouper(rule, root.name)
    groups = {f.rel: grouper(f.rel) for f in found}
    plan = IndexPlan(
        articles={g.article for g in groups.values()},
        folders=None if rule.kind == "folder" else _article_folders(groups),
        unmatched=sum(1 for g in groups.values() if not g.matched),
        problems=[p.to_dict() for p in scan.problems if p.reason != "unreadable_folder"] + clashes,
    )
    # Stored photos are found by their bytes: the printable path of some names was written in another form
    # by earlier versions (see `scan.path_text`), and such a photo is the same photo.
    rows = {bytes(r.raw_path): r for r in catalog.photo_rows()}
    have_vec = catalog.photo_ids_with_vectors(model_id)
    for f in found:
        row = rows.get(f.raw)
        if row is not None and row.path != f.text:
            plan.rewrites.append(PathRewrite(row.id, row.path, f.text))
        _plan_file(plan, f, groups[f.rel], row, have_vec)
    on_disk = {f.raw for f in found}
    # Photos not seen by this scan but in a folder it could not read are still there: keep them as they are.
    plan.gone = [
        r for raw, r in rows.items() if raw not in on_disk and not scan.unseen(path_text(os.fsdecode(raw)))
    ]
    for r in plan.gone:
        if r.status == "ok" and r.hash and r.id in have_vec:
            plan.orphans.setdefault(r.hash, []).append(r.id)
    return plan


def _article_folders(groups: dict[str, Grouped]) -> dict[str, str]:
    """Where each article grouped by file name lies: its first photo's folder (so the grid, the map and the
    filters can use folders whatever the grouping). A folder-grouped article lies in its id's parent."""
    folders: dict[str, str] = {}
    for rel in sorted(groups):
        folders.setdefault(groups[rel].article, printable(rel.rsplit("/", 1)[0]) if "/" in rel else "")
    return folders


def _plan_file(
    plan: IndexPlan, f: FoundFile, group: Grouped, row: PhotoRow | None, have_vec: set[int]
) -> None:
    if row is None:
        plan.work.append(Work("new", f, None, group.article, group.view))
        return
    if row.article != group.article or row.view != group.view:
        plan.regroup.append(Regroup(row.id, group.article, group.view))
    if row.size != f.size or row.mtime_ns != f.mtime_ns:
        plan.work.append(Work("changed", f, row, group.article, group.view))
    elif row.status == "ok" and row.id not in have_vec:
        plan.work.append(Work("reembed", f, row, group.article, group.view))
    else:
        plan.unchanged += 1


def unique_paths(files: list[FoundFile]) -> tuple[list[FoundFile], list[dict]]:
    """Files whose stored paths are unique; a second file with the same stored path is skipped.

    Stored paths are one per file (`scan.path_text`), so this only guards the batch a clash would break:
    the first file keeps the path and the other is reported, its name and the first's shown as their bytes,
    which differ even where the names print alike.
    """
    seen: dict[str, FoundFile] = {}
    clashes = []
    for f in files:
        first = seen.get(f.text)
        if first is None:
            seen[f.text] = f
            continue
        clashes.append(
            {
                "path": f.text,
                "reason": "name_clash",
                "message": f"its name {_bytes_shown(f.rel)} is stored as the name {_bytes_shown(first.rel)} is; "
                "rename one of the two files",
            }
        )
    return list(seen.values()), clashes


def _bytes_shown(rel: str) -> str:
    """A name as its bytes, printable: backslashes doubled, bytes that are not UTF-8 as \\xNN."""
    return quoted(os.fsencode(rel).replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace"))
