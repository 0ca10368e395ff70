"""Indexing a photo folder into its catalog: scan, diff, decode ahead of the model, embed, commit.

Pipeline: a bounded thread pool reads, hashes, decodes and preprocesses photos a few batches ahead of the
encoder; the calling thread runs the encoder and commits one transaction per batch, so a kill loses at
most the batch in flight. Unchanged files (same size and mtime) cost one stat; moved files are recognised
by content hash and keep their vectors; deleted files leave the catalog only after a complete scan.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.device import physical_cores
from desktop_app.core.encoder import Encoder, normalise
from desktop_app.core.errors import InputError, plural
from desktop_app.core.images import PhotoError, preprocess, read_bytes
from desktop_app.core.models import InstalledModel, catalog_model, resolve_model, vector_identity
from desktop_app.core.scan import (
    FoundFile,
    Grouper,
    GroupingRule,
    ScanResult,
    grouping_advice,
    image_suffixes,
    scan_folder,
)
from desktop_app.core.settings import catalog_settings, update_catalog_settings
from desktop_app.core.storage import Catalog, PhotoRow, PhotoWrite

REASONS = {
    "empty": "empty file",
    "not_an_image": "not an image",
    "truncated": "truncated or corrupt",
    "decode_error": "cannot be decoded",
    "too_large": "too many pixels",
    "unreadable": "cannot be read",
    "vanished": "deleted while indexing",
    "not_a_file": "not a regular file",
    "too_big": "file too big",
    "name_clash": "name clash",
    "bad_vector": "invalid vector",
    "unreadable_folder": "folder cannot be read",
}


@dataclass
class Progress:
    done: int
    total: int
    rate: float  # photos per second over the run so far
    eta_s: float | None
    note: str = ""


@dataclass
class IndexOptions:
    batch_size: int = 32
    workers: int | None = None  # decode threads; default leaves the cores to the model
    device: str = "auto"
    threads: int | None = None  # encoder intra-op threads
    # Preprocessing, stored with the catalog: None keeps the catalog's choice. resize "letterbox" fits the
    # whole photo (white padding), "model" goes back to the manifest's own mode.
    resize: str | None = None
    mirror: bool | None = None
    prefetch_batches: int = 3


@dataclass
class IndexSummary:
    photo_dir: str
    catalog: str
    model: str
    device: str  # the device the encoder session really got; "" when nothing needed embedding
    rule: str
    articles: int = 0
    photos: int = 0
    embedded: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    removed: int = 0
    reembedded: int = 0
    unchanged: int = 0
    unmatched: int = 0  # photos the file-name pattern did not match (single-photo articles)
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_files: list[dict] = field(default_factory=list)
    skipped_folders: list[dict] = field(
        default_factory=list
    )  # folders the scan could not read: kept as they were
    advice: str | None = None  # a better grouping rule, when this one gives implausible articles
    # labelled articles and decided pairs whose article this grouping no longer has (kept, not lost)
    orphaned: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    photos_per_s: float = 0.0
    cancelled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def orphaned_text(self) -> str:
        """Labels and decisions left on articles this grouping does not have, in words ("" when none)."""
        labels, pairs = self.orphaned.get("labelled_articles", 0), self.orphaned.get("decided_pairs", 0)
        if not labels and not pairs:
            return ""
        return (
            f"{plural(labels, 'labelled article')} and {plural(pairs, 'decided pair')} name articles this "
            "grouping does not have; they are kept and apply again if the grouping that made those "
            "articles comes back."
        )


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class _Work:
    kind: str  # new, changed, reembed
    found: FoundFile
    row: PhotoRow | None
    article_id: int
    view: str | None


@dataclass
class _Result:
    work: _Work
    hash: str | None = None
    tensor: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    error: PhotoError | None = None
    moved_from: int | None = None  # orphan photo id whose vectors this file takes over


def check_photo_folder(photo_dir: Path | str) -> Path:
    """The photo folder, resolved, or a one-line error when it is missing or not a folder."""
    root = Path(photo_dir).expanduser()
    if not root.exists():
        raise InputError(f"The photo folder {root} does not exist. Check the path or reconnect the drive.")
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a folder of photos. Give the folder that holds the photos.")
    return root.resolve()


def scan_for_index(root: Path, should_cancel: Callable[[], bool] | None = None) -> ScanResult:
    """Scan a photo folder; a folder without photos is an error before any catalog is touched."""
    scan = scan_folder(root, should_cancel)
    if not scan.files and not scan.cancelled:
        kinds = ", ".join(sorted(s.lstrip(".").upper() for s in image_suffixes()))
        why = (
            f" ({len(scan.unreadable_folders)} folders could not be read)" if scan.unreadable_folders else ""
        )
        raise InputError(f"No photos found in {root} (looked for {kinds}){why}. Nothing was changed.")
    return scan


def index_folder(
    catalog: Catalog,
    photo_dir: Path | str,
    rule: GroupingRule | None = None,
    model: InstalledModel | str | None = None,
    options: IndexOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    encoder: Encoder | None = None,
    scan: ScanResult | None = None,
    keep_stored_root: bool = False,
) -> IndexSummary:
    """Bring the catalog up to date with the folder. Safe to cancel or kill at any point.

    One index run at a time per catalog: a second one raises CatalogBusy at once. `keep_stored_root`: the
    folder is this machine's own mount of the catalog's photos, so the folder the catalog keeps for
    machines without a mapping stays as it is.
    """
    with catalog.index_lock():
        return _index(
            catalog,
            photo_dir,
            rule,
            model,
            options or IndexOptions(),
            progress,
            should_cancel or (lambda: False),
            encoder,
            scan,
            keep_stored_root,
        )


def _index(
    catalog, photo_dir, rule, model, opts, progress, should_cancel, encoder, scan, keep_stored_root=False
) -> IndexSummary:
    started = time.perf_counter()
    root = check_photo_folder(photo_dir)
    stored = catalog_settings(catalog)
    rule = rule or stored.grouping
    installed = encoder.model if encoder else (model if isinstance(model, InstalledModel) else None)
    if installed is None:
        installed = (
            resolve_model(model)
            if isinstance(model, str)
            else catalog_model(stored.model, stored.model_manifest)
        )
    manifest = installed.manifest
    letterbox = stored.letterbox if opts.resize is None else opts.resize == "letterbox"
    mirror = stored.mirror if opts.mirror is None else bool(opts.mirror)
    resize = "letterbox" if letterbox else None
    model_id = vector_identity(manifest, resize, mirror)

    summary = IndexSummary(
        str(root), catalog.location, f"{manifest.name} ({manifest.precision})", "", rule.describe()
    )
    if progress:
        progress(Progress(0, 0, 0.0, None, "scanning folder"))
    if scan is None:
        scan = scan_for_index(root, should_cancel)
    if scan.cancelled:
        summary.cancelled = True
        return summary
    summary.skipped_folders = [p.to_dict() for p in scan.problems if p.reason == "unreadable_folder"]
    summary.advice = grouping_advice(scan.files, rule, root.name)

    stored_root = stored.photo_root if keep_stored_root and stored.photo_root else str(root)
    update_catalog_settings(
        catalog,
        photo_root=stored_root,
        grouping=rule,
        model=manifest.name,
        model_manifest=str(installed.manifest_path),
        letterbox=letterbox,
        mirror=mirror,
    )
    run_id = catalog.start_run(model_id)

    found, clashes = _unique_paths(scan.files)
    problems = [p.to_dict() for p in scan.problems if p.reason != "unreadable_folder"] + clashes
    summary.skipped_files.extend(problems)
    grouper = Grouper(rule, root.name)
    groups = {f.rel: grouper(f.rel) for f in found}
    summary.unmatched = sum(1 for g in groups.values() if not g.matched)
    # A folder-grouped article lies in its id's parent folder; one grouped by file name, where its first
    # photo is (so the grid, the map and filters can use folders whatever the grouping).
    keys = {g.article for g in groups.values()}
    folders: dict[str, str] | None = None
    if rule.kind != "folder":
        folders = {}
        for rel in sorted(groups):
            folders.setdefault(groups[rel].article, rel.rsplit("/", 1)[0] if "/" in rel else "")
    article_ids = catalog.sync_articles(keys, folders)

    rows = {r.path: r for r in catalog.photo_rows()}
    have_vec = catalog.photo_ids_with_vectors(model_id)
    on_disk = {f.text for f in found}
    # Photos not seen by this scan but in a folder it could not read are still there: keep them as they are.
    gone_rows = [r for r in rows.values() if r.path not in on_disk and not scan.unseen(r.path)]
    orphans: dict[str, list[int]] = {}  # content hash -> vanished photos that still have this model's vector
    for r in gone_rows:
        if r.status == "ok" and r.hash and r.id in have_vec:
            orphans.setdefault(r.hash, []).append(r.id)

    work: list[_Work] = []
    regroup: list[dict] = []
    for f in found:
        g = groups[f.rel]
        aid = article_ids[g.article]
        row = rows.get(f.text)
        if row is None:
            work.append(_Work("new", f, None, aid, g.view))
            continue
        if row.article != g.article or row.view != g.view:
            regroup.append({"pid": row.id, "aid": aid, "view": g.view})
        if row.size != f.size or row.mtime_ns != f.mtime_ns:
            work.append(_Work("changed", f, row, aid, g.view))
        elif row.status == "ok" and row.id not in have_vec:
            work.append(_Work("reembed", f, row, aid, g.view))
        else:
            summary.unchanged += 1
    catalog.regroup_photos(regroup)

    embedded = 0
    moved_ids: set[int] = set()
    if work:
        if encoder is None:
            encoder = Encoder(installed, device=opts.device, threads=opts.threads)
        summary.device = encoder.device
        embedded, moved_ids = _run_pipeline(
            catalog,
            root,
            work,
            encoder,
            model_id,
            resize,
            mirror,
            orphans,
            opts,
            summary,
            progress,
            should_cancel,
        )

    if not summary.cancelled:
        # Only a complete scan may delete: a cancelled run has not seen every moved file yet.
        summary.removed = catalog.remove_photos([r.id for r in gone_rows if r.id not in moved_ids])
    catalog.drop_empty_articles()

    counts = catalog.counts(model_id)
    summary.orphaned = catalog.orphaned()
    summary.articles = counts["articles"]
    summary.photos = counts["photos"]
    summary.embedded = embedded
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.photos_per_s = round(embedded / summary.seconds, 2) if summary.seconds > 0 else 0.0
    summary.skipped = dict(Counter(s["reason"] for s in summary.skipped_files))
    catalog.finish_run(
        run_id,
        "cancelled" if summary.cancelled else "done",
        {k: v for k, v in summary.to_dict().items() if k != "skipped_files"},
    )
    return summary


def _unique_paths(files: list[FoundFile]) -> tuple[list[FoundFile], list[dict]]:
    """Files whose printable paths are unique; a second file with the same printable path is skipped.

    A name that is not UTF-8 is stored with \\xNN escapes, which a literal name can spell too: the first
    file keeps the path, the other is reported instead of breaking the batch it would land in.
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
                "message": f"its name prints the same as {first.rel!r}; rename one of the two files",
            }
        )
    return list(seen.values()), clashes


