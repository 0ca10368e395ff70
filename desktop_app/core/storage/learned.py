"""What the catalog learned from its curator: adapters (projections of a model's vectors) and map layouts.

Both are keyed by the vector identity they were made from, so a model switch never applies one to vectors
it was not trained on.
"""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from desktop_app.core.storage.schema import adapters_table, layouts_table

CALIBRATION = "calibration"  # the kind of the rows that hold label-confidence calibrations


def _insert(conn: sa.Connection, model_id: str, kind: str, active: bool, info: dict, data: bytes) -> int:
    row = dict(
        model_id=model_id,
        kind=kind,
        created_at=time.time(),
        active=active,
        info=json.dumps(info, default=str),
        data=data,
    )
    return int(conn.execute(adapters_table.insert().values(**row)).inserted_primary_key[0])


class LearnedStore:
    """Mixin of `Catalog`: needs `read()` and `write()`."""

    # ------------------------------------------------------------ adapters

    def save_adapter(self, model_id: str, kind: str, info: dict, data: bytes, active: bool = True) -> int:
        """Store an adapter; when `active`, it becomes the one in use for this model (others are switched off)."""
        t = adapters_table
        with self.write("store an adapter in") as conn:
            if active:
                conn.execute(t.update().where(t.c.model_id == model_id).values(active=False))
            return _insert(conn, model_id, kind, active, info, data)

    def adapters(self, model_id: str | None = None, kind: str | None = None) -> list[dict]:
        """Stored adapters (or, with kind="calibration", label calibrations), newest first, without their data."""
        t = adapters_table
        q = sa.select(t.c.id, t.c.model_id, t.c.kind, t.c.created_at, t.c.active, t.c.info).order_by(
            t.c.id.desc()
        )
        q = q.where(t.c.kind == kind) if kind is not None else q.where(t.c.kind != CALIBRATION)
        if model_id is not None:
            q = q.where(t.c.model_id == model_id)
        with self.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        for r in rows:
            r["info"] = json.loads(r["info"] or "{}")
        return rows

    def adapter_data(self, adapter_id: int) -> bytes | None:
        with self.read() as conn:
            return conn.execute(
                sa.select(adapters_table.c.data).where(adapters_table.c.id == adapter_id)
            ).scalar()

    def set_active_adapter(self, model_id: str, adapter_id: int | None) -> None:
        """Use this adapter for the model's vectors (None: none, the frozen vectors)."""
        t = adapters_table
        with self.write("switch adapters in") as conn:
            conn.execute(t.update().where(t.c.model_id == model_id).values(active=False))
            if adapter_id is not None:
                done = conn.execute(
                    t.update().where(t.c.id == adapter_id, t.c.model_id == model_id).values(active=True)
                ).rowcount
                if not done:
                    raise ValueError(f"adapter {adapter_id} is not an adapter of {model_id}")

    # ------------------------------------------------------------ label calibrations (kept beside adapters)

    def save_calibration(self, model_id: str, info: dict, data: bytes) -> int:
        """Store a label-confidence calibration; an older one with the same key (info["key"]), or the same
        slot (info["slot"]: the key but for what changes over time, e.g. the labels), is replaced."""
        t = adapters_table
        with self.write("store a calibration in") as conn:
            for row in conn.execute(
                sa.select(t.c.id, t.c.info).where(t.c.model_id == model_id, t.c.kind == CALIBRATION)
            ):
                old = json.loads(row.info or "{}")
                same_slot = info.get("slot") is not None and old.get("slot") == info["slot"]
                if old.get("key") == info.get("key") or same_slot:
                    conn.execute(t.delete().where(t.c.id == row.id))
            return _insert(conn, model_id, CALIBRATION, False, info, data)

    def calibration(self, model_id: str, key: dict) -> tuple[dict, bytes] | None:
        """(info, data) of the stored calibration with this key, or None."""
        for row in self.adapters(model_id, kind=CALIBRATION):
            if row["info"].get("key") == key:
                return row["info"], self.adapter_data(row["id"])
        return None

    # ------------------------------------------------------------ layouts

    def save_layout(
        self, model_id: str, adapter_id: int | None, method: str, digest: str, info: dict, data: bytes
    ) -> int:
        t = layouts_table
        with self.write("store a map in") as conn:
            conn.execute(
                t.delete().where(t.c.model_id == model_id, t.c.method == method, _same_adapter(t, adapter_id))
            )
            return int(
                conn.execute(
                    t.insert().values(
                        model_id=model_id,
                        adapter_id=adapter_id,
                        method=method,
                        articles_digest=digest,
                        created_at=time.time(),
                        info=json.dumps(info, default=str),
                        data=data,
                    )
                ).inserted_primary_key[0]
            )

    def layout(self, model_id: str, adapter_id: int | None, method: str | None = None) -> dict | None:
        """The newest stored layout for these vectors (with its data), or None."""
        t = layouts_table
        q = (
            sa.select(t)
            .where(t.c.model_id == model_id, _same_adapter(t, adapter_id))
            .order_by(t.c.id.desc())
            .limit(1)
        )
        if method is not None:
            q = q.where(t.c.method == method)
        with self.read() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["info"] = json.loads(out["info"] or "{}")
        return out


def _same_adapter(t: sa.Table, adapter_id: int | None):
    return t.c.adapter_id.is_(None) if adapter_id is None else t.c.adapter_id == adapter_id
