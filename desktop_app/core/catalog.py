"""The catalog: one SQLite file per photo folder holding what Lookalike learned and what the curator did.

Tables: meta (schema version), settings, articles, photos, vectors (one row per photo and model), labels
(keyed by article id text, so they outlive regrouping), index_runs. SQLAlchemy Core is used throughout:
the hot paths are bulk inserts and bulk reads of vector blobs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from desktop_app import __version__
from desktop_app.core.errors import CatalogError
from desktop_app.core.vectors import ArticleVectors

SCHEMA_VERSION = 3
PAGE_SIZE = 16384  # vector blobs are 2-5 KB; 16 KB pages keep them off overflow chains

metadata = sa.MetaData()

meta_table = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
settings_table = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
)
articles_table = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("folder", sa.Text, nullable=False, default=""),
    sa.Column("added_at", sa.Float, nullable=False),
)
photos_table = sa.Table(
    "photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False, unique=True),  # relative, "/"-separated, printable
    sa.Column("raw_path", sa.LargeBinary, nullable=False),  # the OS bytes of the relative path
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("mtime_ns", sa.Integer, nullable=False),
    sa.Column("hash", sa.Text, index=True),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("view", sa.Text),
    sa.Column("status", sa.Text, nullable=False),  # "ok" or "error"
    sa.Column("error", sa.Text),  # "reason: message" when status is "error"
    sa.Column("added_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
vectors_table = sa.Table(
    "vectors",
    metadata,
    sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("model_id", sa.Text, primary_key=True),
    sa.Column("dim", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # float32 little-endian, L2-normalised
)
labels_table = sa.Table(
    "labels",
    metadata,
    sa.Column("article", sa.Text, primary_key=True),  # article key, not id: labels survive regrouping
    sa.Column("field", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False, default="manual"),  # manual, import, folder, accepted
    sa.Column("updated_at", sa.Float, nullable=False),
)
runs_table = sa.Table(
    "index_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("status", sa.Text, nullable=False),  # running, done, cancelled, failed
    sa.Column("model_id", sa.Text),
    sa.Column("summary", sa.Text),  # JSON
)
label_events_table = sa.Table(
    "label_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("article", sa.Text, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("old_source", sa.Text),  # so an undo gives the label back its origin (import, accepted, ...)
    sa.Column("new_value", sa.Text),
    sa.Column("action", sa.Text, nullable=False),  # set, accept, alternative, skip, import, undo
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("undone", sa.Boolean, nullable=False, default=False),
)


def _v1_to_v2(conn: sa.Connection) -> None:
    """v2 added the index_runs history and the labels' source column."""
    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(labels)")}
    if "source" not in cols:
        conn.exec_driver_sql("ALTER TABLE labels ADD COLUMN source TEXT NOT NULL DEFAULT 'manual'")
    runs_table.create(conn, checkfirst=True)


def _v2_to_v3(conn: sa.Connection) -> None:
    """v3 added the label decision log, which makes review decisions undoable across restarts."""
    label_events_table.create(conn, checkfirst=True)


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3}  # from-version -> step to from-version + 1


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


def _set_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 10000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")  # with WAL: survives a process kill, cheap commits
    cur.close()


