"""The usage and funding report of one period (SPEC §7): pure data, no terminal.

:func:`build` adds up, in the database and in integer storage units, what the
terminal summary, the workbook, the CSV files and the JSON document all show.
The two tables that can hold a million rows (calls and ledger entries) are
never loaded: :func:`iter_calls` and :func:`iter_ledger` stream them.

Two times, as accountants keep them (see :mod:`credits_cli.ledger`):

* **the balance follows posting order**: the opening and closing balance, the
  funding, the charges, expiries and adjustments of the period are the ledger
  entries *posted* in it (booked by credits), so no report shows a balance the
  books never held. A late import is posted in the period it was imported, as
  a late invoice is; the report says how much of what was posted was for calls
  of earlier periods (:attr:`Report.late_charges`);
* **usage follows service time**: spend by kind, user and destination, calls,
  pools and the daily spend are those of the calls *made* in the period (the
  ledger's charges by their call's start; breakdowns add up the calls' own
  charges, which ``verify`` keeps equal to the ledger, so they agree to the
  last digit).

With no dates a report covers the latest month that has calls (:func:`period`).
Days after now are not listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import clock, i18n, ledger, money
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _, ngettext
from credits_cli.kinds import SPENDING_KINDS, STATUSES, EntryKind, Status
from credits_cli.models import Call, LedgerEntry, Lot, PoolUsage, Tenant, User
from credits_cli.money import ZERO
from credits_cli.phrases import Phrase

#: Streaming batch size for the two large tables.
STREAM_BATCH = 5000
#: The entries a report shows on lines of their own; the rest are "adjustments and settlements".
_MAIN_ENTRIES = (EntryKind.TOPUP, EntryKind.RECHARGE, EntryKind.CHARGE, EntryKind.EXPIRY)

_calls = Call.__table__  # type: ignore[attr-defined]
_ledger = LedgerEntry.__table__  # type: ignore[attr-defined]
_pools = PoolUsage.__table__  # type: ignore[attr-defined]
_lots = Lot.__table__  # type: ignore[attr-defined]
_users = User.__table__  # type: ignore[attr-defined]


def _units(column: Any) -> Any:
    """SUM of a Money column as integer storage units (never float)."""
    return sa.func.coalesce(sa.func.sum(sa.type_coerce(column, sa.BigInteger)), 0)


def _m(units: Any) -> Decimal:
    return money.from_units(int(units or 0))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- the period -------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole UTC days: ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return clock.day_start(self.first)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after ``last``."""
        return clock.day_start(self.last) + timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def each_day(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.first + timedelta(days=offset)


@dataclass(frozen=True)
class Chosen:
    """A period and why it was chosen (shown in the report's header): ``reason`` is a
    :class:`~credits_cli.phrases.Phrase`, English in ``--json``, said in the language of who reads it."""

    period: Period
    reason: str


def _month_of(text: str, what: str) -> tuple[date, date] | None:
    """``YYYY-MM`` -> (first day, last day) of that month; None for anything else."""
    raw = text.strip()
    if len(raw) == 7 and raw[4] == "-" and raw[:4].isdigit() and raw[5:].isdigit():
        if not 1 <= int(raw[5:]) <= 12:
            raise InvalidInput(_not_a_month(what, text))
        first = date(int(raw[:4]), int(raw[5:]), 1)
        return first, clock.month_bounds(first)[1] - timedelta(days=1)
    return None


def _not_a_month(what: str, text: str) -> str:
    # TRANSLATORS: {option} is an option's name (--month, --from, --to), {value} what was given.
    return _("{option} {value} is not a month like 2026-10").format(option=what, value=repr(text))


def period(
    start: str | None = None,
    end: str | None = None,
    *,
    month: str | None = None,
    last_month: bool = False,
    latest_call: date | None = None,
    today: date | None = None,
) -> Chosen:
    """The period a report covers, from ``--from``/``--to`` (a day, or a month ``YYYY-MM``),
    ``--month YYYY-MM`` or ``--last-month``.

    With none of them, the latest month that has calls (``latest_call``), else this month.
    ``--from`` alone runs to the end of that day's month; ``--to`` alone starts at the first of its
    month.
    """
    today = today or clock.now().date()
    given = sum(1 for x in (start or end, month, last_month) if x)
    if given > 1:
        raise InvalidInput(_("give one of --month, --last-month, or --from/--to"))
    if month is not None:
        found = _month_of(month, "--month")
        if found is None:
            raise InvalidInput(_not_a_month("--month", month))
        return Chosen(Period(*found), Phrase(N_("the month {month} (--month)"), month=month.strip()))
    if last_month:
        previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return Chosen(Period(previous, clock.month_bounds(previous)[1] - timedelta(days=1)),
                      Phrase(N_("last month (--last-month)")))
    if start is None and end is None:
        anchor = latest_call or today
        month_first, nxt = clock.month_bounds(anchor)
        why = (Phrase(N_("the latest month with calls (the last imported call is on {day})"), day=latest_call)
               if latest_call else Phrase(N_("this month (no calls imported yet)")))
        return Chosen(Period(month_first, nxt - timedelta(days=1)), why)
    first: date | None = None
    last: date | None = None
    if start:
        as_month = _month_of(start, "--from")
        first = as_month[0] if as_month else clock.parse_day(start, what="--from")
    if end:
        as_month = _month_of(end, "--to")
        last = as_month[1] if as_month else clock.parse_day(end, what="--to")
    if first is None:
        assert last is not None
        first = clock.month_bounds(last)[0]
    elif last is None:
        last = clock.month_bounds(first)[1] - timedelta(days=1)
    if last < first:
        raise InvalidInput(_("--to {last} is before --from {first}").format(
            last=i18n.day(last), first=i18n.day(first)))
    if (last - first).days > 3660:
        raise InvalidInput(_("a report covers at most ten years"))
    return Chosen(Period(first, last), Phrase(N_("the dates given")))


def latest_call_day(session: Session, tenant: Tenant) -> date | None:
    """The day of the tenant's latest imported call, or None before the first import."""
    value = session.execute(sa.select(sa.func.max(_calls.c.start)).where(_calls.c.tenant_id == tenant.id)).scalar()
    return None if value is None else _day(value)


# --- the report's rows --------------------------------------------------------------------


@dataclass
class KindRow:
    kind: str
    calls: int
    charged_calls: int
    billed_seconds: int
    pool_seconds: int
    charged_seconds: int
    spend: Decimal


@dataclass
class DeniedRow:
    reason: str
    calls: int
    billed_seconds: int


@dataclass
class PoolRow:
    month: str
    pool: str
    capacity_seconds: int
    used_seconds: int

    @property
    def left_seconds(self) -> int:
        return max(self.capacity_seconds - self.used_seconds, 0)

    @property
    def used_fraction(self) -> Decimal:
        if self.capacity_seconds <= 0:
            return Decimal(0)
        return money.round_money(Decimal(self.used_seconds) / Decimal(self.capacity_seconds))


@dataclass
class UserRow:
    upn: str
    name: str
    calls: int
    charged_calls: int
    denied_calls: int
    billed_seconds: int
    pool_seconds: int
    charged_seconds: int
    spend: Decimal


@dataclass
class DestinationRow:
    kind: str
    prefix: str
    name: str
    country: str
    calls: int
    charged_calls: int
    billed_seconds: int
    charged_seconds: int
    spend: Decimal


@dataclass
class DayRow:
    day: date
    calls: int
    charged_calls: int
    denied_calls: int
    charged_seconds: int
    spend: Decimal  # charges of the day's calls (positive; service time)
    funding: Decimal  # top-ups and recharges posted that day
    expired: Decimal  # expired lots (positive) posted that day
    other: Decimal  # adjustments and settlements (signed) posted that day
    closing: Decimal  # the balance at the end of the day: every entry posted by then
    charges_posted: Decimal = ZERO  # charges posted that day, whatever the day of their calls (positive)


class SummaryLine(NamedTuple):
    """One line of the report's summary. ``key`` is for scripts and the same in every language
    (``opening_balance``, ``spend.outbound``, ``calls.denied``, ``denied.no_balance``, ``adjustment.42``);
    ``section`` and ``item`` are for people, in the language current when the lines were made."""

    key: str
    section: str
    item: str
    value: Any


@dataclass
class Report:
    tenant: str
    tenant_name: str
    currency: str
    period: Period
    generated_at: datetime
    opening: Decimal  # every entry posted before the period
    closing: Decimal  # every entry posted by its end
    movements: dict[str, Decimal]  # ledger kind -> signed sum posted in the period
    topups: Decimal
    topup_count: int
    recharges: Decimal
    recharge_count: int
    charges_posted: Decimal  # call charges posted in the period (positive), whatever the day of the calls
    late_charges: Decimal  # of which for calls made before the period (a late import)
    late_calls: int
    spend: Decimal  # charges of the calls made in the period (positive): usage, by service time
    expired: Decimal  # expired remainders (positive)
    other: Decimal  # adjustments and settlements (signed)
    ledger_entries: int
    calls: int
    statuses: dict[str, int]
    by_kind: list[KindRow]
    denied: list[DeniedRow]
    pools: list[PoolRow]
    users: list[UserRow]
    destinations: list[DestinationRow]
    daily: list[DayRow]
    notes: list[str] = field(default_factory=list)
    period_reason: str = ""
    adjustments: list[dict[str, Any]] = field(default_factory=list)  # every correction posted in the period

    @property
    def funding(self) -> Decimal:
        return self.topups + self.recharges

    @property
    def denied_calls(self) -> int:
        return self.statuses.get(Status.DENIED, 0)

    def check(self) -> Decimal:
        """Opening + every movement - closing; zero when the report adds up."""
        return self.opening + sum(self.movements.values(), ZERO) - self.closing

    def top_users(self, n: int = 10) -> list[UserRow]:
        return [u for u in self.users if u.spend > 0 or u.calls][:n]

    def top_destinations(self, n: int = 10) -> list[DestinationRow]:
        return self.destinations[:n]

    def summary_lines(self) -> list[SummaryLine]:
        """The lines of the summary, shared by the workbook and the CSV: each with its key for scripts (the
        same in every language) and its section and item for people, in the current language."""
        from credits_cli.i18n import pgettext
        from credits_cli.phrases import quantity

        p = self.period
        # TRANSLATORS: a section of the report's summary (a workbook sheet and summary.csv): the report itself.
        report = _("Report")
        # TRANSLATORS: a section of the report's summary (a workbook sheet and summary.csv).
        balance = _("Balance")
        # TRANSLATORS: a section of the report's summary (a workbook sheet and summary.csv).
        by_kind = _("Spend by kind (calls in the period)")
        # TRANSLATORS: a section of the report's summary (a workbook sheet and summary.csv).
        by_status = _("Calls by status")
        total = _("Total")
        lines: list[SummaryLine] = [
            SummaryLine("tenant", report, _("Tenant"), self.tenant),
            # TRANSLATORS: the name of the organisation (the tenant).
            SummaryLine("name", report, pgettext("tenant", "Name"), self.tenant_name),
            SummaryLine("currency", report, _("Currency"), self.currency),
            # TRANSLATORS: the first day of the report's period.
            SummaryLine("from", report, pgettext("period", "From"), p.first),
            # TRANSLATORS: the last day of the report's period.
            SummaryLine("to", report, pgettext("period", "To"), p.last),
            SummaryLine("generated_at", report, _("Generated at (UTC)"), self.generated_at),
            *([SummaryLine("period", report, _("Period"), self.period_reason)] if self.period_reason else []),
            SummaryLine("opening_balance", balance, _("Opening balance"), self.opening),
            # TRANSLATORS: {count} is how many top-ups there were.
            SummaryLine("topups", balance, _("Top-ups ({count})").format(count=quantity(self.topup_count)),
                        self.topups),
            # TRANSLATORS: {count} is how many recharges there were.
            SummaryLine("recharges", balance, _("Recharges ({count})").format(count=quantity(self.recharge_count)),
                        self.recharges),
            SummaryLine("charges_posted", balance, _("Call charges posted"), -self.charges_posted),
            # TRANSLATORS: part of the call charges posted: those for calls made before the period's first day;
            # {count} is how many calls.
            SummaryLine("late_charges", balance, _("of which for calls before {day} ({count})").format(
                day=i18n.day(p.first), count=quantity(self.late_calls)), -self.late_charges),
            # TRANSLATORS: the credits that expired unused (an amount).
            SummaryLine("expired", balance, _("Expired"), -self.expired),
            SummaryLine("adjustments", balance, _("Adjustments and settlements"), self.other),
            SummaryLine("closing_balance", balance, _("Closing balance"), self.closing),
        ]
        for row in self.by_kind:
            lines.append(SummaryLine(f"spend.{row.kind}", by_kind, row.kind, row.spend))
        lines.append(SummaryLine("spend.total", by_kind, total, self.spend))
        for status in self._status_order():
            lines.append(SummaryLine(f"calls.{status}", by_status, status, self.statuses.get(status, 0)))
        lines.append(SummaryLine("calls.total", by_status, total, self.calls))
        denied = _("Denied calls")
        for d in self.denied:
            lines.append(SummaryLine(f"denied.{d.reason or 'none'}", denied, d.reason or _("(no reason)"), d.calls))
        adjustments = _("Adjustments")
        for a in self.adjustments:
            lines.append(SummaryLine(f"adjustment.{a['id']}", adjustments, f"{clock.iso(a['posted_at'])}: {a['note']}",
                                     a["amount"]))
        return lines

    def check_line(self) -> SummaryLine:
        """The line below the summary that proves it adds up."""
        return SummaryLine("check", _("Check"), _("Opening + movements - closing (always 0)"), self.check())

    def summary_rows(self) -> list[tuple[str, str, Any]]:
        """(section, item, value) lines of the summary (:meth:`summary_lines` without their keys)."""
        return [(line.section, line.item, line.value) for line in self.summary_lines()]

    def _status_order(self) -> list[str]:
        return list(STATUSES) + sorted(s for s in self.statuses if s not in STATUSES)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: every table except the row-level Calls and Ledger."""
        doc = asdict(self)
        doc["period"] = {"from": self.period.first, "to": self.period.last, "days": self.period.days}
        doc["funding"] = self.funding
        doc["check"] = self.check()
        for pool, row in zip(doc["pools"], self.pools, strict=True):
            pool["left_seconds"] = row.left_seconds
            pool["used_fraction"] = str(row.used_fraction)
        return doc


# --- building it ----------------------------------------------------------------------------


def build(
    session: Session, tenant: Tenant, per: Period, *, now: datetime | None = None, reason: str = ""
) -> Report:
    """The report of ``per``: its balance in posting order, its usage by service time (module docstring)."""
    tid = tenant.id
    start, end = per.start, per.end
    posted = sa.and_(_ledger.c.tenant_id == tid, _ledger.c.posted_at >= start, _ledger.c.posted_at < end)
    served = sa.and_(_ledger.c.tenant_id == tid, _ledger.c.service_at >= start, _ledger.c.service_at < end)
    in_calls = sa.and_(_calls.c.tenant_id == tid, _calls.c.start >= start, _calls.c.start < end)

    opening = _m(session.execute(sa.select(_units(_ledger.c.amount)).where(
        _ledger.c.tenant_id == tid, _ledger.c.posted_at < start)).scalar())

    movements: dict[str, Decimal] = {}
    counts: dict[str, int] = {}
    entries = 0
    for kind, units, count in session.execute(
        sa.select(_ledger.c.kind, _units(_ledger.c.amount), sa.func.count()).where(posted).group_by(_ledger.c.kind)
    ):
        movements[kind] = _m(units)
        counts[kind] = int(count)
        entries += int(count)
    closing = opening + sum(movements.values(), ZERO)
    late_units, late_calls = session.execute(
        sa.select(_units(_ledger.c.amount), sa.func.count(sa.distinct(_ledger.c.call_id)))
        .where(posted, _ledger.c.kind == EntryKind.CHARGE, _ledger.c.service_at < start)
    ).one()

    # Spend by kind: the ledger's charges of the period's calls (service time), each by its call's kind.
    spend_kind: dict[str, Decimal] = {}
    kind_or_other = sa.func.coalesce(_calls.c.kind, sa.literal_column("'other'"))  # one expression: PostgreSQL
    for kind, units in session.execute(
        sa.select(kind_or_other, _units(_ledger.c.amount))
        .select_from(_ledger.outerjoin(_calls, _calls.c.id == _ledger.c.call_id))
        .where(served, _ledger.c.kind == EntryKind.CHARGE)
        .group_by(kind_or_other)
    ):
        spend_kind[kind] = -_m(units)

    charged = sa.case((_calls.c.status == Status.CHARGED, 1), else_=0)
    denied = sa.case((_calls.c.status == Status.DENIED, 1), else_=0)
    kind_rows: dict[str, KindRow] = {}
    for kind, n, n_charged, billed, pooled, charged_s in session.execute(
        sa.select(
            _calls.c.kind,
            sa.func.count(),
            sa.func.sum(charged),
            sa.func.sum(_calls.c.billed_seconds),
            sa.func.sum(_calls.c.pool_seconds),
            sa.func.sum(_calls.c.charged_seconds),
        )
        .where(in_calls)
        .group_by(_calls.c.kind)
    ):
        kind_rows[kind] = KindRow(kind, int(n), int(n_charged or 0), int(billed or 0), int(pooled or 0),
                                  int(charged_s or 0), spend_kind.get(kind, ZERO))
    for kind, spent in spend_kind.items():
        if kind not in kind_rows:
            kind_rows[kind] = KindRow(kind, 0, 0, 0, 0, 0, spent)
    order = list(SPENDING_KINDS) + sorted(k for k in kind_rows if k not in SPENDING_KINDS)
    by_kind = [kind_rows.get(k) or KindRow(k, 0, 0, 0, 0, 0, ZERO) for k in order]

    statuses = {
        str(status): int(n)
        for status, n in session.execute(
            sa.select(_calls.c.status, sa.func.count()).where(in_calls).group_by(_calls.c.status)
        )
    }
    denied_rows = [
        DeniedRow(str(reason or ""), int(n), int(billed or 0))
        for reason, n, billed in session.execute(
            sa.select(_calls.c.reason, sa.func.count(), sa.func.sum(_calls.c.billed_seconds))
            .where(in_calls, _calls.c.status == Status.DENIED)
            .group_by(_calls.c.reason)
            .order_by(sa.func.count().desc(), _calls.c.reason)
        )
    ]

    months = _months(per)
    pools = [
        PoolRow(str(month), str(pool), int(cap), int(used))
        for month, pool, cap, used in session.execute(
            sa.select(_pools.c.month, _pools.c.pool, _pools.c.capacity_seconds, _pools.c.used_seconds)
            .where(_pools.c.tenant_id == tid, _pools.c.month.in_(months))
            .order_by(_pools.c.month, _pools.c.pool)
        )
    ]

    names = {
        str(upn): str(name or "")
        for upn, name in session.execute(sa.select(_users.c.upn, _users.c.name).where(_users.c.tenant_id == tid))
    }
    users = [
        UserRow(str(upn or ""), names.get(str(upn or "").lower(), ""), int(n), int(nc or 0), int(nd or 0),
                int(b or 0), int(p or 0), int(c or 0), _m(units))
        for upn, n, nc, nd, b, p, c, units in session.execute(
            sa.select(
                _calls.c.user_upn,
                sa.func.count(),
                sa.func.sum(charged),
                sa.func.sum(denied),
                sa.func.sum(_calls.c.billed_seconds),
                sa.func.sum(_calls.c.pool_seconds),
                sa.func.sum(_calls.c.charged_seconds),
                _units(_calls.c.charge),
            )
            .where(in_calls)
            .group_by(_calls.c.user_upn)
        )
    ]
    users.sort(key=lambda u: (-u.spend, -u.calls, u.upn))

    destinations = [
        DestinationRow(str(kind), str(prefix or ""), str(name or ""), str(country or ""), int(n), int(nc or 0),
                       int(b or 0), int(c or 0), _m(units))
        for kind, prefix, name, country, n, nc, b, c, units in session.execute(
            sa.select(
                _calls.c.kind,
                _calls.c.rate_prefix,
                _calls.c.rate_name,
                _calls.c.country,
                sa.func.count(),
                sa.func.sum(charged),
                sa.func.sum(_calls.c.billed_seconds),
                sa.func.sum(_calls.c.charged_seconds),
                _units(_calls.c.charge),
            )
            .where(in_calls, _calls.c.kind.in_(SPENDING_KINDS))
            .group_by(_calls.c.kind, _calls.c.rate_prefix, _calls.c.rate_name, _calls.c.country)
        )
    ]
    destinations.sort(key=lambda d: (-d.spend, -d.calls, d.kind, d.prefix, d.name, d.country))

    generated = now or clock.now()
    daily = _daily(session, tid, per, opening, posted, served, in_calls, charged, denied, generated)

    return Report(
        tenant=tenant.slug,
        tenant_name=tenant.name,
        currency=tenant.currency,
        period=per,
        generated_at=generated,
        opening=opening,
        closing=closing,
        movements=movements,
        topups=movements.get(EntryKind.TOPUP, ZERO),
        topup_count=counts.get(EntryKind.TOPUP, 0),
        recharges=movements.get(EntryKind.RECHARGE, ZERO),
        recharge_count=counts.get(EntryKind.RECHARGE, 0),
        charges_posted=-movements.get(EntryKind.CHARGE, ZERO),
        late_charges=-_m(late_units),
        late_calls=int(late_calls or 0),
        spend=sum(spend_kind.values(), ZERO),
        expired=-movements.get(EntryKind.EXPIRY, ZERO),
        other=sum((v for k, v in movements.items() if k not in _MAIN_ENTRIES), ZERO),
        ledger_entries=entries,
        calls=sum(statuses.values()),
        statuses=statuses,
        by_kind=by_kind,
        denied=denied_rows,
        pools=pools,
        users=users,
        destinations=destinations,
        daily=daily,
        period_reason=reason,
        adjustments=ledger.adjustments(session, tenant, start, end),
    )


def _months(per: Period) -> list[str]:
    out: list[str] = []
    cursor = per.first.replace(day=1)
    while cursor <= per.last:
        out.append(clock.month_key(cursor))
        cursor = clock.month_bounds(cursor)[1]
    return out


def _daily(
    session: Session, tid: Any, per: Period, opening: Decimal, posted: Any, served: Any, in_calls: Any,
    charged: Any, denied: Any, now: datetime,
) -> list[DayRow]:
    """Each day of the period up to today: the day's calls and their spend (service time), and the
    day's postings with the balance at its end (posting order). Days still to come are not listed."""
    day_p = sa.func.date(_ledger.c.posted_at)
    moves: dict[date, dict[str, Decimal]] = {}
    for day, kind, units in session.execute(
        sa.select(day_p, _ledger.c.kind, _units(_ledger.c.amount)).where(posted).group_by(day_p, _ledger.c.kind)
    ):
        moves.setdefault(_day(day), {})[str(kind)] = _m(units)
    day_s = sa.func.date(_ledger.c.service_at)
    spent = {
        _day(day): -_m(units)
        for day, units in session.execute(
            sa.select(day_s, _units(_ledger.c.amount))
            .where(served, _ledger.c.kind == EntryKind.CHARGE)
            .group_by(day_s)
        )
    }
    day_c = sa.func.date(_calls.c.start)
    calls: dict[date, tuple[int, int, int, int]] = {}
    for day, n, nc, nd, c in session.execute(
        sa.select(day_c, sa.func.count(), sa.func.sum(charged), sa.func.sum(denied),
                  sa.func.sum(_calls.c.charged_seconds)).where(in_calls).group_by(day_c)
    ):
        calls[_day(day)] = (int(n), int(nc or 0), int(nd or 0), int(c or 0))
    rows: list[DayRow] = []
    balance = opening
    for day in per.each_day():
        if day > now.date():
            break
        m = moves.get(day, {})
        n, nc, nd, c = calls.get(day, (0, 0, 0, 0))
        balance += sum(m.values(), ZERO)
        rows.append(
            DayRow(
                day=day,
                calls=n,
                charged_calls=nc,
                denied_calls=nd,
                charged_seconds=c,
                spend=spent.get(day, ZERO),
                funding=m.get(EntryKind.TOPUP, ZERO) + m.get(EntryKind.RECHARGE, ZERO),
                expired=-m.get(EntryKind.EXPIRY, ZERO),
                other=sum((v for k, v in m.items() if k not in _MAIN_ENTRIES), ZERO),
                closing=balance,
                charges_posted=-m.get(EntryKind.CHARGE, ZERO),
            )
        )
    return rows


# --- the two large tables, streamed ------------------------------------------------------------

#: Columns of the Calls table, in order, as (header, key); the writers share them (the workbook shows the
#: header in the current language, the CSV file the key).
CALL_COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Start (UTC)"), "start"),
    (N_("Call ID"), "external_id"),
    (N_("User"), "user_upn"),
    (N_("Kind"), "kind"),
    (N_("Call type"), "call_type"),
    (N_("Number"), "number"),
    (N_("Country"), "country"),
    (N_("Destination"), "rate_name"),
    (N_("Prefix"), "rate_prefix"),
    (N_("Status"), "status"),
    (N_("Reason"), "reason"),
    # TRANSLATORS: a column header; (s) is seconds.
    (N_("Duration (s)"), "duration_seconds"),
    (N_("Billed (s)"), "billed_seconds"),
    (N_("Pool"), "pool"),
    (N_("Pool (s)"), "pool_seconds"),
    (N_("Charged (s)"), "charged_seconds"),
    (N_("Charge"), "charge"),
    (N_("Source file"), "source_file"),
    (N_("Line"), "source_line"),
)

