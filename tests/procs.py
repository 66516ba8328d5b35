"""Running the real ``credits`` command in other processes, and databases for them.

The concurrency and crash tests need what CliRunner cannot give: several
processes at once, and processes killed with SIGKILL. These helpers start
``python -m credits_cli`` with this checkout first on the path, and make
databases of the kind the run is testing (an SQLite file, or a fresh schema on
the PostgreSQL server of ``CREDITS_TEST_DATABASE_URL``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

on_postgres = bool(os.environ.get("CREDITS_TEST_DATABASE_URL"))


def new_database(tmp_path: Path, name: str) -> str:
    """A database value for ``--db``/``CREDITS_DB``: a new file, or a fresh PostgreSQL schema."""
    url = os.environ.get("CREDITS_TEST_DATABASE_URL")
    if url:
        from tests.pg import fresh_schema_url

        return fresh_schema_url(url)
    return str(tmp_path / f"{name}.db")


def cli_env(db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITS_")}
    env["CREDITS_DB"] = db
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "credits_cli", *args]


def start(db: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        env=env or cli_env(db),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(db: str, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one command to the end; with ``check``, fail the test on a non-zero exit."""
    done = subprocess.run(
        command(*args), env=env or cli_env(db), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise AssertionError(f"credits {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done
