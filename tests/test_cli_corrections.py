"""Corrections with a trail: tenant edit/remove, user edit/remove (dated, kept, brought back), rates
activate, admin remove; removals confirm on a terminal and take --yes; every correction leaves lines in
``changes`` (what, from what to what, when, who) and ``tenant show`` lists the latest."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_error, assert_json, dump, pin_now, rows

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def operator(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("USER", "ops-anna")
    return "ops-anna"


# --- tenant edit ----------------------------------------------------------------------------


def test_tenant_edit_changes_what_is_given_and_keeps_a_trail(cli, tenant) -> None:
    doc = assert_json(cli("tenant", "edit", "--name", "Contoso Ltd", "--json"))
    assert doc["name"] == "Contoso Ltd" and doc["country"] == "US"
    assert doc["changed"] == [{"field": "name", "old": "Contoso", "new": "Contoso Ltd"}]
    r = cli("tenant", "edit", "contoso", "--country", "gb", "--billing-country", "GB")
    assert r.exit_code == 0 and "country: US -> GB" in r.stdout
    trail = assert_json(cli("changes", "--json"))
    assert [(c["command"], c["field"], c["old"], c["new"], c["actor"]) for c in trail] == [
        ("tenant edit", "name", "Contoso", "Contoso Ltd", "ops-anna"),
        ("tenant edit", "country", "US", "GB", "ops-anna"),
        ("tenant edit", "billing_country", "US", "GB", "ops-anna"),
    ]
    shown = assert_json(cli("tenant", "show", "--json"))
    assert shown["recent_changes"][0]["field"] == "billing_country"  # the latest first
    table = cli("tenant", "show")
    assert "latest corrections" in table.stdout and "Contoso Ltd" in table.stdout
    assert "nothing to change" in assert_error(cli("tenant", "edit"))


def test_region_mismatch_is_warned_at_add_and_fixed_by_edit(cli) -> None:
    r = cli("tenant", "add", "acme", "--name", "Acme", "--country", "RU", "--billing-country", "US")
    assert r.exit_code == 0
    assert "purchases will be refused" in r.stderr and "tenant edit acme" in r.stderr
    doc = assert_json(cli("tenant", "add", "beta", "--name", "B", "--country", "DE", "--billing-country", "US",
                          "--json"))
    assert doc["warnings"] and "different regions" in doc["warnings"][0]
    fixed = cli("tenant", "edit", "acme", "--billing-country", "RU")
    assert fixed.exit_code == 0 and fixed.stderr == ""
    shown = assert_json(cli("--tenant", "acme", "tenant", "show", "--json"))
    assert "different regions" not in (shown["purchase_refusal"] or "")


def test_currency_changes_only_while_nothing_is_booked(cli, tenant, monkeypatch) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    r = cli("tenant", "edit", "--currency", "EUR")
    assert r.exit_code == 0 and "no longer active" in r.stderr
    assert assert_json(cli("tenant", "show", "--json"))["currency"] == "EUR"
    assert rows("SELECT active FROM rate_tables") == [(0,)]
    assert cli("tenant", "edit", "--currency", "USD").exit_code == 0
    assert cli("autorecharge", "set", "--threshold", "25", "--amount", "50").exit_code == 0
    assert_error(cli("tenant", "edit", "--currency", "EUR"), "autorecharge off")
    assert cli("autorecharge", "off").exit_code == 0
    assert cli("topup", "60").exit_code == 0
    before = dump()
    assert_error(cli("tenant", "edit", "--currency", "EUR"), "1 ledger entries", "cannot change")
    assert dump() == before


# --- tenant remove --------------------------------------------------------------------------


def test_tenant_remove_needs_yes_without_a_terminal(cli, tenant) -> None:
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "DE", "--currency", "EUR").exit_code == 0
    before = dump()
    err = assert_error(cli("tenant", "remove", "fabrikam"), "--yes", "nothing removed")
    assert "remove tenant fabrikam" in err
    assert dump() == before
    doc = assert_json(cli("tenant", "remove", "fabrikam", "--yes", "--json"))
    assert doc["removed"] == "fabrikam"
    assert [t["slug"] for t in assert_json(cli("tenant", "list", "--json"))] == ["contoso"]


def test_tenant_with_books_needs_force_and_goes_whole(cli, tenant, monkeypatch) -> None:
    pin_now(monkeypatch, "2026-11-05T10:00:00Z")
    for args in (("user", "import", str(ROOT / "examples" / "users.csv")),
                 ("rates", "load", str(ROOT / "rates" / "default-usd.yaml")), ("topup", "100"),
                 ("rate-cdrs", str(ROOT / "examples" / "PSTN.calls.2026-10-01.csv")),
                 ("tenant", "add", "other", "--name", "Other", "--country", "US"),
                 ("--tenant", "other", "user", "add", "x@other.com", "--country", "US")):
        assert cli(*args).exit_code == 0, args
    before = dump()
    assert_error(cli("tenant", "remove", "contoso", "--yes"), "ledger entries", "--force")
    assert dump() == before
    r = cli("tenant", "remove", "contoso", "--force", "--yes")
    assert r.exit_code == 0, r.output
    for table in ("ledger", "lots", "calls", "call_guards", "users", "admins", "rate_tables", "notifications",
                  "imports", "user_history", "pool_usage", "payment_methods"):
        owners = {t for (t,) in rows(f"SELECT DISTINCT tenant_id FROM {table}")} if table != "rate_tables" else set()
        assert 1 not in owners, table
    assert rows("SELECT count(*) FROM rate_entries") == [(0,)]
    assert rows("SELECT count(*) FROM users") == [(1,)]  # the other tenant's user stays
    # the trail outlives the tenant: its lines and the removal itself, by slug
    trail = assert_json(cli("changes", "--all-tenants", "--json"))
    assert trail[-1]["command"] == "tenant remove" and trail[-1]["tenant"] == "contoso"
    assert trail[-1]["tenant_removed"] is True and trail[-1]["actor"] == "ops-anna"
    assert assert_json(cli("--tenant", "other", "changes", "--json")) == []


# --- user edit / remove / back ------------------------------------------------------------------


def test_user_add_updates_only_what_it_is_given(cli, tenant) -> None:
    assert cli("user", "add", "ada@contoso.com", "--country", "GB", "--plan", "domestic", "--conferencing",
               "--name", "Ada").exit_code == 0
    doc = assert_json(cli("user", "add", "ada@contoso.com", "--plan", "payg", "--json"))
    assert (doc["country"], doc["plan"], doc["conferencing"], doc["name"]) == ("GB", "payg", True, "Ada")
    assert doc["changed"] == [{"field": "plan", "old": "domestic", "new": "payg"}]
    doc = assert_json(cli("user", "edit", "ada@contoso.com", "--name", "Ada King", "--json"))
    assert (doc["plan"], doc["name"], doc["conferencing"]) == ("payg", "Ada King", True)
    trail = assert_json(cli("changes", "--json"))
    assert [(c["command"], c["field"]) for c in trail] == [("user add", "plan"), ("user edit", "name")]
    assert_error(cli("user", "edit", "nobody@contoso.com", "--plan", "payg"), "no user", "user add")
    assert_error(cli("user", "edit", "ada@contoso.com"), "nothing to change")


def test_user_remove_is_dated_kept_and_undone_by_adding_again(cli, tenant, monkeypatch, tmp_path: Path) -> None:
    pin_now(monkeypatch, "2026-01-01T00:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    pin_now(monkeypatch, "2026-01-20T00:00:00Z")
    before = dump()
    assert_error(cli("user", "remove", "ada@contoso.com", "--at", "2026-01-10"), "--yes")
    assert dump() == before
    r = cli("user", "remove", "ada@contoso.com", "--at", "2026-01-10", "--yes")
    assert r.exit_code == 0 and "2026-01-10" in r.stdout
    assert assert_json(cli("user", "list", "--json")) == []
    listed = assert_json(cli("user", "list", "--removed", "--json"))
    assert listed[0]["removed_at"] == "2026-01-10T00:00:00Z" and listed[0]["licensed"] is False
    held = assert_json(cli("user", "list", "--removed", "--at", "2026-01-05", "--json"))
    assert held[0]["licensed"] is True and held[0]["plan"] == "payg"  # before the removal: as they were
    path = tmp_path / "calls.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "a1,ada@contoso.com,2026-01-05T10:00:00Z,60,outbound,+442079460123\n"
                    "a2,ada@contoso.com,2026-01-15T10:00:00Z,60,outbound,+442079460123\n", encoding="utf-8")
    assert cli("rate-cdrs", str(path)).exit_code == 0
    rated = {c["external_id"]: c for c in assert_json(cli("calls", "--json"))["calls"]}
    assert rated["a1"]["status"] == "charged" and rated["a1"]["user"] == "ada@contoso.com"
    assert (rated["a2"]["status"], rated["a2"]["reason"]) == ("denied", "unlicensed")  # after the removal
    assert_error(cli("license", "assign", "ada@contoso.com"), "was removed", "user add")
    assert_error(cli("user", "remove", "ada@contoso.com", "--yes"), "already removed")
    back = cli("user", "add", "ada@contoso.com", "--plan", "domestic")
    assert back.exit_code == 0 and "brought back" in back.stdout and "license assign" in back.stdout
    assert [u["upn"] for u in assert_json(cli("user", "list", "--json"))] == ["ada@contoso.com"]
    trail = [(c["command"], c["new"]) for c in assert_json(cli("changes", "--json"))]
    assert ("user remove", "removed from 2026-01-10T00:00:00Z") in trail and ("user add", "brought back") in trail


def test_user_import_brings_a_removed_user_back(cli, tenant, tmp_path: Path) -> None:
    assert cli("user", "add", "ada@contoso.com", "--country", "US").exit_code == 0
    assert cli("user", "remove", "ada@contoso.com", "--yes").exit_code == 0
    users = tmp_path / "users.csv"
    users.write_text("upn,country,plan\nada@contoso.com,US,payg\n", encoding="utf-8")
    dry = assert_json(cli("user", "import", str(users), "--dry-run", "--json"))
    assert dry["restored"] == 1 and "brought back" in dry["changes"][0]
    doc = assert_json(cli("user", "import", str(users), "--json"))
    assert doc["restored"] == 1
    assert [u["plan"] for u in assert_json(cli("user", "list", "--json"))] == ["payg"]
    assert assert_json(cli("changes", "--json"))[-1]["command"] == "user import"


# --- rates activate, admin remove -----------------------------------------------------------


def test_rates_activate_goes_back_to_an_earlier_table(cli, tenant, tmp_path: Path) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    cheaper = tmp_path / "cheap.yaml"
    cheaper.write_text('name: cheap\ncurrency: USD\noutbound:\n  - {prefix: "44", name: UK, per_minute: "0.0100"}\n',
                       encoding="utf-8")
    assert cli("rates", "load", str(cheaper)).exit_code == 0
    assert assert_json(cli("rates", "quote", "+442079460123", "--json"))["table"] == "cheap"
    doc = assert_json(cli("rates", "activate", "default-usd-2026", "--json"))
    assert doc["name"] == "default-usd-2026" and doc["previous"] == "cheap"
    assert assert_json(cli("rates", "quote", "+442079460123", "--json"))["table"] == "default-usd-2026"
    assert cli("rates", "activate", "2").exit_code == 0  # by the id rates list shows
    assert [t["active"] for t in assert_json(cli("rates", "list", "--json"))["tables"]] == [False, True]
    assert_error(cli("rates", "activate", "nope"), "no rate table 'nope'", "default-usd-2026", "cheap")
    trail = [c for c in assert_json(cli("changes", "--json")) if c["command"] == "rates activate"]
    assert [(c["old"], c["new"]) for c in trail] == [("cheap (#2)", "default-usd-2026 (#1)"),
                                                     ("default-usd-2026 (#1)", "cheap (#2)")]


def test_admin_remove_confirms_like_the_others(cli, tenant) -> None:
    before = dump()
    assert_error(cli("admin", "remove", "billing@contoso.com"), "--yes")
    assert dump() == before
    assert cli("admin", "remove", "billing@contoso.com", "--yes").exit_code == 0
    assert assert_json(cli("admin", "list", "--json")) == []
    assert_error(cli("admin", "remove", "billing@contoso.com", "--yes"), "not an admin")
    last = assert_json(cli("changes", "--json"))[-1]
    assert (last["command"], last["target"], last["old"]) == ("admin remove", "billing@contoso.com", "billing-admin")


def test_corrections_of_money_are_in_the_trail(cli, tenant) -> None:
    assert cli("topup", "500").exit_code == 0
    assert cli("adjust", "-450", "--reason", "typo: 50", "--lot", "1").exit_code == 0
    assert cli("balance", "assert", "40", "--adjust").exit_code == 0
    trail = [(c["command"], c["old"], c["new"]) for c in assert_json(cli("changes", "--json"))]
    assert trail == [("adjust", "500.0000", "50.0000"), ("balance assert --adjust", "50.0000", "40.0000")]


# --- on a terminal ----------------------------------------------------------------------------


def _on_a_terminal(args: list[str], answer: bytes, db: str) -> tuple[int, str]:
    """Run the real command in a pseudo-terminal, answer its question, return (exit code, what it printed)."""
    import pty
    import select
    import subprocess

    leader, follower = pty.openpty()
    env = dict(os.environ, CREDITS_DB=db, PYTHONPATH=str(ROOT), COLUMNS="100")
    proc = subprocess.Popen([sys.executable, "-m", "credits_cli", *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    seen = b""
    sent = False
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not sent and b"[y/N]" in seen:
            os.write(leader, answer)
            sent = True
    os.close(leader)
    return proc.wait(timeout=30), seen.decode("utf-8", "replace")


def test_removal_asks_on_a_terminal(cli, tenant) -> None:
    db = os.environ["CREDITS_DB"]  # a file, or the test's own schema on the server
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "DE", "--currency", "EUR").exit_code == 0
    code, text = _on_a_terminal(["tenant", "remove", "fabrikam"], b"n\n", db)
    assert code == 1 and "remove tenant fabrikam" in text and "not confirmed" in text
    assert len(json.loads(cli("tenant", "list", "--json").stdout)) == 2
    code, text = _on_a_terminal(["tenant", "remove", "fabrikam"], b"y\n", db)
    assert code == 0 and "removed tenant fabrikam" in text
    assert [t["slug"] for t in json.loads(cli("tenant", "list", "--json").stdout)] == ["contoso"]
