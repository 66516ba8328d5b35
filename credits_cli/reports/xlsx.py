"""The report as an Excel workbook (SPEC §7), written by XlsxWriter in constant-memory mode.

Sheets: Summary, Daily (with a column chart of daily spend), Users,
Destinations, Pools, Ledger, Calls, Reconciliation (our charge against
Microsoft's per destination) and Reconciliation calls (each call that differs). On the Ledger sheet a run of consecutive
call charges of one day is one row (exact sum, entry count, balance after; the
charges one by one are the Calls sheet's Charge column). Calls and Ledger are
streamed from the database and continue on "Calls (2)", "Calls (3)", ... when
a period holds more rows than one sheet can (:data:`MAX_ROWS`).

- XlsxWriter's constant-memory mode writes each row out as soon as the next one
  starts, so a month of a million calls holds one row in memory. Only its
  public API is used: ``write_string``, ``write_number``, ``write_datetime``,
  formats, ``set_column``, ``freeze_panes``, ``autofilter``, the print setup
  and a native chart.
- Money cells are numbers in the number format ``#,##0.0000 "USD"`` (the
  currency where the workbook's language puts it: ``#,##0.0000"\u00a0₽"`` in
  Russian, ``"¥"#,##0.0000`` in Chinese, :func:`money_format`): four
  decimals everywhere, because charges carry four and a total shown with fewer
  would not visibly add up. A number in an Excel cell is a binary double, and
  XlsxWriter writes doubles: the exact ``Decimal`` of the ledger becomes a
  float here, at the edge of the file and nowhere else. A double holds every
  amount of up to eleven digits before the point to well within its fourth
  decimal, so each cell reads back as the ledger's amount to the fourth
  decimal (a test reads every money cell back and checks it).
- Dates are dates, times are date-times (UTC), minutes, counts and shares are
  numbers, each in its format.
- Every sheet has its header row frozen, a filter over its header and data
  rows, set widths, and prints one page wide (landscape when wide) with the
  header row on every page. Totals rows (bold) sit below the filtered range,
  so sorting never moves them.
- No text from the data ever becomes a formula or an error value
  (:mod:`credits_cli.reports.guard`): text is always written with
  ``write_string``, never ``write``, and the workbook is opened with
  ``strings_to_formulas``, ``strings_to_numbers`` and ``strings_to_urls`` off;
  a text that starts with ``= + - @``, a tab or a carriage return, or reads
  like an Excel error (``#N/A``), gets Excel's quote prefix, so it stays text
  when the cell is edited; characters XML cannot hold become U+FFFD and text
  is cut to the 32,767 characters a cell holds.
- Sheet names, titles, column headers and labels are in the current language
  (the tenant's, when the caller writes it inside ``i18n.speaking(tenant.lang)``
  or passes ``lang``); text from the data is written as it is. A translated sheet
  name that Excel would refuse is cut to 31 characters or replaced by the
  English one (:class:`credits_cli.reports.guard.SheetNames`).
- The file is written to a temporary file created beside the target under an
  unpredictable name, and renamed into place at the end; on any failure the
  temporary file and XlsxWriter's scratch files are removed, and a full disk
  or an unwritable folder is one :class:`InvalidInput` line. The workbook, like
  the database, is readable by its owner only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import xlsxwriter
from xlsxwriter.exceptions import FileCreateError, FileSizeError

from credits_cli import i18n, outputs
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _, pgettext
from credits_cli.phrases import Phrase
from credits_cli.reports.build import CALL_COLUMNS, LEDGER_COLUMNS, Report
from credits_cli.reports.guard import SheetNames, cell_text, is_plain
from credits_cli.reports.reconcile import DIFFERENCE_COLUMNS, Difference, Reconciliation

#: Excel's row limit; a sheet holds MAX_ROWS - 1 data rows under its header.
MAX_ROWS = 1_048_576

MINUTES_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
PERCENT_FORMAT = "0.00%"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FILL = "#305496"
#: A sheet whose columns are wider than this, together (in characters), prints in landscape.
LANDSCAPE_WIDTH = 110
#: One row in memory at a time; no text is ever taken for a formula, a number or a link.
OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


#: Money cells: four decimals everywhere (see the module docstring).
MONEY_NUMBER = "#,##0.0000"


def money_format(currency: str) -> str:
    """The number format of a money cell, with the currency where the current locale puts it
    (:func:`credits_cli.i18n.money_pattern`): ``#,##0.0000 "USD"`` in English, ``#,##0.0000"\u00a0₽"``
    for roubles in Russian, ``"¥"#,##0.0000`` for yuan in Chinese. The symbol (and a gap other than a
    plain space) is a quoted literal, which every spreadsheet reads as text; the ``,`` and ``.`` of the
    number are placeholders that Excel shows with the reader's own separators."""
    symbol, gap, before = i18n.money_pattern(currency)
    symbol = symbol.replace('"', "")  # a quote would end the literal (no currency symbol has one)
    if gap == " ":
        return f'"{symbol}" {MONEY_NUMBER}' if before else f'{MONEY_NUMBER} "{symbol}"'
    return f'"{symbol}{gap}"{MONEY_NUMBER}' if before else f'{MONEY_NUMBER}"{gap}{symbol}"'


