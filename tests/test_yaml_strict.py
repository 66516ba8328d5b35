"""The strict YAML reading of data files: read where YAML 1.1 and 1.2 agree, refused elsewhere."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_cli import strict_yaml
from credits_cli.errors import InvalidInput


def load(text: str) -> Any:
    return strict_yaml.load(text, "x.yaml", what="rate table")


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as err:
        load(text)
    return str(err.value)


# The YAML 1.2 core schema (spec 1.2.2, 10.3.2), written out again here so that the tests do
# not take the module's word for it.
CORE_12 = [
    (re.compile(r"null|Null|NULL|~|"), lambda s: None),
    (re.compile(r"true|True|TRUE"), lambda s: True),
    (re.compile(r"false|False|FALSE"), lambda s: False),
    (re.compile(r"[-+]?[0-9]+"), int),
    (re.compile(r"0o[0-7]+"), lambda s: int(s, 8)),
    (re.compile(r"0x[0-9a-fA-F]+"), lambda s: int(s, 16)),
    (re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"), float),
    (re.compile(r"[-+]?\.(inf|Inf|INF)"), lambda s: float(s.replace(".", ""))),
    (re.compile(r"\.(nan|NaN|NAN)"), lambda s: math.nan),
]


def core_12(text: str) -> Any:
    for pattern, make in CORE_12:
        if pattern.fullmatch(text):
            return make(text)
    return text


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (True is not 1, NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# --- what is read -----------------------------------------------------------------------------


def test_a_plain_document_reads_as_pyyaml_reads_it() -> None:
    text = (
        "name: contoso-2026\ncurrency: USD\ndecimals: 4\nempty:\nnothing: ~\nflag: true\n"
        "ratio: 0.5\nbig: 1.5e+3\nnegative: -1\nzero: 0\nclock: 0:20\nversion: 1.2.3\n"
        "billing: {minimum_seconds: 60, increment_seconds: 60}\n"
        "outbound:\n  - {prefix: 44, name: 'United Kingdom', per_minute: \"0.0230\"}\n"
        "note: |\n  two\n  lines\n"
    )
    assert same(load(text), yaml.safe_load(text))


@pytest.mark.parametrize("text", ["'0044'", '"1:20"', "'yes'", "!!str 0044", "'NO'", '"2026-01-01"', "|\n  0x31\n"])
def test_quoted_scalars_are_text(text: str) -> None:
    assert load(f"k: {text}\n") == {"k": yaml.safe_load(f"k: {text}\n")["k"]}
    assert isinstance(load(f"k: {text}\n")["k"], str)


def test_the_default_files_read_as_pyyaml_reads_them() -> None:
    root = Path(__file__).resolve().parent.parent / "rates"
    for name in ("default-usd.yaml", "service.yaml"):
        text = (root / name).read_text(encoding="utf-8")
        assert same(load(text), yaml.safe_load(text)), name


# --- what is refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scalar", "message"),
    [
        ("0044", "unquoted 0044 is the number 36 in YAML 1.1 and the number 44 in YAML 1.2; write 44 for the number"),
        ("089", "unquoted 089 is text in YAML 1.1 and the number 89 in YAML 1.2"),
        ("00", "unquoted 00 has a leading zero; write 0 for the number"),
        ("0x31", "unquoted 0x31 is the hexadecimal number 49; write 49 for the number"),
        ("0o17", "unquoted 0o17 is text in YAML 1.1 and the number 15 in YAML 1.2"),
        ("0b101", "unquoted 0b101 is the number 5 in YAML 1.1 and text in YAML 1.2"),
        ("1_000", "unquoted 1_000 is the number 1000 in YAML 1.1 and text in YAML 1.2"),
        ("1:20", "unquoted 1:20 is the number 80 in YAML 1.1 and text in YAML 1.2"),
        ("1:20.5", "unquoted 1:20.5 is the number 80.5 in YAML 1.1 and text in YAML 1.2"),
        ("1e3", "unquoted 1e3 is text in YAML 1.1 and the number 1000.0 in YAML 1.2"),
        ("-.5", "unquoted -.5 is text in YAML 1.1 and the number -0.5 in YAML 1.2"),
        ("yes", "unquoted yes is the boolean true in YAML 1.1 and text in YAML 1.2; write true or false"),
        ("No", "unquoted No is the boolean false in YAML 1.1 and text in YAML 1.2"),
        ("ON", "unquoted ON is the boolean true in YAML 1.1"),
        ("off", "unquoted off is the boolean false in YAML 1.1"),
        ("y", "unquoted y is the boolean true in YAML 1.1"),
        ("N", "unquoted N is the boolean false in YAML 1.1"),
        ("2026-01-01", "unquoted 2026-01-01 is the date 2026-01-01 in YAML 1.1 and text in YAML 1.2"),
        ("<<", "unquoted << is a merge key in YAML 1.1 and text in YAML 1.2"),
    ],
)
def test_scalars_the_two_versions_read_differently_are_refused(scalar: str, message: str) -> None:
    assert refusal(f"name: t\nvalue: {scalar}\n").startswith(f"x.yaml: line 2: {message}")


def test_a_refused_key_names_its_line() -> None:
    assert refusal("regions:\n  Europe: [GB]\n  NO: [NO]\n").startswith("x.yaml: line 3: unquoted NO is the boolean")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "x.yaml: line 3: duplicate key 'a' (first on line 1)"),
        ("outer:\n  inner:\n    k: 1\n    k: 2\n", "x.yaml: line 4: duplicate key 'k' (first on line 3)"),
        ("- {prefix: '44', prefix: '33'}\n", "x.yaml: line 1: duplicate key 'prefix' (first on line 1)"),
        ("44: a\n44: b\n", "x.yaml: line 2: duplicate key 44 (first on line 1)"),
        ("1: a\ntrue: b\n", "x.yaml: line 2: duplicate key true (first on line 1)"),  # one key to Python
    ],
)
def test_duplicate_keys_are_refused_at_any_depth(text: str, message: str) -> None:
    assert refusal(text) == message


def test_keys_that_differ_only_in_type_are_two_keys() -> None:
    assert load("44: a\n'44': b\n") == {44: "a", "44": "b"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1, 2]\nb: *x\n", "x.yaml: not a valid rate table: line 2: aliases (*x) are not allowed"),
        ("a: !!python/object/apply:os.system ['echo pwned']\n",
         "x.yaml: not a valid rate table: line 1: the tag !!python/object/apply:os.system is not allowed"),
        ("a: !!int '0044'\n", "x.yaml: not a valid rate table: line 1: the tag !!int is not allowed"),
        ("a: !!set {x, y}\n", "x.yaml: not a valid rate table: line 1: the tag !!set is not allowed"),
        ("a: ! 12\n", "x.yaml: not a valid rate table: line 1: the tag ! is not allowed"),
        ("a: 1\n---\nb: 2\n", "x.yaml: not a valid rate table: line 2: a second document (---); a file holds one"),
        ("? [a, b]\n: 1\n", "x.yaml: line 1: a key must be text or a number, not a list or a mapping"),
        ("a: [unclosed\n",
         "x.yaml: not a valid rate table: line 2: did not find expected ',' or ']' "
         "(while parsing a flow sequence on line 1)"),
    ],
)
def test_what_a_data_file_never_needs_is_refused(text: str, message: str) -> None:
    assert refusal(text) == message


def test_the_billion_laughs_stop_at_the_first_alias() -> None:
    bomb = Path(__file__).resolve().parent / "hostile" / "billion_laughs.yaml"
    with pytest.raises(InvalidInput, match=r"line 2: aliases \(\*a\) are not allowed"):
        strict_yaml.read(bomb, what="rate table", max_bytes=1 << 20)


def test_read_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("#" * 101)
    with pytest.raises(InvalidInput, match="101 bytes is too large for a rate table"):
        strict_yaml.read(path, what="rate table", max_bytes=100)


# --- properties -----------------------------------------------------------------------------------

SCALAR_ALPHABET = "0123456789+-._:eExXobyYnNoOfFtTrRuUlLsSaA~<="


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=SCALAR_ALPHABET, min_size=1, max_size=8))
def test_an_unquoted_scalar_is_read_only_where_both_versions_agree(scalar: str) -> None:
    """Accepted: YAML 1.1 (PyYAML) and YAML 1.2 read the same value, which is the result.
    Refused: the two read it differently, or it is a whole number written with a leading zero
    or in another base, or one of YAML 1.1's y/n booleans that PyYAML leaves out."""
    text = f"k: {scalar}\n"
    try:
        as_11 = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError):  # ValueError: PyYAML resolves 0b_ as a number it cannot read
        with pytest.raises(InvalidInput):
            load(text)
        return
    if not isinstance(as_11, dict) or list(as_11) != ["k"]:
        return  # not a plain scalar in this position (e.g. '- x', ': x', '#')
    as_11 = as_11["k"]
    as_12 = core_12(scalar)
    try:
        result = load(text)["k"]
    except InvalidInput as exc:
        assert "x.yaml: line 1: unquoted " in str(exc)
        other_notation = type(as_12) is int and len(scalar.lstrip("+-")) > 1 and scalar.lstrip("+-")[0] == "0"
        assert not same(as_11, as_12) or other_notation or scalar in ("y", "Y", "n", "N")
    else:
        assert same(result, as_11) and same(result, as_12)


# PyYAML writes y and n unquoted (it reads them as text), where YAML 1.1 has booleans
KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(lambda s: s not in ("y", "n"))
# NEL and the Unicode line and paragraph separators are line breaks to YAML 1.1 and not to 1.2
# (libyaml and PyYAML's own reader already differ on them), and libyaml refuses lone surrogates:
# text here leaves them out.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x85\u2028\u2029"), max_size=20).filter(
    lambda s: type(core_12(s)) is str and s not in ("y", "Y", "n", "N")
)
LEAVES = st.none() | st.booleans() | st.integers() | TEXT
DOCUMENTS = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS, st.booleans())
def test_documents_both_versions_agree_on_load_as_pyyaml_loads_them(data: Any, flow: bool) -> None:
    """PyYAML writes the document (quoting what YAML 1.1 would misread); the strict reading
    gives back what PyYAML reads, which is the data."""
    text = yaml.safe_dump({"doc": data}, default_flow_style=flow, allow_unicode=True)
    assert same(load(text), yaml.safe_load(text))
    assert same(load(text), {"doc": data})
