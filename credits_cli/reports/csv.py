"""The report's tables as CSV files, one per workbook sheet.

Money is written as exact decimal text (``12.3400``), dates as ``YYYY-MM-DD``
and times as ISO 8601 UTC (``2026-11-01T09:30:00Z``). Text from the data that
starts with ``= + - @``, a tab or a carriage return is prefixed with ``'``, so
a spreadsheet opening the file never runs it as a formula (CSV injection).

The files are for scripts, and read the same in every language: the column
names are fixed keys, and the values are data (codes, amounts, dates; a
sentence such as the ``why`` of a differing call or the note of a run of
charges is its English text). The one exception is ``summary.csv``, whose
rows are ``section,item,value,key``: ``section`` and ``item`` are labels for
people, in the current language (the language passed as ``lang``), and
``key`` is the line's fixed name for scripts (``opening_balance``,
``closing_balance``, ``spend.total``, ``calls.denied``, ``denied.no_balance``,
``adjustment.42``, ``check``; see :class:`credits_cli.reports.build.SummaryLine`),
so that no script needs the label. ``key`` is the last column, so a script
that reads the first three by position reads what it always did; in English
the file is otherwise what it was before there were languages.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from credits_cli import clock, i18n, money, outputs
from credits_cli.reports.build import CALL_COLUMNS, LEDGER_COLUMNS, Report
from credits_cli.reports.guard import csv_text
from credits_cli.reports.reconcile import DIFFERENCE_COLUMNS, Difference, Reconciliation

FILES = ("summary", "daily", "users", "destinations", "pools", "ledger", "calls")


def safe(value: Any) -> str:
    """One CSV field: exact money, ISO dates, and text that cannot become a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return money.fmt(value)
    if isinstance(value, datetime):
        return clock.iso(value) or ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return csv_text(str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Callable[[IO[str]], int]:
    """A writer of one CSV file (header, then the rows made safe); it returns the rows written."""

    def write(handle: IO[str]) -> int:
        out = csv.writer(handle)
        out.writerow(headers)
        count = 0
        for row in rows:
            out.writerow([safe(v) for v in row])
            count += 1
        return count

    return write


def write(
    directory: Path,
    report: Report,
    calls: Iterable[tuple[Any, ...]],
    ledger: Iterable[tuple[Any, ...]],
    *,
    database: Path | None = None,
    reconciliation: Reconciliation | None = None,
    differences: Iterable[Difference] = (),
    lang: str | None = None,
) -> dict[str, Any]:
    """Write the seven tables into ``directory`` (created if missing), all of them or none
    (:func:`credits_cli.outputs.write_folder`). Returns the files and row counts. ``lang``: the language of
    summary.csv's labels (None: the current one); nothing else depends on the language."""
    folder = Path(directory)
    r = report
    with i18n.speaking(lang):
        summary = [(line.section, line.item, line.value, line.key) for line in [*r.summary_lines(), r.check_line()]]
    files = {
        "summary.csv": _table(["section", "item", "value", "key"], summary),
        "daily.csv": _table(
            ["date", "calls", "charged_calls", "denied_calls", "charged_seconds", "spend", "funding",
             "charges_posted", "expired", "adjustments", "closing_balance"],
            ([d.day, d.calls, d.charged_calls, d.denied_calls, d.charged_seconds, d.spend, d.funding,
              d.charges_posted, d.expired, d.other, d.closing] for d in r.daily),
        ),
        "users.csv": _table(
            ["user", "name", "calls", "charged_calls", "denied_calls", "billed_seconds", "pool_seconds",
             "charged_seconds", "spend"],
            ([u.upn, u.name, u.calls, u.charged_calls, u.denied_calls, u.billed_seconds, u.pool_seconds,
              u.charged_seconds, u.spend] for u in r.users),
        ),
        "destinations.csv": _table(
            ["kind", "prefix", "destination", "country", "calls", "charged_calls", "billed_seconds",
             "charged_seconds", "spend"],
            ([d.kind, d.prefix, d.name, d.country, d.calls, d.charged_calls, d.billed_seconds, d.charged_seconds,
              d.spend] for d in r.destinations),
        ),
        "pools.csv": _table(
            ["month", "pool", "capacity_seconds", "used_seconds", "left_seconds", "used_fraction"],
            ([p.month, p.pool, p.capacity_seconds, p.used_seconds, p.left_seconds, str(p.used_fraction)]
             for p in r.pools),
        ),
        "ledger.csv": _table([key for _, key in LEDGER_COLUMNS], ledger),
        "calls.csv": _table([key for _, key in CALL_COLUMNS], calls),
    }
    if reconciliation is not None:
        rec = reconciliation
        files["reconciliation.csv"] = _table(
            ["key", "destination", "calls", "ours", "microsoft", "difference"],
            [*([x.key, x.name, x.calls, x.ours, x.theirs, x.difference] for x in rec.by_destination),
             ["total", "", rec.total.calls, rec.total.ours, rec.total.theirs, rec.total.difference]],
        )
        files["reconciliation_calls.csv"] = _table([key for _, key in DIFFERENCE_COLUMNS],
                                                   (d.row() for d in differences))
    counts = outputs.write_folder(folder, files, what="--csv", database=database)
    return {
        "directory": str(folder),
        "files": {name.removesuffix(".csv"): name for name in files},
        "rows": {name.removesuffix(".csv"): n for name, n in counts.items()},
    }


def write_overview(directory: Path, reports: Sequence[Report], *, database: Path | None = None) -> dict[str, Any]:
    """``overview.csv`` beside the tenants' folders (``report --all-tenants --csv DIR``): a line per tenant,
    its period's balance, funding and spend in its own currency."""
    header = ["tenant", "name", "currency", "from", "to", "opening_balance", "funding", "spend", "expired",
              "closing_balance", "calls", "denied_calls", "folder"]
    rows = ([r.tenant, r.tenant_name, r.currency, r.period.first, r.period.last, r.opening, r.funding, r.spend,
             r.expired, r.closing, r.calls, r.denied_calls, r.tenant] for r in reports)
    counts = outputs.write_folder(Path(directory), {"overview.csv": _table(header, rows)}, what="--csv",
                                  database=database)
    return {"directory": str(directory), "rows": counts["overview.csv"]}
