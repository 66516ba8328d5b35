"""The outbox as the `notifications` command shows it, fed by real ledger events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from credits_cli import db as dbmod
from credits_cli import ledger, tenants
from tests.helpers import assert_error, assert_json, db_path, pin_now, rows

T0 = datetime(2026, 5, 1, 10, 0)


def charge(amount: str, at: datetime) -> None:
    database = dbmod.open_database(db_path())

    def work(s):  # type: ignore[no-untyped-def]
        acc = ledger.Account.load(s, tenants.resolve(s, None))
        acc.prepare(at)
        if acc.can_charge():
            acc.charge(Decimal(amount), at)
        acc.flush()

    database.write(work)


def test_empty_outbox(cli, tenant) -> None:
    r = cli("notifications")
    assert r.exit_code == 0 and "the outbox is empty" in r.stdout
    assert assert_json(cli("notifications", "--json")) == []


def test_recharge_and_zero_events_reach_the_outbox(cli, tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("topup", "60").exit_code == 0
    assert cli("autorecharge", "set", "--threshold", "10", "--amount", "50").exit_code == 0
    pin_now(monkeypatch, "2026-06-03T08:30:00Z")  # May's calls rated in June
    charge("55", T0)  # 5 left < 10: recharge succeeds
    doc = assert_json(cli("notifications", "--json"))
    assert [(d["event"], d["recipient"], d["status"]) for d in doc] == [
        ("recharge_succeeded", "billing@contoso.com", "queued")
    ]
    assert doc[0]["subject"] == "[contoso] Communications Credits recharged"
    assert doc[0]["created_at"] == "2026-06-03T08:30:00Z"  # queued now; the body says when it happened
    (body,) = rows("SELECT body FROM notifications")[0]
    assert "Happened at: 2026-05-01 10:00 UTC" in body
    assert cli("autorecharge", "off").exit_code == 0
    charge("56", T0 + timedelta(minutes=1))  # 55 -> -1: zero crossing
    charge("1", T0 + timedelta(minutes=2))  # denied: no new event
    events = [d["event"] for d in assert_json(cli("notifications", "--json"))]
    assert events == ["recharge_succeeded", "balance_zero"]
    (body,) = rows("SELECT body FROM notifications WHERE event = 'balance_zero'")[0]
    assert "-1.00 USD" in body and "Toll-free" in body
    r = cli("notifications")
    assert r.exit_code == 0 and "outbox" in r.stdout and "queued" in r.stdout


def test_status_filter(cli, tenant) -> None:
    assert cli("topup", "60").exit_code == 0
    charge("61", T0)
    assert len(assert_json(cli("notifications", "--status", "queued", "--json"))) == 1
    assert assert_json(cli("notifications", "--status", "sent", "--json")) == []


def test_every_admin_gets_a_row(cli, tenant) -> None:
    assert cli("admin", "add", "a@contoso.com", "--role", "global-admin").exit_code == 0
    assert cli("admin", "add", "b@contoso.com", "--role", "teams-communications-admin").exit_code == 0
    assert cli("topup", "60").exit_code == 0
    charge("60", T0)
    assert sorted(r for (r,) in rows("SELECT recipient FROM notifications")) == [
        "a@contoso.com", "b@contoso.com", "billing@contoso.com"
    ]


@pytest.mark.parametrize("tenant_arg", ["nope"])
def test_unknown_tenant(cli, tenant, tenant_arg: str) -> None:
    assert_error(cli("--tenant", tenant_arg, "notifications"), "no tenant")


def test_unknown_status_refused(cli, tenant) -> None:
    """A choice Typer knows: bad usage (exit 2), naming every state."""
    r = cli("notifications", "--status", "bogus")
    assert r.exit_code == 2
    assert all(state in r.stderr for state in ("queued", "sending", "sent", "no_recipient"))
