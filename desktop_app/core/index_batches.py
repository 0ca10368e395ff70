"""An index run's photos read, decoded and embedded in batches, each batch committed in one transaction.

A bounded thread pool reads, hashes, decodes and preprocesses photos a few batches ahead of the encoder; the
calling thread runs the encoder and commits one transaction per batch, so a kill loses at most the batch in
flight. A new file with the content of a vanished photo takes over that photo's row and vectors (a move).
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.catalog_thumbnails import stored_thumbnail
from desktop_app.core.encoder import Encoder, normalise
from desktop_app.core.images import PhotoError, preprocess, read_bytes
from desktop_app.core.index_plan import Work
from desktop_app.core.models import ModelManifest
from desktop_app.core.storage import Catalog, PhotoWrite
from desktop_app.core.storage.thumbnails import StoredThumbnail
from desktop_app.core.vectors import sound_rows


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class BatchRun:
    """Where one index run's batches go, and what they did so far."""

    catalog: Catalog
    root: Path
    model_id: str
    resize: str | None
    mirror: bool
    article_ids: dict[str, int]  # article key -> id
    orphans: dict[str, list[int]]  # content hash -> vanished photos that still have this model's vector
    counts: Counter[str] = field(default_factory=Counter)  # photos written: new, changed, moved, reembedded
    skipped: list[dict] = field(default_factory=list)  # files that could not be embedded, and why
    moved_ids: set[int] = field(default_factory=set)  # vanished photos a moved file took over
    embedded: int = 0
    cancelled: bool = False
    thumbnails: bool = False  # store each embedded photo's thumbnail in the catalog (core.catalog_thumbnails)


@dataclass
class _Result:
    work: Work
    hash: str | None = None
    tensor: np.ndarray | None = None
    width: int | None = None
    height: int | None = None
    error: PhotoError | None = None
    moved_from: int | None = None  # orphan photo id whose vectors this file takes over
    thumbnail: StoredThumbnail | None = None


def embed_in_batches(
    run: BatchRun,
    encoder: Encoder,
    work: list[Work],
    *,
    workers: int,
    batch_size: int,
    lookahead: int,
    report: Callable[[int, str], None],
    should_cancel: Callable[[], bool],
) -> None:
    """Embed and commit `work`, `batch_size` photos a transaction, with `workers` decode threads keeping up
    to `lookahead` photos ready. `report(done, note)` after each batch; `should_cancel` is asked after each
    batch, and a cancel keeps every committed batch."""
    manifest = encoder.manifest
    orphan_hashes = frozenset(run.orphans)
    done = 0
    pending: deque[Future] = deque()
    batch: list[_Result] = []

    def prepare(w: Work, orphans: frozenset[str]) -> _Result:
        return _prepare_one(run, w, orphans, manifest)

    report(0, "embedding")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
        items = iter(work)
        while True:
            while len(pending) < lookahead and not run.cancelled:
                w = next(items, None)
                if w is None:
                    break
                pending.append(pool.submit(prepare, w, orphan_hashes))
            if not pending:
                break
            result = pending.popleft().result()
            if result.moved_from == -1 and not _claim_orphan(result, run.orphans):
                # Two new copies of one moved file: the second one needs its own vector.
                result = prepare(result.work, frozenset())
            batch.append(result)
            done += 1
            if len(batch) >= batch_size:
                _flush(run, encoder, batch)
                report(done, "")
                if should_cancel():
                    # Stop at a batch boundary: everything committed so far stays, the rest waits.
                    run.cancelled = True
                    for fut in pending:
                        fut.cancel()
                    pending.clear()
        _flush(run, encoder, batch)
    report(done, "cancelled" if run.cancelled else "done")


def _prepare_one(run: BatchRun, w: Work, orphan_hashes: frozenset[str], manifest: ModelManifest) -> _Result:
    """Runs on a pool thread: read, hash, and (unless it is a moved file) decode and preprocess, making the
    catalog's thumbnail from the same decode when the catalog keeps them."""
    try:
        data = read_bytes(run.root / w.found.rel)
        h = content_hash(data)
        if w.kind == "new" and h in orphan_hashes:
            return _Result(w, hash=h, moved_from=-1)  # the consumer claims the orphan's row
        made: list[StoredThumbnail] = []
        keep = (lambda rgb: made.append(stored_thumbnail(rgb))) if run.thumbnails else None
        tensor, loaded = preprocess(data, manifest, resize=run.resize, mirror=run.mirror, on_decoded=keep)
        return _Result(
            w,
            hash=h,
            tensor=tensor,
            width=loaded.width,
            height=loaded.height,
            thumbnail=made[0] if made else None,
        )
    except PhotoError as exc:
        return _Result(w, error=exc)


def _claim_orphan(result: _Result, orphans: dict[str, list[int]]) -> bool:
    ids = orphans.get(result.hash or "")
    if not ids:
        return False
    result.moved_from = ids.pop(0)
    return True


def _flush(run: BatchRun, encoder: Encoder, batch: list[_Result]) -> None:
    """Embed one batch and commit it in one transaction; the batch is emptied."""
    if not batch:
        return
    vec_of: dict[int, np.ndarray] = {}
    to_embed = [r for r in batch if r.tensor is not None]
    if to_embed:
        vectors = encoder.encode(np.concatenate([r.tensor for r in to_embed], axis=0))
        if run.mirror:
            vectors = normalise(vectors.reshape(len(to_embed), 2, -1).mean(axis=1))
        _sound_or_error(to_embed, vectors)
        vec_of = {id(r): vectors[i] for i, r in enumerate(to_embed) if r.tensor is not None}
    _write_batch(run, batch, vec_of)
    run.embedded += len(vec_of)
    batch.clear()


def _sound_or_error(results: list[_Result], vectors: np.ndarray) -> None:
    """A model that returns NaN or a zero vector for a photo (a broken export, bad manifest numbers) must not
    store it: the photo is recorded as skipped, with the reason."""
    for i in np.flatnonzero(~sound_rows(vectors)).tolist():
        results[i].tensor = None
        results[i].error = PhotoError(
            "bad_vector", "the model returned an invalid vector (NaN, or no direction) for this photo"
        )


def _write_batch(run: BatchRun, batch: list[_Result], vec_of: dict[int, np.ndarray]) -> None:
    writes: list[PhotoWrite] = []
    kinds: list[str] = []
    for r in batch:
        w, f = r.work, r.work.found
        base = dict(
            article_id=run.article_ids[w.article],
            path=f.text,
            raw_path=f.raw,
            size=f.size,
            mtime_ns=f.mtime_ns,
            view=w.view,
            existing_id=w.row.id if w.row else None,
        )
        if r.error is not None:
            run.skipped.append({"path": f.text, "reason": r.error.reason, "message": str(r.error)})
            if r.error.reason == "vanished":
                continue  # nothing on disk to record; an old row is removed with the other deletions
            writes.append(PhotoWrite(**base, error=f"{r.error.reason}: {r.error}"))
            kinds.append("new" if w.row is None else "changed")
        elif r.moved_from is not None and r.moved_from >= 0:
            writes.append(PhotoWrite(**base, moved_from=r.moved_from))
            run.moved_ids.add(r.moved_from)
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
                    thumbnail=r.thumbnail,
                )
            )
            kinds.append("new" if w.row is None else "changed" if w.kind == "changed" else "reembedded")
    run.catalog.write_photos(writes, run.model_id)
    run.counts.update(kinds)  # counted once the batch is committed
