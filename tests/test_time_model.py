"""Time done right (the time model of SPEC §2): set up today, import last month, and every figure agrees.

The workflow of an administrator who starts on 27 November: records today's balance with a top-up,
imports October's export, and reads the report, the ledger, the balance, the runway and the advice.
Balances follow posting order (nothing shows a balance the books never held); usage follows the
calls' own times; licenses and plans are rated as they were when each call was made.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import assert_error, assert_json, pin_now

ROOT = Path(__file__).resolve().parent.parent
D = Decimal
NOW = "2026-11-27T10:00:00Z"

# October: ada (pay as you go) calls the UK; bob's license is withdrawn on 1 November, so his
# 29 October call is his to pay and his 2 November call is denied; erin moves to the international
# plan on 1 November; carol joins on 1 November.
OCTOBER = """\
call_id,user,start,duration_seconds,kind,number
o1,ada@contoso.com,2026-10-02T09:00:00Z,600,outbound,+442079460123
o2,ada@contoso.com,2026-10-15T09:00:00Z,1200,outbound,+442079460124
o3,bob@contoso.com,2026-10-29T16:00:00Z,600,outbound,+442079460125
o4,erin@contoso.com,2026-10-30T10:00:00Z,600,outbound,+442079460126
o5,dan@contoso.com,2026-10-20T10:00:00Z,600,outbound,+12065550100
n1,bob@contoso.com,2026-11-02T16:00:00Z,600,outbound,+442079460127
n2,erin@contoso.com,2026-11-03T10:00:00Z,600,outbound,+442079460128
"""


@pytest.fixture
def late(cli, tenant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    pin_now(monkeypatch, NOW)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    for upn, *args in (
        ("ada@contoso.com", "--country", "US", "--plan", "payg"),
        ("bob@contoso.com", "--country", "US", "--plan", "payg"),
        ("dan@contoso.com", "--country", "US", "--plan", "domestic"),
        ("erin@contoso.com", "--country", "US", "--plan", "domestic"),
    ):
        assert cli("user", "add", upn, *args).exit_code == 0
        assert cli("license", "assign", upn).exit_code == 0  # first assigned: holds from the beginning
    assert cli("license", "unassign", "bob@contoso.com", "--at", "2026-11-01").exit_code == 0
    assert cli("user", "add", "erin@contoso.com", "--plan", "domestic-international",
               "--at", "2026-11-01").exit_code == 0
    assert cli("user", "add", "carol@contoso.com", "--country", "US", "--plan", "domestic",
               "--at", "2026-11-01").exit_code == 0
    assert cli("topup", "500", "--note", "today's balance").exit_code == 0  # recorded today
    path = tmp_path / "october.csv"
    path.write_text(OCTOBER)
    r = cli("rate-cdrs", str(path), "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def calls(cli) -> dict[str, dict]:
    return {c["external_id"]: c for c in assert_json(cli("calls", "--json"))["calls"]}


def test_licenses_and_plans_in_force_when_each_call_was_made(cli, late) -> None:
    c = calls(cli)
    assert (c["o3"]["status"], c["n1"]["status"], c["n1"]["reason"]) == ("charged", "denied", "unlicensed")
    # erin: domestic plan in October (no international pool), domestic and international in November
    assert (c["o4"]["status"], c["o4"]["pool"]) == ("charged", None)
    assert (c["n2"]["status"], c["n2"]["pool"]) == ("included", "international")
    report = assert_json(cli("report", "--month", "2026-10", "--json"))
    pools = {p["pool"]: p for p in report["pools"]}
    # dan and erin held the domestic plan in October; carol, who joined on 1 November, does not count
    assert pools["domestic:US"]["capacity_seconds"] == 2 * 3000 * 60


def test_a_late_import_never_shows_a_balance_that_did_not_exist(cli, late) -> None:
    spent = D(late["total_charged"])
    october_spend = spent - D("0")  # n1 is denied, n2 included: every charge is for October's calls
    balance = D(assert_json(cli("balance", "--json"))["balance"])
    assert balance == D("500") - spent
    october = assert_json(cli("report", "--month", "2026-10", "--json"))
    # nothing was posted in October: the books held nothing then; the usage is October's
    assert (october["opening"], october["closing"], october["charges_posted"]) == ("0.0000", "0.0000", "0.0000")
    assert D(october["spend"]) == october_spend
    assert all(d["closing"] == "0.0000" for d in october["daily"])
    november = assert_json(cli("report", "--month", "2026-11", "--json"))
    assert (november["opening"], november["topups"]) == ("0.0000", "500.0000")
    assert D(november["charges_posted"]) == spent and D(november["late_charges"]) == spent
    assert D(november["closing"]) == balance and D(november["spend"]) == 0
    assert all(D(d["closing"]) >= 0 for d in november["daily"])
    entries = assert_json(cli("ledger", "--json"))["entries"]
    assert entries[0]["kind"] == "topup" and all(D(e["balance"]) >= 0 for e in entries)
    assert entries[-1]["balance"] == f"{balance:.4f}"
    # report with no dates: the latest month with calls, said so
    default = assert_json(cli("report", "--json"))
    assert default["period"]["from"] == "2026-11-01" and "latest month with calls" in default["period_reason"]
    assert cli("verify").exit_code == 0


def test_runway_and_advice_use_the_imported_days(cli, late) -> None:
    runway = assert_json(cli("balance", "--json"))["runway"]
    assert (runway["observed_from"], runway["observed_to"]) == ("2026-10-05", "2026-11-03")  # the last 30 days
    advice = assert_json(cli("recommend", "--json"))
    assert advice["basis"] == "usage" and advice["observed_days"] == 33  # 2 October to 3 November


def test_balance_assert_and_its_adjustment(cli, late) -> None:
    """The admin center still shows 500: October's calls were paid from it before it was recorded."""
    books = D(assert_json(cli("balance", "--json"))["balance"])
    doc = assert_json(cli("balance", "assert", "500", "--json"))
    assert D(doc["books"]) == books and D(doc["difference"]) == D("500") - books and doc["adjusted"] is False
    doc = assert_json(cli("balance", "assert", "500", "--adjust", "--json"))
    assert doc["adjusted"] is True
    assert assert_json(cli("balance", "--json"))["balance"] == "500.0000"
    verified = assert_json(cli("verify", "--json"))
    assert len(verified["adjustments"]) == 1 and "admin center showed 500.0000" in verified["adjustments"][0]["note"]
    report = assert_json(cli("report", "--month", "2026-11", "--json"))
    assert report["adjustments"][0]["amount"] == f"{D('500') - books:.4f}"
    assert assert_json(cli("balance", "assert", "500", "--json"))["difference"] == "0.0000"


