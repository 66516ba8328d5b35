"""The rating rules of SPEC §6, one hand-computed scenario per rule.

Pools are made small with a service.yaml of our own (10 domestic minutes per
US user, 5 elsewhere, 3 international minutes, 2 dial-out minutes per
conferencing user) so that the arithmetic stays by hand.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import col, select

from credits_cli import clock, ledger, rating, refdata
from credits_cli import db as dbmod
from credits_cli.models import Call, ImportRun, Notification, PoolUsage, Tenant
from credits_cli.readers.base import CallRecord, RowError
from tests.helpers import pin_now

ROOT = Path(__file__).resolve().parent.parent

RATES = """\
name: test-rates
currency: USD
decimals: 4
billing: {minimum_seconds: 60, increment_seconds: 60}
outbound:
  - {prefix: "1", name: "US and Canada", per_minute: "0.0200"}
  - {prefix: "44", name: "United Kingdom", per_minute: "0.0300"}
  - {prefix: "447", name: "United Kingdom mobile", per_minute: "0.0600", connection_fee: "0.0100",
     minimum_seconds: 30, increment_seconds: 1}
  - {prefix: "33", name: "France", per_minute: "0.0400"}
  - {prefix: "20", name: "Egypt", per_minute: "0.5000"}
tollfree:
  - {prefix: "1800", name: "US toll-free", per_minute: "0.0180"}
dialout:
  - {prefix: "33", name: "France dial-out", per_minute: "0.0400", minimum_seconds: 1, increment_seconds: 1}
