"""The trail of corrections: what an administrator changed, from what to what, when, and who.

The ledger keeps every movement of money and ``user_history`` every dated change
of a plan or license; neither says that a tenant was renamed, its countries
fixed, a user removed or an older rate table put back. Each such correction
writes lines here, in the same transaction as the change: one per field it
changed (``field``, ``old``, ``new``), or one for the whole target (a user
removed or brought back, a tenant removed). ``actor`` is the operating-system
user who ran the command (the command line passes it: the core never reads the
environment).

Written by ``tenant edit``, ``tenant remove``, ``user edit`` (and ``user add``
when it changes someone who exists), ``user remove``, ``user add`` of a removed
user (restored), ``user import`` (one line with its counts), ``admin add`` when
it changes a role, ``admin remove``, ``rates activate``, ``adjust`` and
``balance assert --adjust``. ``tenant show`` lists the latest lines and
``credits changes`` all of them.

A tenant's lines outlive it: ``tenant remove`` deletes its data, keeps its lines
with no tenant id (its slug stays), and adds the line of the removal itself, so
``credits changes --all-tenants`` still tells who removed what.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli import clock
from credits_cli.models import Change, Tenant

_changes = Change.__table__  # type: ignore[attr-defined]

#: One changed field: (field, old value, new value); None where there was or is no value.
Diff = tuple[str, Any, Any]


def text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return clock.iso(value)
    return str(value)


def record(
    session: Session,
    tenant: Tenant,
    command: str,
    target: str,
    diffs: Iterable[Diff] = (),
    *,
    actor: str = "",
    note: str = "",
    at: datetime | None = None,
) -> int:
    """Write the lines of one correction: one per changed field of ``diffs``, or, when ``diffs`` is empty,
    one line for the whole target whose ``new`` is ``note`` (``removed``, ``brought back``). Returns the
    lines written."""
    when = at or clock.now()
    base = {"tenant_id": tenant.id, "tenant_slug": tenant.slug, "at": when, "actor": actor[:64],
            "command": command, "target": target}
    rows = [base | {"field": name, "old": text(old), "new": text(new)} for name, old, new in diffs]
    if not rows:
        rows = [base | {"field": "", "old": None, "new": note}]
    session.execute(sa.insert(_changes), rows)
    return len(rows)


def detach(session: Session, tenant: Tenant) -> None:
    """Keep a tenant's lines when the tenant goes: no tenant id (a new tenant may get the same id), the slug
    stays."""
    session.execute(sa.update(_changes).where(_changes.c.tenant_id == tenant.id).values(tenant_id=None))


def _where(tenant: Tenant | None) -> list[Any]:
    return [] if tenant is None else [_changes.c.tenant_id == tenant.id]


def count(session: Session, tenant: Tenant | None) -> int:
    """How many lines the trail holds (of ``tenant``; None: of every tenant, removed ones included)."""
    query = sa.select(sa.func.count()).select_from(_changes).where(*_where(tenant))
    return int(session.execute(query).scalar() or 0)


def lines(
    session: Session, tenant: Tenant | None, *, limit: int | None = None, newest: bool = False
) -> Iterator[dict[str, Any]]:
    """The trail's lines as documents, oldest first (``newest``: the latest first), at most ``limit``."""
    order = (_changes.c.at.desc(), _changes.c.id.desc()) if newest else (_changes.c.at, _changes.c.id)
    query = sa.select(_changes).where(*_where(tenant)).order_by(*order)
    if limit:
        query = query.limit(limit)
    for row in session.execute(query).mappings():
        yield {"id": row["id"], "at": row["at"], "tenant": row["tenant_slug"], "actor": row["actor"],
               "command": row["command"], "target": row["target"], "field": row["field"], "old": row["old"],
               "new": row["new"], "tenant_removed": row["tenant_id"] is None}


def describe(line: dict[str, Any]) -> str:
    """One line of the trail in words: ``name: Contoso -> Contoso Ltd``, ``removed``."""
    if not line["field"]:
        return line["new"] or line["command"]
    old = "-" if line["old"] in (None, "") else line["old"]
    new = "-" if line["new"] in (None, "") else line["new"]
    return f"{line['field']}: {old} -> {new}"
