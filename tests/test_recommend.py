"""Funding advice, hand-computed: from licenses with no usage, from observed spend otherwise."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from credits_cli import clock, recommend, spend, tenants, users
from credits_cli.queries import SessionRows
from tests import reportdata
from tests.helpers import pin_now

D = Decimal


def advise():
    with reportdata.database().read() as s:
        return recommend.recommend(s, tenants.resolve(s, "contoso"))


def add_licensed(n: int) -> None:
    def work(s):
        t = tenants.resolve(s, "contoso")
        for i in range(n):
            users.upsert_user(s, t, f"user{i}@contoso.com", country="US", plan="payg", licensed=True)

    reportdata.database().write(work)


def charged(day: int, amount: str, month: int = 11) -> reportdata.CallSpec:
    return reportdata.CallSpec(datetime(2026, month, day, 10, 0), "alice@contoso.com", "outbound", "+442079460000",
                               "charged", D(amount), "GB", "44", "United Kingdom")


@pytest.fixture(autouse=True)
def now(monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")


def test_no_usage_from_licensed_users(tenant):
    add_licensed(25)
    a = advise()
    assert a.basis == "licenses" and a.licensed_users == 25
    # ceil(25 / 10) = 3 minimum purchases of USD 50
    assert (a.one_off, a.recharge, a.trigger) == (D("150"), D("150"), D("38"))  # 150 / 4 = 37.5 -> 38
    assert any("25 user(s)" in line for line in a.reasoning)


def test_no_usage_no_license_starts_at_the_minimum(tenant):
    a = advise()
    assert (a.licensed_users, a.one_off, a.recharge, a.trigger) == (0, D("50"), D("50"), D("13"))
    assert any("no user is licensed" in line for line in a.reasoning)


def test_no_usage_counts_existing_balance(tenant, cli):
    add_licensed(25)
    assert cli("topup", "120").exit_code == 0
    a = advise()
    assert a.balance == D("120")
    assert a.one_off == D("50")  # 150 - 120 = 30, raised to the minimum purchase
    assert cli("topup", "50").exit_code == 0
    assert advise().one_off == 0


def test_rated_calls_without_charges_are_not_usage(tenant):
    reportdata.seed(calls=[reportdata.CallSpec(datetime(2026, 11, 3), "bob@contoso.com", "outbound", "+14255550101",
                                               "included", pool="domestic:US", pool_seconds=60)],
                    topups=[], pools=False)
    a = advise()
    assert a.basis == "licenses" and a.licensed_users == 2
    assert "1 rated call(s), none charged" in a.reasoning[0]


def test_from_one_month_of_usage(tenant):
    calls = [charged(1, "10.00"), charged(2, "20.00"), charged(3, "5.00"), charged(20, "25.00")]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 10, 31), D("100"))], pools=False)
    a = advise()
    assert a.basis == "usage"
    assert a.observed_days == 20  # 1 to 20 November: the imported calls, not the days since (now is the 30th)
    assert a.observed_spend == D("60")
    assert a.average_daily == D("3.0000")
    assert (a.peak_day, str(a.peak_day_date)) == (D("25.00"), "2026-11-20")
    assert a.peak_lead_spend == D("35.00")  # 1-7 November
    assert a.trigger == D("35")
    assert a.recharge == D("90")  # 3.00 x 30
    assert a.balance == D("40")
    assert a.one_off == D("85")  # 35 + 90 - 40
    assert "from 2026-11-01 to 2026-11-20, the latest imported calls" in a.reasoning[0]
    assert "nothing imported since 2026-11-20" in a.reasoning[0]
    assert "peak spend of a 7-day lead time" in " ".join(a.reasoning)


def test_from_two_months_of_usage_small_spend(tenant):
    calls = [charged(1, "0.0100", month=10), charged(29, "1.2345")]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 9, 30), D("500"))], pools=False)
    a = advise()
    assert a.observed_days == 60  # 1 October to 29 November, the imported calls: exactly the window
    assert a.observed_spend == D("1.2445")
    assert a.average_daily == D("0.0207")  # 1.2445 / 60 = 0.020741 -> half up
    assert a.trigger == D("2")
    assert a.recharge == D("50")  # 0.618 a month, raised to the minimum purchase
    assert a.one_off == 0
    assert any("none needed" in line for line in a.reasoning)


def test_fewer_days_than_the_lead_time(tenant):
    calls = [charged(28, "3.00"), charged(30, "1.50")]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 11, 1), D("50"))], pools=False)
    a = advise()
    assert a.observed_days == 3
    assert a.average_daily == D("1.5000")
    assert a.peak_lead_spend == D("21.00")  # peak day 3.00 x 7
    assert (a.trigger, a.recharge) == (D("21"), D("50"))
    assert a.one_off == D("50")  # 21 + 50 - 45.50 = 25.50 -> 26, raised to the minimum


def test_runway(tenant, cli):
    calls = [charged(1, "10.00"), charged(2, "20.00"), charged(3, "5.00"), charged(20, "25.00")]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 10, 31), D("100"))], pools=False)
    assert cli("autorecharge", "set", "--threshold", "10", "--amount", "50").exit_code == 0
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        from credits_cli import ledger

        settings = ledger.get_auto_recharge(s, t)
        assert settings is not None
        r = spend.runway(SessionRows(s), t.id, ledger.balance(s, t), settings.threshold, clock.now())
    # measured over 1-20 November, the imported calls (not over the 10 days since, with nothing imported)
    assert (r.window_days, r.observed_days, r.window_spend, r.daily_spend) == (30, 20, D("60"), D("3.0000"))
    assert (str(r.observed_from), str(r.observed_to)) == ("2026-11-01", "2026-11-20")
    assert r.days_to_zero == D("13.3")  # 40 / 3
    assert r.days_to_threshold == D("10.0")  # (40 - 10) / 3
    assert str(r.zero_date) == "2026-12-13" and str(r.threshold_date) == "2026-12-10"  # counted from now


def test_runway_without_spend(tenant):
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        r = spend.runway(SessionRows(s), t.id, D("0"), None, clock.now())
    assert r.daily_spend == 0 and r.days_to_zero is None and r.observed_days == 0
