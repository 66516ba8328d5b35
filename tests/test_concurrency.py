"""Many processes writing one database at the same moment: nothing lost, nothing surfaced.

Real processes (``python -m credits_cli``), released together by a barrier
file, on SQLite (one writer at a time, retried with backoff) and, when
``CREDITS_TEST_DATABASE_URL`` is set, on PostgreSQL (the tenant's row locked).
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from tests import procs

# Each child waits for the barrier file, then runs the real command in-process.
_CHILD = """
import os, sys, time
barrier = sys.argv[1]
while not os.path.exists(barrier):
    time.sleep(0.002)
from credits_cli.cli.app import app
sys.argv = ["credits", *sys.argv[2:]]
app()
"""


def _together(db: str, barrier: Path, commands: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every command, let them all go at once, wait for all."""
    env = procs.cli_env(db)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(barrier), *args],
            env=env,
            cwd=procs.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    barrier.write_text("go")
    results = []
    for child, args in zip(children, commands, strict=True):
        out, err = child.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(args, child.returncode, out, err))
    return results


def _setup(db: str) -> None:
    procs.run(db, "tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    procs.run(db, "payment", "set", "--card-expiry", "2099-12")


def test_many_topups_at_once_all_succeed(tmp_path: Path) -> None:
    db = procs.new_database(tmp_path, "many")
    _setup(db)
    amounts = [Decimal(50 + 7 * i) + Decimal("0.25") for i in range(12)]
    results = _together(db, tmp_path / "go", [["topup", str(a), "--json"] for a in amounts])
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "locked" not in r.stderr and "busy" not in r.stderr
    lots = sorted(json.loads(r.stdout)["lot"] for r in results)
    assert len(set(lots)) == len(amounts)
    doc = json.loads(procs.run(db, "balance", "--json").stdout)
    assert Decimal(doc["balance"]) == sum(amounts)
    assert sorted(Decimal(x["amount"]) for x in doc["lots"]) == sorted(amounts)
    assert json.loads(procs.run(db, "verify", "--json").stdout)["ok"] is True


def test_topups_and_balance_checks_interleaved(tmp_path: Path) -> None:
    """Writers of the balance (top-ups) and housekeeping readers (balance) together."""
    db = procs.new_database(tmp_path, "mixed")
    _setup(db)
    commands = []
    for i in range(6):
        commands.append(["topup", "60", "--note", f"n{i}"])
        commands.append(["balance", "--json"])
    results = _together(db, tmp_path / "go", commands)
    for r in results:
        assert r.returncode == 0, r.stderr
    doc = json.loads(procs.run(db, "balance", "--json").stdout)
    assert Decimal(doc["balance"]) == Decimal(360)
    procs.run(db, "verify")


def test_first_use_of_a_new_database_by_many_processes(tmp_path: Path) -> None:
    """The first commands on an empty database race to create the schema: one does, none fails."""
    db = procs.new_database(tmp_path, "fresh")
    results = _together(db, tmp_path / "go", [["tenant", "add", f"t{i}", "--name", f"T{i}", "--country", "US",
                                               "--json"] for i in range(6)])
    for i, r in enumerate(results):
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["slug"] == f"t{i}"
