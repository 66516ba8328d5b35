"""Opening the database, migrating it, and running transactions safely.

SQLite by default (foreign keys on, WAL, a busy timeout, writers take the
lock up front with ``BEGIN IMMEDIATE``); any SQLAlchemy URL otherwise. On
PostgreSQL, writers lock their tenant's row (``SELECT ... FOR UPDATE``) where
SQLite relies on its single writer. Every write goes through
:meth:`Database.write`, which retries with backoff when the database is busy.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel

from credits_cli import clock
from credits_cli.errors import DatabaseError
from credits_cli.i18n import _
from credits_cli.location import resolve_url
from credits_cli.migrations import apply_migrations, pending

T = TypeVar("T")

def _prepare_sqlite_file(url: sa.engine.URL) -> None:
    """Create the file (and its folder) readable by its owner only."""
    path = url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    file = Path(path)
    if file.exists():
        _owner_only(file)
        return
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    except OSError as exc:
        # TRANSLATORS: {path} is the database file; {reason} what the system said (Permission denied).
        raise DatabaseError(_("cannot create database {path}: {reason}").format(
            path=file, reason=exc.strerror)) from None


def _owner_only(file: Path) -> None:
    """The books are never readable by everyone: a database file (or journal) that any user of the
    machine could read (0644, as ``cp`` or an older version may leave it) is made owner-only when
    this user owns it. Group access is left alone: sharing with a group is a deliberate choice."""
    for part in (file, Path(f"{file}-wal"), Path(f"{file}-shm")):
        try:
            st = part.stat()
            if st.st_uid == os.getuid() and st.st_mode & 0o007 and part.is_file():
                os.chmod(part, st.st_mode & 0o700)
        except OSError:
            continue


def _is_busy(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    if "database is locked" in text or "database is busy" in text or "database table is locked" in text:
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    # PostgreSQL: serialization failure, deadlock, lock not available
    return code in {"40001", "40P01", "55P03"}


class Database:
    def __init__(self, url: str) -> None:
        try:
            self.url = sa.engine.make_url(url)
        except (ValueError, sa.exc.ArgumentError) as exc:
            raise DatabaseError(_cannot_use(_without_secret(url), exc)) from None
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        try:
            if self.is_sqlite:
                _prepare_sqlite_file(self.url)
                self.engine: Engine = sa.create_engine(
                    self.url, connect_args={"timeout": 60}, poolclass=sa.pool.NullPool
                )
                event.listen(self.engine, "connect", _sqlite_on_connect)
                event.listen(self.engine, "begin", _sqlite_on_begin)
            else:
                self.engine = sa.create_engine(self.url, pool_pre_ping=True)
        except (ImportError, sa.exc.ArgumentError) as exc:
            raise DatabaseError(_cannot_use(repr(self.url), exc)) from None
        self._immediate = self.engine.execution_options(credits_immediate=True)
        self._unchecked = self.engine.execution_options(credits_immediate=True, credits_unchecked=True)

    def display(self) -> str:
        return self.url.render_as_string(hide_password=True)

    # --- schema ---------------------------------------------------------------
    def migrate(self) -> None:
        with self.read() as session:
            if not pending(session):
                return
        self.write(apply_migrations)

    # --- sessions -------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading. Nothing it does is committed.

        Opening the connection is retried while the database is busy (a new
        SQLite file switching to WAL while another process does the same).
        """
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                self._retry(session.connection)
                yield session
        except DBAPIError as exc:  # OperationalError, or "file is not a database"
            raise DatabaseError(_describe(exc)) from None

    def _retry(self, step: Callable[[], T], attempts: int = 12) -> T:
        delay = 0.05
        for attempt in range(attempts):
            try:
                return step()
            except (OperationalError, DBAPIError) as exc:
                if _is_busy(exc) and attempt + 1 < attempts:
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 2.0)
                    continue
                raise
        raise AssertionError("unreachable")

    def write(self, work: Callable[[Session], T], *, attempts: int = 12, references_checked: bool = False) -> T:
        """Run ``work`` in one transaction and commit it; retry when busy.

        Busy means: SQLite's writer lock still held after its busy timeout, or a
        PostgreSQL serialization failure, deadlock or lock timeout. Each retry
        starts a new transaction after a randomised, doubling pause (0.05 s up
        to 2 s), so ``work`` may run more than once: it must only touch the
        database.

        ``references_checked``: ``work`` itself checks that every row it writes names rows that exist (a
        bulk write: an import's calls, see :func:`credits_cli.rating.store.check_references`), so SQLite
        does not look each one up (its foreign-key checks are off for that transaction alone: a million
        calls' copy spent two fifths of its time finding their tenant, import and user again). PostgreSQL
        checks as always.
        """
        engine = self._unchecked if references_checked and self.is_sqlite else self._immediate

        def once() -> T:
            with Session(engine, expire_on_commit=False) as session:
                result = work(session)
                session.commit()
                return result

        try:
            return self._retry(once, attempts)
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseError(_describe(exc)) from None

    def lock_tenant(self, session: Session, tenant_id: int) -> None:
        """Serialise writers of one tenant (PostgreSQL); SQLite's writer lock does it already."""
        lock_tenant_row(session, tenant_id)

    def dispose(self) -> None:
        self.engine.dispose()