# TRANSLATORS: a workbook sheet name: at most 31 characters (a longer one is cut), none of [ ] : * ? / \
SUMMARY = N_("Summary")
# TRANSLATORS: a workbook sheet name (the spend of each day): at most 31 characters, none of [ ] : * ? / \
DAILY = N_("Daily")
# TRANSLATORS: a workbook sheet name: at most 31 characters, none of [ ] : * ? / \
USERS = N_("Users")
# TRANSLATORS: a workbook sheet name: at most 31 characters, none of [ ] : * ? / \
DESTINATIONS = N_("Destinations")
# TRANSLATORS: a workbook sheet name (the included minutes of a plan): at most 31 characters, none of [ ] : * ? / \
POOLS = N_("Pools")
# TRANSLATORS: a workbook sheet name: at most 31 characters (27 when continued as "Name (2)"), none of [ ] : * ? / \
LEDGER = N_("Ledger")
# TRANSLATORS: a workbook sheet name: at most 31 characters (27 when continued as "Name (2)"), none of [ ] : * ? / \
CALLS = N_("Calls")
# TRANSLATORS: a workbook sheet name (our charges against Microsoft's): at most 31 characters, none of [ ] : * ? / \
RECONCILIATION = N_("Reconciliation")
# TRANSLATORS: a workbook sheet name (each call whose charge differs from Microsoft's): at most 31 characters
# (27 when continued as "Name (2)"), none of [ ] : * ? / \
RECONCILIATION_CALLS = N_("Reconciliation calls")


def minutes(seconds: int) -> Decimal:
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"))


class Content(StrEnum):
    """What a column holds, which decides how its cells are written and formatted."""

    TEXT = "text"  # text from the data, through the formula guard
    COUNT = "count"  # a whole number of things (calls, entries, seconds)
    NUMBER = "number"  # an identifier or line number: no thousands separator
    MINUTES = "minutes"  # given in seconds, shown in minutes
    MONEY = "money"  # a Decimal amount in the report's currency
    PERCENT = "percent"  # a Decimal fraction
    DATE = "date"
    DATETIME = "datetime"  # naive UTC
    ANY = "any"  # decided by each value's type (the Summary's Value column)


class Column(NamedTuple):
    header: str
    width: float
    content: Content


Write = Callable[[int, int, Any], Any]


class _Formats:
    """The workbook's cell formats, made once each: by content, bold or not, quote prefix or not; the
    names the workbook's sheets were given (each valid and unique: :class:`SheetNames`, one for the
    workbook) and the prefix of this tenant's sheet names (a workbook of many tenants)."""

    def __init__(self, wb: Any, currency: str, names: SheetNames, prefix: str = "") -> None:
        self.wb = wb
        self.names = names
        self.prefix = prefix
        self.number_formats = {
            Content.COUNT: COUNT_FORMAT,
            Content.MINUTES: MINUTES_FORMAT,
            Content.MONEY: money_format(currency),
            Content.PERCENT: PERCENT_FORMAT,
            Content.DATE: DATE_FORMAT,
            Content.DATETIME: DATETIME_FORMAT,
        }
        self._made: dict[tuple[Content, bool, bool], Any] = {}
        self.header = wb.add_format({
            "bold": True, "font_color": "#FFFFFF", "bg_color": HEADER_FILL, "pattern": 1,
            "text_wrap": True, "valign": "vcenter",
        })

    def get(self, content: Content, bold: bool = False, quoted: bool = False) -> Any:
        """The format for ``content`` (None: Excel's default, for plain text and identifiers)."""
        key = (content, bold, quoted)
        if key not in self._made:
            props: dict[str, Any] = {}
            if content in self.number_formats:
                props["num_format"] = self.number_formats[content]
            if bold:
                props["bold"] = True
            if quoted:
                props["quote_prefix"] = True
            self._made[key] = self.wb.add_format(props) if props else None
        return self._made[key]