"""

US = "+12065550100"
CA = "+14165550123"
UK = "+442079460123"
UK_MOBILE = "+447700900123"
FR = "+33140000000"
EG = "+20223456789"  # Egypt: not in Zone A
TOLLFREE = "+18005550100"


@pytest.fixture(autouse=True)
def small_pools(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path_factory.mktemp("rates")
    data = yaml.safe_load((ROOT / "rates" / "service.yaml").read_text())
    data["calling_plans"]["domestic_minutes"] = {"default": 5, "US": 10, "PR": 10, "CA": 10}
    data["calling_plans"]["international_minutes"] = 3
    data["conferencing"]["dialout_minutes_per_user"] = 2
    (folder / "service.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("CREDITS_RATES_DIR", str(folder))  # for each command
    refdata.use_folder(folder)  # and for the engine called in-process
    pin_now(monkeypatch, "2026-01-01T00:00:00Z")


@pytest.fixture
def setup(cli, tenant, tmp_path: Path):
    path = tmp_path / "test-rates.yaml"
    path.write_text(RATES)
    assert cli("rates", "load", str(path)).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    users = [
        ("alice@contoso.com", "US", "domestic", False, True),
        ("bob@contoso.com", "GB", "domestic", False, True),
        ("carol@contoso.com", "US", "domestic-international", False, True),
        ("dave@contoso.com", "US", "payg", True, True),
        ("erin@contoso.com", "US", "payg", False, False),
        ("pete@contoso.com", "PR", "domestic", False, True),
    ]
    for upn, country, plan, conf, licensed in users:
        args = ["user", "add", upn, "--country", country, "--plan", plan]
        args.append("--conferencing" if conf else "--no-conferencing")
        assert cli(*args).exit_code == 0
        if licensed:
            assert cli("license", "assign", upn).exit_code == 0
    return cli


_line = [1]


def rec(ext: str, upn: str, when: str, seconds: int, call_type: str, number: str, **kw: object) -> CallRecord:
    _line[0] += 1
    return CallRecord(
        source="calls.csv",
        line=_line[0],
        external_id=ext,
        user_upn=upn,
        start=datetime.fromisoformat(when),
        duration_seconds=seconds,
        call_type=call_type,
        number=number,
        **kw,  # type: ignore[arg-type]
    )


def database() -> dbmod.Database:
    return dbmod.open_database(os.environ["CREDITS_DB"])


def run(items: list[CallRecord | RowError], **kw: object) -> rating.Summary:
    """Rate ``items`` as an import would the day after the last of them (calls after now are refused)."""
    starts = [item.start for item in items if isinstance(item, CallRecord)]
    if starts and max(starts) >= clock.now():
        clock.pin(max(starts) + timedelta(days=1))
    return rating.rate_records(database(), None, [("calls.csv", "csv", items)], **kw)  # type: ignore[arg-type]


def calls() -> dict[str, Call]:
    with database().read() as s:
        return {c.external_id: c for c in s.exec(select(Call)).all()}


def balance() -> Decimal:
    with database().read() as s:
        return ledger.balance(s, s.exec(select(Tenant)).one())


def events() -> list[str]:
    with database().read() as s:
        return [n.event for n in s.exec(select(Notification).order_by(col(Notification.id))).all()]


def pools() -> dict[tuple[str, str], tuple[int, int]]:
    with database().read() as s:
        return {(p.month, p.pool): (p.capacity_seconds, p.used_seconds) for p in s.exec(select(PoolUsage)).all()}


def verify() -> None:
    with database().read() as s:
        ledger.verify(s, s.exec(select(Tenant)).one())


def A(upn: str) -> str:
    return f"{upn}@contoso.com"


# --- §6.4 pools ---------------------------------------------------------------------------------


def test_pool_partly_covers_a_call(setup) -> None:
    # domestic:US = alice 600 s + carol 600 s + pete (PR shares US's pool) 600 s = 1800 s
    s = run([
        rec("c1", A("alice"), "2026-01-05T10:00:00", 1500, "user_out", US),  # 1500 -> 1500 billed, all pooled
        rec("c2", A("alice"), "2026-01-05T11:00:00", 400, "user_out", US),  # 420 billed: 300 pooled, 120 charged
    ])
    c = calls()
    assert (c["c1"].status, c["c1"].pool, c["c1"].pool_seconds, c["c1"].charge) == (
        "included", "domestic:US", 1500, Decimal(0))
    assert (c["c2"].status, c["c2"].billed_seconds, c["c2"].pool_seconds, c["c2"].charged_seconds) == (
        "charged", 420, 300, 120)
    assert c["c2"].charge == Decimal("0.0400")  # 2 min x 0.0200
    assert s.statuses["included"] == 1 and s.statuses["charged"] == 1
    assert s.total_charged == Decimal("0.0400")
    assert balance() == Decimal("99.9600")
    assert pools() == {("2026-01", "domestic:US"): (1800, 1800)}
    verify()


def test_pools_are_per_country_and_per_month(setup) -> None:
    run([
        rec("u1", A("alice"), "2026-01-05T10:00:00", 1800, "user_out", US),  # uses all of domestic:US
        rec("g1", A("bob"), "2026-01-05T10:00:00", 240, "user_out", UK),  # domestic:GB = 300 s
        rec("g2", A("bob"), "2026-01-06T10:00:00", 120, "user_out", UK),  # 60 pooled + 60 charged
        rec("u2", A("alice"), "2026-02-01T00:00:00", 600, "user_out", US),  # a new month, a new pool
    ])
    c = calls()
    assert c["u1"].status == "included"
    assert c["g1"].status == "included" and c["g1"].pool == "domestic:GB"
    assert (c["g2"].status, c["g2"].pool_seconds, c["g2"].charge) == ("charged", 60, Decimal("0.0300"))
    assert c["u2"].status == "included" and c["u2"].pool_seconds == 600
    assert pools() == {
        ("2026-01", "domestic:US"): (1800, 1800),
        ("2026-01", "domestic:GB"): (300, 300),
        ("2026-02", "domestic:US"): (1800, 600),
    }
    verify()


def test_us_to_canada_is_domestic(setup) -> None:
    run([rec("ca", A("alice"), "2026-01-05T10:00:00", 60, "user_out", CA)])
    c = calls()["ca"]
    assert (c.country, c.domestic, c.status, c.pool) == ("CA", True, "included", "domestic:US")


def test_international_from_a_domestic_plan_is_charged(setup) -> None:
    run([
        rec("i1", A("alice"), "2026-01-05T10:00:00", 120, "user_out", UK),  # domestic plan: charged
        rec("i2", A("carol"), "2026-01-05T10:00:00", 120, "user_out", UK),  # international pool 180 s
        rec("i3", A("carol"), "2026-01-05T11:00:00", 120, "user_out", UK),  # 60 left + 60 charged
    ])
    c = calls()
    assert (c["i1"].domestic, c["i1"].status, c["i1"].pool, c["i1"].charge) == (False, "charged", None,
                                                                                 Decimal("0.0600"))
    assert (c["i2"].status, c["i2"].pool) == ("included", "international")
    assert (c["i3"].pool_seconds, c["i3"].charged_seconds, c["i3"].charge) == (60, 60, Decimal("0.0300"))
    verify()


def test_partly_pooled_call_pays_the_connection_fee(setup) -> None:
    # UK mobile for carol: 30/1 billing, 0.0100 connection fee; 180 s international pool
    run([
        rec("m1", A("carol"), "2026-01-05T10:00:00", 170, "user_out", UK_MOBILE),  # 170 pooled
        rec("m2", A("carol"), "2026-01-05T11:00:00", 40, "user_out", UK_MOBILE),  # 10 pooled, 30 charged
    ])
    c = calls()
    assert c["m1"].status == "included" and c["m1"].charge == 0
    # 0.0100 + 0.0600 x 30 / 60 = 0.0400
    assert (c["m2"].pool_seconds, c["m2"].charged_seconds, c["m2"].charge) == (10, 30, Decimal("0.0400"))
    verify()


# --- dial-out -----------------------------------------------------------------------------------


def test_dialout_zone_a_from_the_pool_and_elsewhere_charged(setup) -> None:
    # dial-out pool: dave 120 s. France (Zone A) uses the dialout section (1/1 billing).
    s = run([
        rec("d1", A("dave"), "2026-01-05T10:00:00", 96, "conf_out", FR),  # 80 %
        rec("d2", A("dave"), "2026-01-05T10:30:00", 60, "conf_out", FR),  # 24 pooled, 36 charged; 100 %
        rec("d3", A("dave"), "2026-01-05T11:00:00", 60, "conf_out", EG),  # Egypt: not Zone A
        rec("d4", A("dave"), "2026-01-05T12:00:00", 30, "conf_out", FR),  # pool empty: charged
    ])
    c = calls()
    assert (c["d1"].kind, c["d1"].status, c["d1"].pool, c["d1"].rate_name) == (
        "dialout", "included", "dialout", "France dial-out")
    assert c["d2"].kind == "dialout"
    assert (c["d2"].pool_seconds, c["d2"].charged_seconds, c["d2"].charge) == (24, 36, Decimal("0.0240"))
    assert (c["d3"].pool, c["d3"].status, c["d3"].charge) == (None, "charged", Decimal("0.5000"))
    assert (c["d4"].pool_seconds, c["d4"].charge) == (0, Decimal("0.0200"))
    assert s.total_charged == Decimal("0.5440")
    assert events().count("dialout_pool_80") == 1
    assert events().count("dialout_pool_100") == 1
    # a second import in the same month does not alert again
    run([rec("d5", A("dave"), "2026-01-06T10:00:00", 30, "conf_out", FR)])
    assert events().count("dialout_pool_80") == 1 and events().count("dialout_pool_100") == 1
    with database().read() as sess:
        bodies = [n.body for n in sess.exec(select(Notification)).all() if n.event == "dialout_pool_80"]
    assert "dial-out 1 of 2 minutes" in bodies[0]
    verify()


def test_user_out_conf_is_a_users_own_call_not_dial_out(setup) -> None:
    """A user who adds two PSTN people to a call (a three-way call) makes a Calling Plan call: drawn from
    their plan's pool, priced as outbound; only conf_in/conf_out are Audio Conferencing."""
    run([
        rec("t1", A("alice"), "2026-01-05T10:00:00", 120, "user_out_conf", US),  # domestic plan: from the pool
        rec("t2", A("dave"), "2026-01-05T10:30:00", 60, "user_out_conf", FR),  # payg: the outbound France rate
    ])
    c = calls()
    assert (c["t1"].kind, c["t1"].status, c["t1"].pool, c["t1"].pool_seconds) == (
        "outbound", "included", "domestic:US", 120)
    assert (c["t2"].kind, c["t2"].rate_name, c["t2"].pool, c["t2"].charge) == (
        "outbound", "France", None, Decimal("0.0400"))
    assert "dialout_pool_80" not in events()
    verify()


