"""Read-only answers straight from an SQLite file with the standard library.

``credits balance`` is run often, by people and by monitoring scripts, so it
must start instantly; importing SQLAlchemy and building the SQLModel classes
alone takes longer than that. For a plain SQLite file whose schema is current
and whose lots need no write-off, :func:`balance_doc` answers with stdlib
``sqlite3`` and the same pure helpers the full path uses (``runway.compute``,
``payments.describe``). Whenever anything is unusual (no file yet, another
schema version, an expired lot to write off, no single tenant, a locked or
broken file, PostgreSQL) it returns None and the full path answers, with its
own checks and messages. ``tests/test_quick.py`` holds the two paths to the
same output.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from credits_cli import clock, money, payments, runway
from credits_cli.location import resolve_url, sqlite_file

#: The migrations of the schema these queries were written for
#: (``tests/test_quick.py`` checks it against ``migrations.MIGRATIONS``).
SCHEMA = ("0001_initial", "0002_calls_fewer_indexes")

_TS = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime in SQLite


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _money(units: Any) -> Decimal:
    return money.from_units(int(units or 0))


def _connect(db_value: str | None) -> sqlite3.Connection | None:
    if os.environ.get("CREDITS_NO_QUICK"):
        return None
    path = sqlite_file(resolve_url(db_value))
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        conn.execute("PRAGMA query_only = ON")
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    except sqlite3.Error:
        return None
    if applied != set(SCHEMA):
        conn.close()
        return None
    return conn


def _tenant(conn: sqlite3.Connection, slug: str | None) -> sqlite3.Row | None:
    conn.row_factory = sqlite3.Row
    wanted = (slug or "").strip().lower()
    if wanted:
        rows = conn.execute("SELECT * FROM tenants WHERE slug = ?", (wanted,)).fetchall()
    else:
        rows = conn.execute("SELECT * FROM tenants LIMIT 2").fetchall()
    return rows[0] if len(rows) == 1 else None


def balance_doc(db_value: str | None, tenant_slug: str | None) -> dict[str, Any] | None:
    """The document of ``credits balance``, or None when the full path must answer."""
    conn = _connect(db_value)
    if conn is None:
        return None
    try:
        return _balance(conn, tenant_slug)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _balance(conn: sqlite3.Connection, tenant_slug: str | None) -> dict[str, Any] | None:
    t = _tenant(conn, tenant_slug)
    if t is None:
        return None
    tid = t["id"]
    now = clock.now()
    due = conn.execute(
        "SELECT 1 FROM lots WHERE tenant_id = ? AND remaining > 0 AND expires_at <= ? LIMIT 1",
        (tid, now.strftime(_TS)),
    ).fetchone()
    if due is not None:
        return None  # a lot to write off: the full path writes the expiry first
    balance = _money(conn.execute("SELECT SUM(amount) FROM ledger WHERE tenant_id = ?", (tid,)).fetchone()[0])
    lots = [
        {
            "id": row["id"],
            "kind": row["kind"],
            "amount": _money(row["amount"]),
            "remaining": _money(row["remaining"]),
            "purchased_at": _ts(row["purchased_at"]),
            "expires_at": _ts(row["expires_at"]),
        }
        for row in conn.execute(
            "SELECT * FROM lots WHERE tenant_id = ? AND remaining > 0 ORDER BY purchased_at, id", (tid,)
        )
    ]
    ar = conn.execute("SELECT * FROM auto_recharge WHERE tenant_id = ?", (tid,)).fetchone()
    settings: dict[str, Any] = {
        "enabled": bool(ar["enabled"]) if ar else False,
        "threshold": None if ar is None or ar["threshold"] is None else _money(ar["threshold"]),
        "amount": None if ar is None or ar["amount"] is None else _money(ar["amount"]),
        "last_failure_at": None if ar is None else _ts(ar["last_failure_at"]),
    }
    pm = conn.execute("SELECT * FROM payment_methods WHERE tenant_id = ?", (tid,)).fetchone()
    method = None if pm is None else SimpleNamespace(kind=pm["kind"], card_expiry=pm["card_expiry"], last4=pm["last4"])
    first = conn.execute(
        "SELECT MIN(occurred_at) FROM ledger WHERE tenant_id = ? AND kind = 'charge'", (tid,)
    ).fetchone()[0]
    first_day = None if first is None else date.fromisoformat(first[:10])
    start, _days = runway.window_start(now, first_day)
    window = (clock.day_start(start).strftime(_TS), (clock.day_start(now.date()) + timedelta(days=1)).strftime(_TS))
    spent = {
        date.fromisoformat(day): -_money(units)
        for day, units in conn.execute(
            "SELECT date(occurred_at), SUM(amount) FROM ledger WHERE tenant_id = ? AND kind = 'charge' "
            "AND occurred_at >= ? AND occurred_at < ? GROUP BY date(occurred_at)",
            (tid, *window),
        )
    }
    threshold = settings["threshold"] if settings["enabled"] else None
    return {
        "tenant": t["slug"],
        "currency": t["currency"],
        "balance": balance,
        "as_of": now,
        "lots": lots,
        "autorecharge": settings,
        "payment": payments.describe(method),  # type: ignore[arg-type]
        "runway": runway.compute(balance, threshold, first_day, spent, now).to_dict(),
    }
