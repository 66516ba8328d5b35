"""The database file is its owner's alone; the SMTP password is never printed or stored."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from credits_cli import db as dbmod
from tests import procs
from tests.smtp import Inbox, certificate, server_tls, smtp_server
from tests.test_crash import make_tenant, opened, outbox, queue_messages, send_env

SECRET = "pa55-Word!S3cret"
sqlite_only = pytest.mark.skipif(procs.on_postgres, reason="about the SQLite file on disk")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A STARTTLS server's options, and the environment that makes the client trust its certificate."""
    cert, key = certificate(tmp_path_factory.mktemp("tls"))
    return {"server": {"tls_context": server_tls(cert, key)}, "env": {"CREDITS_SMTP_CAFILE": str(cert)}}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Pretend the user's umask would let everyone read new files."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@sqlite_only
def test_new_database_file_and_its_wal_and_shm_are_owner_only(tmp_path: Path, open_umask: None, cli) -> None:
    path = tmp_path / "sub" / "credits.db"
    assert cli("--db", str(path), "tenant", "add", "contoso", "--name", "C", "--country", "US").exit_code == 0
    assert mode(path) == 0o600
    database = dbmod.Database(dbmod.resolve_url(str(path)))
    try:
        with database.read() as s:  # while a connection is open the -wal and -shm files exist
            s.execute(sa.text("SELECT count(*) FROM tenants")).scalar()
            database.write(lambda w: w.execute(sa.text("UPDATE tenants SET name = 'Contoso'")))
            for suffix in ("-wal", "-shm"):
                side = Path(str(path) + suffix)
                assert side.exists(), suffix
                assert mode(side) == 0o600, suffix
    finally:
        database.dispose()


@sqlite_only
def test_group_permissions_are_left_alone(tmp_path: Path, cli) -> None:
    path = tmp_path / "shared.db"
    path.touch()
    path.chmod(0o640)
    assert cli("--db", str(path), "tenant", "list").exit_code == 0
    assert mode(path) == 0o640


def test_a_world_readable_database_is_made_owner_only(tmp_path: Path, cli) -> None:
    path = tmp_path / "copied.db"
    path.touch()
    path.chmod(0o644)
    assert cli("--db", str(path), "tenant", "list").exit_code == 0
    assert mode(path) == 0o600
    for journal in (tmp_path / "copied.db-wal", tmp_path / "copied.db-shm"):
        if journal.exists():
            assert mode(journal) & 0o007 == 0


def _authenticator(accept: bool, leak: bool = False) -> Any:
    from aiosmtpd.smtp import AuthResult

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if accept:
            return AuthResult(success=True)
        # A hostile or careless server may echo what it was given.
        message = f"535 5.7.8 bad credentials {data.password.decode()}" if leak else None
        return AuthResult(success=False, handled=False, message=message)

    return authenticate


def _everything_stored(db: str) -> bytes:
    """All bytes the database holds: the SQLite files, or every row of every table on a server."""
    if not procs.on_postgres:
        path = Path(dbmod.resolve_url(db).removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    chunks = []
    with opened(db) as database, database.read() as s:
        for table in dbmod.metadata().sorted_tables:
            for row in s.execute(sa.select(table)):
                chunks.append(repr(tuple(row)).encode())
    return b"\n".join(chunks)


@pytest.mark.parametrize("leak", [False, True], ids=["refused", "refused-and-echoed"])
def test_smtp_password_refused_is_never_printed_nor_stored(tmp_path: Path, leak: bool, tls: dict[str, Any]) -> None:
    db = procs.new_database(tmp_path, "auth")
    make_tenant(db, admins=2)
    queue_messages(db, 1)
    with smtp_server(authenticator=_authenticator(False, leak), **tls["server"]) as (address, _inbox):
        env = send_env(db, address) | tls["env"] | {
            "CREDITS_SMTP_USER": "relay@contoso.com", "CREDITS_SMTP_PASSWORD": SECRET,
        }
        for args in (["notifications", "send"], ["notifications", "send", "--json"]):
            result = procs.run(db, *args, env=env, check=False)
            assert result.returncode == 1
            assert "535" in result.stderr
            assert SECRET not in result.stdout + result.stderr
    assert set(outbox(db).values()) == {"queued"}
    listing = procs.run(db, "notifications", "--json", env=procs.cli_env(db))
    assert SECRET not in listing.stdout
    assert "535" in json.loads(listing.stdout)[0]["last_error"]
    assert SECRET.encode() not in _everything_stored(db)


def test_smtp_password_accepted_is_not_stored(tmp_path: Path, tls: dict[str, Any]) -> None:
    db = procs.new_database(tmp_path, "authok")
    make_tenant(db, admins=2)
    queue_messages(db, 1)
    with smtp_server(Inbox(), authenticator=_authenticator(True), **tls["server"]) as (address, inbox):
        env = send_env(db, address) | tls["env"] | {"CREDITS_SMTP_PASSWORD": SECRET}
        result = procs.run(db, "notifications", "send", env=env)
        assert SECRET not in result.stdout + result.stderr
        assert len(inbox.accepted) == 2
    assert set(outbox(db).values()) == {"sent"}
    assert SECRET.encode() not in _everything_stored(db)


def test_database_password_is_not_printed_when_the_server_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://credits:{SECRET}@127.0.0.1:1/credits"
    result = procs.run("", "--db", url, "tenant", "list", env=procs.cli_env(url), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_non_ascii_smtp_password_is_one_clear_line(tmp_path: Path, tls: dict[str, Any]) -> None:
    db = procs.new_database(tmp_path, "nonascii")
    make_tenant(db, admins=1)
    queue_messages(db, 1)
    secret = "Wörd-" + SECRET
    with smtp_server(authenticator=_authenticator(True), **tls["server"]) as (address, _inbox):
        env = send_env(db, address) | tls["env"] | {"CREDITS_SMTP_PASSWORD": secret}
        result = procs.run(db, "notifications", "send", env=env, check=False)
    assert result.returncode == 1
    assert "other than ASCII" in result.stderr and "internal error" not in result.stderr
    assert secret not in result.stdout + result.stderr and "\\xf6" not in result.stderr
    assert set(outbox(db).values()) == {"queued"}
    assert secret.encode() not in _everything_stored(db)
