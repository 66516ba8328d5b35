"""tenant add/list/show and choosing the tenant."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, assert_json, dump, rows


def test_add_list_show(cli) -> None:
    r = cli("tenant", "add", "contoso", "--name", "Contoso Ltd", "--country", "us")
    assert r.exit_code == 0, r.stderr
    assert "added tenant contoso" in r.stdout
    assert rows("SELECT slug, name, country, billing_country, currency FROM tenants") == [
        ("contoso", "Contoso Ltd", "US", "US", "USD")
    ]
    doc = assert_json(cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "DE",
                          "--billing-country", "FR", "--currency", "eur", "--json"))
    assert doc["slug"] == "fabrikam" and doc["currency"] == "EUR" and doc["billing_country"] == "FR"
    assert doc["created_at"].endswith("Z")
    listed = assert_json(cli("tenant", "list", "--json"))
    assert [d["slug"] for d in listed] == ["contoso", "fabrikam"]
    r = cli("tenant", "list")
    assert "contoso" in r.stdout and "fabrikam" in r.stdout
    shown = assert_json(cli("--tenant", "fabrikam", "tenant", "show", "--json"))
    assert shown["slug"] == "fabrikam" and shown["balance"] == "0.0000" and shown["users"] == 0
    assert shown["payment"] == "none"
    r = cli("--tenant", "contoso", "tenant", "show")
    assert r.exit_code == 0 and "Contoso Ltd" in r.stdout


def test_empty_list(cli) -> None:
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert cli("tenant", "remove", "contoso", "--yes").exit_code == 0
    r = cli("tenant", "list")
    assert r.exit_code == 0 and "no tenants yet" in r.stdout
    assert assert_json(cli("tenant", "list", "--json")) == []


def test_duplicate_slug_refused(cli) -> None:
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    before = dump()
    assert_error(cli("tenant", "add", "contoso", "--name", "Other", "--country", "GB"), "already exists")
    assert dump() == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["Contoso", "--name", "C", "--country", "US"], "slug"),
        (["-bad", "--name", "C", "--country", "US"], ""),
        (["a b", "--name", "C", "--country", "US"], "slug"),
        (["x" * 64, "--name", "C", "--country", "US"], "slug"),
        (["ok", "--name", "  ", "--country", "US"], "name is empty"),
        (["ok", "--name", "C", "--country", "ZZ"], "country 'ZZ'"),
        (["ok", "--name", "C", "--country", "USA"], "country"),
        (["ok", "--name", "C", "--country", ""], "country"),
        (["ok", "--name", "C", "--country", "US", "--billing-country", "XX"], "billing country"),
        (["ok", "--name", "C", "--country", "US", "--currency", "XYZ"], "unknown currency"),
        (["ok", "--name", "C", "--country", "US", "--currency", "ISK"], "minimum purchase"),
        (["ok", "--name", "C", "--country", "US", "--currency", ""], "currency"),
    ],
)
def test_bad_tenant_refused(cli, args: list[str], needle: str) -> None:
    r = cli("tenant", "add", *args)
    if args[0] == "-bad":  # looks like an option: Typer's own usage error
        assert r.exit_code == 2
    else:
        assert_error(r, needle)
    # the first tenant add, refused, creates no database
    assert_error(cli("tenant", "list"), "no database at", "credits tenant add")
    assert cli("tenant", "add", "first", "--name", "First", "--country", "US").exit_code == 0
    before = dump()
    r = cli("tenant", "add", *args)
    assert r.exit_code == (2 if args[0] == "-bad" else 1)
    assert dump() == before
    assert rows("SELECT count(*) FROM tenants") == [(1,)]


def test_tenant_optional_with_one_required_with_two(cli) -> None:
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert assert_json(cli("tenant", "show", "--json"))["slug"] == "contoso"
    assert cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "US").exit_code == 0
    assert_error(cli("tenant", "show"), "several tenants", "--tenant")
    assert_error(cli("balance"), "several tenants")
    assert assert_json(cli("--tenant", "fabrikam", "balance", "--json"))["tenant"] == "fabrikam"


def test_tenant_from_environment(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "US")
    monkeypatch.setenv("CREDITS_TENANT", "fabrikam")
    assert assert_json(cli("tenant", "show", "--json"))["slug"] == "fabrikam"


def test_unknown_tenant(cli) -> None:
    cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    assert_error(cli("--tenant", "nope", "balance"), "no tenant 'nope'", "contoso")


def test_no_tenant_yet(cli) -> None:
    assert_error(cli("balance"), "no database at", "credits tenant add")
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert cli("tenant", "remove", "contoso", "--yes").exit_code == 0
    assert_error(cli("balance"), "no tenant yet", "credits tenant add")


def test_tenant_slug_case_and_spaces(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    cli("tenant", "add", "fabrikam", "--name", "Fabrikam", "--country", "US")
    assert assert_json(cli("--tenant", "Fabrikam", "tenant", "show", "--json"))["slug"] == "fabrikam"
    monkeypatch.setenv("CREDITS_TENANT", " contoso ")
    assert assert_json(cli("tenant", "show", "--json"))["slug"] == "contoso"
