"""Numbered schema migrations, recorded in ``schema_migrations``.

Each migration is a function that receives the session of one write
transaction. Add new ones at the end; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from credits_cli import clock
from credits_cli.errors import DatabaseError

if TYPE_CHECKING:  # SQLAlchemy loads only where a migration runs: ``NAMES`` is read at every quick start
    from sqlmodel import Session


def m0001_initial(session: Session) -> None:
    from credits_cli.db import metadata

    metadata().create_all(session.connection())


def m0002_calls_fewer_indexes(session: Session) -> None:
    """Every rated call is inserted into ``calls``: keep only the indexes a query uses (the unique
    (tenant_id, external_id) and (tenant_id, start)); user_id and status are only ever filtered
    within a tenant's time range."""
    import sqlalchemy as sa

    conn = session.connection()
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_calls_user_id"))
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_calls_status"))


MIGRATIONS: list[tuple[str, Callable[[Session], None]]] = [
    ("0001_initial", m0001_initial),
    ("0002_calls_fewer_indexes", m0002_calls_fewer_indexes),
]

#: Every migration's name, in order: a database whose applied migrations are exactly these is current.
NAMES = tuple(name for name, _ in MIGRATIONS)


def pending(session: Session) -> list[str]:
    """Names of the migrations this database still needs (cheap; for a read session)."""
    import sqlalchemy as sa
    from sqlmodel import select

    from credits_cli.models import SchemaMigration

    if not sa.inspect(session.connection()).has_table("schema_migrations"):
        return [name for name, _ in MIGRATIONS]
    applied = set(session.exec(select(SchemaMigration.name)).all())
    _refuse_unknown(applied)
    return [name for name, _ in MIGRATIONS if name not in applied]


def _refuse_unknown(applied: set[str]) -> None:
    """A database migrated by a newer version must not be used (or written) by this one."""
    unknown = applied - {name for name, _ in MIGRATIONS}
    if unknown:
        raise DatabaseError(
            f"the database has migrations this version does not know ({', '.join(sorted(unknown))}); upgrade credits"
        )


def apply_migrations(session: Session) -> list[str]:
    import sqlalchemy as sa
    from sqlmodel import select

    from credits_cli.models import SchemaMigration

    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7262011)"))
    inspector = sa.inspect(conn)
    applied: set[str] = set()
    if inspector.has_table("schema_migrations"):
        applied = set(session.exec(select(SchemaMigration.name)).all())
    elif inspector.get_table_names():
        raise DatabaseError("this database was not made by credits (no schema_migrations table)")
    _refuse_unknown(applied)
    done = []
    for name, migration in MIGRATIONS:
        if name in applied:
            continue
        migration(session)
        session.add(SchemaMigration(name=name, applied_at=clock.now()))
        session.flush()
        done.append(name)
    return done
