"""The catalog's tables, its schema version and the migrations from every older version.

Tables: meta (schema version, creator), settings (JSON values; their keys belong to core.settings),
articles, photos, vectors (one row per photo and model), labels (keyed by article id text, so they
outlive regrouping), label_events (the undoable decision log), index_runs, article_covers, decisions
(same product / look-alike / not a match between two articles), photo_verdicts (duplicate or not between
two photos), adapters (learned projections of a model's vectors), layouts (2-D maps of the articles),
photo_fingerprints (the duplicate finder's small signatures of photos, keyed by content hash) and
photo_thumbnails (one small JPEG per photo, so that a machine without the photos still shows them).
"""

from __future__ import annotations

import json

import sqlalchemy as sa

SCHEMA_VERSION = 8
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
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
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
    # manual, import, folder, accepted (one at a time in the review queue), accepted-bulk, accepted-zero-shot:
    # see core/label_sources.py (the last two are never ground truth for calibration)
    sa.Column("source", sa.Text, nullable=False, default="manual"),
    sa.Column("updated_at", sa.Float, nullable=False),
)
# The key in an index run's summary (JSON) under which it keeps the files its scan skipped: they have no
# photo row to hold their reason.
SCAN_SKIPPED = "scan_skipped"
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
    sa.Column("new_source", sa.Text),  # the source it wrote (None: a skip, a removal, or an event before v7)
)


