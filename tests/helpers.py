"""Shared checks for the CLI tests: the database as it is on disk, and errors."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any


def db_path() -> str:
    if os.environ.get("CREDITS_TEST_DATABASE_URL"):
        import pytest

        pytest.skip("this test reads the SQLite file directly")
    return os.environ["CREDITS_DB"]


def _on_server() -> bool:
    return bool(os.environ.get("CREDITS_TEST_DATABASE_URL"))


def dump() -> list[Any]:
    """Every row of every table: compare before and after a refused command."""
    if _on_server():
        from tests import dbdump

        return sorted(dbdump.content(os.environ["CREDITS_DB"], skip=set()).items())
    con = sqlite3.connect(db_path())
    try:
        return list(con.iterdump())
    finally:
        con.close()


def rows(query: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of a plain SQLite query (the SQLite run only: its text and values are SQLite's)."""
    con = sqlite3.connect(db_path())
    try:
        return list(con.execute(query, params))
    finally:
        con.close()


def assert_error(result: Any, *needles: str) -> str:
    """One line on stderr starting with 'error:', exit 1, no traceback, nothing on stdout."""
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    err = result.stderr
    assert err.startswith("error: "), err
    assert err.strip().count("\n") == 0, err
    assert "Traceback" not in result.output and "internal error" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def assert_json(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def pin_now(monkeypatch: Any, when: str) -> None:
    """Pin the clock for the commands of this test (``CREDITS_NOW``, read by each command) and for the
    core called in-process (:func:`credits_cli.clock.pin`): the same moment for both."""
    from credits_cli import clock

    monkeypatch.setenv("CREDITS_NOW", when)
    clock.pin(clock.parse_timestamp(when))
