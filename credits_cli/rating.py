"""Rating call records and debiting the balance (SPEC §6).

:func:`rate_records` takes the call records of one or more files, puts them in
start-time order, and rates them in batches. Each batch (its calls, ledger
entries, pool usage and notifications) is one transaction: an interrupted
import leaves whole batches, and a rerun finishes the rest without charging
anything twice (a call id the tenant already has is a ``duplicate``).

Order: records are buffered in memory up to :data:`MEMORY_RECORDS`; a larger
input is cut into sorted runs spilled to temporary files and merged back by
start time, so memory stays bounded on a file of a million rows.

Per call, in this order (the module's docstring is the rule book):

1. identity: a call id already seen (in this run or an earlier import) is a
   duplicate, counted and not stored again;
2. kind: ``conf_out`` and ``user_out_conf`` are dial-out (checked before the
   ``user_out*`` prefix); ``user_out*`` and ``ucap_out`` outbound; ``*_in``
   inbound, toll-free when a ``tollfree`` prefix matches the number that
   received the call, else ``free``; Direct Routing is ``carrier``; anything
   else is a rejected row;
3. price: longest prefix; none -> ``unrated``; billed seconds per the entry;
4. pool: the month's pool covers what it has left of the billed seconds;
   the rest is charged (connection fee + per_minute x charged seconds / 60,
   the connection fee applying whenever something is charged); a pool that
   covers everything makes the call ``included``;
5. license: something to charge needs the user's license (``unlicensed``);
   a user the tenant does not know is ``unknown_user``; toll-free calls and
   calls of bots (auto attendants, call queues: no UPN) are the tenant's and
   need none;
6. balance: ``Account.prepare`` (expiry, auto-recharge) before the call; it is
   charged in full when the balance is above zero, else ``no_balance``.
"""

from __future__ import annotations

import heapq
import json
import operator
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import clock, ledger, money, notify, phones
from credits_cli.models import Call, ImportRun, PoolUsage, Tenant, User
from credits_cli.money import ZERO
from credits_cli.rates import RateBook
from credits_cli.readers._common import make_record
from credits_cli.readers.base import CallRecord, RowError
from credits_cli.refdata import service

#: Records per transaction. Each is a commit; a larger one costs SQLite less per call (a commit
#: writes every index page it touched, and the unique call-id index is touched all over), and an
#: interrupted import loses at most one transaction, which a rerun redoes.
BATCH_SIZE = 50_000
#: Records rated and written at a time inside a transaction (bounds the memory of the rows built).
CHUNK_SIZE = 5000
#: Distinct numbers remembered with their country during an import.
PLACED_NUMBERS = 100_000
#: SQLite page cache of an import's connection, in KiB.
SQLITE_CACHE_KB = 32 * 1024
#: Records sorted in memory; beyond this the input is spilled to a temporary file.
MEMORY_RECORDS = 100_000
STATUSES = ("charged", "included", "free", "denied", "unrated", "carrier")
DIALOUT_TYPES = frozenset({"conf_out", "user_out_conf", "dialout"})


# --- kinds ---------------------------------------------------------------------------


def kind_of(record: CallRecord) -> str | None:
    """outbound | dialout | inbound | carrier, or None for an unknown call type."""
    key = (record.call_type, record.direct_routing)
    try:
        return _kinds[key]
    except KeyError:
        pass
    kind = _kind(*key)
    if len(_kinds) < 1000:
        _kinds[key] = kind
    return kind


_kinds: dict[tuple[str, bool], str | None] = {}


def _kind(call_type: str, direct_routing: bool) -> str | None:
    ct = call_type.strip().lower()
    if direct_routing or ct.startswith("dr_") or ct.startswith("byot"):
        return "carrier"
    if ct in DIALOUT_TYPES:  # before user_out*: user_out_conf is dial-out
        return "dialout"
    if ct.startswith("user_out") or ct in ("ucap_out", "outbound"):
        return "outbound"
    if ct.endswith("_in") or ct == "inbound":
        return "inbound"
    return None