class Catalog:
    """An open catalog file. Thread use: one writer at a time; reads from any thread via new connections."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            if not create:
                raise CatalogError(
                    f"No catalog at {self.path}. Index a photo folder first (lookalike index DIR)."
                )
            self._check_creatable()
        elif not os.access(self.path, os.R_OK):
            raise CatalogError(f"The catalog {self.path} cannot be read (permission denied).")
        self.engine = self._make_engine()
        try:
            self._prepare()
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise self._explain(exc) from exc
        except sa.exc.DatabaseError as exc:
            self.engine.dispose()
            raise CatalogError(f"{self.path} is not a Lookalike catalog or is damaged ({exc.orig}).") from exc

    # ------------------------------------------------------------ opening

    def _check_creatable(self) -> None:
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CatalogError(
                f"Cannot create the catalog folder {parent}: {exc.strerror}. Choose another place with --db."
            ) from exc
        if not os.access(parent, os.W_OK | os.X_OK):
            raise CatalogError(
                f"Cannot create a catalog in {parent}: the folder is read-only. Choose another place with --db."
            )

    def _make_engine(self) -> Engine:
        engine = sa.create_engine(f"sqlite:///{self.path}", future=True)
        event.listen(engine, "connect", _set_pragmas)
        return engine

    def _explain(self, exc: Exception) -> CatalogError:
        text = str(getattr(exc, "orig", exc))
        if "readonly" in text or "read-only" in text:
            return CatalogError(f"The catalog {self.path} is read-only ({text}). Copy it somewhere writable.")
        if "disk" in text and "full" in text:
            return CatalogError(f"The disk holding {self.path} is full. Free some space and try again.")
        if "locked" in text:
            return CatalogError(f"The catalog {self.path} is busy in another program ({text}). Try again.")
        return CatalogError(f"The catalog {self.path} cannot be opened: {text}")

    def _prepare(self) -> None:
        with self.engine.connect() as conn:
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables:
                # page_size only takes effect before the first table exists and outside WAL mode
                conn.exec_driver_sql(f"PRAGMA page_size = {PAGE_SIZE}")
                conn.exec_driver_sql("PRAGMA journal_mode = WAL")
                metadata.create_all(conn)
                now = time.time()
                conn.execute(
                    meta_table.insert(),
                    [
                        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                        {"key": "created_by", "value": f"lookalike {__version__}"},
                        {"key": "created_at", "value": str(now)},
                    ],
                )
                conn.commit()
                return
            if "meta" not in tables:
                raise CatalogError(f"{self.path} is an SQLite file but not a Lookalike catalog.")
            conn.exec_driver_sql("PRAGMA journal_mode = WAL")
            version = int(
                conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar_one()
            )
            if version > SCHEMA_VERSION:
                written_by = conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "created_by")
                ).scalar()
                raise CatalogError(
                    f"The catalog {self.path} was written by a newer Lookalike (schema {version}, "
                    f"{written_by or 'unknown version'}); this is {__version__} (schema {SCHEMA_VERSION}). "
                    "Update Lookalike to open it; it was left untouched."
                )
            if version < SCHEMA_VERSION:
                self._migrate(conn, version)

    def _migrate(self, conn: sa.Connection, version: int) -> None:
        conn.commit()
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(
                meta_table.update().where(meta_table.c.key == "schema_version").values(value=str(version))
            )
            conn.commit()
        except Exception:
            conn.rollback()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ settings

    def get_setting(self, key: str, default=None):
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(settings_table.c.value).where(settings_table.c.key == key)
            ).scalar()
        return default if value is None else json.loads(value)

    def settings(self) -> dict:
        with self.engine.connect() as conn:
            return {k: json.loads(v) for k, v in conn.execute(sa.select(settings_table))}

    def set_settings(self, **values) -> None:
        from sqlalchemy.dialects.sqlite import insert

        with self.engine.begin() as conn:
            for key, value in values.items():
                stmt = insert(settings_table).values(key=key, value=json.dumps(value))
                conn.execute(
                    stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
                )

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).scalar_one()
            )

    # ------------------------------------------------------------ reading

    def photo_rows(self) -> list[PhotoRow]:
        return self._photos_where(sa.true())

    def photo_ids_with_vectors(self, model_id: str) -> set[int]:
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(vectors_table.c.photo_id).where(vectors_table.c.model_id == model_id)
                ).scalars()
            )

    def counts(self, model_id: str | None = None) -> dict:
        with self.engine.connect() as conn:
            out = {
                "articles": conn.execute(sa.select(sa.func.count()).select_from(articles_table)).scalar_one(),
                "photos": conn.execute(sa.select(sa.func.count()).select_from(photos_table)).scalar_one(),
                "photos_ok": conn.execute(
                    sa.select(sa.func.count()).where(photos_table.c.status == "ok")
                ).scalar_one(),
                "photos_error": conn.execute(
                    sa.select(sa.func.count()).where(photos_table.c.status == "error")
                ).scalar_one(),
                "labelled_articles": conn.execute(
                    sa.select(sa.func.count(sa.distinct(labels_table.c.article)))
                ).scalar_one(),
            }
            models = conn.execute(
                sa.select(vectors_table.c.model_id, sa.func.count()).group_by(vectors_table.c.model_id)
            ).all()
            out["vectors_by_model"] = {m: n for m, n in models}
            if model_id is not None:
                out["photos_embedded"] = out["vectors_by_model"].get(model_id, 0)
        return out

    def skipped(self) -> list[dict]:
        q = sa.select(photos_table.c.path, photos_table.c.error).where(photos_table.c.status == "error")
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(photos_table.c.path)).all()
        out = []
        for path, error in rows:
            reason, _, message = (error or "error: unknown").partition(": ")
            out.append({"path": path, "reason": reason, "message": message})
        return out

    def article_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(articles_table.c.key).order_by(articles_table.c.key)).scalars()
            )

    def articles_overview(self) -> list[dict]:
        """One row per article for browsing: key, folder, photo count, cover photo, added time, labels."""
        p, a = photos_table, articles_table
        q = (
            sa.select(
                a.c.key,
                a.c.folder,
                a.c.added_at,
                sa.func.count(p.c.id),
                sa.func.min(p.c.path),
                sa.func.sum(sa.case((p.c.status == "error", 1), else_=0)),
            )
            .join(p, p.c.article_id == a.c.id)
            .group_by(a.c.id)
            .order_by(a.c.key)
        )
        labels = self.labels()
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            {
                "article": k,
                "folder": f,
                "added_at": t,
                "photos": n,
                "cover": cover,
                "errors": int(err or 0),
                "labels": labels.get(k, {}),
            }
            for k, f, t, n, cover, err in rows
        ]

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
        with self.engine.connect() as conn:
            return [PhotoRow(*r) for r in conn.execute(q.where(cond).order_by(p.c.path))]

    def article_vectors(self, model_id: str) -> ArticleVectors:
        """All embedded photos of one model as one contiguous matrix grouped by article."""
        p, a, v = photos_table, articles_table, vectors_table
        q = (
            sa.select(a.c.key, p.c.id, p.c.path, p.c.view, v.c.data, v.c.dim)
            .join(p, p.c.article_id == a.c.id)
            .join(v, v.c.photo_id == p.c.id)
            .where(v.c.model_id == model_id, p.c.status == "ok")
            .order_by(a.c.key, p.c.path)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        labels = self.labels()
        if not rows:
            return ArticleVectors(
                np.zeros((0, 0), np.float32),
                np.zeros(0, np.int64),
                np.zeros(1, np.int64),
                [],
                [],
                [],
                [],
                model_id,
            )
        dim = rows[0][5]
        vectors = np.frombuffer(b"".join(r[4] for r in rows), dtype="<f4").reshape(len(rows), dim)
        keys = [r[0] for r in rows]
        articles: list[str] = []
        offsets = [0]
        for i, k in enumerate(keys):
            if not articles or articles[-1] != k:
                if articles:
                    offsets.append(i)
                articles.append(k)
        offsets.append(len(keys))
        return ArticleVectors(
            vectors=np.ascontiguousarray(vectors, dtype=np.float32),
            photo_ids=np.array([r[1] for r in rows], dtype=np.int64),
            offsets=np.array(offsets, dtype=np.int64),
            articles=articles,
            views=[r[3] for r in rows],
            paths=[r[2] for r in rows],
            labels=[labels.get(k, {}) for k in articles],
            model_id=model_id,
        )

    def photo_root(self) -> Path | None:
        root = self.get_setting("photo_root")
        return Path(root) if root else None

    def absolute_path(self, raw_path: bytes) -> Path:
        root = self.photo_root()
        if root is None:
            raise CatalogError("This catalog has no photo folder yet.")
        return root / os.fsdecode(raw_path)

    # ------------------------------------------------------------ labels

    def labels(self, field: str | None = None) -> dict[str, dict[str, str]]:
        q = sa.select(labels_table.c.article, labels_table.c.field, labels_table.c.value)
        if field:
            q = q.where(labels_table.c.field == field)
        out: dict[str, dict[str, str]] = {}
        with self.engine.connect() as conn:
            for article, f, value in conn.execute(q):
                out.setdefault(article, {})[f] = value
        return out

    def set_labels(
        self, items: Iterable[tuple[str, str, str | None]], source: str = "manual", action: str = "set"
    ) -> int:
        """(article, field, value) triples; value None removes the label.

        Committed before returning, with one logged event per change so that it can be undone later.
        """
        now = time.time()
        n = 0
        with self.engine.begin() as conn:
            for article, field, value in items:
                old, old_source = self._label_value(conn, article, field)
                self._write_label(conn, article, field, value or None, source, now)
                conn.execute(
                    label_events_table.insert().values(
                        article=article,
                        field=field,
                        old_value=old,
                        old_source=old_source,
                        new_value=value or None,
                        action=action,
                        at=now,
                        undone=False,
                    )
                )
                n += 1
        return n

    def record_skip(self, article: str, field: str) -> None:
        """A reviewer skipped an article: logged so that the review order can remember it."""
        with self.engine.begin() as conn:
            old, old_source = self._label_value(conn, article, field)
            conn.execute(
                label_events_table.insert().values(
                    article=article,
                    field=field,
                    old_value=old,
                    old_source=old_source,
                    new_value=old,
                    action="skip",
                    at=time.time(),
                    undone=False,
                )
            )

    def undo_last_label_event(self, field: str | None = None) -> dict | None:
        """Reverse the most recent label decision (optionally of one field); None when nothing is left."""
        e = label_events_table
        with self.engine.begin() as conn:
            q = sa.select(e).where(e.c.undone.is_(False), e.c.action != "undo")
            if field:
                q = q.where(e.c.field == field)
            row = conn.execute(q.order_by(e.c.id.desc()).limit(1)).first()
            if row is None:
                return None
            if row.action != "skip":
                self._write_label(
                    conn, row.article, row.field, row.old_value, row.old_source or "manual", time.time()
                )
            conn.execute(e.update().where(e.c.id == row.id).values(undone=True))
            return dict(row._mapping)

    def label_events(self, limit: int = 100) -> list[dict]:
        e = label_events_table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(e).order_by(e.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def labels_with_source(self) -> list[dict]:
        t = labels_table
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.c.article, t.c.field, t.c.value, t.c.source, t.c.updated_at).order_by(
                    t.c.article, t.c.field
                )
            ).all()
        return [dict(r._mapping) for r in rows]

    @staticmethod
    def _label_value(conn, article: str, field: str) -> tuple[str | None, str | None]:
        row = conn.execute(
            sa.select(labels_table.c.value, labels_table.c.source).where(
                labels_table.c.article == article, labels_table.c.field == field
            )
        ).first()
        return (row[0], row[1]) if row else (None, None)

    @staticmethod
    def _write_label(conn, article: str, field: str, value: str | None, source: str, now: float) -> None:
        from sqlalchemy.dialects.sqlite import insert

        if value is None:
            conn.execute(
                labels_table.delete().where(labels_table.c.article == article, labels_table.c.field == field)
            )
            return
        stmt = insert(labels_table).values(
            article=article, field=field, value=value, source=source, updated_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["article", "field"],
                set_={
                    "value": stmt.excluded.value,
                    "source": stmt.excluded.source,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )

    # ------------------------------------------------------------ index runs

    def start_run(self, model_id: str) -> int:
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    runs_table.insert().values(started_at=time.time(), status="running", model_id=model_id)
                ).inserted_primary_key[0]
            )

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id)
                .values(finished_at=time.time(), status=status, summary=json.dumps(summary))
            )

    def last_run(self) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs_table).order_by(runs_table.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["summary"] = json.loads(out["summary"]) if out["summary"] else None
        return out

    def integrity_check(self) -> str:
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar_one()


def is_disk_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and "full" in str(orig)