article_covers_table = sa.Table(
    "article_covers",
    metadata,
    sa.Column("article", sa.Text, primary_key=True),  # article key: the choice outlives regrouping
    sa.Column("path", sa.Text, nullable=False),  # the cover photo's stored (relative) path
    sa.Column("curator", sa.Text),
    sa.Column("updated_at", sa.Float, nullable=False),
)
# Match decisions between two articles: one row per decision, the latest live one per pair counts.
decisions_table = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "article_a", sa.Text, nullable=False
    ),  # article keys, article_a < article_b: a pair is unordered
    sa.Column("article_b", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),  # same, alike, not_match; "none" takes a decision back
    sa.Column("note", sa.Text),
    sa.Column("curator", sa.Text),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("undone", sa.Boolean, nullable=False, default=False),
    sa.Column("batch", sa.Integer, index=True),  # decisions made together (an import) are undone together
    sa.Column("replaces", sa.Integer),  # the decision on this pair that was current when this one was made
    sa.Index("ix_decisions_pair", "article_a", "article_b"),
)
# Duplicate verdicts between two photos (photo level of the duplicate finder); same shape as decisions.
photo_verdicts_table = sa.Table(
    "photo_verdicts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("path_a", sa.Text, nullable=False),  # stored photo paths, path_a < path_b
    sa.Column("path_b", sa.Text, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),  # duplicate, not_duplicate
    sa.Column("curator", sa.Text),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("undone", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_photo_verdicts_pair", "path_a", "path_b"),
)
# Learned projections of a model's vectors (catalog-adapted embeddings), with what they were trained on.
adapters_table = sa.Table(
    "adapters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.Text, nullable=False, index=True),  # the vector identity it applies to
    sa.Column("kind", sa.Text, nullable=False),  # e.g. linear, whitening
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=False),
    sa.Column("info", sa.Text),  # JSON: training data, dimensions, figures
    sa.Column("data", sa.LargeBinary, nullable=False),  # numpy .npz
)
# 2-D layouts of the articles (the catalog map), keyed by what they were computed from.
layouts_table = sa.Table(
    "layouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model_id", sa.Text, nullable=False),
    sa.Column("adapter_id", sa.Integer),  # None: the frozen vectors
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("articles_digest", sa.Text, nullable=False),  # which articles it covers
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("info", sa.Text),  # JSON
    sa.Column("data", sa.LargeBinary, nullable=False),  # numpy .npz: article keys and coordinates
)
# The duplicate finder's signatures of photos (core.fingerprints): a function of the file's content, so they
# are keyed by content hash and survive moves, renames and re-indexing; `version` is the layout they were
# made with (older ones are made again).
photo_fingerprints_table = sa.Table(
    "photo_fingerprints",
    metadata,
    sa.Column("content_hash", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("made_at", sa.Float, nullable=False),
)
# One small JPEG per photo (core.catalog_thumbnails), kept in the catalog so that a machine that cannot read
# the photos (a photo share not mounted there) still shows them; removed with its photo, and with its
# vectors when the photo's content changes.
photo_thumbnails_table = sa.Table(
    "photo_thumbnails",
    metadata,
    sa.Column("photo_id", sa.Integer, sa.ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG
)


def _v1_to_v2(conn: sa.Connection) -> None:
    """v2 added the index_runs history and the labels' source column."""
    cols = {c["name"] for c in sa.inspect(conn).get_columns("labels")}
    if "source" not in cols:
        conn.exec_driver_sql("ALTER TABLE labels ADD COLUMN source TEXT NOT NULL DEFAULT 'manual'")
    runs_table.create(conn, checkfirst=True)


def _v2_to_v3(conn: sa.Connection) -> None:
    """v3 added the label decision log, which makes review decisions undoable across restarts."""
    label_events_table.create(conn, checkfirst=True)


def _v3_to_v4(conn: sa.Connection) -> None:
    """v4: decision batches and curators in the log; one settings layout; the catalog's application id."""
    from desktop_app.core.settings import upgrade_raw

    cols = {c["name"] for c in sa.inspect(conn).get_columns("label_events")}
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
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")


def _v4_to_v5(conn: sa.Connection) -> None:
    """v5: cover choices, match decisions, photo duplicate verdicts, adapters and map layouts."""
    for table in (article_covers_table, decisions_table, photo_verdicts_table, adapters_table, layouts_table):
        table.create(conn, checkfirst=True)


def _v5_to_v6(conn: sa.Connection) -> None:
    """v6: photo fingerprints for the duplicate finder."""
    photo_fingerprints_table.create(conn, checkfirst=True)


def _v6_to_v7(conn: sa.Connection) -> None:
    """v7: label events record the source they wrote, and bulk accepts get a source of their own.

    Before, a bulk accept and one suggestion accepted in the review queue both wrote "accepted"; calibration
    must tell them apart (a label accepted in bulk is not ground truth). Their log does: a bulk accept is one
    decision (batch) of several "accept" events. A bulk accept of a single suggestion cannot be told from a
    reviewed one and stays "accepted"."""
    from desktop_app.core.label_sources import BULK_ACCEPTED, REVIEWED

    cols = {c["name"] for c in sa.inspect(conn).get_columns("label_events")}
    if "new_source" not in cols:
        conn.exec_driver_sql("ALTER TABLE label_events ADD COLUMN new_source TEXT")
    e, t = label_events_table, labels_table
    accepts = sa.and_(e.c.action == "accept", e.c.new_value.is_not(None))
    bulk = (
        sa.select(e.c.batch)
        .where(accepts, e.c.batch.is_not(None))
        .group_by(e.c.batch)
        .having(sa.func.count() > 1)
    )
    conn.execute(e.update().where(accepts, e.c.batch.in_(bulk)).values(new_source=BULK_ACCEPTED))
    conn.execute(e.update().where(accepts, e.c.new_source.is_(None)).values(new_source=REVIEWED))
    # A label still holding what a live bulk accept wrote (and marked "accepted" since) came from it.
    last = e.alias("last_change")  # the live event that last changed each label
    latest = (
        sa.select(sa.func.max(last.c.id))
        .where(
            last.c.article == t.c.article,
            last.c.field == t.c.field,
            last.c.undone.is_(False),
            last.c.action.notin_(["skip", "undo"]),
        )
        .correlate(t)
        .scalar_subquery()
    )
    from_bulk = (
        sa.exists()
        .where(e.c.id == latest, e.c.new_source == BULK_ACCEPTED, e.c.new_value == t.c.value)
        .correlate(t)
    )
    conn.execute(t.update().where(t.c.source == REVIEWED, from_bulk).values(source=BULK_ACCEPTED))


def _v7_to_v8(conn: sa.Connection) -> None:
    """v8: thumbnails in the catalog. Photos indexed before get theirs from the next index run of a catalog
    that keeps them (see core.catalog_thumbnails)."""
    photo_thumbnails_table.create(conn, checkfirst=True)


MIGRATIONS = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
    6: _v6_to_v7,
    7: _v7_to_v8,
}  # from-version -> step to from-version + 1
