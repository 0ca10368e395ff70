"""SQL that differs between the database backends, written once: the storage modules call these helpers
instead of a dialect's own constructs, so every table works on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

IN_LIST_SIZE = 500  # values per IN (...) list: well under SQLite's limit on bound variables


def in_lists(values: Sequence) -> Iterator[list]:
    """`values` in lists short enough for one IN (...) on every backend."""
    for start in range(0, len(values), IN_LIST_SIZE):
        yield list(values[start : start + IN_LIST_SIZE])


def upsert(
    conn: sa.Connection,
    table: sa.Table,
    rows: dict | Sequence[dict],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET the other columns (or `update`) to the new values."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    many = not isinstance(rows, dict)
    if many and not rows:
        return
    sample: dict[str, Any] = rows[0] if many else rows  # type: ignore[index]
    stmt = insert(table)
    columns = update if update is not None else [c for c in sample if c not in keys]
    if columns:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, list(rows) if many else [rows])
