"""The readers' limits and shapes, at reader level: what a record may be, where a file ends, what a zip
may hold, how Graph pages are walked, and the field parsers that keep rows storable."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credits_cli.errors import InvalidInput
from credits_cli.readers import _common, _pages, _table, direct_routing, export_zip, open_records
from credits_cli.readers.base import CallRecord, Columns, Note, RowError

TESTS = Path(__file__).resolve().parent
HOSTILE = TESTS / "hostile"
GOOD = (HOSTILE / "good_calls.csv").read_text(encoding="utf-8").splitlines()
HEADER = GOOD[0]


def row(n: int, name: str = "Ada", duration: str = "60") -> str:
    uid = f"11111111-0000-0000-0000-{n:012d}"
    return ",".join([uid, f"c-{uid}", "", "US", "aad", "ada@contoso.com", name, "+14255550123", "user_out", "user",
                     "Domestic", "United States", "+14255550123", "2026-10-05T10:00:00.0000000Z",
                     "2026-10-05T10:01:00.0000000Z", duration, "0", "0", "USD", "MCOPSTNC"])


STARTS = ["2026-10-05T10:00:07Z", "2026-10-05T10:00:07.5Z", "2026-10-05T10:00:07.123456Z",
          "2026-10-05T10:00:07.1234567Z", "2026-10-05T10:00:07.000001999Z", "2026-10-05T10:00:07.Z",
          "2026-10-05T23:59:59.9999999Z", "2026-10-05T10:00:07.12Z", "2026-10-05 10:00:07.25Z"]


def items_of(path: Path, **kw: object) -> list[CallRecord | RowError | Note]:
    out: list[CallRecord | RowError | Note] = []
    for item in open_records(path, **kw)[1]:  # type: ignore[call-overload]
        out.extend(item.items() if isinstance(item, Columns) else [item])  # calls read in columns, as records
    return out


def _whole_file_row_by_row(table: _table.Table, convert, convert_lines, wanted):  # type: ignore[no-untyped-def]
    """``Table.columns`` as the reference: the whole file through ``Table.rows``, no block in columns."""
    return table.rows(convert)


def shape(items: list[CallRecord | RowError | Note]) -> list[tuple[str, int, str]]:
    """(kind, line, id or reason) of each value: what a test compares."""
    out: list[tuple[str, int, str]] = []
    for i in items:
        if isinstance(i, CallRecord):
            out.append(("record", i.line, i.external_id))
        elif isinstance(i, RowError):
            out.append(("error", i.line, i.reason))
    return out


# --- CSV records ------------------------------------------------------------------------------------------------

def test_a_stray_quote_costs_one_row_and_the_lines_it_swallowed_are_read_again(tmp_path: Path) -> None:
    rows = [row(n) for n in range(1, 1101)]
    rows[2] = row(3, name='"Ace Smith,')  # opens a quote it never closes
    path = tmp_path / "calls.csv"
    path.write_text("\r\n".join([HEADER, *rows, ""]), encoding="utf-8")
    got = shape(items_of(path))
    assert len(got) == 1100  # "rows read" counts physical records
    assert [g for g in got if g[0] == "error"] == [
        ("error", 4, "a quoted field opened on this line is not closed within 3 lines (a stray quote?); "
                     "the lines after it are read as rows of their own")]
    assert [g[1] for g in got] == list(range(2, 1102))


def test_a_record_over_three_lines_is_refused_and_one_over_two_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("\r\n".join([HEADER, row(1, name='"Ada\nLovelace"'), row(2, name='"A\nB\nC"'), row(3),
                                 row(4, name='"A\nB\nC\nD"'), row(5), ""]), encoding="utf-8")
    got = shape(items_of(path))
    assert [(k, line) for k, line, _ in got] == [("record", 2), ("record", 4), ("record", 7), ("error", 8),
                                                 ("error", 9), ("error", 10), ("error", 11), ("record", 12)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(
    ["blank", "spaces", "nbsp", "few", "many", "empty fields", "name", "bad id", "bad number", "latin-1",
     "bom", "start"])),
    max_size=8), crlf=st.booleans())
def test_plain_blocks_read_in_columns_as_row_by_row(tmp_path_factory: pytest.TempPathFactory,
                                                    edits: list[tuple[int, str]], crlf: bool) -> None:
    """A block of plain lines (no quote, NUL or lone carriage return) is cut into columns by polars' CSV
    reader; whatever its lines are (blank, too few or too many fields, empty fields, names in any script,
    a value the columns cannot take, bytes that are not UTF-8), it gives the records and rejected rows
    that the csv module gives row by row, in the same order."""
    lines = [row(n).encode() for n in range(1, 41)]
    for at, what in edits:
        cells = lines[at].split(b",")
        if len(cells) < 20 and what in ("empty fields", "name", "bad id", "bad number", "latin-1", "bom", "start"):
            continue  # a line made blank or short before: its fields are gone
        if what == "blank":
            lines[at] = b""
        elif what == "spaces":
            lines[at] = b"   "
        elif what == "nbsp":
            lines[at] = "\u00a0\u2003".encode()
        elif what == "few":
            lines[at] = b",".join(cells[:5])
        elif what == "many":
            lines[at] = b",".join([*cells, b"extra"])
        elif what == "empty fields":
            cells[2] = cells[6] = cells[7] = cells[16] = cells[17] = b""
            lines[at] = b",".join(cells)
        elif what == "name":
            cells[6] = "Zoë Łukasz 李雷 Ølstrøm".encode()
            lines[at] = b",".join(cells)
        elif what == "bad id":
            cells[0] = b"not an id \x7f"
            lines[at] = b",".join(cells)
        elif what == "bad number":
            cells[12] = b"+1 (425) 555-0123"
            lines[at] = b",".join(cells)
        elif what == "start":  # the seconds' fraction of any length, or none (the microseconds are cut from it)
            cells[13] = STARTS[at % len(STARTS)].encode()
            lines[at] = b",".join(cells)
        elif what == "bom":  # a byte order mark starting a line (the id): kept in the field, as the csv module does
            lines[at] = b"\xef\xbb\xbf" + lines[at]
        else:  # Latin-1, not UTF-8: the block goes row by row, as the row reader decodes it
            cells[6] = "Zoë".encode("latin-1")
            lines[at] = b",".join(cells)
    end = b"\r\n" if crlf else b"\n"
    path = tmp_path_factory.mktemp("plain") / "calls.csv"
    path.write_bytes(end.join([HEADER.encode(), *lines, b""]))
    columns = items_of(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_table.Table, "columns", _whole_file_row_by_row)
        rows = items_of(path)
    assert columns == rows
    if not any(what in ("latin-1", "bom") for _at, what in edits):  # (those are read row by row either way)
        assert any(isinstance(i, Columns) for i in open_records(path, notes=True)[1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["latin-1", "bom", "nul", "quote", "lone cr",
                                                                    "few"])), min_size=1, max_size=4,
                    unique_by=lambda edit: edit[0]),
       crlf=st.booleans())
def test_a_block_odd_for_its_bytes_alone_is_read_row_by_row_and_the_next_in_columns(
        tmp_path_factory: pytest.TempPathFactory, odd: list[tuple[int, str]], crlf: bool) -> None:
    """A block that is not UTF-8, or holds a NUL or a byte order mark, is read row by row on its own, and
    the blocks after it in columns again; one with a quote or a lone carriage return sends the rest of
    the file row by row. Either way the file reads as it does row by row."""
    lines = [row(n).encode() for n in range(1, 41)]
    for at, what in odd:
        cells = lines[at].split(b",")
        cells[6] = {"latin-1": "Zoë".encode("latin-1"), "bom": b"\xef\xbb\xbfAda", "nul": b"A\x00da",
                    "quote": b'"Ada"', "lone cr": b"A\rda", "few": cells[6]}[what]
        lines[at] = b",".join(cells[:5] if what == "few" else cells)
    end = b"\r\n" if crlf else b"\n"
    path = tmp_path_factory.mktemp("odd") / "calls.csv"
    path.write_bytes(end.join([HEADER.encode(), *lines, b""]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_table, "MAX_LINE_BYTES", 700)  # blocks of about two lines
        patch.setattr(_table, "BLOCK_BYTES", 700)
        patch.setattr(_table, "COLUMN_LINES", 3)
        columns = items_of(path)
        in_columns = [item.frame["line"].to_list() for item in open_records(path, notes=True)[1]
                      if isinstance(item, Columns)]
        patch.setattr(_table.Table, "columns", _whole_file_row_by_row)
        assert columns == items_of(path)
    if all(what == "few" for _at, what in odd):
        return
    last_odd = max(at for at, what in odd if what != "few") + 2  # (its line: the header is line 1)
    read_later = any(line > last_odd + 2 for lines_of in in_columns for line in lines_of)
    whole_rest = any(what in ("quote", "lone cr") for _at, what in odd)
    if last_odd <= 36 and not whole_rest:
        assert read_later  # the blocks after the odd one, in columns again
    if whole_rest:
        first_whole = min(at for at, what in odd if what in ("quote", "lone cr")) + 2
        assert not any(line > first_whole + 2 for lines_of in in_columns for line in lines_of)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=st.lists(st.sampled_from(["good", "few", "bad id"]), min_size=1, max_size=40),
       limit=st.integers(0, 8), column_lines=st.sampled_from([3, 5_000]))
def test_too_many_rejected_rows_are_refused_at_the_same_row_in_columns(
        tmp_path_factory: pytest.TempPathFactory, bad: list[str], limit: int, column_lines: int) -> None:
    """A file with more than MAX_REJECTED rejected rows, and more rejected than given, is refused at the
    row where that first holds, counting the calls before that row only: read in columns (a block at a
    time) as row by row, whatever the blocks."""
    lines = [row(n) if what == "good" else ",".join(row(n).split(",")[:5]) if what == "few"
             else "not an id \x7f" + row(n)[36:] for n, what in enumerate(bad, start=1)]
    path = tmp_path_factory.mktemp("refused") / "calls.csv"
    path.write_text("\n".join([HEADER, *lines, ""]), encoding="utf-8")

    def outcome() -> tuple[str, object]:
        try:
            return "read", shape(items_of(path))
        except InvalidInput as exc:
            return "refused", str(exc)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_table, "MAX_REJECTED", limit)
        patch.setattr(_table, "COLUMN_LINES", column_lines)
        patch.setattr(_table, "MAX_LINE_BYTES", 700)  # blocks of about two lines
        patch.setattr(_table, "BLOCK_BYTES", 700)
        columns = outcome()
        patch.setattr(_table.Table, "columns", _whole_file_row_by_row)
        assert columns == outcome()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(['"', '""', ",", "\n", "\r\n", "x"])),
                      max_size=10),
       block=st.sampled_from([64, 150, 300]), line_limit=st.sampled_from([300, 600]))
def test_block_size_never_changes_what_is_read(tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, str]],
                                               block: int, line_limit: int) -> None:
    """Blocks of any size (up to the line limit, as the reader requires) read the same values."""
    lines = [HEADER, *(row(n) for n in range(1, 41))]
    for at, text in edits:  # insert into the name column of a row
        cells = lines[1 + at % 40].split(",")
        cells[6] = text + cells[6]
        lines[1 + at % 40] = ",".join(cells)
    path = tmp_path_factory.mktemp("blocks") / "calls.csv"
    path.write_text("\r\n".join([*lines, ""]), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_table, "MAX_LINE_BYTES", line_limit)
        patch.setattr(_table, "BLOCK_BYTES", line_limit)
        expected = shape(items_of(path))
        patch.setattr(_table, "BLOCK_BYTES", block)
        assert shape(items_of(path)) == expected
    kinds = [g[0] for g in expected]
    physical = [n for n, line in enumerate(path.read_text(encoding="utf-8").split("\n")[1:], start=2) if line.strip()]
    assert len(kinds) <= len(physical) and expected[0][1] >= 2


def test_an_overlong_line_inside_a_quoted_record_is_two_rejects(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_table, "MAX_LINE_BYTES", 400)
    monkeypatch.setattr(_table, "BLOCK_BYTES", 200)
    path = tmp_path / "calls.csv"
    path.write_text("\r\n".join([HEADER, row(1), row(2, name='"Ada'), "y" * 1000 + '"', row(3), ""]),
                    encoding="utf-8")
    got = shape(items_of(path))
    assert got[0] == ("record", 2, "11111111-0000-0000-0000-000000000001")
    assert got[1] == ("error", 3, "the record runs into line 4, which is longer than 400 bytes")
    assert got[2] == ("error", 4, "the line is longer than 400 bytes; not a call record")
    assert got[3] == ("record", 5, "11111111-0000-0000-0000-000000000003")


def test_field_count_must_be_the_headers(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("\n".join([HEADER, row(1) + ",extra", row(2)[: row(2).rindex(",")], row(3), ""]), encoding="utf-8")
    assert shape(items_of(path)) == [("error", 2, "the row has 21 fields; the header has 20"),
                                     ("error", 3, "the row has 19 fields; the header has 20"),
                                     ("record", 4, "11111111-0000-0000-0000-000000000003")]


def test_an_id_of_256_characters_is_kept_and_one_of_257_is_not_in_columns_or_row_by_row(tmp_path: Path) -> None:
    """The longest id, UPN and conference id are kept, one character more is a rejected row: alike in a plain
    file (read in columns) and in one with a quoted field (read row by row)."""
    def of(n: int, width: int, field: int) -> str:
        cells = row(n).split(",")
        cells[field] = ("x" * width) if field != 5 else "a" * (width - len("@contoso.com")) + "@contoso.com"
        return ",".join(cells)

    rows = [of(1, 256, 0), of(2, 257, 0), of(3, 256, 2), of(4, 257, 2), of(5, 256, 5), of(6, 257, 5), row(7)]
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join([HEADER, *rows, ""]), encoding="utf-8")
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\n".join([HEADER, *rows[:-1], row(7, name='"Lovelace, Ada"'), ""]), encoding="utf-8")
    assert any(isinstance(i, Columns) for i in open_records(plain, notes=True)[1])  # the plain one: in columns
    assert not any(isinstance(i, Columns) for i in open_records(quoted, notes=True)[1])
    got = shape(items_of(plain))
    assert got == shape(items_of(quoted))
    assert [(kind, line) for kind, line, _ in got] == [("record", 2), ("error", 3), ("record", 4), ("error", 5),
                                                     ("record", 6), ("error", 7), ("record", 8)]


def test_too_many_rejected_rows_refuse_the_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_table, "MAX_REJECTED", 5)
    path = tmp_path / "calls.csv"
    path.write_text("\n".join([HEADER, row(1), *(["a,b"] * 10), ""]), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"calls.csv: more than 5 rows rejected \(line 8: the row has 2 fields"):
        items_of(path)


def test_many_rejected_rows_among_more_good_ones_keep_going(tmp_path: Path, monkeypatch) -> None:
    # a real export with a bad column in some rows: the good ones outnumber the bad, so the file is read on
    monkeypatch.setattr(_table, "MAX_REJECTED", 2)
    path = tmp_path / "calls.csv"
    lines = [HEADER]
    for n in range(1, 9):
        lines += [row(n), "a,b"]
    path.write_text("\n".join([*lines, ""]), encoding="utf-8")
    kinds = [k for k, _, _ in shape(items_of(path))]
    assert kinds.count("record") == 8 and kinds.count("error") == 8


def test_powershell_type_line_and_excel_sep_line(tmp_path: Path) -> None:
    typed = tmp_path / "typed.csv"
    typed.write_text("#TYPE System.Management.Automation.PSCustomObject\n" + HEADER + "\n" + row(1) + "\n")
    assert shape(items_of(typed)) == [("record", 3, "11111111-0000-0000-0000-000000000001")]
    for mark in (";", "|", "\t"):  # Excel names any of its separators, a tab too
        sep = tmp_path / "sep.csv"
        sep.write_text(f"sep={mark}\n" + HEADER.replace(",", mark) + "\n" + row(1).replace(",", mark) + "\n")
        assert shape(items_of(sep)) == [("record", 3, "11111111-0000-0000-0000-000000000001")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_either_byte_order(tmp_path: Path, encoding: str) -> None:
    bom = b"\xff\xfe" if encoding == "utf-16-le" else b"\xfe\xff"
    path = tmp_path / "calls.csv"
    path.write_bytes(bom + "\r\n".join([HEADER, row(1, name="Zoë"), row(2), ""]).encode(encoding))
    assert shape(items_of(path)) == shape(items_of(HOSTILE / "good_calls.csv"))


def test_utf16_member_of_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        data = b"\xff\xfe" + "\r\n".join([HEADER, row(1), ""]).encode("utf-16-le")
        archive.writestr("PSTN.calls.2026-10-01.csv", data)
    assert shape(items_of(path)) == [("record", 2, "11111111-0000-0000-0000-000000000001")]


def test_only_regular_files_are_read(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="zero: not a regular file"):
        open_records(Path("/dev/zero"))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInput, match="pipe.csv: not a regular file"):  # and without waiting for a writer
        open_records(fifo)


def test_an_undecodable_file_name_is_a_storable_source(tmp_path: Path) -> None:
    name = os.fsdecode(b"calls-\xff.csv")
    path = tmp_path / name
    path.write_text("\n".join([HEADER, row(1), ""]), encoding="utf-8")
    [record] = items_of(path)
    assert isinstance(record, CallRecord) and record.source == "calls-\ufffd.csv"
    record.source.encode("utf-8")


# --- the zip ------------------------------------------------------------------------------------------------------

def test_zip_entry_count_is_read_from_the_end_record_zip64_too(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(3):
            archive.writestr(f"{i}.txt", b"")
    assert export_zip._entry_count(path, "x.zip") == 3
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    zip64_end = end  # where the zip64 end record will stand
    record = (b"PK\x06\x06" + (44).to_bytes(8, "little") + b"\x2d\x00\x2d\x00" + b"\x00" * 8
              + (70_000).to_bytes(8, "little") * 2 + b"\x00" * 16)
    locator = b"PK\x06\x07" + b"\x00" * 4 + zip64_end.to_bytes(8, "little") + (1).to_bytes(4, "little")
    data[end + 10:end + 12] = b"\xff\xff"
    path.write_bytes(bytes(data[:end]) + record + locator + bytes(data[end:]))
    assert export_zip._entry_count(path, "x.zip") == 70_000
    with pytest.raises(InvalidInput, match="x.zip: the zip holds 70,000 entries"):
        open_records(path)


def test_a_small_member_may_compress_well(tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.x.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PSTN.calls.2026-10-01.csv", "\n".join([HEADER, row(1), *[""] * 100_000]))
    assert shape(items_of(path)) == [("record", 2, "11111111-0000-0000-0000-000000000001")]


# --- Graph pages ----------------------------------------------------------------------------------------------------

GRAPH_ROW = {"id": "g-1", "callType": "user_out", "userPrincipalName": "ada@contoso.com", "duration": 60,
             "startDateTime": "2026-10-05T10:00:00Z", "calleeNumber": "+14255550123"}


def graph_row(n: int) -> dict[str, object]:
    return {**GRAPH_ROW, "id": f"g-{n}"}


def test_only_the_last_page_decides_whether_the_download_is_complete(tmp_path: Path) -> None:
    linked = [{"value": [graph_row(1)], "@odata.nextLink": "p2"}, {"value": [graph_row(2)]}]
    path = tmp_path / "pages.json"
    path.write_text(json.dumps(linked))
    assert not any(isinstance(i, Note) for i in items_of(path, notes=True))
    path.write_text("\n".join(json.dumps(p) for p in [linked[1], linked[0]]))  # JSON Lines, last one linked
    got = items_of(path, notes=True)
    assert isinstance(got[-1], Note) and "p2" in got[-1].text
    assert [i.line for i in got if isinstance(i, CallRecord)] == [1, 2]


def test_a_large_page_is_walked_key_by_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_pages, "MAX_ROW_CHARS", 2000)
    monkeypatch.setattr(_pages, "BLOCK_BYTES", 256)
    page = {"@odata.context": "ctx", "@odata.count": 50, "value": [graph_row(n) for n in range(1, 51)],
            "@odata.nextLink": "more"}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page, indent=3))
    got = items_of(path, notes=True)
    assert [i.external_id for i in got if isinstance(i, CallRecord)] == [f"g-{n}" for n in range(1, 51)]
    assert isinstance(got[-1], Note) and "more" in got[-1].text


def test_json_broken_half_way_is_refused_where_it_breaks(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_pages, "BLOCK_BYTES", 128)
    text = json.dumps({"value": [graph_row(n) for n in range(1, 30)]}, indent=1)
    path = tmp_path / "page.json"
    path.write_text(text[: len(text) // 2])
    line = text[: len(text) // 2].count("\n") + 1
    with pytest.raises(InvalidInput, match=rf"page.json: invalid JSON at line {line} .*looks truncated"):
        items_of(path)
    path.write_text(text.replace('"g-20"', '"g-20" "oops"'))
    with pytest.raises(InvalidInput, match=r"page.json: invalid JSON at line \d+ column \d+: Expecting"):
        items_of(path)


def test_pascal_case_keys_and_powershell_dates(tmp_path: Path) -> None:
    row = {"Id": "g-1", "CallType": "User_Out", "UserPrincipalName": "Ada@Contoso.com", "Duration": 60,
           "StartDateTime": "/Date(1791194400000)/", "CalleeNumber": "+14255550123", "Charge": 0.25,
           "ConnectionCharge": 0, "Currency": "usd", "LicenseCapability": "mcopstnpp", "Operator": "Microsoft"}
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([row]))
    [record] = items_of(path)
    assert isinstance(record, CallRecord)
    assert (record.call_type, record.user_upn, record.start) == ("user_out", "ada@contoso.com",
                                                                 datetime(2026, 10, 5, 10, 0))
    assert (record.charge, record.connection_fee, record.currency, record.capability) == (
        Decimal("0.25"), Decimal("0"), "USD", "MCOPSTNPP")


def test_json_numbers_are_never_floats(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text('[{"id": "g-1", "callType": "user_out", "duration": 60.0, "startDateTime": "2026-10-05T10:00:00Z",'
                    ' "calleeNumber": "+1", "charge": 0.1, "connectionCharge": 0.30000000000000004}]')
    [record] = items_of(path)
    assert isinstance(record, CallRecord)
    assert (record.charge, record.connection_fee) == (Decimal("0.1"), Decimal("0.30000000000000004"))
    assert str(record.charge) == "0.1"


def test_walk_keeps_its_window_small(tmp_path: Path) -> None:
    rows = ",".join(json.dumps(graph_row(n)) for n in range(20_000))
    stream = io.BytesIO(('{"value": [' + rows + "]}").encode())
    walk = _pages.Walk(stream, "x.json")
    biggest = 0
    for _ in walk.rows():
        biggest = max(biggest, len(walk._buf))
    assert biggest < _pages.MAX_ROW_CHARS + 3 * _pages.BLOCK_BYTES  # a page is first tried as one value


# --- field parsers --------------------------------------------------------------------------------------------

def test_amounts_are_exact_and_bounded() -> None:
    parse = _common.parse_amount
    assert parse("0.06", "Charge") == Decimal("0.06") and parse("", "Charge") is None and parse(None, "x") is None
    assert parse("0,06", "Charge") == Decimal("0.06")  # a decimal comma from a spreadsheet
    assert parse("-0.50", "Charge") == Decimal("-0.50")
    for bad in ("NaN", "Infinity", "1e400", "12a", "1.2.3", "9" * 40, "0x10", "١٢"):
        with pytest.raises(ValueError, match="Charge"):
            parse(bad, "Charge")
    with pytest.raises(ValueError, match="charge"):
        parse(Decimal("NaN"), "charge")
    assert parse(10**5, "charge") == Decimal(100000)


def test_codes_and_names() -> None:
    assert _common.currency(" usd ") == "USD" and _common.currency("") is None
    assert _common.capability("mcoev_virtualuser") == "MCOEV_VIRTUALUSER"
    for bad, parse in (("US Dollar", _common.currency), ("MCO PSTN", _common.capability)):
        with pytest.raises(ValueError):
            parse(bad)
    assert _common.operator("Contoso Telecom") == "Contoso Telecom" and _common.operator(None) is None
    with pytest.raises(ValueError, match="control character"):
        _common.operator("Contoso\x1b[31m")


@pytest.mark.parametrize("upn", ["No data", "no data", "  NO DATA ", "No Data"])
def test_no_data_is_no_user(upn: str) -> None:
    assert _common.clean_upn(upn) == ""


@pytest.mark.parametrize(("call_type", "inbound"), [
    ("user_in", True), ("conf_in", True), ("ucap_in", True), ("unassigned_in", True), ("dr_in", True),
    ("dr_in_ucap", True), ("dr_in_bot", True), ("dr_unassigned_in", True), ("oc_user_in", True),
    ("oc_fmc_in", True), ("oc_ucap_in", True), ("byotin", True), ("byotinucap", True),
    ("user_out", False), ("user_out_conf", False), ("conf_out", False), ("ucap_out", False), ("oc_user_out", False),
    ("oc_user_out_conf", False), ("oc_fmc_out", False), ("dr_out_user_transfer", False), ("byotout", False),
    ("byotoutusertransfer", False), ("dr_emergency_out", False),
])
def test_direction_of_every_call_type(call_type: str, inbound: bool) -> None:
    assert _common.is_inbound(call_type) is inbound
    assert _common.is_direct_routing(call_type) is call_type.startswith(("dr_", "byot"))


def test_a_week_is_refused_and_a_second_less_is_not() -> None:
    assert _common.parse_duration("604799") == 604799
    for value in ("604800", 604800, Decimal("604800"), "604800.0", "9" * 5000, Decimal("-1e5000")):
        with pytest.raises(ValueError):
            _common.parse_duration(value)


def test_a_direct_routing_leg_id_ignores_how_its_times_are_written() -> None:
    when = datetime(2026, 11, 4, 10, 0, 2)
    one = direct_routing.leg_id("c", None, when, "dr_in", "+1", "+2", "ada@contoso.com", 60)
    assert one.startswith("c#") and len(one) == len("c#") + 12
    assert one == direct_routing.leg_id("c", None, datetime.fromisoformat("2026-11-04T10:00:02.000"), "dr_in", "+1",
                                        "+2", "ada@contoso.com", 60)
    assert one != direct_routing.leg_id("c", None, when, "dr_out_user_transfer", "+1", "+2", "ada@contoso.com", 60)
