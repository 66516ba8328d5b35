"""`credits report`, `recommend` and the runway of `balance`, end to end on a real SQLite file."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest

from tests import reportdata
from tests.helpers import assert_error, pin_now

D = Decimal


@pytest.fixture
def seeded(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed()


def test_report_terminal(cli, seeded):
    r = cli("report", "--month", "2026-11")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "Report for contoso (Contoso), 2026-11-01 to 2026-11-30" in out
    assert "Opening balance" in out and "98.50 USD" in out
    assert "Closing balance" in out and "146.0748 USD" in out
    assert "Funding: top-ups (1)" in out and "50.00 USD" in out
    for kind in ("outbound", "dialout", "tollfree"):
        assert kind in out
    assert "2.4252 USD" in out
    assert "Denied calls: 2" in out and "unlicensed" in out and "no_balance" in out
    assert "Pool use" in out and "80.0 %" in out
    assert "Top users" in out and "bob@contoso.com" in out
    assert "Top destinations" in out and "US toll-free" in out
    assert "Daily spend" in out
    line = next(x for x in out.splitlines() if x.startswith("2026-11-05"))
    assert "█" * 40 in line and "1.2345 USD" in line  # the peak day fills the bar
    half = next(x for x in out.splitlines() if x.startswith("2026-11-07"))
    assert half.count("█") == 21  # 0.66 / 1.2345 of 40 cells


def test_report_json(cli, seeded):
    r = cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["opening"] == "98.5000" and doc["closing"] == "146.0748"
    assert doc["spend"] == "2.4252" and doc["funding"] == "50.0000" and doc["check"] == "0.0000"
    assert doc["period"] == {"from": "2026-11-01", "to": "2026-11-30", "days": 30}
    assert {k["kind"]: k["spend"] for k in doc["by_kind"]} == {
        "outbound": "0.5307", "dialout": "0.6600", "tollfree": "1.2345"}
    assert doc["daily"][4] == {
        "day": "2026-11-05", "calls": 2, "charged_calls": 1, "denied_calls": 1, "charged_seconds": 4115,
        "spend": "1.2345", "funding": "0.0000", "expired": "0.0000", "other": "0.0000",
        "closing": "96.7355",  # 98.50 - 0.53 - 1.2345
        "charges_posted": "1.2345",
    }
    assert doc["generated_at"] == "2026-11-30T12:00:00Z"


def test_with_no_dates_the_latest_month_with_calls(cli, seeded):
    doc = json.loads(cli("report", "--json").stdout)
    assert doc["period"] == {"from": "2026-12-01", "to": "2026-12-31", "days": 31}  # the last call is on 1 December
    assert "latest month with calls" in doc["period_reason"] and "2026-12-01" in doc["period_reason"]
    r = cli("report")
    assert "the latest month with calls" in " ".join(r.stdout.split())


def test_report_other_period(cli, seeded):
    doc = json.loads(cli("report", "--from", "2026-12-01", "--json").stdout)
    assert doc["period"]["to"] == "2026-12-31"
    assert doc["opening"] == "146.0748" and doc["spend"] == "9.0000" and doc["closing"] == "137.0748"


def test_report_csv(cli, seeded, tmp_path):
    folder = tmp_path / "out"
    r = cli("report", "--month", "2026-11", "--csv", str(folder))
    assert r.exit_code == 0, r.stderr
    assert "wrote 9 CSV files" in r.stdout
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([".credits-report"] + [f"{n}.csv" for n in (
        "summary", "daily", "users", "destinations", "pools", "ledger", "calls", "reconciliation",
        "reconciliation_calls")])
    with (folder / "calls.csv").open(newline="") as fh:
        calls = list(csv.DictReader(fh))
    assert len(calls) == 9
    assert sum(D(c["charge"]) for c in calls) == D("2.4252")
    assert calls[0]["number"] == "'+447700900123"  # CSV injection guard on text starting with +
    assert calls[0]["start"] == "2026-11-02T09:00:00Z"
    with (folder / "ledger.csv").open(newline="") as fh:
        ledger_rows = list(csv.DictReader(fh))
    assert ledger_rows[-1]["balance"] == "146.0748"
    assert ledger_rows[0]["amount"] == "-0.5300"  # two charges in a row; numbers are never prefixed
    assert ledger_rows[0]["entries"] == "2"
    with (folder / "summary.csv").open(newline="") as fh:
        summary = {(row["section"], row["item"]): row["value"] for row in csv.DictReader(fh)}
    assert summary[("Balance", "Closing balance")] == "146.0748"
    with (folder / "daily.csv").open(newline="") as fh:
        daily = list(csv.DictReader(fh))
    assert sum(D(d["spend"]) for d in daily) == D("2.4252")


def test_report_csv_never_overwrites_files_it_did_not_write(cli, seeded, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    mine = folder / "calls.csv"  # the name of the project's own input format
    mine.write_text("call_id,user,start,duration_seconds,kind,number\nc1,a@b.c,2026-11-01T00:00:00Z,60,outbound,+1\n")
    before = mine.read_bytes()
    assert_error(cli("report", "--csv", str(folder)), "already holds calls.csv")
    assert mine.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["calls.csv"]
    # a folder an earlier report wrote is written again
    again = tmp_path / "monthly"
    assert cli("report", "--csv", str(again)).exit_code == 0
    assert cli("report", "--csv", str(again)).exit_code == 0


def test_report_csv_is_all_or_nothing(cli, seeded, tmp_path, monkeypatch):
    from credits_cli.reports import csv as report_csv

    real = report_csv.safe

    def breaks(value):
        if value == "+447700900123":
            raise OSError(28, "No space left on device")
        return real(value)

    monkeypatch.setattr(report_csv, "safe", breaks)
    folder = tmp_path / "out"
    assert_error(cli("report", "--month", "2026-11", "--csv", str(folder)), "no space left on device")
    assert list(folder.iterdir()) == []


def test_report_outputs_never_overwrite_the_database(cli, seeded, tmp_path):
    from tests.helpers import db_path, dump

    database = db_path()
    before = dump()
    link = tmp_path / "r.xlsx"
    link.symlink_to(database)
    assert_error(cli("report", "--xlsx", str(link)), "is the database")
    assert dump() == before


def test_csv_hostile_names(cli, tenant, monkeypatch, tmp_path):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    names = ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "plain"]
    calls = [reportdata.CallSpec(datetime(2026, 11, 3, 9, n), name, "outbound", "442079460000", "charged",
                                 D("0.0100"), "GB", "44", name) for n, name in enumerate(names)]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 11, 1), D("50"))], users_too=False, pools=False)
    assert cli("report", "--csv", str(tmp_path)).exit_code == 0
    with (tmp_path / "users.csv").open(newline="") as fh:
        users = {row["user"] for row in csv.DictReader(fh)}
    assert users == {"'" + n for n in names[:-1]} | {"plain"}
    with (tmp_path / "destinations.csv").open(newline="") as fh:
        assert {row["destination"] for row in csv.DictReader(fh)} == users


def test_report_xlsx(cli, seeded, tmp_path):
    out = tmp_path / "november.xlsx"
    r = cli("report", "--month", "2026-11", "--xlsx", str(out))
    assert r.exit_code == 0, r.stderr
    assert f"wrote {out}" in r.stdout
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Daily", "Users", "Destinations", "Pools", "Ledger", "Calls",
                             "Reconciliation", "Reconciliation calls"]
    summary = {row[1].value: row[2].value for row in wb["Summary"].iter_rows(min_row=2)}
    assert D(str(summary["Closing balance"])) == D("146.0748")


def test_report_json_with_files(cli, seeded, tmp_path):
    r = cli("report", "--month", "2026-11", "--json", "--xlsx", str(tmp_path / "r.xlsx"), "--csv",
            str(tmp_path / "c"))
    doc = json.loads(r.stdout)
    assert doc["written"]["xlsx"]["calls"] == 9
    assert doc["written"]["csv"]["rows"]["calls"] == 9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-11-31"], "not a date"),
        (["--from", "2026-11-10", "--to", "2026-11-01"], "before"),
        (["--xlsx", "/nonexistent-folder/r.xlsx"], "does not exist"),
        (["--xlsx", "report.csv"], ".xlsx"),
    ],
)
def test_report_bad_input(cli, seeded, args, message):
    r = cli("report", *args)
    assert r.exit_code == 1
    assert message in r.stderr and r.stderr.strip().count("\n") == 0
    assert "Traceback" not in r.output and r.stdout == ""


def test_balance_shows_runway(cli, seeded):
    assert cli("autorecharge", "set", "--threshold", "100", "--amount", "50").exit_code == 0
    r = cli("balance")
    assert r.exit_code == 0, r.stderr
    # The imported calls run from 20 October to 1 December: the last 30 of those days, 2 November to 1 December,
    # hold 2.4252 + 9.0000 = 11.4252 of charges: 0.3808 a day. The balance 137.0748 includes December's 9.00.
    assert "runway: at 0.3808 USD a day (average of the 30 day(s) from 2026-11-02 to 2026-12-01" in r.stdout
    doc = json.loads(cli("balance", "--json").stdout)
    rw = doc["runway"]
    assert rw["daily_spend"] == "0.3808" and rw["window_days"] == 30
    assert (rw["observed_from"], rw["observed_to"]) == ("2026-11-02", "2026-12-01")
    assert rw["days_to_zero"] == "359.9"  # 137.0748 / 0.3808 = 359.96, rounded down
    assert rw["days_to_threshold"] == "97.3"  # (137.0748 - 100) / 0.3808 = 97.36


def test_terminal_never_passes_control_characters(cli, tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    evil = "mallory\x1b[2J\x07[bold]x[/bold]@contoso.com"
    calls = [reportdata.CallSpec(datetime(2026, 11, 3, 9, 0), evil, "outbound", "442079460000", "charged",
                                 D("0.0100"), "GB", "44", "[red]UK")]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 11, 1), D("50"))], users_too=False, pools=False)
    r = cli("report")
    assert r.exit_code == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "mallory\ufffd[2J\ufffd" in r.stdout and "[bold]x[/bold]" in r.stdout  # shown, not obeyed
    assert "[red]UK" in r.stdout


def test_recommend_cli(cli, tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    r = cli("recommend")
    assert r.exit_code == 0, r.stderr
    assert "one-off amount:  50.00 USD" in r.stdout
    assert "trigger:         13.00 USD" in r.stdout
    assert "recharge amount: 50.00 USD" in r.stdout
    assert "method: no usage yet" in r.stdout
    assert "credits autorecharge set --threshold 13 --amount 50; credits topup 50" in r.stdout
    calls = [reportdata.CallSpec(datetime(2026, 11, d, 10), "alice@contoso.com", "outbound", "+442079460000",
                                 "charged", D(a), "GB", "44", "United Kingdom") for d, a in ((1, "10"), (20, "25"))]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 10, 31), D("100"))], pools=False)
    doc = json.loads(cli("recommend", "--json").stdout)
    assert doc["basis"] == "usage"
    # 35 over 1-20 November (the imported calls): 1.75 a day, 52.50 a month -> 53; balance 100 - 35 = 65 < 25 + 53:
    # 13 short, raised to the minimum purchase
    assert (doc["trigger"], doc["recharge"], doc["one_off"]) == ("25.0000", "53.0000", "50.0000")
    assert doc["observed_days"] == 20 and doc["average_daily"] == "1.7500"  # 35 / 20
    assert doc["peak_day_date"] == "2026-11-20" and len(doc["reasoning"]) >= 4