def lock_tenant_row(session: Session, tenant_id: int) -> None:
    """``SELECT ... FOR UPDATE`` the tenant's row on a server database.

    Every transaction that reads the balance and then writes from what it read
    (a purchase, writing off expired lots, auto-recharge, rating) calls this
    first (:meth:`credits_cli.ledger.Account.load` does), so such writers of one
    tenant run one after the other while other tenants proceed. SQLite needs
    nothing: ``BEGIN IMMEDIATE`` already admits one writer at a time.
    """
    if session.connection().dialect.name != "sqlite":
        session.execute(sa.text("SELECT id FROM tenants WHERE id = :id FOR UPDATE"), {"id": tenant_id})


def _without_secret(url: str) -> str:
    """A URL as it may be shown: whatever stands between ``//`` and ``@`` (user and password) hidden."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{head}://***@{rest.rpartition('@')[2]}"


def _cannot_use(url: str, exc: BaseException) -> str:
    # TRANSLATORS: {url} is the database's address (sqlite:///..., postgresql://...); {error} what the database
    # library said, in English.
    return _("cannot use database URL {url}: {error}").format(url=url, error=exc)


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if _is_busy(exc):
        # TRANSLATORS: {error} is what the database said, in English (database is locked).
        return _("the database stayed busy too long ({error}); try again").format(error=text)
    # TRANSLATORS: {error} is what the database said, in English (no such table: tenants).
    return _("database error: {error}").format(error=text)


#: The page size of a new SQLite database, in bytes (SQLite's default is 4096). A page is a read or a write of
#: its own, twice over for what a transaction changes (the write-ahead log, then the checkpoint): a
#: million-call import wrote 93,000 pages of 4 KiB into the log and as many into the file, and took 0.92x
#: the time, 0.95x the CPU, with pages of 16 KiB (bench/RESULTS.md). Set before the first table is made;
#: a database made with other pages keeps them.
SQLITE_PAGE_SIZE = 16384


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_on_begin)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute(f"PRAGMA page_size = {SQLITE_PAGE_SIZE}")  # (a new database only: an existing one keeps its own)
    mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get("credits_unchecked"):
        # Database.write(references_checked=True). Set before BEGIN (inside a transaction it does nothing);
        # the connection is closed when its session ends (NullPool), and the next one checks again.
        conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    if conn.get_execution_options().get("credits_immediate"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


_opened: dict[str, Database] = {}


def open_database(value: str | None, *, create: bool = True) -> Database:
    """Open (creating and migrating on first use) the database at a path or URL.

    With ``create`` False a database that does not exist yet (no SQLite file; a server schema without
    credits' tables) is not made: one :class:`DatabaseError` says where none was found. Only ``tenant
    add`` creates one, so a read command with a mistyped ``--db`` leaves nothing behind.
    """
    url = resolve_url(value)
    if url in _opened:
        return _opened[url]
    if not create:
        _must_exist(url)
    database = Database(url)
    if database.is_sqlite and (database.url.database or ":memory:") in (":memory:", ""):
        raise DatabaseError(_("an in-memory database keeps nothing between commands; give a file path or a server URL"))
    if not create and not database.is_sqlite:
        with database.read() as session:
            # No table at all: nothing is there yet. Tables of something else: migrate() says it is not ours.
            if not sa.inspect(session.connection()).get_table_names():
                database.dispose()
                # TRANSLATORS: {where} is the database (a server URL without its password); the command stays.
                raise DatabaseError(_("no database at {where} (no credits tables); create one with "
                                      "credits tenant add").format(where=database.display()))
    database.migrate()
    _opened[url] = database
    return database


def _must_exist(url: str) -> None:
    from credits_cli.location import sqlite_file

    file = sqlite_file(url)
    if file is not None and not file.exists():
        # TRANSLATORS: {where} is a database file's path; the command stays as it is.
        raise DatabaseError(_("no database at {where}; create one with credits tenant add").format(where=file))


def metadata() -> sa.MetaData:
    """The models' tables (the schema as it is now). Migrations never use it: they spell out their own DDL."""
    import credits_cli.models  # noqa: F401  (registers the tables)

    return SQLModel.metadata


__all__ = ["Database", "open_database", "resolve_url", "metadata", "clock"]
