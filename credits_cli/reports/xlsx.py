"""The report as an Excel workbook, written in openpyxl's write-only mode.

Sheets: Summary, Daily (with a bar chart of daily spend), Users, Destinations,
Pools, Ledger, Calls. On the Ledger sheet a run of consecutive call charges of
one day is one row (exact sum, entry count, balance after; the charges one by
one are the Calls sheet's Charge column). Calls and Ledger are streamed from the database and
continue on "Calls (2)", "Calls (3)", ... when a period holds more rows than
one sheet can (:data:`MAX_ROWS`).

- Money cells are numbers (written from the exact ``Decimal``, so they read
  back equal to the ledger to the fourth decimal) in the number format
  ``#,##0.0000 "USD"``: four decimals everywhere, because charges carry four
  and a total shown with fewer would not visibly add up.
- Dates are dates, times are date-times (UTC), minutes are numbers.
- Every sheet has its header row frozen, a filter on its table and set widths.
  Totals rows sit below the filtered range, so sorting never moves them.
- No text from the data ever becomes a formula or an error value: a text that
  starts with ``= + - @``, a tab or a carriage return, or reads like an Excel
  error (``#N/A``), is written as a string cell with Excel's quote prefix;
  characters XML cannot hold are replaced by U+FFFD.
- The file is written beside the target and renamed into place at the end, so
  a failure never leaves half a workbook under the asked-for name.
- The Calls and Ledger sheets take rows of plain values, written on openpyxl's
  own sheet stream in batches (:func:`_fast`): the same XML ``append`` writes
  cell by cell, at a fraction of the cost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import LXML, Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.compat import safe_string
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.properties import PageSetupProperties

from credits_cli.reports.build import CALL_COLUMNS, LEDGER_COLUMNS, Report
from credits_cli.reports.guard import cell_text, is_plain

#: Excel's row limit; a sheet holds MAX_ROWS - 1 data rows under its header.
MAX_ROWS = 1_048_576

MINUTES_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
FONT = "Calibri"  # the workbook's default font: bold cells keep the same face


def money_format(currency: str) -> str:
    return f'#,##0.0000 "{currency}"'


def minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"))


class _Cells:
    """Style prototypes made once per workbook; each styled cell shares one style array."""

    def __init__(self, wb: Workbook, currency: str) -> None:
        self.wb = wb
        self.ws = wb.create_sheet("Summary")
        self._money = self._proto(number_format=money_format(currency))
        self._money_bold = self._proto(number_format=money_format(currency), font=Font(name=FONT, bold=True))
        self._date = self._proto(number_format=DATE_FORMAT)
        self._datetime = self._proto(number_format=DATETIME_FORMAT)
        self._minutes = self._proto(number_format=MINUTES_FORMAT)
        self._count = self._proto(number_format=COUNT_FORMAT)
        self._percent = self._proto(number_format=PERCENT_FORMAT)
        self._quoted = self._proto(quotePrefix=True)
        self._header = self._proto(
            font=Font(name=FONT, bold=True, color="FFFFFF"),
            fill=PatternFill("solid", fgColor="305496"),
            alignment=Alignment(vertical="center", wrap_text=True),
        )
        self._bold = self._proto(font=Font(name=FONT, bold=True))
        # Column styles of the two streamed sheets (see _fast): what cells.money / cells.datetime give.
        self.quoted_style = self._quoted
        self.money_style = self._money
        self.datetime_style = self._datetime

    def _proto(self, **attrs: Any) -> Any:
        cell = WriteOnlyCell(self.ws)
        for name, value in attrs.items():
            setattr(cell, name, value)
        return cell._style

    def _styled(self, ws: Any, value: Any, style: Any) -> Any:
        cell = WriteOnlyCell(ws, value)
        cell._style = copy(style)
        return cell

    def money(self, ws: Any, value: Decimal | None, bold: bool = False) -> Any:
        if value is None:
            return None
        return self._styled(ws, value, self._money_bold if bold else self._money)

    def date(self, ws: Any, value: date) -> Any:
        return self._styled(ws, value, self._date)

    def datetime(self, ws: Any, value: datetime) -> Any:
        return self._styled(ws, value, self._datetime)

    def minutes(self, ws: Any, seconds: int) -> Any:
        return self._styled(ws, minutes(seconds), self._minutes)

    def count(self, ws: Any, value: int) -> Any:
        return self._styled(ws, value, self._count)

    def percent(self, ws: Any, value: Decimal) -> Any:
        return self._styled(ws, value, self._percent)

    def header(self, ws: Any, text: str) -> Any:
        return self._styled(ws, text, self._header)

    def bold(self, ws: Any, text: str) -> Any:
        return self._styled(ws, text, self._bold)

    def safe(self, value: Any) -> str | None:
        """Text from the data for a streamed sheet (see :func:`_fast`): what :meth:`text` writes, as a string.

        None for no text; a :class:`_Quoted` string where ``text`` gives a quote-prefixed cell.
        """
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            value = str(value)
        if is_plain(value):
            return value
        clean, quoted = cell_text(value)
        return _Quoted(clean) if quoted else clean

    def text(self, ws: Any, value: Any, style: Any = None) -> Any:
        """Text from the data, made safe (:meth:`safe`): never a formula, never an error value."""
        clean = self.safe(value)
        if clean is None:
            return None
        if style is None and type(clean) is str:
            return clean
        cell = WriteOnlyCell(ws)
        cell.value = str(clean)
        cell.data_type = "s"  # never "f" (formula) nor "e" (error)
        cell._style = copy(style if style is not None else self._quoted)
        return cell


def _setup(ws: Any, widths: Sequence[float], freeze: str = "A2") -> None:
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = freeze
    # Printed: every column on the page width, the header row on every page.
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.page_setup.orientation = "landscape" if sum(widths) > 110 else "portrait"
    ws.print_title_rows = "1:1"


def _filter(ws: Any, columns: int, last_row: int) -> None:
    ws.auto_filter.ref = f"A1:{get_column_letter(columns)}{max(last_row, 1)}"


#: Rows parsed and written at once by the streamed sheets' row writer.
ROW_BATCH = 500


class _Quoted(str):
    """Text written with Excel's quote prefix (from :meth:`_Cells.safe`)."""

    __slots__ = ()


