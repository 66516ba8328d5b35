"""The report's numbers, hand-computed from tests/reportdata.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from credits_cli import ledger, tenants
from credits_cli.errors import InvalidInput
from credits_cli.reports import build as report
from tests import reportdata
from tests.helpers import pin_now

D = Decimal


@pytest.fixture
def november(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed()
    db = reportdata.database()
    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        yield report.build(s, t, report.period("2026-11-01", "2026-11-30").period)


def test_period_defaults_to_current_month():
    p = report.period(None, None, today=date(2026, 2, 14)).period
    assert (p.first, p.last, p.days) == (date(2026, 2, 1), date(2026, 2, 28), 28)
    assert report.period("2026-03-05", None).period.last == date(2026, 3, 31)
    assert report.period(None, "2026-03-05").period.first == date(2026, 3, 1)
    with pytest.raises(InvalidInput):
        report.period("2026-03-05", "2026-03-01")
    with pytest.raises(InvalidInput):
        report.period("2026-13-01", None)


def test_balances_and_funding(november):
    r = november
    assert r.opening == D("98.5000")  # 100 - 1.5 in October
    assert r.topups == D("50.0000") and r.topup_count == 1
    assert r.recharges == 0 and r.funding == D("50.0000")
    assert r.spend == D("2.4252")  # 0.34 + 0.19 + 1.2345 + 0.66 + 0.0007; the December 9.00 is outside
    assert r.charges_posted == D("2.4252") and (r.late_charges, r.late_calls) == (0, 0)  # booked as they happened
    assert r.closing == D("146.0748")
    assert r.check() == 0
    assert r.ledger_entries == 6


def test_totals_agree_with_ledger(november, tenant):
    r = november
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        entries = ledger.entries(s, t, r.period.start, r.period.end)
        assert r.closing == ledger.balance_posted_before(s, t, r.period.end)
    assert -sum(e.amount for e in entries if e.kind == "charge") == r.spend
    assert sum(k.spend for k in r.by_kind) == r.spend
    assert sum(u.spend for u in r.users) == r.spend
    assert sum(d.spend for d in r.destinations) == r.spend
    assert sum(d.spend for d in r.daily) == r.spend
    assert r.daily[-1].closing == r.closing


def test_spend_by_kind(november):
    kinds = {k.kind: k for k in november.by_kind}
    assert [k.kind for k in november.by_kind][:3] == ["outbound", "dialout", "tollfree"]
    assert kinds["outbound"].spend == D("0.5307")
    assert kinds["outbound"].calls == 7 and kinds["outbound"].charged_calls == 3
    assert kinds["outbound"].pool_seconds == 600
    assert kinds["dialout"].spend == D("0.6600")
    assert kinds["tollfree"].spend == D("1.2345")


def test_statuses_and_denied(november):
    r = november
    assert r.statuses == {"charged": 5, "included": 1, "denied": 2, "unrated": 1}
    assert r.calls == 9
    assert {(d.reason, d.calls, d.billed_seconds) for d in r.denied} == {("unlicensed", 1, 120), ("no_balance", 1, 60)}


def test_pools_of_the_period(november):
    pools = {(p.month, p.pool): p for p in november.pools}
    assert set(pools) == {("2026-11", "dialout"), ("2026-11", "domestic:US")}  # October's is outside
    assert pools[("2026-11", "dialout")].used_fraction == D("0.8000")
    assert pools[("2026-11", "dialout")].left_seconds == 720


def test_top_users_and_destinations(november):
    users = november.users
    assert [(u.upn, u.spend) for u in users] == [
        ("", D("1.2345")),
        ("bob@contoso.com", D("0.6600")),
        ("alice@contoso.com", D("0.5307")),
        ("carol@contoso.com", D("0")),
    ]
    alice = users[2]
    assert (alice.name, alice.calls, alice.charged_calls, alice.denied_calls) == ("Alice Archer", 5, 3, 1)
    top = november.top_destinations(2)
    assert [(d.kind, d.prefix, d.spend) for d in top] == [
        ("tollfree", "1800", D("1.2345")),
        ("dialout", "44", D("0.66")),
    ]
    us = next(d for d in november.destinations if d.prefix == "1" and d.kind == "outbound")
    assert (us.calls, us.charged_calls, us.spend) == (3, 2, D("0.1907"))


def test_daily_series(november):
    days = {d.day: d for d in november.daily}
    assert len(days) == 30
    assert days[date(2026, 11, 2)].spend == D("0.5300")
    assert days[date(2026, 11, 2)].calls == 2
    assert days[date(2026, 11, 5)].spend == D("1.2345")
    assert days[date(2026, 11, 5)].denied_calls == 1
    assert days[date(2026, 11, 10)].funding == D("50")
    assert days[date(2026, 11, 30)].spend == D("0.0007")  # 23:59:59 belongs to the 30th
    assert days[date(2026, 11, 1)].closing == D("98.5000")
    assert days[date(2026, 11, 10)].closing == D("98.5000") - D("0.53") - D("1.2345") - D("0.66") + 50


def test_empty_period(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        r = report.build(s, t, report.period("2026-11-01", "2026-11-30").period)
    assert r.opening == r.closing == 0 and r.spend == 0 and r.calls == 0
    assert [k.kind for k in r.by_kind] == ["outbound", "dialout", "tollfree"]
    assert len(r.daily) == 30 and r.users == [] and r.denied == []


def test_expiry_in_period(tenant, monkeypatch):
    """A lot bought in October 2025 expires in October 2026 and is written off by the first command after
    that, on 30 November: the books post it then, so October still closes at 60 and November shows it."""
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    from datetime import datetime

    reportdata.seed(calls=[], topups=[(datetime(2025, 10, 3, 9, 0), D("60"))], pools=False)
    db = reportdata.database()
    db.write(lambda s: ledger.housekeep(s, tenants.resolve(s, "contoso")))
    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        october = report.build(s, t, report.period("2026-10-01", "2026-10-31").period)
        november = report.build(s, t, report.period("2026-11-01", "2026-11-30").period)
    assert (october.opening, october.expired, october.closing) == (D("60"), D("0"), D("60"))
    assert (november.opening, november.expired, november.closing) == (D("60"), D("60"), D("0"))
    assert october.check() == november.check() == 0


def test_days_to_come_are_not_listed(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-12T08:00:00Z")
    with reportdata.database().read() as s:
        r = report.build(s, tenants.resolve(s, "contoso"), report.period("2026-11-01", "2026-11-30").period)
    assert [d.day for d in r.daily][-1] == date(2026, 11, 12) and len(r.daily) == 12


def test_periods_people_use():
    today = date(2026, 11, 28)
    assert report.period(month="2026-10", today=today).period == report.Period(date(2026, 10, 1), date(2026, 10, 31))
    assert report.period(last_month=True, today=today).period == report.Period(date(2026, 10, 1), date(2026, 10, 31))
    assert report.period(last_month=True, today=date(2026, 1, 5)).period.first == date(2025, 12, 1)
    assert report.period("2026-09", "2026-10", today=today).period == report.Period(date(2026, 9, 1),
                                                                                 date(2026, 10, 31))
    assert report.period("2026-09", None, today=today).period.last == date(2026, 9, 30)
    latest = report.period(None, None, latest_call=date(2026, 10, 29), today=today)
    assert latest.period == report.Period(date(2026, 10, 1), date(2026, 10, 31))
    assert "latest month with calls" in latest.reason and "2026-10-29" in latest.reason
    with pytest.raises(InvalidInput, match="one of"):
        report.period("2026-10-01", None, month="2026-10", today=today)
    with pytest.raises(InvalidInput, match="not a month"):
        report.period(month="2026-13", today=today)