def _writer(ws: Any, formats: _Formats, content: Content, bold: bool) -> Write:
    """How a column writes one value at (row, col): the column's own type fast, anything else by its type."""
    if content is Content.TEXT:
        return _text_writer(ws, formats, bold)

    def any_value(r: int, c: int, v: Any) -> Any:
        return _write_any(ws, formats, bold, r, c, v)

    if content is Content.ANY:
        return any_value
    fmt = formats.get(content, bold)
    write_number = ws.write_number
    if content in (Content.COUNT, Content.NUMBER):

        def whole(r: int, c: int, v: Any) -> Any:
            if v.__class__ is int:
                return write_number(r, c, v, fmt)
            return any_value(r, c, v)

        return whole
    if content in (Content.MONEY, Content.PERCENT):

        def decimal(r: int, c: int, v: Any) -> Any:
            if v.__class__ is Decimal and v.is_finite():
                return write_number(r, c, float(v), fmt)  # a double in the cell: see the module docstring
            return any_value(r, c, v)

        return decimal
    if content is Content.MINUTES:

        def in_minutes(r: int, c: int, v: Any) -> Any:
            if v.__class__ is int:
                return write_number(r, c, float(minutes(v)), fmt)
            return any_value(r, c, v)

        return in_minutes
    write_datetime = ws.write_datetime
    if content is Content.DATE:

        def day(r: int, c: int, v: Any) -> Any:
            if v.__class__ is date:
                return write_datetime(r, c, v, fmt)
            return any_value(r, c, v)

        return day

    def moment(r: int, c: int, v: Any) -> Any:
        if v.__class__ is datetime and v.tzinfo is None:
            return write_datetime(r, c, v, fmt)
        return any_value(r, c, v)

    return moment


def _text_writer(ws: Any, formats: _Formats, bold: bool) -> Write:
    """Text from the data, through the formula guard; ``write_string`` only, so never a formula."""
    write_string = ws.write_string
    plain = formats.get(Content.TEXT, bold)
    quoted = formats.get(Content.TEXT, bold, quoted=True)

    def text(r: int, c: int, v: Any) -> Any:
        if v.__class__ is not str:
            v = v.said() if v.__class__ is Phrase else str(v)
        if not v:
            return None
        if is_plain(v):
            return write_string(r, c, v, plain)
        clean, quote = cell_text(v)
        return write_string(r, c, clean, quoted if quote else plain)

    return text


def _write_any(ws: Any, formats: _Formats, bold: bool, r: int, c: int, v: Any) -> Any:
    """A value whose column does not say its type: money for a Decimal, a count for an int, and so on."""
    if v is None:
        return None
    if isinstance(v, bool):
        return ws.write_boolean(r, c, v, formats.get(Content.TEXT, bold))
    if isinstance(v, int):
        return ws.write_number(r, c, v, formats.get(Content.COUNT, bold))
    if isinstance(v, Decimal) and v.is_finite():
        return ws.write_number(r, c, float(v), formats.get(Content.MONEY, bold))
    if isinstance(v, float) and math.isfinite(v):
        return ws.write_number(r, c, v, formats.get(Content.NUMBER, bold))
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return ws.write_datetime(r, c, v, formats.get(Content.DATETIME, bold))
    if isinstance(v, date):
        return ws.write_datetime(r, c, v, formats.get(Content.DATE, bold))
    return _text_writer(ws, formats, bold)(r, c, v)


