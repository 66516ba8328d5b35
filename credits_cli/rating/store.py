"""Rating's reads and writes: what an import loads once, the call ids a tenant has, the monthly
pools, and the rated calls written in bulk (STYLE: bulk work in batches, never row by row).

The inserts go straight through the driver: SQLAlchemy's per-row parameter
processing costs more than the rating itself on a month of calls.
"""

from __future__ import annotations

import contextvars
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import history
from credits_cli.callkey import keys_of, next_key
from credits_cli.errors import DatabaseError, InvalidInput
from credits_cli.i18n import _
from credits_cli.kinds import Event
from credits_cli.models import Call, PoolUsage, Tenant, User
from credits_cli.outputs import os_reason
from credits_cli.rates import RateBook
from credits_cli.rating.rules import CHARGES_TABLE, DIALOUT_POOL, Context
from credits_cli.refdata import service

if TYPE_CHECKING:
    import polars as pl

_EVENTS = frozenset(Event)
T = TypeVar("T")


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


class NewKeys:
    """The keys of the calls a transaction has written so far, and the ids of those calls: kept here and
    written to ``call_guards`` together, in key order, at the transaction's end (:meth:`write`), so each
    page of a large guard is read and written about once per transaction instead of once per call.

    Until then :func:`identify` asks both the books and these: a call id seen earlier in the same
    transaction is a duplicate as surely as one committed a year ago. About 8 bytes a call: an int64
    column of keys per chunk, and its calls' ids as the first of them when they follow one another (as
    staged calls' do), else as a column too.
    """

    def __init__(self, staged: StagedCalls | None = None, *, books: bool = True) -> None:
        self._forget()
        #: where the transaction's calls wait until its end, when they are not in ``calls`` yet
        self.staged = staged
        #: False: the tenant had no key in ``call_guards`` when the transaction began (:func:`holds_keys`),
        #: so none is looked for there: a first import asks only these
        self.books = books

    def _forget(self) -> None:
        self._keys: list[pl.Series] = []
        self._ids: list[pl.Series | int] = []  # per chunk: its calls' ids, or the first when they run on by one
        self._starts: list[int] = []  # per chunk: the position of its first key among all
        self._held = 0

    def add(self, keys: list[int], ids: list[int]) -> None:
        import polars as pl

        if keys:
            self._keys.append(pl.Series(keys, dtype=pl.Int64))
            self._ids.append(ids[0] if ids == list(range(ids[0], ids[0] + len(ids))) else
                             pl.Series(ids, dtype=pl.Int64))
            self._starts.append(self._held)
            self._held += len(keys)

    def find(self, keys: Iterable[int]) -> dict[int, int]:
        """Key -> the id of the call of this transaction that holds it, for those of ``keys`` held here."""
        import bisect

        import polars as pl

        if not self._keys:
            return {}
        wanted = pl.Series(list(keys), dtype=pl.Int64).implode()
        # the chunks' series side by side, not copied into one: one look over all of them
        held = pl.concat(self._keys, rechunk=False)
        found: dict[int, int] = {}
        for at in held.is_in(wanted).arg_true().to_list():
            chunk = bisect.bisect_right(self._starts, at) - 1
            ids, offset = self._ids[chunk], at - self._starts[chunk]
            found[held[at]] = ids + offset if isinstance(ids, int) else ids[offset]
        return found

    def _all_ids(self) -> pl.Series:
        import polars as pl

        return pl.concat([pl.int_range(ids, ids + keys.len(), dtype=pl.Int64, eager=True) if isinstance(ids, int)
                          else ids for keys, ids in zip(self._keys, self._ids, strict=True)], rechunk=False)

    def write(self, session: Session, tenant_id: int) -> None:
        """Insert the keys into ``call_guards`` in key order, and forget them. The primary key refuses a
        key held already: the transaction then fails whole.

        Sorted a sixteenth of the key range at a time (by the key's top four bits, lowest first): still
        key order over all, and only a sixteenth of the pairs is copied at once (half a million pairs
        sorted at once peaked 25-35 MB higher in polars, and 12 MB higher in SQLite's own sort)."""
        import polars as pl

        if not self._keys:
            return
        if self.staged is not None:  # the staged calls hold the same keys and ids: SQLite sorts and copies them
            self.staged.write_guards(session, tenant_id)
            self._forget()
            return
        conn = session.connection()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        held = pl.DataFrame({"guard": pl.concat(self._keys, rechunk=False), "call_id": self._all_ids()})
        self._forget()
        sql = f"INSERT INTO call_guards (tenant_id, guard, call_id) VALUES ({int(tenant_id)}, {mark}, {mark})"
        top = pl.col("guard") // (1 << 60)  # -8 .. 7, in key order
        for part in range(-8, 8):
            rows = held.filter(top == part).sort("guard")
            for piece in rows.iter_slices(INSERT_ROWS * 10):
                conn.exec_driver_sql(sql, list(zip(piece["guard"].to_list(), piece["call_id"].to_list(),
                                                   strict=True)))


