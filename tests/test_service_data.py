"""Service facts read from rates/service.yaml (refdata.service): every problem is one message."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from credits_cli import refdata
from credits_cli.errors import InvalidInput
from credits_cli.refdata import service
from tests.helpers import assert_error, dump

SHIPPED = Path(__file__).resolve().parent.parent / "rates" / "service.yaml"
OPTIONAL = {
    ("calling_plans", "shared_domestic_pools"),
    ("calling_plans", "domestic_equivalents"),
    ("conferencing", "dialout_alerts"),
}


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    service.cache_clear()
    yield
    service.cache_clear()


def folder_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "rates"
    folder.mkdir(exist_ok=True)
    (folder / "service.yaml").write_text(text, encoding="utf-8")
    return folder


def edited(tmp_path: Path, old: str, new: str) -> Path:
    """A rates folder whose service.yaml is the shipped one with ``old`` replaced by ``new``."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return folder_with(tmp_path, text.replace(old, new))


def problem(folder: Path) -> str:
    with pytest.raises(InvalidInput) as err:
        service(folder)
    message = str(err.value)
    assert "\n" not in message
    return message


# --- the shipped file ---------------------------------------------------------------------------


def test_the_shipped_file_reads() -> None:
    data = service()
    assert data.lot_validity_months == 12
    assert str(data.minimum("USD")) == "50" and str(data.minimum("RUB")) == "5000"
    assert data.domestic_minutes_for("US") == 3000 and data.domestic_minutes_for("GB") == 1200
    assert data.domestic_pool_for("PR") == "US" and data.same_domestic_area("CA", "PR")
    assert data.dialout_alerts == (80, 100) and "GB" in data.zone_a
    assert data.role("Global Administrator") == "global-admin"


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
    assert json.loads(result.stdout)["purchases_allowed"] is True


def test_a_folder_is_read_once(tmp_path: Path) -> None:
    folder = edited(tmp_path, "lot_validity_months: 12", "lot_validity_months: 6")
    assert service(folder) is service(folder)
    assert service(folder).lot_validity_months == 6


# --- one message per problem, naming the file and the key --------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("lot_validity_months: 12\n", "", "missing key 'lot_validity_months'"),
        ("  international_minutes: 600\n", "", "calling_plans: missing key 'international_minutes'"),
        ("{default: 1200, US: 3000", "{US: 3000",
         "calling_plans.domestic_minutes: missing key 'default' (the minutes of every other country)"),
        ("lot_validity_months: 12", "lot_validity_months: twelve",
         "lot_validity_months: must be a whole number (found 'twelve')"),
        ("lot_validity_months: 12", "lot_validity_months: 0", "lot_validity_months: 0 must be at least 1"),
        ("dialout_minutes_per_user: 60", 'dialout_minutes_per_user: "60"',
         "conferencing.dialout_minutes_per_user: must be a whole number (found '60')"),
        ("dialout_alerts: [80, 100]", "dialout_alerts: [80, 120]",
         "conferencing.dialout_alerts[1]: 120 must be from 1 to 100"),
        ("  zone_a: [AU,", "  zone_a:\n    AU: 1\n  zone_b: [AU,",
         "conferencing: unknown key 'zone_b' (known: dialout_alerts, dialout_minutes_per_user, zone_a)"),
        ("shared_domestic_pools: [[US, PR]]", "shared_domestic_pools: [US, PR]",
         "calling_plans.shared_domestic_pools[0]: must be a list (found 'US')"),
        ("calling_plans:\n", "calling_plans: []\nplans:\n",
         "unknown key 'plans' (known: admin_roles, calling_plans, conferencing, lot_validity_months, "
         "minimum_purchase, regions)"),
        ("  USD: \"50\"", "  USD: \"50\"\n  XYZ: \"50\"", "minimum_purchase: unknown currency 'XYZ'"),
        ("  USD: \"50\"", "  USD: fifty", "minimum_purchase.USD: amount 'fifty' is not a decimal number"),
        ("  USD: \"50\"", "  USD: 50.5",
         "minimum_purchase.USD: amount 50.5 must be written as a quoted decimal string"),
        ("  USD: \"50\"", "  USD: \"-50\"", "minimum_purchase.USD: amount '-50' is negative"),
        ("Europe: [GB,", "Europe: [gb,",
         "regions.Europe[0]: 'gb' is not a country code (two capital letters, e.g. GB)"),
        ("Europe: [GB,", "Europe: [US,", "regions: US is in both Americas and Europe"),
        ("  billing-admin: Billing Administrator", "  billing-admin: [Billing]",
         "admin_roles.billing-admin: must be text (found a list)"),
    ],
)
def test_a_broken_file_is_one_message_naming_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = edited(tmp_path, old, new)
    assert problem(folder) == f"{folder / 'service.yaml'}: {message}"


