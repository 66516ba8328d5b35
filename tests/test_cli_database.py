"""Where the database lives, how it is created, and refusing one that is not ours."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from credits_cli import __version__, migrations
from tests.helpers import assert_error, db_path

ROOT = Path(__file__).resolve().parent.parent


def test_database_file_is_private(cli) -> None:
    assert cli("tenant", "add", "c", "--name", "C", "--country", "US").exit_code == 0
    mode = stat.S_IMODE(os.stat(db_path()).st_mode)
    assert mode == 0o600


def test_database_in_a_new_folder(cli, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "credits.db"
    assert cli("--db", str(target), "tenant", "add", "c", "--name", "C", "--country", "US").exit_code == 0
    assert target.is_file() and stat.S_IMODE(target.stat().st_mode) == 0o600


def test_db_option_takes_a_sqlite_url(cli, tmp_path: Path) -> None:
    target = tmp_path / "url.db"
    r = cli("--db", f"sqlite:///{target}", "tenant", "add", "contoso", "--name", "C", "--country", "US")
    assert r.exit_code == 0, r.stderr
    con = sqlite3.connect(target)
    assert list(con.execute("SELECT slug FROM tenants")) == [("contoso",)]
    con.close()
    # The default database (CREDITS_DB) was not touched.
    assert not Path(db_path()).exists()


def test_credits_db_environment(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "env.db"
    monkeypatch.setenv("CREDITS_DB", str(target))
    assert cli("tenant", "add", "contoso", "--name", "C", "--country", "US").exit_code == 0
    con = sqlite3.connect(target)
    assert list(con.execute("SELECT slug FROM tenants")) == [("contoso",)]
    applied = [n for (n,) in con.execute("SELECT name FROM schema_migrations")]
    assert applied == list(migrations.NAMES)
    con.close()


def test_schema_is_migrated_and_sqlite_settings(cli) -> None:
    assert cli("tenant", "add", "c", "--name", "C", "--country", "US").exit_code == 0
    con = sqlite3.connect(db_path())
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tenants", "ledger", "lots", "notifications", "schema_migrations"} <= tables
    con.close()


def test_version_subprocess() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "credits_cli", "--version"], capture_output=True, text=True, env=env,
                       cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"credits {__version__}"


def test_error_from_a_subprocess_is_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CREDITS_DB=str(tmp_path / "s.db"))
    r = subprocess.run([sys.executable, "-m", "credits_cli", "balance"], capture_output=True, text=True, env=env,
                       cwd=ROOT, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_newer_database_refused(cli) -> None:
    assert cli("tenant", "add", "contoso", "--name", "C", "--country", "US").exit_code == 0
    con = sqlite3.connect(db_path())
    con.execute("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future', '2030-01-01')")
    con.commit()
    con.close()
    from credits_cli import db as dbmod

    dbmod._opened.clear()
    assert_error(cli("tenant", "list"), "9999_from_the_future", "upgrade credits")
    assert_error(cli("tenant", "add", "x", "--name", "X", "--country", "US"), "upgrade credits")
    con = sqlite3.connect(db_path())
    assert list(con.execute("SELECT slug FROM tenants")) == [("contoso",)]
    con.close()


def test_foreign_database_refused(cli, tmp_path: Path) -> None:
    target = tmp_path / "other.db"
    con = sqlite3.connect(target)
    con.execute("CREATE TABLE stuff (x)")
    con.commit()
    con.close()
    assert_error(cli("--db", str(target), "tenant", "list"), "not made by credits")


def test_not_a_database_file(cli, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("hello, this is not SQLite\n" * 100)
    assert_error(cli("--db", str(target), "tenant", "list"), "not a database")
    assert target.read_text().startswith("hello")


def test_unknown_url_scheme(cli) -> None:
    assert_error(cli("--db", "bogus://nowhere", "tenant", "list"), "cannot use database URL")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_database_refused(cli, url: str) -> None:
    assert_error(cli("--db", url, "tenant", "list"), "in-memory")