def identify(
    session: Session, tenant_id: int, ids: list[str], new: NewKeys | None = None
) -> tuple[set[str], dict[str, int]]:
    """The ids of ``ids`` (distinct) the tenant already has, and for each other one the first free key of
    its run (:mod:`credits_cli.callkey`): the id itself decides, compared with the one under each key.
    ``new``: the keys this transaction has written and not yet put in ``call_guards``."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    keys = keys_of(ids)
    slots: dict[int, str | None] = dict.fromkeys(keys.values())  # key -> the id it holds in the books
    wanted = list(slots)
    per = _identify_keys(conn)
    if new is None or new.books:  # (else the tenant had no key in the books when the transaction began)
        for i in range(0, len(wanted), per):
            part = _padded(wanted[i : i + per], per)
            sql = (f"SELECT g.guard, c.external_id FROM call_guards g JOIN calls c ON c.id = g.call_id "
                   f"WHERE g.tenant_id = {mark} AND g.guard IN ({', '.join([mark] * len(part))})")
            slots.update(conn.exec_driver_sql(sql, (tenant_id, *part)).all())
    if new is not None:
        slots.update(_ids_of(conn, mark, new.find(wanted), new))
    if len(slots) == len(keys) and all(held is None for held in slots.values()):  # distinct keys, none held
        return set(), keys
    existing: set[str] = set()
    free: dict[str, int] = {}
    for x, key in keys.items():
        while True:
            if key not in slots:
                slots[key] = _held(conn, mark, tenant_id, key, new)
            held = slots[key]
            if held is None:
                free[x] = key
                break
            if held == x:
                existing.add(x)
                break
            key = next_key(key)  # another id's key: follow the run
    return existing, free


def holds_keys(session: Session, tenant_id: int) -> bool:
    """Whether the tenant has a key in ``call_guards``. Asked when a transaction that writes calls begins:
    until it ends no other writer of the tenant adds one (SQLite's one writer; on PostgreSQL the tenant's
    row is locked first, :meth:`credits_cli.db.Database.lock_tenant`)."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return conn.exec_driver_sql(f"SELECT 1 FROM call_guards WHERE tenant_id = {mark} LIMIT 1",
                                (int(tenant_id),)).first() is not None


def assign_keys(session: Session, tenant_id: int, ids: list[str], free: dict[str, int],
                new: NewKeys | None = None) -> list[int]:
    """The keys of the new calls ``ids`` (in order, distinct), from ``free`` (:func:`identify`): two of them
    with the same free key (a collision) take the next ones free in turn."""
    keys = [free[x] for x in ids]
    if len(set(keys)) == len(keys):
        return keys
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    used: set[int] = set()
    out = []
    for x in ids:
        key = free[x]  # free in the books (identify looked); past it, the books are asked again
        while key in used or (key != free[x] and _held(conn, mark, tenant_id, key, new) is not None):
            key = next_key(key)
        used.add(key)
        out.append(key)
    return out


def _held(conn: Any, mark: str, tenant_id: int, key: int, new: NewKeys | None = None) -> str | None:
    """The id of the call that holds ``key``: in the books, or among the transaction's ``new`` keys."""
    if new is not None:
        pending = _ids_of(conn, mark, new.find([key]), new)
        if pending or not new.books:
            return pending.get(key)
    row = conn.exec_driver_sql(f"SELECT c.external_id FROM call_guards g JOIN calls c ON c.id = g.call_id "
                               f"WHERE g.tenant_id = {mark} AND g.guard = {mark}", (tenant_id, key)).first()
    return None if row is None else str(row[0])


