"""Our charge against Microsoft's (SPEC §6.8, ``credits reconcile``): was the tenant charged what its
contract says?

Every call keeps what the export said it cost (its charge and connection fee,
currency and capability: ``calls.ms_*``). For the calls made in a period (by
their start, as usage is counted) this compares, per call, per user, per
destination and in total, our charge with Microsoft's, where Microsoft's is
:func:`credits_cli.rating.rules.microsoft_total`'s reading: the charge plus
the connection fee.

A call is *compared* when the export gave Microsoft's charge in the tenant's
currency and the call is not a carrier's (Direct Routing and Operator Connect
are billed by the carrier, not from credits). The others are counted apart:
no charge in the export (a format without the column), or another currency
(listed among the differences: nothing can be compared). The difference is
Microsoft's minus ours: positive when Microsoft charged more.

A compared call differs when the two are further apart than the tolerance
(default: one minor unit of the currency: Microsoft's exports carry two
decimals, ours four). Each difference says why when the books can tell
(:func:`why`): a call we denied that Microsoft charged, a pool we think still
had minutes or was used up, a call we did not price, or a different rate.

Totals are added up in the database in integer storage units, so the total,
the sum over users and the sum over destinations agree to the last digit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import currencies, money
from credits_cli.i18n import N_, _
from credits_cli.kinds import CallKind, Status
from credits_cli.models import Call, Tenant
from credits_cli.money import ZERO
from credits_cli.phrases import Phrase
from credits_cli.reports.build import Period

_calls = Call.__table__  # type: ignore[attr-defined]
#: Capabilities of Calling Plans and Audio Conferencing: Microsoft's own plan or pool paid the call.
PLAN_CAPABILITIES = frozenset({"MCOPSTN1", "MCOPSTN2", "MCOPSTN5", "MCOPSTN6", "MCOPSTN8", "MCOPSTN9", "MCOMEETADD",
                               "MCOPSTNU"})


def _units(expr: Any) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.type_coerce(expr, sa.BigInteger)), 0)


def _m(units: Any) -> Decimal:
    return money.from_units(int(units or 0))


def default_tolerance(currency: str) -> Decimal:
    """One minor unit of the currency (0.01 USD, 1 JPY)."""
    return Decimal(1).scaleb(-currencies.digits(currency))


@dataclass
class Line:
    """A group of compared calls: a user, a destination, or all of them."""

    key: str
    calls: int
    ours: Decimal
    theirs: Decimal
    name: str = ""

    @property
    def difference(self) -> Decimal:
        return self.theirs - self.ours


@dataclass
class Difference:
    """One call whose charges differ beyond the tolerance (or cannot be compared), and why."""

    start: Any
    external_id: str
    user: str
    kind: str
    number: str
    destination: str
    status: str
    reason: str
    ours: Decimal
    theirs: Decimal | None
    currency: str | None
    capability: str | None
    why: str

    @property
    def difference(self) -> Decimal | None:
        return None if self.theirs is None else self.theirs - self.ours

    def row(self) -> tuple[Any, ...]:
        """In :data:`DIFFERENCE_COLUMNS` order."""
        return (self.start, self.external_id, self.user, self.kind, self.destination, self.status, self.ours,
                self.theirs, self.difference, self.currency, self.capability, self.why)


#: The columns of a differing call, as (header, key), for the workbook (the header, in the current language)
#: and the CSV files (the key).
DIFFERENCE_COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Start (UTC)"), "start"), (N_("Call ID"), "external_id"), (N_("User"), "user"), (N_("Kind"), "kind"),
    (N_("Destination"), "destination"), (N_("Status"), "status"), (N_("Ours"), "ours"),
    (N_("Microsoft's"), "theirs"), (N_("Difference"), "difference"), (N_("Currency"), "currency"),
    # TRANSLATORS: a column header: the license that paid a call in Microsoft's export (MCOPSTN1...).
    (N_("Capability"), "capability"),
    # TRANSLATORS: a column header: why a call's charge differs from Microsoft's.
    (N_("Why"), "why"),
)


@dataclass
class Reconciliation:
    currency: str
    period: Period
    tolerance: Decimal
    total: Line
    by_user: list[Line]
    by_destination: list[Line]
    without_charge: int  # calls the export gave no charge for
    other_currency: int  # calls Microsoft priced in another currency
    carrier: int  # carrier calls: not from credits, not compared
    differing: int  # compared calls further apart than the tolerance
    reasons: dict[str, int] = field(default_factory=dict)  # why they differ, counted

    def doc(self) -> dict[str, Any]:
        def line(x: Line) -> dict[str, Any]:
            return {"key": x.key, "name": x.name, "calls": x.calls, "ours": x.ours, "microsoft": x.theirs,
                    "difference": x.difference}

        return {
            "currency": self.currency,
            "period": {"from": self.period.first, "to": self.period.last},
            "tolerance": self.tolerance,
            "compared": self.total.calls,
            "ours": self.total.ours,
            "microsoft": self.total.theirs,
            "difference": self.total.difference,
            "without_charge": self.without_charge,
            "other_currency": self.other_currency,
            "carrier": self.carrier,
            "differing": self.differing,
            "reasons": dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
            "by_user": [line(x) for x in self.by_user],
            "by_destination": [line(x) for x in self.by_destination],
        }


def _theirs() -> Any:
    return sa.type_coerce(_calls.c.ms_charge, sa.BigInteger) + sa.func.coalesce(
        sa.type_coerce(_calls.c.ms_connection_fee, sa.BigInteger), 0)


def _in_period(tenant: Tenant, per: Period) -> Any:
    return sa.and_(_calls.c.tenant_id == tenant.id, _calls.c.start >= per.start, _calls.c.start < per.end)


def _compared(tenant: Tenant) -> Any:
    return sa.and_(
        _calls.c.ms_charge.is_not(None),
        sa.or_(_calls.c.ms_currency.is_(None), _calls.c.ms_currency == tenant.currency),
        _calls.c.kind != CallKind.CARRIER,
    )


def _beyond(tolerance: Decimal) -> Any:
    gap = _theirs() - sa.type_coerce(_calls.c.charge, sa.BigInteger)
    limit = money.to_units(tolerance)
    return sa.or_(gap > limit, gap < -limit)


def build(session: Session, tenant: Tenant, per: Period, tolerance: Decimal | None = None) -> Reconciliation:
    """The period's reconciliation: totals, per user, per destination, and the counts of differences."""
    tol = default_tolerance(tenant.currency) if tolerance is None else tolerance
    where = sa.and_(_in_period(tenant, per), _compared(tenant))
    ours, theirs = _units(_calls.c.charge), _units(_theirs())

    n, o, t = session.execute(sa.select(sa.func.count(), ours, theirs).where(where)).one()
    total = Line("total", int(n), _m(o), _m(t))
    by_user = [
        Line(str(upn or ""), int(n), _m(o), _m(t))
        for upn, n, o, t in session.execute(
            sa.select(_calls.c.user_upn, sa.func.count(), ours, theirs).where(where).group_by(_calls.c.user_upn)
        )
    ]
    by_user.sort(key=lambda x: (-abs(x.difference), x.key))
    destination = sa.func.coalesce(_calls.c.rate_name, _calls.c.country, sa.literal_column("''"))
    by_destination = [
        Line(f"{kind}:{prefix or ''}", int(n), _m(o), _m(t), name=str(name or ""))
        for kind, prefix, name, n, o, t in session.execute(
            sa.select(_calls.c.kind, _calls.c.rate_prefix, destination, sa.func.count(), ours, theirs)
            .where(where)
            .group_by(_calls.c.kind, _calls.c.rate_prefix, destination)
        )
    ]
    by_destination.sort(key=lambda x: (-abs(x.difference), x.key, x.name))

    def count(*conditions: Any) -> int:
        return int(session.execute(sa.select(sa.func.count()).where(_in_period(tenant, per), *conditions)).scalar()
                   or 0)

    carrier = count(_calls.c.kind == CallKind.CARRIER)
    without = count(_calls.c.kind != CallKind.CARRIER, _calls.c.ms_charge.is_(None))
    other = count(_calls.c.kind != CallKind.CARRIER, _calls.c.ms_charge.is_not(None),
                  _calls.c.ms_currency.is_not(None), _calls.c.ms_currency != tenant.currency)
    reasons: dict[str, int] = {}
    differing = 0
    for d in iter_differences(session, tenant, per, tol):
        if d.theirs is None:
            continue
        differing += 1
        label = d.why.split(":")[0]
        reasons[label] = reasons.get(label, 0) + 1
    return Reconciliation(tenant.currency, per, tol, total, by_user, by_destination, without, other, carrier,
                          differing, reasons)