def _fast(ws: Any, cells: _Cells, styles: Sequence[Any]) -> bool:
    """Make ``ws.append`` on this write-only sheet cheap: rows of plain values, written as plain XML.

    openpyxl's ``append`` makes a cell object per value and writes each cell's
    XML through nested context managers: most of a big report's time. Here
    ``ws.append`` sends the row to :func:`_row_stream` on openpyxl's own sheet
    stream, which writes the XML openpyxl writes for the same cells, byte for
    byte, a batch of rows at a time. ``styles`` gives
    each column the style its numbers and dates take (``None``: no style; a
    date needs one). Text must come from :meth:`_Cells.safe`. A row holding
    anything else (a cell object, an aware datetime, an unknown type) goes
    through openpyxl's own row writer as :func:`_cells` makes it.

    Without lxml, or for a workbook that writes ISO dates, the sheet keeps
    openpyxl's ``append`` and this returns False: append :func:`_cells` rows then.
    """
    if not LXML or ws.parent.iso_dates or getattr(ws, "_rows", True) is not None:
        return False  # (no ``_rows``: not the write-only sheet of openpyxl 3.1 this writer knows)
    ws._get_writer()
    rows = _row_stream(ws, cells, list(styles))
    next(rows)
    ws._rows = rows
    return True


