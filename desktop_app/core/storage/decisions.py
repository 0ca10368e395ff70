"""Match decisions between two articles (same product, look-alike, not a match), and photo duplicate verdicts.

A decision is about articles, not vectors: it survives re-indexing and model changes. Every decision is a
row; the latest live row of a pair is the pair's current decision, so undo is marking a row undone. Each
call is one write transaction; a pair another curator decided since the caller looked at it is a Conflict.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import EllipsisType

import sqlalchemy as sa

from desktop_app.core.errors import Conflict
from desktop_app.core.storage.schema import decisions_table, photo_verdicts_table
from desktop_app.core.storage.sql import IN_LIST_SIZE, in_lists
from desktop_app.core.wording import decision_words

DECISIONS = ("same", "alike", "not_match")
NONE = "none"  # a row that takes a pair's decision back without undoing anyone's history
VERDICTS = ("duplicate", "not_duplicate")
KEEP_NOTE = ...  # an item's note: keep the pair's current note if its decision stays the same
Item = tuple[str, str, str] | tuple[str, str, str, str | None | EllipsisType]
Merge = Callable[[tuple[str, str], str | None, str], str | None]
Progress = Callable[[int, int, str], None]
# Items of one `decide` call handled together: one query reads their pairs' current rows (an OR of
# pairs), one statement writes their rows, and progress moves by one block. Decided one row at a time, an
# import of 120,000 decisions took 88 s; see benchmarks/decisions_import.py. Two values are bound per pair:
# a block binds as many as one IN list, under older SQLite's limit of 999.
BLOCK = IN_LIST_SIZE // 2
UNDO_ANYWAY = "Look again (or pass --force to undo it anyway: those pairs keep the newer decision)."


def pair(a: str, b: str) -> tuple[str, str]:
    """A pair of articles (or photos) in its stored order: the smaller id first."""
    return (a, b) if a <= b else (b, a)


def _decided_since(conn, table: sa.Table, col_a, col_b, value, group, rows: Sequence) -> list[dict]:
    """Those of a decision's rows whose pair was decided again after it (by anyone: undoing your latest
    decision, a later one can only be someone else's; undoing an older judgement, your own later one counts
    too), as the clashes a Conflict lists: pair, what stands now, who and when. `group` is the column that
    holds the decision's rows together: a pair named twice in one import is not "decided again since"."""
    t = table
    newer = []
    for row in rows:
        m = row._mapping
        a, b = m[col_a.name], m[col_b.name]
        later = conn.execute(
            sa.select(t)
            .where(
                col_a == a,
                col_b == b,
                t.c.undone.is_(False),
                t.c.id > row.id,
                group.is_distinct_from(m[group.name]),
            )
            .order_by(t.c.id.desc())
            .limit(1)
        ).first()
        if later is not None:
            newer.append(
                {
                    "article_a": a,
                    "article_b": b,
                    "decision": later._mapping[value.name],
                    "curator": later.curator,
                    "at": later.at,
                }
            )
    return newer


def _clash(
    cur,
    key: tuple[str, str],
    decision: str,
    curator: str | None,
    expected: dict[tuple[str, str], str | None] | None,
) -> dict | None:
    """The Conflict entry writing `decision` over the pair's current row `cur` would make, or None: the
    curator saw something else (`expected`), or, without `expected`, another curator decided it last."""
    if cur is None or cur.decision == decision:
        return None
    seen = cur.decision if cur.decision != NONE else None
    stale = expected is not None and key in expected and expected[key] != seen
    other = expected is None and seen is not None and cur.curator not in (None, curator)
    if not (stale or other):
        return None
    return {"article_a": key[0], "article_b": key[1], "decision": seen, "curator": cur.curator, "at": cur.at}


def _note(note, cur, decision: str) -> str | None:
    """The note a new row carries: KEEP_NOTE is the current note while the decision is unchanged."""
    if note is not KEEP_NOTE:
        return note or None
    return cur.note if cur is not None and cur.decision == decision else None