class _Sheet:
    """One worksheet, written top to bottom (constant memory: a row once left is never written again).
    ``title`` is its English name (an ``N_`` message): the sheet is named in the current language, by
    :class:`SheetNames` (``suffix``: " (2)" for a continued table)."""

    def __init__(self, wb: Any, formats: _Formats, title: str, columns: Sequence[Column], suffix: str = "") -> None:
        self.title = formats.names.name(formats.prefix + _(title), formats.prefix + title, suffix)
        self.ws = ws = wb.add_worksheet(self.title)
        self.columns = columns
        self.formats = formats
        self.writers = [_writer(ws, formats, col.content, False) for col in columns]
        self._bold: list[Write] | None = None
        self.row = 0  # the last row written (0: the header)
        widths = [col.width for col in columns]
        for index, width in enumerate(widths):
            ws.set_column(index, index, width)
        ws.freeze_panes(1, 0)
        # Printed: every column on the page width, the header row on every page.
        ws.fit_to_pages(1, 0)
        if sum(widths) > LANDSCAPE_WIDTH:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.repeat_rows(0)
        for index, col in enumerate(columns):
            ws.write_string(0, index, col.header, formats.header)

    def add(self, values: Sequence[Any], bold: bool = False) -> None:
        if bold and self._bold is None:
            self._bold = [_writer(self.ws, self.formats, col.content, True) for col in self.columns]
        writers = self._bold if bold and self._bold is not None else self.writers
        self.row += 1
        r = self.row
        for c, v in enumerate(values):
            if v is not None:
                writers[c](r, c, v)

    def filter(self) -> None:
        """A filter over the header and the rows written so far (a totals row comes after)."""
        self.ws.autofilter(0, 0, self.row, len(self.columns) - 1)


def _table(
    wb: Any, formats: _Formats, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
    total: Sequence[Any] | None = None, bold: Callable[[Sequence[Any]], bool] | None = None,
) -> _Sheet:
    """A small sheet: header, rows, the filter, an optional bold totals row below it."""
    sheet = _Sheet(wb, formats, title, columns)
    for row in rows:
        sheet.add(row, bold=bold(row) if bold else False)
    sheet.filter()
    if total is not None:
        sheet.add(total, bold=True)
    return sheet


def _streamed(wb: Any, formats: _Formats, title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]],
              counted: Callable[[Sequence[Any]], None]) -> list[str]:
    """A table that continues on "Title (2)", "Title (3)", ... past MAX_ROWS. Returns the sheet titles.

    The loop of a million rows: the column writers are looked up once a sheet, not once a cell.
    """
    limit = MAX_ROWS - 1
    sheets: list[_Sheet] = []

    def new_sheet() -> _Sheet:
        sheets.append(_Sheet(wb, formats, title, columns, suffix=f" ({len(sheets) + 1})" if sheets else ""))
        return sheets[-1]

    sheet = new_sheet()
    writers = list(enumerate(sheet.writers))
    r = 0
    for values in rows:
        if r == limit:
            sheet.row = r
            sheet.filter()
            sheet = new_sheet()
            writers = list(enumerate(sheet.writers))
            r = 0
        r += 1
        for c, write in writers:
            v = values[c]
            if v is not None:
                write(r, c, v)
        counted(values)
    sheet.row = r
    sheet.filter()
    return [s.title for s in sheets]


def write(
    path: Path, report: Report, calls: Iterable[tuple[Any, ...]], ledger: Iterable[tuple[Any, ...]],
    reconciliation: Reconciliation | None = None, differences: Iterable[Difference] = (), *,
    lang: str | None = None,
) -> dict[str, Any]:
    """Write the workbook to ``path`` (atomically: :class:`credits_cli.outputs.AtomicFile`), in ``lang``
    (a tenant's language; None: the current one). Returns the sheet titles and row counts. An error is
    said in the current language (the command's), not the workbook's."""

    def title() -> str:
        # TRANSLATORS: the workbook's title (its document properties).
        return _("Report for {tenant}, {first} to {last}").format(
            tenant=report.tenant, first=i18n.day(report.period.first), last=i18n.day(report.period.last))

    def sheets(wb: Any, names: SheetNames) -> dict[str, Any]:
        return _sheets(wb, names, report, calls, ledger, reconciliation, differences)

    return _workbook(Path(path), title, report.generated_at, sheets, lang)


class Part(NamedTuple):
    """One tenant's part of a workbook of many: its report, calls, ledger rows and reconciliation."""

    report: Report
    calls: Iterable[tuple[Any, ...]]
    ledger: Iterable[tuple[Any, ...]]
    reconciliation: Reconciliation | None = None
    differences: Iterable[Difference] = ()


