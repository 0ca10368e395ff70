"""The server's candidate index: a shared catalog's vectors in pgvector's HNSW index, on the server.

A shared catalog on a PostgreSQL server that has the `vector` extension (pgvector) can let the server answer
the candidate stage of search (the nearest photos of each query photo), instead of each client building and
keeping its own graph index (`ann.py`) from its local copy of the vectors. It is switched on per catalog
(`lookalike catalog pgvector --enable`): two tables beside the catalog's own, which the catalog's schema does
not know, so SQLite catalogs, `catalog copy` and older versions never see them:

- `server_ann` (photo_id, updated_at, embedding vector(D)): one row per embedded photo of the catalog's model,
  its full vector (float32 on the server, from the stored float16), with an HNSW index on the inner product;
- `server_ann_state`: one row, the model the rows belong to and the catalog's vectors revision they match.

`sync` brings the rows up to the catalog's vectors (rows of photos removed or changed since are deleted, the
missing ones copied in with binary COPY), in one transaction under its own advisory lock: a search reading
meanwhile sees the rows before or after it, and two clients never sync at once. Index runs and search
processes sync it when it is behind; until then a removed photo's row is ignored by the client (it has no row
in the local copy) and a new photo is missing from the candidates, as with the local graph before its update.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from desktop_app.core.ann import MIN_PHOTOS
from desktop_app.core.errors import CatalogError, NoVectors, UserError
from desktop_app.core.storage.catalog import explain
from desktop_app.core.storage.schema import photos_table, vectors_table
from desktop_app.core.storage.vectors import decode_vectors

SYNC_LOCK = 0x4C6B4C6B_414E4E53  # "LkLk" "ANNS": one sync of the server index at a time
MAX_DIM = 2000  # pgvector's HNSW indexes vectors of up to 2,000 dimensions
HNSW_M = 16  # pgvector's defaults: edges per node, and the candidate list while building
HNSW_EF_CONSTRUCTION = 64
MAX_EF_SEARCH = 1000  # pgvector's upper bound; an HNSW scan returns at most ef_search rows
PARALLEL_QUERIES = 4  # query photos asked at once, on as many connections (SQLAlchemy's pool keeps 5)
COPY_CHUNK = 5_000
BUILD_MEMORY = "1GB"  # maintenance_work_mem while building the index: an HNSW build that fits is much faster
Progress = Callable[[int, int, str], None]
log = logging.getLogger(__name__)

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_SQL = "COPY server_ann (photo_id, updated_at, embedding) FROM STDIN (FORMAT BINARY)"


class NotOnThisServer(UserError):
    """The catalog is not on a server that can keep the index (a SQLite file, no pgvector, too many dims)."""


@dataclass(frozen=True)
class ServerIndexStatus:
    server: bool  # the catalog is on PostgreSQL
    available: str | None  # pgvector's version the server offers (None: not installed on the server)
    installed: str | None  # its version installed in this database (None: not yet)
    enabled: bool
    model_id: str | None = None
    dim: int | None = None
    photos: int = 0
    revision: tuple | None = None

    def fresh(self, model_id: str, revision: tuple) -> bool:
        return self.enabled and self.model_id == model_id and self.revision == tuple(revision)

    def summary(self) -> str:
        """Who answers the candidate stage, in a few words (the app's About box); "" for a SQLite file."""
        if not self.server:
            return ""
        if self.enabled:
            return f"the server's pgvector {self.installed} index ({self.photos:,} photos)"
        offer = f" (the server offers pgvector {self.available})" if self.available else ""
        return f"this machine's own graph index, from {MIN_PHOTOS:,} photos{offer}"

    def as_dict(self) -> dict:
        return {
            "server": self.server,
            "pgvector_available": self.available,
            "pgvector_installed": self.installed,
            "enabled": self.enabled,
            "model_id": self.model_id,
            "dim": self.dim,
            "photos": self.photos,
        }


def _is_server(catalog) -> bool:
    return catalog.backend.kind == "postgresql"


@contextmanager
def _transaction(catalog, doing: str) -> Iterator[sa.Connection]:
    """A transaction outside the catalog's write lock (the server index has its own), whose driver errors
    become the catalog's user-facing errors like every other statement's."""
    try:
        with catalog.engine.begin() as conn:
            yield conn
    except sa.exc.DBAPIError as exc:
        raise explain(exc, catalog.backend, doing) from exc


def status(catalog) -> ServerIndexStatus:
    """What the server offers and whether this catalog uses it; for SQLite catalogs, server=False."""
    if not _is_server(catalog):
        return ServerIndexStatus(False, None, None, False)
    with catalog.read() as conn:
        available, installed = conn.execute(
            sa.text(
                "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = 'vector'"
            )
        ).one_or_none() or (None, None)
        if conn.execute(sa.text("SELECT to_regclass('server_ann_state')")).scalar() is None:
            return ServerIndexStatus(True, available, installed, False)
        row = conn.execute(
            sa.text("SELECT model_id, dim, revision, photos FROM server_ann_state")
        ).one_or_none()
    if row is None:
        return ServerIndexStatus(True, available, installed, False)
    revision = tuple(int(x) if float(x).is_integer() else float(x) for x in row.revision.split(",") if x)
    return ServerIndexStatus(True, available, installed, True, row.model_id, row.dim, row.photos, revision)


def ready(
    catalog, model_id: str, progress: Progress | None = None, revision: tuple | None = None
) -> int | None:
    """The photos in the server index of a catalog that has it switched on, synced with its vectors of
    `model_id` first when behind (`revision`: the catalog's vectors revision, when known); None when it is
    off (or the catalog is not on a server)."""
    if not _is_server(catalog):
        return None
    state = status(catalog)
    if not state.enabled:
        return None
    revision = revision or catalog.vectors_revision(model_id)
    return state.photos if state.fresh(model_id, revision) else sync(catalog, model_id, revision, progress)


def enable(catalog, model_id: str, revision: tuple, progress: Progress | None = None) -> int:
    """Switch the server index on for this model's vectors (install the extension in the database when the
    user may, make the tables, fill them, build the HNSW index); returns the photos indexed."""
    state = status(catalog)
    with catalog.read() as conn:
        dim = _dim(conn, model_id)
    _check_can_keep(catalog, state, dim)
    if not dim:
        raise NoVectors("The catalog has no embedded photos for its model yet; update the index first.")
    if state.installed is None:
        _install_extension(catalog)
    return state.photos if state.fresh(model_id, revision) else sync(catalog, model_id, revision, progress)


def disable(catalog) -> bool:
    """Drop the server index's tables; False when it was not on. The extension stays installed."""
    if not _is_server(catalog):
        return False
    with _transaction(catalog, "change the server index of") as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SYNC_LOCK})")
        catalog.backend.as_owner(conn)  # the tables are the team's, like the catalog's own
        existed = conn.execute(sa.text("SELECT to_regclass('server_ann_state')")).scalar() is not None
        conn.exec_driver_sql("DROP TABLE IF EXISTS server_ann")
        conn.exec_driver_sql("DROP TABLE IF EXISTS server_ann_state")
    return existed


