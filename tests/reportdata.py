"""A small month of rated calls with real ledger charges, for the report tests.

Tenant ``contoso`` (USD, from the ``tenant`` fixture). Hand-computed facts:

- 2026-10-15 top-up 100.00; 2026-10-20 a call charged 1.5000 -> opening balance
  of November 98.5000.
- November: a top-up of 50.00 on the 10th; charges 0.3400 + 0.1900 (alice,
  outbound, 2nd), 1.2345 (toll-free, 5th), 0.6600 (bob, dial-out, 7th),
  0.0007 (alice, outbound, 30th) = 2.4252 of spend; closing 146.0748.
- Denied: carol (unlicensed) on the 5th, alice (no_balance) on the 21st.
- December: a charge of 9.0000 on 2026-12-01 (outside the November report).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from credits_cli import clock, ledger, tenants, users
from credits_cli import db as dbmod
from credits_cli.callkey import key_of
from credits_cli.models import Call, PoolUsage

D = Decimal


@dataclass
class CallSpec:
    start: datetime
    upn: str
    kind: str
    number: str
    status: str
    charge: Decimal = D("0")
    country: str | None = None
    rate_prefix: str | None = None
    rate_name: str | None = None
    reason: str = ""
    seconds: int = 60
    pool: str | None = None
    pool_seconds: int = 0
    external_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def base_calls() -> list[CallSpec]:
    return [
        CallSpec(datetime(2026, 10, 20, 8, 0), "alice@contoso.com", "outbound", "+442079460000", "charged",
                 D("1.5000"), "GB", "44", "United Kingdom", seconds=3900),
        CallSpec(datetime(2026, 11, 2, 9, 0), "alice@contoso.com", "outbound", "+447700900123", "charged",
                 D("0.3400"), "GB", "447", "United Kingdom mobile", seconds=300),
        CallSpec(datetime(2026, 11, 2, 10, 0), "alice@contoso.com", "outbound", "+14255550100", "charged",
                 D("0.1900"), "US", "1", "United States and Canada", seconds=600),
        CallSpec(datetime(2026, 11, 3, 11, 0), "bob@contoso.com", "outbound", "+14255550101", "included",
                 D("0"), "US", "1", "United States and Canada", seconds=600, pool="domestic:US", pool_seconds=600),
        CallSpec(datetime(2026, 11, 5, 12, 0), "carol@contoso.com", "outbound", "+442079460001", "denied",
                 D("0"), "GB", "44", "United Kingdom", reason="unlicensed", seconds=120),
        CallSpec(datetime(2026, 11, 5, 13, 0), "", "tollfree", "+18005550100", "charged",
                 D("1.2345"), "US", "1800", "US toll-free", seconds=4115),
        CallSpec(datetime(2026, 11, 7, 14, 0), "bob@contoso.com", "dialout", "+442079460002", "charged",
                 D("0.6600"), "GB", "44", "United Kingdom", seconds=1800, pool="dialout", pool_seconds=0),
        CallSpec(datetime(2026, 11, 20, 15, 0), "alice@contoso.com", "outbound", "+99912345", "unrated",
                 D("0"), None, None, None, reason="no rate for this number", seconds=60),
        CallSpec(datetime(2026, 11, 21, 16, 0), "alice@contoso.com", "outbound", "+442079460003", "denied",
                 D("0"), "GB", "44", "United Kingdom", reason="no_balance", seconds=60),
        CallSpec(datetime(2026, 11, 30, 23, 59, 59), "alice@contoso.com", "outbound", "+14255550102", "charged",
                 D("0.0007"), "US", "1", "United States and Canada", seconds=60),
        CallSpec(datetime(2026, 12, 1, 0, 0), "alice@contoso.com", "outbound", "+442079460004", "charged",
                 D("9.0000"), "GB", "44", "United Kingdom", seconds=600),
    ]


TOPUPS = [(datetime(2026, 10, 15, 9, 0), D("100")), (datetime(2026, 11, 10, 9, 0), D("50"))]


def database() -> dbmod.Database:
    return dbmod.open_database(os.environ["CREDITS_DB"])


def seed(slug: str = "contoso", calls: list[CallSpec] | None = None, topups: list[Any] | None = None,
         users_too: bool = True, pools: bool = True) -> None:
    """Insert the calls and charge them through the ledger, in time order, with the top-ups between,
    each booked when it happened (posted at its service time: a tenant that imports every day)."""
    specs = base_calls() if calls is None else calls
    funding = TOPUPS if topups is None else topups
    now = clock.now()

    def work(s: Any) -> None:
        t = tenants.resolve(s, slug)
        if users_too:
            users.upsert_user(s, t, "alice@contoso.com", country="US", plan="payg", name="Alice Archer",
                              licensed=True)
            users.upsert_user(s, t, "bob@contoso.com", country="US", plan="domestic", name="Bob Baker",
                              conferencing=True, licensed=True)
            users.upsert_user(s, t, "carol@contoso.com", country="US", plan="none", name="Carol Cole")
        events: list[tuple[datetime, int, Any]] = [(at, 0, amount) for at, amount in funding]
        events += [(c.start, 1, c) for c in specs]
        events.sort(key=lambda e: (e[0], e[1]))
        for n, (at, what, item) in enumerate(events):
            clock.pin(at)  # booked as it happened
            if what == 0:
                ledger.topup(s, t, item, at=at)
                continue
            c: CallSpec = item
            call = Call(
                tenant_id=t.id or 0,
                external_id=c.external_id or f"call-{n}",
                guard=key_of(c.external_id or f"call-{n}"),
                user_upn=c.upn,
                start=c.start,
                duration_seconds=c.seconds,
                call_type={"outbound": "user_out", "dialout": "conf_out", "tollfree": "user_in"}.get(c.kind, "user_in"),
                kind=c.kind,
                number=c.number,
                country=c.country,
                status=c.status,
                reason=c.reason,
                rate_prefix=c.rate_prefix,
                rate_name=c.rate_name,
                billed_seconds=c.seconds if c.status in ("charged", "included", "denied") else 0,
                pool=c.pool,
                pool_seconds=c.pool_seconds,
                charged_seconds=c.seconds if c.status == "charged" else 0,
                charge=c.charge,
                source_file="calls.csv",
                source_line=n + 2,
                **c.extra,
            )
            s.add(call)
            s.flush()
            if c.charge > 0:
                account = ledger.Account.load(s, t)
                account.charge(c.charge, c.start, call_id=call.id)
                account.flush()
        if pools:
            s.add(PoolUsage(tenant_id=t.id or 0, month="2026-11", pool="domestic:US", capacity_seconds=180000,
                            used_seconds=600))
            s.add(PoolUsage(tenant_id=t.id or 0, month="2026-11", pool="dialout", capacity_seconds=3600,
                            used_seconds=2880))
            s.add(PoolUsage(tenant_id=t.id or 0, month="2026-10", pool="dialout", capacity_seconds=3600,
                            used_seconds=100))

    try:
        database().write(work)
    finally:
        clock.pin(now)
