"""payment set/show and what the payment method lets through."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, assert_json, dump, pin_now, rows


@pytest.fixture
def bare(cli, monkeypatch: pytest.MonkeyPatch):
    pin_now(monkeypatch, "2026-06-15T12:00:00Z")
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    return "contoso"


def test_card_and_show(cli, bare) -> None:
    r = cli("payment", "set", "--card-expiry", "2028-04", "--last4", "4242")
    assert r.exit_code == 0 and "card ending 4242, expires 2028-04" in r.stdout
    assert r.stderr == ""
    assert rows("SELECT kind, card_expiry, last4 FROM payment_methods") == [("card", "2028-04", "4242")]
    doc = assert_json(cli("payment", "show", "--json"))
    assert doc["kind"] == "card" and doc["card_expiry"] == "2028-04" and doc["last4"] == "4242"
    assert doc["purchases_allowed"] is True and doc["refusal"] is None
    r = cli("payment", "show")
    assert "card ending 4242" in r.stdout and "allowed" in r.stdout


def test_invoice_replaces_card(cli, bare) -> None:
    assert cli("payment", "set", "--card-expiry", "2028-04").exit_code == 0
    doc = assert_json(cli("payment", "set", "--invoice", "--json"))
    assert doc["kind"] == "invoice"
    assert rows("SELECT kind, card_expiry, last4 FROM payment_methods") == [("invoice", None, None)]


def test_expired_card_recorded_with_a_warning(cli, bare) -> None:
    r = cli("payment", "set", "--card-expiry", "2026-05")
    assert r.exit_code == 0
    assert r.stderr.startswith("warning:") and "expired" in r.stderr
    assert rows("SELECT card_expiry FROM payment_methods") == [("2026-05",)]
    doc = assert_json(cli("payment", "show", "--json"))
    assert doc["purchases_allowed"] is False and "expired" in doc["refusal"]
    # The current month is still good.
    r = cli("payment", "set", "--card-expiry", "2026-06")
    assert r.exit_code == 0 and r.stderr == ""


def test_json_warning_goes_to_stderr_not_stdout(cli, bare) -> None:
    r = cli("payment", "set", "--card-expiry", "2020-01", "--json")
    doc = assert_json(r)
    assert doc["warning"] and "expired" in r.stderr


def test_no_method_shown(cli, bare) -> None:
    doc = assert_json(cli("payment", "show", "--json"))
    assert doc["kind"] is None and doc["purchases_allowed"] is False and "no payment method" in doc["refusal"]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--invoice", "--card-expiry", "2028-01"],
        ["--invoice", "--last4", "1234"],
        ["--card-expiry", "2028-13"],
        ["--card-expiry", "2028-00"],
        ["--card-expiry", "28-01"],
        ["--card-expiry", "2028/01"],
        ["--card-expiry", "1999-01"],
        ["--card-expiry", ""],
        ["--card-expiry", "2028-01", "--last4", "123"],
        ["--card-expiry", "2028-01", "--last4", "abcd"],
        ["--card-expiry", "2028-01", "--last4", "١٢٣٤"],
    ],
)
def test_bad_payment_refused(cli, bare, args: list[str]) -> None:
    assert cli("payment", "set", "--invoice").exit_code == 0
    before = dump()
    assert_error(cli("payment", "set", *args))
    assert dump() == before


def test_region_rule_shown(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("tenant", "add", "c", "--name", "C", "--country", "US", "--billing-country", "DE").exit_code == 0
    assert cli("payment", "set", "--invoice").exit_code == 0
    doc = assert_json(cli("payment", "show", "--json"))
    assert doc["purchases_allowed"] is False and "different regions" in doc["refusal"]


@pytest.mark.parametrize("expiry", ["٢٠٢٨-٠١", "２０２８-０１", "2028-01\n"])
def test_card_expiry_ascii_digits_only(cli, bare, expiry: str) -> None:
    r = cli("payment", "set", "--card-expiry", expiry)
    if expiry.strip() == "2028-01":
        assert r.exit_code == 0
        assert rows("SELECT card_expiry FROM payment_methods") == [("2028-01",)]
    else:
        assert_error(r, "YYYY-MM")
        assert rows("SELECT count(*) FROM payment_methods") == [(0,)]