def _check_can_keep(catalog, state: ServerIndexStatus, dim: int) -> None:
    if not state.server:
        raise NotOnThisServer(
            f"The catalog {catalog.location} is a SQLite file: the server index (pgvector) is for shared "
            f"catalogs on PostgreSQL; this catalog's search uses its own graph index from {MIN_PHOTOS:,} photos."
        )
    if state.available is None:
        raise NotOnThisServer(
            f"The PostgreSQL server at {catalog.backend.where()} has no pgvector (the `vector` extension); "
            "its administrator can install it (Debian: apt-get install postgresql-NN-pgvector, NN the server's "
            "version). Until then search uses this machine's own graph index, as it does now."
        )
    if dim > MAX_DIM:
        raise NotOnThisServer(
            f"The catalog's model makes {dim}-d vectors; pgvector indexes at most {MAX_DIM} dimensions, so "
            "search keeps this machine's own graph index."
        )


def _install_extension(catalog) -> None:
    try:
        with catalog.engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS vector")
    except sa.exc.DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise explain(exc, catalog.backend, "install pgvector in") from exc
        psql = catalog.backend.client_command("psql").rsplit(" -U ", 1)[0]
        raise CatalogError(
            f"The server has pgvector, but it is not installed in the database {catalog.backend.url.database} "
            f"and only a superuser may install it: ask one to run {psql} -d {catalog.backend.url.database} "
            "-c 'CREATE EXTENSION vector', then run this again."
        ) from exc


def sync(catalog, model_id: str, revision: tuple, progress: Progress | None = None) -> int:
    """Bring the server index to the catalog's current vectors of `model_id`; returns the photos in it."""
    with _transaction(catalog, "update the server index of") as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SYNC_LOCK})")
        catalog.backend.as_owner(conn)
        dim = _dim(conn, model_id)
        new = _prepare_tables(conn, model_id, dim)
        _delete_stale(conn, model_id)
        missing = _missing_ids(conn, model_id)
        if missing:
            _copy_in(conn, model_id, missing, dim, progress)
        if new:
            if progress:
                progress(0, 1, "building the server's index")
            conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
            conn.exec_driver_sql(
                "CREATE INDEX server_ann_hnsw ON server_ann USING hnsw (embedding vector_ip_ops) "
                f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
            )
        photos = int(conn.execute(sa.text("SELECT count(*) FROM server_ann")).scalar())
        conn.execute(
            sa.text("UPDATE server_ann_state SET model_id = :m, dim = :d, revision = :r, photos = :n"),
            {"m": model_id, "d": dim, "r": ",".join(repr(x) for x in revision), "n": photos},
        )
        return photos


def _dim(conn: sa.Connection, model_id: str) -> int:
    v = vectors_table
    return int(conn.execute(sa.select(sa.func.max(v.c.dim)).where(v.c.model_id == model_id)).scalar() or 0)


