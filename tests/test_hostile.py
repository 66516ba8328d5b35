"""Broken and malicious input through the real commands: never a traceback.

The corpus is in tests/hostile/ (small files; the big ones are made here at run
time). Each case runs one command (``rate-cdrs``, ``rates load``, ``user
import``) on one file and expects either

* a broken *file*: exit 1, one ``error: ...`` line on stderr naming the file,
  and the database exactly as before (a content dump compared), or
* broken *rows*: exit 3 with the rejected rows' line numbers (``--rejects``),
  and only the good rows kept.

The 10 MB single field runs in its own process so its peak memory can be
measured. Formula-leading names in users and call records go through
``report --xlsx`` and the workbook is read back: no formula cell anywhere.
The readers' fuzzing with hypothesis is in tests/test_readers.py.
"""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from openpyxl import load_workbook

from tests import dbdump, procs
from tests.helpers import assert_error, dump, pin_now

HERE = Path(__file__).resolve().parent / "hostile"
ROOT = HERE.parent.parent
NOW = "2026-11-02T09:00:00Z"
GOOD_ID = "11111111-0000-0000-0000-000000000001"


@pytest.fixture
def ready(cli, tenant, monkeypatch: pytest.MonkeyPatch, isolated_db: str) -> str:
    pin_now(monkeypatch, NOW)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    return isolated_db


def one_error_line(stderr: str, *words: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


# (command, file, words the error line must hold)
BROKEN_FILES = [
    (["rate-cdrs"], "empty.csv", ["empty"]),
    (["rate-cdrs"], "binary.csv", ["binary"]),
    (["rate-cdrs"], "truncated.json", ["truncated"]),
    (["rate-cdrs"], "wrong_header.csv", ["not a call-record file"]),
    (["rate-cdrs"], "utf16_nobom.csv", ["UTF-16", "byte order mark"]),
    (["rate-cdrs"], "not_a_call_log.json", ["not_a_call_log.json", "without call rows", "not a Graph call log"]),
    (["rates", "load"], "python_tag.yaml", ["not a valid rate table"]),
    (["rates", "load"], "billion_laughs.yaml", ["not a valid rate table"]),
    (["rates", "load"], "empty.csv", []),
    (["rates", "load"], "binary.csv", []),
    (["user", "import"], "broken_users.csv", ["line 3", "nothing imported"]),
    (["user", "import"], "binary.csv", []),
    (["user", "import"], "empty.csv", []),
    (["user", "import"], "utf16_bom.csv", []),
]


@pytest.mark.parametrize(("command", "name", "words"), BROKEN_FILES, ids=[f"{c[-1]}-{n}" for c, n, _ in BROKEN_FILES])
def test_broken_file_is_one_line_and_touches_nothing(cli, ready: str, command: list[str], name: str,
                                                     words: list[str]) -> None:
    before = dbdump.content(ready)
    result = cli(*command, str(HERE / name))
    assert result.exit_code == 1, result.stdout + result.stderr
    one_error_line(result.stderr, *words)
    assert dbdump.content(ready) == before


def test_python_tags_are_never_run(cli, ready: str, tmp_path: Path) -> None:
    marker = Path("/tmp/credits-pwned")
    marker.unlink(missing_ok=True)
    assert cli("rates", "load", str(HERE / "python_tag.yaml")).exit_code == 1
    assert not marker.exists()


def _ids(prefix: str, numbers: range | list[int]) -> set[str]:
    return {f"{prefix}-0000-0000-0000-{n:012d}" for n in numbers}


# (file, line numbers rejected (rows of a JSON file), external ids kept)
BROKEN_ROWS = [
    ("huge_duration.csv", {3, 4}, {GOOD_ID}),
    ("dates_out_of_range.csv", {3, 4, 5}, {GOOD_ID}),
    ("nul_bytes.csv", None, {GOOD_ID}),
    # One stray quote costs one row: the 13 lines it would swallow are read as rows of their own.
    ("stray_quote.csv", {4}, _ids("11111111", [n for n in range(1, 25) if n != 3])),
    ("field_count.csv", {3, 4}, _ids("11111111", [1, 4])),
    ("week_duration.csv", {3, 5}, _ids("11111111", [1, 3])),
    ("control_chars.csv", {3, 4}, _ids("11111111", [1, 4])),
    # A lone surrogate, a 4,301-digit integer, NaN, 1e400, NUL and BEL in texts, a week, a bad currency...
    ("graph_hostile.json", set(range(2, 11)), _ids("22222222", [1, 11])),
]


@pytest.mark.parametrize(("name", "lines", "kept"), BROKEN_ROWS, ids=[n for n, _, _ in BROKEN_ROWS])
def test_broken_rows_are_rejected_with_line_numbers_and_good_rows_kept(
    cli, ready: str, tmp_path: Path, name: str, lines: set[int] | None, kept: set[str]
) -> None:
    rejects = tmp_path / "rejects.csv"
    result = cli("rate-cdrs", str(HERE / name), "--rejects", str(rejects))
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    with rejects.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["file"] == name and r["line"].isdigit() and r["reason"] for r in rows)
    if lines is not None:
        assert {int(r["line"]) for r in rows} == lines
    calls = dbdump.content(ready)["calls"]
    assert {dict(c)["external_id"] for c in calls} == kept
    assert cli("verify").exit_code == 0