def _prepare_one(root: Path, w: _Work, orphan_hashes: frozenset[str], manifest, resize, mirror) -> _Result:
    """Runs on a pool thread: read, hash, and (unless it is a moved file) decode and preprocess."""
    try:
        data = read_bytes(root / w.found.rel)
        h = content_hash(data)
        if w.kind == "new" and h in orphan_hashes:
            return _Result(w, hash=h, moved_from=-1)  # the consumer claims the orphan's row
        tensor, loaded = preprocess(data, manifest, resize=resize, mirror=mirror)
        return _Result(w, hash=h, tensor=tensor, width=loaded.width, height=loaded.height)
    except PhotoError as exc:
        return _Result(w, error=exc)


def _run_pipeline(
    catalog, root, work, encoder, model_id, resize, mirror, orphans, opts, summary, progress, should_cancel
) -> tuple[int, set[int]]:
    manifest = encoder.manifest
    total = len(work)
    workers = opts.workers or max(1, min(4, physical_cores()))
    batch_size = max(1, opts.batch_size)
    lookahead = batch_size * max(1, opts.prefetch_batches)
    orphan_hashes = frozenset(orphans)
    moved_ids: set[int] = set()
    done = 0
    embedded = 0
    pending: deque[Future] = deque()
    batch: list[_Result] = []
    t0 = time.perf_counter()

    def report(note: str = "") -> None:
        if progress:
            elapsed = max(time.perf_counter() - t0, 1e-6)
            rate = done / elapsed
            eta = (total - done) / rate if rate > 0 else None
            progress(Progress(done, total, rate, eta, note))

    def flush() -> None:
        nonlocal embedded
        if not batch:
            return
        to_embed = [r for r in batch if r.tensor is not None]
        if to_embed:
            out = encoder.encode(np.concatenate([r.tensor for r in to_embed], axis=0))
            if mirror:
                out = normalise(out.reshape(len(to_embed), 2, -1).mean(axis=1))
            _finite_or_error(to_embed, out)
        vec_of = {id(r): out[i] for i, r in enumerate(to_embed) if r.tensor is not None}
        _write_batch(catalog, batch, vec_of, model_id, moved_ids, summary)
        embedded += len(vec_of)
        batch.clear()

    report("embedding")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        items = iter(work)
        while True:
            while len(pending) < lookahead and not summary.cancelled:
                w = next(items, None)
                if w is None:
                    break
                pending.append(pool.submit(_prepare_one, root, w, orphan_hashes, manifest, resize, mirror))
            if not pending:
                break
            result = pending.popleft().result()
            if result.moved_from == -1 and not _claim_orphan(result, orphans):
                # Two new copies of one moved file: the second one needs its own vector.
                result = _prepare_one(root, result.work, frozenset(), manifest, resize, mirror)
            batch.append(result)
            done += 1
            if len(batch) >= batch_size:
                flush()
                report()
                if should_cancel():
                    # Stop at a batch boundary: everything committed so far stays, the rest waits.
                    summary.cancelled = True
                    for fut in pending:
                        fut.cancel()
                    pending.clear()
        flush()
    report("cancelled" if summary.cancelled else "done")
    return embedded, moved_ids


