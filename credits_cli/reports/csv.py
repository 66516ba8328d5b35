"""The report's tables as CSV files, one per workbook sheet.

Money is written as exact decimal text (``12.3400``), dates as ``YYYY-MM-DD``
and times as ISO 8601 UTC (``2026-11-01T09:30:00Z``). Text from the data that
starts with ``= + - @``, a tab or a carriage return is prefixed with ``'``, so
a spreadsheet opening the file never runs it as a formula (CSV injection).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from credits_cli import clock, money
from credits_cli.errors import InvalidInput
from credits_cli.reports.build import CALL_COLUMNS, LEDGER_COLUMNS, Report
from credits_cli.reports.guard import csv_text

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


def _write(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(headers)
            for row in rows:
                out.writerow([safe(v) for v in row])
                count += 1
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write(
    directory: Path, report: Report, calls: Iterable[tuple[Any, ...]], ledger: Iterable[tuple[Any, ...]]
) -> dict[str, Any]:
    """Write the seven tables into ``directory`` (created if missing). Returns the files and row counts."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {folder}: {exc.strerror}") from None
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a directory")
    r = report
    written: dict[str, int] = {}
    written["summary"] = _write(
        folder / "summary.csv",
        ["section", "item", "value"],
        [*r.summary_rows(), ("Check", "Opening + movements - closing (always 0)", r.check())],
    )
    written["daily"] = _write(
        folder / "daily.csv",
        ["date", "calls", "charged_calls", "denied_calls", "charged_seconds", "spend", "funding", "expired",
         "adjustments", "closing_balance"],
        ([d.day, d.calls, d.charged_calls, d.denied_calls, d.charged_seconds, d.spend, d.funding, d.expired, d.other,
          d.closing] for d in r.daily),
    )
    written["users"] = _write(
        folder / "users.csv",
        ["user", "name", "calls", "charged_calls", "denied_calls", "billed_seconds", "pool_seconds",
         "charged_seconds", "spend"],
        ([u.upn, u.name, u.calls, u.charged_calls, u.denied_calls, u.billed_seconds, u.pool_seconds,
          u.charged_seconds, u.spend] for u in r.users),
    )
    written["destinations"] = _write(
        folder / "destinations.csv",
        ["kind", "prefix", "destination", "country", "calls", "charged_calls", "billed_seconds", "charged_seconds",
         "spend"],
        ([d.kind, d.prefix, d.name, d.country, d.calls, d.charged_calls, d.billed_seconds, d.charged_seconds,
          d.spend] for d in r.destinations),
    )
    written["pools"] = _write(
        folder / "pools.csv",
        ["month", "pool", "capacity_seconds", "used_seconds", "left_seconds", "used_fraction"],
        ([p.month, p.pool, p.capacity_seconds, p.used_seconds, p.left_seconds, str(p.used_fraction)]
         for p in r.pools),
    )
    written["ledger"] = _write(folder / "ledger.csv", [key for _, key in LEDGER_COLUMNS], ledger)
    written["calls"] = _write(folder / "calls.csv", [key for _, key in CALL_COLUMNS], calls)
    return {"directory": str(folder), "files": {name: f"{name}.csv" for name in FILES}, "rows": written}