def iter_differences(session: Session, tenant: Tenant, per: Period, tolerance: Decimal | None = None,
                     ) -> Iterator[Difference]:
    """The period's calls whose charges differ beyond the tolerance, then those priced in another
    currency, in start order, streamed (a month can hold many)."""
    tol = default_tolerance(tenant.currency) if tolerance is None else tolerance
    c = _calls.c
    cols = (c.start, c.external_id, c.user_upn, c.kind, c.number, c.rate_name, c.country, c.status, c.reason,
            c.charge, c.ms_charge, c.ms_connection_fee, c.ms_currency, c.capability, c.pool, c.pool_seconds,
            c.charged_seconds, c.billed_seconds)
    compared = sa.select(*cols).where(_in_period(tenant, per), _compared(tenant), _beyond(tol))
    other = sa.select(*cols).where(_in_period(tenant, per), c.kind != CallKind.CARRIER, c.ms_charge.is_not(None),
                                   c.ms_currency.is_not(None), c.ms_currency != tenant.currency)
    for query, comparable in ((compared, True), (other, False)):
        for row in session.execute(query.order_by(c.start, c.id).execution_options(yield_per=5000)):
            (start, ext, upn, kind, number, rate_name, country, status, reason, ours, ms_charge, ms_fee, currency,
             capability, pool, pool_seconds, charged_seconds, billed_seconds) = row
            theirs = (ms_charge + (ms_fee or ZERO)) if comparable else None
            d = Difference(start, ext, upn or "", kind, number, rate_name or country or "", status, reason or "",
                           ours, theirs, currency, capability, "")
            d.why = why(d, pool, pool_seconds, charged_seconds, billed_seconds, tenant.currency)
            yield d