def test_dialout_without_conferencing_has_no_pool(setup) -> None:
    run([rec("x", A("alice"), "2026-01-05T10:00:00", 60, "conf_out", FR)])
    c = calls()["x"]
    assert (c.kind, c.pool, c.status, c.charge) == ("dialout", None, "charged", Decimal("0.0400"))


# --- §6.5 licenses --------------------------------------------------------------------------------


def test_unlicensed_and_unknown_users_are_denied(setup) -> None:
    s = run([
        rec("e1", A("erin"), "2026-01-05T10:00:00", 60, "user_out", UK),
        rec("z1", "zed@contoso.com", "2026-01-05T10:00:00", 60, "user_out", UK),
        rec("e2", A("erin"), "2026-01-05T11:00:00", 60, "user_in", US),  # inbound, not toll-free: free
    ])
    c = calls()
    assert (c["e1"].status, c["e1"].reason, c["e1"].charge) == ("denied", "unlicensed", Decimal(0))
    assert (c["z1"].status, c["z1"].reason) == ("denied", "unknown_user")
    assert c["e2"].status == "free"
    assert s.reasons == {"unlicensed": 1, "unknown_user": 1}
    assert balance() == Decimal("100.0000")
    verify()


def test_tollfree_inbound_is_charged_without_a_license(setup) -> None:
    run([
        rec("t1", A("erin"), "2026-01-05T10:00:00", 61, "user_in", TOLLFREE),
        rec("t2", "", "2026-01-05T10:05:00", 30, "ucap_in", "+1 800 555 0199"),  # a call queue's number
        rec("t3", A("alice"), "2026-01-05T10:10:00", 61, "user_in", US),
        rec("t4", A("alice"), "2026-01-05T10:10:00", 61, "conf_in", "+12065550111"),
    ])
    c = calls()
    assert (c["t1"].kind, c["t1"].status, c["t1"].billed_seconds, c["t1"].charge) == (
        "tollfree", "charged", 120, Decimal("0.0360"))
    assert (c["t2"].kind, c["t2"].charge) == ("tollfree", Decimal("0.0180"))
    assert (c["t3"].kind, c["t3"].status, c["t3"].charge) == ("inbound", "free", Decimal(0))
    assert c["t4"].status == "free"
    assert balance() == Decimal("99.9460")
    verify()


