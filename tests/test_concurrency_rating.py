"""Several ``rate-cdrs`` on one database at the same moment.

Disjoint files rated together must all succeed (no "database is locked", no
serialization error reaching the user) and leave what rating them one after
the other leaves; the same file imported twice at once charges every call
once. Real processes released together (tests/test_concurrency.py), on SQLite
and, with ``CREDITS_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tests import dbdump, procs
from tests.test_concurrency import _together

NOW = "2026-11-02T09:00:00Z"
ROOT = Path(__file__).resolve().parent.parent
USERS = [f"user{i}@contoso.com" for i in range(12)]
NUMBERS = ["+14255550123", "+442071234567", "+33142685300", "+4930123456", "+61293744000", "+918041234567"]


def write_calls(path: Path, seed: int, n: int) -> Path:
    """An own-format CSV of ``n`` outbound calls in October 2026 (ids unique to the seed)."""
    rng = random.Random(seed)
    base = datetime(2026, 10, 1)
    lines = ["call_id,user,start,duration_seconds,kind,number"]
    for i in range(n):
        start = base + timedelta(seconds=rng.randrange(30 * 86400))
        lines.append(
            f"s{seed}-{i},{rng.choice(USERS)},{start:%Y-%m-%dT%H:%M:%SZ},{rng.randrange(0, 1800)},"
            f"outbound,{rng.choice(NUMBERS)}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def setup(db: str, folder: Path) -> None:
    """Pay-as-you-go users (no pools) and one lot far above the charges: order cannot matter."""
    env = procs.cli_env(db, CREDITS_NOW=NOW)
    users = folder / "users.csv"
    users.write_text(
        "\n".join(["upn,name,country,plan,conferencing,licensed"] + [f"{u},,US,payg,false,true" for u in USERS]) + "\n",
        encoding="utf-8",
    )
    for step in (
        ("tenant", "add", "contoso", "--name", "Contoso", "--country", "US"),
        ("payment", "set", "--card-expiry", "2099-12"),
        ("rates", "load", str(ROOT / "rates" / "default-usd.yaml")),
        ("user", "import", str(users)),
        ("topup", "100000"),
    ):
        procs.run(db, *step, env=env)


def state(db: str) -> dict[str, object]:
    dump = dbdump.content(db)
    balance = json.loads(procs.run(db, "balance", "--json", env=procs.cli_env(db, CREDITS_NOW=NOW)).stdout)
    return {
        "calls": dump["calls"],
        "charges": sorted(
            (dict(r)["call_id"], dict(r)["amount"]) for r in dump["ledger"] if dict(r)["kind"] == "charge"
        ),
        "lots": dump["lots"],
        "balance": balance["balance"],
    }


def _together_now(db: str, barrier: Path, commands: list[list[str]]):
    import os

    os.environ["CREDITS_NOW"] = NOW  # _together copies the environment; the child reads the clock from it
    try:
        return _together(db, barrier, commands)
    finally:
        del os.environ["CREDITS_NOW"]


def assert_clean(results) -> None:
    for r in results:
        assert r.returncode == 0, r.stderr
        for word in ("locked", "busy", "serializ", "deadlock", "unique", "Traceback", "23505"):
            assert word not in r.stderr, r.stderr


def test_disjoint_files_at_once_equal_the_sequential_result(tmp_path: Path) -> None:
    files = [write_calls(tmp_path / f"calls{i}.csv", 100 + i, 5500) for i in range(4)]
    together = procs.new_database(tmp_path, "together")
    setup(together, tmp_path)
    results = _together_now(together, tmp_path / "go", [["rate-cdrs", str(f), "--json"] for f in files])
    assert_clean(results)
    assert sum(json.loads(r.stdout)["statuses"]["charged"] for r in results) > 15000

    sequential = procs.new_database(tmp_path, "sequential")
    setup(sequential, tmp_path)
    for f in files:
        procs.run(sequential, "rate-cdrs", str(f), "--json", env=procs.cli_env(sequential, CREDITS_NOW=NOW))
    assert state(together) == state(sequential)
    assert json.loads(procs.run(together, "verify", "--json").stdout)["ok"] is True


def test_same_file_imported_twice_at_once_charges_each_call_once(tmp_path: Path) -> None:
    calls = write_calls(tmp_path / "calls.csv", 7, 8000)
    db = procs.new_database(tmp_path, "twice")
    setup(db, tmp_path)
    results = _together_now(db, tmp_path / "go", [["rate-cdrs", str(calls), "--json"] for _ in range(3)])
    assert_clean(results)
    docs = [json.loads(r.stdout) for r in results]
    # Between them the imports stored every call once; the rest they saw as duplicates.
    stored = sum(sum(d["statuses"].values()) for d in docs)
    assert stored == 8000
    assert sum(d["duplicates"] for d in docs) == 2 * 8000

    dump = dbdump.content(db)
    ids = Counter(dict(r)["external_id"] for r in dump["calls"])
    assert len(ids) == 8000 and set(ids.values()) == {1}
    charges = Counter(dict(r)["call_id"] for r in dump["ledger"] if dict(r)["kind"] == "charge")
    assert set(charges.values()) == {1}
    charged = [dict(r) for r in dump["calls"] if dict(r)["status"] == "charged"]
    assert len(charges) == len(charged)

    once = procs.new_database(tmp_path, "once")
    setup(once, tmp_path)
    procs.run(once, "rate-cdrs", str(calls), env=procs.cli_env(once, CREDITS_NOW=NOW))
    assert state(db)["charges"] == state(once)["charges"]
    assert state(db)["balance"] == state(once)["balance"]
    assert Decimal(state(db)["balance"]) < Decimal(100000)  # type: ignore[arg-type]
    assert json.loads(procs.run(db, "verify", "--json").stdout)["ok"] is True
