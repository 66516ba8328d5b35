"""Rating call records and debiting the balance (SPEC §6).

:func:`rate_records` takes the call records of one or more files, puts them in
start-time order (:mod:`.ordering`), and rates them in batches. Each batch (its
calls, ledger entries, pool usage and notifications) is one transaction: an
interrupted import leaves whole batches, and a rerun finishes the rest without
charging anything twice (a call id the tenant already has is a ``duplicate``).

Where things are: the rules, a pure decision per call, in :mod:`.rules`; reads
and bulk writes in :mod:`.store`; what an import reports in :mod:`.summary`;
the order of the input in :mod:`.ordering`. :func:`rate_batch` here ties them
to the ledger (:class:`credits_cli.ledger.Account`: expiry, auto-recharge, the
balance check of rule 6) and the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import IO, Any

from sqlmodel import Session

from credits_cli import clock, i18n, ledger, money, notify
from credits_cli.i18n import N_, _, ngettext
from credits_cli.kinds import CallKind, EntryKind, Event, Reason, Status
from credits_cli.models import ImportRun
from credits_cli.phrases import Phrase
from credits_cli.rates import RateBook
from credits_cli.rating import store
from credits_cli.rating.ordering import MEMORY_RECORDS, batches, in_start_order
from credits_cli.rating.rules import (
    CHARGES_EXPORT,
    CHARGES_TABLE,
    DIALOUT_POOL,
    Context,
    classify,
    decide,
    decide_export,
)
from credits_cli.rating.store import Pool, Pools, iter_calls
from credits_cli.rating.summary import BatchResult, Rejects, Summary, summary_json
from credits_cli.readers.base import CallRecord, Item, Note, RowError

__all__ = [
    "BATCH_SIZE", "Rejects", "Summary", "in_start_order", "iter_calls", "plausible", "rate_batch", "rate_records",
]

#: Records per transaction. Each is a commit; a larger one costs SQLite less per call (a commit
#: writes every index page it touched, and the unique call-id index is touched all over), and an
#: interrupted import loses at most one transaction, which a rerun redoes.
BATCH_SIZE = 50_000
#: The most records per transaction that ``CREDITS_RATE_BATCH`` may ask for.
MAX_BATCH_SIZE = 1_000_000
#: Records rated and written at a time inside a transaction (bounds the memory of the rows built).
CHUNK_SIZE = 5000
#: SQLite page cache of an import's connection, in KiB.
SQLITE_CACHE_KB = 32 * 1024
_EVENTS = frozenset(Event)


# --- rating one batch ---------------------------------------------------------------------------


def rate_batch(session: Session, ctx: Context, batch: list[CallRecord], import_id: int | None) -> BatchResult:
    """Rate one batch inside the caller's transaction and write it (calls, ledger, pools, outbox)."""
    tenant = ctx.tenant
    tid = tenant.id or 0
    result = BatchResult()
    statuses, reasons = result.statuses, result.reasons
    account = ledger.Account.load(session, tenant, ctx.balance_mark)
    existing = store.existing_ids(session, tid, list({r.external_id for r in batch}))
    pools = Pools.load(session, ctx, {f"{r.start.year:04d}-{r.start.month:02d}" for r in batch})
    seen: set[str] = set()
    users = ctx.users
    to_units = money.to_units
    # One list per call, in the order of store.CALL_COLUMNS.
    rows: list[list[Any]] = []
    charges: list[tuple[int, int]] = []  # (index in account.pending of a charge entry, index in rows)

    export = ctx.charges == CHARGES_EXPORT
    for rec in batch:
        ext = rec.external_id
        if ext in existing or ext in seen:
            result.duplicates += 1
            continue
        cls = classify(rec)
        if cls is None:
            result.rejects.append(RowError(rec.source, rec.line, _("unknown call type {kind}").format(
                kind=repr(rec.call_type))))
            continue
        other_currency = rec.currency is not None and rec.currency != tenant.currency
        if export and cls.kind is not CallKind.CARRIER and (rec.charge is None or other_currency):
            why = (_("priced by Microsoft in {currency}; the tenant keeps {tenant_currency}").format(
                currency=rec.currency, tenant_currency=tenant.currency) if other_currency
                   else _("the row has no charge of Microsoft's to debit (--charges export)"))
            result.rejects.append(RowError(rec.source, rec.line, why))
            continue
        if other_currency:
            result.other_currency += 1
        seen.add(ext)
        upn = rec.user_upn
        known = users.get(upn) if upn and not cls.bot else None
        user = known[1].at(rec.start) if known else None  # what they held when the call started
        visible, country = ctx.place(rec.number)
        if export:
            d = decide_export(ctx, rec, cls, user, visible, country)
        else:
            d = decide(ctx, rec, cls, user, visible, country, pools.left)
        if d.pool_seconds:
            assert d.pool is not None
            pool = pools.get(clock.month_key(rec.start), d.pool)
            before = pool.used
            pool.used += d.pool_seconds
            pool.dirty = True
            if d.pool == DIALOUT_POOL:
                _pool_alerts(session, ctx, pool, before, rec.start)
        status, reason, charge = d.status, d.reason, 0
        if status is None:  # Balance (§6.6)
            account.prepare(rec.start)
            if d.amount > 0 and not account.can_charge():
                status, reason = Status.DENIED, Reason.NO_BALANCE
            else:
                mark = len(account.pending)
                account.charge(d.amount, rec.start)
                charges.extend((i, len(rows)) for i in range(mark, len(account.pending))
                               if account.pending[i]["kind"] == EntryKind.CHARGE)
                status, charge = Status.CHARGED, to_units(d.amount) if d.amount else 0
                result.charged += d.amount
        statuses[status] += 1
        if status is Status.DENIED:
            reasons[reason] = reasons.get(reason, 0) + 1
        rate = d.rate
        ms_fee = rec.connection_fee
        rows.append([
            tid, ext, import_id, rec.source, rec.line, upn, known[0] if known else None, rec.start,
            rec.duration_seconds, rec.call_type, d.kind, rec.number, country if d.reason != Reason.EMERGENCY else None,
            d.domestic, status, reason, rate.prefix if rate else None, rate.name if rate else None, d.billed_seconds,
            d.pool, d.pool_seconds, d.charged_seconds, charge,
            None if rec.charge is None else to_units(money.round_money(rec.charge)),
            None if ms_fee is None else to_units(money.round_money(ms_fee)), rec.currency, rec.capability,
            rec.operator,
        ])

    # Write: calls first (their ids), then the ledger entries that name them.
    if rows:
        ids = store.insert_calls(session, rows)
        for pending_index, row_index in charges:
            account.pending[pending_index]["call_id"] = ids[row_index]
    account.flush()
    result.mark = account.mark()
    pools.save(session, tid)
    for outcome in account.recharges:
        if outcome.succeeded:
            result.recharges_succeeded += 1
            result.recharged_amount += outcome.amount
        else:
            result.recharges_failed += 1
            result.recharge_failure = outcome.reason
    result.balance_after = account.balance
    return result


