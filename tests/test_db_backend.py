"""Database.write's retries, and the tenant row lock that serialises balance writers on a server."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from credits_cli import db as dbmod
from credits_cli import ledger, payments, tenants
from credits_cli.errors import DatabaseError
from credits_cli.models import Tenant
from tests import procs


class _PgError(Exception):
    def __init__(self, sqlstate: str, text: str) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.fixture
def database(isolated_db: str):
    database = dbmod.Database(dbmod.resolve_url(isolated_db))
    database.migrate()
    yield database
    database.dispose()


@pytest.mark.parametrize(
    "orig",
    [
        _PgError("40001", "could not serialize access due to concurrent update"),
        _PgError("40P01", "deadlock detected"),
        _PgError("", "database is locked"),
    ],
    ids=["serialization", "deadlock", "sqlite-busy"],
)
def test_write_retries_when_busy(database: dbmod.Database, orig: Exception) -> None:
    calls = []

    def work(s: Session) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise sa.exc.OperationalError("UPDATE ...", {}, orig)
        return "done"

    assert database.write(work) == "done"
    assert len(calls) == 3


def test_write_gives_up_with_one_clear_line(database: dbmod.Database) -> None:
    def work(s: Session) -> None:
        raise sa.exc.OperationalError("UPDATE ...", {}, _PgError("40001", "could not serialize access\nDETAIL: x"))

    with pytest.raises(DatabaseError) as caught:
        database.write(work, attempts=2)
    assert "busy" in str(caught.value) and "\n" not in str(caught.value)


def test_other_errors_are_not_retried(database: dbmod.Database) -> None:
    calls = []

    def work(s: Session) -> None:
        calls.append(1)
        raise sa.exc.OperationalError("SELECT ...", {}, _PgError("42P01", "relation does not exist"))

    with pytest.raises(DatabaseError):
        database.write(work)
    assert len(calls) == 1


@pytest.mark.skipif(not procs.on_postgres, reason="row locks are PostgreSQL's; SQLite admits one writer at a time")
def test_balance_writers_of_one_tenant_wait_for_each_other(database: dbmod.Database) -> None:
    def setup(s: Session) -> int:
        t = tenants.add_tenant(s, "contoso", name="C", country="US", billing_country="US", currency="USD")
        payments.set_card(s, t, "2099-12", None)
        return t.id or 0

    tenant_id = database.write(setup)
    holder = database.engine.connect()
    tx = holder.begin()
    holder.execute(sa.text("SELECT id FROM tenants WHERE id = :id FOR UPDATE"), {"id": tenant_id})
    holder_pid = holder.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    done = threading.Event()
    failures: list[BaseException] = []

    def topup() -> None:
        try:
            database.write(lambda s: ledger.topup(s, s.exec(select(Tenant)).one(), Decimal(50)))
        except BaseException as exc:  # reported below: a failed worker must not look like a missing lock
            failures.append(exc)
            raise
        done.set()

    worker = threading.Thread(target=topup)
    worker.start()
    try:
        # Wait until the server reports the top-up blocked behind our lock (no fixed sleep decides the outcome).
        with database.engine.connect() as watcher:
            for _ in range(600):
                blocked = watcher.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                    {"pid": holder_pid},
                ).scalar()
                if blocked or failures:
                    break
                time.sleep(0.05)
        assert not failures, f"the top-up failed instead of waiting: {failures[0]!r}"
        assert blocked == 1
        assert not done.is_set()
    finally:
        tx.commit()
        holder.close()
        worker.join(timeout=60)
    assert done.is_set()
    with database.read() as s:
        assert ledger.balance(s, s.exec(select(Tenant)).one()) == Decimal(50)


def test_a_new_sqlite_database_has_large_pages_and_an_old_one_keeps_its_own(tmp_path) -> None:
    """A database made now has pages of SQLITE_PAGE_SIZE (fewer reads and writes for the same rows); one made
    with SQLite's 4 KiB before keeps them, in write-ahead-log mode, and is used as it is."""
    import sqlite3

    def page_size(path) -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    new = tmp_path / "new.db"
    made = dbmod.Database(f"sqlite:///{new}")
    made.migrate()
    made.dispose()
    assert page_size(new) == dbmod.SQLITE_PAGE_SIZE == 16384
    conn = sqlite3.connect(new, isolation_level=None)  # as a database made before: pages of 4 KiB
    for sql in ("PRAGMA journal_mode = DELETE", "PRAGMA page_size = 4096", "VACUUM", "PRAGMA journal_mode = WAL"):
        conn.execute(sql)
    conn.close()
    assert page_size(new) == 4096
    used = dbmod.Database(f"sqlite:///{new}")
    used.migrate()
    used.write(lambda session: tenants.add_tenant(session, "old", name="Old", country="US", billing_country="US",
                                                  currency="USD"))
    with used.read() as session:
        assert session.connection().exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert session.exec(select(Tenant.slug)).all() == ["old"]
    used.dispose()
    assert page_size(new) == 4096