def _ids_of(conn: Any, mark: str, calls: dict[int, int], new: NewKeys) -> dict[int, str]:
    """Key -> call id (of this transaction's ``new`` calls) made key -> the call's external id."""
    out: dict[int, str] = {}
    items = list(calls.items())
    for i in range(0, len(items), LOOKUP_KEYS):
        part = dict(items[i : i + LOOKUP_KEYS])
        if new.staged is not None:  # not in ``calls`` before the transaction's end
            by_id = new.staged.external_ids(list(part.values()))
        else:
            by_id = dict(conn.exec_driver_sql(
                f"SELECT id, external_id FROM calls WHERE id IN ({', '.join([mark] * len(part))})",
                tuple(part.values())).all())
        out.update({key: str(by_id[call_id]) for key, call_id in part.items()})
    return out


#: Keys looked up per query.
LOOKUP_KEYS = 2000
#: Keys :func:`identify` looks up per query: a whole chunk's at once. In a year's guard each key is a page
#: read of its own either way, and a statement for 15,000 rather than 2,000 took month 13 of a year's
#: look-ups from 4.6 s to 3.7 s. (SQLite before 3.32 takes at most 999 values a statement.)
IDENTIFY_KEYS = 15_000


def _padded(part: list[int], most: int) -> list[int]:
    """``part`` with its last key repeated up to the next of a few lengths (at most ``most``): the driver keeps
    the last 128 statements it prepared, and a statement of 15,000 values holds megabytes, so the look-ups
    come in a few shapes, not one per length (a five-million-call import peaked 40 MB higher)."""
    size = next((n for n in (64, 1024) if len(part) <= n <= most), most)
    return part + part[-1:] * (size - len(part))


