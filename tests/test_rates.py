"""Rate tables: validation, longest prefix, billing and the integer fast path."""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_cli import rates
from credits_cli.errors import InvalidInput
from credits_cli.rates import Rate, RateBook, parse_table, price_decimal

ROOT = Path(__file__).resolve().parent.parent


def table(**over: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "name": "t",
        "currency": "USD",
        "decimals": 4,
        "billing": {"minimum_seconds": 60, "increment_seconds": 60},
        "outbound": [
            {"prefix": "1", "name": "US", "per_minute": "0.0190"},
            {"prefix": "44", "name": "UK", "per_minute": "0.0230"},
            {"prefix": "447", "name": "UK mobile", "per_minute": "0.0660"},
        ],
    }
    doc.update(over)
    return doc


def rate(pm: str, fee: str = "0", minimum: int = 60, inc: int = 60, decimals: int = 4) -> Rate:
    return Rate.make("outbound", "1", "x", Decimal(pm), Decimal(fee), minimum, inc, decimals)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- validation -------------------------------------------------------------------------


def test_default_table_loads() -> None:
    data, _ = rates.read_yaml(ROOT / "rates" / "default-usd.yaml")
    parsed = parse_table(data, "rates/default-usd.yaml")
    assert parsed.currency == "USD" and len(parsed.rates) > 600


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"prefix": "4477", "per_minute": "-1"}, "x.yaml: outbound[3] (prefix 4477): per_minute '-1' is negative"),
        ({"prefix": "33", "per_minute": 0.5}, "outbound[3] (prefix 33): per_minute 0.5 must be quoted"),
        ({"prefix": "33", "per_minute": "1e-3"}, "per_minute '1e-3' is not a plain decimal"),
        ({"prefix": "33", "per_minute": "abc"}, "per_minute 'abc' is not a plain decimal"),
        ({"prefix": "33", "per_minute": "0.123456789"}, "at most 8 decimals"),
        ({"prefix": "33", "per_minute": "1", "connection_fee": "-0.01"}, "connection_fee '-0.01' is negative"),
        ({"prefix": "44", "per_minute": "1"}, "outbound[3] (prefix 44): duplicate prefix (also outbound[1])"),
        ({"prefix": "33", "per_minute": "1", "per_second": "1"}, "outbound[3] (prefix 33): unknown key 'per_second'"),
        ({"prefix": "3x3", "per_minute": "1"}, "outbound[3]: prefix '3x3' must be E.164 digits"),
        ({"prefix": "033", "per_minute": "1"}, "prefix '033' starts with 0"),
        ({"per_minute": "1"}, "outbound[3]: missing prefix"),
        ({"prefix": "33"}, "outbound[3] (prefix 33): missing per_minute"),
        ({"prefix": "33", "per_minute": "1", "increment_seconds": 0}, "increment_seconds 0 must be between 1"),
        ({"prefix": "33", "per_minute": "1", "minimum_seconds": "60"}, "minimum_seconds '60' must be a whole number"),
    ],
)
def test_entry_problems_name_the_entry(entry: dict[str, object], message: str) -> None:
    doc = table()
    doc["outbound"] = [*doc["outbound"], entry]  # type: ignore[misc]
    with pytest.raises(InvalidInput) as err:
        parse_table(doc, "rates/x.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("rates/x.yaml: ")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"decimals": 5}, "decimals 5 must be a whole number from 0 to 4"),
        ({"decimals": -1}, "decimals -1"),
        ({"currency": "XYZ"}, "unknown currency 'XYZ'"),
        ({"rounding": "up"}, "unknown key 'rounding'"),
        ({"outbound": []}, "outbound must list at least one entry"),
        ({"billing": {"minimum": 60}}, "billing: unknown key 'minimum'"),
        ({"tollfree": {"prefix": "1800"}}, "tollfree must be a list"),
    ],
)
def test_table_problems(over: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_table(table(**over), "rates/x.yaml")
    assert message in str(err.value)


def test_int_rates_and_prefixes_are_accepted() -> None:
    doc = table(outbound=[{"prefix": 44, "per_minute": 1}])
    parsed = parse_table(doc, "x")
    assert parsed.rates[0].prefix == "44" and parsed.rates[0].per_minute == Decimal(1)


def test_aliases_are_refused(tmp_path: Path) -> None:
    bomb = (
        "name: t\ncurrency: USD\n"
        'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "outbound: [{prefix: '1', per_minute: '1'}]\n"
    )
    with pytest.raises(InvalidInput, match="aliases"):
        rates.read_yaml(write(tmp_path, bomb))


def test_python_tags_are_refused(tmp_path: Path) -> None:
    text = "name: !!python/object/apply:os.system ['echo pwned']\ncurrency: USD\n"
    with pytest.raises(InvalidInput, match="not a valid rate table"):
        rates.read_yaml(write(tmp_path, text))


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "#" * (rates.MAX_FILE_BYTES + 1))
    with pytest.raises(InvalidInput, match="too large"):
        rates.read_yaml(path)


