"""A local, memory-mapped copy of one catalog's vectors of one model, kept in step with the catalog.

Reading a million vectors out of database rows at every start takes a minute and twice the memory; this
store keeps them as one contiguous float16 matrix on disk (beside an SQLite catalog, or in the user's data
folder for a shared one), each article's photos in consecutive rows, with the photo ids, article offsets,
names, views and paths, the article centroids and, for large catalogs, the candidate stage's graph index
(`ann.py`). Opening maps the files: the pages a search touches are read, nothing else.

`state.json` is the store: it names the files of the current generation, how many rows and articles of
them are valid, and the catalog revision (`Catalog.vectors_revision`) they reflect. A sync writes new
files under new names (or appends rows past the valid end of the current ones), then replaces state.json
in one atomic rename, then deletes what the new state does not name. A sync killed at any point leaves the
previous state valid; the next sync removes its leftovers. Searches that mapped the previous files keep
reading them (POSIX keeps deleted files alive while mapped).

Every open and sync first checks the files against state.json (`vector_store_check`: sizes, the metadata's
arrays, the graph index's file). A damaged store is rebuilt from the catalog, with a warning, as a missing or
stale one is; a damaged graph index alone is built again from the stored vectors.

What a sync does depends on what changed since the last one (it reads only the catalog's metadata and the
vectors of new or changed photos):
- photos added as new articles (the common case: a new folder of products) are appended: the vectors and
  centroids files grow, a new metadata file is written, the graph index gets the new keys;
- anything else (photos re-embedded, moved, renamed or removed) rewrites the vectors in the catalog's
  article order, copying unchanged rows from the old file, and changes the graph index by the same
  difference (keys removed, keys added), without rebuilding it.
One sync at a time per store (a file lock).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core import ann
from desktop_app.core.paths import user_data_dir
from desktop_app.core.read_ahead import READ_AHEAD_SHARE, ReadAhead, available_memory
from desktop_app.core.vector_store_check import (
    StoreDamaged,
    check_files,
    load_meta,
    restamp,
    stamp_files,
    usable_state,
)
from desktop_app.core.vector_store_meta import StoreDiff, StoreMeta, diff_rows
from desktop_app.core.vectors import ArticleVectors

STORE_VERSION = 2
DTYPE = np.float16
FETCH_CHUNK = 20_000
Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    photos: int
    fetched: int  # vectors read from the catalog
    reused: int  # vectors taken over from the previous store
    seconds: float
    how: str  # "fresh" (nothing to do), "appended" or "rewritten"
    ann: str  # the candidate index: "none", "built", "updated", "kept" or "server" (none kept here)


def store_folder(catalog, model_id: str) -> Path:
    """Where a catalog's store for a model lives: beside a catalog file, or per user for a shared catalog."""
    model_key = hashlib.sha1(model_id.encode()).hexdigest()[:16]
    if catalog.path is not None:
        return Path(f"{catalog.path}.vectors") / model_key
    where = hashlib.sha1(catalog.location.encode()).hexdigest()[:16]
    return user_data_dir() / "vector-cache" / where / model_key