def _identify_keys(conn: Any) -> int:
    import sqlite3

    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 32, 0):
        return 998
    return IDENTIFY_KEYS


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
    used_minutes: int
    capacity_minutes: int


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
                    self.alerts.append(PoolAlert(position, at, event, used // 60, capacity // 60))

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

#: Calls handed to the driver at a time (each a tuple of Python objects while it is bound: 1,000 calls
#: are about 30,000 objects).
INSERT_ROWS = 1000

CALL_COLUMNS = (
    "tenant_id", "external_id", "import_id", "source_file", "source_line", "user_upn", "user_id", "start",
    "duration_seconds", "call_type", "kind", "number", "country", "domestic", "status", "reason", "rate_prefix",
    "rate_name", "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge", "ms_charge",
    "ms_connection_fee", "ms_currency", "capability", "operator", "guard",
)


def check_references(session: Session, tenant: Tenant, import_id: int, user_ids: Iterable[int]) -> None:
    """That the rows an import's transaction names outside itself are there: its tenant, its import's
    record and the users its calls are of (each of them the tenant's). What a transaction written
    with SQLite's foreign-key checks off (:meth:`credits_cli.db.Database.write`, ``references_checked``)
    checks once instead of once a row; the rest it names (its calls, lots) it wrote itself. Only
    ``tenant remove`` deletes such rows: done while an import runs, the import stops with one line."""
    tenant_id = tenant.id or 0
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    found = conn.exec_driver_sql(
        f"SELECT t.id, i.id FROM tenants t LEFT JOIN imports i ON i.id = {mark} AND i.tenant_id = t.id "
        f"WHERE t.id = {mark}", (import_id, tenant_id)).first()
    wanted = sorted(set(user_ids))
    known = 0
    for i in range(0, len(wanted), LOOKUP_KEYS):
        part = wanted[i : i + LOOKUP_KEYS]
        known += conn.exec_driver_sql(
            f"SELECT count(*) FROM users WHERE tenant_id = {mark} AND id IN ({', '.join([mark] * len(part))})",
            (tenant_id, *part)).scalar_one()
    if found is None or found[1] is None or known != len(wanted):
        # TRANSLATORS: {slug} is a tenant's short name (contoso).
        raise DatabaseError(_("tenant {slug} was removed while its calls were rated: the last batch was "
                              "not written").format(slug=tenant.slug))


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
        # in parameter order is one statement per row on SQLite.)
        ids = pl.int_range(floor + 1, floor + 1 + frame.height, dtype=pl.Int64, eager=True).alias("id")
        out = _sqlite_rows(frame)
        sql, bound = _insert_sql(out, mark)
        out = out.with_columns(ids).select(bound)  # in id order: each row lands after the one before
        for offset in range(0, out.height, INSERT_ROWS):  # rows as Python tuples a slice at a time
            conn.exec_driver_sql(sql, tuples(out.slice(offset, INSERT_ROWS)))
        return list(range(floor + 1, floor + 1 + frame.height))
    sql = f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES ({', '.join([mark] * len(CALL_COLUMNS))})"
    rows = frame.select(CALL_COLUMNS)
    for offset in range(0, rows.height, INSERT_ROWS):
        conn.exec_driver_sql(sql, tuples(rows.slice(offset, INSERT_ROWS)))
    tenant_id = frame["tenant_id"][0]
    found = dict(
        session.execute(
            sa.select(table.c.external_id, table.c.id).where(table.c.tenant_id == tenant_id, table.c.id > floor)
        ).all()
    )
    return [found[e] for e in frame["external_id"].to_list()]


class StagedCalls:
    """A SQLite transaction's rated calls, held in a scratch file until its end, then put in ``calls`` by one
    ``INSERT ... SELECT`` (:meth:`flush`), and their keys in ``call_guards`` by another (:meth:`write_guards`).

    Binding a call's 30 values one at a time from Python is most of what storing it costs (about 0.16 us a
    value); the ADBC SQLite driver binds a chunk's columns in C from Arrow, and SQLite copies the rows from
    the scratch file into ``calls`` without Python. The scratch file is written through the driver's own
    connection, outside the transaction, so the transaction reads it once, at its end: an attached database
    is read at one snapshot for a whole transaction, so it could not be read chunk by chunk as it grows.

    The calls get their ids here, in order after the highest in the table (the transaction holds SQLite's
    only write lock); the ledger entries that name them are written before them, so the transaction checks
    foreign keys at its commit (``defer_foreign_keys``). Until then only the duplicate guard asks for the
    transaction's own calls (:meth:`external_ids`). The scratch file lives in a folder of its own (mode
    0700) in the temporary folder (``TMPDIR``) and :meth:`close` removes both; the engine's SQLite
    connections are not pooled, so the attachment ends with the transaction's connection.

    A chunk is written into the scratch file by a thread of its own (the driver lets other threads run
    while SQLite works), while the next chunk is rated; at most :data:`WRITES_AHEAD` chunks wait, and a
    write that failed is raised by the next :meth:`add`, or by :meth:`flush`. The same thread sorts the
    keys while :meth:`flush` copies the calls (:meth:`_sort_keys`); a sort that failed is raised by
    :meth:`write_guards`.
    """

    def __init__(self, session: Session, folder: str) -> None:
        import adbc_driver_manager as adbc

        self._adbc = adbc
        self.folder = folder
        self.private = ""  # a folder of our own in ``folder`` (mode 0700: the calls are nobody else's)
        self.path = ""
        self._next: int | None = None
        self.rows = 0
        self._schema = ""  # the scratch file's name in the transaction's connection, once attached
        self._database = self._connection = None
        self._writer: ThreadPoolExecutor | None = None
        self._writes: list[Future[Any]] = []  # chunks still being written, oldest first
        self._sorted: Future[str] | None = None  # the keys being sorted into a file of their own (:meth:`flush`)
        try:
            try:
                self.private = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=folder)
            except OSError as exc:
                raise self._cannot_write(exc) from None
            self.path = os.path.join(self.private, SCRATCH_FILE)
            self._database, self._connection = self._connect(self.path)
            # A throwaway file: no journal, no flush to disk (the transaction's commit keeps the calls), and
            # pages of 64 KiB, read and written whole (a system call a page: with SQLite's 4 KiB, a million
            # calls were 77,000 writes, then as many reads; 0.97x the import's time, 0.95x its CPU). Its
            # ``calls`` and that table's indexes are the database's own, made by the same statements (the
            # references to other tables are not followed here), so that SQLite copies a call's record and
            # index entries as they are (see :meth:`flush`); ``guards`` holds each call's key and id, which
            # :meth:`_sort_keys` sorts for the guard.
            for sql in (f"PRAGMA page_size = {SCRATCH_PAGE_SIZE}", "PRAGMA journal_mode = OFF",
                        "PRAGMA synchronous = OFF", "PRAGMA foreign_keys = OFF", *_scratch_schema(session),
                        "CREATE TABLE guards (guard INTEGER, id INTEGER)"):
                self._execute(sql)
            try:
                self._connection.set_autocommit(False)  # a chunk's rows in a transaction (:meth:`_execute_all`)
            except adbc.Error as exc:
                raise self._cannot_write(exc) from None
        except BaseException:
            self.close()
            raise
        session.connection().exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # until this transaction's commit

    @classmethod
    def open(cls, session: Session) -> StagedCalls | None:
        """Staged calls for the transaction of ``session``, or None when the calls are inserted as they come:
        not SQLite, or the driver cannot be loaded."""
        if session.connection().dialect.name != "sqlite":
            return None
        try:
            import adbc_driver_sqlite  # noqa: F401
        except ImportError:
            return None
        folder = tempfile.gettempdir()
        sweep_scratch(folder)
        return cls(session, folder)

    def _cannot_write(self, exc: BaseException) -> InvalidInput:
        text = os_reason(exc) if isinstance(exc, OSError) else str(exc).strip()
        text = text.splitlines()[0] if text.strip() else type(exc).__name__
        # TRANSLATORS: {folder} is a folder's path; {error} what the system or SQLite said, in English.
        return InvalidInput(_("cannot write the calls: temporary files in {folder}: {error} (TMPDIR chooses "
                              "the folder)").format(folder=self.folder, error=text))

    def _execute(self, sql: str = "", *, query: bool = False, into: pl.DataFrame | None = None,
                 table: str = "calls", connection: Any = None) -> Any:
        """Run ``sql`` on the scratch file (``query``: its rows, as a frame; ``into``: once a row of it, bound to
        its columns), or, without ``sql``, append ``into`` to its ``table``; on ``connection`` when given. A
        failure (a full disk, say) is the import's error, in one line."""
        import polars as pl

        adbc = self._adbc
        statement = None
        try:
            statement = adbc.AdbcStatement(self._connection if connection is None else connection)
            if sql:
                statement.set_sql_query(sql)
            else:
                statement.set_options(**{adbc.INGEST_OPTION_TARGET_TABLE: table,
                                         adbc.INGEST_OPTION_MODE: adbc.INGEST_OPTION_MODE_APPEND})
            if into is not None:
                statement.bind_stream(into.__arrow_c_stream__())
            if query:
                stream, _count = statement.execute_query()
                return pl.DataFrame(stream)
            statement.execute_update()
            return None
        except adbc.Error as exc:
            raise self._cannot_write(exc) from None
        finally:
            if statement is not None:
                statement.close()

    def add(self, session: Session, frame: pl.DataFrame) -> list[int]:
        """Stage a chunk's rated calls (as :func:`insert_calls` takes them); their ids, in order."""
        import polars as pl

        if frame.height == 0:
            return []
        if self._next is None:
            table = Call.__table__  # type: ignore[attr-defined]
            self._next = 1 + (session.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar() or 0)
        first = self._next
        rows = _sqlite_rows(frame).with_columns(pl.int_range(first, first + frame.height, dtype=pl.Int64).alias("id"))
        sql, bound = _insert_sql(rows, "?")  # (the driver binds in C; what is one value is still not bound)
        self._append(("calls", rows.select(bound), sql), ("guards", rows.select("guard", "id"), ""))
        self._next = first + frame.height
        self.rows += frame.height
        return list(range(first, first + frame.height))

    def _append(self, *parts: tuple[str, pl.DataFrame, str]) -> None:
        """Write each frame of ``parts`` into its table of the scratch file (by its statement, or appended when
        there is none), in the writer thread, in the order asked, in one transaction of the scratch file (a
        failure of an earlier write is raised here)."""
        while len(self._writes) >= WRITES_AHEAD:
            self._writes.pop(0).result()
        self._writes.append(self._submit(self._execute_all, parts))

    def _submit(self, work: Callable[..., T], *args: Any) -> Future[T]:
        """``work(*args)`` in the writer thread (made at the first), in a copy of this context (its messages in
        the import's language)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="credits-staging")
        return self._writer.submit(contextvars.copy_context().run, work, *args)

    def _connect(self, path: str) -> tuple[Any, Any]:
        """An ADBC database and connection on the SQLite file ``path`` (a failure is the import's error)."""
        import adbc_driver_sqlite

        database = None
        try:
            # (by a URI: ?, # and % in the folder's name are the folder's)
            database = adbc_driver_sqlite.connect(Path(path).as_uri())
            return database, self._adbc.AdbcConnection(database)
        except self._adbc.Error as exc:
            self._let_go(database)
            raise self._cannot_write(exc) from None

    def _let_go(self, *parts: Any) -> None:
        """Close ADBC connections and databases, in the order given (a scratch file: nothing in it to keep)."""
        for part in parts:
            if part is not None:
                try:
                    part.close()
                except self._adbc.Error:
                    pass

    def _execute_all(self, parts: tuple[tuple[str, pl.DataFrame, str], ...]) -> None:
        for table, frame, sql in parts:
            self._execute(sql, into=frame, table=table)
        try:
            if self._connection is not None:  # (it is closed only once the writer thread is done)
                self._connection.commit()  # (a statement a row, each a transaction of its own: ten times as long)
        except self._adbc.Error as exc:
            raise self._cannot_write(exc) from None

    def _written(self) -> None:
        """Wait until every chunk asked for is in the scratch file; raise the first failure."""
        while self._writes:
            self._writes.pop(0).result()

    def external_ids(self, ids: list[int]) -> dict[int, str]:
        """Call id -> external id, for the staged calls among ``ids``."""
        self._written()
        listed = ", ".join(str(int(i)) for i in ids)
        found = self._execute(f"SELECT id, external_id FROM calls WHERE id IN ({listed})", query=True)
        return dict(zip(found["id"].to_list(), found["external_id"].to_list(), strict=True)) if found.height else {}

    def flush(self, session: Session) -> None:
        """Put the staged calls in ``calls``, in id order (the transaction's only read of the scratch file).

        The two tables and their indexes are alike, and the statement is SQLite's plain ``INSERT INTO ...
        SELECT *``: SQLite then copies each record, and each index entry, as it is, without taking it apart
        into values and making it again (its transfer optimisation: a million calls in about 0.6 of the time).
        It takes the rows in their ids' order; when it cannot copy records so, it inserts them as any
        ``INSERT ... SELECT`` does, column by column, the same values.

        Meanwhile the writer thread sorts the calls' keys for :meth:`write_guards` (:meth:`_sort_keys`)."""
        self._written()
        if not self.rows:
            return
        if self._sorted is None:
            self._sort()
        schema = self._attach(session)
        session.connection().exec_driver_sql(f"INSERT INTO main.calls SELECT * FROM {schema}.calls")
        self.rows = 0

    def _sort_keys(self) -> str:
        """The staged keys and ids put in key order into a file of their own (its ``guards``, in rowid order);
        its path. Done in the writer thread while the transaction copies the calls: SQLite sorts, and copies,
        without the interpreter, on the other core. A connection of its own, on that file: SQLite's sort
        holds in memory the larger of 250 of its connection's own file's pages and its page cache (2 MB)
        before it spills, and this file's pages are SQLite's default 4 KiB (sorted on the scratch file's
        connection, whose pages are 64 KiB, a million-call import peaked 10 MB higher).

        The driver has a SQLite of its own, besides the one of Python's ``sqlite3``: closing this
        connection's handle on the scratch file lets go of the POSIX locks that the transaction's
        connection holds on it (SQLite's "How To Corrupt An SQLite Database File", 2.2.1). Harmless here,
        as nothing writes the scratch file once :meth:`flush` has begun; it must stay so."""
        import polars as pl

        path = os.path.join(self.private, KEYS_FILE)
        database, connection = self._connect(path)
        try:
            for sql in ("PRAGMA page_size = 4096", "PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF"):
                self._execute(sql, connection=connection)
            self._execute("ATTACH DATABASE ? AS staged", into=pl.DataFrame({"path": [self.path]}),
                          connection=connection)
            self._execute("CREATE TABLE guards AS SELECT guard, id FROM staged.guards ORDER BY guard",
                          connection=connection)
        finally:
            self._let_go(connection, database)
        return path

    def write_guards(self, session: Session, tenant_id: int) -> None:
        """Put the staged calls' keys in ``call_guards``, in key order (:meth:`NewKeys.write`): SQLite sorts
        them from the scratch file's ``guards`` (each call's key and id, staged with it: 16 bytes to read a
        call where the whole record of the call was read). After :meth:`flush` they are sorted already, into
        a file of their own, while the calls were copied (:meth:`_sort_keys`: a million calls' keys went in
        in 0.25 s rather than 0.53 s), and are copied in that order. The primary key refuses a key held
        already: the transaction fails whole."""
        if self._next is None:
            return
        sorting = self._sorted if self._sorted is not None else self._sort()  # (else not sorted during the copy)
        path, self._sorted = sorting.result(), None
        conn = session.connection()
        keys = f"keys_{uuid.uuid4().hex[:12]}"
        conn.exec_driver_sql(f"ATTACH DATABASE ? AS {keys}", (path,))
        conn.exec_driver_sql(f"INSERT INTO call_guards (tenant_id, guard, call_id) "
                             f"SELECT {int(tenant_id)}, guard, id FROM {keys}.guards ORDER BY rowid")
        self._next = None  # (the keys are in: a second call has none to write)

    def _sort(self) -> Future[str]:
        """Start sorting the staged keys in the writer thread, once every chunk is in the scratch file."""
        self._written()
        self._sorted = self._submit(self._sort_keys)
        return self._sorted

    def _attach(self, session: Session) -> str:
        """The scratch file attached to the transaction's connection (once: it is read at one snapshot)."""
        if not self._schema:
            schema = f"staged_{uuid.uuid4().hex[:12]}"
            session.connection().exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (self.path,))
            self._schema = schema
        return self._schema

    def close(self) -> None:
        """Let go of the scratch file and remove it."""
        for write in self._writes:
            write.cancel()
        self._writes.clear()
        if self._writer is not None:
            self._writer.shutdown(wait=True)  # (a write under way ends before its connection is closed)
            self._writer = None
        self._let_go(self._connection, self._database)
        self._connection = self._database = None
        for name in SCRATCH_FILES:
            try:
                if self.private:
                    os.unlink(os.path.join(self.private, name))
            except OSError:  # gone already, or still open elsewhere (Windows): the temporary folder's to clear
                pass
        try:
            if self.private:
                os.rmdir(self.private)
        except OSError:
            pass


#: Chunks of staged calls that may wait for the writer thread (:class:`StagedCalls`).
WRITES_AHEAD = 1
#: The scratch file's page size, in bytes (SQLite's largest).
SCRATCH_PAGE_SIZE = 65536

#: The start of a scratch folder's name; the process that made it follows (``credits-calls-<pid>-...``).
SCRATCH_PREFIX = "credits-calls-"
#: A scratch folder left by a process that is gone is removed once nothing in it has changed for this long
#: (an import writes its scratch file every few seconds at most, and a process of another PID namespace
#: sharing the folder may look gone).
STALE_SECONDS = 3600
#: What ``mkdtemp`` names a scratch folder: the prefix, the process (not in folders made before it was
#: named), and eight characters of its own.
_SCRATCH_NAME = re.compile(re.escape(SCRATCH_PREFIX) + r"(?:([0-9]{1,10})-)?[a-z0-9_]{8}\Z")
#: The scratch file of the staged calls, and the file their keys are sorted into (:meth:`StagedCalls._sort_keys`).
SCRATCH_FILE, KEYS_FILE = "calls.sqlite", "keys.sqlite"
#: The files a scratch folder holds: those two SQLite files and their companions. Nothing else in it is touched.
SCRATCH_FILES = (SCRATCH_FILE, f"{SCRATCH_FILE}-journal", f"{SCRATCH_FILE}-wal", f"{SCRATCH_FILE}-shm", KEYS_FILE,
                 f"{KEYS_FILE}-journal")


def sweep_scratch(folder: str, now: float | None = None) -> list[str]:
    """Remove the scratch folders in ``folder`` that a killed import left behind (a ``kill -9``, a machine
    that stopped): folders named as :class:`StagedCalls` names them, of this user, whose process is gone
    (or unnamed: made before the name carried it), where nothing changed for :data:`STALE_SECONDS`. Only
    the scratch file and its companions are deleted, then the folder if that empties it; a folder is
    opened once, without following a link, and worked on through that handle. Returns the paths
    removed; anything that cannot be looked at or removed is left as it is. POSIX only (where a process
    can be asked whether it runs)."""
    import stat
    import time

    if os.name != "posix":
        return []
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return removed
    try:
        for name in os.listdir(top):
            found = _SCRATCH_NAME.match(name)
            if found is None or (found.group(1) is not None and _running(int(found.group(1)))):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except OSError:  # not a folder, a link, gone, or not ours to open
                continue
            try:
                own = os.fstat(fd)
                if not stat.S_ISDIR(own.st_mode) or own.st_uid != os.getuid():
                    continue
                files = {}
                for part in SCRATCH_FILES:
                    try:
                        files[part] = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        pass
                if any(now - t < STALE_SECONDS for t in (own.st_mtime, *(f.st_mtime for f in files.values()))):
                    continue
                for part, info in files.items():
                    if stat.S_ISREG(info.st_mode):
                        os.unlink(part, dir_fd=fd)
            except OSError:  # another process's, or removed meanwhile: left to it
                continue
            finally:
                os.close(fd)
            try:
                os.rmdir(name, dir_fd=top)  # (fails, and leaves it, when anything else is in it)
                removed.append(os.path.join(folder, name))
            except OSError:
                pass
    finally:
        os.close(top)
    return removed


def _running(pid: int) -> bool:
    """Whether a process ``pid`` runs (as far as this process can tell: when in doubt, it does)."""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):  # someone else's, or no pid at all: left alone
        return True
    return True