# --- the summary ------------------------------------------------------------------------


@dataclass
class Summary:
    files: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    import_id: int | None = None
    currency: str = ""
    rate_table: str = ""
    rows_read: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    total_charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharged_amount: Decimal = ZERO
    balance_before: Decimal = ZERO
    balance_after: Decimal = ZERO
    rejects: list[RowError] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        for status, n in batch.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        for reason, n in batch.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.duplicates += batch.duplicates
        self.total_charged += batch.charged
        self.recharges_succeeded += batch.recharges_succeeded
        self.recharges_failed += batch.recharges_failed
        self.recharged_amount += batch.recharged_amount
        self.balance_after = batch.balance_after
        self.rejects.extend(batch.rejects)
        self.rejected += len(batch.rejects)

    def doc(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "dry_run": self.dry_run,
            "files": self.files,
            "formats": self.formats,
            "rate_table": self.rate_table,
            "currency": self.currency,
            "rows_read": self.rows_read,
            "statuses": dict(self.statuses),
            "denied_reasons": dict(sorted(self.reasons.items())),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "total_charged": self.total_charged,
            "recharges": {
                "succeeded": self.recharges_succeeded,
                "failed": self.recharges_failed,
                "amount": self.recharged_amount,
            },
            "balance_before": self.balance_before,
            "balance_after": self.balance_after,
        }


@dataclass
class BatchResult:
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharged_amount: Decimal = ZERO
    balance_after: Decimal = ZERO
    rejects: list[RowError] = field(default_factory=list)
    mark: ledger.BalanceMark | None = None  # the balance after the batch, once committed


# --- what is loaded once per import -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _User:
    id: int
    country: str
    plan: str
    conferencing: bool
    licensed: bool


@dataclass
class Context:
    """Everything rating needs that does not change during an import."""

    tenant: Tenant
    book: RateBook
    users: dict[str, _User]
    capacities: dict[str, int]  # pool name -> seconds per month
    zone_a: frozenset[str]
    alerts: tuple[int, ...]
    #: number as exported -> (visible digits, country): the same numbers recur across an import
    placed: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    #: the balance after the last committed batch of this import (see :class:`ledger.BalanceMark`)
    balance_mark: ledger.BalanceMark | None = None

    @classmethod
    def load(cls, session: Session, tenant: Tenant, book: RateBook) -> Context:
        svc = service()
        users: dict[str, _User] = {}
        capacities: dict[str, int] = {"international": 0, "dialout": 0}
        for u in session.exec(select(User).where(User.tenant_id == tenant.id)).all():
            users[u.upn] = _User(u.id or 0, u.country, u.plan, u.conferencing, u.licensed)
            if u.plan in ("domestic", "domestic-international"):
                pool = domestic_pool(u.country)
                capacities[pool] = capacities.get(pool, 0) + svc.domestic_minutes_for(u.country) * 60
            if u.plan == "domestic-international":
                capacities["international"] += svc.international_minutes * 60
            if u.conferencing:
                capacities["dialout"] += svc.dialout_minutes_per_user * 60
        return cls(tenant, book, users, capacities, svc.zone_a, svc.dialout_alerts)


def _place(placed: dict[str, tuple[str, str | None]], number: str) -> tuple[str, str | None]:
    """Visible digits and country of an exported number, remembered in ``placed`` (bounded)."""
    if number[:1] == "+" and number[1:].isdigit() and number.isascii():  # the usual form: nothing to clean
        visible = number[1:]
    else:
        visible = phones.visible_digits(phones.normalise(number))
    found = placed[number] = (visible, phones.country_of(visible) if visible else None)
    if len(placed) > PLACED_NUMBERS:
        placed.clear()
        placed[number] = found
    return found


def domestic_pool(country: str) -> str:
    return f"domestic:{service().domestic_pool_for(country)}"


