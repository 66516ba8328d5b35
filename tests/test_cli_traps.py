"""The traps a new administrator fell into, each closed: a read that created a database, global options
after the command, a national number, advice naming a table in the wrong currency, auto-recharge settings
that make no sense, and amounts printed in a form that is refused as input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from credits_cli.cli.common import hoist_global_options
from tests.helpers import assert_error, assert_json, pin_now

ROOT = Path(__file__).resolve().parent.parent

READS = [
    ("balance",), ("balance", "--json"), ("tenant", "list"), ("tenant", "show"), ("admin", "list"), ("user", "list"),
    ("license", "list"), ("payment", "show"), ("autorecharge", "show"), ("ledger",), ("verify",), ("calls",),
    ("rates", "list"), ("report",), ("recommend",), ("notifications",), ("overview",), ("changes",),
    ("topup", "100"),  # a write other than tenant add creates nothing either
]


@pytest.mark.parametrize("args", READS, ids=[" ".join(a) for a in READS])
def test_a_read_never_creates_a_database(cli, args: tuple[str, ...]) -> None:
    on_server = bool(os.environ.get("CREDITS_TEST_DATABASE_URL"))
    where = os.environ["CREDITS_DB"]
    err = assert_error(cli(*args), "no database at", "create one with credits tenant add")
    if not on_server:
        assert f"no database at {where};" in err
        assert not Path(where).exists()
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    if not on_server:
        assert Path(where).is_file()


def test_a_mistyped_db_path_leaves_nothing_behind(cli, tmp_path: Path) -> None:
    typo = tmp_path / "credts.db"
    assert_error(cli("--db", str(typo), "balance"), f"no database at {typo}")
    assert not typo.exists() and list(tmp_path.iterdir()) == []


# --- global options after the command ----------------------------------------------------------


def test_global_options_are_taken_after_the_command(cli, tmp_path: Path) -> None:
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "DE", "--currency", "EUR").exit_code == 0
    assert assert_json(cli("tenant", "show", "--tenant", "fabrikam", "--json"))["slug"] == "fabrikam"
    assert assert_json(cli("balance", "--tenant=fabrikam", "--json"))["currency"] == "EUR"
    assert assert_json(cli("calls", "--json", "--tenant", "contoso"))["currency"] == "USD"
    other = tmp_path / "other.db"
    assert cli("tenant", "add", "solo", "--name", "Solo", "--country", "US", "--db", str(other)).exit_code == 0
    if not os.environ.get("CREDITS_TEST_DATABASE_URL"):
        assert other.is_file()
    assert assert_json(cli("tenant", "list", "--json", "--db", str(other)))[0]["slug"] == "solo"


@pytest.mark.parametrize(
    "given,expected",
    [
        (["tenant", "show", "--tenant", "x"], ["--tenant", "x", "tenant", "show"]),
        (["--db", "a.db", "balance", "--tenant=x", "--json"], ["--db", "a.db", "--tenant=x", "balance", "--json"]),
        (["calls", "--user", "--tenant"], ["--tenant", "calls", "--user"]),  # at the end: as it stands
        (["topup", "5", "--", "--tenant", "x"], ["topup", "5", "--", "--tenant", "x"]),
        (["--tenant", "balance", "ledger"], ["--tenant", "balance", "ledger"]),
    ],
)
def test_hoisting_the_global_options(given: list[str], expected: list[str]) -> None:
    assert hoist_global_options(given) == expected


# --- numbers, advice, amounts ---------------------------------------------------------------------


def test_a_national_number_gets_the_international_format(cli) -> None:
    assert cli("tenant", "add", "ru", "--name", "Ru", "--country", "RU", "--currency", "USD").exit_code == 0
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert_error(cli("rates", "quote", "89161234567"), "international format +CC", "+79161234567")
    assert assert_json(cli("rates", "quote", "+79161234567", "--json"))["matched"] is True
    assert assert_json(cli("rates", "quote", "79161234567", "--json"))["country"] == "RU"  # E.164 digits, no +
    assert_error(cli("rates", "quote", "0123"), "international format")


def test_rate_table_advice_names_a_table_in_the_tenant_currency(cli) -> None:
    assert cli("tenant", "add", "us", "--name", "Us", "--country", "US").exit_code == 0
    assert "credits rates load rates/default-usd.yaml" in cli("rates", "list").stdout
    assert cli("tenant", "add", "ru", "--name", "Ru", "--country", "RU", "--currency", "RUB").exit_code == 0
    out = cli("--tenant", "ru", "rates", "list").stdout
    assert "no table in RUB ships with credits" in out and "default-usd.yaml" not in out.split("(")[0]
    calls = ROOT / "examples" / "calls.csv"
    assert_error(cli("--tenant", "ru", "rate-cdrs", str(calls)), "no table in RUB ships")


def test_autorecharge_settings_that_make_no_sense_are_warned(cli, tenant, monkeypatch, tmp_path: Path) -> None:
    r = cli("autorecharge", "set", "--threshold", "100", "--amount", "50")
    assert r.exit_code == 0 and "above the recharge amount" in r.stderr
    r = cli("autorecharge", "set", "--threshold", "0", "--amount", "50")
    assert r.exit_code == 0 and "threshold of 0" in r.stderr and "toll-free" in r.stderr
    doc = assert_json(cli("autorecharge", "set", "--threshold", "0", "--amount", "50", "--json"))
    assert doc["threshold"] == "0.0000" and doc["warnings"]
    r = cli("autorecharge", "set", "--threshold", "25", "--amount", "50")
    assert r.exit_code == 0 and r.stderr == ""
    # against the spend: a threshold below a day's spend
    pin_now(monkeypatch, "2026-01-01T00:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "500").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    lines = ["call_id,user,start,duration_seconds,kind,number"]
    lines += [f"c{i},ada@contoso.com,2026-01-02T{i:02d}:00:00Z,3000,outbound,+819012345678" for i in range(10)]
    calls = tmp_path / "calls.csv"
    calls.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pin_now(monkeypatch, "2026-01-03T00:00:00Z")
    assert cli("rate-cdrs", str(calls)).exit_code == 0
    r = cli("autorecharge", "set", "--threshold", "30", "--amount", "100")
    assert r.exit_code == 0 and "less than a day's spend" in r.stderr


def test_amounts_are_printed_the_way_they_are_typed(cli) -> None:
    assert cli("tenant", "add", "ru", "--name", "Ru", "--country", "RU", "--currency", "RUB").exit_code == 0
    assert cli("payment", "set", "--invoice").exit_code == 0
    err = assert_error(cli("topup", "4999.99"), "below the minimum purchase of 5000.00 RUB")
    typed = err.rsplit(" of ", 1)[1].split()[0]  # what the message says, copied into the next command
    r = cli("topup", typed)
    assert r.exit_code == 0 and "5000.00 RUB" in r.stdout
    assert_error(cli("topup", "5,000.00"), "not a plain decimal number")
