"""Thumbnails kept in the catalog: one small JPEG per photo (made by `core.catalog_thumbnails`), so that a
machine that cannot read the photos still shows them. The indexer writes them with their photos
(`PhotoStore.write_photos` calls `write_thumbnail`), fills them in for photos indexed before, and readers
fetch many at once by stored path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from desktop_app.core.storage.schema import photo_thumbnails_table, photos_table
from desktop_app.core.storage.sql import in_lists, upsert


@dataclass(frozen=True)
class StoredThumbnail:
    """One photo's thumbnail as the catalog keeps it."""

    width: int
    height: int
    data: bytes  # JPEG
    version: str | None = None  # read back: the content hash of the photo it shows


def _row(photo_id: int, thumb: StoredThumbnail) -> dict:
    return {"photo_id": photo_id, "width": thumb.width, "height": thumb.height, "data": thumb.data}


def write_thumbnail(conn: sa.Connection, photo_id: int, thumb: StoredThumbnail) -> None:
    """Store (or replace) a photo's thumbnail inside the caller's write transaction."""
    upsert(conn, photo_thumbnails_table, _row(photo_id, thumb), ["photo_id"])


def drop_thumbnails(conn: sa.Connection, photo_ids: Sequence[int]) -> None:
    """Forget these photos' thumbnails inside the caller's write transaction (their content changed, or the
    photos go)."""
    t = photo_thumbnails_table
    for chunk in in_lists(list(photo_ids)):
        conn.execute(t.delete().where(t.c.photo_id.in_(chunk)))


def _missing():
    """Usable photos without a stored thumbnail."""
    p, t = photos_table, photo_thumbnails_table
    return sa.and_(p.c.status == "ok", ~sa.exists().where(t.c.photo_id == p.c.id))


class ThumbnailStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    def holds_thumbnails(self) -> bool:
        """Whether the catalog keeps at least one thumbnail (one made or copied from a shared catalog)."""
        with self.read() as conn:
            return conn.execute(sa.select(photo_thumbnails_table.c.photo_id).limit(1)).first() is not None

    def thumbnails_of(self, paths: Sequence[str]) -> dict[str, StoredThumbnail]:
        """The stored thumbnails of these photos (stored paths), in one read; photos without one are left
        out."""
        p, t = photos_table, photo_thumbnails_table
        q = sa.select(p.c.path, t.c.width, t.c.height, t.c.data, p.c.hash).join(t, t.c.photo_id == p.c.id)
        out: dict[str, StoredThumbnail] = {}
        with self.read() as conn:
            for chunk in in_lists(list(dict.fromkeys(paths))):
                for path, w, h, data, digest in conn.execute(q.where(p.c.path.in_(chunk))):
                    out[path] = StoredThumbnail(int(w), int(h), bytes(data), digest)
        return out

    def thumbnail_versions(self, paths: Sequence[str]) -> dict[str, str]:
        """The content hash of each of these photos (stored paths) that has a stored thumbnail: what the
        thumbnail shows, so a copy cached elsewhere can tell whether it still shows the photo as it is."""
        p, t = photos_table, photo_thumbnails_table
        q = sa.select(p.c.path, p.c.hash).join(t, t.c.photo_id == p.c.id).where(p.c.hash.is_not(None))
        out: dict[str, str] = {}
        with self.read() as conn:
            for chunk in in_lists(list(dict.fromkeys(paths))):
                out.update((path, digest) for path, digest in conn.execute(q.where(p.c.path.in_(chunk))))
        return out

    def count_without_thumbnails(self) -> int:
        """Usable photos that have no stored thumbnail."""
        with self.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(_missing())).scalar_one())

    def photos_without_thumbnails(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, stored path) of up to `limit` usable photos without a stored thumbnail, by id after `after_id`
        (a cursor: a photo that cannot be read now is not asked for again in the same pass)."""
        p = photos_table
        q = sa.select(p.c.id, p.c.path).where(_missing(), p.c.id > after_id).order_by(p.c.id).limit(limit)
        with self.read() as conn:
            return [(int(i), path) for i, path in conn.execute(q)]

    def store_thumbnails(self, thumbs: Mapping[int, StoredThumbnail]) -> int:
        """Keep these photos' thumbnails (photo id -> thumbnail) in one transaction; photos deleted since
        they were read are skipped. Returns how many were stored."""
        if not thumbs:
            return 0
        p = photos_table
        stored = 0
        with self.write("store thumbnails in") as conn:
            for chunk in in_lists(list(thumbs)):
                present = conn.execute(sa.select(p.c.id).where(p.c.id.in_(chunk))).scalars().all()
                rows = [_row(int(pid), thumbs[int(pid)]) for pid in present]
                upsert(conn, photo_thumbnails_table, rows, ["photo_id"])
                stored += len(rows)
        return stored

    def thumbnail_counts(self) -> dict[str, int]:
        """Usable photos, how many of them have a stored thumbnail, and the bytes those take."""
        p, t = photos_table, photo_thumbnails_table
        with self.read() as conn:
            photos = conn.execute(sa.select(sa.func.count()).where(p.c.status == "ok")).scalar_one()
            stored, size = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.func.length(t.c.data)), 0))
            ).one()
        return {"photos": int(photos), "stored": int(stored), "bytes": int(size)}