@dataclass
class _Pool:
    capacity: int
    used: int
    exists: bool
    dirty: bool = False

    @property
    def left(self) -> int:
        return max(0, self.capacity - self.used)


# --- ordering the input ---------------------------------------------------------------------


def in_start_order(
    items: Iterable[CallRecord | RowError],
    on_error: Callable[[RowError], None],
    *,
    memory_records: int = MEMORY_RECORDS,
) -> Iterator[CallRecord]:
    """The records in start-time order (ties keep file order); row errors go to ``on_error``.

    Up to ``memory_records`` are sorted in memory. A larger input is cut into
    runs of that size, each sorted and spilled to a temporary file, then merged
    (bounded memory, whatever the size). Runs that do not overlap, as those of
    an export already in start-time order, are read back one after the other
    without a merge.
    """
    buffer: list[CallRecord] = []
    iterator = iter(items)
    by_start = operator.attrgetter("start")
    spill = False
    for item in iterator:
        if isinstance(item, RowError):
            on_error(item)
            continue
        buffer.append(item)
        if len(buffer) > memory_records:
            spill = True
            break
    buffer.sort(key=by_start)  # stable: ties keep file order
    if not spill:
        yield from buffer
        return
    with tempfile.TemporaryDirectory(prefix="credits-sort-") as folder:
        runs: list[_Run] = []
        while True:
            runs.append(_Run.write(os.path.join(folder, f"run{len(runs)}"), buffer))
            buffer = []
            for item in iterator:
                if isinstance(item, RowError):
                    on_error(item)
                    continue
                buffer.append(item)
                if len(buffer) >= memory_records:
                    break
            if not buffer:
                break
            buffer.sort(key=by_start)
        if all(a.last <= b.first for a, b in zip(runs, runs[1:], strict=False)):
            for run in runs:
                yield from run.read()
        else:  # heapq.merge is stable: on equal starts the earlier run (earlier in the file) comes first
            yield from heapq.merge(*(run.read() for run in runs), key=by_start)


@dataclass
class _Run:
    """A sorted run of records in a temporary file: pickled chunks of (start times as ISO text,
    the other fields as plain tuples). Text pickles five times faster than a datetime."""

    path: str
    first: datetime
    last: datetime

    #: Records per pickled chunk. A merge holds one chunk of every run in memory: small chunks keep
    #: a year of unsorted records (over a hundred runs) well inside the memory a month takes.
    CHUNK = 1000

    @classmethod
    def write(cls, path: str, records: list[CallRecord]) -> _Run:
        others = operator.attrgetter(*_OTHER_FIELDS)
        with open(path, "wb") as handle:
            for i in range(0, len(records), cls.CHUNK):
                chunk = records[i : i + cls.CHUNK]
                starts = [r.start.isoformat() for r in chunk]
                pickle.dump((starts, [others(r) for r in chunk]), handle, pickle.HIGHEST_PROTOCOL)
        return cls(path, records[0].start, records[-1].start)

    def read(self) -> Iterator[CallRecord]:
        make = make_record
        parse = datetime.fromisoformat
        with open(self.path, "rb") as handle:
            while True:
                try:
                    starts, rows = pickle.load(handle)  # noqa: S301 - our own file, written just above
                except EOFError:
                    break
                for start, (source, line, ext, upn, seconds, kind, number, direct, country, conf) in zip(
                    starts, rows, strict=True
                ):
                    yield make(source, line, ext, upn, parse(start), seconds, kind, number, direct, country, conf)
        os.unlink(self.path)


_RECORD_FIELDS = tuple(f.name for f in dataclass_fields(CallRecord))
_OTHER_FIELDS = tuple(name for name in _RECORD_FIELDS if name != "start")
assert len(_RECORD_FIELDS) == 11 and _RECORD_FIELDS.index("start") == 4, "_Run.read rebuilds records field by field"


