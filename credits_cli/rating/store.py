"""Rating's reads and writes: what an import loads once, the call ids a tenant has, the monthly
pools, and the rated calls written in bulk (STYLE: bulk work in batches, never row by row).

The inserts go straight through the driver: SQLAlchemy's per-row parameter
processing costs more than the rating itself on a month of calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import history
from credits_cli.kinds import Event
from credits_cli.models import Call, PoolUsage, Tenant, User
from credits_cli.rates import RateBook
from credits_cli.rating.rules import CHARGES_TABLE, DIALOUT_POOL, Context
from credits_cli.refdata import service

if TYPE_CHECKING:
    import polars as pl

_EVENTS = frozenset(Event)


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


class PoolAlert(NamedTuple):
    """The dial-out pool crossed ``percent`` % with the call at ``position`` of its chunk (SPEC §6.7)."""

    position: int
    at: datetime
    event: str
    text: str


class Pools:
    """The pools of the months a chunk touches: (month, pool name) -> :class:`Pool`.

    A pool already in the books keeps the capacity it was first drawn with: once a month's pool has
    been drawn on, a later change of licenses or plans never enlarges or shrinks it (SPEC §6.4).
    """

    def __init__(self, ctx: Context, rows: dict[tuple[str, str], Pool]) -> None:
        self.ctx = ctx
        self.rows = rows
        self.alerts: list[PoolAlert] = []

    def get(self, month: str, name: str) -> Pool:
        pool = self.rows.get((month, name))
        if pool is None:
            pool = self.rows[(month, name)] = Pool(self.ctx.capacities(month).get(name, 0), 0, False)
        return pool

    def left(self, month: str, name: str) -> int:
        return self.get(month, name).left

    def draw(self, drawn: pl.DataFrame) -> None:
        """Take the seconds of ``drawn`` (``_pos, month, pool, pool_seconds, start``, in start order) from
        their pools; the dial-out pool's 80 % and 100 % crossings become :attr:`alerts`."""
        import polars as pl

        totals = drawn.group_by("month", "pool", maintain_order=True).agg(pl.col("pool_seconds").sum())
        dialout_before = {m: self.get(m, p).used for m, p, _ in totals.iter_rows() if p == DIALOUT_POOL}
        for month, name, seconds in totals.iter_rows():
            pool = self.get(month, name)
            pool.used += seconds
            pool.dirty = True
        events = {f"dialout_pool_{pct}": pct for pct in self.ctx.alerts} if dialout_before else {}
        events = {event: pct for event, pct in events.items() if event in _EVENTS}
        if not events:
            return
        calls = drawn.filter(pl.col("pool") == DIALOUT_POOL).with_columns(
            pl.col("pool_seconds").cum_sum().over("month").alias("_after"))
        for position, month, _name, seconds, at, after in calls.iter_rows():
            capacity = self.get(month, DIALOUT_POOL).capacity
            if capacity <= 0:
                continue
            used = dialout_before[month] + after
            before = used - seconds
            for event, pct in events.items():
                threshold = capacity * pct  # compare used x 100 with capacity x pct, in integers
                if before * 100 < threshold <= used * 100:
                    self.alerts.append(PoolAlert(position, at, event,
                                                 f"dial-out {used // 60} of {capacity // 60} minutes"))

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
        for pool in self.rows.values():
            if pool.dirty:
                pool.exists, pool.dirty = True, False


# --- the calls table ----------------------------------------------------------------------------

#: Calls handed to the driver at a time (each a tuple of Python objects while it is bound).
INSERT_ROWS = 5000

CALL_COLUMNS = (
    "tenant_id", "external_id", "import_id", "source_file", "source_line", "user_upn", "user_id", "start",
    "duration_seconds", "call_type", "kind", "number", "country", "domestic", "status", "reason", "rate_prefix",
    "rate_name", "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge", "ms_charge",
    "ms_connection_fee", "ms_currency", "capability", "operator",
)


def insert_calls(session: Session, frame: pl.DataFrame) -> list[int]:
    """Bulk insert of a chunk's rated calls (a frame with the columns of :data:`CALL_COLUMNS`, ``start`` a
    datetime, money in storage units). Returns the new rows' ids, in order."""
    import polars as pl

    conn = session.connection()
    table = Call.__table__  # type: ignore[attr-defined]
    if frame.height == 0:
        return []
    floor = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar() or 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if conn.dialect.name == "sqlite":
        # The write transaction holds the database's only write lock, so the ids are the ones SQLite
        # would give (the highest plus one, in order): give them and skip reading them back. (RETURNING
        # in parameter order is one statement per row on SQLite.) Times as SQLAlchemy's SQLite dialect
        # stores them (six fractional digits).
        ids = pl.int_range(floor + 1, floor + 1 + frame.height, dtype=pl.Int64, eager=True).alias("id")
        out = frame.with_columns(pl.col("start").dt.strftime("%Y-%m-%d %H:%M:%S%.6f")).select(CALL_COLUMNS)
        out = out.with_columns(ids)
        columns = (*CALL_COLUMNS, "id")
        sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
        for offset in range(0, out.height, INSERT_ROWS):  # rows as Python tuples a slice at a time
            conn.exec_driver_sql(sql, out.slice(offset, INSERT_ROWS).rows())
        return list(range(floor + 1, floor + 1 + frame.height))
    sql = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join([mark] * len(CALL_COLUMNS))})"
    rows = frame.select(CALL_COLUMNS)
    for offset in range(0, rows.height, INSERT_ROWS):
        conn.exec_driver_sql(sql, rows.slice(offset, INSERT_ROWS).rows())
    tenant_id = frame["tenant_id"][0]
    found = dict(
        session.execute(
            sa.select(table.c.external_id, table.c.id).where(table.c.tenant_id == tenant_id, table.c.id > floor)
        ).all()
    )
    return [found[e] for e in frame["external_id"].to_list()]


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
