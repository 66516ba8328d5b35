"""Service facts read from rates/service.yaml (refdata.service)."""

from __future__ import annotations

from credits_cli.refdata import service


def test_norway_is_a_european_country_in_zone_a() -> None:
    """An unquoted NO is the boolean false in YAML 1.1: Norway had no region and no Zone A."""
    data = service()
    assert data.region("NO") == "Europe"
    assert "NO" in data.zone_a
    assert all(len(country) == 2 and country.isupper() for country in data.region_of)


def test_a_norwegian_tenant_billed_in_sweden_can_buy(cli) -> None:
    assert cli("tenant", "add", "fjord", "--name", "Fjord", "--country", "NO", "--billing-country", "SE").exit_code == 0
    assert cli("payment", "set", "--invoice").exit_code == 0
    result = cli("payment", "show", "--json")
    assert result.exit_code == 0, result.stderr
    import json

    doc = json.loads(result.stdout)
    assert doc["purchases_allowed"] is True, doc