def write_tenants(path: Path, parts: Sequence[Part], generated_at: datetime, *,
                  lang: str | None = None) -> dict[str, Any]:
    """One workbook for many tenants (``report --all-tenants``): an Overview sheet (a line per tenant), then
    each tenant's sheets named after it (``contoso Summary``, ``contoso Calls`` ...). Returns, per
    tenant, what :func:`write` returns, and the sheet titles. One language for the whole workbook:
    ``lang``, else the current one."""
    prefixes = sheet_prefixes([part.report.tenant for part in parts])

    def title() -> str:
        first = parts[0].report.period if parts else None
        if first is None:
            # TRANSLATORS: the title (document properties) of a workbook of every tenant.
            return _("Report for every tenant")
        # TRANSLATORS: the title (document properties) of a workbook of every tenant, over a period.
        return _("Report for every tenant, {first} to {last}").format(first=i18n.day(first.first),
                                                                     last=i18n.day(first.last))

    def sheets(wb: Any, names: SheetNames) -> dict[str, Any]:
        _overview(wb, names, [part.report for part in parts], prefixes)
        return {"tenants": [
            {"tenant": part.report.tenant, **_sheets(wb, names, *part, prefix=prefix)}
            for part, prefix in zip(parts, prefixes, strict=True)
        ]}

    return _workbook(Path(path), title, generated_at, sheets, lang)


#: The room a tenant's prefix leaves in a sheet name for the title after it ("Destinations"; a longer
#: title, or a translation, is cut and kept unique by :class:`SheetNames`).
_LONGEST_TITLE = len("Destinations")
_SHEET_NAME = 31  # Excel's limit


def sheet_prefixes(slugs: Sequence[str]) -> list[str]:
    """Each tenant's sheet-name prefix: its slug, cut to leave room for the longest title, unique."""
    room = _SHEET_NAME - _LONGEST_TITLE - 1
    found: list[str] = []
    for slug in slugs:
        base = slug[:room]
        candidate, n = base, 1
        while f"{candidate} " in found:
            n += 1
            candidate = f"{base[:room - len(str(n)) - 1]}~{n}"
        found.append(f"{candidate} ")
    return found


def _workbook(target: Path, title: Callable[[], str], created: datetime,
              sheets: Callable[[Any, SheetNames], dict[str, Any]], lang: str | None) -> dict[str, Any]:
    atomic = outputs.AtomicFile(target, what="--xlsx", binary=True)
    with atomic:
        try:
            with outputs.scratch_folder("xlsx") as scratch, i18n.speaking(lang):
                wb = xlsxwriter.Workbook(atomic.handle, {**OPTIONS, "tmpdir": str(scratch)})
                wb.set_properties({"title": title(), "created": created})
                written = sheets(wb, SheetNames())
                written["sheets"] = [ws.get_name() for ws in wb.worksheets()]
                wb.close()
        except (OSError, FileCreateError, FileSizeError) as exc:
            raise InvalidInput(_("cannot write {path}: {reason}; nothing written").format(
                path=target, reason=_reason(exc))) from None
        atomic.commit()
    return {"path": str(target), **written}


def _reason(exc: BaseException) -> str:
    """One line for a failed write: the system's words (``No space left on device``)."""
    cause = exc.args[0] if isinstance(exc, FileCreateError) and exc.args else exc
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    if isinstance(exc, FileSizeError):
        return _("the workbook would need ZIP64 (over 4 GB)")
    return str(cause).splitlines()[0] if str(cause) else type(cause).__name__


def _sheets(
    wb: Any, names: SheetNames, r: Report, calls: Iterable[tuple[Any, ...]], ledger: Iterable[tuple[Any, ...]],
    reconciliation: Reconciliation | None = None, differences: Iterable[Difference] = (), prefix: str = "",
) -> dict[str, Any]:
    formats = _Formats(wb, r.currency, names, prefix)
    _summary(wb, formats, r)
    _daily(wb, formats, r)
    _users(wb, formats, r)
    _destinations(wb, formats, r)
    _pools(wb, formats, r)
    counts = {"ledger": 0, "ledger_entries": 0, "calls": 0}
    entries_at = [key for _, key in LEDGER_COLUMNS].index("entries")

    def ledger_row(row: Sequence[Any]) -> None:
        counts["ledger"] += 1
        counts["ledger_entries"] += row[entries_at]

    def call_row(row: Sequence[Any]) -> None:
        counts["calls"] += 1

    cur = r.currency
    ledger_sheets = _streamed(wb, formats, LEDGER, _columns(LEDGER_COLUMNS, _LEDGER_LAYOUT, cur), ledger,
                              ledger_row)
    call_sheets = _streamed(wb, formats, CALLS, _columns(CALL_COLUMNS, _CALL_LAYOUT, cur), calls, call_row)
    if reconciliation is not None:
        _reconciliation(wb, formats, reconciliation, differences)
    return {
        "calls": counts["calls"],
        "ledger_rows": counts["ledger"],
        "ledger_entries": counts["ledger_entries"],
        "calls_sheets": call_sheets,
        "ledger_sheets": ledger_sheets,
    }


