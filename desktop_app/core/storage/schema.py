"""The catalog's tables, its schema version and the migrations from every older version.

Tables: meta (schema version, creator), settings (JSON values; their keys belong to core.settings),
articles, photos, vectors (one row per photo and model), labels (keyed by article id text, so they
outlive regrouping), label_events (the undoable decision log), index_runs.
"""

from __future__ import annotations

import json

import sqlalchemy as sa

SCHEMA_VERSION = 4
# PRAGMA application_id of a Lookalike catalog ("LkLk"), set from schema 4 on: with the schema version it
# identifies a catalog before anything is written to a file.
APPLICATION_ID = 0x4C6B4C6B
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
    sa.Column("status", sa.Text, nullable=False),  # running, done, cancelled, failed, interrupted
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
    # Events written by one call share a batch (the id of its first event): one decision, undone as one.
    sa.Column("batch", sa.Integer, index=True),
    sa.Column("curator", sa.Text),  # who decided (the user name, or the name set in the user settings)
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


def _v3_to_v4(conn: sa.Connection) -> None:
    """v4: decision batches and curators in the log; one settings layout; the catalog's application id."""
    from desktop_app.core.settings import upgrade_raw

    cols = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(label_events)")}
    if "batch" not in cols:
        conn.exec_driver_sql("ALTER TABLE label_events ADD COLUMN batch INTEGER")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_label_events_batch ON label_events (batch)")
    if "curator" not in cols:
        conn.exec_driver_sql("ALTER TABLE label_events ADD COLUMN curator TEXT")
    raw = {k: json.loads(v) for k, v in conn.execute(sa.select(settings_table))}
    upgraded = upgrade_raw(raw)
    if upgraded != raw:
        conn.execute(settings_table.delete())
        conn.execute(
            settings_table.insert(), [{"key": k, "value": json.dumps(v)} for k, v in upgraded.items()]
        )
    conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")


MIGRATIONS = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}  # from-version -> step to from-version + 1