class Cancelled(Exception):
    """The caller cancelled a `decide` call part of the way; nothing of it was written."""


@dataclass
class _Batch:
    """One `decide` call in its transaction: what it writes, the batch id (its first row's), its clashes."""

    curator: str | None
    note: str | None
    expected: dict[tuple[str, str], str | None] | None
    force: bool
    skip_unchanged: bool
    merge: Merge | None
    now: float = field(default_factory=time.time)
    batch: int | None = None
    ids: list[int] = field(default_factory=list)
    clashes: list[dict] = field(default_factory=list)

    def add(self, conn: sa.Connection, items: Sequence[Item]) -> None:
        """Decide a block of items, in order: a pair named again sees the row written for it just before."""
        current = _current_rows(conn, [pair(a, b) for a, b, *_ in items])
        pending: dict[tuple[str, str], dict] = {}
        for a, b, decision, *own in items:
            if a == b:
                raise ValueError("a decision needs two different articles")
            key = pair(a, b)
            if key in pending:  # its new row replaces the one just queued: that one needs its id first
                self._write(conn, pending, current)
                pending = {}
            row = self._row(key, decision, own, current.get(key))
            if row is not None:
                pending[key] = row
        self._write(conn, pending, current)

    def _row(self, key: tuple[str, str], decision: str, own: list, cur) -> dict | None:
        """The row deciding `key` (None: the pair stays as it is, or clashes)."""
        if self.merge is not None:
            standing = cur.decision if cur is not None and cur.decision != NONE else None
            decision = self.merge(key, standing, decision)
            if decision is None:
                return None
        if decision not in (*DECISIONS, NONE):
            raise ValueError(f"unknown decision {decision!r}")
        if not self.force and (clash := _clash(cur, key, decision, self.curator, self.expected)) is not None:
            self.clashes.append(clash)
            return None
        text = _note(own[0] if own else self.note, cur, decision)
        if self.skip_unchanged and cur is not None and (cur.decision, cur.note) == (decision, text):
            return None
        return {
            "article_a": key[0],
            "article_b": key[1],
            "decision": decision,
            "note": text,
            "curator": self.curator,
            "at": self.now,
            "undone": False,
            "batch": self.batch,
            "replaces": cur.id if cur is not None else None,
        }

    def _write(self, conn: sa.Connection, pending: dict[tuple[str, str], dict], current: dict) -> None:
        """Insert the queued rows (one per pair); each becomes its pair's current row for what follows."""
        rows = list(pending.values())
        if not rows:
            return
        d = decisions_table
        ids: dict[tuple[str, str], int] = {}
        if self.batch is None:  # the batch is named after its first row
            self.batch = int(conn.execute(d.insert().values(**rows[0])).inserted_primary_key[0])
            conn.execute(d.update().where(d.c.id == self.batch).values(batch=self.batch))
            ids[(rows[0]["article_a"], rows[0]["article_b"])] = self.batch
            self.ids.append(self.batch)
            rows = rows[1:]
        if rows:
            for r in rows:
                r["batch"] = self.batch
            conn.execute(d.insert(), rows)  # one executemany (with RETURNING, SQLite inserted row by row)
            # Their ids, by pair (one row per pair here): later than any this call wrote before them.
            q = sa.select(d.c.id, d.c.article_a, d.c.article_b).where(
                d.c.batch == self.batch, d.c.id > max(self.ids)
            )
            new = {(r.article_a, r.article_b): int(r.id) for r in conn.execute(q)}
            ids.update(new)
            self.ids += sorted(new.values())
        for key, row in pending.items():
            current[key] = _Current(ids[key], row["decision"], row["note"], row["curator"], row["at"])


@dataclass
class _Current:
    """A pair's current row, as much of it as deciding the pair again needs."""

    id: int
    decision: str
    note: str | None
    curator: str | None
    at: float