def test_a_past_purchase_and_a_correction(cli, tenant, monkeypatch) -> None:
    pin_now(monkeypatch, NOW)
    r = assert_json(cli("topup", "100", "--at", "2026-01-15", "--json"))
    lots = assert_json(cli("balance", "--json"))["lots"]
    assert lots[0]["expires_at"] == "2027-01-15T00:00:00Z"  # a year after it was bought, not recorded
    assert_error(cli("topup", "100", "--at", "2026-12-01"), "in the future")
    assert cli("topup", "5000", "--note", "typo").exit_code == 0
    lot = assert_json(cli("balance", "--json"))["lots"][-1]["id"]
    doc = assert_json(cli("adjust", "-4500", "--reason", "typo: meant 500", "--lot", str(lot), "--json"))
    assert doc["balance"] == "600.0000" and r["balance"] == "100.0000"
    balance = assert_json(cli("balance", "--json"))
    assert [x["remaining"] for x in balance["lots"]] == ["100.0000", "500.0000"]
    assert_error(cli("adjust", "10", "--reason", " "), "needs a reason")
    assert cli("verify").exit_code == 0
    adj = assert_json(cli("verify", "--json"))["adjustments"]
    assert adj[0]["amount"] == "-4500.0000" and adj[0]["note"].startswith("typo: meant 500")


def test_a_license_first_assigned_with_at_does_not_reach_back(cli, tenant, monkeypatch, tmp_path) -> None:
    pin_now(monkeypatch, NOW)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com", "--at", "2026-11-10").exit_code == 0
    path = tmp_path / "c.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "a1,ada@contoso.com,2026-11-09T10:00:00Z,60,outbound,+442079460123\n"
                    "a2,ada@contoso.com,2026-11-11T10:00:00Z,60,outbound,+442079460123\n")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    c = calls(cli)
    assert (c["a1"]["status"], c["a2"]["status"]) == ("denied", "charged")
    listed = {u["upn"]: u for u in assert_json(cli("user", "list", "--at", "2026-11-09", "--json"))}
    assert listed["ada@contoso.com"]["licensed"] is False


def test_a_change_dated_before_a_later_one_leaves_the_later_one_in_force(cli, tenant, monkeypatch, tmp_path) -> None:
    """Ada's license was withdrawn on the 20th (recorded then); a week later an admin records that she
    was given it on the 10th. The withdrawal still holds after the 10th: she is unlicensed now, her
    calls after the 20th are denied, and assigning it today is a change that takes effect."""
    pin_now(monkeypatch, "2026-11-01T09:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    pin_now(monkeypatch, "2026-11-20T09:00:00Z")
    assert cli("license", "unassign", "ada@contoso.com").exit_code == 0
    pin_now(monkeypatch, NOW)
    assert cli("license", "assign", "ada@contoso.com", "--at", "2026-11-10").exit_code == 0
    listed = {u["upn"]: u for u in assert_json(cli("user", "list", "--json"))}
    assert listed["ada@contoso.com"]["licensed"] is False
    path = tmp_path / "c.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "b1,ada@contoso.com,2026-11-15T10:00:00Z,60,outbound,+442079460123\n"
                    "b2,ada@contoso.com,2026-11-25T10:00:00Z,60,outbound,+442079460123\n")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    c = calls(cli)
    assert (c["b1"]["status"], c["b2"]["status"]) == ("charged", "denied")
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    listed = {u["upn"]: u for u in assert_json(cli("user", "list", "--json"))}
    assert listed["ada@contoso.com"]["licensed"] is True


def test_each_tenant_numbers_its_own_lots(cli, tenant, monkeypatch) -> None:
    pin_now(monkeypatch, NOW)
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "US").exit_code == 0
    assert cli("--tenant", "fabrikam", "payment", "set", "--invoice").exit_code == 0
    for slug in ("contoso", "fabrikam", "contoso", "fabrikam"):
        assert cli("--tenant", slug, "topup", "50").exit_code == 0
    for slug in ("contoso", "fabrikam"):
        lots = assert_json(cli("--tenant", slug, "balance", "--json"))["lots"]
        assert [lot["id"] for lot in lots] == [1, 2]
        entries = assert_json(cli("--tenant", slug, "ledger", "--json"))["entries"]
        assert [e["lot"] for e in entries] == [1, 2]