@pytest.mark.parametrize("name", ["utf8_bom.csv", "utf16_bom.csv"])
def test_utf8_and_utf16_with_a_bom_are_read_like_plain_utf8(cli, ready: str, name: str) -> None:
    result = cli("rate-cdrs", str(HERE / name), "--json")
    assert result.exit_code == 0, result.stderr
    assert len(dbdump.content(ready)["calls"]) == 2


def _peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``credits ARGS`` from a fresh interpreter that reports its child's peak RSS (MB)."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *procs.command(*args)], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )
    *stderr, peak = done.stderr.rstrip("\n").split("\n")
    done.stderr = "\n".join(stderr)
    return done, int(peak) / 1024


@pytest.mark.parametrize("shape", ["field", "unterminated"])
def test_ten_megabyte_field_in_bounded_memory(ready: str, tmp_path: Path, shape: str) -> None:
    good = (HERE / "good_calls.csv").read_text(encoding="utf-8").splitlines()
    header, first, second = good
    big = "x" * (10 * 1024 * 1024)
    path = tmp_path / "big.csv"
    if shape == "field":  # one row's display name is 10 MB: that row is rejected, the others kept
        cells = second.split(",")
        cells[6] = big
        path.write_text("\r\n".join([header, first, ",".join(cells), ""]), encoding="utf-8")
    else:  # a quote opened and never closed: the rest of the file is one 10 MB field
        path.write_text("\r\n".join([header, first, '"' + big]), encoding="utf-8")
    before = dbdump.content(ready)
    done, peak = _peak_rss_mb(["rate-cdrs", str(path)], procs.cli_env(ready, CREDITS_NOW=NOW))
    assert "Traceback" not in done.stderr
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    if done.returncode == 1:
        one_error_line(done.stderr)
        assert dbdump.content(ready) == before
    else:
        assert done.returncode in (0, 3), done.stderr
        ids = {dict(c)["external_id"] for c in dbdump.content(ready)["calls"]}
        assert GOOD_ID in ids


def test_formula_names_never_become_formulas_in_the_workbook(cli, ready: str, tmp_path: Path) -> None:
    assert cli("user", "import", str(HERE / "formula_users.csv")).exit_code == 0
    result = cli("rate-cdrs", str(HERE / "formula_calls.csv"), "--rejects", str(tmp_path / "rejects.csv"))
    assert result.exit_code == 3, result.stderr  # the call to '=HYPERLINK("x")' is not a phone number
    assert "line 4" in (tmp_path / "rejects.csv").read_text(encoding="utf-8").replace(",4,", " line 4 ")
    out = tmp_path / "report.xlsx"
    result = cli("report", "--from", "2026-10-01", "--to", "2026-10-31", "--xlsx", str(out))
    assert result.exit_code == 0, result.stderr
    workbook = load_workbook(out)
    texts = set()
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.add(cell.value)
    joined = "\n".join(texts)
    # The names are there, as text.
    for name in ('HYPERLINK("http://evil.example","click")', "SUM(A1)"):
        assert name in joined



# --- shapes made at run time ----------------------------------------------------------------------------------

def _good() -> tuple[str, str, str]:
    header, first, second = (HERE / "good_calls.csv").read_text(encoding="utf-8").splitlines()
    return header, first, second


SECOND_ID = "11111111-0000-0000-0000-000000000002"