#: Why a call's charges differ: the label each explanation starts with (before its colon), which is also its
#: key in :attr:`Reconciliation.reasons` (and in ``--json``: always English); :func:`reason_label` says it.
REASON_LABELS = frozenset({
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("another currency"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("denied here"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("not charged here"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("a pool we think still had minutes"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("a pool we think was used up"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("Microsoft charged nothing"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("a different rate"),
    # TRANSLATORS: why a call's charge differs from Microsoft's, a label: its explanation starts with it.
    N_("a different charge"),
})


def reason_label(label: str) -> str:
    """A key of :attr:`Reconciliation.reasons` for people, in the current language."""
    return _(label) if label in REASON_LABELS else label


def why(d: Difference, pool: str | None, pool_seconds: int, charged_seconds: int, billed_seconds: int,
        currency: str) -> str:
    """Why a call's charges differ, when the books can tell (the text before the colon is its label): a
    :class:`~credits_cli.phrases.Phrase`, English as data (``--json``, the CSV file), said in the reader's
    language (the workbook, the terminal)."""
    if d.theirs is None:
        return Phrase(N_("another currency: Microsoft priced it in {theirs}; the tenant keeps {ours}"),
                      theirs=d.currency, ours=currency)
    theirs, ours = d.theirs, d.ours
    plan_paid = (d.capability or "").upper() in PLAN_CAPABILITIES
    if d.status == Status.DENIED and theirs > 0:
        # TRANSLATORS: {reason} is why the call was denied, a code such as no_balance.
        return Phrase(N_("denied here: {reason} in our books; Microsoft charged it"), reason=d.reason or "denied")
    if d.status in (Status.FREE, Status.UNRATED) and theirs > 0:
        # TRANSLATORS: {status} is the call's status (free, unrated), {reason} a code such as freecall.
        if d.reason:
            return Phrase(N_("not charged here: {status} ({reason}); Microsoft charged it"), status=d.status,
                          reason=d.reason)
        return Phrase(N_("not charged here: {status}; Microsoft charged it"), status=d.status)
    if d.status == Status.INCLUDED and theirs > 0:
        if pool:
            # TRANSLATORS: {pool} is the name of a pool of included minutes.
            return Phrase(N_("a pool we think still had minutes: our {pool} covered it; Microsoft charged it"),
                          pool=pool)
        return Phrase(N_("a pool we think still had minutes: our pool covered it; Microsoft charged it"))
    if theirs == 0 and ours > 0:
        if plan_paid:
            # TRANSLATORS: {capability} is a license's code (MCOPSTN1); {seconds} a number of seconds.
            return Phrase(N_("a pool we think was used up: Microsoft's {capability} covered it; we charged "
                             "{seconds} s"), capability=d.capability, seconds=charged_seconds)
        return Phrase(N_("Microsoft charged nothing: we charged it"))
    if pool_seconds and theirs > ours:
        return Phrase(N_("a pool we think still had minutes: ours covered {seconds} s of it; Microsoft charged "
                         "more"), seconds=pool_seconds)
    minutes = Decimal(charged_seconds or billed_seconds) / 60
    if minutes:
        per_ours = money.round_money(ours / minutes)
        per_theirs = money.round_money(theirs / minutes)
        # TRANSLATORS: {ours} and {theirs} are amounts a minute in the tenant's currency.
        return Phrase(N_("a different rate: ours {ours} a minute, Microsoft's {theirs}"), ours=per_ours,
                      theirs=per_theirs)
    return Phrase(N_("a different charge"))
