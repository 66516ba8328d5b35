"""Rating call records and debiting the balance (SPEC §6).

:func:`rate_records` takes the call records of one or more files, puts them in
start-time order as chunks of columns (:mod:`.ordering`, :mod:`.chunk`), and
rates them in batches. Each batch (its calls, ledger entries, pool usage and
notifications) is one transaction: an interrupted import leaves whole batches,
and a rerun finishes the rest without charging anything twice (a call id the
tenant already has is a ``duplicate``).

Where things are: the rules, columnar operations over a chunk, in
:mod:`.rules`; the balance walked over the calls to charge in
:mod:`.charging`; reads and bulk writes in :mod:`.store`; what an import
reports in :mod:`.summary`; the order of the input in :mod:`.ordering`.
:func:`rate_batch` here ties them to the ledger
(:class:`credits_cli.ledger.Account`: expiry, auto-recharge, the balance check
of rule 6) and the outbox. What is carried from chunk to chunk is small: the
pools' use and the balance are in the database (re-read per chunk, the
balance from a :class:`credits_cli.ledger.BalanceMark`), and so are the ids
already rated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from sqlmodel import Session

from credits_cli import clock, i18n, ledger, money, notify
from credits_cli.errors import DatabaseError
from credits_cli.i18n import N_, _, ngettext
from credits_cli.kinds import Reason, Status
from credits_cli.models import ImportRun
from credits_cli.phrases import Phrase
from credits_cli.rates import RateBook
from credits_cli.rating import charging, rules, store
from credits_cli.rating.chunk import CHUNK_ROWS, NAMES, Columns
from credits_cli.rating.ordering import MEMORY_RECORDS, Transactions, in_start_order, ordered_chunks, read_ahead
from credits_cli.rating.rules import CHARGES_EXPORT, CHARGES_TABLE, Context
from credits_cli.rating.store import Pools, iter_calls
from credits_cli.rating.summary import BatchResult, Rejects, Summary, summary_json
from credits_cli.readers.base import CallRecord, Item, Note, RowError

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "BATCH_SIZE", "Rejects", "Summary", "in_start_order", "iter_calls", "plausible", "rate_batch", "rate_records",
]

#: Records per transaction. Each is a commit, and a commit writes back every page of the duplicate
#: guard's index it touched: random ids touch that index all over, so in a table of a year of calls
#: small transactions rewrite most of it again and again (bench/RESULTS.md: 50,000 calls per
#: transaction made month 13 cost 3.4x month 1; a million rather than 500,000 took month 13 from
#: 31-32 s to 29 s, a pass over the guard's pages fewer). An interrupted import loses at most one
#: transaction, which a rerun redoes; the calls are written chunk by chunk, so a transaction's size
#: costs the disk (the write-ahead log, the scratch file) and little memory (16 bytes a call).
BATCH_SIZE = 1_000_000
#: Records per transaction on PostgreSQL. Half a gigabyte of Graph JSON (850,000 calls) in transactions
#: of 500,000 ran past 300 s there and takes 190 s in transactions of 50,000; not yet explained (the
#: planner's statistics, which never see a transaction's own new rows, are the likely cause).
POSTGRES_BATCH_SIZE = 50_000
#: The most records per transaction that ``CREDITS_RATE_BATCH`` may ask for.
MAX_BATCH_SIZE = 1_000_000
#: SQLite page cache of an import's connection, in KiB. The duplicate guard's keys go in sorted at a
#: transaction's end (:meth:`.store.StagedCalls.write_guards`), and its look-ups are random in an index far
#: larger than any cache: 16 MB bought nothing and held a million-call import's peak 10 MB higher.
SQLITE_CACHE_KB = 4 * 1024


# --- rating one chunk ---------------------------------------------------------------------------


def rate_batch(session: Session, ctx: Context, batch: pl.DataFrame, import_id: int | None) -> BatchResult:
    """Rate one chunk (in start order) inside the caller's transaction and write it (calls, ledger,
    pools, outbox)."""
    import polars as pl

    tenant = ctx.tenant
    tid = tenant.id or 0
    result = BatchResult()
    account = ledger.Account.load(session, tenant, ctx.balance_mark)
    frame = batch if rules.PREPARED in batch.columns else rules.prepare(ctx, batch)
    new_keys = ctx.new_keys if ctx.new_keys is not None else store.NewKeys()  # None: this chunk writes its own
    existing, free = store.identify(session, tid, frame["external_id"].unique(maintain_order=True).to_list(), new_keys)
    frame = rules.accept(ctx, frame, existing)
    fate = pl.col("fate")
    result.duplicates = int(frame.select((fate == "duplicate").sum()).item())
    refused = frame.filter(fate == "rejected").select("source", "line", "why")
    result.rejects = [RowError(source, line, why) for source, line, why in refused.iter_rows()]
    calls = frame.filter(fate.is_null())
    if calls.height == 0:
        result.mark = account.mark()
        result.balance_after = account.balance
        return result
    result.other_currency = int(calls["other_currency"].sum())
    months = calls["month"].unique().to_list()  # (prepare made each call's; the pools are drawn by it)
    pools = Pools.load(session, ctx, set(months))
    decided = rules.decide(ctx, calls, pools).with_row_index("_pos")

    # Rule 6 over the calls still to be charged, the pools' messages interleaved in call order.
    pending = decided.filter(pl.col("status").is_null()).select("_pos", "start", "amount")
    alerts = sorted(pools.alerts, key=lambda a: a.position)
    sent = 0

    def before_call(position: int) -> None:
        nonlocal sent
        while sent < len(alerts) and alerts[sent].position <= position:
            alert = alerts[sent]
            # the minutes as numbers: the e-mail says them in the tenant's language
            notify.queue_event(session, tenant, alert.event, alert.at, used_minutes=alert.used_minutes,
                               capacity_minutes=alert.capacity_minutes)
            sent += 1

    walked = charging.walk(account, pending["_pos"].to_list(), pending["start"].dt.epoch("us").to_list(),
                           pending["amount"].to_list(), before_call)
    before_call(decided.height)
    # each walked call's outcome put at its place (not a join: no copy of the chunk)
    charged = pl.repeat(None, decided.height, dtype=pl.Boolean, eager=True).scatter(
        pending["_pos"], pl.Series(walked.charged, dtype=pl.Boolean))
    decided = decided.with_columns(charged.alias("_charged"))
    to_charge = pl.col("status").is_null()
    decided = decided.with_columns(
        pl.when(to_charge & pl.col("_charged")).then(pl.lit(Status.CHARGED.value))
        .when(to_charge).then(pl.lit(Status.DENIED.value)).otherwise(pl.col("status")).alias("status"),
        pl.when(to_charge & ~pl.col("_charged")).then(pl.lit(Reason.NO_BALANCE.value))
        .otherwise(pl.col("reason")).alias("reason"),
        pl.when(to_charge & pl.col("_charged")).then(pl.col("amount")).otherwise(0).alias("charge"),
    )
    counts = decided.group_by("status", "reason").len()
    for status, reason, n in counts.iter_rows():
        result.statuses[status] = result.statuses.get(status, 0) + n
        if status == Status.DENIED:
            result.reasons[reason] = result.reasons.get(reason, 0) + n
    result.charged = money.from_units(int(decided["charge"].sum()))

    # Write: calls first (their ids), then the ledger entries that name them.
    keys = store.assign_keys(session, tid, decided["external_id"].to_list(), free, new_keys)
    rows = decided.select(
        pl.lit(tid, dtype=pl.Int64).alias("tenant_id"), "external_id",
        pl.lit(import_id, dtype=pl.Int64).alias("import_id"), pl.col("source").alias("source_file"),
        pl.col("line").alias("source_line"), "user_upn", "user_id", "start", "duration_seconds", "call_type",
        "kind", "number", "country", "domestic", "status", "reason", "rate_prefix", "rate_name",
        "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge", "ms_charge",
        pl.col("ms_fee").alias("ms_connection_fee"), pl.col("currency").alias("ms_currency"), "capability",
        "operator",
        pl.Series("guard", keys, dtype=pl.Int64),
    )
    ids = ctx.staged.add(session, rows) if ctx.staged is not None else store.insert_calls(session, rows)
    if ctx.users_named is not None:
        ctx.users_named.update(rows["user_id"].drop_nulls().unique().to_list())
    new_keys.add(keys, ids)
    if ctx.new_keys is None:
        new_keys.write(session, tid)
    # a charge is dated at its call's start: on SQLite as the text it is stored as, made in columns
    if walked.blocks:
        sqlite = session.connection().dialect.name == "sqlite"
        starts = decided.select(store.sqlite_times(pl.col("start")) if sqlite else pl.col("start")).to_series()
        charging.write_entries(session, walked.blocks, tid, account.posted_at, pl.Series(ids, dtype=pl.Int64), starts)
    account.flush()
    result.mark = account.mark()
    pools.save(session, tid)
    for recharge in account.recharges:
        if recharge.succeeded:
            result.recharges_succeeded += 1
            result.recharged_amount += recharge.amount
        else:
            result.recharges_failed += 1
            result.recharge_failure = recharge.reason
    result.balance_after = account.balance
    return result


# --- a whole import --------------------------------------------------------------------------------


Source = tuple[str, str, Iterable[Item]]  # (file name, format, records)

#: How far back a call may start and still be rated without --allow-old: a lot lasts 12 months, so
#: a call older than this could not have drawn on any lot bought for it (SPEC §6; the time model).
OLDEST_MONTHS = 13


def plausible(
    items: Iterable[CallRecord | RowError | Columns], now: datetime, *, allow_old: bool = False
) -> Iterator[CallRecord | RowError | Columns]:
    """The records, with those that start after ``now`` (the ledger is never moved by a date the
    world has not reached) or, unless ``allow_old``, more than :data:`OLDEST_MONTHS` before it,
    turned into rejected rows that say why. A reader's columns keep the calls that may be rated; the
    others, and the reader's own rejected rows among them, come out as rejected rows in line order."""
    oldest = clock.add_months(now, -OLDEST_MONTHS)
    for item in items:
        if isinstance(item, CallRecord):
            if item.start > now:
                item = RowError(item.source, item.line, _future(item.start, now))
            elif item.start < oldest and not allow_old:
                item = RowError(item.source, item.line, _too_old(item.start))
        elif isinstance(item, Columns):
            import polars as pl

            late = pl.col("start") > now
            bad = late | ((pl.col("start") < oldest) & (not allow_old))
            out = item.frame.filter(bad).select("source", "line", "start", late.alias("late"))
            errors = [RowError(source, line, _future(start, now) if is_late else _too_old(start))
                      for source, line, start, is_late in out.iter_rows()]
            yield from sorted([*item.errors, *errors], key=lambda e: e.line) if item.errors else errors
            item = Columns(item.frame.filter(~bad)) if errors else Columns(item.frame)
        yield item


