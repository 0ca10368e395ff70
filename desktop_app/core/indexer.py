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
import sqlalchemy as sa

from desktop_app.core.catalog import (
    Catalog,
    PhotoRow,
    articles_table,
    is_disk_full,
    photos_table,
    vectors_table,
)
from desktop_app.core.encoder import Encoder, normalise, physical_cores
from desktop_app.core.errors import CatalogError, ModelError, UserError
from desktop_app.core.images import PhotoError, preprocess, read_bytes
from desktop_app.core.models import InstalledModel, load_manifest, resolve_model
from desktop_app.core.scan import FoundFile, Grouper, GroupingRule, image_suffixes, walk_photos

REASONS = {
    "empty": "empty file",
    "not_an_image": "not an image",
    "truncated": "truncated or corrupt",
    "decode_error": "cannot be decoded",
    "too_large": "too many pixels",
    "unreadable": "cannot be read",
    "vanished": "deleted while indexing",
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
    device: str
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
    seconds: float = 0.0
    photos_per_s: float = 0.0
    cancelled: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


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


def index_folder(
    catalog: Catalog,
    photo_dir: Path | str,
    rule: GroupingRule | None = None,
    model: InstalledModel | str | None = None,
    options: IndexOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    encoder: Encoder | None = None,
) -> IndexSummary:
    """Bring the catalog up to date with the folder. Safe to cancel or kill at any point."""
    opts = options or IndexOptions()
    should_cancel = should_cancel or (lambda: False)
    started = time.perf_counter()
    root = Path(photo_dir).expanduser()
    if not root.exists():
        raise UserError(f"The photo folder {root} does not exist. Check the path or reconnect the drive.")
    if not root.is_dir():
        raise UserError(f"{root} is a file, not a folder of photos.")
    root = root.resolve()

    if rule is None:
        rule = GroupingRule.from_dict(catalog.get_setting("grouping"))
    installed = encoder.model if encoder else (model if isinstance(model, InstalledModel) else None)
    if installed is None:
        installed = resolve_model(model) if isinstance(model, str) else catalog_model(catalog)
    manifest = installed.manifest
    resize, mirror = preprocessing(catalog, manifest, opts.resize, opts.mirror)
    model_id = vector_identity(manifest, resize, mirror)

    summary = IndexSummary(
        str(root), str(catalog.path), f"{manifest.name} ({manifest.precision})", "-", rule.describe()
    )
    if progress:
        progress(Progress(0, 0, 0.0, None, "scanning folder"))
    found = list(walk_photos(root, should_cancel))
    if should_cancel():
        summary.cancelled = True
        return summary
    if not found:
        kinds = ", ".join(sorted(s.lstrip(".").upper() for s in image_suffixes()))
        raise UserError(f"No photos found in {root} (looked for {kinds}). Nothing was changed.")

    try:
        catalog.set_settings(
            photo_root=str(root),
            grouping=rule.to_dict(),
            model=manifest.name,
            model_manifest=str(installed.manifest_path),
            resize=resize,
            mirror=mirror,
        )
        run_id = catalog.start_run(model_id)
    except sa.exc.OperationalError as exc:
        raise CatalogError(f"Cannot write to the catalog {catalog.path}: {exc.orig}") from exc

    grouper = Grouper(rule, root.name)
    groups = {f.rel: grouper(f.rel) for f in found}
    summary.unmatched = sum(1 for g in groups.values() if not g.matched)
    article_ids = _sync_articles(catalog, root, {g.article for g in groups.values()})

    rows = {r.path: r for r in catalog.photo_rows()}
    have_vec = catalog.photo_ids_with_vectors(model_id)
    on_disk = {f.text for f in found}
    orphans: dict[str, list[int]] = {}  # content hash -> vanished photos that still have this model's vector
    for r in rows.values():
        if r.path not in on_disk and r.status == "ok" and r.hash and r.id in have_vec:
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
    if regroup:
        with catalog.engine.begin() as conn:
            conn.execute(
                photos_table.update()
                .where(photos_table.c.id == sa.bindparam("pid"))
                .values(article_id=sa.bindparam("aid"), view=sa.bindparam("view")),
                regroup,
            )

    embedded = 0
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
    else:
        summary.device = "not needed"
        moved_ids = set()

    if not summary.cancelled:
        # Only a complete scan may delete: a cancelled run has not seen every moved file yet.
        gone = [r.id for r in rows.values() if r.path not in on_disk and r.id not in moved_ids]
        summary.removed = _remove_photos(catalog, gone)
    _drop_empty_articles(catalog)

    counts = catalog.counts(model_id)
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


def _sync_articles(catalog: Catalog, root: Path, keys: set[str]) -> dict[str, int]:
    with catalog.engine.begin() as conn:
        existing = dict(conn.execute(sa.select(articles_table.c.key, articles_table.c.id)).all())
        missing = sorted(keys - existing.keys())
        if missing:
            now = time.time()
            conn.execute(
                articles_table.insert(),
                [
                    {"key": k, "folder": k.rsplit("/", 1)[0] if "/" in k else "", "added_at": now}
                    for k in missing
                ],
            )
            existing = dict(conn.execute(sa.select(articles_table.c.key, articles_table.c.id)).all())
    return existing


def _remove_photos(catalog: Catalog, ids: list[int]) -> int:
    if not ids:
        return 0
    with catalog.engine.begin() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            conn.execute(vectors_table.delete().where(vectors_table.c.photo_id.in_(chunk)))
            conn.execute(photos_table.delete().where(photos_table.c.id.in_(chunk)))
    return len(ids)


def _drop_empty_articles(catalog: Catalog) -> None:
    with catalog.engine.begin() as conn:
        conn.execute(
            articles_table.delete().where(
                ~sa.exists().where(photos_table.c.article_id == articles_table.c.id)
            )
        )


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
        vectors = None
        if to_embed:
            stacked = np.concatenate([r.tensor for r in to_embed], axis=0)
            out = encoder.encode(stacked)
            if mirror:
                out = normalise(out.reshape(len(to_embed), 2, -1).mean(axis=1))
            vectors = out
        try:
            _write_batch(catalog, batch, to_embed, vectors, model_id, orphans, moved_ids, summary)
        except sa.exc.OperationalError as exc:
            if is_disk_full(exc):
                raise CatalogError(
                    f"The disk holding {catalog.path} is full; the last batch was not saved. "
                    "Free some space and run the index again: it resumes where it stopped."
                ) from exc
            raise
        embedded += len(to_embed)
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


def _write_batch(catalog, batch, to_embed, vectors, model_id, orphans, moved_ids, summary) -> None:
    now = time.time()
    vec_of = {id(r): vectors[i] for i, r in enumerate(to_embed)} if vectors is not None else {}
    with catalog.engine.begin() as conn:
        for r in batch:
            w, f = r.work, r.work.found
            if r.error is not None:
                summary.skipped_files.append(
                    {"path": f.text, "reason": r.error.reason, "message": str(r.error)}
                )
                if r.error.reason == "vanished":
                    continue  # nothing on disk to record; an old row is removed with the other deletions
                values = dict(
                    article_id=w.article_id,
                    path=f.text,
                    raw_path=f.raw,
                    size=f.size,
                    mtime_ns=f.mtime_ns,
                    hash=None,
                    width=None,
                    height=None,
                    view=w.view,
                    status="error",
                    error=f"{r.error.reason}: {r.error}",
                    updated_at=now,
                )
                if w.row is None:
                    conn.execute(photos_table.insert().values(added_at=now, **values))
                    summary.new += 1
                else:
                    conn.execute(vectors_table.delete().where(vectors_table.c.photo_id == w.row.id))
                    conn.execute(photos_table.update().where(photos_table.c.id == w.row.id).values(**values))
                    summary.changed += 1
                continue
            if r.moved_from is not None and r.moved_from >= 0:
                conn.execute(
                    photos_table.update()
                    .where(photos_table.c.id == r.moved_from)
                    .values(
                        article_id=w.article_id,
                        path=f.text,
                        raw_path=f.raw,
                        size=f.size,
                        mtime_ns=f.mtime_ns,
                        view=w.view,
                        updated_at=now,
                    )
                )
                moved_ids.add(r.moved_from)
                summary.moved += 1
                continue
            values = dict(
                article_id=w.article_id,
                path=f.text,
                raw_path=f.raw,
                size=f.size,
                mtime_ns=f.mtime_ns,
                hash=r.hash,
                width=r.width,
                height=r.height,
                view=w.view,
                status="ok",
                error=None,
                updated_at=now,
            )
            if w.row is None:
                pid = conn.execute(photos_table.insert().values(added_at=now, **values)).inserted_primary_key[
                    0
                ]
                summary.new += 1
            else:
                pid = w.row.id
                if w.kind == "changed":
                    # New content: vectors of every model are stale.
                    conn.execute(vectors_table.delete().where(vectors_table.c.photo_id == pid))
                    summary.changed += 1
                else:
                    summary.reembedded += 1
                conn.execute(photos_table.update().where(photos_table.c.id == pid).values(**values))
            vec = vec_of[id(r)]
            conn.execute(
                sa.dialects.sqlite.insert(vectors_table)
                .values(
                    photo_id=pid, model_id=model_id, dim=int(vec.shape[0]), data=vec.astype("<f4").tobytes()
                )
                .on_conflict_do_update(
                    index_elements=["photo_id", "model_id"],
                    set_={
                        "data": sa.literal_column("excluded.data"),
                        "dim": sa.literal_column("excluded.dim"),
                    },
                )
            )


def catalog_model(catalog: Catalog) -> InstalledModel:
    """The model this catalog was indexed with: by name when installed, else by its manifest file."""
    name = catalog.get_setting("model")
    if name is None:
        return resolve_model(None)
    try:
        return resolve_model(name)
    except ModelError:
        path = catalog.get_setting("model_manifest")
        if path and Path(path).exists():
            return load_manifest(Path(path))
        raise


def preprocessing(
    catalog: Catalog, manifest, resize: str | None = None, mirror: bool | None = None
) -> tuple[str | None, bool]:
    """(resize override or None, mirror) from explicit choices, else from the catalog's settings."""
    resize = resize if resize is not None else catalog.get_setting("resize")
    if resize in ("model", "", manifest.resize):
        resize = None
    mirror = bool(catalog.get_setting("mirror", False)) if mirror is None else bool(mirror)
    return resize, mirror


def vector_identity(manifest, resize: str | None, mirror: bool) -> str:
    """Vectors made with other preprocessing are not comparable: they get their own identity."""
    mid = manifest.model_id
    if resize or mirror:
        mid = f"{mid}|{resize or manifest.resize}{'|mirror' if mirror else ''}"
    return mid


def catalog_model_id(catalog: Catalog, model: InstalledModel) -> str:
    """The vector identity this catalog's settings give a model (preprocessing variants included)."""
    return vector_identity(model.manifest, *preprocessing(catalog, model.manifest))


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