def _claim_orphan(result: _Result, orphans: dict[str, list[int]]) -> bool:
    ids = orphans.get(result.hash or "")
    if not ids:
        return False
    result.moved_from = ids.pop(0)
    return True


def _finite_or_error(results: list[_Result], vectors: np.ndarray) -> None:
    """A model that returns NaN for a photo (a broken export, bad manifest numbers) must not store it."""
    bad = ~np.isfinite(vectors).all(axis=1)
    for i in np.flatnonzero(bad).tolist():
        results[i].tensor = None
        results[i].error = PhotoError(
            "bad_vector", "the model returned an invalid vector (NaN) for this photo"
        )


def _write_batch(
    catalog: Catalog,
    batch: list[_Result],
    vec_of: dict[int, np.ndarray],
    model_id: str,
    moved_ids: set[int],
    summary: IndexSummary,
) -> None:
    writes: list[PhotoWrite] = []
    kinds: list[str] = []
    for r in batch:
        w, f = r.work, r.work.found
        base = dict(
            article_id=w.article_id,
            path=f.text,
            raw_path=f.raw,
            size=f.size,
            mtime_ns=f.mtime_ns,
            view=w.view,
            existing_id=w.row.id if w.row else None,
        )
        if r.error is not None:
            summary.skipped_files.append({"path": f.text, "reason": r.error.reason, "message": str(r.error)})
            if r.error.reason == "vanished":
                continue  # nothing on disk to record; an old row is removed with the other deletions
            writes.append(PhotoWrite(**base, error=f"{r.error.reason}: {r.error}"))
            kinds.append("new" if w.row is None else "changed")
        elif r.moved_from is not None and r.moved_from >= 0:
            writes.append(PhotoWrite(**base, moved_from=r.moved_from))
            moved_ids.add(r.moved_from)
            kinds.append("moved")
        else:
            writes.append(
                PhotoWrite(
                    **base,
                    content_changed=w.kind == "changed",
                    hash=r.hash,
                    width=r.width,
                    height=r.height,
                    vector=vec_of[id(r)],
                )
            )
            kinds.append("new" if w.row is None else "changed" if w.kind == "changed" else "reembedded")
    catalog.write_photos(writes, model_id)
    for kind in kinds:
        setattr(summary, kind, getattr(summary, kind) + 1)


def embed_files(
    encoder: Encoder, paths: list[Path], resize: str | None = None, mirror: bool = False
) -> tuple[np.ndarray, list[Path], list[str]]:
    """Vectors of photo files outside the catalog (queries), preprocessed like the catalog's photos.

    Returns (vectors, the files used, problems); unreadable files are reported, not fatal.
    """
    tensors, used, problems = [], [], []
    for path in paths:
        try:
            t, _ = preprocess(read_bytes(path), encoder.manifest, resize=resize, mirror=mirror)
        except PhotoError as exc:
            problems.append(f"{Path(path).name}: {exc}")
            continue
        tensors.append(t)
        used.append(Path(path))
    if not tensors:
        return np.zeros((0, encoder.manifest.dim), np.float32), used, problems
    out = encoder.encode(np.concatenate(tensors, axis=0))
    if mirror:
        out = normalise(out.reshape(len(used), 2, -1).mean(axis=1))
    return out, used, problems
