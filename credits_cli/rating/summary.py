"""What an import reports: counts per status and reason, money moved, and the rejected rows.

:class:`Summary` is the whole run's (printed by ``rate-cdrs``, stored with the
import run); :class:`BatchResult` is one transaction's, added to it as each
batch commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    total_charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharged_amount: Decimal = ZERO
    balance_before: Decimal = ZERO
    balance_after: Decimal = ZERO
    rejects: list[RowError] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        for status, n in batch.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        for reason, n in batch.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + n
        self.duplicates += batch.duplicates
        self.total_charged += batch.charged
        self.recharges_succeeded += batch.recharges_succeeded
        self.recharges_failed += batch.recharges_failed
        self.recharged_amount += batch.recharged_amount
        self.balance_after = batch.balance_after
        self.rejects.extend(batch.rejects)
        self.rejected += len(batch.rejects)

    def doc(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "dry_run": self.dry_run,
            "files": self.files,
            "formats": self.formats,
            "rate_table": self.rate_table,
            "currency": self.currency,
            "rows_read": self.rows_read,
            "statuses": dict(self.statuses),
            "denied_reasons": dict(sorted(self.reasons.items())),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "total_charged": self.total_charged,
            "recharges": {
                "succeeded": self.recharges_succeeded,
                "failed": self.recharges_failed,
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
    charged: Decimal = ZERO
    recharges_succeeded: int = 0
    recharges_failed: int = 0
    recharged_amount: Decimal = ZERO
    balance_after: Decimal = ZERO
    rejects: list[RowError] = field(default_factory=list)
    mark: ledger.BalanceMark | None = None  # the balance after the batch, once committed


def summary_json(summary: Summary) -> dict[str, Any]:
    """The summary with money as strings (for ImportRun.summary)."""
    doc = summary.doc()
    for key in ("total_charged", "balance_before", "balance_after"):
        doc[key] = money.fmt(doc[key])
    doc["recharges"]["amount"] = money.fmt(doc["recharges"]["amount"])
    return doc


def write_rejects(path: Path, rejects: list[RowError]) -> None:
    """``file,line,reason`` CSV of the rejected rows."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "line", "reason"])
        for r in rejects:
            writer.writerow([r.source, r.line, r.reason])