def test_a_line_over_a_megabyte_is_a_rejected_row(cli, ready: str, tmp_path: Path) -> None:
    header, first, second = _good()
    path = tmp_path / "long.csv"
    path.write_text("\r\n".join([header, first, "x" * (2 * 1024 * 1024), second, ""]), encoding="utf-8")
    rejects = tmp_path / "rejects.csv"
    result = cli("rate-cdrs", str(path), "--rejects", str(rejects))
    assert result.exit_code == 3, result.stdout + result.stderr
    assert ",3,the line is longer than 1 MB" in rejects.read_text(encoding="utf-8")
    assert {dict(c)["external_id"] for c in dbdump.content(ready)["calls"]} == {GOOD_ID, SECOND_ID}
    assert cli("verify").exit_code == 0


def _zip_with(path: Path, name: str, write: Callable[[IO[bytes]], None]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as m:
        write(m)
    return path


def test_zip_bomb_is_refused_before_inflating(cli, ready: str, tmp_path: Path) -> None:
    header = _good()[0]

    def zeros(member: IO[bytes]) -> None:
        member.write((header + "\r\n").encode())
        for _ in range(200):
            member.write(b"0" * (1024 * 1024))

    path = _zip_with(tmp_path / "Calls.Export.bomb.zip", "PSTN.calls.2026-10-01.csv", zeros)
    assert path.stat().st_size < 1024 * 1024
    before = dump()
    result = cli("rate-cdrs", str(path))
    assert_error(result, "Calls.Export.bomb.zip!PSTN.calls.2026-10-01.csv", "no export compresses beyond 100 times")
    assert dump() == before


def test_zip_member_inflating_beyond_what_it_declares_is_refused(cli, ready: str, tmp_path: Path) -> None:
    header, first, second = _good()
    path = tmp_path / "Calls.Export.lying.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PSTN.calls.2026-10-01.csv", "\r\n".join([header, first, second, ""]))
    data = bytearray(path.read_bytes())
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # the uncompressed size, in both headers
        start = data.index(signature)
        data[start + at:start + at + 4] = struct.pack("<I", 100)
    path.write_bytes(bytes(data))
    before = dbdump.content(ready)
    result = cli("rate-cdrs", str(path))
    assert_error(result, "Calls.Export.lying.zip!PSTN.calls.2026-10-01.csv")
    assert dbdump.content(ready) == before


def test_zip_of_too_many_entries_is_refused_unread(cli, ready: str, tmp_path: Path) -> None:
    path = tmp_path / "Calls.Export.many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(10_001):
            archive.writestr(f"x/{i}.txt", b"")
    before = dump()
    assert_error(cli("rate-cdrs", str(path)), "10,001 entries")
    assert dump() == before