def _prepare_tables(conn: sa.Connection, model_id: str, dim: int) -> bool:
    """The tables, made (or made again for another model or vector size); True when new (and empty)."""
    if conn.execute(sa.text("SELECT to_regclass('server_ann_state')")).scalar() is not None:
        row = conn.execute(sa.text("SELECT model_id, dim FROM server_ann_state")).one_or_none()
        if row is not None and row.model_id == model_id and row.dim == dim:
            return False
    conn.exec_driver_sql("DROP TABLE IF EXISTS server_ann")
    conn.exec_driver_sql("DROP TABLE IF EXISTS server_ann_state")
    conn.exec_driver_sql(
        f"CREATE TABLE server_ann (photo_id bigint PRIMARY KEY, updated_at double precision NOT NULL, "
        f"embedding vector({int(dim)}) NOT NULL)"
    )
    conn.exec_driver_sql(
        "CREATE TABLE server_ann_state (model_id text NOT NULL, dim integer NOT NULL, revision text NOT NULL, "
        "photos integer NOT NULL)"
    )
    conn.execute(
        sa.text("INSERT INTO server_ann_state VALUES (:m, :d, '', 0)"), {"m": model_id, "d": int(dim)}
    )
    return True


def _current(model_id: str):
    """The embedded photos of the model search uses: (photo id, updated_at)."""
    p, v = photos_table, vectors_table
    return (
        sa.select(p.c.id, p.c.updated_at)
        .join(v, v.c.photo_id == p.c.id)
        .where(v.c.model_id == model_id, p.c.status == "ok")
    )


def _delete_stale(conn: sa.Connection, model_id: str) -> None:
    """Rows of photos removed, no longer searched, or changed (written again) since they were copied."""
    current = _current(model_id).subquery()
    ann = sa.table("server_ann", sa.column("photo_id"), sa.column("updated_at"))
    conn.execute(
        sa.delete(ann).where(
            ~sa.exists().where(current.c.id == ann.c.photo_id, current.c.updated_at == ann.c.updated_at)
        )
    )


def _missing_ids(conn: sa.Connection, model_id: str) -> list[int]:
    current = _current(model_id).subquery()
    ann = sa.table("server_ann", sa.column("photo_id"))
    q = sa.select(current.c.id).where(~sa.exists().where(ann.c.photo_id == current.c.id))
    return sorted(int(r[0]) for r in conn.execute(q))


def _copy_in(conn: sa.Connection, model_id: str, ids: list[int], dim: int, progress) -> None:
    """Copy these photos' vectors in, a chunk at a time, in PostgreSQL's binary COPY format."""
    p, v = photos_table, vectors_table
    raw = conn.connection.driver_connection
    row_type = np.dtype(
        [
            ("fields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("time_len", ">i4"),
            ("time", ">f8"),
            ("vec_len", ">i4"),
            ("dim", ">i2"),
            ("unused", ">i2"),
            ("vec", ">f4", (dim,)),
        ]
    )
    for start in range(0, len(ids), COPY_CHUNK):
        chunk = ids[start : start + COPY_CHUNK]
        rows = conn.execute(
            sa.select(v.c.photo_id, p.c.updated_at, v.c.data, v.c.dim)
            .join(p, p.c.id == v.c.photo_id)
            .where(v.c.model_id == model_id, v.c.photo_id.in_(chunk))
        ).all()
        block = np.zeros(len(rows), dtype=row_type)
        block["fields"], block["id_len"], block["time_len"] = 3, 8, 8
        block["vec_len"], block["dim"] = 4 + 4 * dim, dim
        block["id"] = [r[0] for r in rows]
        block["time"] = [r[1] for r in rows]
        block["vec"] = decode_vectors([r[2] for r in rows], dim)
        # No other statement may run on the connection while a COPY is open: one COPY per chunk read.
        with raw.cursor() as cur, cur.copy(_COPY_SQL) as copy:
            copy.write(_COPY_HEADER + block.tobytes() + _COPY_TRAILER)
        if progress:
            progress(start + len(chunk), len(ids), "copying vectors to the server")


def nearest(catalog, queries: np.ndarray, per_photo: int) -> list[np.ndarray]:
    """The photo ids nearest each query vector by inner product (at most `per_photo` each), from the
    server's HNSW index: the query photos asked at once, each on its own connection (a statement runs on one
    server core, and a query article has several photos)."""
    queries = np.asarray(queries, dtype=np.float32)
    if len(queries) <= 1:
        return [_nearest_one(catalog, q, per_photo) for q in queries]
    with ThreadPoolExecutor(min(PARALLEL_QUERIES, len(queries))) as pool:
        return list(pool.map(lambda q: _nearest_one(catalog, q, per_photo), queries))


def _nearest_one(catalog, query: np.ndarray, per_photo: int) -> np.ndarray:
    ef = max(40, min(MAX_EF_SEARCH, 2 * per_photo))
    with catalog.read() as conn:
        conn.exec_driver_sql(f"SET LOCAL hnsw.ef_search = {ef}")
        found = conn.execute(
            sa.text("SELECT photo_id FROM server_ann ORDER BY embedding <#> CAST(:q AS vector) LIMIT :n"),
            {"q": _literal(query), "n": min(per_photo, MAX_EF_SEARCH)},
        )
        return np.fromiter((r[0] for r in found), dtype=np.int64)


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"