def _row_stream(ws: Any, cells: _Cells, styles: list[Any]) -> Any:
    """The generator behind ``ws.append`` (openpyxl's ``WriteOnlyWorksheet._write_rows``, plain rows inline).

    A plain row becomes the markup openpyxl writes for it, text escaped (& < > and
    CR, which XML would read as LF); every ROW_BATCH rows the markup is parsed by
    lxml and the rows are written on the sheet's stream, which serialises them as
    it serialises openpyxl's own elements. Parsing keeps the writer honest: markup
    that is not well-formed raises instead of reaching the file.
    """
    from lxml.etree import XMLParser, fromstring  # present: openpyxl.LXML

    parser = XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
    writer = ws._writer
    cell_styles = ws.parent._cell_styles
    epoch = ws.parent.epoch
    width = len(styles)
    letters = [get_column_letter(i) for i in range(1, width + 1)]
    # style ids are registered at first use, as openpyxl registers them
    ids: list[str | None] = [None] * width
    quoted: str | None = None
    batch: list[str] = []  # markup of the rows not yet written
    empty: list[tuple[int, int]] = []  # (row, cell) in the batch of each empty text: openpyxl writes <c ...></c>
    xf = writer.xf.send(True)

    def flush() -> None:
        if not batch:
            return
        markup = "<rows>" + "".join(batch) + "</rows>"
        fix = empty[:]
        batch.clear()
        empty.clear()
        parsed = fromstring(markup, parser)
        for i, j in fix:
            parsed[i][j].text = ""
        for row in parsed:
            xf.write(row)

    with xf.element("sheetData"):
        idx = 1
        try:
            while True:
                values = yield
                r = str(idx)
                parts = [f'<row r="{r}">']
                plain = 0 < len(values) <= width
                if plain:
                    n = 0  # cells in this row
                    for col, v in enumerate(values):
                        if v is None:
                            continue
                        t = type(v)
                        if t is str or t is _Quoted:
                            if t is str:
                                head = f'<c r="{letters[col]}{r}" t="inlineStr">'
                            else:
                                if quoted is None:
                                    quoted = str(cell_styles.add(cells.quoted_style))
                                head = f'<c r="{letters[col]}{r}" s="{quoted}" t="inlineStr">'
                            if not v:
                                empty.append((len(batch), n))
                                parts.append(head + "</c>")
                            else:
                                space = v != v.strip()
                                if "&" in v or "<" in v or ">" in v or "\r" in v:
                                    v = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                                    v = v.replace("\r", "&#13;")
                                if space:
                                    parts.append(f'{head}<is><t xml:space="preserve">{v}</t></is></c>')
                                else:
                                    parts.append(f"{head}<is><t>{v}</t></is></c>")
                            n += 1
                            continue
                        kind = "n"
                        if t is int:
                            text = f"{v:.16g}"  # what safe_string gives an int
                        elif t is Decimal or t is float:
                            text = safe_string(v)  # "" for NaN and infinities: openpyxl writes those
                        elif t is bool:
                            text, kind = ("1" if v else "0"), "b"
                        elif (t is datetime and v.tzinfo is None or t is date) and styles[col] is not None:
                            text = safe_string(to_excel(v, epoch))
                        else:
                            text = ""
                        if not text:
                            plain = False
                            break
                        if styles[col] is None:
                            parts.append(f'<c r="{letters[col]}{r}" t="{kind}"><v>{text}</v></c>')
                        else:
                            sid = ids[col]
                            if sid is None:
                                sid = ids[col] = str(cell_styles.add(styles[col]))
                            parts.append(f'<c r="{letters[col]}{r}" s="{sid}" t="{kind}"><v>{text}</v></c>')
                        n += 1
                    plain = plain and n > 0
                if plain:
                    parts.append("</row>")
                    batch.append("".join(parts))
                    if len(batch) >= ROW_BATCH:
                        flush()
                else:
                    while empty and empty[-1][0] == len(batch):
                        empty.pop()  # this row's, which goes to openpyxl
                    flush()
                    writer.write_row(xf, ws._values_to_row(_cells(ws, cells, values, styles), idx), idx)
                idx += 1
        except GeneratorExit:
            flush()
    writer.xf.send(None)


def _cells(ws: Any, cells: _Cells, values: Sequence[Any], styles: Sequence[Any]) -> list[Any]:
    """A row for openpyxl's own writer: text made safe as cells, numbers and dates with their column's style."""
    out = list(values)
    for col, v in enumerate(out):
        if isinstance(v, str):
            if v:
                out[col] = cells.text(ws, v)
            continue
        style = styles[col] if col < len(styles) else None
        if style is not None and v is not None and not isinstance(v, Cell):
            cell = WriteOnlyCell(ws, v)
            cell._style = copy(style)
            out[col] = cell
    return out