def test_utf16_json_as_powershell_writes_it_is_rated(cli, ready: str, tmp_path: Path) -> None:
    page = {"value": [{"id": GOOD_ID, "callType": "user_out", "userPrincipalName": "Ada@Contoso.com",
                       "startDateTime": "2026-10-05T10:00:00.0000000Z", "duration": 300, "calleeNumber": "+14255550123",
                       "charge": 0.1, "currency": "USD"}]}
    path = tmp_path / "page.json"
    path.write_bytes(b"\xff\xfe" + json.dumps(page, indent=4).replace("\n", "\r\n").encode("utf-16-le"))
    result = cli("rate-cdrs", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["formats"] == {str(path): "graph-json"}
    assert {dict(c)["external_id"] for c in dbdump.content(ready)["calls"]} == {GOOD_ID}


def test_graph_page_with_a_next_link_is_rated(cli, ready: str, tmp_path: Path) -> None:
    rows = [{"id": f"44444444-{n:012d}", "callType": "user_out", "userPrincipalName": "ada@contoso.com",
             "startDateTime": f"2026-10-0{n}T10:00:00.0000000Z", "duration": 60, "calleeNumber": "+14255550123"}
            for n in (1, 2)]
    page = {"@odata.context": "https://graph.microsoft.com/beta/$metadata#Collection("
                              "microsoft.graph.callRecords.pstnCallLogRow)",
            "@odata.nextLink": "https://graph.microsoft.com/beta/communications/callRecords/getPstnCalls?$skip=1000",
            "value": rows}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    result = cli("rate-cdrs", str(path), "--json")
    assert result.exit_code == 0, result.stderr  # the warning itself is the summary's (rating collects notes)
    assert json.loads(result.stdout)["rows_read"] == 2


# --- memory, whatever the shape --------------------------------------------------------------------------------

def _rate_in_a_process(ready: str, path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    done, peak = _peak_rss_mb(["rate-cdrs", str(path)], procs.cli_env(ready, CREDITS_NOW=NOW))
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    return done, peak


def _single_line_csv(path: Path, megabytes: int) -> Path:
    header, first, second = _good()
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header + "\r\n" + first + "\r\n")
        block = "x" * (1024 * 1024)
        for _ in range(megabytes):
            handle.write(block)
        handle.write("\r\n" + second + "\r\n")
    return path


def test_half_a_gigabyte_line_in_bounded_memory(ready: str, tmp_path: Path) -> None:
    done, _ = _rate_in_a_process(ready, _single_line_csv(tmp_path / "line.csv", 512))
    assert done.returncode == 3, done.stderr
    assert {dict(c)["external_id"] for c in dbdump.content(ready)["calls"]} == {GOOD_ID, SECOND_ID}


def _graph_page(path: Path, megabytes: int, pad: int) -> int:
    row = {"callType": "user_out", "userPrincipalName": "ada@contoso.com", "duration": 60,
           "startDateTime": "2026-10-05T10:00:00.1234567Z", "calleeNumber": "+14255550123", "charge": 0.01,
           "currency": "USD", "userDisplayName": "p" * pad}
    n = 0
    with path.open("w", encoding="utf-8") as handle:
        handle.write('{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection('
                     'microsoft.graph.callRecords.pstnCallLogRow)", "value": [\n')
        while handle.tell() < megabytes * 1024 * 1024:
            handle.write(("," if n else "") + json.dumps({"id": f"33333333-{n:012d}", **row}, indent=2) + "\n")
            n += 1
        handle.write("]}\n")
    return n


def test_graph_json_is_streamed(ready: str, tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    rows = _graph_page(path, 150, 10_000)  # one page of 150 MB: parsed whole, it would take 4 times that
    done, _ = _rate_in_a_process(ready, path)
    assert done.returncode in (0, 4), done.stderr  # 4: calls denied once the balance is spent
    assert len(dbdump.content(ready)["calls"]) == rows


def test_a_flood_of_empty_rows_is_refused_in_bounded_memory(ready: str, tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text("[" + ",".join(["{}"] * (50 * 1024 * 1024 // 3)) + "]", encoding="utf-8")
    before = dbdump.content(ready)
    done, _ = _rate_in_a_process(ready, path)
    assert done.returncode == 1
    one_error_line(done.stderr, "empty.json", "not a Graph call log")
    assert dbdump.content(ready) == before
    rows = tmp_path / "rows.json"
    rows.write_text('[{"id": "1", "callType": "user_out"},' + ",".join(["{}"] * 300_000) + "]", encoding="utf-8")
    done, _ = _rate_in_a_process(ready, rows)
    assert done.returncode == 1
    one_error_line(done.stderr, "rows.json", "more than 100,000 rows rejected")
    assert dbdump.content(ready) == before


@pytest.mark.slow
def test_a_gigabyte_line_and_a_two_gigabyte_zipped_line_in_bounded_memory(ready: str, tmp_path: Path) -> None:
    done, _ = _rate_in_a_process(ready, _single_line_csv(tmp_path / "line.csv", 1024))
    assert done.returncode == 3, done.stderr
    (tmp_path / "line.csv").unlink()
    header = _good()[0]

    def line(member: IO[bytes]) -> None:
        member.write((header + "\r\n").encode())
        block = b"x" * (1024 * 1024)
        for _ in range(2048):
            member.write(block)

    path = _zip_with(tmp_path / "Calls.Export.line.zip", "PSTN.calls.2026-10-01.csv", line)
    assert path.stat().st_size < 3 * 1024 * 1024
    done, _ = _rate_in_a_process(ready, path)
    assert done.returncode == 1
    one_error_line(done.stderr, "no export compresses beyond 100 times")


@pytest.mark.slow
def test_half_a_gigabyte_of_graph_json_in_bounded_memory(ready: str, tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    rows = _graph_page(path, 500, 200)
    done, _ = _rate_in_a_process(ready, path)
    assert done.returncode in (0, 4), done.stderr
    assert len(dbdump.content(ready)["calls"]) == rows
