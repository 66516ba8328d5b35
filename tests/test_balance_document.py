"""``balance`` answers from stdlib sqlite3 when it can: the same document (one builder) as the full path."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from credits_cli import balance, clock
from tests import reportdata
from tests.helpers import pin_now

sqlite_only = pytest.mark.skipif(
    "postgresql" in (__import__("os").environ.get("CREDITS_TEST_DATABASE_URL") or ""),
    reason="the fast start reads SQLite files only",
)


def fast_doc(db: str, slug: str | None) -> dict | None:
    return balance.fast_document(db, slug, clock.now())


def _both(cli, monkeypatch, *global_args):
    fast = cli(*global_args, "balance", "--json")
    monkeypatch.setenv("CREDITS_NO_QUICK", "1")
    slow = cli(*global_args, "balance", "--json")
    monkeypatch.delenv("CREDITS_NO_QUICK")
    assert fast.exit_code == 0, fast.output
    assert slow.exit_code == 0, slow.output
    return json.loads(fast.stdout), json.loads(slow.stdout)


@sqlite_only
def test_fast_balance_equals_full_path(cli, tenant, monkeypatch, isolated_db):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed()
    assert cli("autorecharge", "set", "--threshold", "20", "--amount", "50").exit_code == 0
    assert fast_doc(isolated_db, None) is not None  # this case is served by the fast start
    fast, slow = _both(cli, monkeypatch)
    assert fast == slow
    assert fast["runway"]["daily_spend"] != "0.0000"  # the runway is really computed from charges
    assert len(fast["lots"]) >= 2


@sqlite_only
def test_fast_path_steps_aside(cli, tenant, monkeypatch, isolated_db):
    pin_now(monkeypatch, "2026-01-10T00:00:00Z")
    assert cli("topup", "60").exit_code == 0
    # a year later the lot must be written off: only the full path may answer (it writes the expiry)
    pin_now(monkeypatch, "2027-02-01T00:00:00Z")
    assert fast_doc(isolated_db, None) is None
    fast, slow = _both(cli, monkeypatch)
    assert fast["balance"] == slow["balance"] == "0.0000"
    # two tenants and no --tenant: the full path gives the error
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "GB", "--currency", "GBP").exit_code == 0
    assert fast_doc(isolated_db, None) is None
    assert fast_doc(isolated_db, "fabrikam") is not None
    r = cli("balance")
    assert r.exit_code == 1 and "several tenants" in r.stderr
    # a database that does not exist yet is never created by the fast start
    assert fast_doc(str(isolated_db) + ".missing", None) is None


@sqlite_only
def test_fast_balance_matches_after_charges_and_settings_off(cli, tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed(topups=[(datetime(2026, 11, 1), reportdata.D("50"))])
    assert cli("autorecharge", "set", "--threshold", "20", "--amount", "50").exit_code == 0
    assert cli("autorecharge", "off").exit_code == 0
    fast, slow = _both(cli, monkeypatch, "--tenant", "contoso")
    assert fast == slow
    assert fast["autorecharge"]["enabled"] is False