def test_broken_yaml_is_one_message(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="x.yaml: not a valid rate table"):
        rates.read_yaml(write(tmp_path, "name: [unclosed\n"))


# --- longest prefix --------------------------------------------------------------------------


def book(doc: dict[str, object]) -> RateBook:
    parsed = parse_table(doc, "x")
    return RateBook.build(1, parsed.name, parsed.currency, parsed.decimals, parsed.rates)


def test_longest_prefix_wins() -> None:
    b = book(table(dialout=[{"prefix": "33", "name": "FR dial-out", "per_minute": "0.01"}]))
    assert b.lookup("outbound", "447700900123").name == "UK mobile"  # type: ignore[union-attr]
    assert b.lookup("outbound", "442079460123").name == "UK"  # type: ignore[union-attr]
    assert b.lookup("outbound", "12065550100").name == "US"  # type: ignore[union-attr]
    assert b.lookup("outbound", "4") is None
    assert b.lookup("outbound", "999") is None
    assert b.lookup("tollfree", "18005550100") is None
    # dial-out: its own entry first, then the outbound rates
    assert b.lookup("dialout", "33140000000").name == "FR dial-out"  # type: ignore[union-attr]
    assert b.lookup("dialout", "447700900123").name == "UK mobile"  # type: ignore[union-attr]


def test_lookup_matches_a_scan_on_the_default_table() -> None:
    data, _ = rates.read_yaml(ROOT / "rates" / "default-usd.yaml")
    parsed = parse_table(data, "x")
    b = RateBook.build(1, parsed.name, parsed.currency, parsed.decimals, parsed.rates)
    outbound = [r for r in parsed.rates if r.section == "outbound"]
    for digits in ("447700900123", "5511987654321", "12065550100", "18765550100", "8816123456", "33612345678"):
        best = max((r for r in outbound if digits.startswith(r.prefix)), key=lambda r: len(r.prefix), default=None)
        assert b.lookup("outbound", digits) == best


@functools.cache
def _default_with_dialout() -> tuple[Rate, ...]:
    data, _ = rates.read_yaml(ROOT / "rates" / "default-usd.yaml")
    dial = {"prefix": "331", "per_minute": "0.0500", "name": "FR dial-out"}
    return tuple(parse_table({**data, "dialout": [dial]}, "x").rates)  # dial-out: its own entry, else outbound


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["outbound", "tollfree", "dialout"]),
                          st.text(alphabet="0123456789", max_size=14)), max_size=30))
def test_a_remembered_lookup_is_the_scan_again(asks: list[tuple[str, str]]) -> None:
    """The look-ups a book remembers (by the digits that decide them) answer as a scan would, the
    same digits asked twice and numbers that share their first digits alike."""
    entries = _default_with_dialout()
    b = RateBook.build(1, "x", "USD", 4, list(entries))

    def scan(section: str, digits: str) -> Rate | None:
        for s in ([section, "outbound"] if section == "dialout" else [section]):
            found = max((r for r in entries if r.section == s and digits.startswith(r.prefix)),
                        key=lambda r: len(r.prefix), default=None)
            if found is not None:
                return found
        return None

    for section, digits in asks + asks:
        assert b.lookup(section, digits) == scan(section, digits)


# --- billing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pm", "fee", "minimum", "inc", "duration", "billed", "charge"),
    [
        # 60/60: whole minutes
        ("0.0230", "0", 60, 60, 1, 60, "0.0230"),
        ("0.0230", "0", 60, 60, 60, 60, "0.0230"),
        ("0.0230", "0", 60, 60, 61, 120, "0.0460"),
        ("0.0230", "0", 60, 60, 0, 0, "0"),
        # 1/1: per second; 0.0660 x 61 / 60 = 0.0671 exactly
        ("0.0660", "0", 1, 1, 61, 61, "0.0671"),
        # 0.0190 x 7 / 60 = 0.0022166.. -> 0.0022
        ("0.0190", "0", 1, 1, 7, 7, "0.0022"),
        # 30/6: 7 s -> 12 -> minimum 30; 31 s -> 36
        ("0.1000", "0", 30, 6, 7, 30, "0.0500"),
        ("0.1000", "0", 30, 6, 31, 36, "0.0600"),
        # with a connection fee: 0.0100 + 0.0660 x 45 / 60 = 0.0595
        ("0.0660", "0.0100", 30, 1, 45, 45, "0.0595"),
        ("0.0660", "0.0100", 30, 1, 10, 30, "0.0430"),
        # half up, rounded once: 0.0001 x 30 / 60 = 0.00005 -> 0.0001
        ("0.0001", "0", 1, 1, 30, 30, "0.0001"),
        # fine rate: 0.012345 x 60 / 60 = 0.012345 -> 0.0123; 0.01235 -> 0.0124 (half up, not to even)
        ("0.012345", "0", 60, 60, 60, 60, "0.0123"),
        ("0.01235", "0", 60, 60, 60, 60, "0.0124"),
    ],
)
def test_billing(pm: str, fee: str, minimum: int, inc: int, duration: int, billed: int, charge: str) -> None:
    r = rate(pm, fee, minimum, inc)
    assert r.billed_seconds(duration) == billed
    assert r.price(billed) == Decimal(charge)
    assert price_decimal(r, billed) == Decimal(charge)


