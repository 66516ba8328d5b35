"""The content of a database, without its autoincrement ids.

Two databases that went through the same history by different paths (one
clean run, or a run killed and rerun; SQLite or PostgreSQL, where a rolled-back
insert still uses up its id) must hold the same things. :func:`content` reads
every table, drops the surrogate keys, and puts the rows a key points at in
place of the key (a charge names its call by external id, a lot by what it
is), so the dumps compare exactly.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from credits_cli import db as dbmod

#: Tables whose rows are bookkeeping of a run, not state: how many runs there were differs.
SKIP = {"imports", "schema_migrations"}


def content(value: str, skip: set[str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Table name -> sorted rows (tuples of column name and value), ids replaced by content."""
    skip = SKIP if skip is None else skip
    database = dbmod.Database(dbmod.resolve_url(value))
    database.migrate()
    try:
        meta = dbmod.metadata()
        with database.engine.connect() as conn:
            lots = {
                r.id: ("lot", r.kind, r.amount, r.purchased_at, r.expires_at, r.note)
                for r in conn.execute(sa.select(meta.tables["lots"]))
            }
            calls_t = meta.tables["calls"]
            calls = dict(conn.execute(sa.select(calls_t.c.id, calls_t.c.external_id)).all())
            users_t = meta.tables["users"]
            users = dict(conn.execute(sa.select(users_t.c.id, users_t.c.upn)).all())
            tables_t = meta.tables["rate_tables"]
            tables = dict(conn.execute(sa.select(tables_t.c.id, tables_t.c.name)).all())
            tenants_t = meta.tables["tenants"]
            tenants = dict(conn.execute(sa.select(tenants_t.c.id, tenants_t.c.slug)).all())
            refs: dict[str, dict[Any, Any]] = {
                "lot_id": lots, "call_id": calls, "user_id": users, "table_id": tables, "tenant_id": tenants,
            }
            out: dict[str, list[tuple[Any, ...]]] = {}
            for name, table in sorted(meta.tables.items()):
                if name in skip:
                    continue
                names = [c.name for c in table.columns]
                keep = [(i, n, refs.get(n)) for i, n in enumerate(names) if n not in ("id", "import_id")]
                rows = []
                for r in conn.execute(sa.select(table)):
                    rows.append(
                        tuple(
                            (n, ref.get(r[i], ("missing", r[i])) if ref is not None and r[i] is not None else r[i])
                            for i, n, ref in keep
                        )
                    )
                out[name] = sorted(rows, key=repr)
            return out
    finally:
        database.dispose()