def batches(records: Iterator[CallRecord], size: int) -> Iterator[list[CallRecord]]:
    batch: list[CallRecord] = []
    for r in records:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- rating one batch ---------------------------------------------------------------------------


def _existing_ids(session: Session, tenant_id: int, ids: list[str]) -> set[str]:
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


def _load_pools(session: Session, ctx: Context, months: set[str]) -> dict[tuple[str, str], _Pool]:
    pools: dict[tuple[str, str], _Pool] = {}
    if not months:
        return pools
    rows = session.exec(
        select(PoolUsage).where(PoolUsage.tenant_id == ctx.tenant.id, col(PoolUsage.month).in_(sorted(months)))
    ).all()
    for row in rows:
        capacity = ctx.capacities.get(row.pool, 0)
        pools[(row.month, row.pool)] = _Pool(capacity, row.used_seconds, True, capacity != row.capacity_seconds)
    return pools


def _save_pools(session: Session, ctx: Context, pools: dict[tuple[str, str], _Pool]) -> None:
    t = PoolUsage.__table__  # type: ignore[attr-defined]
    new = [
        {"tenant_id": ctx.tenant.id, "month": m, "pool": p, "capacity_seconds": v.capacity, "used_seconds": v.used}
        for (m, p), v in pools.items()
        if v.dirty and not v.exists
    ]
    old = [
        {"k_month": m, "k_pool": p, "cap": v.capacity, "used": v.used}
        for (m, p), v in pools.items()
        if v.dirty and v.exists
    ]
    if new:
        session.execute(sa.insert(t), new)
    if old:
        session.execute(
            sa.update(t)
            .where(
                t.c.tenant_id == ctx.tenant.id, t.c.month == sa.bindparam("k_month"), t.c.pool == sa.bindparam("k_pool")
            )
            .values(capacity_seconds=sa.bindparam("cap"), used_seconds=sa.bindparam("used")),
            old,
        )


