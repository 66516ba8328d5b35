"""Every command runs on the database under test (SQLite, or PostgreSQL with
``CREDITS_TEST_DATABASE_URL``) and reads back what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import pin_now


def ok(cli, *args: str):
    result = cli(*args)
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result


def test_every_command_round_trip(cli, tmp_path: Path, monkeypatch) -> None:
    pin_now(monkeypatch, "2026-11-02T09:00:00Z")
    ok(cli, "tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    ok(cli, "tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "DE", "--currency", "EUR")
    assert [t["slug"] for t in json.loads(ok(cli, "tenant", "list", "--json").stdout)] == ["contoso", "fabrikam"]
    monkeypatch.setenv("CREDITS_TENANT", "contoso")
    assert json.loads(ok(cli, "tenant", "show", "--json").stdout)["currency"] == "USD"

    ok(cli, "admin", "add", "billing@contoso.com", "--role", "billing-admin")
    ok(cli, "admin", "add", "gone@contoso.com", "--role", "billing-admin")
    ok(cli, "admin", "remove", "gone@contoso.com", "--yes")
    assert [a["email"] for a in json.loads(ok(cli, "admin", "list", "--json").stdout)] == ["billing@contoso.com"]

    ok(cli, "user", "add", "ada@contoso.com", "--country", "US", "--plan", "domestic", "--conferencing")
    users_csv = tmp_path / "users.csv"
    users_csv.write_text(
        "upn,name,country,plan,conferencing,licensed\n"
        "bob@contoso.com,Bob,US,none,no,yes\n"
        "cy@contoso.com,Cy,GB,payg,yes,no\n",
        encoding="utf-8",
    )
    ok(cli, "user", "import", str(users_csv))
    listed = {u["upn"]: u for u in json.loads(ok(cli, "user", "list", "--json").stdout)}
    assert set(listed) == {"ada@contoso.com", "bob@contoso.com", "cy@contoso.com"}
    assert listed["ada@contoso.com"]["conferencing"] is True and listed["bob@contoso.com"]["licensed"] is True

    upns = tmp_path / "upns.txt"
    upns.write_text("cy@contoso.com\n", encoding="utf-8")
    ok(cli, "license", "assign", "ada@contoso.com", "--file", str(upns))
    ok(cli, "license", "unassign", "bob@contoso.com")
    licensed = json.loads(ok(cli, "license", "list", "--json").stdout)
    assert sorted(u["upn"] for u in licensed) == ["ada@contoso.com", "cy@contoso.com"]

    ok(cli, "payment", "set", "--card-expiry", "2099-12", "--last4", "4242")
    assert json.loads(ok(cli, "payment", "show", "--json").stdout)["purchases_allowed"] is True
    ok(cli, "autorecharge", "set", "--threshold", "20", "--amount", "50")
    assert json.loads(ok(cli, "autorecharge", "show", "--json").stdout)["enabled"] is True
    ok(cli, "autorecharge", "off")
    ok(cli, "topup", "120.5", "--note", "first")
    doc = json.loads(ok(cli, "balance", "--json").stdout)
    assert doc["balance"] == "120.5000" and doc["lots"][0]["remaining"] == "120.5000"
    entries = json.loads(ok(cli, "ledger", "--from", "2026-11-01", "--to", "2026-11-30", "--json").stdout)
    assert [e["kind"] for e in entries["entries"]] == ["topup"]
    assert json.loads(ok(cli, "verify", "--json").stdout)["ok"] is True
    assert json.loads(ok(cli, "notifications", "--json").stdout) == []
    ok(cli, "payment", "set", "--invoice")
    ok(cli, "--tenant", "fabrikam", "payment", "set", "--invoice")
    ok(cli, "--tenant", "fabrikam", "topup", "50")
    assert json.loads(ok(cli, "--tenant", "fabrikam", "balance", "--json").stdout)["balance"] == "50.0000"
    assert json.loads(ok(cli, "balance", "--json").stdout)["balance"] == "120.5000"
