"""Properties of every reader over hostile input (hypothesis).

Whatever the bytes, a reader either raises :class:`InvalidInput` with one
line, or yields only :class:`CallRecord`, :class:`RowError` and :class:`Note`
values; every text of every record is storable (valid UTF-8, no NUL or other
control character); lines are positive. Inputs: arbitrary bytes after each
format's header, and structured mutations of real files (quotes, commas,
line breaks and stray bytes dropped into CSV exports; random values put in
the fields of Graph rows). The last test runs the real ``rate-cdrs`` on such
files: its exit code is 0, 1 or 3, never an internal error.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credits_cli.errors import InvalidInput
from credits_cli.readers import FORMATS, open_records
from credits_cli.readers.base import CallRecord, Columns, Note, RowError
from tests.helpers import pin_now

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CSV_FILES = [TESTS / "golden" / "teams_pstn.csv", TESTS / "golden" / "direct_routing.csv",
             TESTS / "golden" / "own_calls.csv", TESTS / "exports" / "graph_export_csv.csv",
             TESTS / "exports" / "operator_connect.csv"]
JSON_PAGE = json.loads((TESTS / "exports" / "graph_v1_page.json").read_text(encoding="utf-8"))
HEADERS = [
    b"",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    *(p.read_bytes().split(b"\n", 1)[0] + b"\n" for p in CSV_FILES),
    b"#TYPE System.Management.Automation.PSCustomObject\r\n",
    b'{"@odata.context": "x", "value": [',
    b"[",
    b"PK\x03\x04",
    b"sep=",
]
TEXT_FIELDS = ("source", "external_id", "user_upn", "call_type", "number", "user_country", "conference_id", "currency",
               "capability", "operator")


def check_item(item: object) -> None:
    if isinstance(item, Columns):  # calls read in columns: each must be a record as good as any
        for each in item.items():
            check_item(each)
        return
    assert isinstance(item, CallRecord | RowError | Note), item
    if isinstance(item, Note):
        item.text.encode("utf-8")
        return
    assert item.line >= 1
    if isinstance(item, RowError):
        assert "\n" not in item.reason
        item.reason.encode("utf-8")
        return
    for name in TEXT_FIELDS:
        value = getattr(item, name)
        if value is None:
            continue
        assert isinstance(value, str)
        assert _encodable(value), (name, value)  # no lone surrogate
        assert not any(ord(ch) < 0x20 or ch == "\x7f" for ch in value), (name, value)
    assert item.call_type == item.call_type.lower()
    assert 0 <= item.duration_seconds < 7 * 24 * 3600
    for amount in (item.charge, item.connection_fee):
        assert amount is None or (isinstance(amount, Decimal) and amount.is_finite())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def consume(data: bytes, fmt: str = "auto", name: str = "fuzz.csv") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            _, items = open_records(path, fmt, notes=True)
            for item in items:
                check_item(item)
        except InvalidInput as exc:
            assert "\n" not in str(exc)
            str(exc).encode("utf-8")


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=800), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes(header: bytes, body: bytes, fmt: str) -> None:
    consume(header + body, fmt)


@FUZZ
@given(body=st.binary(max_size=800), fmt=st.sampled_from(FORMATS))
def test_arbitrary_utf16_text(body: bytes, fmt: str) -> None:
    consume(b"\xff\xfe" + CSV_FILES[0].read_text(encoding="utf-8").encode("utf-16-le")[:600] + body, fmt)


_INSERTS = st.sampled_from([b'"', b'""', b",", b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"\xed\xb2\x80", b"\t", b";",
                            b"\x1b", b"No data", b"604800", b"-1", b"NaN", b"1e400", b"\xef\xbb\xbf"])


@FUZZ
@given(source=st.sampled_from(CSV_FILES), edits=st.lists(
    st.tuples(st.floats(0, 1), st.one_of(_INSERTS, st.binary(max_size=6)), st.integers(0, 3)), max_size=12))
def test_real_csv_exports_with_quotes_commas_and_line_breaks_dropped_in(
        source: Path, edits: list[tuple[float, bytes, int]]) -> None:
    data = bytearray(source.read_bytes())
    for where, insert, drop in edits:
        at = int(where * len(data))
        data[at:at + drop] = insert
    consume(bytes(data), name=source.name)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
    | st.sampled_from(["", "user_out", "ByotIn", "oc_fmc_in", "No data", "\x00", "\udc80", "+1 206 555 0188",
                       "2026-11-01T00:00:08.2589935Z", "/Date(1572566408258)/", "0001-01-01T00:00:00Z", "USD"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
_KEYS = st.sampled_from(sorted({k for row in JSON_PAGE["value"] for k in row} | {"correlationId", "inviteDateTime"}))


@FUZZ
@given(changes=st.lists(st.tuples(st.integers(0, 2), _KEYS, _JSON), max_size=10),
       big=st.sampled_from([None, "9" * 4301, "-" + "9" * 5000, "1e400", "NaN", "-Infinity", "0." + "1" * 3000]),
       utf16=st.booleans())
def test_graph_pages_with_random_values(changes: list[tuple[int, str, object]], big: str | None, utf16: bool) -> None:
    page = json.loads(json.dumps(JSON_PAGE))
    for index, key, value in changes:
        page["value"][index][key] = value
    text = json.dumps(page, ensure_ascii=True)
    if big is not None:
        text = text.replace('"duration": 219', '"duration": ' + big).replace('"charge": 0.23', '"charge": ' + big)
    data = b"\xff\xfe" + text.encode("utf-16-le", errors="surrogatepass") if utf16 else text.encode("utf-8")
    consume(data, name="page.json")


@FUZZ
@given(rows=st.lists(st.one_of(_JSON, st.fixed_dictionaries(
    {}, optional={k: _JSON for k in ("id", "callType", "duration", "startDateTime", "userPrincipalName",
                                     "calleeNumber", "charge", "currency", "licenseCapability", "operator")})),
    max_size=5), shape=st.sampled_from(["page", "list", "lines"]))
def test_graph_rows_of_any_shape(rows: list[object], shape: str) -> None:
    if shape == "page":
        text = json.dumps({"@odata.context": "x", "value": rows, "@odata.nextLink": "n"})
    elif shape == "list":
        text = json.dumps(rows)
    else:
        text = "\n".join(json.dumps(r) for r in rows)
    consume(text.encode("utf-8", errors="surrogatepass"), name="rows.json")


# --- through the real command --------------------------------------------------------------------------------

@pytest.fixture
def funded(cli, tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_now(monkeypatch, "2026-11-02T09:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100000").exit_code == 0


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from([*CSV_FILES, TESTS / "exports" / "graph_v1_page.json",
                               TESTS / "exports" / "graph_out_file_utf16.json", TESTS / "golden" / "graph_rows.json"]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.one_of(_INSERTS, st.binary(max_size=6)), st.integers(0, 3)),
                      max_size=8))
def test_rate_cdrs_on_mutated_exports_never_fails_inside(cli, funded, tmp_path_factory, source: Path,
                                                         edits: list[tuple[float, bytes, int]]) -> None:
    data = bytearray(source.read_bytes())
    for where, insert, drop in edits:
        at = int(where * len(data))
        data[at:at + drop] = insert
    path = tmp_path_factory.mktemp("mutated") / source.name
    path.write_bytes(bytes(data))
    result = cli("rate-cdrs", str(path), "--rejects", str(path.with_suffix(".rejects.csv")))
    assert result.exit_code in (0, 1, 3), (result.exit_code, result.stdout, result.stderr)
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.stderr.startswith("error: ") and result.stderr.strip().count("\n") == 0, result.stderr


def test_check_item_catches_what_it_should() -> None:
    """The property's own check fails on a record the database could not store."""
    from datetime import datetime

    good = CallRecord("f.csv", 2, "id", "ada@contoso.com", datetime(2026, 1, 1), 60, "user_out", "+1206")
    check_item(good)
    for bad in (dataclasses.replace(good, external_id="a\udc80"), dataclasses.replace(good, user_upn="a\x00b"),
                dataclasses.replace(good, duration_seconds=7 * 24 * 3600)):
        with pytest.raises(AssertionError):
            check_item(bad)