def rate_batch(session: Session, ctx: Context, batch: list[CallRecord], import_id: int | None) -> BatchResult:
    """Rate one batch inside the caller's transaction and write it (calls, ledger, pools, outbox)."""
    tenant = ctx.tenant
    tid = tenant.id or 0
    result = BatchResult()
    statuses = result.statuses
    reasons = result.reasons
    account = ledger.Account.load(session, tenant, ctx.balance_mark)
    existing = _existing_ids(session, tid, list({r.external_id for r in batch}))
    months = {(r.start.year, r.start.month) for r in batch}
    pools = _load_pools(session, ctx, {f"{y:04d}-{m:02d}" for y, m in months})
    seen: set[str] = set()
    placed = ctx.placed
    lookup = ctx.book.lookup
    users = ctx.users
    same_area = service().same_domestic_area
    zone_a = ctx.zone_a
    capacities = ctx.capacities
    tenant_country = tenant.country
    to_units = money.to_units
    # One list per call, in the order of _CALL_COLUMNS (index constants _STATUS, _REASON, ... below).
    rows: list[list[Any]] = []
    patches: list[tuple[int, int]] = []  # (index in account.pending, index in rows)

    for rec in batch:
        ext = rec.external_id
        if ext in existing or ext in seen:
            result.duplicates += 1
            continue
        kind = kind_of(rec)
        if kind is None:
            result.rejects.append(RowError(rec.source, rec.line, f"unknown call type {rec.call_type!r}"))
            continue
        seen.add(ext)
        upn = rec.user_upn
        user = users.get(upn) if upn else None
        number = rec.number
        try:
            visible, country = placed[number]
        except KeyError:
            visible, country = _place(placed, number)
        duration = rec.duration_seconds
        row = [tid, ext, import_id, rec.source, rec.line, upn, user.id if user else None, rec.start, duration,
               rec.call_type, kind, number, country, None, "", "", None, None, 0, None, 0, 0, 0]
        rows.append(row)

        if kind == "carrier":
            row[_STATUS] = "carrier"
            statuses["carrier"] += 1
            continue

        domestic: bool | None = None
        if kind == "inbound":
            rate = lookup("tollfree", visible) if visible else None
            if rate is None:
                row[_STATUS] = "free"
                statuses["free"] += 1
                continue
            kind = row[_KIND] = "tollfree"
        else:
            rate = lookup("dialout" if kind == "dialout" else "outbound", visible) if visible else None
            if country is not None:
                domestic = row[_DOMESTIC] = same_area(
                    user.country if user else (rec.user_country or tenant_country), country
                )
            if rate is None:
                row[_STATUS] = "unrated"
                row[_REASON] = "no_rate" if visible else "no_number"
                statuses["unrated"] += 1
                continue

        billed = rate.billed_seconds(duration)
        row[_RATE_PREFIX] = rate.prefix
        row[_RATE_NAME] = rate.name
        row[_BILLED] = billed
        if billed == 0:  # a call of 0 seconds: nothing to bill, nothing taken from a pool
            row[_STATUS] = "free"
            row[_REASON] = "zero_duration"
            statuses["free"] += 1
            continue

        # Minutes included (§6.4)
        pool_name: str | None = None
        if kind == "outbound" and user is not None and domestic is not None:
            if domestic:
                if user.plan in ("domestic", "domestic-international"):
                    pool_name = domestic_pool(user.country)
            elif user.plan == "domestic-international":
                pool_name = "international"
        elif kind == "dialout" and user is not None and user.conferencing and country in zone_a:
            pool_name = "dialout"
        covered = 0
        if pool_name is not None:
            month = clock.month_key(rec.start)
            pool = pools.get((month, pool_name))
            if pool is None:
                pool = pools[(month, pool_name)] = _Pool(capacities.get(pool_name, 0), 0, False)
            covered = min(pool.left, billed)
            if covered:
                before = pool.used
                pool.used += covered
                pool.dirty = True
                row[_POOL] = pool_name
                row[_POOL_SECONDS] = covered
                if pool_name == "dialout":
                    _pool_alerts(session, ctx, pool, before, rec.start)
        charged_seconds = billed - covered
        row[_CHARGED_SECONDS] = charged_seconds
        if charged_seconds == 0:
            row[_STATUS] = "included"
            statuses["included"] += 1
            continue

        # License (§6.5): toll-free calls and bots' calls are the tenant's
        if kind != "tollfree" and upn:
            if user is None:
                _deny(row, "unknown_user", statuses, reasons)
                continue
            if not user.licensed:
                _deny(row, "unlicensed", statuses, reasons)
                continue

        # Balance (§6.6)
        amount = rate.price(charged_seconds)
        account.prepare(rec.start)
        if amount > 0 and not account.can_charge():
            _deny(row, "no_balance", statuses, reasons)
            continue
        mark = len(account.pending)
        account.charge(amount, rec.start)
        index = len(rows) - 1
        for i in range(mark, len(account.pending)):
            if account.pending[i]["kind"] == "charge":
                patches.append((i, index))
        row[_CHARGE] = to_units(amount) if amount else 0
        row[_STATUS] = "charged"
        statuses["charged"] += 1
        result.charged += amount

    # Write: calls first (their ids), then the ledger entries that name them.
    if rows:
        table = Call.__table__  # type: ignore[attr-defined]
        # A plain executemany (RETURNING in parameter order is one statement per row on SQLite);
        # the new rows are then the tenant's rows above the highest id before the insert.
        floor = session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar() or 0
        if session.connection().dialect.name == "sqlite":
            # The write transaction holds the database's only write lock, so the ids are the ones
            # SQLite would give (the highest plus one, in order): give them and skip reading them back.
            _insert_calls(session, rows, first_id=floor + 1)
            for pending_index, row_index in patches:
                account.pending[pending_index]["call_id"] = floor + 1 + row_index
        else:
            _insert_calls(session, rows)
            if patches:
                ids = dict(
                    session.execute(
                        sa.select(table.c.external_id, table.c.id).where(table.c.tenant_id == tid, table.c.id > floor)
                    ).all()
                )
                for pending_index, row_index in patches:
                    account.pending[pending_index]["call_id"] = ids[rows[row_index][_EXTERNAL_ID]]
    account.flush()
    result.mark = account.mark()
    _save_pools(session, ctx, pools)
    for outcome in account.recharges:
        if outcome.succeeded:
            result.recharges_succeeded += 1
            result.recharged_amount += outcome.amount
        else:
            result.recharges_failed += 1
    result.balance_after = account.balance
    return result


