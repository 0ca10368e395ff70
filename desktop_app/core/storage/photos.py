"""Articles and photos in the catalog: what the indexer writes (photos with their vectors, in batches) and
what browsing reads. Reading the vectors back is `storage.vectors`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from desktop_app.core.errors import Conflict
from desktop_app.core.storage.decisions import follow_photo_moves, retire_photo_verdicts
from desktop_app.core.storage.schema import (
    article_covers_table,
    articles_table,
    decisions_table,
    labels_table,
    photos_table,
    vectors_table,
)
from desktop_app.core.storage.sql import IN_LIST_SIZE, in_lists, upsert
from desktop_app.core.storage.thumbnails import StoredThumbnail, drop_thumbnails, write_thumbnail
from desktop_app.core.storage.vectors import VECTOR_DTYPE
from desktop_app.core.vectors import sound_rows

# `Catalog.set_cover(expected=...)` left out: whatever the cover is now, it is replaced.
ANY_COVER = object()


@dataclass(frozen=True)
class CoverChange:
    """One cover choice as written: the article, the chosen photo before and after (None: the automatic
    cover), and when."""

    article: str
    before: str | None
    after: str | None
    at: float


def _cover_conflict(article: str, row: sa.Row | None) -> dict:
    """The cover someone else chose, as a conflict box lists it."""
    value = row.path if row else "the automatic cover"
    return {
        "article": article,
        "field": "cover",
        "value": value,
        "curator": row.curator if row else None,
        "at": row.updated_at if row else None,
    }


@dataclass
class PhotoRow:
    id: int
    article: str
    path: str
    raw_path: bytes
    size: int
    mtime_ns: int
    hash: str | None
    width: int | None
    height: int | None
    view: str | None
    status: str
    error: str | None


@dataclass
class PhotoWrite:
    """What one index run learned about one file, to be written with its batch."""

    article_id: int
    path: str
    raw_path: bytes
    size: int
    mtime_ns: int
    view: str | None
    existing_id: int | None = None  # the row this file already has
    content_changed: bool = False  # new content since that row: every model's vectors are stale
    hash: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None  # "reason: message": the file is recorded as skipped
    moved_from: int | None = None  # a vanished photo whose row (and vectors) this file takes over
    vector: np.ndarray | None = None
    thumbnail: StoredThumbnail | None = None  # for a catalog that keeps thumbnails (core.catalog_thumbnails)


_OVERVIEW_PARTITION = 20_000  # rows of the article overview read at a time


class PhotoStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    # ------------------------------------------------------------ reading

    def photo_rows(self) -> list[PhotoRow]:
        return self._photos_where(sa.true())

    def photo_paths(self) -> set[str]:
        """Every stored photo's path, relative to the photo folder."""
        with self.read() as conn:
            return set(conn.execute(sa.select(photos_table.c.path)).scalars())

    def photo_path_sample(self, n: int) -> tuple[str, ...]:
        """Up to `n` stored photo paths spread evenly over the catalog by id (fewer when ids have gaps or
        the catalog is small): one index look-up each, whatever the catalog's size."""
        p = photos_table
        with self.read() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(p.c.id), sa.func.max(p.c.id))).one()
            if lo is None or n < 1:
                return ()
            step = max(1, (hi - lo + 1) // n)
            found = (
                conn.execute(sa.select(p.c.path).where(p.c.id >= start).order_by(p.c.id).limit(1)).scalar()
                for start in range(lo, hi + 1, step)[:n]
            )
            return tuple(dict.fromkeys(path for path in found if path is not None))

    def photos_of(self, article: str) -> list[PhotoRow]:
        return self._photos_where(articles_table.c.key == article)

    def _photos_where(self, cond) -> list[PhotoRow]:
        p, a = photos_table, articles_table
        q = sa.select(
            p.c.id,
            a.c.key,
            p.c.path,
            p.c.raw_path,
            p.c.size,
            p.c.mtime_ns,
            p.c.hash,
            p.c.width,
            p.c.height,
            p.c.view,
            p.c.status,
            p.c.error,
        ).join(a, a.c.id == p.c.article_id)
        with self.read() as conn:
            return [PhotoRow(*r) for r in conn.execute(q.where(cond).order_by(p.c.path))]

    def articles_of_photos(self, paths: Iterable[str]) -> dict[str, str]:
        """The article of each of these photos (paths relative to the photo folder) that is in the catalog."""
        paths = list(dict.fromkeys(paths))
        p, a = photos_table, articles_table
        found: dict[str, str] = {}
        with self.read() as conn:
            for start in range(0, len(paths), IN_LIST_SIZE):
                q = sa.select(p.c.path, a.c.key).join(a, a.c.id == p.c.article_id)
                rows = conn.execute(q.where(p.c.path.in_(paths[start : start + IN_LIST_SIZE])))
                found.update((path, key) for path, key in rows)
        return found

    def photo_ids_with_vectors(self, model_id: str) -> set[int]:
        with self.read() as conn:
            return set(
                conn.execute(
                    sa.select(vectors_table.c.photo_id).where(vectors_table.c.model_id == model_id)
                ).scalars()
            )

    def counts(self, model_id: str | None = None) -> dict:
        p = photos_table
        with self.read() as conn:
            out = {
                "articles": conn.execute(sa.select(sa.func.count()).select_from(articles_table)).scalar_one(),
                "labelled_articles": conn.execute(
                    sa.select(sa.func.count(sa.distinct(labels_table.c.article)))
                ).scalar_one(),
            }
            # One pass over the photos for all three counts (a million rows take a noticeable time per pass).
            total, ok, error = conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.sum(sa.case((p.c.status == "ok", 1), else_=0)),
                    sa.func.sum(sa.case((p.c.status == "error", 1), else_=0)),
                )
            ).one()
            out.update(photos=int(total), photos_ok=int(ok or 0), photos_error=int(error or 0))
            models = conn.execute(
                sa.select(vectors_table.c.model_id, sa.func.count()).group_by(vectors_table.c.model_id)
            ).all()
        out["vectors_by_model"] = {m: n for m, n in models}
        if model_id is not None:
            out["photos_embedded"] = out["vectors_by_model"].get(model_id, 0)
        return out

    def skipped(self) -> list[dict]:
        q = sa.select(photos_table.c.path, photos_table.c.error).where(photos_table.c.status == "error")
        with self.read() as conn:
            rows = conn.execute(q.order_by(photos_table.c.path)).all()
        out = []
        for path, error in rows:
            reason, _, message = (error or "error: unknown").partition(": ")
            out.append({"path": path, "reason": reason, "message": message})
        return out

    def article_keys(self) -> list[str]:
        with self.read() as conn:
            return list(
                conn.execute(sa.select(articles_table.c.key).order_by(articles_table.c.key)).scalars()
            )

    def known_articles(self, keys: Iterable[str]) -> set[str]:
        """Which of these article ids exist in the catalog."""
        keys = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self.read() as conn:
            for start in range(0, len(keys), IN_LIST_SIZE):
                part = keys[start : start + IN_LIST_SIZE]
                found.update(
                    conn.execute(
                        sa.select(articles_table.c.key).where(articles_table.c.key.in_(part))
                    ).scalars()
                )
        return found

    def articles_overview(self, limit: int | None = None) -> list[dict]:
        """One row per article for browsing: key, folder, photo count, cover photo, added time, labels; only
        the first `limit` articles by key when given (see `article_columns`)."""
        cols = self.article_columns(limit)
        return [dict(zip(cols, values)) for values in zip(*cols.values())]

    def article_columns(self, limit: int | None = None) -> dict[str, tuple]:
        """`articles_overview` as columns: "article", "folder", "added_at", "photos", "cover", "errors",
        "labels", each a tuple in article key order. Read in partitions, so that a quarter of a million
        articles never exist as a quarter of a million row objects at once (each full garbage collection
        they set off while the window loads them in a worker holds every thread up).

        The cover is the curator's choice (article_covers) when that photo is still there; else the rule
        of `scan.cover_position`: the first photo tagged main/front/1/a, else the first untagged, else the
        first.
        """
        from desktop_app.core.scan import COVER_VIEWS

        p, a, c = photos_table, articles_table, article_covers_table
        tagged = sa.func.min(sa.case((sa.func.lower(p.c.view).in_(COVER_VIEWS), p.c.path)))
        untagged = sa.func.min(sa.case((p.c.view.is_(None), p.c.path)))
        chosen = sa.func.max(sa.case((p.c.path == c.c.path, p.c.path)))
        q = (
            sa.select(
                a.c.key,
                a.c.folder,
                a.c.added_at,
                sa.func.count(p.c.id),
                sa.func.coalesce(chosen, tagged, untagged, sa.func.min(p.c.path)),
                sa.func.sum(sa.case((p.c.status == "error", 1), else_=0)),
            )
            .join(p, p.c.article_id == a.c.id)
            .outerjoin(c, c.c.article == a.c.key)
            .group_by(a.c.id)
            .order_by(a.c.key)
        )
        if limit is not None:
            q = q.where(a.c.id.in_(sa.select(a.c.id).order_by(a.c.key).limit(limit).scalar_subquery()))
        labels = self.labels()
        keys: list[str] = []
        folders: list[str | None] = []
        added: list[float] = []
        photos: list[int] = []
        covers: list[str | None] = []
        errors: list[int] = []
        with self.read() as conn:
            for part in conn.execute(q).partitions(_OVERVIEW_PARTITION):
                for k, f, t, n, cover, err in part:
                    keys.append(k)
                    folders.append(f)
                    added.append(t)
                    photos.append(n)
                    covers.append(cover)
                    errors.append(int(err or 0))
        return {
            "article": tuple(keys),
            "folder": tuple(folders),
            "added_at": tuple(added),
            "photos": tuple(photos),
            "cover": tuple(covers),
            "errors": tuple(errors),
            "labels": tuple(labels.get(k, {}) for k in keys),
        }

    def covers(self) -> dict[str, str]:
        """The covers curators chose: article -> photo path."""
        with self.read() as conn:
            return dict(
                conn.execute(sa.select(article_covers_table.c.article, article_covers_table.c.path)).all()
            )

    def set_cover(
        self, article: str, path: str | None, curator: str | None = None, expected: object = ANY_COVER
    ) -> CoverChange:
        """Use this photo as the article's cover (None: back to the automatic choice); returns the choice it
        replaced, read in the same transaction. With `expected` (a path, or None for the automatic cover),
        a choice that is not that one any more (someone chose another since) is a Conflict: nothing is
        written."""
        c = article_covers_table
        now = time.time()
        with self.write("set a cover in") as conn:
            row = conn.execute(
                sa.select(c.c.path, c.c.curator, c.c.updated_at).where(c.c.article == article)
            ).first()
            before = row.path if row else None
            if expected is not ANY_COVER and before != expected:
                raise Conflict(
                    f"The cover of {article} was changed since: it is {before or 'the automatic one'} now.",
                    [_cover_conflict(article, row)],
                )
            if path is None:
                conn.execute(c.delete().where(c.c.article == article))
                return CoverChange(article, before, None, now)
            owner = conn.execute(
                sa.select(articles_table.c.key)
                .join(photos_table, photos_table.c.article_id == articles_table.c.id)
                .where(photos_table.c.path == path)
            ).scalar()
            if owner != article:
                raise ValueError(f"{path} is not a photo of {article}")
            upsert(
                conn,
                c,
                {"article": article, "path": path, "curator": curator, "updated_at": now},
                ["article"],
            )
        return CoverChange(article, before, path, now)

    # ------------------------------------------------------------ writing (the indexer)

    def sync_articles(self, keys: Iterable[str], folders: Mapping[str, str] | None = None) -> dict[str, int]:
        """Ids of these articles, creating the missing ones. An article's folder is `folders[key]` (where its
        photos are; an index run corrects it when it changed) or else the id's parent path."""
        keys = set(keys)

        def folder_of(k: str) -> str:
            if folders is not None and k in folders:
                return folders[k]
            return k.rsplit("/", 1)[0] if "/" in k else ""

        a = articles_table
        with self.write() as conn:
            stored = {k: (i, f) for k, i, f in conn.execute(sa.select(a.c.key, a.c.id, a.c.folder))}
            missing = sorted(keys - stored.keys())
            if missing:
                now = time.time()
                conn.execute(
                    a.insert(), [{"key": k, "folder": folder_of(k), "added_at": now} for k in missing]
                )
            if folders:
                moved = [
                    {"i": i, "f": folders[k]}
                    for k, (i, f) in stored.items()
                    if k in folders and folders[k] != f
                ]
                if moved:
                    conn.execute(
                        a.update().where(a.c.id == sa.bindparam("i")).values(folder=sa.bindparam("f")), moved
                    )
            existing = {k: i for k, (i, _f) in stored.items()}
            if missing:
                existing = dict(conn.execute(sa.select(a.c.key, a.c.id)).all())
        return existing

    def orphaned(self) -> dict[str, int]:
        """Labelled articles and decided pairs whose article the catalog no longer has (after a change of
        grouping rule, say); they are kept, and come back with their articles."""
        a, lab, d = articles_table, labels_table, decisions_table
        present = sa.select(a.c.key)
        with self.read() as conn:
            labels = conn.execute(
                sa.select(sa.func.count(sa.distinct(lab.c.article))).where(lab.c.article.not_in(present))
            ).scalar_one()
            pairs = conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(d.c.article_a, d.c.article_b)
                    .where(d.c.undone.is_(False), d.c.decision != "none")
                    .where(sa.or_(d.c.article_a.not_in(present), d.c.article_b.not_in(present)))
                    .distinct()
                    .subquery()
                )
            ).scalar_one()
        return {"labelled_articles": int(labels), "decided_pairs": int(pairs)}

    def regroup_photos(self, changes: list[dict]) -> None:
        """Move photos to other articles or views: dicts with pid, aid, view."""
        if not changes:
            return
        stmt = (
            photos_table.update()
            .where(photos_table.c.id == sa.bindparam("pid"))
            .values(article_id=sa.bindparam("aid"), view=sa.bindparam("view"), updated_at=time.time())
        )
        with self.write() as conn:
            conn.execute(stmt, changes)

    def rewrite_photo_paths(self, rewrites: Sequence[tuple[int, str, str]]) -> None:
        """Store photos' paths in another form, (photo id, old path, new path) each, in one transaction: the
        photo keeps its row, so its vectors and article stay; its cover choice and duplicate verdicts follow
        it. In two steps, since one photo's new path may be another's old one."""
        if not rewrites:
            return
        p = photos_table
        step = (
            p.update()
            .where(p.c.id == sa.bindparam("pid"))
            .values(path=sa.bindparam("to"), updated_at=time.time())
        )
        with self.write() as conn:
            # No stored path starts with a slash: these cannot meet any photo's path, old or new.
            conn.execute(step, [{"pid": pid, "to": f"/rewriting/{pid}"} for pid, _, _ in rewrites])
            conn.execute(step, [{"pid": pid, "to": new} for pid, _, new in rewrites])
            moves = {old: new for _, old, new in rewrites}
            follow_cover_moves(conn, moves)
            follow_photo_moves(conn, moves)

    def remove_photos(self, ids: Sequence[int]) -> int:
        if not ids:
            return 0
        with self.write() as conn:
            for chunk in in_lists(ids):
                gone = conn.execute(sa.select(photos_table.c.path).where(photos_table.c.id.in_(chunk)))
                retire_photo_verdicts(conn, gone.scalars().all())
                conn.execute(vectors_table.delete().where(vectors_table.c.photo_id.in_(chunk)))
                drop_thumbnails(conn, chunk)
                conn.execute(photos_table.delete().where(photos_table.c.id.in_(chunk)))
        return len(ids)

    def drop_empty_articles(self) -> None:
        with self.write() as conn:
            conn.execute(
                articles_table.delete().where(
                    ~sa.exists().where(photos_table.c.article_id == articles_table.c.id)
                )
            )

    def write_photos(self, writes: Sequence[PhotoWrite], model_id: str) -> list[int]:
        """One batch of index results in one transaction; returns the photo id of each write (0: none)."""
        now = time.time()
        ids: list[int] = []
        p, v = photos_table, vectors_table
        moves: dict[str, str] = {}  # old stored path -> new, for the verdicts that follow the photo
        edited: list[str] = []  # photos whose content changed: their verdicts are retired
        with self.write() as conn:
            for w in writes:
                values = dict(
                    article_id=w.article_id,
                    path=w.path,
                    raw_path=w.raw_path,
                    size=w.size,
                    mtime_ns=w.mtime_ns,
                    view=w.view,
                    updated_at=now,
                )
                if w.moved_from is not None:
                    old = conn.execute(sa.select(p.c.path).where(p.c.id == w.moved_from)).scalar_one()
                    moves[old] = w.path
                    conn.execute(p.update().where(p.c.id == w.moved_from).values(**values))
                    ids.append(w.moved_from)
                    continue
                values.update(
                    hash=w.hash,
                    width=w.width,
                    height=w.height,
                    status="error" if w.error else "ok",
                    error=w.error,
                )
                if w.existing_id is None:
                    pid = int(conn.execute(p.insert().values(added_at=now, **values)).inserted_primary_key[0])
                else:
                    pid = w.existing_id
                    if w.content_changed and _new_content(conn, pid, w.hash):
                        edited.append(w.path)  # a touched file (same hash) is still the judged picture
                    if w.content_changed or w.error:
                        conn.execute(v.delete().where(v.c.photo_id == pid))
                        drop_thumbnails(conn, [pid])  # of the old picture
                    conn.execute(p.update().where(p.c.id == pid).values(**values))
                ids.append(pid)
                if w.error is None and w.vector is not None:
                    vec = np.asarray(w.vector, dtype=VECTOR_DTYPE)
                    if not sound_rows(vec)[0]:  # the indexer skips such photos: reaching here is a bug
                        raise ValueError(
                            f"refusing to store a vector that is not a finite unit vector for {w.path}"
                        )
                    upsert(
                        conn,
                        v,
                        dict(photo_id=pid, model_id=model_id, dim=int(vec.shape[0]), data=vec.tobytes()),
                        ["photo_id", "model_id"],
                    )
                if w.error is None and w.thumbnail is not None:
                    write_thumbnail(conn, pid, w.thumbnail)
            follow_photo_moves(conn, moves)
            retire_photo_verdicts(conn, edited)
        return ids


def follow_cover_moves(conn, moves: dict[str, str]) -> None:
    """Rewrite the cover choices naming a photo whose stored path changed (old -> new), in the caller's
    transaction; every choice is read before any is written, so paths that swap are followed once."""
    c = article_covers_table
    changes = []
    for chunk in in_lists(list(moves)):
        rows = conn.execute(sa.select(c.c.article, c.c.path).where(c.c.path.in_(chunk)))
        changes += [{"key": article, "to": moves[path]} for article, path in rows]
    if changes:
        conn.execute(
            c.update().where(c.c.article == sa.bindparam("key")).values(path=sa.bindparam("to")), changes
        )


def _new_content(conn, photo_id: int, new_hash: str | None) -> bool:
    """Whether a changed file's content differs from what its row holds (None: unknown, so it may)."""
    old = conn.execute(sa.select(photos_table.c.hash).where(photos_table.c.id == photo_id)).scalar_one()
    return new_hash is None or old != new_hash
