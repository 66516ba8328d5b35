"""The balance document: what ``credits balance`` shows (and prints with ``--json``).

One builder, :func:`document`, from plain rows (:mod:`credits_cli.queries`),
for both ways of answering:

* **the fast start** (:func:`fast_document`): ``credits balance`` is run often,
  by people and by monitoring scripts, and must start instantly; importing
  SQLAlchemy alone takes longer than that. For a plain SQLite file whose
  migrations are exactly this version's (:data:`credits_cli.migrations.NAMES`)
  and whose lots need no write-off, the rows are read with stdlib ``sqlite3``.
  Whenever anything is unusual (no file yet, another schema version, an
  expired lot to write off, no single tenant, a locked or broken file,
  PostgreSQL) it returns None and the full path answers, with its own checks
  and messages;
* **the full path** (``cli/funding.py``): in a write transaction that first
  writes off expired lots, the same builder over an SQLAlchemy session.

``tests/test_balance_document.py`` holds the two paths to the same output.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from credits_cli import money, payments, spend
from credits_cli.location import resolve_url, sqlite_file
from credits_cli.phrases import Phrase
from credits_cli.queries import Rows, SqliteRows, as_datetime

_BALANCE = "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE tenant_id = :tenant"
_LOTS = (
    "SELECT number, kind, amount, remaining, purchased_at, expires_at FROM lots "
    "WHERE tenant_id = :tenant AND remaining > 0 ORDER BY purchased_at, id"
)
_AUTO_RECHARGE = "SELECT enabled, threshold, amount, last_failure_at FROM auto_recharge WHERE tenant_id = :tenant"
_PAYMENT = "SELECT kind, card_expiry, last4 FROM payment_methods WHERE tenant_id = :tenant"
_EXPIRED_LOT = (
    "SELECT 1 FROM lots WHERE tenant_id = :tenant AND remaining > 0 AND expires_at <= :now LIMIT 1"
)


class TenantRow(NamedTuple):
    id: int
    slug: str
    currency: str


class MethodRow(NamedTuple):
    """A payment method as :func:`credits_cli.payments.describe` reads it."""

    kind: str
    card_expiry: str | None
    last4: str | None


def _money(units: Any) -> Decimal:
    return money.from_units(int(units or 0))


def _payment(facts: MethodRow | None) -> Phrase:
    """The payment method in a few words: English as a value of the JSON document (the same words in every
    language), said in the current language where a person reads it (``phrases.said``)."""
    return Phrase(lambda: payments.describe(facts).replace("{", "{{").replace("}", "}}"))


def document(rows: Rows, tenant: TenantRow, now: datetime) -> dict[str, Any]:
    """Balance, open lots (oldest first), auto-recharge, payment method and runway, as of ``now``."""
    params = {"tenant": tenant.id}
    ((units,),) = rows.all(_BALANCE, params)
    balance = _money(units)
    lots = [
        {
            "id": lot_id,
            "kind": kind,
            "amount": _money(amount),
            "remaining": _money(remaining),
            "purchased_at": as_datetime(purchased),
            "expires_at": as_datetime(expires),
        }
        for lot_id, kind, amount, remaining, purchased, expires in rows.all(_LOTS, params)
    ]
    found = rows.all(_AUTO_RECHARGE, params)
    enabled, threshold_units, amount, failed = found[0] if found else (False, None, None, None)
    threshold = None if threshold_units is None else _money(threshold_units)
    settings = {
        "enabled": bool(enabled),
        "threshold": threshold,
        "amount": None if amount is None else _money(amount),
        "last_failure_at": as_datetime(failed),
    }
    method = rows.all(_PAYMENT, params)
    payment = _payment(MethodRow(*method[0]) if method else None)
    active = threshold if enabled else None
    return {
        "tenant": tenant.slug,
        "currency": tenant.currency,
        "balance": balance,
        "as_of": now,
        "lots": lots,
        "autorecharge": settings,
        "payment": payment,
        "runway": spend.runway(rows, tenant.id, balance, active, now).to_dict(),
    }


def fast_document(db_value: str | None, tenant_slug: str | None, now: datetime) -> dict[str, Any] | None:
    """The document read with stdlib ``sqlite3``, or None when the full path must answer."""
    conn = _connect(db_value)
    if conn is None:
        return None
    try:
        rows = SqliteRows(conn)
        tenant = _tenant(rows, tenant_slug)
        if tenant is None:
            return None
        if rows.all(_EXPIRED_LOT, {"tenant": tenant.id, "now": rows.time(now)}):
            return None  # a lot to write off: the full path writes the expiry first
        return document(rows, tenant, now)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _connect(db_value: str | None) -> sqlite3.Connection | None:
    from credits_cli.migrations import NAMES

    path = sqlite_file(resolve_url(db_value))
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        conn.execute("PRAGMA query_only = ON")
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    except sqlite3.Error:
        return None
    if applied != set(NAMES):
        conn.close()
        return None
    return conn


def _tenant(rows: Rows, slug: str | None) -> TenantRow | None:
    """The tenant of ``--tenant``, or the only one; None when that is not one row (the full path says why)."""
    wanted = (slug or "").strip().lower()
    if wanted:
        found = rows.all("SELECT id, slug, currency FROM tenants WHERE slug = :slug", {"slug": wanted})
    else:
        found = rows.all("SELECT id, slug, currency FROM tenants LIMIT 2", {})
    return TenantRow(*found[0]) if len(found) == 1 else None