def _table(
    wb: Workbook,
    cells: _Cells,
    title: str,
    headers: Sequence[str],
    widths: Sequence[float],
    rows: Iterable[Any],
    convert: Callable[[Any, Any], list[Any]],
    total: Callable[[Any], list[Any]] | None = None,
    ws: Any = None,
) -> Any:
    """One sheet: header, rows, filter over header + rows, an optional totals row below."""
    ws = ws if ws is not None else wb.create_sheet(title)
    _setup(ws, widths)
    ws.append([cells.header(ws, h) for h in headers])
    count = 0
    for row in rows:
        ws.append(convert(ws, row))
        count += 1
    _filter(ws, len(headers), count + 1)
    if total is not None:
        ws.append(total(ws))
    return ws


def _streamed(
    wb: Workbook,
    cells: _Cells,
    title: str,
    headers: Sequence[str],
    widths: Sequence[float],
    rows: Iterable[Any],
    convert: Callable[[Any, Any], list[Any]],
    styles: Sequence[Any],
) -> list[str]:
    """A table that continues on "Title (2)", "Title (3)", ... past MAX_ROWS. Returns the sheet titles.

    ``convert`` gives plain values (text made safe by ``cells.safe``); ``styles`` is the style of each
    column's numbers and dates (see :func:`_fast`).
    """
    limit = MAX_ROWS - 1
    titles: list[str] = []
    ws: Any = None
    count = 0
    fast = True

    def new_sheet() -> Any:
        nonlocal fast
        name = title if not titles else f"{title} ({len(titles) + 1})"
        titles.append(name)
        sheet = wb.create_sheet(name)
        _setup(sheet, widths)
        fast = _fast(sheet, cells, styles)
        sheet.append([cells.header(sheet, h) for h in headers])
        return sheet

    for row in rows:
        if ws is None or count == limit:
            if ws is not None:
                _filter(ws, len(headers), count + 1)
            ws = new_sheet()
            count = 0
        values = convert(ws, row)
        if fast:
            ws._rows.send(values)  # what ws.append does, less its checks: a row here is always a list
        else:
            ws.append(_cells(ws, cells, values, styles))
        count += 1
    if ws is None:
        ws = new_sheet()
    _filter(ws, len(headers), count + 1)
    return titles


def write(
    path: Path, report: Report, calls: Iterable[tuple[Any, ...]], ledger: Iterable[tuple[Any, ...]]
) -> dict[str, Any]:
    """Write the workbook to ``path`` (atomically). Returns the sheet titles and row counts."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    wb = Workbook(write_only=True)
    cells = _Cells(wb, report.currency)
    cur = report.currency
    try:
        _summary(wb, cells, report)
        _daily(wb, cells, report)
        _users(wb, cells, report)
        _destinations(wb, cells, report)
        _pools(wb, cells, report)
        counts = {"ledger": 0, "ledger_entries": 0, "calls": 0}
        safe = cells.safe

        def ledger_row(ws: Any, r: tuple[Any, ...]) -> list[Any]:
            counts["ledger"] += 1
            at, entry_id, kind, entries, amount, balance, lot_id, call, note = r
            counts["ledger_entries"] += entries
            return [at, entry_id, safe(kind), entries, amount, balance, lot_id, safe(call), safe(note)]

        money_style = cells.money_style
        ledger_sheets = _streamed(
            wb, cells, "Ledger", [_h(h, cur) for h, _ in LEDGER_COLUMNS], [20, 9, 12, 9, 18, 18, 7, 38, 44], ledger,
            ledger_row, [cells.datetime_style, None, None, None, money_style, money_style, None, None, None],
        )
        text_cols = [i for i, (_, key) in enumerate(CALL_COLUMNS) if key not in _CALL_NUMERIC]
        charge_col = [key for _, key in CALL_COLUMNS].index("charge")

        def call_row(ws: Any, r: tuple[Any, ...]) -> list[Any]:
            counts["calls"] += 1
            out = list(r)
            for i in text_cols:
                value = out[i]
                # cells.safe for the texts that need it; the others are kept as they are
                if value and (type(value) is not str or not is_plain(value)):
                    out[i] = safe(value)
            return out

        call_styles: list[Any] = [None] * len(CALL_COLUMNS)
        call_styles[[key for _, key in CALL_COLUMNS].index("start")] = cells.datetime_style  # as the Ledger's
        call_styles[charge_col] = money_style
        call_sheets = _streamed(
            wb, cells, "Calls", [_h(h, cur) for h, _ in CALL_COLUMNS],
            [20, 38, 30, 10, 18, 18, 8, 28, 9, 10, 14, 11, 10, 16, 9, 11, 16, 28, 7], calls, call_row, call_styles,
        )
        wb.save(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        _discard(wb)
        raise
    return {
        "path": str(target),
        "sheets": [ws.title for ws in wb.worksheets],
        "calls": counts["calls"],
        "ledger_rows": counts["ledger"],
        "ledger_entries": counts["ledger_entries"],
        "calls_sheets": call_sheets,
        "ledger_sheets": ledger_sheets,
    }


def _discard(wb: Workbook) -> None:
    """Close and remove the half-written sheets' temporary files after a failure."""
    for ws in wb.worksheets:
        rows, writer = getattr(ws, "_rows", None), getattr(ws, "_writer", None)
        try:
            if rows is not None:
                rows.close()
        except Exception:  # noqa: BLE001 - best effort: the write already failed
            pass
        try:
            if writer is not None:
                writer.close()
                writer.cleanup()
        except Exception:  # noqa: BLE001
            pass