#: Columns of the Ledger table. Consecutive call charges of one day are one row
#: (``Entries`` says how many); every other entry is a row of its own.
LEDGER_COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Posted (UTC)"), "posted_at"),
    (N_("For (UTC)"), "service_at"),
    (N_("Entry"), "id"),
    (N_("Kind"), "kind"),
    (N_("Entries"), "entries"),
    (N_("Amount"), "amount"),
    (N_("Balance"), "balance"),
    (N_("Lot"), "lot_id"),
    (N_("Call ID"), "call"),
    (N_("Note"), "note"),
)


def iter_calls(session: Session, tenant: Tenant, per: Period) -> Iterator[tuple[Any, ...]]:
    """The period's calls in start order, as plain tuples in CALL_COLUMNS order (charge as Decimal)."""
    cols = [_calls.c[key] for _, key in CALL_COLUMNS]
    query = (
        sa.select(*cols)
        .where(_calls.c.tenant_id == tenant.id, _calls.c.start >= per.start, _calls.c.start < per.end)
        .order_by(_calls.c.start, _calls.c.id)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )
    for row in session.execute(query):
        yield tuple(row)


def iter_ledger(session: Session, tenant: Tenant, per: Period, opening: Decimal) -> Iterator[tuple[Any, ...]]:
    """The entries posted in the period, in posting order, with the running balance from ``opening``
    (the balance posted before the period), as tuples in LEDGER_COLUMNS order.

    A run of consecutive call charges for calls of one day, posted on one day, is one row: its times
    are the last charge's, its amount their exact sum, its balance the balance after them (the calls
    themselves are on the Calls table). Every other entry, and a charge that stands alone, is its own
    row. The balance column is therefore exact on every row, and the amounts add up to the ledger.
    """
    query = (
        sa.select(_ledger.c.posted_at, _ledger.c.service_at, _ledger.c.id, _ledger.c.kind, _ledger.c.amount,
                  _lots.c.number, _calls.c.external_id, _ledger.c.note)
        .select_from(_ledger.outerjoin(_calls, _calls.c.id == _ledger.c.call_id)
                     .outerjoin(_lots, _lots.c.id == _ledger.c.lot_id))
        .where(_ledger.c.tenant_id == tenant.id, _ledger.c.posted_at >= per.start, _ledger.c.posted_at < per.end)
        .order_by(_ledger.c.id)
        .execution_options(stream_results=True, yield_per=STREAM_BATCH)
    )
    balance = opening
    run: list[Any] = []  # the pending charge run: [first row, last row, count, total units, (posting, service day)]

    def flush_run() -> tuple[Any, ...]:
        first, last, count, units, _ = run
        if count == 1:
            posted_at, service_at, entry_id, kind, amount, lot_id, call, note = first
            return (posted_at, service_at, entry_id, kind, 1, amount, balance, lot_id, call, note)
        note = Phrase(lambda: ngettext("{count} call charge for calls from {start} to {end}",
                                       "{count} call charges for calls from {start} to {end}", count),
                      count=count, start=f"{first[1]:%Y-%m-%d %H:%M:%S}", end=f"{last[1]:%H:%M:%S}")
        return (last[0], last[1], None, EntryKind.CHARGE.value, count, money.from_units(units), balance, None, None,
                note)

    for row in session.execute(query):
        posted_at, service_at, entry_id, kind, amount, lot_id, call, note = row
        if kind == EntryKind.CHARGE:
            days = (posted_at.date(), service_at.date())
            if run and run[4] != days:
                yield flush_run()
                run = []
            balance += amount
            if run:
                run[1] = tuple(row)
                run[2] += 1
                run[3] += money.to_units(amount)
            else:
                run = [tuple(row), tuple(row), 1, money.to_units(amount), days]
            continue
        if run:
            yield flush_run()
            run = []
        balance += amount
        yield (posted_at, service_at, entry_id, kind, 1, amount, balance, lot_id, call, note)
    if run:
        yield flush_run()