# --- the two streamed sheets: build.py's columns, with their widths and contents ------------------

_CALL_LAYOUT: dict[str, tuple[float, Content]] = {
    "start": (20, Content.DATETIME),
    "external_id": (38, Content.TEXT),
    "user_upn": (30, Content.TEXT),
    "kind": (10, Content.TEXT),
    "call_type": (18, Content.TEXT),
    "number": (18, Content.TEXT),
    "country": (8, Content.TEXT),
    "rate_name": (28, Content.TEXT),
    "rate_prefix": (9, Content.TEXT),
    "status": (10, Content.TEXT),
    "reason": (14, Content.TEXT),
    "duration_seconds": (11, Content.COUNT),
    "billed_seconds": (10, Content.COUNT),
    "pool": (16, Content.TEXT),
    "pool_seconds": (9, Content.COUNT),
    "charged_seconds": (11, Content.COUNT),
    "charge": (16, Content.MONEY),
    "source_file": (28, Content.TEXT),
    "source_line": (7, Content.NUMBER),
}

_LEDGER_LAYOUT: dict[str, tuple[float, Content]] = {
    "posted_at": (20, Content.DATETIME),
    "service_at": (20, Content.DATETIME),
    "id": (9, Content.NUMBER),
    "kind": (12, Content.TEXT),
    "entries": (9, Content.COUNT),
    "amount": (18, Content.MONEY),
    "balance": (18, Content.MONEY),
    "lot_id": (7, Content.NUMBER),
    "call": (38, Content.TEXT),
    "note": (44, Content.TEXT),
}


#: The headers of money columns, which name the currency (by the key of the column).
_MONEY_HEADERS = {
    "charge": N_("Charge ({currency})"),
    "amount": N_("Amount ({currency})"),
    "balance": N_("Balance ({currency})"),
    "ours": N_("Ours ({currency})"),
    "theirs": N_("Microsoft's ({currency})"),
    "difference": N_("Difference ({currency})"),
}


def _columns(keys: Sequence[tuple[str, str]], layout: dict[str, tuple[float, Content]], cur: str) -> list[Column]:
    return [Column(_h(header, key, cur), *layout[key]) for header, key in keys]


def _h(header: str, key: str, currency: str) -> str:
    """A column's header in the current language (with the currency for money)."""
    money = _MONEY_HEADERS.get(key)
    return _(money).format(currency=currency) if money else _(header)


# --- the small sheets -------------------------------------------------------------------------

#: The summary's lines in bold (by their keys: the same in every language).
_STRONG = frozenset({"closing_balance", "spend.total", "calls.total"})


# TRANSLATORS: a workbook sheet name (a line per tenant): at most 31 characters, none of [ ] : * ? / \\
OVERVIEW = N_("Overview")


def _overview(wb: Any, names: SheetNames, reports: Sequence[Report], prefixes: Sequence[str]) -> None:
    """A line per tenant: its period's balance, funding and spend, in its own currency, and what its
    sheets' names start with."""
    columns = [
        # TRANSLATORS: column headers of the Overview sheet of a workbook of every tenant.
        Column(_("Tenant"), 20, Content.TEXT), Column(pgettext("tenant", "Name"), 26, Content.TEXT),
        Column(_("Currency"), 9, Content.TEXT), Column(_("From"), 12, Content.DATE), Column(_("To"), 12, Content.DATE),
        Column(_("Opening balance"), 18, Content.MONEY), Column(_("Funding"), 18, Content.MONEY),
        Column(_("Spend"), 18, Content.MONEY), Column(_("Expired"), 16, Content.MONEY),
        Column(_("Closing balance"), 18, Content.MONEY), Column(_("Calls"), 9, Content.COUNT),
        Column(_("Denied calls"), 13, Content.COUNT), Column(_("Sheets"), 22, Content.TEXT),
    ]
    sheet = _Sheet(wb, _Formats(wb, "", names), OVERVIEW, columns)
    money_at = [i for i, c in enumerate(columns) if c.content is Content.MONEY]
    for r, prefix in zip(reports, prefixes, strict=True):
        own = _Formats(wb, r.currency, names).get(Content.MONEY)  # each line in its tenant's currency
        sheet.add([r.tenant, r.tenant_name, r.currency, r.period.first, r.period.last, None, None, None, None, None,
                   r.calls, r.denied_calls, f"{prefix}…"])
        for i, value in zip(money_at, (r.opening, r.funding, r.spend, r.expired, r.closing), strict=True):
            sheet.ws.write_number(sheet.row, i, float(value), own)
    sheet.filter()


