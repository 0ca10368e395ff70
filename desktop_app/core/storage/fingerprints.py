"""The duplicate finder's photo fingerprints in the catalog, keyed by content hash (see core.fingerprints)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from desktop_app.core.storage.schema import photo_fingerprints_table, photos_table
from desktop_app.core.storage.sql import upsert

_CHUNK = 500  # keys per IN (...) list


class FingerprintStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    def fingerprints(self, hashes: Sequence[str], version: int) -> dict[str, bytes]:
        """Stored fingerprints of these content hashes made with this layout version."""
        t = photo_fingerprints_table
        wanted = list(dict.fromkeys(hashes))
        out: dict[str, bytes] = {}
        with self.read() as conn:
            for start in range(0, len(wanted), _CHUNK):
                part = wanted[start : start + _CHUNK]
                q = sa.select(t.c.content_hash, t.c.data).where(
                    t.c.content_hash.in_(part), t.c.version == version
                )
                out.update({h: bytes(d) for h, d in conn.execute(q)})
        return out

    def photo_prints(self, paths: Sequence[str], version: int) -> dict[str, tuple[str | None, bytes | None]]:
        """Per stored photo of these paths: its content hash and its stored fingerprint made with this layout
        version (None when there is none); paths the catalog does not hold are left out."""
        t, p = photo_fingerprints_table, photos_table
        joined = p.outerjoin(t, (t.c.content_hash == p.c.hash) & (t.c.version == version))
        q = sa.select(p.c.path, p.c.hash, t.c.data).select_from(joined).where(p.c.path.in_(list(paths)))
        with self.read() as conn:
            return {path: (h, bytes(d) if d is not None else None) for path, h, d in conn.execute(q)}

    def store_fingerprints(self, items: Iterable[tuple[str, bytes]], version: int) -> int:
        """Keep (content hash, fingerprint) items, replacing older layouts; one transaction."""
        now = time.time()
        rows = [{"content_hash": h, "version": version, "data": d, "made_at": now} for h, d in items]
        if rows:
            with self.write("store photo fingerprints in") as conn:
                upsert(conn, photo_fingerprints_table, rows, ["content_hash"])
        return len(rows)
