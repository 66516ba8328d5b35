"""``credits reconcile``: our charge against Microsoft's, per call, user, destination and in total, with why.

Real files through the real command; a property test that the totals add up whichever way they are
cut (per call = per user = per destination = the total), on Teams exports made up at random.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import assert_json, pin_now

ROOT = Path(__file__).resolve().parent.parent
EXPORTS = Path(__file__).resolve().parent / "exports"
D = Decimal
NOW = "2026-11-27T09:00:00Z"
HEADER = ("UsageId,Call ID,Conference ID,User Location,AAD ObjectId,UPN,User Display Name,Caller ID,Call Type,"
          "Number Type,Domestic/International,Destination Dialed,Destination Number,Start Time,End Time,"
          "Duration Seconds,Connection Fee,Charge,Currency,Capability")


def row(n: int, upn: str, number: str, seconds: int, charge: str, fee: str = "0.00", currency: str = "USD",
        call_type: str = "user_out", capability: str = "MCOPSTNPP") -> str:
    return (f"id-{n:04d},c{n},,US,,{upn},,{number},{call_type},user_geographic,International,,{number},"
            f"2026-11-03T{(n // 60) % 24:02d}:{n % 60:02d}:00Z,2026-11-03T23:59:00Z,{seconds},{fee},{charge},"
            f"{currency},{capability}")


@pytest.fixture
def ready(cli, tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_now(monkeypatch, NOW)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "500").exit_code == 0
    for upn in ("ada@contoso.com", "bob@contoso.com"):
        assert cli("user", "add", upn, "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0  # bob has no license


def test_the_published_export_against_the_default_table(cli, ready) -> None:
    for upn in ("richard.malk@contoso.com", "lise.meitner@contoso.com", "grace.hopper@contoso.com"):
        assert cli("user", "add", upn, "--country", "US", "--plan", "payg").exit_code == 0
        assert cli("license", "assign", upn).exit_code == 0
    assert cli("rate-cdrs", str(EXPORTS / "teams_every_call_type.csv")).exit_code == 0
    doc = assert_json(cli("reconcile", "--json"))
    calls = assert_json(cli("calls", "--json"))["calls"]
    ours = sum(D(c["charge"]) for c in calls if c["kind"] != "carrier")
    assert doc["compared"] == 13 and D(doc["ours"]) == ours and doc["microsoft"] == "9.1100"
    assert D(doc["difference"]) == D("9.11") - ours
    for cut in ("by_user", "by_destination"):
        assert sum(D(x["microsoft"]) for x in doc[cut]) == D("9.11")
        assert sum(D(x["ours"]) for x in doc[cut]) == ours
        assert sum(x["calls"] for x in doc[cut]) == 13
    listed = doc["differences"]
    assert len(listed) == doc["differing"] and all(abs(D(d["difference"])) > D("0.01") for d in listed)
    dial_out = next(d for d in listed if d["kind"] == "dialout")
    assert dial_out["why"].startswith("a different rate") and dial_out["microsoft"] == "8.1600"


def test_why_they_differ(cli, ready, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([
        HEADER,
        row(1, "bob@contoso.com", "+442079460123", 120, "0.05"),  # unlicensed here, charged by Microsoft
        row(2, "ada@contoso.com", "+442079460124", 120, "0.05"),  # ours 0.0460: within the tolerance
        row(3, "ada@contoso.com", "+442079460125", 120, "0.50"),  # a different rate
        row(4, "ada@contoso.com", "+12065550100", 120, "0.00", capability="MCOPSTN1"),  # their plan covered it
        row(5, "ada@contoso.com", "+442079460126", 120, "0.05", currency="EUR"),  # another currency
        row(6, "ada@contoso.com", "+44208", 120, "0.05"),  # too short to place: unrated here
    ]) + "\n")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    doc = assert_json(cli("reconcile", "--json"))
    why = {d["external_id"]: d["why"] for d in doc["differences"]}
    assert why["id-0001"].startswith("denied here: unlicensed")
    assert "id-0002" not in why
    assert why["id-0003"].startswith("a different rate: ours 0.0230 a minute, Microsoft's 0.2500")
    assert why["id-0004"].startswith("a pool we think was used up: Microsoft's MCOPSTN1 covered it")
    assert why["id-0005"].startswith("another currency: Microsoft priced it in EUR")
    assert why["id-0006"].startswith("not charged here: unrated (short_number)")
    assert doc["other_currency"] == 1 and doc["compared"] == 5
    assert doc["reasons"] == {"a different rate": 1, "a pool we think was used up": 1, "denied here": 1,
                              "not charged here": 1}
    wide = assert_json(cli("reconcile", "--tolerance", "1", "--json"))
    assert wide["differing"] == 0 and [d["external_id"] for d in wide["differences"]] == ["id-0005"]
    r = cli("reconcile", "--limit", "2")
    assert r.exit_code == 0 and "showing 2 of 5" in " ".join(r.stdout.split())


def test_the_report_carries_the_reconciliation(cli, ready, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n".join([HEADER, row(1, "ada@contoso.com", "+442079460123", 120, "0.50"),
                               row(2, "bob@contoso.com", "+442079460124", 60, "0.02")]) + "\n")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    out = tmp_path / "r.xlsx"
    doc = assert_json(cli("report", "--month", "2026-11", "--json", "--xlsx", str(out), "--csv", str(tmp_path / "c")))
    rec = doc["reconciliation"]
    assert (rec["compared"], rec["microsoft"]) == (2, "0.5200")
    wb = openpyxl.load_workbook(out)
    sheet = wb["Reconciliation"]
    total = [c.value for c in list(sheet.iter_rows())[-1]]
    assert total[0] == "Total" and total[2] == 2 and D(str(total[4])).quantize(D("0.0001")) == D("0.52")
    calls = list(wb["Reconciliation calls"].iter_rows(min_row=2, values_only=True))
    assert {c[1] for c in calls} == {"id-0001", "id-0002"}
    with (tmp_path / "c" / "reconciliation.csv").open(newline="") as fh:
        last = list(csv.DictReader(fh))[-1]
    assert (last["key"], last["microsoft"]) == ("total", "0.5200")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(
    st.tuples(st.sampled_from(["ada@contoso.com", "bob@contoso.com", "zed@contoso.com", ""]),
              st.sampled_from(["+442079460123", "+12065550100", "+33142685300", "+4915112345678"]),
              st.integers(0, 4000), st.integers(0, 999), st.integers(0, 9)),
    min_size=1, max_size=30))
def test_the_totals_add_up_whichever_way_they_are_cut(cli, tenant, monkeypatch, tmp_path_factory, calls) -> None:
    from tests.helpers import pin_now as pin

    pin(monkeypatch, NOW)
    folder = tmp_path_factory.mktemp("rec")
    slug = f"t{len(list(folder.parent.iterdir()))}"
    assert cli("tenant", "add", slug, "--name", "T", "--country", "US").exit_code == 0
    assert cli("--tenant", slug, "rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("--tenant", slug, "payment", "set", "--invoice").exit_code == 0
    assert cli("--tenant", slug, "topup", "500").exit_code == 0
    assert cli("--tenant", slug, "user", "add", "ada@contoso.com", "--country", "US").exit_code == 0
    assert cli("--tenant", slug, "license", "assign", "ada@contoso.com").exit_code == 0
    lines = [HEADER] + [row(n, upn, number, seconds, f"{cents / 100:.2f}", f"0.0{fee}")
                        for n, (upn, number, seconds, cents, fee) in enumerate(calls)]
    path = folder / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    assert cli("--tenant", slug, "rate-cdrs", str(path)).exit_code in (0, 4)
    doc = json.loads(cli("--tenant", slug, "reconcile", "--tolerance", "0", "--json").stdout)
    theirs = sum(D(cents) / 100 + D(fee) / 100 for _, _, _, cents, fee in calls)
    assert D(doc["microsoft"]) == theirs and doc["compared"] == len(calls)
    for cut in ("by_user", "by_destination"):
        assert sum(D(x["microsoft"]) for x in doc[cut]) == theirs
        assert sum(D(x["ours"]) for x in doc[cut]) == D(doc["ours"])
        assert sum(D(x["difference"]) for x in doc[cut]) == D(doc["difference"])
    per_call = {d["external_id"]: D(d["difference"]) for d in doc["differences"]}
    assert sum(per_call.values()) == D(doc["difference"])  # tolerance 0: every call that differs is listed