def _pool_alerts(session: Session, ctx: Context, pool: Pool, before: int, at: datetime) -> None:
    """Dial-out pool at 80 % and 100 %: once per month each (the crossing happens once)."""
    if pool.capacity <= 0:
        return
    for pct in ctx.alerts:
        event = f"dialout_pool_{pct}"
        if event not in _EVENTS:
            continue
        threshold = pool.capacity * pct  # compare used x 100 with capacity x pct, in integers
        if before * 100 < threshold <= pool.used * 100:
            notify.queue_event(
                session, ctx.tenant, event, at, pool=f"dial-out {pool.used // 60} of {pool.capacity // 60} minutes"
            )


# --- a whole import --------------------------------------------------------------------------------


Source = tuple[str, str, Iterable[Item]]  # (file name, format, records)

#: How far back a call may start and still be rated without --allow-old: a lot lasts 12 months, so
#: a call older than this could not have drawn on any lot bought for it (SPEC §6; the time model).
OLDEST_MONTHS = 13


def plausible(
    items: Iterable[CallRecord | RowError], now: datetime, *, allow_old: bool = False
) -> Iterator[CallRecord | RowError]:
    """The records, with those that start after ``now`` (the ledger is never moved by a date the
    world has not reached) or, unless ``allow_old``, more than :data:`OLDEST_MONTHS` before it,
    turned into rejected rows that say why."""
    oldest = clock.add_months(now, -OLDEST_MONTHS)
    for item in items:
        if isinstance(item, CallRecord):
            if item.start > now:
                item = RowError(item.source, item.line, _("starts {start}, after now "
                                                          "({now}): a mistyped year, or a clock that is wrong").format(
                                    start=clock.iso(item.start), now=clock.iso(now)))
            elif item.start < oldest and not allow_old:
                item = RowError(item.source, item.line, _("starts {start}, more than "
                                                          "{months} months ago; rate it with --allow-old if it is meant"
                                                          ).format(start=clock.iso(item.start), months=OLDEST_MONTHS))
        yield item