def test_rounding_to_fewer_decimals_is_half_up() -> None:
    assert rate("0.025", decimals=2).price(60) == Decimal("0.03")  # banker's would give 0.02
    assert rate("0.015", decimals=2).price(60) == Decimal("0.02")
    assert rate("2.5", decimals=0).price(60) == Decimal("3")
    assert rate("0.0190", "0.0100", decimals=2).price(60) == Decimal("0.03")  # 0.029 rounded once, not 0.02 + 0.01


@settings(max_examples=400, deadline=None)
@given(
    pm=st.decimals(min_value=0, max_value=10000, places=8, allow_nan=False, allow_infinity=False),
    fee=st.decimals(min_value=0, max_value=100, places=6, allow_nan=False, allow_infinity=False),
    decimals=st.integers(min_value=0, max_value=4),
    minimum=st.integers(min_value=0, max_value=120),
    inc=st.integers(min_value=1, max_value=120),
    duration=st.integers(min_value=0, max_value=200_000),
)
def test_integer_fast_path_equals_the_decimal_definition(
    pm: Decimal, fee: Decimal, decimals: int, minimum: int, inc: int, duration: int
) -> None:
    r = Rate.make("outbound", "1", "x", pm, fee, minimum, inc, decimals)
    billed = r.billed_seconds(duration)
    if duration > 0:
        assert billed >= minimum and billed >= duration and billed % inc == 0 or billed == minimum
    assert r.price(billed) == price_decimal(r, billed)
    assert r.price(billed).as_tuple().exponent == -decimals or r.price(billed) == 0


# --- the database ------------------------------------------------------------------------------


def test_load_replaces_the_active_table(cli, tenant, tmp_path: Path) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\ncurrency: USD\ndecimals: 2\noutbound:\n  - {prefix: '44', name: UK, per_minute: '0.05'}\n"
    )
    result = cli("rates", "load", str(path))
    assert result.exit_code == 0, result.stderr
    import json

    doc = json.loads(cli("rates", "list", "--json").stdout)
    assert [(t["name"], t["active"], t["entries"]) for t in doc["tables"]] == [
        ("default-usd-2026", False, 645),
        ("mine", True, 1),
    ]
    quote = json.loads(cli("rates", "quote", "+44 20 7946 0123", "--seconds", "61", "--json").stdout)
    assert (quote["prefix"], quote["billed_seconds"], quote["charge"]) == ("44", 120, "0.1000")


def test_load_refuses_another_currency(cli, tenant, tmp_path: Path) -> None:
    path = tmp_path / "eur.yaml"
    path.write_text("name: eur\ncurrency: EUR\noutbound:\n  - {prefix: '44', per_minute: '0.05'}\n")
    result = cli("rates", "load", str(path))
    assert result.exit_code == 1
    assert "the table is in EUR but tenant contoso keeps USD" in result.stderr
    assert "Traceback" not in result.stderr
    assert json_tables(cli) == []


def test_bad_entry_is_one_line_and_nothing_is_loaded(cli, tenant, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\ncurrency: USD\noutbound:\n  - {prefix: '44', per_minute: '0.05'}\n"
        "  - {prefix: '447', per_minute: '-1'}\n"
    )
    result = cli("rates", "load", str(path))
    assert result.exit_code == 1
    assert "outbound[1] (prefix 447): per_minute '-1' is negative" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json_tables(cli) == []


def test_quote_without_a_table_says_how_to_load_one(cli, tenant) -> None:
    result = cli("rates", "quote", "+442079460123")
    assert result.exit_code == 1
    assert "credits rates load rates/default-usd.yaml" in result.stderr


