"""Dated licenses and plans: what a user held at a given moment (SPEC §2 "Time", §6.4, §6.5).

Administrators set up today and import last month, or withdraw a license on
the 1st and import the calls of the 29th a week later: a call is rated with
the license and plan *in force at its start*, not with today's. Each change of
a user's country, calling plan, Audio Conferencing or Communications Credits
license is a row of ``user_history`` (field, value, valid from), written by
:func:`record` whenever ``users`` is changed.

When a change holds from:

* ``--at T`` (a moment not after now) says when, exactly;
* otherwise, the **first** value ever recorded for a field (a user's creation,
  a license first assigned) holds **from the beginning** (``valid_from`` NULL),
  so that setting up today and importing last month works;
* any later change holds from the moment it was made.

Before a field's first dated value, the field has its default (no plan, no
Audio Conferencing, no license). :class:`Timeline` answers "what did this user
hold at T" (:meth:`Timeline.at`) and "what did they hold at any moment of this
month" (:meth:`Timeline.during`, for the pools: a user counts toward a month's
pool when they held the plan at any moment of that month).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from credits_cli import clock
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _
from credits_cli.kinds import Plan

if TYPE_CHECKING:
    from sqlmodel import Session

    from credits_cli.models import Tenant, User

#: The fields that have a history, with their default before their first dated value.
FIELDS: dict[str, str] = {"country": "", "plan": Plan.NONE.value, "conferencing": "false", "licensed": "false"}


@dataclass(frozen=True, slots=True)
class Held:
    """A user's state at a moment (what rating needs of them)."""

    country: str
    plan: str
    conferencing: bool
    licensed: bool


def _as_state(values: dict[str, str]) -> Held:
    return Held(values["country"], values["plan"], values["conferencing"] == "true", values["licensed"] == "true")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_at(at: datetime | None) -> datetime | None:
    """``--at`` for a change: never in the future (a change not yet made is not in the books)."""
    if at is not None and at > clock.now():
        # TRANSLATORS: {at} is the time given (2026-11-28T09:30:00Z); --at is an option: keep it as it is. A change
        # is one of a user's license, plan or country.
        raise InvalidInput(_("--at {at} is in the future; a change is recorded when it has happened").format(
            at=clock.iso(at)))
    return at


def record(session: Session, user: User, changes: dict[str, Any], at: datetime | None = None) -> None:
    """Append the changed fields of ``user`` (field -> new value) to its history (see the module
    docstring for when each holds from). Call with the values *as they are now set*."""
    from sqlmodel import select

    from credits_cli.models import UserHistory

    if not changes:
        return
    now = clock.now()
    known = set(
        session.exec(select(UserHistory.field).where(UserHistory.user_id == user.id).distinct()).all()
    ) if user.id is not None else set()
    for name, value in changes.items():
        if name not in FIELDS:
            raise ValueError(f"no history is kept of {name!r}")
        since = at if at is not None else (now if name in known else None)
        session.add(UserHistory(tenant_id=user.tenant_id, user_id=user.id or 0, field=name, value=_text(value),
                                valid_from=since, recorded_at=now))
    session.flush()


@dataclass
class Timeline:
    """One user's history as a sequence of states: ``starts[i]`` is when ``states[i]`` began
    (``starts[0]`` None: from the beginning)."""

    starts: list[datetime | None]
    states: list[Held]

    def __post_init__(self) -> None:
        self._keys = [datetime.min if s is None else s for s in self.starts]

    def at(self, moment: datetime) -> Held:
        """What the user held at ``moment``."""
        if len(self.states) == 1:
            return self.states[0]
        index = bisect.bisect_right(self._keys, moment) - 1
        return self.states[max(index, 0)]

    def during(self, start: datetime, end: datetime) -> list[Held]:
        """Every state the user was in at some moment of [start, end)."""
        if len(self.states) == 1:
            return self.states[:]
        first = max(bisect.bisect_right(self._keys, start) - 1, 0)
        last = bisect.bisect_left(self._keys, end)
        return self.states[first:max(last, first + 1)]


def timeline(rows: Iterable[tuple[str, str, datetime | None, int]], defaults: dict[str, str]) -> Timeline:
    """A user's timeline from their history rows ``(field, value, valid_from, id)``; ``defaults`` are the
    values before a field's first dated value (the country, which always has a value, comes from the user)."""
    per_field: dict[str, list[tuple[datetime, int, str]]] = {}
    start_values = dict(defaults)
    for name, value, since, row_id in rows:
        if since is None:  # from the beginning: the value everything starts with (the latest such row wins)
            per_field.setdefault(name, [])
            start_values[name] = value
            continue
        per_field.setdefault(name, []).append((since, row_id, value))
    changes = sorted(
        (since, row_id, name, value) for name, dated in per_field.items() for since, row_id, value in dated
    )
    starts: list[datetime | None] = [None]
    current = dict(start_values)
    states = [_as_state(current)]
    for since, _row_id, name, value in changes:
        current[name] = value
        state = _as_state(current)
        if starts[-1] == since:
            states[-1] = state
        elif state != states[-1]:
            starts.append(since)
            states.append(state)
    return Timeline(starts, states)


def held_now(session: Session, user: User) -> Held:
    """What ``user`` holds now by their history: after a change dated in the past (``--at``), the
    user's own fields are set to this, since a later change already in the books still holds after
    the dated one."""
    import sqlalchemy as sa

    from credits_cli.models import UserHistory

    hist_t = UserHistory.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(hist_t.c.field, hist_t.c.value, hist_t.c.valid_from, hist_t.c.id)
        .where(hist_t.c.user_id == user.id).order_by(hist_t.c.id)
    ).all()
    return timeline([tuple(row) for row in rows], FIELDS | {"country": user.country}).at(clock.now())


def timelines(session: Session, tenant: Tenant) -> dict[int, Timeline]:
    """Every user's timeline (by user id): one query for the tenant's whole history."""
    import sqlalchemy as sa

    from credits_cli.models import User, UserHistory

    users_t = User.__table__  # type: ignore[attr-defined]
    hist_t = UserHistory.__table__  # type: ignore[attr-defined]
    rows: dict[int, list[tuple[str, str, datetime | None, int]]] = {}
    for user_id, name, value, since, row_id in session.execute(
        sa.select(hist_t.c.user_id, hist_t.c.field, hist_t.c.value, hist_t.c.valid_from, hist_t.c.id)
        .where(hist_t.c.tenant_id == tenant.id)
        .order_by(hist_t.c.id)
    ):
        rows.setdefault(user_id, []).append((name, value, since, row_id))
    out: dict[int, Timeline] = {}
    for user_id, country in session.execute(
        sa.select(users_t.c.id, users_t.c.country).where(users_t.c.tenant_id == tenant.id)
    ):
        out[user_id] = timeline(rows.get(user_id, []), FIELDS | {"country": country})
    return out
