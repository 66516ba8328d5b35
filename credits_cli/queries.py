"""Read queries written once as SQL text, run through stdlib ``sqlite3`` or an SQLAlchemy session alike.

The balance document (:mod:`credits_cli.balance`) and the spend history
(:mod:`credits_cli.spend`) are built from plain rows. ``credits balance`` is
run often, by people and by monitoring scripts, and importing SQLAlchemy alone
takes longer than the answer: with a plain SQLite file it reads the rows with
the standard library (:class:`SqliteRows`); everywhere else (PostgreSQL, or a
command already inside a transaction) the same SQL runs in a session
(:class:`SessionRows`). One text per query, so the two paths cannot drift.

The SQL sticks to what SQLite and PostgreSQL both read (``:name`` parameters,
``COALESCE``, ``date(...)``). What differs is how a time is stored (SQLite
keeps SQLAlchemy's text, PostgreSQL a timestamp): :meth:`Rows.time` turns a
``datetime`` into the parameter the database compares, and :func:`as_datetime`
/ :func:`as_date` read either form back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite3

    from sqlmodel import Session


class Rows(Protocol):
    """Something that runs a read query and gives plain tuples."""

    def all(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]: ...

    def time(self, moment: datetime) -> Any: ...


def db_time(moment: datetime) -> str:
    """A naive datetime as SQLAlchemy's SQLite dialect stores it (always six fractional digits, so
    text comparison orders correctly)."""
    return moment.isoformat(" ", "microseconds")


class SqliteRows:
    """:class:`Rows` over a stdlib ``sqlite3`` connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def all(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(sql, dict(params))]

    def time(self, moment: datetime) -> Any:
        return db_time(moment)


class SessionRows:
    """:class:`Rows` over an SQLAlchemy session (any database)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.connection().dialect.name == "sqlite"

    def all(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        import sqlalchemy as sa

        return [tuple(row) for row in self.session.execute(sa.text(sql), dict(params))]

    def time(self, moment: datetime) -> Any:
        return db_time(moment) if self.sqlite else moment


def as_datetime(value: Any) -> datetime | None:
    """A time as either database gives it back (text or datetime) -> naive datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def as_date(value: Any) -> date:
    """``date(...)`` as either database gives it back (text or date) -> date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