def test_a_duplicate_key_names_its_line(tmp_path: Path) -> None:
    folder = edited(tmp_path, '  GBP: "40"\n', '  GBP: "40"\n  USD: "60"\n')
    lines = (folder / "service.yaml").read_text().splitlines()
    first, second = (n for n, line in enumerate(lines, 1) if line.startswith("  USD:"))
    assert problem(folder) == f"{folder / 'service.yaml'}: line {second}: duplicate key 'USD' (first on line {first})"


def test_an_unquoted_no_is_refused_with_its_line(tmp_path: Path) -> None:
    folder = edited(tmp_path, 'SE, "NO", FI', "SE, NO, FI")
    line = next(n for n, text in enumerate((folder / "service.yaml").read_text().splitlines(), 1) if " NO," in text)
    assert problem(folder).startswith(
        f"{folder / 'service.yaml'}: line {line}: unquoted NO is the boolean false in YAML 1.1 and text in YAML 1.2"
    )


@pytest.mark.parametrize("text", ["", "- 1\n", "just text\n"])
def test_a_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    folder = folder_with(tmp_path, text)
    assert problem(folder).startswith(f"{folder / 'service.yaml'}: must be a mapping of lot_validity_months, ")


def test_a_missing_file(tmp_path: Path) -> None:
    assert problem(tmp_path) == f"cannot read {tmp_path / 'service.yaml'}: No such file or directory"


def _paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key of the file's fixed shape (the keys of the mappings that are models)."""
    for key, value in data.items():
        yield (*prefix, key)
        if key in ("calling_plans", "conferencing"):
            yield from _paths(value, (*prefix, key))


SHIPPED_DATA = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
KEY_PATHS = list(_paths(SHIPPED_DATA))


def _with(data: dict[str, Any], path: tuple[str, ...], change: Callable[[dict[str, Any], str], None]) -> str:
    copied = copy.deepcopy(data)
    holder = copied
    for key in path[:-1]:
        holder = holder[key]
    change(holder, path[-1])
    return yaml.safe_dump(copied, allow_unicode=True)


@pytest.mark.parametrize("path", KEY_PATHS, ids=".".join)
def test_every_key_missing_is_named(tmp_path: Path, path: tuple[str, ...]) -> None:
    folder = folder_with(tmp_path, _with(SHIPPED_DATA, path, lambda holder, key: holder.pop(key)))
    if path in OPTIONAL:
        assert service(folder)
        return
    parent = ".".join(path[:-1])
    expected = f"{folder / 'service.yaml'}: {parent + ': ' if parent else ''}missing key {path[-1]!r}"
    assert problem(folder) == expected


@pytest.mark.parametrize("path", KEY_PATHS, ids=".".join)
@pytest.mark.parametrize("wrong", [True, "text", {"a": "mapping"}, [["a list"]]], ids=["bool", "text", "map", "list"])
def test_every_key_of_the_wrong_kind_is_named(tmp_path: Path, path: tuple[str, ...], wrong: Any) -> None:
    original = SHIPPED_DATA
    for key in path:
        original = original[key]
    if type(wrong) is type(original):
        return  # the right kind: nothing to refuse here
    folder = folder_with(tmp_path, _with(SHIPPED_DATA, path, lambda holder, key: holder.__setitem__(key, wrong)))
    message = problem(folder)
    assert message.startswith(f"{folder / 'service.yaml'}: {'.'.join(path)}"), message
    assert "Error" not in message and "Input should" not in message, message


# --- through the command ---------------------------------------------------------------------


def test_a_broken_service_file_is_one_error_line_for_a_purchase(
    cli, tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = edited(tmp_path, '  USD: "50"', "  USD: fifty")
    monkeypatch.setenv("CREDITS_RATES_DIR", str(folder))
    service.cache_clear()
    before = dump()
    assert_error(cli("topup", "100"), f"{folder / 'service.yaml'}: minimum_purchase.USD: amount 'fifty'")
    assert dump() == before


def test_the_command_line_passes_the_rates_folder_down(cli, tenant, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = edited(tmp_path, "lot_validity_months: 12", "lot_validity_months: 3")
    monkeypatch.setenv("CREDITS_RATES_DIR", str(folder))
    assert refdata.rates_dir() != folder  # the core never reads the environment itself
    assert cli("topup", "100").exit_code == 0  # a command reads it once, at the edge, and passes it down
    assert refdata.rates_dir() == folder
    assert service().lot_validity_months == 3
    refdata.use_folder(None)
    assert service().lot_validity_months == 12