_CALL_COLUMNS = (
    "tenant_id", "external_id", "import_id", "source_file", "source_line", "user_upn", "user_id", "start",
    "duration_seconds", "call_type", "kind", "number", "country", "domestic", "status", "reason", "rate_prefix",
    "rate_name", "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge",
)
(_EXTERNAL_ID, _START, _KIND, _DOMESTIC, _STATUS, _REASON, _RATE_PREFIX, _RATE_NAME, _BILLED, _POOL, _POOL_SECONDS,
 _CHARGED_SECONDS, _CHARGE) = (
    _CALL_COLUMNS.index(name) for name in (
        "external_id", "start", "kind", "domestic", "status", "reason", "rate_prefix", "rate_name", "billed_seconds",
        "pool", "pool_seconds", "charged_seconds", "charge",
    )
)


def _insert_calls(session: Session, rows: list[list[Any]], first_id: int | None = None) -> None:
    """Bulk insert straight through the driver: SQLAlchemy's per-row parameter
    processing costs more than the rating itself. Rows are in the order of
    ``_CALL_COLUMNS`` with ``charge`` in storage units; with ``first_id`` the rows
    get the ids ``first_id``, ``first_id + 1``, ... in order."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = _CALL_COLUMNS if first_id is None else ("id", *_CALL_COLUMNS)
    sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    if conn.dialect.name == "sqlite":  # the text SQLAlchemy's SQLite dialect stores for a DateTime
        stamp = ledger.db_time
        for row in rows:
            row[_START] = stamp(row[_START])
    if first_id is None:
        conn.exec_driver_sql(sql, [tuple(row) for row in rows])
    else:
        conn.exec_driver_sql(sql, [(i, *row) for i, row in enumerate(rows, first_id)])


def _deny(row: list[Any], reason: str, statuses: dict[str, int], reasons: dict[str, int]) -> None:
    row[_STATUS] = "denied"
    row[_REASON] = reason
    statuses["denied"] += 1
    reasons[reason] = reasons.get(reason, 0) + 1


def _pool_alerts(session: Session, ctx: Context, pool: _Pool, before: int, at: datetime) -> None:
    """Dial-out pool at 80 % and 100 %: once per month each (the crossing happens once)."""
    if pool.capacity <= 0:
        return
    for pct in ctx.alerts:
        event = f"dialout_pool_{pct}"
        if event not in notify.EVENTS:
            continue
        threshold = pool.capacity * pct  # compare used x 100 with capacity x pct, in integers
        if before * 100 < threshold <= pool.used * 100:
            notify.queue_event(
                session, ctx.tenant, event, at, pool=f"dial-out {pool.used // 60} of {pool.capacity // 60} minutes"
            )


# --- a whole import --------------------------------------------------------------------------------


Source = tuple[str, str, Iterable[CallRecord | RowError]]  # (file name, format, records)


def rate_records(
    db: Any,
    tenant_slug: str | None,
    sources: Sequence[Source],
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    memory_records: int = MEMORY_RECORDS,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Rate every record of ``sources`` for the tenant. ``db`` is a :class:`credits_cli.db.Database`.

    ``batch_size`` is the records per transaction (default: ``CREDITS_RATE_BATCH``, else :data:`BATCH_SIZE`).
    """
    from credits_cli import rates, tenants

    if batch_size is None:
        batch_size = batch_size_from_env()

    summary = Summary(dry_run=dry_run, files=[name for name, _, _ in sources])
    summary.formats = {name: fmt for name, fmt, _ in sources}
    errors: list[RowError] = []

    def records() -> Iterator[CallRecord | RowError]:
        for _name, _fmt, items in sources:
            for item in items:
                summary.rows_read += 1
                yield item

    with db.read() as session:
        tenant = tenants.resolve(session, tenant_slug)
        book = rates.load_book(session, tenant)
        ctx = Context.load(session, tenant, book)
        summary.balance_before = ledger.balance(session, tenant)
    summary.balance_after = summary.balance_before
    summary.currency = tenant.currency
    summary.rate_table = book.name
    ordered = in_start_order(records(), errors.append, memory_records=memory_records)

    if dry_run:
        with Session(db.engine, expire_on_commit=False) as session:
            try:
                for batch in batches(ordered, min(batch_size, CHUNK_SIZE)):
                    summary.add(rate_batch(session, ctx, batch, None))
                    if progress:
                        progress(len(batch))
            finally:
                session.rollback()
    else:

        def start(session: Session) -> int:
            run = ImportRun(tenant_id=tenant.id or 0, started_at=clock.now(), files="\n".join(summary.files))
            session.add(run)
            session.flush()
            return run.id or 0

        import_id = db.write(start)
        summary.import_id = import_id
        chunk = min(batch_size, CHUNK_SIZE)
        for batch in batches(ordered, batch_size):
            mark = ctx.balance_mark

            def work(session: Session, batch: list[CallRecord] = batch, mark: Any = mark) -> list[BatchResult]:
                ctx.balance_mark = mark  # again from the top when the transaction is retried
                if session.connection().dialect.name == "sqlite":
                    # The unique (tenant, call id) index takes random inserts: keep its pages cached
                    # (the default cache is 2 MB; this is a maximum, not an allocation, and kept
                    # moderate so a large import's memory stays close to a small one's).
                    session.connection().exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                db.lock_tenant(session, tenant.id or 0)
                done: list[BatchResult] = []
                for i in range(0, len(batch), chunk):
                    done.append(rate_batch(session, ctx, batch[i : i + chunk], import_id))
                    ctx.balance_mark = done[-1].mark
                return done

            for done in db.write(work):
                summary.add(done)
            if progress:
                progress(len(batch))

    summary.rejects[:0] = errors
    summary.rejected += len(errors)
    if not dry_run:

        def finish(session: Session) -> None:
            run = session.get(ImportRun, summary.import_id)
            if run is not None:
                run.finished_at = clock.now()
                run.summary = json.dumps(summary_json(summary))
                session.add(run)

        db.write(finish)
    return summary


def batch_size_from_env() -> int:
    """``CREDITS_RATE_BATCH`` (records per transaction, 1 to 1,000,000), else :data:`BATCH_SIZE`."""
    text = os.environ.get("CREDITS_RATE_BATCH", "").strip()
    if not text:
        return BATCH_SIZE
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 1_000_000):
        from credits_cli.errors import InvalidInput

        raise InvalidInput(f"CREDITS_RATE_BATCH={text[:20]!r} must be a whole number from 1 to 1000000")
    return int(text)


def summary_json(summary: Summary) -> dict[str, Any]:
    """The summary with money as strings (for ImportRun.summary)."""
    doc = summary.doc()
    for key in ("total_charged", "balance_before", "balance_after"):
        doc[key] = money.fmt(doc[key])
    doc["recharges"]["amount"] = money.fmt(doc["recharges"]["amount"])
    return doc


# --- reading rated calls -------------------------------------------------------------------------


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


def write_rejects(path: Path, rejects: list[RowError]) -> None:
    """``file,line,reason`` CSV of the rejected rows."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "reason"])
        for r in rejects:
            writer.writerow([r.source, r.line, r.reason])