def _current_rows(conn: sa.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], _Current]:
    """The current (latest live) row of each of these stored pairs that has one, in one query."""
    wanted = sorted(set(keys))
    out: dict[tuple[str, str], _Current] = {}
    if not wanted:
        return out
    params = {f"{side}{i}": key[j] for i, key in enumerate(wanted) for j, side in enumerate("ab")}
    for r in conn.execute(_pairs_query(len(wanted)), params):  # a pair's latest live row is its decision
        key = (r.article_a, r.article_b)
        if key not in out or out[key].id < r.id:
            out[key] = _Current(r.id, r.decision, r.note, r.curator, r.at)
    return out


@functools.lru_cache(maxsize=8)
def _pairs_query(n: int) -> sa.Select:
    """The live rows of n pairs given as parameters a0, b0, a1, b1...: an OR of pairs, which both backends
    answer with one probe of the pair index per pair (SQLite scanned the whole table for a pair IN list and
    probed every combination for an IN list per side). Built once per size: building the expression took
    longer than running it."""
    d = decisions_table
    pairs = (
        sa.and_(d.c.article_a == sa.bindparam(f"a{i}"), d.c.article_b == sa.bindparam(f"b{i}"))
        for i in range(n)
    )
    return sa.select(d.c.id, d.c.article_a, d.c.article_b, d.c.decision, d.c.note, d.c.curator, d.c.at).where(
        sa.or_(*pairs), d.c.undone.is_(False)
    )


class DecisionStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    def decide(
        self,
        items: Iterable[Item],
        curator: str | None = None,
        note: str | None = None,
        expected: dict[tuple[str, str], str | None] | None = None,
        force: bool = False,
        skip_unchanged: bool = False,
        merge: Merge | None = None,
        progress: Progress | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> list[int]:
        """Record (article, article, decision[, note]) items as one undoable batch; returns the new row ids.

        An item's own note wins over `note`; KEEP_NOTE keeps the pair's current note when its decision stays
        the same. `expected` maps a stored pair to the decision the curator saw (None: none); a pair decided
        otherwise since then is a Conflict and nothing is written. Without it, a pair another curator decided
        last (and differently) is one, unless `force`. `skip_unchanged`: a pair that already has this decision
        and note is left as it is (who decided it, and when, stay). `merge(pair, current decision or None,
        item's decision)` gives the decision to write, read in this transaction; None leaves the pair as it
        is, and an error it raises writes nothing.

        The items go a block at a time (their pairs' current rows read in one query per block, their rows
        written in one statement): `progress(done, total, note)` follows the blocks, and `should_cancel()`
        asked before each one raises `Cancelled`, which, like a Conflict, writes nothing.
        """
        todo = list(items)
        batch = _Batch(curator, note, expected, force, skip_unchanged, merge)
        with self.write("record a decision in") as conn:
            for start in range(0, len(todo), BLOCK):
                if should_cancel is not None and should_cancel():
                    raise Cancelled()
                batch.add(conn, todo[start : start + BLOCK])
                if progress is not None:
                    progress(min(start + BLOCK, len(todo)), len(todo), "writing decisions")
            if batch.clashes:
                raise Conflict(_message(batch.clashes), batch.clashes)
        return batch.ids

    def undo_decision(
        self, curator: str | None = None, batch: int | None = None, force: bool = False
    ) -> list[dict]:
        """Take back the caller's latest decision batch (or the given batch); [] when there is none. A pair
        decided again after it is a Conflict, unless `force`: then the batch is taken back and such a pair
        keeps the newer decision."""
        d = decisions_table
        q = sa.select(d).where(d.c.undone.is_(False))
        if curator is not None:
            q = q.where(sa.or_(d.c.curator == curator, d.c.curator.is_(None)))
        if batch is not None:
            q = q.where(d.c.batch == batch)
        with self.write("undo a decision in") as conn:
            last = conn.execute(q.order_by(d.c.id.desc()).limit(1)).first()
            if last is None:
                return []
            rows = conn.execute(sa.select(d).where(d.c.batch == last.batch, d.c.undone.is_(False))).all()
            newer = _decided_since(conn, d, d.c.article_a, d.c.article_b, d.c.decision, d.c.batch, rows)
            if newer and not force:
                raise Conflict("Cannot undo: " + _message(newer, UNDO_ANYWAY), newer)
            conn.execute(d.update().where(d.c.id.in_([r.id for r in rows])).values(undone=True))
        # Forced: a pair decided again since keeps that newer decision; say which, and what it is.
        kept = {(n["article_a"], n["article_b"]): n for n in newer}
        return [{**dict(r._mapping), "kept": kept.get((r.article_a, r.article_b))} for r in rows]

    def last_live_decision(self, curator: str | None = None) -> dict | None:
        """The decision `undo_decision(curator)` would take back next, without taking it back, with
        "batch_size": how many live decisions its batch holds (an import is one batch, undone whole)."""
        d = decisions_table
        q = sa.select(d).where(d.c.undone.is_(False))
        if curator is not None:
            q = q.where(sa.or_(d.c.curator == curator, d.c.curator.is_(None)))
        with self.read() as conn:
            row = conn.execute(q.order_by(d.c.id.desc()).limit(1)).first()
            if row is None:
                return None
            size = conn.execute(
                sa.select(sa.func.count()).where(d.c.batch == row.batch, d.c.undone.is_(False))
            ).scalar_one()
        return {**row._mapping, "batch_size": int(size) if row.batch is not None else 1}

    def decisions(self, articles: Sequence[str] | None = None) -> dict[tuple[str, str], dict]:
        """Current decisions: stored pair -> the row that decides it (pairs taken back are left out).

        articles: only pairs involving one of these (the query of a search); None: every pair.
        """
        d = decisions_table
        live = sa.select(d.c.article_a, d.c.article_b, sa.func.max(d.c.id).label("id")).where(
            d.c.undone.is_(False)
        )
        if articles is not None:
            wanted = list(dict.fromkeys(articles))
            live = live.where(sa.or_(d.c.article_a.in_(wanted), d.c.article_b.in_(wanted)))
        live = live.group_by(d.c.article_a, d.c.article_b).subquery()
        q = sa.select(d).join(live, live.c.id == d.c.id).where(d.c.decision != NONE).order_by(d.c.id)
        with self.read() as conn:
            return {(r.article_a, r.article_b): dict(r._mapping) for r in conn.execute(q)}

    def decision_log(self, limit: int = 1000) -> list[dict]:
        d = decisions_table
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(d).order_by(d.c.id.desc()).limit(limit))]

    # ------------------------------------------------------------ photo duplicate verdicts

    def set_verdicts(self, items: Iterable[tuple[str, str, str]], curator: str | None = None) -> list[int]:
        """(photo path, photo path, verdict) items, in one transaction; returns the new rows' ids."""
        v = photo_verdicts_table
        now = time.time()
        rows = []
        for a, b, verdict in items:
            if verdict not in VERDICTS:
                raise ValueError(f"unknown verdict {verdict!r}")
            a, b = pair(a, b)
            rows.append(
                {"path_a": a, "path_b": b, "verdict": verdict, "curator": curator, "at": now, "undone": False}
            )
        if not rows:
            return []
        with self.write("record a verdict in") as conn:
            return [int(conn.execute(v.insert().values(**row)).inserted_primary_key[0]) for row in rows]

    def undo_verdicts(self, ids: Sequence[int]) -> int:
        """Take back these verdict rows (the pairs show their earlier verdict, or none, again); returns how
        many were live. A pair judged again since (by anyone) is a Conflict and nothing is taken back."""
        v = photo_verdicts_table
        with self.write("undo a verdict in") as conn:
            rows = conn.execute(sa.select(v).where(v.c.id.in_(list(ids)), v.c.undone.is_(False))).all()
            _take_back_verdicts(conn, rows)
        return len(rows)

    def undo_last_verdict(self, curator: str | None = None) -> list[dict]:
        """Take back the caller's latest verdict (every pair it judged at once); [] when there is none."""
        v = photo_verdicts_table
        q = sa.select(v).where(v.c.undone.is_(False))
        if curator is not None:
            q = q.where(sa.or_(v.c.curator == curator, v.c.curator.is_(None)))
        with self.write("undo a verdict in") as conn:
            last = conn.execute(q.order_by(v.c.id.desc()).limit(1)).first()
            if last is None:
                return []
            rows = conn.execute(q.where(v.c.at == last.at).order_by(v.c.id)).all()  # written together
            _take_back_verdicts(conn, rows)
        return [dict(r._mapping) for r in rows]

    def verdicts(self) -> dict[tuple[str, str], str]:
        """Current verdict of every photo pair that has one."""
        v = photo_verdicts_table
        live = (
            sa.select(sa.func.max(v.c.id).label("id"))
            .where(v.c.undone.is_(False))
            .group_by(v.c.path_a, v.c.path_b)
            .subquery()
        )
        with self.read() as conn:
            rows = conn.execute(
                sa.select(v.c.path_a, v.c.path_b, v.c.verdict).join(live, live.c.id == v.c.id)
            )
            return {(a, b): verdict for a, b, verdict in rows}