def _summary(wb: Any, formats: _Formats, r: Report) -> None:
    # TRANSLATORS: the headers of the summary sheet (a section, an item in it, its value).
    columns = [Column(_("Section"), 18, Content.TEXT), Column(_("Item"), 40, Content.TEXT),
               Column(_("Value"), 24, Content.ANY)]
    lines = [*r.summary_lines(), r.check_line()]
    sheet = _Sheet(wb, formats, SUMMARY, columns)
    for line in lines:
        sheet.add((line.section, line.item, line.value), bold=line.key in _STRONG)
    sheet.filter()


def _daily(wb: Any, formats: _Formats, r: Report) -> None:
    cur = r.currency
    money = Content.MONEY
    columns = [
        Column(_("Date"), 12, Content.DATE), Column(_("Calls"), 9, Content.COUNT),
        Column(_("Charged calls"), 14, Content.COUNT), Column(_("Denied calls"), 13, Content.COUNT),
        Column(_("Charged minutes"), 16, Content.MINUTES),
        Column(_("Spend ({currency})").format(currency=cur), 18, money),
        Column(_("Funding ({currency})").format(currency=cur), 18, money),
        Column(_("Charges posted ({currency})").format(currency=cur), 20, money),
        Column(_("Expired ({currency})").format(currency=cur), 16, money),
        Column(_("Adjustments ({currency})").format(currency=cur), 18, money),
        Column(_("Closing balance ({currency})").format(currency=cur), 22, money),
    ]
    days = r.daily
    rows = [(d.day, d.calls, d.charged_calls, d.denied_calls, d.charged_seconds, d.spend, d.funding,
             d.charges_posted, d.expired, d.other, d.closing) for d in days]
    total = (_("Total"), sum(d.calls for d in days), sum(d.charged_calls for d in days),
             sum(d.denied_calls for d in days), sum(d.charged_seconds for d in days), r.spend, r.funding,
             r.charges_posted, r.expired, r.other, r.closing)
    sheet = _table(wb, formats, DAILY, columns, rows, total)
    _daily_chart(wb, sheet, len(days), cur, spend=5)


def _daily_chart(wb: Any, sheet: _Sheet, days: int, cur: str, spend: int) -> None:
    """A native column chart of the Spend column (``spend``: its index), beside the table."""
    title = sheet.title
    chart = wb.add_chart({"type": "column"})
    chart.add_series({
        "name": sheet.columns[spend].header,
        "categories": [title, 1, 0, days, 0],
        "values": [title, 1, spend, days, spend],
        "fill": {"color": HEADER_FILL},
        "gap": 50,
    })
    chart.set_title({"name": _("Daily spend ({currency})").format(currency=cur)})
    chart.set_x_axis({"name": _("Day (UTC)"), "date_axis": True, "num_format": "d mmm",
                      "num_font": {"rotation": -45}})
    chart.set_y_axis({"name": cur, "num_format": "#,##0.00", "major_gridlines": {"visible": False}})
    chart.set_legend({"none": True})
    cm = 96 / 2.54  # pixels per centimetre
    chart.set_size({"width": round(max(18, min(40, days * 0.7)) * cm), "height": round(9 * cm)})
    sheet.ws.insert_chart(1, len(sheet.columns) + 1, chart)


def _users(wb: Any, formats: _Formats, r: Report) -> None:
    cur = r.currency
    columns = [
        Column(_("User"), 34, Content.TEXT),
        # TRANSLATORS: a column header: a user's display name.
        Column(pgettext("user", "Name"), 26, Content.TEXT), Column(_("Calls"), 9, Content.COUNT),
        Column(_("Charged calls"), 14, Content.COUNT), Column(_("Denied calls"), 13, Content.COUNT),
        Column(_("Billed minutes"), 15, Content.MINUTES), Column(_("Included minutes"), 17, Content.MINUTES),
        Column(_("Charged minutes"), 16, Content.MINUTES),
        Column(_("Spend ({currency})").format(currency=cur), 18, Content.MONEY),
        Column(_("Share of spend"), 14, Content.PERCENT),
    ]
    us = r.users
    spend = sum((u.spend for u in us), Decimal(0))
    no_user = _("(no user)")
    rows = [(u.upn or no_user, u.name, u.calls, u.charged_calls, u.denied_calls, u.billed_seconds,
             u.pool_seconds, u.charged_seconds, u.spend,
             (u.spend / spend).quantize(Decimal("0.0001")) if spend else Decimal(0)) for u in us]
    total = (_("Total"), None, sum(u.calls for u in us), sum(u.charged_calls for u in us),
             sum(u.denied_calls for u in us), sum(u.billed_seconds for u in us), sum(u.pool_seconds for u in us),
             sum(u.charged_seconds for u in us), spend, None)
    _table(wb, formats, USERS, columns, rows, total)