def test_quote_refuses_a_non_number(cli, tenant) -> None:
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    result = cli("rates", "quote", "hello")
    assert result.exit_code == 1 and "not a phone number" in result.stderr


def json_tables(cli) -> list[object]:
    import json

    return json.loads(cli("rates", "list", "--json").stdout)["tables"]


# --- YAML 1.1 surprises, through the real command (see credits_cli/strict_yaml.py) -------------------

GOOD_HEAD = "name: mine\ncurrency: USD\ndecimals: 4\noutbound:\n  - {prefix: '1', name: US, per_minute: '0.0190'}\n"


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        # octal in YAML 1.1: the UK's 0044 would become 36 (Hungary)
        (GOOD_HEAD + "  - {prefix: 0044, name: UK, per_minute: '0.0230'}\n",
         ["mine.yaml: line 6: unquoted 0044 is the number 36 in YAML 1.1 and the number 44 in YAML 1.2"]),
        # quoted, it is the text "0044", which a prefix cannot be
        (GOOD_HEAD + "  - {prefix: '0044', name: UK, per_minute: '0.0230'}\n",
         ["mine.yaml: outbound[1]: prefix '0044' starts with 0; E.164 starts with a country code"]),
        # base 60 in YAML 1.1: 1:20 is 80 seconds
        (GOOD_HEAD + "  - {prefix: '44', per_minute: '0.0230', minimum_seconds: 1:20}\n",
         ["mine.yaml: line 6: unquoted 1:20 is the number 80 in YAML 1.1 and text in YAML 1.2"]),
        # hexadecimal: 0x31 is 49 (Germany) in both versions
        (GOOD_HEAD + "  - {prefix: 0x31, per_minute: '0.0230'}\n",
         ["mine.yaml: line 6: unquoted 0x31 is the hexadecimal number 49"]),
        # yes where a number is expected, and where text is expected
        (GOOD_HEAD + "  - {prefix: '44', per_minute: yes}\n",
         ["mine.yaml: line 6: unquoted yes is the boolean true in YAML 1.1 and text in YAML 1.2"]),
        (GOOD_HEAD + "  - {prefix: '47', name: no, per_minute: '0.0230'}\n",
         ["mine.yaml: line 6: unquoted no is the boolean false in YAML 1.1 and text in YAML 1.2"]),
        # a key twice in one entry: the second price would silently win
        (GOOD_HEAD + "  - prefix: '44'\n    per_minute: '0.0230'\n    per_minute: '0.0010'\n",
         ["mine.yaml: line 8: duplicate key 'per_minute' (first on line 7)"]),
        (GOOD_HEAD + "  - {prefix: '44', prefix: '33', per_minute: '0.0230'}\n",
         ["mine.yaml: line 6: duplicate key 'prefix' (first on line 6)"]),
        # a key twice at the top: the second list would silently replace the first
        (GOOD_HEAD + "outbound:\n  - {prefix: '44', per_minute: '0.0230'}\n",
         ["mine.yaml: line 6: duplicate key 'outbound' (first on line 4)"]),
        # an alias
        (GOOD_HEAD + "tollfree: &free\n  - {prefix: '1800', per_minute: '0'}\ndialout: *free\n",
         ["mine.yaml: not a valid rate table: line 8: aliases (*free) are not allowed"]),
    ],
    ids=["0044", "quoted-0044", "1:20", "0x31", "yes-for-a-number", "no-for-text", "duplicate-in-entry",
         "duplicate-in-flow-entry", "duplicate-at-top", "alias"],
)
def test_yaml_surprises_are_refused_and_nothing_is_loaded(
    cli, tenant, tmp_path: Path, text: str, needles: list[str]
) -> None:
    from tests.helpers import assert_error, dump

    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    before = dump()
    assert_error(cli("rates", "load", str(path)), *needles)
    assert dump() == before
    assert [t["name"] for t in json_tables(cli)] == ["default-usd-2026"]


def test_an_unquoted_whole_number_is_still_a_prefix(cli, tenant, tmp_path: Path) -> None:
    """44 is the same number in YAML 1.1 and 1.2, and a prefix may be written as one."""
    import json

    path = tmp_path / "plain.yaml"
    path.write_text("name: plain\ncurrency: USD\noutbound:\n  - {prefix: 44, per_minute: 1, minimum_seconds: 1}\n")
    result = cli("rates", "load", str(path))
    assert result.exit_code == 0, result.stderr
    quote = json.loads(cli("rates", "quote", "+44 20 7946 0123", "--seconds", "90", "--json").stdout)
    assert (quote["prefix"], quote["billed_seconds"], quote["charge"]) == ("44", 120, "2.0000")
