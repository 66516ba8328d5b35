"""Rated calls read back for ``credits calls``: the filters, how many match, the oldest or the newest first.

Rating writes calls (:mod:`credits_cli.rating.store`); this module only reads them, streamed (a year is
millions of rows) while the session is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from credits_cli.models import Call, Tenant

_calls = Call.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Filter:
    """Which calls: a user's (UPN), of a status, started in [start, end)."""

    upn: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def where(self, tenant: Tenant) -> list[Any]:
        t = _calls
        found: list[Any] = [t.c.tenant_id == tenant.id]
        if self.upn:
            found.append(t.c.user_upn == self.upn.strip().lower())
        if self.status:
            found.append(t.c.status == self.status)
        if self.start is not None:
            found.append(t.c.start >= self.start)
        if self.end is not None:
            found.append(t.c.start < self.end)
        return found


def count(session: Session, tenant: Tenant, which: Filter) -> int:
    """How many calls match (what ``showing N of M`` says)."""
    query = sa.select(sa.func.count()).select_from(_calls).where(*which.where(tenant))
    return int(session.execute(query).scalar() or 0)


def iter_calls(
    session: Session, tenant: Tenant, which: Filter, *, limit: int | None = None, newest: bool = False
) -> Iterator[Any]:
    """The matching calls, oldest first (``newest``: the latest first), at most ``limit``: rows with the
    columns of ``calls`` as attributes."""
    t = _calls
    order = (t.c.start.desc(), t.c.id.desc()) if newest else (t.c.start, t.c.id)
    query = sa.select(t).where(*which.where(tenant)).order_by(*order)
    if limit:
        query = query.limit(limit)
    yield from session.execute(query.execution_options(yield_per=5000))
