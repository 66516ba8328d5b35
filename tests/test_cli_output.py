"""``-o table|json|csv`` on every listing: JSON as before (keys added only), CSV of raw values for scripts,
``--json`` the same as ``-o json``; choices that are real choices, in any letter case."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.helpers import assert_error, assert_json

#: Every listing, and the key its JSON rows live under (None: the document is the list).
LISTINGS = [
    (("tenant", "list"), None),
    (("admin", "list"), None),
    (("user", "list"), None),
    (("user", "list", "--removed"), None),
    (("license", "list"), None),
    (("calls",), "calls"),
    (("ledger",), "entries"),
    (("rates", "list"), "tables"),
    (("rates", "list", "--entries"), "entries"),
    (("notifications",), None),
    (("overview",), "tenants"),
    (("changes",), None),
    (("changes", "--all-tenants"), None),
]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("args,key", LISTINGS, ids=[" ".join(a) for a, _ in LISTINGS])
def test_every_listing_as_json_and_csv(cli, office, args: tuple[str, ...], key: str | None) -> None:
    cli("user", "remove", "john.doe@contoso.com", "--yes")  # the trail and --removed have a line
    doc = assert_json(cli(*args, "-o", "json"))
    assert assert_json(cli(*args, "--json")) == doc
    items = doc if key is None else doc[key]
    assert items, f"{args}: nothing listed"
    r = cli(*args, "-o", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    rows = rows_of(r.stdout)
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        for name, value in item.items():
            if name in row and not isinstance(value, list | dict):
                expected = "" if value is None else ("true" if value is True else "false" if value is False
                                                     else str(value))
                assert row[name] == expected, (args, name, row[name], value)


def test_csv_carries_raw_values(cli, office) -> None:
    calls = rows_of(cli("calls", "--limit", "0", "-o", "csv").stdout)
    assert len(calls) == 48
    charged = [c for c in calls if c["status"] == "charged"]
    assert charged and all(len(c["charge"].partition(".")[2]) == 4 for c in charged)  # exact money: 0.1610
    assert all(c["start"].endswith("Z") and "T" in c["start"] for c in calls)  # ISO 8601 UTC
    ledger = rows_of(cli("ledger", "-o", "csv").stdout)
    assert ledger[0]["kind"] == "topup" and ledger[0]["amount"] == "100.0000"
    # No spreadsheet guard in CSV for scripts: a value starting with - stays as it is
    assert any(e["amount"].startswith("-0.") for e in ledger)
    assert not any(e["amount"].startswith("'") for e in ledger)


def test_json_documents_keep_their_shape(cli, office) -> None:
    """Scripts rely on the documents: the keys they had are still there (keys are only added)."""
    calls = assert_json(cli("calls", "--json"))
    assert {"currency", "calls"} <= set(calls) and calls["total"] == 48
    ledger = assert_json(cli("ledger", "--json"))
    assert {"currency", "opening_balance", "entries", "closing_balance"} <= set(ledger)
    users = assert_json(cli("user", "list", "--json"))
    assert {"upn", "name", "country", "plan", "conferencing", "licensed", "licensed_at"} <= set(users[0])
    tables = assert_json(cli("rates", "list", "--json"))
    assert {"id", "name", "currency", "decimals", "entries", "loaded_at", "active"} <= set(tables["tables"][0])


def test_limit_and_newest(cli, office) -> None:
    oldest = assert_json(cli("calls", "--limit", "3", "--json"))["calls"]
    newest = assert_json(cli("calls", "--limit", "3", "--newest", "--json"))["calls"]
    everything = assert_json(cli("calls", "--limit", "0", "--json"))["calls"]
    assert oldest == everything[:3]
    assert newest == everything[::-1][:3]
    r = cli("calls", "--limit", "5")
    assert "showing 5 of 48 calls" in r.stdout
    entries = assert_json(cli("ledger", "--newest", "--limit", "2", "--json"))
    full = assert_json(cli("ledger", "--json"))
    assert [e["id"] for e in entries["entries"]] == [e["id"] for e in full["entries"][::-1][:2]]
    # the running balance is the balance after each entry, whichever way it is read
    assert [e["balance"] for e in entries["entries"]] == [e["balance"] for e in full["entries"][::-1][:2]]
    assert "showing 2 of" in cli("ledger", "--newest", "--limit", "2").stdout
    users = cli("user", "list", "--limit", "2")
    assert "showing 2 of 13 users" in users.stdout
    assert len(assert_json(cli("user", "list", "--limit", "2", "--json"))) == 2


def test_json_alias_and_output_agree_or_are_refused(cli, office) -> None:
    assert_error(cli("calls", "--json", "-o", "csv"), "--json", "-o")
    assert assert_json(cli("balance", "-o", "JSON"))["tenant"] == "contoso"  # a choice in any case


def test_choices_are_case_insensitive_and_listed(cli, office) -> None:
    denied = assert_json(cli("calls", "--status", "Denied", "--json"))["calls"]
    assert denied and {c["status"] for c in denied} == {"denied"}
    r = cli("calls", "--status", "nope")
    assert r.exit_code == 2 and "charged" in r.stderr and "denied" in r.stderr
    help_text = cli("calls", "--help").stdout
    assert "charged" in help_text and "included" in help_text and "table|json|csv" in help_text
    assert "auto|teams-csv" in cli("rate-cdrs", "--help").stdout
    assert "outbound|tollfree|dialout" in cli("rates", "quote", "--help").stdout
    doc = assert_json(cli("rates", "quote", "+18005550100", "--kind", "TollFree", "--json"))
    assert doc["kind"] == "tollfree"
    assert cli("notifications", "--status", "QUEUED", "--json").exit_code == 0


def test_empty_listings_in_csv_have_their_header(cli, tenant) -> None:
    r = cli("calls", "-o", "csv")
    assert r.exit_code == 0 and r.stdout.startswith("id,external_id,start,user")
    assert cli("changes", "-o", "csv").stdout.startswith("id,at,tenant")
    assert json.loads(cli("notifications", "-o", "json").stdout) == []


def test_format_choices_are_the_readers() -> None:
    from credits_cli.cli.rating import Format
    from credits_cli.readers import FORMATS

    assert tuple(f.value for f in Format) == FORMATS