# --- §6.6 balance -------------------------------------------------------------------------------


def test_zero_balance_then_denial(cli, setup) -> None:
    # 100.00 balance; Egypt 0.50/min: 198 min = 99.00, then 4 min = 2.00 (goes to -1.00), then denied
    s = run([
        rec("b1", A("dave"), "2026-01-05T10:00:00", 198 * 60, "user_out", EG),
        rec("b2", A("dave"), "2026-01-05T12:00:00", 4 * 60, "user_out", EG),
        rec("b3", A("dave"), "2026-01-05T13:00:00", 60, "user_out", EG),
        rec("b4", A("erin"), "2026-01-05T14:00:00", 60, "user_in", TOLLFREE),  # toll-free stops too
    ])
    c = calls()
    assert c["b1"].charge == Decimal("99.0000")
    assert (c["b2"].status, c["b2"].charge) == ("charged", Decimal("2.0000"))
    assert (c["b3"].status, c["b3"].reason, c["b3"].charge) == ("denied", "no_balance", Decimal(0))
    assert (c["b4"].status, c["b4"].reason) == ("denied", "no_balance")
    assert balance() == Decimal("-1.0000")
    assert s.balance_before == Decimal("100.0000") and s.balance_after == Decimal("-1.0000")
    assert events().count("balance_zero") == 1
    verify()


