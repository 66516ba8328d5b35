"""Readers of call-record files: golden files, variants, bad rows, bad files, fuzz."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credits_cli.errors import InvalidInput
from credits_cli.readers import FORMATS, open_records
from credits_cli.readers.base import CallRecord, RowError

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = ROOT / "examples"
UPDATE = os.environ.get("CREDITS_UPDATE_GOLDEN") == "1"

GOLDEN_FILES = {
    "teams_pstn.csv": "teams-csv",
    "teams_pstn_tab.csv": "teams-csv",
    "direct_routing.csv": "direct-routing-csv",
    "graph_pages.jsonl": "graph-json",
    "graph_rows.json": "graph-json",
    "own_calls.csv": "csv",
}


def as_json(item: CallRecord | RowError) -> dict[str, object]:
    if isinstance(item, RowError):
        return {"source": item.source, "line": item.line, "error": item.reason}
    out = dataclasses.asdict(item)
    out["start"] = item.start.isoformat()
    for key in ("charge", "connection_fee"):
        if out[key] is not None:
            out[key] = str(out[key])
    return out


def read_all(path: Path, fmt: str = "auto") -> tuple[str, list[CallRecord | RowError]]:
    name, items = open_records(path, fmt)
    return name, list(items)


def records(items: list[CallRecord | RowError]) -> list[CallRecord]:
    return [i for i in items if isinstance(i, CallRecord)]


def errors(items: list[CallRecord | RowError]) -> list[RowError]:
    return [i for i in items if isinstance(i, RowError)]


def without_place(record: CallRecord) -> CallRecord:
    return dataclasses.replace(record, source="", line=0)


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


# --- golden files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_FILES))
def test_golden(name: str) -> None:
    fmt, items = read_all(GOLDEN / name)
    assert fmt == GOLDEN_FILES[name]
    got = [as_json(i) for i in items]
    expected_path = GOLDEN / (name.rsplit(".", 1)[0] + ".expected.json")
    if UPDATE:
        expected_path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))


def test_golden_teams_bad_rows_have_their_lines_and_good_rows_stay() -> None:
    _, items = read_all(GOLDEN / "teams_pstn.csv")
    bad = {e.line: e.reason for e in errors(items)}
    # Row 5 has a display name over two lines, so every later row starts one line further down.
    assert sorted(bad) == [8, 9, 10, 13, 14, 17]
    assert "negative" in bad[8]
    assert "11/02/2026" in bad[9]
    assert "4 fields; the header has 20" in bad[10]
    assert "a week or longer" in bad[13]
    assert "twelve" in bad[14]
    assert "out of range" in bad[17]
    good = records(items)
    assert [r.line for r in good] == [2, 3, 4, 5, 7, 12, 15, 16]
    assert good[0].user_upn == "ada.lovelace@contoso.com"
    assert good[0].start == datetime(2026, 11, 1, 9, 0, 5, 123456)
    # The duplicated UsageId is read twice: deciding it is a duplicate is rating's job.
    assert [r.external_id for r in good].count("0b5e2c1a-0001-4d7e-9f00-000000000001") == 2


def test_teams_numbers_by_direction() -> None:
    good = {r.external_id[-2:]: r for r in records(read_all(GOLDEN / "teams_pstn.csv")[1])}
    assert good["01"].number == "+12065550188"  # outbound: the number dialed
    assert good["05"].number == "+12065550102"  # inbound: the number that received the call
    assert good["03"].call_type == "ucap_in" and good["03"].user_upn == "" and good["03"].number == "+18335550142"
    assert good["12"].number == "+18005550100"  # a toll-free bridge of the tenant
    assert good["04"].conference_id == "421337" and good["04"].user_country == "DE"


def test_masked_numbers_are_kept_without_spaces() -> None:
    numbers = {r.external_id[-2:]: r.number for r in records(read_all(GOLDEN / "teams_pstn.csv")[1])}
    assert numbers["02"] == "+4420794601***"
    assert numbers["09"] == "+9122400001***"
    graph = records(read_all(GOLDEN / "graph_rows.json")[1])
    assert graph[1].number == "+442079460***"
    own = records(read_all(GOLDEN / "own_calls.csv")[1])
    assert own[4].number == "+4420794601***"


# --- Teams CSV variants -----------------------------------------------------------------------------------------


def test_plain_lines_read_in_columns_the_same_with_cr_lf_or_lf(tmp_path: Path) -> None:
    # The golden rows without the quoted one: every line plain, so read in columns; the rows that columns cannot
    # take (a negative charge, a date in another form, a short row...) go through the row converter with their
    # fields, the last one (Capability) without the CR of its CR LF.
    lines = [line for line in (GOLDEN / "teams_pstn.csv").read_bytes().split(b"\r\n") if line and b'"' not in line]
    lines[1] = lines[1].replace(b"Ada.Lovelace@", "Adä.Lovelace@".encode())  # (a name columns leave to the rows)
    crlf = write(tmp_path / "crlf.csv", b"\r\n".join(lines) + b"\r\n")
    lf = write(tmp_path / "lf.csv", b"\n".join(lines) + b"\n")
    _, by_crlf = read_all(crlf)
    _, by_lf = read_all(lf)
    assert [dataclasses.replace(i, source="") for i in by_crlf] == [dataclasses.replace(i, source="") for i in by_lf]
    assert [r.line for r in records(by_crlf)] == [2, 3, 4, 8, 11, 12] and records(by_crlf)[0].capability == "MCOPSTN2"
    assert [e.line for e in errors(by_crlf)] == [5, 6, 7, 9, 10, 13]
    assert not any("\r" in e.reason for e in errors(by_crlf))
    # a carriage return inside a line is not a line's end: those lines are read by the csv module, the same rows
    lone = write(tmp_path / "lone.csv", b"\r\n".join(lines[:3]) + b"\r\n" + lines[3].replace(b",", b"\r,", 1) + b"\r\n")
    _, items = read_all(lone)
    assert [i.line for i in items] == [2, 3, 4] and isinstance(items[-1], RowError)



def test_bom_variant_reads_the_same(tmp_path: Path) -> None:
    raw = (GOLDEN / "teams_pstn.csv").read_bytes()
    path = write(tmp_path / "teams_pstn.csv", b"\xef\xbb\xbf" + raw)
    fmt, items = read_all(path)
    assert fmt == "teams-csv"
    assert items == read_all(GOLDEN / "teams_pstn.csv")[1]


def test_reordered_and_extra_columns(tmp_path: Path) -> None:
    source = EXAMPLES / "PSTN.calls.2026-10-01.csv"
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = [h.upper().replace(" ", "  ") for h in rows[0]]  # case and spacing differ too
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Call Direction", *reversed(header), "External Country"])
    for row in rows[1:]:
        writer.writerow(["Outbound", *reversed(row), "XX"])
    path = write(tmp_path / "PSTN.calls.2026-10-01.csv", out.getvalue())
    fmt, items = read_all(path)
    assert fmt == "teams-csv"
    assert items == read_all(source)[1]


def test_tab_separated_variant_under_a_csv_name() -> None:
    fmt, items = read_all(GOLDEN / "teams_pstn_tab.csv")
    assert fmt == "teams-csv"
    good = records(items)
    assert [r.number for r in good] == ["+12065550188", "+12065550102", "+4930901820777"]
    assert good[0].start == datetime(2019, 11, 1, 0, 0, 8, 258993)


def test_semicolon_csv_with_excel_sep_line(tmp_path: Path) -> None:
    text = ("sep=;\nUsageId;Call Type;UPN;Start Time;Duration Seconds;Destination Number\n"
            "u-1;user_out;ada@contoso.com;2026-11-01T00:00:00Z;60;+12065550188\n")
    fmt, items = read_all(write(tmp_path / "x.csv", text))
    assert fmt == "teams-csv"
    assert [(r.line, r.external_id) for r in records(items)] == [(3, "u-1")]


def test_nul_bytes_and_overlong_lines_are_row_errors(tmp_path: Path) -> None:
    head = "UsageId,Call Type,UPN,User Display Name,Start Time,Duration Seconds,Destination Number\n"
    big = "x" * (2 * 1024 * 1024)
    text = (head
            + "u-1,user_out,ada@contoso.com,Ada,2026-11-01T00:00:00Z,60,+12065550188\n"
            + "u-\x002,user_out,ada@contoso.com,Ada,2026-11-01T00:00:00Z,60,+12065550188\n"
            + f"u-3,user_out,ada@contoso.com,{big},2026-11-01T00:00:00Z,60,+12065550188\n"
            + f"u-4,user_out,ada@contoso.com,\"{big}{big}\",2026-11-01T00:00:00Z,60,+12065550188\n"
            + "u-5,user_out,ada@contoso.com,Ada,2026-11-01T00:00:00Z,99999999999999999999,+12065550188\n"
            + "u-6,user_out,ada@contoso.com,Ada,2026-11-01T00:00:00Z,60,+12065550188\n")
    _, items = read_all(write(tmp_path / "x.csv", text))
    assert [r.external_id for r in records(items)] == ["u-1", "u-6"]
    assert [(e.line, e.reason) for e in errors(items)] == [
        (3, "UsageId holds a NUL byte"),
        (4, "the line is longer than 1 MB; not a call record"),
        (5, "the line is longer than 1 MB; not a call record"),
        (6, "Duration Seconds 99999999999999999999 s is a week or longer"),
    ]


def test_invalid_utf8_in_a_row_is_a_row_error(tmp_path: Path) -> None:
    head = b"UsageId,Call Type,UPN,Start Time,Duration Seconds,Destination Number\n"
    data = (head + b"u-1,user_out,ad\xffa@contoso.com,2026-11-01T00:00:00Z,60,+12065550188\n"
            + b"u-2,user_out,ada@contoso.com,2026-11-01T00:00:00Z,60,+12065550188\n")
    _, items = read_all(write(tmp_path / "x.csv", data))
    assert [type(i).__name__ for i in items] == ["RowError", "CallRecord"]
    assert items[0].line == 2


# --- Direct Routing -----------------------------------------------------------------------------------------------


def test_direct_routing_rows() -> None:
    fmt, items = read_all(GOLDEN / "direct_routing.csv")
    assert fmt == "direct-routing-csv"
    good = records(items)
    assert [r.call_type for r in good] == ["dr_in", "dr_out", "dr_in_ucap", "dr_out"]
    assert all(r.direct_routing for r in good)
    assert good[1].number == "+14165550122"
    assert good[3].duration_seconds == 0 and good[3].start == datetime(2026, 11, 4, 16, 45)  # invite time
    assert [(e.line, e.reason) for e in errors(items)] == [(6, "CorrelationId is empty")]


# --- the Calls.Export zip -------------------------------------------------------------------------------------------


def test_example_zip_reads_every_member() -> None:
    fmt, items = read_all(EXAMPLES / "Calls.Export.example.zip")
    assert fmt == "teams-export-zip"
    assert not errors(items)
    pstn = read_all(EXAMPLES / "PSTN.calls.2026-10-01.csv")[1]
    dr = read_all(EXAMPLES / "DirectRouting.calls.2026-10-01.csv")[1]
    expected = [dataclasses.replace(r, source="Calls.Export.example.zip!" + r.source) for r in dr + pstn]
    assert items == expected


def test_zip_members_in_folders_bad_rows_and_ignored_files(tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.abc.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("parameters.json", '{"startDate": "2026-11-01"}')
        archive.writestr("export/PSTN.calls.2026-11-01.csv", (GOLDEN / "teams_pstn.csv").read_bytes())
        archive.writestr("PSTN.calls.2026-11-02.csv", b"")  # a day without calls
        archive.writestr("export/DirectRouting.calls.2026-11-01.csv", (GOLDEN / "direct_routing.csv").read_bytes())
        archive.writestr("readme.txt", "not a call file")
    fmt, items = read_all(path)
    assert fmt == "teams-export-zip"
    teams = read_all(GOLDEN / "teams_pstn.csv")[1]
    dr = read_all(GOLDEN / "direct_routing.csv")[1]
    assert [as_json(i) for i in items] == [
        {**as_json(i), "source": "Calls.Export.abc.zip!" + i.source.replace("direct_routing.csv",
                                                                            "DirectRouting.calls.2026-11-01.csv")}
        for i in dr
    ] + [
        {**as_json(i), "source": "Calls.Export.abc.zip!PSTN.calls.2026-11-01.csv"} for i in teams
    ]


def test_zip_without_call_files_or_broken(tmp_path: Path) -> None:
    empty = tmp_path / "Calls.Export.empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("parameters.json", "{}")
    with pytest.raises(InvalidInput, match="Calls.Export.empty.zip: the zip holds no PSTN.calls"):
        open_records(empty)
    workbook = tmp_path / "calls.xlsx"
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(InvalidInput, match="calls.xlsx: an Excel workbook"):
        open_records(workbook)
    good = (EXAMPLES / "Calls.Export.example.zip").read_bytes()
    broken = write(tmp_path / "Calls.Export.broken.zip", good[: len(good) // 2])
    with pytest.raises(InvalidInput, match="Calls.Export.broken.zip"):
        open_records(broken)


def test_zip_member_with_foreign_header(tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PSTN.calls.2026-11-01.csv", "a,b,c\n1,2,3\n")
    _, items = open_records(path)
    with pytest.raises(InvalidInput, match=r"Calls.Export.x.zip!PSTN.calls.2026-11-01.csv: neither"):
        list(items)


# --- Graph JSON ---------------------------------------------------------------------------------------------------


def test_graph_twin_of_the_teams_export() -> None:
    fmt, graph = read_all(EXAMPLES / "getPstnCalls.json")
    assert fmt == "graph-json"
    teams = read_all(EXAMPLES / "PSTN.calls.2026-10-01.csv")[1]
    assert len(graph) == len(teams) > 40
    assert {r.operator for r in records(graph)} == {"Microsoft"}
    assert [without_place(r) for r in records(graph)] == [
        dataclasses.replace(without_place(r), operator="Microsoft") for r in records(teams)]
    assert [r.line for r in graph] == list(range(1, len(graph) + 1))


def test_powershell_export_csv_twin_of_the_graph_json() -> None:
    fmt, rows = read_all(EXAMPLES / "getPstnCalls.Export-Csv.csv")
    assert fmt == "graph-csv"
    assert [without_place(r) for r in records(rows)] == [
        without_place(r) for r in records(read_all(EXAMPLES / "getPstnCalls.json")[1])]
    assert [r.line for r in rows] == list(range(3, len(rows) + 3))  # the #TYPE line is line 1


def test_graph_single_page_and_list_of_pages(tmp_path: Path) -> None:
    rows = json.loads((GOLDEN / "graph_rows.json").read_text())
    page = {"@odata.context": "x", "value": rows}
    _, one = read_all(write(tmp_path / "page.json", json.dumps(page)))
    _, plain = read_all(GOLDEN / "graph_rows.json")
    assert [without_place(r) for r in records(one)] == [without_place(r) for r in records(plain)]
    pages = [{"value": rows[:1], "@odata.nextLink": "next"}, {"value": rows[1:]}]
    _, listed = read_all(write(tmp_path / "pages.json", json.dumps(pages)))
    assert [r.line for r in listed] == [1, 2, 3]
    concatenated = json.dumps(pages[0]) + json.dumps(pages[1])
    _, joined = read_all(write(tmp_path / "joined.json", concatenated))
    assert joined == [dataclasses.replace(r, source="joined.json") for r in listed]
    _, empty = read_all(write(tmp_path / "empty.json", '{"@odata.context": "x", "value": []}'))
    assert empty == []


def test_graph_seven_digit_fractions_and_offsets() -> None:
    items = read_all(GOLDEN / "graph_pages.jsonl")[1]
    good = records(items)
    assert good[0].start == datetime(2019, 11, 1, 0, 0, 8, 258993)
    assert good[0].user_upn == "richard.malk@contoso.com"
    lise = next(r for r in good if r.user_upn.startswith("lise"))
    assert lise.start == datetime(2019, 11, 2, 2, 0, 0) and lise.conference_id == "421337"
    byot = next(r for r in good if r.call_type == "byotout")
    assert byot.direct_routing and byot.duration_seconds == 75
    assert [(e.line, e.reason) for e in errors(items)] == [
        (4, "row is not a JSON object"),
        (7, "duration is missing"),
        (8, "id is empty"),
        (9, "startDateTime 'not a time' is not an ISO 8601 date or time"),
    ]


# --- own CSV ------------------------------------------------------------------------------------------------------


def test_own_csv_kinds() -> None:
    fmt, items = read_all(GOLDEN / "own_calls.csv")
    assert fmt == "csv"
    good = records(items)
    assert [r.call_type for r in good] == ["user_out", "user_out", "conf_out", "user_in", "user_out", "user_out"]
    assert good[1].start == datetime(2026, 11, 5, 14, 30) and good[1].number == "+12065550166"
    assert good[-1].duration_seconds == 60
    assert [e.line for e in errors(items)] == [7, 8, 10]


def test_examples_match_users() -> None:
    with (EXAMPLES / "users.csv").open(encoding="utf-8", newline="") as f:
        users = {row["upn"]: row for row in csv.DictReader(f)}
    assert {u["plan"] for u in users.values()} == {"none", "domestic", "domestic-international", "payg"}
    assert {u["licensed"] for u in users.values()} == {"yes", "no"}
    for name in ("PSTN.calls.2026-10-01.csv", "getPstnCalls.json", "calls.csv", "DirectRouting.calls.2026-10-01.csv",
                 "getPstnCalls.Export-Csv.csv"):
        items = read_all(EXAMPLES / name)[1]
        assert not errors(items), name
        assert {r.user_upn for r in records(items)} - {""} <= set(users), name
    types = {r.call_type for r in records(read_all(EXAMPLES / "PSTN.calls.2026-10-01.csv")[1])}
    assert types == {"user_in", "user_out", "user_out_conf", "user_out_transfer", "user_out_forwarding", "conf_in",
                     "conf_out", "unassigned_in", "ucap_in", "ucap_out"}


# --- files that are not call records ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf\r\n  \n", "the file is empty"),
        (b"\x00\x01\x02\x03binary\x00\xff" * 10, "binary content"),
        ("UsageId,Call Type\r\n".encode("utf-16"), "not a Teams PSTN usage export: missing column"),
        ("UsageId,Call Type\r\n".encode("utf-16-le"), "UTF-16 text without a byte order mark is not supported"),
        (b"upn,name,country\nada@contoso.com,Ada,US\n", "not a call-record file I know"),
        (b'{"value": [{"id": "1", "callType": "user_out"', "invalid JSON at line 1"),
        (b'[{"id": "1"}, ', "invalid JSON"),
        (b"[" * 100000, "invalid JSON|nested too deeply"),
    ],
)
def test_unreadable_files_are_one_line_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = write(tmp_path / "calls.data", data)
    with pytest.raises(InvalidInput, match=message) as caught:
        _, items = open_records(path)
        list(items)
    text = str(caught.value)
    assert text.startswith("calls.data: ") and "\n" not in text


def test_missing_file_folder_and_format(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        open_records(tmp_path / "nope.csv")
    with pytest.raises(InvalidInput, match="is a folder"):
        open_records(tmp_path)
    with pytest.raises(InvalidInput, match="unknown format 'xml'"):
        open_records(GOLDEN / "teams_pstn.csv", "xml")


def test_forced_format_checks_columns() -> None:
    with pytest.raises(InvalidInput, match="own_calls.csv: not a Teams PSTN usage export: missing column"):
        open_records(GOLDEN / "own_calls.csv", "teams-csv")
    fmt, items = read_all(GOLDEN / "teams_pstn.csv", "teams-csv")
    assert fmt == "teams-csv" and len(records(items)) == 8


def test_graph_row_over_a_megabyte_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    row = {"id": "1", "callType": "user_out", "userDisplayName": "x" * (2 * 1024 * 1024)}
    path = write(tmp_path / "big.json", json.dumps([{"id": "0", "callType": "user_out"}, row]))
    with pytest.raises(InvalidInput, match="big.json: invalid JSON at line 1 column 94: a value longer than 1 MB"):
        list(open_records(path)[1])


# --- fuzz ---------------------------------------------------------------------------------------------------------

HEADERS = [
    b"",
    b"\xef\xbb\xbf",
    (GOLDEN / "teams_pstn.csv").read_bytes().split(b"\r\n")[0] + b"\r\n",
    b"Call Type\tUsageId\tUPN\tStart Time\tDuration Seconds\tCaller ID\tDestination Number\n",
    (GOLDEN / "direct_routing.csv").read_bytes().split(b"\r\n")[0] + b"\r\n",
    b"call_id,user,start,duration_seconds,kind,number,country\n",
    b'{"@odata.context": "x", "value": [',
    b"[",
    b"PK\x03\x04",
    b"sep=",
]


def _consume(data: bytes, fmt: str = "auto") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        try:
            _, items = open_records(path, fmt)
            for item in items:
                assert isinstance(item, CallRecord | RowError)
                if isinstance(item, CallRecord):
                    assert item.duration_seconds >= 0 and item.call_type == item.call_type.lower()
        except InvalidInput as exc:
            assert "\n" not in str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=600), fmt=st.sampled_from(FORMATS))
def test_fuzz_random_bytes(header: bytes, body: bytes, fmt: str) -> None:
    _consume(header + body, fmt)


_FIELD = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "user_out", "USER_IN", "Dr_In", "ByotOut", "conf_out", "+12065550188", "+44 20 7946 0***",
                     "2026-11-01T00:00:00Z", "2026-11-01T00:00:08.2589935Z", "9999-12-31T23:59:59Z", "-1", "60",
                     "1e9", "60.5", "ada@contoso.com", "\x00", '"', "\r\n", "\t", "outbound", "dialout"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.sampled_from(HEADERS[2:6]), rows=st.lists(st.lists(_FIELD, max_size=24), max_size=8))
def test_fuzz_random_rows(header: bytes, rows: list[list[str]]) -> None:
    delimiter = "\t" if b"\t" in header else ","
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    _consume(header + out.getvalue().encode("utf-8", errors="surrogatepass"))


_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | _FIELD,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_GRAPH_ROW = st.fixed_dictionaries(
    {},
    optional={k: _JSON_VALUE for k in ("id", "callType", "duration", "startDateTime", "userPrincipalName",
                                        "calleeNumber", "usageCountryCode", "conferenceId", "correlationId")},
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.one_of(_GRAPH_ROW, _JSON_VALUE), max_size=6), wrap=st.booleans())
def test_fuzz_graph_rows(rows: list[object], wrap: bool) -> None:
    document: object = {"@odata.context": "x", "value": rows} if wrap else rows
    _consume(json.dumps(document).encode("utf-8"))


def test_encrypted_zip_member_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.locked.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PSTN.calls.2026-11-01.csv", (GOLDEN / "teams_pstn.csv").read_bytes())
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x01  # the "encrypted" flag
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match="Calls.Export.locked.zip!PSTN.calls.2026-11-01.csv: the zip member"):
        _, items = open_records(path)
        list(items)


def test_readers_used_directly_report_missing_files(tmp_path: Path) -> None:
    from credits_cli.readers import READERS

    for reader in READERS.values():
        with pytest.raises(InvalidInput, match="gone.csv: cannot read"):
            list(reader.read(tmp_path / "gone.csv"))


def test_fast_record_maker_builds_the_same_frozen_record() -> None:
    from credits_cli.readers._common import make_record

    values = ("f.csv", 2, "id-1", "ada@contoso.com", datetime(2026, 11, 1), 60, "user_out", "+1206", False, "US", None,
              Decimal("0.06"), Decimal("0.00"), "USD", "MCOPSTNPP", "Microsoft")
    made, plain = make_record(*values), CallRecord(*values)
    assert type(made) is CallRecord and made == plain and hash(made) == hash(plain)
    assert dataclasses.astuple(made) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.number = "+44"  # type: ignore[misc]