def follow_photo_moves(conn, moves: dict[str, str]) -> None:
    """Rewrite the verdicts (their whole history, so undo still finds them) naming a photo that moved
    (old stored path -> new), in the caller's transaction: the one that records the move. A verdict is
    about the picture, and a move or rename keeps it. Old and new paths never overlap: a move's new path
    had no photo, its old one no longer has one."""
    if not moves:
        return
    v = photo_verdicts_table
    old = list(moves)
    rows = []
    for chunk in in_lists(old):
        rows += conn.execute(
            sa.select(v.c.id, v.c.path_a, v.c.path_b).where(
                sa.or_(v.c.path_a.in_(chunk), v.c.path_b.in_(chunk))
            )
        ).all()
    changes = []
    for row in rows:
        a, b = pair(moves.get(row.path_a, row.path_a), moves.get(row.path_b, row.path_b))
        changes.append({"row": row.id, "a": a, "b": b})
    if changes:
        stmt = v.update().where(v.c.id == sa.bindparam("row"))
        conn.execute(stmt.values(path_a=sa.bindparam("a"), path_b=sa.bindparam("b")), changes)


def retire_photo_verdicts(conn, paths: Sequence[str]) -> None:
    """Take back every live verdict naming one of these photos, in the caller's transaction: the photo's
    content changed, or it is gone (a later file at its path is another picture). The curator judged the
    picture as it was; an edited one is to be looked at again. Every live row of such a pair goes, so no
    older verdict of the pair shows through."""
    v = photo_verdicts_table
    for chunk in in_lists(list(paths)):
        conn.execute(
            v.update()
            .where(v.c.undone.is_(False), sa.or_(v.c.path_a.in_(chunk), v.c.path_b.in_(chunk)))
            .values(undone=True)
        )


def _take_back_verdicts(conn, rows: Sequence) -> None:
    """Mark verdict rows undone in the caller's transaction; a pair judged again since is a Conflict."""
    v = photo_verdicts_table
    newer = _decided_since(conn, v, v.c.path_a, v.c.path_b, v.c.verdict, v.c.at, rows)
    if newer:
        raise Conflict(
            "Cannot undo: " + _message(newer, "Find duplicates again to see it as it is now."), newer
        )
    if rows:
        conn.execute(v.update().where(v.c.id.in_([r.id for r in rows])).values(undone=True))


def _message(clashes: list[dict], then: str = "Look again and decide once more (or pass --force).") -> str:
    def one(c: dict) -> str:
        who = f" by {c['curator']}" if c.get("curator") else ""
        when = time.strftime(" at %Y-%m-%d %H:%M", time.localtime(c["at"])) if c.get("at") else ""
        return f"{c['article_a']} / {c['article_b']} was decided '{decision_words(c['decision'])}'{who}{when}"

    more = f" and {len(clashes) - 3} more" if len(clashes) > 3 else ""
    return "; ".join(one(c) for c in clashes[:3]) + more + ". " + then
