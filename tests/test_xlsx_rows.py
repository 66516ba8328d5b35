"""The streamed sheets' own row writer writes exactly the XML openpyxl's ``append`` writes for the same cells."""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from credits_cli import tenants
from credits_cli.reports import build as report
from credits_cli.reports import xlsx
from tests import reportdata

HOSTILE = ["=1+1", "+44 20 7946 0000", "-2", "@SUM(A1)", "#N/A", "#DIV/0!", "\tTAB", "\rCR", "bell\x07name",
           " padded ", "a & b < c > d", "not\uffffxml\ufffe", "x" * 40000, "", "=", "\u00e9t\u00e9 \u2603"]


def _sheet_data(path: Path) -> dict[str, bytes]:
    """Each worksheet's <sheetData> element, as written."""
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                m = re.search(rb"<sheetData>.*</sheetData>|<sheetData/>", z.read(name), re.S)
                assert m, name
                out[name] = m.group(0)
    return out


values = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.text(alphabet=" \t\r\n&<>\"';=+-@#\u00a0\u2028a", max_size=6),
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(10**18), max_value=10**18),
    st.booleans(),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.dates(min_value=date(1900, 3, 1), max_value=date(2100, 1, 1)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(values, min_size=0, max_size=5), min_size=1, max_size=12))
def test_fast_rows_are_openpyxls_rows(tmp_path_factory, monkeypatch, rows):
    monkeypatch.setattr(xlsx, "ROW_BATCH", 3)  # rows parsed in batches: cross a few batch ends
    wb = Workbook(write_only=True)
    cells = xlsx._Cells(wb, "USD")
    styles = [cells._date, None, cells.money_style, cells.datetime_style, None]
    fast = wb.create_sheet("fast")
    plain = wb.create_sheet("plain")
    assert xlsx._fast(fast, cells, styles)
    for row in rows:
        # a date in a column without a style is not a plain value: give those columns a style here
        row = [v if not isinstance(v, date) or styles[i] is not None else v.isoformat() for i, v in enumerate(row)]
        fast._rows.send([cells.safe(v) if isinstance(v, str) and v else v for v in row])
        plain.append(xlsx._cells(plain, cells, row, styles))
    out = tmp_path_factory.mktemp("rows") / "rows.xlsx"
    wb.save(out)
    data = _sheet_data(out)
    assert data["xl/worksheets/sheet2.xml"] == data["xl/worksheets/sheet3.xml"]


def test_rows_the_fast_writer_hands_back_to_openpyxl(tmp_path):
    """A cell object or an unknown type in a row: that row is openpyxl's, the column styles kept."""
    wb = Workbook(write_only=True)
    cells = xlsx._Cells(wb, "USD")
    styles = [cells.datetime_style, cells.money_style, None]
    fast = wb.create_sheet("fast")
    plain = wb.create_sheet("plain")
    assert xlsx._fast(fast, cells, styles)

    def rows(ws):
        return [
            [datetime(2026, 10, 1, 12), Decimal("1.2345"), cells.text(ws, "=1+1")],
            [datetime(2026, 10, 1, 12), Decimal("-0.0001"), "plain"],
            [date(2026, 10, 2), Decimal("3"), 7],
            [datetime(2026, 10, 1, 12), None, timedelta(seconds=90)],
        ]

    for row in rows(fast):
        fast.append(row)
    for row in rows(plain):
        plain.append(xlsx._cells(plain, cells, row, styles))
    wb.save(tmp_path / "x.xlsx")
    data = _sheet_data(tmp_path / "x.xlsx")
    assert data["xl/worksheets/sheet2.xml"] == data["xl/worksheets/sheet3.xml"]


def test_an_aware_time_is_refused_as_openpyxl_refuses_it():
    wb = Workbook(write_only=True)
    cells = xlsx._Cells(wb, "USD")
    ws = wb.create_sheet("aware")
    assert xlsx._fast(ws, cells, [cells.datetime_style])
    with pytest.raises(TypeError):
        ws.append([datetime(2026, 10, 1, tzinfo=UTC)])


@pytest.fixture
def seeded(tenant, monkeypatch):
    monkeypatch.setenv("CREDITS_NOW", "2026-11-30T12:00:00Z")
    hostile = [
        reportdata.CallSpec(datetime(2026, 11, 3, 9, n), name, "outbound", name, "charged", Decimal("0.0100"), name,
                            name, name, reason=name, external_id=f"{name[:50]}#{n}")
        for n, name in enumerate(HOSTILE)
    ]
    reportdata.seed(calls=reportdata.base_calls() + hostile)


def _report(path: Path) -> None:
    db = reportdata.database()
    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        p = report.period("2026-11-01", "2026-11-30")
        r = report.build(s, t, p)
        xlsx.write(path, r, report.iter_calls(s, t, p), report.iter_ledger(s, t, p, r.opening))


@pytest.mark.parametrize("batch", [1, 4, xlsx.ROW_BATCH])
def test_report_is_the_same_through_openpyxls_append(seeded, tmp_path, monkeypatch, batch):
    """The whole workbook, with the row writer and without it (as without lxml): the same sheets, byte for byte."""
    monkeypatch.setattr(xlsx, "ROW_BATCH", batch)
    _report(tmp_path / "fast.xlsx")
    monkeypatch.setattr(xlsx, "LXML", False)
    _report(tmp_path / "plain.xlsx")
    fast, plain = _sheet_data(tmp_path / "fast.xlsx"), _sheet_data(tmp_path / "plain.xlsx")
    assert fast == plain
    assert len(fast) == 7 and all(len(v) > 100 for v in fast.values())
