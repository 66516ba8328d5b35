"""Every test gets its own SQLite file: no test touches a real user's data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner

from credits_cli import clock, i18n, refdata
from credits_cli import db as dbmod

# No deadlines: these machines are shared and noisy, and the first example of a test pays for
# loading data (phonenumbers' metadata) that the next ones find loaded. Speed is bench/'s business.
settings.register_profile("credits", deadline=None)
settings.load_profile("credits")


@pytest.fixture(autouse=True)
def isolated_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = os.environ.get("CREDITS_TEST_DATABASE_URL")
    if url:
        from tests.pg import fresh_schema_url  # PostgreSQL run: a fresh schema per test

        value = fresh_schema_url(url)
    else:
        value = str(tmp_path / "credits.db")
    monkeypatch.setenv("CREDITS_DB", value)
    for name in ("CREDITS_TENANT", "CREDITS_NOW", "CREDITS_SMTP", "CREDITS_SENDER",
                 "CREDITS_SMTP_USER", "CREDITS_SMTP_PASSWORD", "CREDITS_SMTP_CAFILE", "CREDITS_LANG",
                 "LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")  # English, whatever the machine's locale
    dbmod._opened.clear()
    yield value
    for database in dbmod._opened.values():
        database.dispose()
    dbmod._opened.clear()
    # What the last command read from the environment (the clock, the service data folder) ends with the test.
    clock.pin(None)
    refdata.use_folder(None)
    i18n.use(None)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cli(runner: CliRunner):
    """Run the real app: cli("topup", "100") -> Result (stdout and stderr apart)."""
    from credits_cli.cli.app import app

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def tenant(cli):
    """A US tenant paying by card, with one admin."""
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert cli("payment", "set", "--card-expiry", "2099-12", "--last4", "4242").exit_code == 0
    assert cli("admin", "add", "billing@contoso.com", "--role", "billing-admin").exit_code == 0
    return "contoso"


@pytest.fixture
def office(cli, tenant, monkeypatch: pytest.MonkeyPatch) -> str:
    """The examples' organisation after a month: 13 users, the default rate table, a top-up, auto-recharge
    (one recharge, one message in the outbox), October's PSTN export rated, a second tenant with a Chinese
    name; the clock in early November."""
    from tests.helpers import pin_now

    root = Path(__file__).resolve().parent.parent
    pin_now(monkeypatch, "2026-11-05T10:00:00Z")
    for args in (
        ("user", "import", str(root / "examples" / "users.csv")),
        ("rates", "load", str(root / "rates" / "default-usd.yaml")),
        ("topup", "100"),
        ("autorecharge", "set", "--threshold", "95", "--amount", "50"),  # a recharge: the outbox has mail
        ("rate-cdrs", str(root / "examples" / "PSTN.calls.2026-10-01.csv")),
        ("tenant", "add", "fabrikam", "--name", "法布里卡姆 Fabrikam", "--country", "CN", "--currency", "CNY"),
    ):
        result = cli(*(("--tenant", "contoso") if args[0] != "tenant" else ()), *args)
        assert result.exit_code == 0, (args, result.output)
    monkeypatch.setenv("CREDITS_TENANT", "contoso")
    return "contoso"