def rate_records(
    db: Any,
    tenant_slug: str | None,
    sources: Sequence[Source],
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    memory_records: int = MEMORY_RECORDS,
    progress: Callable[[int], None] | None = None,
    rejects_out: IO[str] | None = None,
    allow_old: bool = False,
    charges: str = CHARGES_TABLE,
) -> Summary:
    """Rate every record of ``sources`` for the tenant. ``db`` is a :class:`credits_cli.db.Database`.

    ``batch_size`` is the records per transaction (the CLI passes ``CREDITS_RATE_BATCH``).
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

    if charges not in (CHARGES_TABLE, CHARGES_EXPORT):
        raise ValueError(f"charges {charges!r}")
    summary = Summary(dry_run=dry_run, files=[name for name, _, _ in sources], charges=charges)
    summary.formats = {name: fmt for name, fmt, _ in sources}
    reject = Rejects(summary, rejects_out)

    def records() -> Iterator[CallRecord | RowError]:
        for _name, _fmt, items in sources:
            for item in items:
                if isinstance(item, Note):
                    summary.notes.append(Phrase(N_("{source}: {text}"), source=item.source, text=item.text))
                    continue
                summary.rows_read += 1
                yield item

    with db.read() as session:
        tenant = tenants.resolve(session, tenant_slug)
        if charges == CHARGES_TABLE or rates.active_table(session, tenant) is not None:
            book: RateBook | None = rates.load_book(session, tenant)
        else:
            book = None
        ctx = store.load_context(session, tenant, book, charges)
        summary.balance_before = ledger.balance(session, tenant)
    summary.balance_after = summary.balance_before
    summary.currency = tenant.currency
    summary.rate_table = book.name if book is not None else ""
    ordered = in_start_order(plausible(records(), clock.now(), allow_old=allow_old), reject,
                             memory_records=memory_records)

    def added(done: BatchResult) -> None:
        summary.add(done)
        for row in done.rejects:
            reject(row)

    if dry_run:
        with Session(db.engine, expire_on_commit=False) as session:
            try:
                for batch in batches(ordered, min(batch_size, CHUNK_SIZE)):
                    added(rate_batch(session, ctx, batch, None))
                    if progress:
                        progress(len(batch))
            finally:
                session.rollback()
        summary.rejects_failed = reject.failed
        _currency_note(summary)
        return summary

    def open_run(session: Session) -> int:
        run = ImportRun(tenant_id=tenant.id or 0, started_at=clock.now(), files="\n".join(summary.files))
        session.add(run)
        session.flush()
        return run.id or 0

    chunk = min(batch_size, CHUNK_SIZE)
    told = [0]  # records of the batch in progress already told to ``progress`` (taken back on a retry)
    try:
        for batch in batches(ordered, batch_size):
            mark = ctx.balance_mark
            told[0] = 0

            def work(session: Session, batch: list[CallRecord] = batch, mark: Any = mark) -> list[BatchResult]:
                ctx.balance_mark = mark  # again from the top when the transaction is retried
                if progress and told[0]:
                    progress(-told[0])
                    told[0] = 0
                if session.connection().dialect.name == "sqlite":
                    # The unique (tenant, call id) index takes random inserts: keep its pages cached
                    # (the default cache is 2 MB; this is a maximum, not an allocation, and kept
                    # moderate so a large import's memory stays close to a small one's).
                    session.connection().exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
                db.lock_tenant(session, tenant.id or 0)
                import_id = summary.import_id or open_run(session)
                done: list[BatchResult] = []
                for i in range(0, len(batch), chunk):
                    done.append(rate_batch(session, ctx, batch[i : i + chunk], import_id))
                    done[-1].import_id = import_id
                    ctx.balance_mark = done[-1].mark
                    if progress:  # per chunk: a batch of 50,000 is seconds of work
                        progress(len(batch[i : i + chunk]))
                        told[0] += len(batch[i : i + chunk])
                return done

            for done in db.write(work):
                summary.import_id = done.import_id
                added(done)
    except BaseException as exc:
        if summary.import_id is not None:  # some batches are in: say the import stopped, and why
            failure = str(exc) or type(exc).__name__
            db.write(lambda s: _finish(s, tenant.id or 0, summary, failed=failure))
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