def _destinations(wb: Any, formats: _Formats, r: Report) -> None:
    cur = r.currency
    columns = [
        Column(_("Kind"), 10, Content.TEXT), Column(_("Prefix"), 9, Content.TEXT),
        Column(_("Destination"), 30, Content.TEXT), Column(_("Country"), 9, Content.TEXT),
        Column(_("Calls"), 9, Content.COUNT), Column(_("Charged calls"), 14, Content.COUNT),
        Column(_("Billed minutes"), 15, Content.MINUTES), Column(_("Charged minutes"), 16, Content.MINUTES),
        Column(_("Spend ({currency})").format(currency=cur), 18, Content.MONEY),
    ]
    ds = r.destinations
    unrated = _("(unrated)")
    rows = [(d.kind, d.prefix, d.name or unrated, d.country, d.calls, d.charged_calls, d.billed_seconds,
             d.charged_seconds, d.spend) for d in ds]
    total = (_("Total"), None, None, None, sum(d.calls for d in ds), sum(d.charged_calls for d in ds),
             sum(d.billed_seconds for d in ds), sum(d.charged_seconds for d in ds),
             sum((d.spend for d in ds), Decimal(0)))
    _table(wb, formats, DESTINATIONS, columns, rows, total)


def _pools(wb: Any, formats: _Formats, r: Report) -> None:
    columns = [
        Column(_("Month"), 10, Content.TEXT), Column(_("Pool"), 20, Content.TEXT),
        Column(_("Capacity (min)"), 15, Content.MINUTES), Column(_("Used (min)"), 13, Content.MINUTES),
        Column(_("Left (min)"), 13, Content.MINUTES),
        # TRANSLATORS: a column header: the share of a pool's minutes used.
        Column(pgettext("share", "Used"), 10, Content.PERCENT),
    ]
    rows = [(p.month, p.pool, p.capacity_seconds, p.used_seconds, p.left_seconds, p.used_fraction) for p in r.pools]
    _table(wb, formats, POOLS, columns, rows)


def _reconciliation(wb: Any, formats: _Formats, rec: Reconciliation, differences: Iterable[Difference]) -> None:
    """Our charge against Microsoft's (:mod:`credits_cli.reports.reconcile`): per destination with the total
    below, then every call that differs beyond the tolerance (streamed)."""
    cur = rec.currency
    money = Content.MONEY
    columns = [
        # TRANSLATORS: a column header: a call kind and a rate prefix, as outbound:44.
        Column(_("Kind:prefix"), 14, Content.TEXT), Column(_("Destination"), 30, Content.TEXT),
        Column(_("Calls compared"), 15, Content.COUNT), Column(_h("", "ours", cur), 18, money),
        Column(_h("", "theirs", cur), 20, money), Column(_h("", "difference", cur), 18, money),
    ]
    rows = [(x.key, x.name, x.calls, x.ours, x.theirs, x.difference) for x in rec.by_destination]
    total = (_("Total"), None, rec.total.calls, rec.total.ours, rec.total.theirs, rec.total.difference)
    _table(wb, formats, RECONCILIATION, columns, rows, total)
    layout: dict[str, tuple[float, Content]] = {
        "start": (20, Content.DATETIME), "external_id": (38, Content.TEXT), "user": (30, Content.TEXT),
        "kind": (10, Content.TEXT), "destination": (28, Content.TEXT), "status": (10, Content.TEXT),
        "ours": (16, Content.MONEY), "theirs": (16, Content.MONEY), "difference": (16, Content.MONEY),
        "currency": (9, Content.TEXT), "capability": (14, Content.TEXT), "why": (60, Content.TEXT),
    }
    _streamed(wb, formats, RECONCILIATION_CALLS, _columns(DIFFERENCE_COLUMNS, layout, cur),
              (d.row() for d in differences), lambda row: None)