def test_auto_recharge_succeeds_mid_import(cli, setup) -> None:
    assert cli("autorecharge", "set", "--threshold", "20", "--amount", "50").exit_code == 0
    s = run([
        rec("r1", A("dave"), "2026-01-05T10:00:00", 160 * 60, "user_out", EG),  # 80.00: balance 20.00
        rec("r2", A("dave"), "2026-01-05T11:00:00", 2 * 60, "user_out", EG),  # 1.00: 19.00 < 20 -> +50 = 69.00
    ])
    assert (s.recharges_succeeded, s.recharges_failed, s.recharged_amount) == (1, 0, Decimal("50"))
    assert balance() == Decimal("69.0000")
    assert s.balance_after == Decimal("69.0000")
    assert "recharge_succeeded" in events()
    assert calls()["r2"].status == "charged"
    verify()


@pytest.mark.parametrize("batch_size", [5000, 1])  # the back-off holds across batches too
def test_auto_recharge_fails_with_an_expired_card_and_backs_off_an_hour(cli, setup, batch_size: int) -> None:
    assert cli("autorecharge", "set", "--threshold", "90", "--amount", "50").exit_code == 0
    assert cli("payment", "set", "--card-expiry", "2025-12").exit_code == 0  # expired by January 2026
    s = run([
        rec("f1", A("dave"), "2026-01-05T10:00:00", 22 * 60, "user_out", EG),  # 11.00: 89.00 < 90 -> fails
        rec("f2", A("dave"), "2026-01-05T10:30:00", 60, "user_out", EG),  # within the hour: no attempt
        rec("f3", A("dave"), "2026-01-05T10:59:59", 60, "user_out", EG),  # still within the hour
        rec("f4", A("dave"), "2026-01-05T11:00:00", 60, "user_out", EG),  # an hour later: tries, fails
        rec("f5", A("dave"), "2026-01-05T11:10:00", 60, "user_out", EG),
    ], batch_size=batch_size)
    assert (s.recharges_succeeded, s.recharges_failed) == (0, 2)
    assert events().count("recharge_failed") == 1  # one message per failure episode, not one per retry
    assert "card on file expired" in s.recharge_failure
    assert all(c.status == "charged" for c in calls().values())  # the balance is still above zero
    assert balance() == Decimal("87.0000")
    verify()


# --- §6.1 identity ----------------------------------------------------------------------------------


def test_duplicates_in_a_file_and_across_imports_are_never_charged_twice(setup) -> None:
    first = run([
        rec("x1", A("dave"), "2026-01-05T10:00:00", 60, "user_out", EG),
        rec("x1", A("dave"), "2026-01-05T10:00:00", 60, "user_out", EG),
        rec("x2", A("dave"), "2026-01-05T11:00:00", 60, "user_out", EG),
    ])
    assert first.duplicates == 1 and first.statuses["charged"] == 2
    second = run([
        rec("x2", A("dave"), "2026-01-05T11:00:00", 60, "user_out", EG),
        rec("x3", A("dave"), "2026-01-05T12:00:00", 60, "user_out", EG),
    ])
    assert second.duplicates == 1 and second.statuses["charged"] == 1
    assert balance() == Decimal("98.5000")
    assert len(calls()) == 3
    verify()