class VectorStore:
    def __init__(self, folder: Path, adapter=None) -> None:
        """adapter: a catalog-adapted embedding (core.adapt.Adapter): the store then keeps the adapted
        vectors of the model's, made as they are read from the catalog, with their own graph index."""
        self.folder = Path(folder)
        self.adapter = adapter

    def identity(self, model_id: str) -> str:
        """What the stored vectors are: the model's, or an adapter's projection of them."""
        return model_id if self.adapter is None else f"{model_id}+adapter{self.adapter.id}"

    # ------------------------------------------------------------ state

    def state(self) -> dict | None:
        try:
            data = json.loads((self.folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("version") == STORE_VERSION else None

    def fresh(self, revision: tuple, model_id: str) -> bool:
        state = self.state()
        return (
            state is not None
            and state.get("model_id") == model_id
            and tuple(state["revision"]) == tuple(revision)
        )

    # ------------------------------------------------------------ opening

    def open(self, labels: dict[str, dict[str, str]] | None = None) -> ArticleVectors:
        """The stored vectors as ArticleVectors over memory-mapped float16 files; StoreDamaged when a file is
        not what state.json says (`open_repaired` rebuilds the store then)."""
        for attempt in range(3):
            state = self.state()
            if state is None:
                raise FileNotFoundError(self.folder)
            try:
                return self._open(state, labels or {})
            except (FileNotFoundError, StoreDamaged) as exc:
                replaced = self.state() != state  # a sync replaced the files under us: open the new ones
                if attempt == 2 or (isinstance(exc, StoreDamaged) and not replaced):
                    raise
        raise AssertionError("unreachable")

    def open_repaired(
        self,
        catalog,
        model_id: str,
        labels: dict | None = None,
        progress: Progress | None = None,
        graph: bool = True,
    ) -> ArticleVectors:
        """`open`, after rebuilding what is damaged (a sync checks sizes; this finds what only reading shows,
        such as bytes overwritten in the metadata or the graph index)."""
        try:
            return self.open(labels)
        except StoreDamaged as exc:
            log.warning("The search cache %s is damaged (%s); rebuilding it.", self.folder, exc)
            self.forget(exc)
            self.sync(catalog, model_id, progress=progress, graph=graph)
            return self.open(labels)

    def forget(self, damage: StoreDamaged) -> None:
        """Make the next sync rebuild what is damaged: the graph index alone, or the whole store."""
        with self._sync_lock():
            state = self.state()
            if state is not None:
                self._write_state(dict(state, ann=None) if damage.ann_only else dict(state, damaged=True))

    def _restamp(self, state: dict, names: list[str]) -> None:
        """Record the new stat stamps of files found whole, so the next open need not read them again; left
        to the next open when the store cannot be written here or a sync changed it meanwhile."""
        from desktop_app.core.storage.locks import FileLock

        lock = FileLock(self._sync_lock_path())
        try:
            if not lock.acquire():  # a sync is running (it stamps what it writes): never wait for it here
                return
            try:
                if self.state() == state:
                    self._write_state(restamp(state, self.folder, names))
            finally:
                lock.release()
        except OSError as exc:
            log.debug("The search cache %s was not stamped again: %s", self.folder, exc)

    def _open(self, state: dict, labels: dict[str, dict[str, str]]) -> ArticleVectors:
        n, dim, n_articles = state["n"], state["dim"], state["articles"]
        damage = check_files(self.folder, state)
        if damage or state.get("damaged"):
            raise damage.error() if damage else StoreDamaged("marked damaged by an earlier open")
        if damage.touched:
            self._restamp(state, damage.touched)
        # With a graph index, search reads a few thousand scattered rows: no read-ahead, so that from a cold
        # cache the disk reads those rows and not the megabytes around each.
        scattered = bool(state.get("ann"))
        vectors = self._map(state["vectors"], (n, dim), scattered)
        meta = load_meta(self.folder / state["meta"])
        av = ArticleVectors(
            vectors,
            meta.ids,
            meta.offsets,
            meta.articles,
            meta.views,
            meta.paths,
            [labels.get(a, {}) for a in meta.articles],
            state["model_id"],
        )
        av.centroids = self._map(state["centroids"], (n_articles, dim), scattered)
        if state.get("ann"):
            av.ann = ann.AnnIndex.open(self.folder, state["ann"])
        return av

    def read_ahead(self) -> ReadAhead | None:
        """Start reading the store into the OS file cache (see `ReadAhead`) when it has a graph index and fits
        comfortably in memory; None when not worth it or not known to fit."""
        state = self.state()
        if state is None or not state.get("ann"):
            return None  # small stores: a search reads most of them anyway, in large sequential runs
        files = [self.folder / n for n in _named_files(state)]
        try:
            size = sum(f.stat().st_size for f in files)
        except OSError:
            return None
        available = available_memory()
        if available is None or size > READ_AHEAD_SHARE * available:
            return None
        return ReadAhead(files).start()

    def _map(self, name: str | None, shape: tuple[int, int], scattered: bool = False) -> np.ndarray:
        if not name or shape[0] == 0:
            return np.zeros(shape, dtype=DTYPE)
        with open(self.folder / name, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        if scattered and hasattr(mmap, "MADV_RANDOM"):
            mapped.madvise(mmap.MADV_RANDOM)
        return np.frombuffer(mapped, dtype=DTYPE, count=shape[0] * shape[1]).reshape(shape)

    # ------------------------------------------------------------ keeping in step

    def sync(
        self,
        catalog,
        model_id: str,
        revision: tuple | None = None,
        progress: Progress | None = None,
        graph: bool = True,
    ) -> SyncReport:
        """Bring the store to the catalog's current vectors; reads only what changed since the last sync (all
        of them when the store is damaged). graph=False: no graph index of its own (the catalog's server
        keeps one, `storage.server_index`), and any it had is dropped."""
        t0 = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._sync_lock():
            revision = revision or catalog.vectors_revision(model_id)
            ident = self.identity(model_id)
            raw = self.state()
            generation = (raw["generation"] + 1) if raw is not None else 1  # never a damaged file's name
            state = usable_state(self.folder, raw, ident)
            # Its graph index dropped or its files stamped again: state.json says so first.
            if state is not None and state is not raw:
                self._write_state(state)
            self._remove_unused(state)  # leftovers of a sync that was killed, damaged files
            if _fresh(state, revision, graph):
                if graph or not state.get("ann"):
                    return SyncReport(state["n"], 0, state["n"], 0.0, "fresh", "kept")
                state = dict(state, ann=None)  # the server keeps the graph now: this one goes
                self._write_state(state)
                self._remove_unused(state)
                return SyncReport(state["n"], 0, state["n"], 0.0, "fresh", "server")
            new = StoreMeta.of_rows(catalog.vector_meta(model_id))
            old = None
            if state is not None and state["n"]:
                try:
                    old = load_meta(self.folder / state["meta"])
                except StoreDamaged as exc:
                    log.warning("The search cache %s is damaged (%s); rebuilding it.", self.folder, exc)
                    state = None
            diff = diff_rows(old, new)
            if diff.appendable:
                report, final, added_rows = self._append(
                    catalog, model_id, state, old, new, diff, generation, progress
                )
            else:
                report, final, added_rows = self._rewrite(
                    catalog, model_id, state, new, diff, generation, progress
                )
            vectors = self._map(final["vectors"], (final["n"], final["dim"]))
            final["ann"], report.ann = (
                self._update_ann(state, final, vectors, diff, added_rows, generation, progress)
                if graph
                else (None, "server")
            )
            del vectors
            final.update(
                version=STORE_VERSION, model_id=ident, revision=list(revision), generation=generation
            )
            final["files"] = stamp_files(self.folder, final)
            self._write_state(final)
            self._remove_unused(final)
            report.seconds = round(time.perf_counter() - t0, 3)
            return report

    def _sync_lock_path(self) -> Path:
        return self.folder.parent / f"{self.folder.name}.sync-lock"

    @contextmanager
    def _sync_lock(self) -> Iterator[None]:
        """One sync (or repair) of this store at a time, across processes."""
        from desktop_app.core.storage.locks import FileLock

        lock = FileLock(self._sync_lock_path())
        lock.acquire(wait=True)
        try:
            yield
        finally:
            lock.release()

    def _write_state(self, state: dict) -> None:
        """Replace state.json in one atomic rename: readers see the old store or the new one."""
        tmp = self.folder / "state.json.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(state))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / "state.json")

    def _append(
        self,
        catalog,
        model_id,
        state,
        old: StoreMeta,
        new: StoreMeta,
        diff: StoreDiff,
        generation: int,
        progress,
    ) -> tuple[SyncReport, dict, np.ndarray]:
        """Only new articles: their rows go after the stored ones, in the same files."""
        n_old, dim, a_old = state["n"], state["dim"], state["articles"]
        added = new.take(np.flatnonzero(diff.old_rows < 0))
        vectors = self._fetch(catalog, model_id, added.ids, dim, progress)
        _append_rows(self.folder / state["vectors"], n_old * dim * 2, vectors)
        _append_rows(
            self.folder / state["centroids"],
            a_old * dim * 2,
            _centroids(vectors, added.offsets).astype(DTYPE),
        )
        meta_name = f"meta-{generation}.npz"
        old.concat(added).save(self.folder / meta_name)
        n = n_old + len(added.ids)
        final = dict(state, n=n, articles=a_old + len(added.articles), meta=meta_name)
        report = SyncReport(n, len(added.ids), n_old, 0.0, "appended", "")
        return report, final, np.arange(n_old, n, dtype=np.int64)

    def _rewrite(
        self, catalog, model_id, state, new: StoreMeta, diff: StoreDiff, generation: int, progress
    ) -> tuple[SyncReport, dict, np.ndarray]:
        """Everything in the catalog's order into new files; unchanged rows copied from the old ones."""
        n = len(new.ids)
        old_vectors = self._map(state["vectors"], (state["n"], state["dim"])) if state else None
        dim = state["dim"] if state and state["n"] else 0
        need = int((~diff.reuse).sum())
        name = f"vectors-{generation}.f16"
        out = None
        fetched_so_far = 0
        # A chunk of rows at a time: the vectors it needs are read from the catalog, the rest copied from the
        # old store, so memory stays at one chunk however large the catalog is.
        for i in range(0, n, FETCH_CHUNK):
            j = min(i + FETCH_CHUNK, n)
            kept = diff.reuse[i:j]
            new_rows = np.flatnonzero(~kept)
            fetched = self._fetch(catalog, model_id, new.ids[i:j][new_rows], dim, None)
            if out is None:
                dim = dim or fetched.shape[1]
                out = _new_matrix(self.folder / name, n, dim)
            block = np.empty((j - i, dim), dtype=DTYPE)
            if kept.any():
                block[kept] = _gather(old_vectors, diff.old_rows[i:j][kept])
            if new_rows.size:
                block[new_rows] = fetched
            out[i:j] = block
            fetched_so_far += new_rows.size
            if progress and need:
                progress(fetched_so_far, need, "reading vectors")
        vectors = np.zeros((0, dim), DTYPE)
        if out is not None:
            out.flush()
            vectors = out
        centroids_name = f"centroids-{generation}.f16"
        cents = _centroids(vectors, new.offsets).astype(DTYPE)
        with open(self.folder / centroids_name, "wb") as fh:
            fh.write(cents.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        meta_name = f"meta-{generation}.npz"
        new.save(self.folder / meta_name)
        del out, vectors
        final = {
            "n": n,
            "dim": dim,
            "articles": len(new.articles),
            "vectors": name if n else None,
            "centroids": centroids_name,
            "meta": meta_name,
        }
        report = SyncReport(n, need, int(diff.reuse.sum()), 0.0, "rewritten", "")
        return report, final, np.flatnonzero(~diff.reuse)

    def _update_ann(
        self,
        state,
        final: dict,
        vectors: np.ndarray,
        diff: StoreDiff,
        added_rows: np.ndarray,
        generation: int,
        progress,
    ) -> tuple[dict | None, str]:
        """The candidate index for the new rows: none below ann.MIN_PHOTOS, else changed by the same
        difference as the store (or built, the first time)."""
        n = final["n"]
        if not ann.wanted(n):
            return None, "none"
        name = f"ann-{generation}"
        meta = load_meta(self.folder / final["meta"])
        old = state.get("ann") if state else None
        if old is None:
            return ann.build(self.folder, name, vectors, meta.ids, progress), "built"
        remove = np.concatenate([diff.removed_ids, diff.changed_ids])
        info = ann.update(self.folder, old, name, vectors, meta.ids, added_rows, remove, progress)
        return info, "updated"

    def _fetch(self, catalog, model_id: str, ids: np.ndarray, dim: int, progress) -> np.ndarray:
        """Vectors of these photos from the catalog (adapted, for an adapter's store), in order, float16; a
        chunk of the catalog at a time."""
        out = np.empty((len(ids), dim), dtype=DTYPE) if dim else None
        for s in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[s : s + FETCH_CHUNK]
            got = catalog.vector_data(model_id, chunk.tolist())
            block = np.stack([got[int(x)] for x in chunk])
            block = (block if self.adapter is None else self.adapter.apply(block)).astype(DTYPE)
            if out is None:
                out = np.empty((len(ids), block.shape[1]), dtype=DTYPE)
            out[s : s + len(chunk)] = block
            if progress:
                progress(s + len(chunk), len(ids), "reading vectors")
        return out if out is not None else np.zeros((0, dim), dtype=DTYPE)

    def _remove_unused(self, state: dict | None) -> None:
        """Delete files the state does not name (older generations, a killed sync's leftovers)."""
        keep = {"state.json", *_named_files(state)}
        for f in self.folder.iterdir():
            if f.name not in keep:
                try:
                    f.unlink()
                except OSError:
                    pass  # in use elsewhere (Windows): the next sync tries again


def _fresh(state: dict | None, revision: tuple, graph: bool = True) -> bool:
    """A whole store of the catalog's current vectors, with the graph index its size calls for (any, when
    the server keeps the catalog's: see `VectorStore.sync`)."""
    if state is None or tuple(state["revision"]) != tuple(revision):
        return False
    return not graph or bool(state.get("ann")) or not ann.wanted(state["n"])


def _named_files(state: dict | None) -> list[str]:
    """The files a state names: the graph index first, then the centroids, vectors and metadata."""
    if state is None:
        return []
    ann_info = state.get("ann") or {}
    names = [
        ann_info.get("file"),
        ann_info.get("basis"),
        *(state.get(k) for k in ("centroids", "vectors", "meta")),
    ]
    return [n for n in names if n]


def _append_rows(path: Path, valid_bytes: int, rows: np.ndarray) -> None:
    """Write rows after the first `valid_bytes` of a file (dropping whatever a killed sync left there)."""
    with open(path, "r+b") as fh:
        fh.truncate(valid_bytes)
        fh.seek(valid_bytes)
        fh.write(np.ascontiguousarray(rows).tobytes())
        fh.flush()
        os.fsync(fh.fileno())


def _new_matrix(path: Path, rows: int, dim: int) -> np.memmap:
    """A new float16 file of rows x dim, mapped for writing, its blocks allocated first: on a full disk that
    fails with ENOSPC here, where writing into the mapped pages of a sparse file would kill the process."""
    with open(path, "wb") as fh:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fh.fileno(), 0, rows * dim * 2)
        else:
            fh.truncate(rows * dim * 2)
    return np.memmap(path, dtype=DTYPE, mode="r+", shape=(rows, dim))


def _gather(source: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """source[rows], copying runs of consecutive rows as slices (a rewrite mostly copies long runs)."""
    if rows.size == 0:
        return source[:0]
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [rows.size]])
    if starts.size > rows.size // 8:
        return source[rows]
    return np.concatenate([source[rows[s] : rows[e - 1] + 1] for s, e in zip(starts, ends)])


def _centroids(vectors: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Normalised mean vector of each article, computed a block of articles at a time."""
    n_articles = len(offsets) - 1
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    out = np.zeros((n_articles, dim), dtype=np.float32)
    step = 50_000
    for a0 in range(0, n_articles, step):
        a1 = min(a0 + step, n_articles)
        r0, r1 = int(offsets[a0]), int(offsets[a1])
        block = np.asarray(vectors[r0:r1], dtype=np.float32)
        sums = np.add.reduceat(block, offsets[a0:a1] - r0, axis=0) if r1 > r0 else np.zeros((0, dim))
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        out[a0:a1] = sums / np.maximum(norms, 1e-12)
    return out
