"""Rating's reads and writes: what an import loads once, the call ids a tenant has, the monthly
pools, and the rated calls written in bulk (STYLE: bulk work in batches, never row by row).

The inserts go straight through the driver: SQLAlchemy's per-row parameter
processing costs more than the rating itself on a month of calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import history
from credits_cli.models import Call, PoolUsage, Tenant, User
from credits_cli.queries import db_time
from credits_cli.rates import RateBook
from credits_cli.rating.rules import CHARGES_TABLE, Context
from credits_cli.refdata import service


def load_context(session: Session, tenant: Tenant, book: RateBook | None, charges: str = CHARGES_TABLE) -> Context:
    """The users (with what each held when: :mod:`credits_cli.history`) and the service facts an
    import rates with."""
    svc = service()
    timelines = history.timelines(session, tenant)
    users = {
        upn: (user_id, timelines[user_id])
        for user_id, upn in session.execute(
            sa.select(User.__table__.c.id, User.__table__.c.upn)  # type: ignore[attr-defined]
            .where(User.__table__.c.tenant_id == tenant.id)  # type: ignore[attr-defined]
        )
    }
    return Context(tenant, book, users, svc.zone_a, svc.dialout_alerts, charges=charges)


def existing_ids(session: Session, tenant_id: int, ids: list[str]) -> set[str]:
    """The ids of ``ids`` the tenant already has: one query per 500 ids, straight through the driver
    (compiling an expanding IN per batch costs more than the query)."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ", ".join([mark] * len(chunk))
        sql = f"SELECT external_id FROM calls WHERE tenant_id = {mark} AND external_id IN ({marks})"
        found.update(row[0] for row in conn.exec_driver_sql(sql, (tenant_id, *chunk)))
    return found


# --- monthly pools -----------------------------------------------------------------------------


@dataclass
class Pool:
    """Seconds used of one month's pool, as this transaction sees them."""

    capacity: int
    used: int
    exists: bool  # a row in pool_usage already
    dirty: bool = False

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.used)


class Pools:
    """The pools of the months a batch touches: (month, pool name) -> :class:`Pool`.

    A pool already in the books keeps the capacity it was first drawn with: once a month's pool has
    been drawn on, a later change of licenses or plans never enlarges or shrinks it (SPEC §6.4).
    """

    def __init__(self, ctx: Context, rows: dict[tuple[str, str], Pool]) -> None:
        self.ctx = ctx
        self.rows = rows

    def get(self, month: str, name: str) -> Pool:
        pool = self.rows.get((month, name))
        if pool is None:
            pool = self.rows[(month, name)] = Pool(self.ctx.capacities(month).get(name, 0), 0, False)
        return pool

    def left(self, month: str, name: str) -> int:
        return self.get(month, name).left

    @classmethod
    def load(cls, session: Session, ctx: Context, months: set[str]) -> Pools:
        rows: dict[tuple[str, str], Pool] = {}
        if months:
            for row in session.exec(
                select(PoolUsage).where(PoolUsage.tenant_id == ctx.tenant.id, col(PoolUsage.month).in_(sorted(months)))
            ).all():
                rows[(row.month, row.pool)] = Pool(row.capacity_seconds, row.used_seconds, True)
        return cls(ctx, rows)

    def save(self, session: Session, tenant_id: int) -> None:
        t = PoolUsage.__table__  # type: ignore[attr-defined]
        new = [
            {"tenant_id": tenant_id, "month": m, "pool": p, "capacity_seconds": v.capacity, "used_seconds": v.used}
            for (m, p), v in self.rows.items()
            if v.dirty and not v.exists
        ]
        old = [
            {"k_month": m, "k_pool": p, "cap": v.capacity, "used": v.used}
            for (m, p), v in self.rows.items()
            if v.dirty and v.exists
        ]
        if new:
            session.execute(sa.insert(t), new)
        if old:
            session.execute(
                sa.update(t)
                .where(t.c.tenant_id == tenant_id, t.c.month == sa.bindparam("k_month"),
                       t.c.pool == sa.bindparam("k_pool"))
                .values(capacity_seconds=sa.bindparam("cap"), used_seconds=sa.bindparam("used")),
                old,
            )


# --- the calls table ----------------------------------------------------------------------------

CALL_COLUMNS = (
    "tenant_id", "external_id", "import_id", "source_file", "source_line", "user_upn", "user_id", "start",
    "duration_seconds", "call_type", "kind", "number", "country", "domestic", "status", "reason", "rate_prefix",
    "rate_name", "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge", "ms_charge",
    "ms_connection_fee", "ms_currency", "capability", "operator",
)
#: Positions in a row of CALL_COLUMNS.
EXTERNAL_ID, START, CHARGE = (CALL_COLUMNS.index(name) for name in ("external_id", "start", "charge"))


def insert_calls(session: Session, rows: list[list[Any]]) -> list[int]:
    """Bulk insert of rows in the order of :data:`CALL_COLUMNS` (``charge`` in storage units).
    Returns the new rows' ids, in order."""
    conn = session.connection()
    table = Call.__table__  # type: ignore[attr-defined]
    floor = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar() or 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.name == "sqlite":
        # The write transaction holds the database's only write lock, so the ids are the ones SQLite
        # would give (the highest plus one, in order): give them and skip reading them back. (RETURNING
        # in parameter order is one statement per row on SQLite.)
        stamp = db_time  # the text SQLAlchemy's SQLite dialect stores for a DateTime
        for row in rows:
            row[START] = stamp(row[START])
        columns = ("id", *CALL_COLUMNS)
        sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        conn.exec_driver_sql(sql, [(i, *row) for i, row in enumerate(rows, floor + 1)])
        return list(range(floor + 1, floor + 1 + len(rows)))
    sql = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join([mark] * len(CALL_COLUMNS))})"
    conn.exec_driver_sql(sql, [tuple(row) for row in rows])
    tenant_id = rows[0][0] if rows else 0
    ids = dict(
        session.execute(
            sa.select(table.c.external_id, table.c.id).where(table.c.tenant_id == tenant_id, table.c.id > floor)
        ).all()
    )
    return [ids[row[EXTERNAL_ID]] for row in rows]


def iter_calls(
    session: Session,
    tenant: Tenant,
    *,
    upn: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Iterator[Any]:
    """The tenant's calls, oldest first, streamed while ``session`` is open (a year is millions):
    rows with the columns of ``calls`` as attributes."""
    t = Call.__table__  # type: ignore[attr-defined]
    query = sa.select(t).where(t.c.tenant_id == tenant.id)
    if upn:
        query = query.where(t.c.user_upn == upn.strip().lower())
    if status:
        query = query.where(t.c.status == status)
    if start is not None:
        query = query.where(t.c.start >= start)
    if end is not None:
        query = query.where(t.c.start < end)
    query = query.order_by(t.c.start, t.c.id)
    if limit:
        query = query.limit(limit)
    yield from session.execute(query.execution_options(yield_per=5000))