def test_duplicates_across_batches(setup) -> None:
    s = run(
        [rec(f"y{i % 3}", A("dave"), f"2026-01-05T1{i}:00:00", 60, "user_out", EG) for i in range(6)],
        batch_size=2,
    )
    assert s.duplicates == 3 and s.statuses["charged"] == 3
    assert balance() == Decimal("98.5000")
    verify()


# --- numbers, kinds, order ------------------------------------------------------------------------------


def test_masked_numbers_are_rated_by_their_visible_digits(setup) -> None:
    run([
        rec("k1", A("bob"), "2026-01-05T10:00:00", 60, "user_out", "+4420794601***"),
        rec("k2", A("alice"), "2026-01-05T10:00:00", 60, "user_out", "+447700900***"),
        rec("k3", A("alice"), "2026-01-05T10:00:00", 60, "user_out", "+1 416 555 ****"),
    ])
    c = calls()
    assert (c["k1"].country, c["k1"].domestic, c["k1"].rate_prefix, c["k1"].status) == ("GB", True, "44", "included")
    assert (c["k2"].country, c["k2"].rate_prefix, c["k2"].charge) == ("GB", "447", Decimal("0.0700"))
    assert (c["k3"].country, c["k3"].domestic, c["k3"].status) == ("CA", True, "included")


def test_carrier_unrated_and_rejected_rows(setup) -> None:
    s = run([
        rec("dr1", A("alice"), "2026-01-05T10:00:00", 600, "dr_out", UK, direct_routing=True),
        rec("dr2", A("alice"), "2026-01-05T10:00:00", 600, "Dr_In", US),
        rec("un1", A("alice"), "2026-01-05T10:00:00", 60, "user_out", "+999123456"),
        rec("un2", A("alice"), "2026-01-05T10:00:00", 60, "user_out", "anonymous"),
        rec("zero", A("dave"), "2026-01-05T10:00:00", 0, "user_out", UK),
        rec("bad", A("alice"), "2026-01-05T10:00:00", 60, "video_out", UK),
        RowError("calls.csv", 9, "duration 'x' is not a number"),
    ])
    c = calls()
    assert (c["dr1"].kind, c["dr1"].status, c["dr1"].charge) == ("carrier", "carrier", Decimal(0))
    assert c["dr2"].status == "carrier"
    assert (c["un1"].status, c["un1"].reason) == ("unrated", "no_rate")
    assert (c["un2"].status, c["un2"].reason) == ("unrated", "no_number")
    assert (c["zero"].status, c["zero"].reason, c["zero"].billed_seconds) == ("free", "zero_duration", 0)
    assert "bad" not in c
    assert s.rejected == 2 and s.rows_read == 7
    assert {(r.line, r.reason) for r in s.first_rejects} >= {(9, "duration 'x' is not a number")}
    assert any(r.reason == "unknown call type 'video_out'" for r in s.first_rejects)
    assert balance() == Decimal("100.0000")
    verify()


@pytest.mark.parametrize("memory_records", [100_000, 2])  # in memory, and spilled to a temporary file
def test_out_of_order_input_is_rated_in_start_order(setup, memory_records: int) -> None:
    # Given late-first: the 10:00 call must take the pool before the 11:00 one.
    s = run(
        [
            rec("late", A("alice"), "2026-01-05T11:00:00", 600, "user_out", US),
            rec("mid", A("alice"), "2026-01-05T10:30:00", 600, "user_out", US),
            rec("early", A("alice"), "2026-01-05T10:00:00", 900, "user_out", US),
        ],
        memory_records=memory_records,
        batch_size=2,
    )
    c = calls()
    assert c["early"].status == "included" and c["mid"].status == "included"  # 900 + 600 of 1800
    assert (c["late"].pool_seconds, c["late"].charged_seconds, c["late"].charge) == (300, 300, Decimal("0.1000"))
    assert c["early"].id < c["mid"].id < c["late"].id  # type: ignore[operator]
    assert s.rows_read == 3
    verify()


