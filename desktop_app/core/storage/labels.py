"""Labels and the log of label decisions, with undo that takes back a whole decision at once.

Each call that changes labels is one transaction that reads the old values and writes the new ones under
the write lock, logging one event per article with a shared batch number: a bulk accept of 158 articles
is one decision, and one undo takes all of it back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from desktop_app.core.errors import Conflict
from desktop_app.core.label_sources import UNCONFIRMED, confirms
from desktop_app.core.storage.schema import label_events_table, labels_table
from desktop_app.core.storage.sql import upsert

OVERWRITE = "Look again and decide once more (or pass --force to overwrite)."
UNDO_ANYWAY = "Look again (or pass --force to undo it anyway: those labels keep their newer value)."


class LabelStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    def labels(self, field: str | None = None, confirmed_only: bool = False) -> dict[str, dict[str, str]]:
        """article -> field -> value; `confirmed_only`: only labels the curator confirmed (not suggestions
        accepted in bulk: see core/label_sources.py), the ground truth of confidence calibration."""
        q = sa.select(labels_table.c.article, labels_table.c.field, labels_table.c.value)
        if field:
            q = q.where(labels_table.c.field == field)
        if confirmed_only:
            q = q.where(labels_table.c.source.notin_(sorted(UNCONFIRMED)))
        out: dict[str, dict[str, str]] = {}
        with self.read() as conn:
            for article, f, value in conn.execute(q):
                out.setdefault(article, {})[f] = value
        return out

    def labels_revision(self) -> tuple:
        """Changes whenever any label changes (a set, an import, an undo): for caches of labels."""
        t, e = labels_table, label_events_table
        with self.read() as conn:
            count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.updated_at))).one()
            last_event = conn.execute(sa.select(sa.func.max(e.c.id))).scalar()
        return (count, newest, last_event)

    def labels_with_source(self) -> list[dict]:
        t = labels_table
        with self.read() as conn:
            rows = conn.execute(
                sa.select(t.c.article, t.c.field, t.c.value, t.c.source, t.c.updated_at).order_by(
                    t.c.article, t.c.field
                )
            ).all()
        return [dict(r._mapping) for r in rows]

    def set_labels(
        self,
        items: Iterable[tuple[str, str, str | None]],
        source: str = "manual",
        action: str = "set",
        curator: str | None = None,
        expected: dict[tuple[str, str], str | None] | None = None,
        force: bool = False,
        conflicts: list[dict] | None = None,
    ) -> int:
        """(article, field, value) triples; value None removes the label. One decision, committed on return.

        Never overwrites a newer decision silently. With `expected` ((article, field) -> the value the curator
        saw), an item whose label is now something else is a conflict; without it, an item whose label another
        curator set last (and to something else) is one. Conflicts raise `Conflict` and nothing is written,
        or, when a `conflicts` list is given, are added to it and skipped. `force` writes regardless (the
        curator said so). A label that already has its value is left alone and logs nothing. Returns the
        number of labels changed. Writing a label's own value again changes it only when that confirms a
        suggestion accepted in bulk (`label_sources.confirms`): its source becomes `source`, logged and
        undoable like any change.
        """
        items = list(items)
        if not items:
            return 0
        now = time.time()
        e = label_events_table
        found: list[dict] = []
        with self.write("change labels in") as conn:
            batch: int | None = None
            written = 0
            for article, field, value in items:
                old, old_source = _label_value(conn, article, field)
                if old == (value or None) and not (old is not None and confirms(old_source, source)):
                    continue  # no change, no event: an undo must never take back a decision that did nothing
                if not force:
                    clash = _conflict(conn, article, field, old, value or None, curator, expected)
                    if clash is not None:
                        found.append(clash)
                        continue
                _write_label(conn, article, field, value or None, source, now)
                eid = conn.execute(
                    e.insert().values(
                        article=article,
                        field=field,
                        old_value=old,
                        old_source=old_source,
                        new_value=value or None,
                        action=action,
                        at=now,
                        undone=False,
                        batch=batch,
                        curator=curator,
                        new_source=source if value else None,
                    )
                ).inserted_primary_key[0]
                if batch is None:
                    batch = int(eid)
                    conn.execute(e.update().where(e.c.id == batch).values(batch=batch))
                written += 1
            if found and conflicts is None:
                raise Conflict(_conflict_message(found), found)  # leaving the block rolls everything back
        if conflicts is not None:
            conflicts.extend(found)
        return written

    def record_skip(self, article: str, field: str, curator: str | None = None) -> None:
        """A reviewer skipped an article: logged so that the review order can remember it."""
        e = label_events_table
        with self.write("record a decision in") as conn:
            old, old_source = _label_value(conn, article, field)
            eid = conn.execute(
                e.insert().values(
                    article=article,
                    field=field,
                    old_value=old,
                    old_source=old_source,
                    new_value=old,
                    action="skip",
                    at=time.time(),
                    undone=False,
                    curator=curator,
                )
            ).inserted_primary_key[0]
            conn.execute(e.update().where(e.c.id == eid).values(batch=int(eid)))

    def _live_events(self, field: str | None, actions: Sequence[str] | None, curator: str | None):
        e = label_events_table
        q = sa.select(e).where(e.c.undone.is_(False), e.c.action != "undo")
        if field:
            q = q.where(e.c.field == field)
        if actions:
            q = q.where(e.c.action.in_(list(actions)))
        if curator is not None:
            # Your own decisions, and those logged before decisions carried a name.
            q = q.where(sa.or_(e.c.curator == curator, e.c.curator.is_(None)))
        return q

    def last_live_event(
        self, field: str | None = None, actions: Sequence[str] | None = None, curator: str | None = None
    ) -> dict | None:
        """The decision an undo with the same arguments would take back next, without undoing it."""
        q = self._live_events(field, actions, curator).order_by(label_events_table.c.id.desc()).limit(1)
        with self.read() as conn:
            row = conn.execute(q).first()
        return dict(row._mapping) if row is not None else None

    def undo_last_decision(
        self,
        field: str | None = None,
        actions: Sequence[str] | None = None,
        curator: str | None = None,
        only_latest: bool = False,
        force: bool = False,
    ) -> list[dict]:
        """Reverse the most recent decision (every event of its batch); [] when nothing is left to undo.

        actions: only decisions of these kinds. only_latest: and only when that is the latest decision of
        the field at all (the review queue's undo must not reach past an import made meanwhile).
        The choice of what to undo and the undo itself are one transaction: two processes undoing at the
        same time take back two different decisions, never the same one twice. A label changed since is a
        Conflict, unless `force`: then the rest is undone and that label keeps its newer value.
        """
        e = label_events_table
        q = (
            self._live_events(field, None if only_latest else actions, curator)
            .order_by(e.c.id.desc())
            .limit(1)
        )
        with self.write("undo a decision in") as conn:
            last = conn.execute(q).first()
            if last is None or (only_latest and actions and last.action not in actions):
                return []
            if last.batch is None:
                rows = [last]
            else:
                rows = conn.execute(
                    sa.select(e).where(e.c.batch == last.batch, e.c.undone.is_(False)).order_by(e.c.id.desc())
                ).all()
            # Undoing puts the old value back: not over a label someone changed since.
            changed = []
            for row in rows:
                now_value, _ = _label_value(conn, row.article, row.field)
                if row.action != "skip" and now_value != row.new_value:
                    later = _last_change(conn, row.article, row.field)
                    changed.append(
                        {
                            "article": row.article,
                            "field": row.field,
                            "value": now_value,
                            "curator": later.curator if later else None,
                            "at": later.at if later else None,
                        }
                    )
            if changed and not force:
                raise Conflict("Cannot undo: " + _conflict_message(changed, UNDO_ANYWAY), changed)
            kept = {(c["article"], c["field"]): c for c in changed}
            now = time.time()
            for row in rows:
                if row.action != "skip" and (row.article, row.field) not in kept:
                    _write_label(conn, row.article, row.field, row.old_value, row.old_source or "manual", now)
                conn.execute(e.update().where(e.c.id == row.id).values(undone=True))
        # Forced: a label changed since keeps its newer value ("kept": what stands, who set it and when).
        return [{**dict(r._mapping), "kept": kept.get((r.article, r.field))} for r in rows]

    def batch_summary(self, batch: int) -> dict:
        """What one label decision holds without reading its events (an import can hold a quarter of a
        million): "events" and "articles" counted over its non-skip events (over all when it has only
        skips), its "first" such event and "at", the time of its last event."""
        e = label_events_table
        live = sa.and_(e.c.batch == batch, e.c.undone.is_(False))
        with self.read() as conn:
            skips_only = (
                conn.execute(sa.select(sa.func.count()).where(live, e.c.action != "skip")).scalar() == 0
            )
            counted = live if skips_only else sa.and_(live, e.c.action != "skip")
            events, articles = conn.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(e.c.article))).where(counted)
            ).one()
            first = conn.execute(sa.select(e).where(counted).order_by(e.c.id).limit(1)).first()
            at = conn.execute(sa.select(e.c.at).where(live).order_by(e.c.id.desc()).limit(1)).scalar()
        return {
            "events": int(events),
            "articles": int(articles),
            "at": at,
            "first": dict(first._mapping) if first is not None else None,
        }

    def label_events(self, limit: int = 100) -> list[dict]:
        e = label_events_table
        with self.read() as conn:
            rows = conn.execute(sa.select(e).order_by(e.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def skipped_articles(self, field: str) -> set[str]:
        """Articles whose latest live decision in this field is a skip (the review queue puts them last)."""
        e = label_events_table
        q = (
            sa.select(e.c.article, e.c.action)
            .where(e.c.field == field, e.c.undone.is_(False), e.c.action != "undo")
            .order_by(e.c.id)
        )
        last: dict[str, str] = {}
        with self.read() as conn:
            for article, action in conn.execute(q):
                last[article] = action
        return {a for a, action in last.items() if action == "skip"}


def _label_value(conn, article: str, field: str) -> tuple[str | None, str | None]:
    row = conn.execute(
        sa.select(labels_table.c.value, labels_table.c.source).where(
            labels_table.c.article == article, labels_table.c.field == field
        )
    ).first()
    return (row[0], row[1]) if row else (None, None)


def _write_label(conn, article: str, field: str, value: str | None, source: str, now: float) -> None:
    if value is None:
        conn.execute(
            labels_table.delete().where(labels_table.c.article == article, labels_table.c.field == field)
        )
        return
    upsert(
        conn,
        labels_table,
        dict(article=article, field=field, value=value, source=source, updated_at=now),
        ["article", "field"],
    )


def _last_change(conn, article: str, field: str):
    """The live event that last changed this label (not a skip)."""
    e = label_events_table
    return conn.execute(
        sa.select(e)
        .where(
            e.c.article == article,
            e.c.field == field,
            e.c.undone.is_(False),
            e.c.action.notin_(["skip", "undo"]),
        )
        .order_by(e.c.id.desc())
        .limit(1)
    ).first()


def _conflict(conn, article, field, old, new, curator, expected) -> dict | None:
    """The conflict this change would make, or None (see Catalog.set_labels)."""
    if old == new:
        return None
    if expected is not None:
        if (article, field) not in expected or expected[(article, field)] == old:
            return None
    else:
        if old is None:
            return None
        last = _last_change(conn, article, field)
        if last is None or last.curator is None or last.curator == curator:
            return None
    last = _last_change(conn, article, field)
    return {
        "article": article,
        "field": field,
        "value": old,
        "curator": last.curator if last else None,
        "at": last.at if last else None,
    }


def _conflict_message(conflicts: list[dict], then: str = OVERWRITE) -> str:
    def one(c: dict) -> str:
        who = f" by {c['curator']}" if c.get("curator") else ""
        when = time.strftime(" at %Y-%m-%d %H:%M", time.localtime(c["at"])) if c.get("at") else ""
        value = repr(c["value"]) if c["value"] is not None else "no label"
        return f"{c['article']} ({c['field']}) is now {value}, set{who}{when}"

    more = f" and {len(conflicts) - 3} more" if len(conflicts) > 3 else ""
    return "; ".join(one(c) for c in conflicts[:3]) + more + ". " + then
