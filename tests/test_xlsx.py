"""The workbook of tests/reportdata.py's month, read back with openpyxl: layout, formats, chart, every figure."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from credits_cli import ledger, tenants
from credits_cli.reports import build as report
from credits_cli.reports import xlsx
from tests import reportdata
from tests.helpers import pin_now

D = Decimal
MONEY = '#,##0.0000 "USD"'
SHEETS = ["Summary", "Daily", "Users", "Destinations", "Pools", "Ledger", "Calls"]
#: Each sheet's column widths, as the writer sets them (in characters).
WIDTHS = {
    "Summary": [18, 40, 24],
    "Daily": [12, 9, 14, 13, 16, 18, 18, 20, 16, 18, 22],
    "Users": [34, 26, 9, 14, 13, 15, 17, 16, 18, 14],
    "Destinations": [10, 9, 30, 9, 9, 14, 15, 16, 18],
    "Pools": [10, 20, 15, 13, 13, 10],
    "Ledger": [20, 20, 9, 12, 9, 18, 18, 7, 38, 44],
    "Calls": [20, 38, 30, 10, 18, 18, 8, 28, 9, 10, 14, 11, 10, 16, 9, 11, 16, 28, 7],
}
#: Sheets with a bold totals row below the filtered range.
TOTALS = ("Daily", "Users", "Destinations")


def _write(tmp_path: Path, per=("2026-11-01", "2026-11-30")) -> tuple[Path, report.Report, list, dict]:
    out = tmp_path / "report.xlsx"
    db = reportdata.database()
    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        chosen = report.period(*per)
        p = chosen.period
        r = report.build(s, t, p, reason=chosen.reason)
        written = xlsx.write(out, r, report.iter_calls(s, t, p), report.iter_ledger(s, t, p, r.opening))
        entries = ledger.entries(s, t, p.start, p.end)
    return out, r, entries, written


def money(cell) -> Decimal:
    """A money cell read back: a number in the report's money format, as the exact amount to 4 decimals."""
    assert cell.data_type == "n" and cell.number_format == MONEY, (cell.coordinate, cell.number_format)
    assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool), repr(cell.value)
    return Decimal(str(cell.value)).quantize(D("0.0001"))


def widths_of(ws) -> dict[int, float]:
    """Column number -> width (a <col> element may cover several neighbours of the same width)."""
    out = {}
    for dim in ws.column_dimensions.values():
        for index in range(dim.min, dim.max + 1):
            out[index] = dim.width
    return out


def column(ws, header: str) -> int:
    return [c.value for c in ws[1]].index(header) + 1


@pytest.fixture
def seeded(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed()


@pytest.fixture
def book(seeded, tmp_path):
    out, r, entries, written = _write(tmp_path)
    return openpyxl.load_workbook(out), r, entries, written, out


def test_what_write_returns(book):
    _, r, entries, written, out = book
    assert written == {
        "path": str(out), "sheets": SHEETS, "calls": 9, "ledger_rows": 5, "ledger_entries": 6,
        "calls_sheets": ["Calls"], "ledger_sheets": ["Ledger"],
    }
    assert written["calls"] == r.calls and written["ledger_entries"] == len(entries) == r.ledger_entries


def test_every_sheet_has_a_frozen_styled_header_a_filter_and_widths(book):
    wb = book[0]
    assert wb.sheetnames == SHEETS
    for ws in wb:
        widths = WIDTHS[ws.title]
        assert ws.freeze_panes == "A2", ws.title
        assert ws.max_column == len(widths), ws.title
        for index, cell in enumerate(ws[1]):
            assert isinstance(cell.value, str) and cell.data_type == "s"
            assert cell.font.bold and cell.font.color.rgb == "FFFFFFFF", (ws.title, cell.value)
            assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == "FF305496", (ws.title, cell.value)
            assert cell.alignment.wrap_text, (ws.title, cell.value)
            # XlsxWriter stores the width the column shows, plus Excel's cell padding (less than a character)
            width = widths_of(ws)[index + 1]
            assert widths[index] <= width < widths[index] + 1, (ws.title, index, width)
        data_rows = ws.max_row - 1 - (1 if ws.title in TOTALS else 0)
        assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(widths))}{data_rows + 1}", ws.title
    assert wb["Daily"].auto_filter.ref == "A1:K31"  # header + 30 days; the totals row is below the filter


def test_totals_rows_are_bold_and_below_the_filter(book):
    wb = book[0]
    for title in TOTALS:
        ws = wb[title]
        last = list(ws[ws.max_row])
        assert last[0].value == "Total", title
        assert int(ws.auto_filter.ref.split(":")[1][1:]) == ws.max_row - 1, title
        assert all(c.font.bold for c in last if c.value is not None), title
        assert not any(c.font.bold for c in ws[2]), title  # data rows are not
    summary = {row[1].value: row for row in wb["Summary"].iter_rows(min_row=2)}
    assert summary["Closing balance"][2].font.bold and not summary["Opening balance"][2].font.bold


