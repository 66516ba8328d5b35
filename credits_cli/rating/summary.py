"""What an import reports: counts per status and reason, money moved, and the rejected rows.

:class:`Summary` is the whole run's (printed by ``rate-cdrs``, stored with the
import run); :class:`BatchResult` is one transaction's, added to it as each
batch commits. Rejected rows are not kept (a file can hold millions): each
goes to the run's :class:`Rejects` sink as it is found, which counts it, keeps
the first few for the summary line and hands it to the ``--rejects`` file.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from credits_cli import ledger, money
from credits_cli.kinds import STATUSES
from credits_cli.money import ZERO
from credits_cli.readers.base import RowError


@dataclass
class Summary:
    files: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    import_id: int | None = None
    currency: str = ""
    rate_table: str = ""
    rows_read: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    rejected: int = 0
    other_currency: int = 0
    charges: str = "table"
    total_charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharge_failure: str = ""  # why the last recharge failed
    recharged_amount: Decimal = ZERO
    balance_before: Decimal = ZERO
    balance_after: Decimal = ZERO
    #: the first rejected rows (all of them are in the --rejects file), for the summary's warning line
    first_rejects: list[RowError] = field(default_factory=list)
    #: what the files themselves said (a Graph page with more to download, ...)
    notes: list[str] = field(default_factory=list)
    #: why the --rejects file could not be written (a full disk), if it could not
    rejects_failed: str | None = None

    def add(self, batch: BatchResult) -> None:
        for status, n in batch.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        for reason, n in batch.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.duplicates += batch.duplicates
        self.other_currency += batch.other_currency
        self.total_charged += batch.charged
        self.recharges_succeeded += batch.recharges_succeeded
        self.recharges_failed += batch.recharges_failed
        self.recharge_failure = batch.recharge_failure or self.recharge_failure
        self.recharged_amount += batch.recharged_amount
        self.balance_after = batch.balance_after

    def doc(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "dry_run": self.dry_run,
            "files": self.files,
            "formats": self.formats,
            "rate_table": self.rate_table,
            "charges": self.charges,
            "currency": self.currency,
            "rows_read": self.rows_read,
            "statuses": dict(self.statuses),
            "denied_reasons": dict(sorted(self.reasons.items())),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "other_currency": self.other_currency,
            "notes": list(self.notes),
            "total_charged": self.total_charged,
            "recharges": {
                "succeeded": self.recharges_succeeded,
                "failed": self.recharges_failed,
                "failure": self.recharge_failure or None,
                "amount": self.recharged_amount,
            },
            "balance_before": self.balance_before,
            "balance_after": self.balance_after,
        }


@dataclass
class BatchResult:
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    other_currency: int = 0  # rows Microsoft priced in another currency than the tenant's (table mode)
    charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharge_failure: str = ""
    recharged_amount: Decimal = ZERO
    balance_after: Decimal = ZERO
    rejects: list[RowError] = field(default_factory=list)
    mark: ledger.BalanceMark | None = None  # the balance after the batch, once committed
    import_id: int | None = None


def summary_json(summary: Summary) -> dict[str, Any]:
    """The summary with money as strings (for ImportRun.summary)."""
    doc = summary.doc()
    for key in ("total_charged", "balance_before", "balance_after"):
        doc[key] = money.fmt(doc[key])
    doc["recharges"]["amount"] = money.fmt(doc["recharges"]["amount"])
    return doc


#: Rejected rows the summary keeps to show (the rest are only counted, and written to --rejects).
SHOWN_REJECTS = 5


class Rejects:
    """Where rejected rows go as they are found: counted in the summary, the first few kept,
    and each written to ``out`` (the ``--rejects`` CSV, ``file,line,reason``) when there is one.

    A file that cannot be written (a full disk) does not stop the import: writing stops, the
    import goes on, and :attr:`failed` says why (the command warns and exits 3).
    """

    def __init__(self, summary: Summary, out: IO[str] | None = None) -> None:
        self.summary = summary
        self.failed: str | None = None
        self._writer: Callable[[list[Any]], Any] | None = None
        if out is not None:
            self._writer = csv.writer(out).writerow
            self._write(["file", "line", "reason"])

    def __call__(self, row: RowError) -> None:
        self.summary.rejected += 1
        if len(self.summary.first_rejects) < SHOWN_REJECTS:
            self.summary.first_rejects.append(row)
        if self._writer is not None:
            self._write([row.source, row.line, row.reason])

    def _write(self, fields: list[Any]) -> None:
        assert self._writer is not None
        try:
            self._writer(fields)
        except OSError as exc:
            from credits_cli.i18n import _
            from credits_cli.outputs import describe_os_error

            # TRANSLATORS: names the file of rejected rows (--rejects) in "cannot write {path}: {reason}".
            self.failed = describe_os_error(exc, _("the rejects file"))
            self._writer = None
