"""Many tenants: ``overview`` (a line each, the most urgent first) and ``--all-tenants`` on balance, report,
recommend and notifications send."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from tests.helpers import assert_error, assert_json, pin_now

ROOT = Path(__file__).resolve().parent.parent
HEADER = "call_id,user,start,duration_seconds,kind,number"


def _tenant(cli, slug: str, *, card: str = "2099-12", topup: str | None = "100", minutes: int = 0,
            autorecharge: tuple[str, str] | None = None, tmp: Path) -> None:
    """A US tenant paying by card; ``minutes`` of calls to Japan on 2026-01-02 (about 0.14 USD a minute)."""
    def ok(*args: str) -> None:
        r = cli("--tenant", slug, *args) if args[0] != "tenant" else cli(*args)
        assert r.exit_code in (0, 4), (slug, args, r.output)

    ok("tenant", "add", slug, "--name", slug.title(), "--country", "US")
    ok("payment", "set", "--card-expiry", "2099-12")
    ok("rates", "load", str(ROOT / "rates" / "default-usd.yaml"))
    ok("admin", "add", f"billing@{slug}.com", "--role", "billing-admin")
    if topup:
        ok("topup", topup)
    if autorecharge:
        ok("autorecharge", "set", "--threshold", autorecharge[0], "--amount", autorecharge[1])
    if card != "2099-12":
        ok("payment", "set", "--card-expiry", card)
    if minutes:
        ok("user", "add", f"ada@{slug}.com", "--country", "US", "--plan", "payg")
        ok("license", "assign", f"ada@{slug}.com")
        path = tmp / f"{slug}.csv"
        path.write_text(HEADER + f"\n{slug}1,ada@{slug}.com,2026-01-02T10:00:00Z,{minutes * 60},outbound,"
                        "+819012345678\n", encoding="utf-8")
        ok("rate-cdrs", str(path))


@pytest.fixture
def many(cli, monkeypatch, tmp_path: Path) -> list[str]:
    pin_now(monkeypatch, "2026-01-03T00:00:00Z")
    _tenant(cli, "quiet", tmp=tmp_path)
    _tenant(cli, "slow", minutes=20, tmp=tmp_path)  # runs out in about 35 days
    _tenant(cli, "fast", minutes=200, tmp=tmp_path)  # about 28 USD of 100: runs out in 2-3 days
    _tenant(cli, "covered", minutes=20, autorecharge=("99", "50"), tmp=tmp_path)
    _tenant(cli, "failing", minutes=20, autorecharge=("99", "50"), card="2025-06", tmp=tmp_path)
    _tenant(cli, "empty", topup=None, tmp=tmp_path)
    return ["empty", "failing", "fast", "slow", "covered", "quiet"]


def test_overview_puts_the_most_urgent_first(cli, many: list[str]) -> None:
    doc = assert_json(cli("overview", "--json"))
    assert [t["tenant"] for t in doc["tenants"]] == many
    lines = {t["tenant"]: t for t in doc["tenants"]}
    assert lines["empty"]["state"].startswith("out of credit")
    assert "expired" in lines["failing"]["state"] and lines["failing"]["purchase_refusal"]
    assert lines["fast"]["state"].startswith("runs out in") and lines["covered"]["state"].startswith("recharges in")
    assert lines["covered"]["autorecharge"] is True and lines["covered"]["threshold"] == "99.0000"
    assert lines["slow"]["last_import"].startswith("2026-01-03") and lines["quiet"]["last_import"] is None
    table = cli("overview")
    assert table.exit_code == 0 and table.stdout.index("empty") < table.stdout.index("quiet")
    rows = list(csv.DictReader(io.StringIO(cli("overview", "-o", "csv").stdout)))
    assert [r["tenant"] for r in rows] == many and rows[0]["balance"] == "0.0000"
    assert [t["tenant"] for t in assert_json(cli("overview", "--limit", "2", "--json"))["tenants"]] == many[:2]


def test_open_alerts_are_counted(cli, many: list[str]) -> None:
    from credits_cli import clock, notify
    from credits_cli import db as dbmod
    from credits_cli.tenants import resolve

    database = dbmod.open_database(os.environ["CREDITS_DB"])

    def queue(s) -> None:
        t = resolve(s, "quiet")
        notify.queue_event(s, t, "balance_zero", clock.now())
        notify.queue_event(s, t, "balance_zero", clock.now())

    database.write(queue)
    quiet = next(t for t in assert_json(cli("overview", "--json"))["tenants"] if t["tenant"] == "quiet")
    assert quiet["open_alerts"] == 2 and quiet["failed_alerts"] == 0


def test_balance_and_recommend_for_every_tenant(cli, many: list[str]) -> None:
    docs = assert_json(cli("balance", "--all-tenants", "--json"))["tenants"]
    assert sorted(d["tenant"] for d in docs) == sorted(many)
    text = cli("balance", "--all-tenants").stdout
    assert all(f"({slug}, as of" in text for slug in many)
    advice = assert_json(cli("recommend", "--all-tenants", "--json"))["tenants"]
    assert sorted(a["tenant"] for a in advice) == sorted(many) and all("one_off" in a for a in advice)
    assert "credits --tenant fast autorecharge set" in cli("recommend", "--all-tenants").stdout


def test_report_for_every_tenant(cli, many: list[str], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book = tmp_path / "all.xlsx"
    folder = tmp_path / "csv"
    doc = assert_json(cli("report", "--all-tenants", "--month", "2026-01", "--xlsx", str(book), "--csv", str(folder),
                          "--json"))
    assert sorted(r["tenant"] for r in doc["tenants"]) == sorted(many)
    assert {r["period"]["from"] for r in doc["tenants"]} == {"2026-01-01"}
    wb = load_workbook(book, read_only=True)
    names = wb.sheetnames
    assert names[0] == "Overview" and "fast Summary" in names and "fast Calls" in names and "quiet Pools" in names
    overview = list(wb["Overview"].iter_rows(values_only=True))
    assert overview[0][0] == "Tenant" and sorted(r[0] for r in overview[1:]) == sorted(many)
    fast = next(r for r in overview[1:] if r[0] == "fast")
    assert fast[7] > 0  # its spend, a number in its own currency's format
    wb.close()
    for slug in many:
        assert (folder / slug / "summary.csv").is_file() and (folder / slug / "calls.csv").is_file()
    lines = list(csv.DictReader((folder / "overview.csv").open(encoding="utf-8")))
    assert sorted(r["tenant"] for r in lines) == sorted(many)
    text = cli("report", "--all-tenants", "--month", "2026-01")
    assert all(f"Report for {slug}" in text.stdout for slug in many)


def test_sheet_names_stay_within_excel_limits() -> None:
    from credits_cli.reports.xlsx import sheet_prefixes

    long = "a-very-long-tenant-slug-that-goes-on"
    prefixes = sheet_prefixes([long, long + "-2", "b"])
    assert len(set(prefixes)) == 3 and prefixes[2] == "b "
    assert all(len(p + "Destinations") <= 31 for p in prefixes)


def test_notifications_send_for_every_tenant(cli, many: list[str]) -> None:
    from tests.smtp import smtp_server

    queued = {slug: len(assert_json(cli("--tenant", slug, "notifications", "--json"))) for slug in many}
    assert sum(queued.values()) > 0
    with smtp_server() as (address, inbox):
        doc = assert_json(cli("notifications", "send", "--all-tenants", "--smtp", address, "--sender",
                              "credits@example.com", "--json"))
    assert doc["sent"] == sum(queued.values()) == len(inbox.accepted)
    assert {t["tenant"]: t["sent"] for t in doc["tenants"]} == queued
    assert doc["failed"] == 0 and doc["not_reached"] == []


def test_all_tenants_on_an_empty_database(cli) -> None:
    assert cli("tenant", "add", "gone", "--name", "Gone", "--country", "US").exit_code == 0
    assert cli("tenant", "remove", "gone", "--yes").exit_code == 0
    assert_error(cli("balance", "--all-tenants"), "no tenant yet")
    assert_error(cli("report", "--all-tenants"), "no tenant yet")
    assert json.loads(cli("overview", "--json").stdout)["tenants"] == []