def _future(start: datetime, now: datetime) -> str:
    # TRANSLATORS: a rejected row; {start} and {now} are ISO 8601 times (2098-10-01T09:00:00Z).
    return _("starts {start}, after now ({now}): a mistyped year, or a clock that is wrong").format(
        start=clock.iso(start), now=clock.iso(now))


def _too_old(start: datetime) -> str:
    # TRANSLATORS: a rejected row; {start} is an ISO 8601 time; --allow-old is an option: keep it as it is.
    return _("starts {start}, more than {months} months ago; rate it with --allow-old if it is meant").format(
        start=clock.iso(start), months=OLDEST_MONTHS)


#: glibc's ``M_ARENA_MAX`` (``mallopt``): the most heaps ``malloc`` keeps for the process's threads.
_M_ARENA_MAX = -8


def _one_heap() -> None:
    """Let every thread allocate from one ``malloc`` heap (glibc only; elsewhere nothing is done).

    An import reads, converts and writes in threads of their own (:func:`.ordering.read_ahead`,
    :class:`.store.StagedCalls`, :meth:`credits_cli.readers._table.Table.columns`), and glibc gives each
    thread that allocates a heap of its own, kept once grown: a million-call import peaked 25 MB higher,
    and no faster, than with one (``MALLOC_ARENA_MAX=1``, bench/RESULTS.md). Small objects come from
    Python's own allocator and polars has its own, so the one heap is seldom contended."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # no such function: nothing to tune
        pass


def rate_records(
    db: Any,
    tenant_slug: str | None,
    sources: Sequence[Source],
    *,
    dry_run: bool = False,
    batch_size: int | None = None,
    memory_records: int = MEMORY_RECORDS,
    progress: Callable[[int], None] | None = None,
    rejects_out: IO[str] | None = None,
    allow_old: bool = False,
    charges: str = CHARGES_TABLE,
) -> Summary:
    """Rate every record of ``sources`` for the tenant. ``db`` is a :class:`credits_cli.db.Database`.

    ``batch_size`` is the records per transaction (the CLI passes ``CREDITS_RATE_BATCH``; None:
    :data:`BATCH_SIZE` on SQLite, :data:`POSTGRES_BATCH_SIZE` on PostgreSQL).
    Each rejected row goes to ``rejects_out`` (the ``--rejects`` CSV) as it is found (see
    :class:`Rejects`); the summary counts them, and collects what the files said of themselves
    (:class:`credits_cli.readers.base.Note`). The import's record (``imports``) is written with
    its first batch and finished with the summary; an import that fails part-way is finished as
    failed, with why. ``charges``: ``table`` prices with the active rate table, ``export`` debits
    what Microsoft charged (then a rate table, when there is one, only names destinations).
    ``progress(n)`` is told of the records rated as each chunk is (:data:`CHUNK_SIZE`); when a busy
    database makes a transaction start again, a negative ``n`` takes back what it had told.
    """
    from credits_cli import rates, tenants

    _one_heap()
    if charges not in (CHARGES_TABLE, CHARGES_EXPORT):
        raise ValueError(f"charges {charges!r}")
    summary = Summary(dry_run=dry_run, files=[name for name, _, _ in sources], charges=charges)
    summary.formats = {name: fmt for name, fmt, _ in sources}
    reject = Rejects(summary, rejects_out)

    def records() -> Iterator[CallRecord | RowError | Columns]:
        for _name, _fmt, items in sources:
            for item in items:
                if isinstance(item, Note):
                    summary.notes.append(Phrase(N_("{source}: {text}"), source=item.source, text=item.text))
                    continue
                if isinstance(item, Columns):
                    summary.rows_read += item.frame.height + len(item.errors)
                else:
                    summary.rows_read += 1
                yield item

    with db.read() as session:
        tenant = tenants.resolve(session, tenant_slug)
        if charges == CHARGES_TABLE or rates.active_table(session, tenant) is not None:
            book: RateBook | None = rates.load_book(session, tenant)
        else:
            book = None
        ctx = store.load_context(session, tenant, book, charges)
        ctx.balance_mark = ledger.balance_mark(session, tenant)  # (the first chunk adds to it, as the others)
        summary.balance_before = ctx.balance_mark.balance
    summary.balance_after = summary.balance_before
    summary.currency = tenant.currency
    summary.rate_table = book.name if book is not None else ""
    if batch_size is None:
        batch_size = BATCH_SIZE if db.engine.dialect.name == "sqlite" else POSTGRES_BATCH_SIZE
    chunk_rows = max(1, min(batch_size, CHUNK_ROWS))
    now = clock.now()
    # read, put in order and prepared (what each call alone decides) in a thread of its own, while the
    # chunks before are rated: polars lets the two threads run side by side
    ordered = read_ahead(lambda sink: ordered_chunks(plausible(records(), now, allow_old=allow_old), sink,
                                                     memory_records=memory_records, chunk_rows=chunk_rows),
                         reject, each=lambda chunk: rules.prepare(ctx, chunk))

    def added(done: BatchResult) -> None:
        summary.add(done)
        for row in done.rejects:
            reject(row)

    if dry_run:
        with Session(db.engine, expire_on_commit=False) as session:
            try:
                for chunk in ordered:
                    added(rate_batch(session, ctx, chunk, None))
                    if progress:
                        progress(len(chunk))
            finally:
                ordered.close()
                session.rollback()
        summary.rejects_failed = reject.failed
        _currency_note(summary)
        return summary

    def open_run(session: Session) -> int:
        run = ImportRun(tenant_id=tenant.id or 0, started_at=clock.now(), files="\n".join(summary.files))
        session.add(run)
        session.flush()
        return run.id or 0

    told = [0]  # calls of the batch in progress already told to ``progress`` (taken back on a retry)
    staged: list[store.StagedCalls] = []  # each attempt's scratch file, removed once its session is closed
    try:
        # a chunk spilled for a transaction made to start again is kept as read: prepared again if it is
        # (what prepare adds is half again as large, and written for nothing when no transaction is)
        for batch in Transactions(ordered, batch_size, memory_records=chunk_rows, kept=lambda c: c.select(NAMES)):
            mark = ctx.balance_mark
            told[0] = 0

            def work(session: Session, batch: Iterable[pl.DataFrame] = batch, mark: Any = mark) -> list[BatchResult]:
                ctx.balance_mark = mark  # again from the top when the transaction is retried
                ctx.staged = store.StagedCalls.open(session)  # the calls, written at the end (SQLite)
                if ctx.staged is not None:
                    staged.append(ctx.staged)
                ctx.users_named = set()
                if progress and told[0]:
                    progress(-told[0])
                    told[0] = 0
                if session.connection().dialect.name == "sqlite":
                    # a maximum, not an allocation (SQLite's default is 2 MB): see SQLITE_CACHE_KB
                    session.connection().exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                db.lock_tenant(session, tenant.id or 0)
                # the duplicate guard's keys, written at the end; the books asked only when they hold some
                ctx.new_keys = store.NewKeys(ctx.staged, books=store.holds_keys(session, tenant.id or 0))
                import_id = summary.import_id or open_run(session)
                done: list[BatchResult] = []
                for chunk in batch:
                    done.append(rate_batch(session, ctx, chunk, import_id))
                    done[-1].import_id = import_id
                    ctx.balance_mark = done[-1].mark
                    if progress:  # per chunk: a transaction is seconds of work
                        progress(len(chunk))
                        told[0] += len(chunk)
                if ctx.staged is not None:
                    ctx.staged.flush(session)
                ctx.new_keys.write(session, tenant.id or 0)
                store.check_references(session, tenant, import_id, ctx.users_named)
                ctx.new_keys = ctx.staged = ctx.users_named = None
                return done

            try:
                finished = db.write(work, references_checked=True)
            finally:
                ctx.staged = ctx.users_named = None
                while staged:
                    staged.pop().close()
            for done in finished:
                summary.import_id = done.import_id
                added(done)
    except BaseException as exc:
        ordered.close()  # the reading stops before the failure is written
        if summary.import_id is not None:  # some batches are in: say the import stopped, and why
            failure = str(exc) or type(exc).__name__
            try:
                db.write(lambda s: _finish(s, tenant.id or 0, summary, failed=failure))
            except DatabaseError:  # (the tenant removed meanwhile, its imports with it): the failure is exc
                pass
        raise
    summary.rejects_failed = reject.failed
    _currency_note(summary)
    summary.import_id = db.write(lambda s: _finish(s, tenant.id or 0, summary))
    return summary


def _currency_note(summary: Summary) -> None:
    if summary.other_currency:
        n = summary.other_currency
        summary.notes.append(Phrase(
            lambda: ngettext("{n} row(s) were priced by Microsoft in another currency than "
                             "{currency}: they were rated with the rate table, and reconcile cannot compare them",
                             "{n} row(s) were priced by Microsoft in another currency than "
                             "{currency}: they were rated with the rate table, and reconcile cannot compare them", n),
            n=lambda: i18n.number(n), currency=summary.currency,
        ))


def _finish(session: Session, tenant_id: int, summary: Summary, failed: str | None = None) -> int:
    """Record the import's end (creating its record when no batch did: a file of rejected rows only)."""
    run = session.get(ImportRun, summary.import_id) if summary.import_id else None
    if run is None:
        run = ImportRun(tenant_id=tenant_id, started_at=clock.now(), files="\n".join(summary.files))
    doc = summary_json(summary)
    if failed is not None:
        doc["failed"] = failed[:500]
    run.finished_at = clock.now()
    run.summary = json.dumps(doc)
    session.add(run)
    session.flush()
    return run.id or 0