def test_printing_fits_the_page_width_with_the_header_on_every_page(book):
    wb = book[0]
    for ws in wb:
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (None, 1), ws.title  # one page wide (1 is the file format's default)
        assert ws.page_setup.fitToHeight == 0, ws.title  # as many pages down as it takes
        assert ws.print_title_rows == "$1:$1", ws.title
        wide = sum(WIDTHS[ws.title]) > xlsx.LANDSCAPE_WIDTH
        assert ws.page_setup.orientation == ("landscape" if wide else "portrait"), ws.title
    assert wb["Calls"].page_setup.orientation == "landscape" and wb["Summary"].page_setup.orientation == "portrait"


def test_number_formats(book):
    wb = book[0]
    formats = {
        "Daily": ["yyyy-mm-dd", "#,##0", "#,##0", "#,##0", "#,##0.00", MONEY, MONEY, MONEY, MONEY, MONEY, MONEY],
        "Users": ["General", "General", "#,##0", "#,##0", "#,##0", "#,##0.00", "#,##0.00", "#,##0.00", MONEY,
                  "0.00%"],
        "Destinations": ["General"] * 4 + ["#,##0", "#,##0", "#,##0.00", "#,##0.00", MONEY],
        "Pools": ["General", "General", "#,##0.00", "#,##0.00", "#,##0.00", "0.00%"],
        "Ledger": ["yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd hh:mm:ss", "General", "General", "#,##0", MONEY, MONEY,
                   "General", "General", "General"],
        "Calls": ["yyyy-mm-dd hh:mm:ss"] + ["General"] * 10 + ["#,##0", "#,##0", "General", "#,##0", "#,##0", MONEY,
                                                                "General", "General"],
    }
    for title, expected in formats.items():
        ws = wb[title]
        for row in ws.iter_rows(min_row=2, max_row=ws.max_row - (1 if title in TOTALS else 0)):
            for cell, fmt in zip(row, expected, strict=True):
                if cell.value is not None:
                    assert cell.number_format == fmt, (title, cell.coordinate, cell.value)
    start = wb["Calls"].cell(2, 1)
    assert start.is_date and start.value == datetime(2026, 11, 2, 9, 0)
    day = wb["Daily"].cell(2, 1)
    assert day.is_date and day.value == datetime(2026, 11, 1)
    summary = {row[1].value: row[2] for row in wb["Summary"].iter_rows(min_row=2)}
    assert summary["From"].number_format == "yyyy-mm-dd" and summary["From"].value == datetime(2026, 11, 1)
    assert summary["Generated at (UTC)"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert summary["Generated at (UTC)"].value == datetime(2026, 11, 30, 12, 0)
    assert summary["unlicensed"].number_format == "#,##0" and summary["unlicensed"].value == 1
    assert summary["Opening balance"].number_format == MONEY


def test_summary_equals_the_report(book):
    wb, r, entries, _, _ = book
    ws = wb["Summary"]
    rows = list(ws.iter_rows(min_row=2))
    expected = [*r.summary_rows(), ("Check", "Opening + movements - closing (always 0)", r.check())]
    assert len(rows) == len(expected)
    for cells, (section, item, value) in zip(rows, expected, strict=True):
        assert (cells[0].value, cells[1].value) == (section, item)
        got = cells[2]
        if isinstance(value, Decimal):
            assert money(got) == value, item
        elif isinstance(value, datetime):
            assert got.value == value, item
        elif isinstance(value, int):
            assert got.value == value and got.data_type == "n", item
        elif not isinstance(value, str):
            assert got.value == datetime(value.year, value.month, value.day), item
        else:
            assert got.value == value, item
    values = {(row[0].value, row[1].value): row[2] for row in rows}
    assert money(values[("Balance", "Closing balance")]) == D("146.0748") == D("98.5000") + sum(
        e.amount for e in entries)
    assert money(values[("Spend by kind (calls in the period)", "Total")]) == r.spend == D("2.4252")
    assert money(values[("Balance", "Call charges posted")]) == -r.charges_posted == D("-2.4252")


def test_daily_users_destinations_add_up_to_the_report(book):
    wb, r, _, _, _ = book
    daily = wb["Daily"]
    rows = list(daily.iter_rows(min_row=2, max_row=31))
    assert len(rows) == len(r.daily) == 30
    for cells, day in zip(rows, r.daily, strict=True):
        assert cells[0].value == datetime(day.day.year, day.day.month, day.day.day)
        assert [c.value for c in cells[1:4]] == [day.calls, day.charged_calls, day.denied_calls]
        assert Decimal(str(cells[4].value)) == xlsx.minutes(day.charged_seconds)
        assert [money(c) for c in cells[5:11]] == [day.spend, day.funding, day.charges_posted, day.expired, day.other,
                                                  day.closing]
    total = list(daily[32])
    assert [money(c) for c in total[5:11]] == [r.spend, r.funding, r.charges_posted, r.expired, r.other, r.closing]
    assert sum(money(c[5]) for c in rows) == r.spend and sum(money(c[6]) for c in rows) == r.funding
    assert total[1].value == r.calls and total[3].value == r.denied_calls

    users = list(wb["Users"].iter_rows(min_row=2))
    assert len(users) == len(r.users) + 1
    for cells, u in zip(users, r.users, strict=False):
        assert cells[0].value == (u.upn or "(no user)") and (cells[1].value or "") == u.name
        assert money(cells[8]) == u.spend
    assert users[-1][0].value == "Total" and money(users[-1][8]) == r.spend
    assert sum(money(c[8]) for c in users[:-1]) == r.spend
    assert users[-1][2].value == r.calls
    shares = [Decimal(str(c[9].value)) for c in users[:-1]]
    assert shares[0] == (r.users[0].spend / r.spend).quantize(D("0.0001"))

    dest = list(wb["Destinations"].iter_rows(min_row=2))
    assert [c.value for c in dest[0][:4]] == ["tollfree", "1800", "US toll-free", "US"]
    assert [money(c[8]) for c in dest[:-1]] == [d.spend for d in r.destinations]
    assert dest[-1][0].value == "Total" and money(dest[-1][8]) == r.spend

    pools = list(wb["Pools"].iter_rows(min_row=2, values_only=True))
    assert pools[0][:2] == ("2026-11", "dialout") and pools[0][2] == 60 and D(str(pools[0][5])) == D("0.8")


def test_calls_and_ledger_money_is_the_ledgers(book):
    wb, r, entries, _, _ = book
    calls = wb["Calls"]
    col = column(calls, "Charge (USD)")
    charges = [money(row[0]) for row in calls.iter_rows(min_row=2, min_col=col, max_col=col)]
    assert sum(charges) == D("2.4252") == -sum(e.amount for e in entries if e.kind == "charge")
    led = wb["Ledger"]
    assert column(led, "Amount (USD)") == 6 and column(led, "Balance (USD)") == 7
    rows = list(led.iter_rows(min_row=2))
    assert sum(money(row[5]) for row in rows) == sum(e.amount for e in entries)
    assert sum(row[4].value for row in rows) == len(entries) == 6
    # the two charges of 2 November are one row; the balance after every row is exact
    first = [c.value for c in rows[0]]
    assert first[2:5] == [None, "charge", 2] and money(rows[0][5]) == D("-0.53") and money(rows[0][6]) == D("97.97")
    assert first[0] == first[1] == datetime(2026, 11, 2, 10, 0)  # posted as it happened, in this data
    assert first[9] == "2 call charges for calls from 2026-11-02 09:00:00 to 10:00:00"
    assert [c.value for c in rows[1][3:5]] == ["charge", 1] and rows[1][8].value == "call-6"
    assert money(rows[1][5]) == D("-1.2345")
    assert rows[3][3].value == "topup" and money(rows[3][6]) == D("146.0755")
    assert money(rows[-1][6]) == r.closing == D("146.0748")
    assert isinstance(rows[1][2].value, int) and rows[1][2].number_format == "General"  # an entry id, not a count


def _chart_parts(path: Path) -> tuple[list[str], ElementTree.Element]:
    """The worksheets that hold a drawing, and the one chart's XML."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        with_drawing = [n for n in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)
                        and b"<drawing " in z.read(n)]
        charts = [n for n in names if n.startswith("xl/charts/chart")]
        assert len(charts) == 1, charts
        return with_drawing, ElementTree.fromstring(z.read(charts[0]))


def test_daily_has_a_native_column_chart_of_spend(book):
    out = book[4]
    with_drawing, chart = _chart_parts(out)
    assert with_drawing == ["xl/worksheets/sheet2.xml"]  # the Daily sheet, and no other
    ns = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
          "a": "http://schemas.openxmlformats.org/drawingml/2006/main"}
    bar = chart.find(".//c:barChart", ns)
    assert bar is not None and bar.find("c:barDir", ns).get("val") == "col"
    series = bar.findall("c:ser", ns)
    assert len(series) == 1
    assert series[0].find("c:val/c:numRef/c:f", ns).text == "Daily!$F$2:$F$31"  # Spend (USD), 30 days
    assert series[0].find("c:cat/c:numRef/c:f", ns).text == "Daily!$A$2:$A$31"
    assert series[0].find("c:tx//c:v", ns).text == "Spend (USD)"
    title = "".join(t.text or "" for t in chart.find("c:chart/c:title", ns).iter(f"{{{ns['a']}}}t"))
    assert title == "Daily spend (USD)"
    axes = [chart.find(f".//c:{kind}", ns) for kind in ("dateAx", "valAx")]
    assert all(axis is not None for axis in axes)
    for axis in axes:  # both axes shown: no <c:delete val="1"/>
        delete = axis.find("c:delete", ns)
        assert delete is None or delete.get("val") in ("0", "false")