def test_dry_run_writes_nothing(cli, setup) -> None:
    assert cli("autorecharge", "set", "--threshold", "95", "--amount", "50").exit_code == 0
    before_events = events()
    s = run(
        [
            rec("p1", A("dave"), "2026-01-05T10:00:00", 20 * 60, "user_out", EG),
            rec("p2", A("alice"), "2026-01-05T10:00:00", 60, "user_out", US),
        ],
        dry_run=True,
    )
    assert s.total_charged == Decimal("10.0000") and s.recharges_succeeded == 1
    assert s.balance_after == Decimal("140.0000")
    assert calls() == {} and pools() == {} and events() == before_events
    assert balance() == Decimal("100.0000")
    with database().read() as sess:
        assert sess.exec(select(ImportRun)).all() == []
    verify()


def test_import_run_records_the_summary(setup) -> None:
    import json

    s = run([rec("q1", A("dave"), "2026-01-05T10:00:00", 60, "user_out", EG)])
    with database().read() as sess:
        runs = sess.exec(select(ImportRun)).all()
    assert len(runs) == 1 and runs[0].id == s.import_id and runs[0].finished_at is not None
    doc = json.loads(runs[0].summary)
    assert doc["statuses"]["charged"] == 1 and doc["total_charged"] == "0.5000"
    assert calls()["q1"].import_id == s.import_id


def test_no_rate_table_refuses(cli, tenant) -> None:
    from credits_cli.errors import NotFound

    with pytest.raises(NotFound, match="credits rates load rates/default-usd.yaml"):
        run([])


def test_ledger_entries_name_their_calls(setup) -> None:
    run([rec(f"n{i}", A("dave"), f"2026-01-05T1{i}:00:00", 60, "user_out", EG) for i in range(5)], batch_size=2)
    with database().read() as sess:
        from credits_cli.models import LedgerEntry

        charges = sess.exec(select(LedgerEntry).where(LedgerEntry.kind == "charge")).all()
        by_call = {c.id: c for c in sess.exec(select(Call)).all()}
    assert len(charges) == 5
    assert all(e.call_id in by_call and e.amount == -by_call[e.call_id].charge for e in charges)
    verify()


def test_an_interrupted_import_keeps_whole_batches_and_a_rerun_finishes_it(setup, monkeypatch) -> None:
    records = [rec(f"w{i}", A("dave"), f"2026-01-05T1{i}:00:00", 60, "user_out", EG) for i in range(5)]
    real = rating.rate_batch
    seen = []

    def flaky(session, ctx, batch, import_id):  # type: ignore[no-untyped-def]
        seen.append(len(batch))
        if len(seen) == 2:
            real(session, ctx, batch, import_id)  # the batch is rated, then the process "dies"
            raise KeyboardInterrupt
        return real(session, ctx, batch, import_id)

    monkeypatch.setattr(rating, "rate_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(records, batch_size=2)
    assert set(calls()) == {"w0", "w1"}  # the first batch only: the second was rolled back whole
    assert balance() == Decimal("99.0000")
    verify()
    monkeypatch.setattr(rating, "rate_batch", real)
    s = run(records, batch_size=2)
    assert s.duplicates == 2 and s.statuses["charged"] == 3
    assert balance() == Decimal("97.5000")
    assert set(calls()) == {f"w{i}" for i in range(5)}
    verify()


def test_rates_list_entries(setup) -> None:
    import json

    doc = json.loads(setup("rates", "list", "--entries", "--json").stdout)
    assert doc["table"] == "test-rates"
    assert {(e["section"], e["prefix"]) for e in doc["entries"]} >= {("outbound", "447"), ("tollfree", "1800"),
                                                                    ("dialout", "33")}
    uk = next(e for e in doc["entries"] if e["prefix"] == "447")
    assert (uk["per_minute"], uk["connection_fee"], uk["minimum_seconds"], uk["increment_seconds"]) == (
        "0.0600", "0.0100", 30, 1)