_CALL_NUMERIC = {"start", "duration_seconds", "billed_seconds", "pool_seconds", "charged_seconds", "charge",
                 "source_line"}


def _h(header: str, currency: str) -> str:
    return f"{header} ({currency})" if header in ("Charge", "Amount", "Balance") else header


# --- the small sheets -------------------------------------------------------------------------


def _summary(wb: Workbook, cells: _Cells, r: Report) -> None:
    ws = cells.ws

    def convert(ws: Any, row: tuple[str, str, Any]) -> list[Any]:
        section, item, value = row
        bold = item in ("Closing balance", "Total")
        if isinstance(value, Decimal):
            out = cells.money(ws, value, bold=bold)
        elif isinstance(value, datetime):
            out = cells.datetime(ws, value)
        elif isinstance(value, date):
            out = cells.date(ws, value)
        elif isinstance(value, int):
            out = cells.count(ws, value)
        else:
            out = cells.text(ws, value)
        return [cells.text(ws, section), cells.bold(ws, item) if bold else cells.text(ws, item), out]

    rows = r.summary_rows()
    rows.append(("Check", "Opening + movements - closing (always 0)", r.check()))
    _table(wb, cells, "Summary", ["Section", "Item", "Value"], [18, 40, 24], rows, convert, ws=ws)


def _daily(wb: Workbook, cells: _Cells, r: Report) -> None:
    cur = r.currency
    headers = ["Date", "Calls", "Charged calls", "Denied calls", "Charged minutes", f"Spend ({cur})",
               f"Funding ({cur})", f"Expired ({cur})", f"Adjustments ({cur})", f"Closing balance ({cur})"]

    def convert(ws: Any, d: Any) -> list[Any]:
        return [cells.date(ws, d.day), d.calls, d.charged_calls, d.denied_calls, cells.minutes(ws, d.charged_seconds),
                cells.money(ws, d.spend), cells.money(ws, d.funding), cells.money(ws, d.expired),
                cells.money(ws, d.other), cells.money(ws, d.closing)]

    def total(ws: Any) -> list[Any]:
        days = r.daily
        return [cells.bold(ws, "Total"), sum(d.calls for d in days), sum(d.charged_calls for d in days),
                sum(d.denied_calls for d in days), cells.minutes(ws, sum(d.charged_seconds for d in days)),
                cells.money(ws, r.spend, True), cells.money(ws, r.funding, True), cells.money(ws, r.expired, True),
                cells.money(ws, r.other, True), cells.money(ws, r.closing, True)]

    ws = _table(wb, cells, "Daily", headers, [12, 9, 14, 13, 16, 18, 18, 16, 18, 22], r.daily, convert, total)
    n = len(r.daily)
    chart = BarChart()
    chart.type = "col"
    chart.title = f"Daily spend ({cur})"
    chart.y_axis.title = cur
    chart.x_axis.title = "Day (UTC)"
    chart.x_axis.number_format = "d mmm"
    chart.x_axis.majorTimeUnit = "days"
    chart.y_axis.number_format = "#,##0.00"
    chart.y_axis.majorGridlines = None
    chart.legend = None
    chart.height = 9
    chart.width = max(18, min(40, n * 0.7))
    data = Reference(ws, min_col=6, min_row=1, max_row=n + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=n + 1))
    # openpyxl hides chart axes unless told otherwise
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    ws.add_chart(chart, "L2")