def _scratch_schema(session: Session) -> list[str]:
    """The statements that made ``calls`` in the database of ``session``, and its indexes: the table first (a
    scratch file made by them holds the same columns, in the same order, with the same types and
    constraints, and the same indexes)."""
    rows = session.connection().exec_driver_sql(
        "SELECT type, sql FROM main.sqlite_master WHERE tbl_name = 'calls' "
        "AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type = 'index', rowid").all()
    return [str(sql) for _type, sql in rows]


def _insert_sql(rows: pl.DataFrame, mark: str) -> tuple[str, list[str]]:
    """The statement that inserts a chunk's ``rows`` (the columns of :data:`CALL_COLUMNS` as SQLite stores
    them) into ``calls`` with their ids, and the columns it binds (``id`` last), each marked ``mark``.

    Most of an insert's time is binding values, one per column and row (about 0.16 us each from Python: 30
    columns are 5 s a million calls). A column with one value in the whole chunk (the tenant, the import,
    the file, often Microsoft's currency) is written into the statement once instead."""
    import polars as pl

    one = rows.select(pl.col(CALL_COLUMNS).eq_missing(pl.col(CALL_COLUMNS).first()).all()).row(0)
    same = {name: text for name, single in zip(CALL_COLUMNS, one, strict=True)
            if single and (text := sql_literal(rows[name][0])) is not None}
    bound = [*(name for name in CALL_COLUMNS if name not in same), "id"]
    values = [*([mark] * len(bound)), *same.values()]
    return f"INSERT INTO calls ({', '.join([*bound, *same])}) VALUES ({', '.join(values)})", bound


def _sqlite_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """A chunk's calls as SQLite stores them: the columns of :data:`CALL_COLUMNS`, times as SQLAlchemy's
    SQLite dialect writes them (six fractional digits)."""
    import polars as pl

    return frame.with_columns(sqlite_times(pl.col("start"))).select(CALL_COLUMNS)


def sqlite_times(times: pl.Expr) -> pl.Expr:
    """Times as SQLAlchemy's SQLite dialect writes them (:func:`credits_cli.queries.db_time`: six fractional
    digits, so that text order is time order)."""
    return times.dt.strftime("%Y-%m-%d %H:%M:%S%.6f")


def sql_literal(value: Any) -> str | None:
    """``value`` as an SQL literal, as SQLite would store it bound: an integer, a boolean (0 or 1), null,
    or a text of printable ASCII (quoted, each quote doubled); None for anything else, which is bound."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    return None


def tuples(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """A frame's rows as tuples for the driver, made column by column (faster than row by row)."""
    return list(zip(*(column.to_list() for column in frame.iter_columns()), strict=True))


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