def _users(wb: Workbook, cells: _Cells, r: Report) -> None:
    cur = r.currency
    headers = ["User", "Name", "Calls", "Charged calls", "Denied calls", "Billed minutes", "Included minutes",
               "Charged minutes", f"Spend ({cur})", "Share of spend"]
    spend = sum((u.spend for u in r.users), Decimal(0))

    def convert(ws: Any, u: Any) -> list[Any]:
        share = (u.spend / spend).quantize(Decimal("0.0001")) if spend else Decimal(0)
        return [cells.text(ws, u.upn or "(no user)"), cells.text(ws, u.name), u.calls, u.charged_calls,
                u.denied_calls, cells.minutes(ws, u.billed_seconds), cells.minutes(ws, u.pool_seconds),
                cells.minutes(ws, u.charged_seconds), cells.money(ws, u.spend), cells.percent(ws, share)]

    def total(ws: Any) -> list[Any]:
        us = r.users
        return [cells.bold(ws, "Total"), None, sum(u.calls for u in us), sum(u.charged_calls for u in us),
                sum(u.denied_calls for u in us), cells.minutes(ws, sum(u.billed_seconds for u in us)),
                cells.minutes(ws, sum(u.pool_seconds for u in us)),
                cells.minutes(ws, sum(u.charged_seconds for u in us)), cells.money(ws, spend, True), None]

    _table(wb, cells, "Users", headers, [34, 26, 9, 14, 13, 15, 17, 16, 18, 14], r.users, convert, total)


def _destinations(wb: Workbook, cells: _Cells, r: Report) -> None:
    cur = r.currency
    headers = ["Kind", "Prefix", "Destination", "Country", "Calls", "Charged calls", "Billed minutes",
               "Charged minutes", f"Spend ({cur})"]

    def convert(ws: Any, d: Any) -> list[Any]:
        return [cells.text(ws, d.kind), cells.text(ws, d.prefix), cells.text(ws, d.name or "(unrated)"),
                cells.text(ws, d.country), d.calls, d.charged_calls, cells.minutes(ws, d.billed_seconds),
                cells.minutes(ws, d.charged_seconds), cells.money(ws, d.spend)]

    def total(ws: Any) -> list[Any]:
        ds = r.destinations
        return [cells.bold(ws, "Total"), None, None, None, sum(d.calls for d in ds), sum(d.charged_calls for d in ds),
                cells.minutes(ws, sum(d.billed_seconds for d in ds)),
                cells.minutes(ws, sum(d.charged_seconds for d in ds)),
                cells.money(ws, sum((d.spend for d in ds), Decimal(0)), True)]

    _table(wb, cells, "Destinations", headers, [10, 9, 30, 9, 9, 14, 15, 16, 18], r.destinations, convert, total)


def _pools(wb: Workbook, cells: _Cells, r: Report) -> None:
    headers = ["Month", "Pool", "Capacity (min)", "Used (min)", "Left (min)", "Used"]

    def convert(ws: Any, p: Any) -> list[Any]:
        return [cells.text(ws, p.month), cells.text(ws, p.pool), cells.minutes(ws, p.capacity_seconds),
                cells.minutes(ws, p.used_seconds), cells.minutes(ws, p.left_seconds),
                cells.percent(ws, p.used_fraction)]

    _table(wb, cells, "Pools", headers, [10, 20, 15, 13, 13, 10], r.pools, convert)
