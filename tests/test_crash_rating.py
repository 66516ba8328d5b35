"""``rate-cdrs`` killed with SIGKILL at random points, then rerun: the same as one clean run.

A seeded 50k-call Teams export (bench/generate.py) on a tenant set up as in real
life (users and licenses, a card, a top-up, auto-recharge, the default rate
table). One database rates it once; another is killed several times at random
moments of the same import and then rerun to the end. Everything the import
writes (ledger, balance, lots, pools, calls with statuses and charges, the
outbox) must be equal, row for row, apart from autoincrement ids, and
``credits verify`` must pass. The clock is pinned (CREDITS_NOW) for both.

Slow (a minute or so per backend): deselect with ``-m "not slow"``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bench.generate import generate
from tests import crash, dbdump, procs

NOW = "2026-11-02T09:00:00Z"
CALLS = 50_000
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    calls, users = folder / "calls.csv", folder / "users.csv"
    assert generate(CALLS, 6, "2026-10", calls, users) == CALLS
    return calls, users


def _env(db: str) -> dict[str, str]:
    # Ten transactions of 5,000 calls, so kills land between commits as well as inside them.
    return procs.cli_env(db, CREDITS_NOW=NOW, CREDITS_RATE_BATCH="5000")


@pytest.mark.slow
def test_rate_cdrs_killed_at_random_equals_one_clean_run(tmp_path: Path, export: tuple[Path, Path]) -> None:
    calls, users = export

    def setup(db: str) -> None:
        env = _env(db)
        for step in (
            ("tenant", "add", "contoso", "--name", "Contoso", "--country", "US", "--currency", "USD"),
            ("payment", "set", "--card-expiry", "2099-12", "--last4", "4242"),
            ("admin", "add", "billing@contoso.com", "--role", "billing-admin"),
            ("user", "import", str(users)),  # plans, conferencing and licenses
            ("topup", "1000"),
            ("autorecharge", "set", "--threshold", "200", "--amount", "1000"),
            ("rates", "load", str(ROOT / "rates" / "default-usd.yaml")),
        ):
            procs.run(db, *step, env=env)

    crashed: list[str] = []

    def check(db: str, _i: int) -> None:
        crashed.append(db)
        # Consistent after every kill: whole batches or nothing.
        result = procs.run(db, "verify", "--json", env=_env(db), check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    expected, report = crash.assert_same_as_clean_run(
        tmp_path,
        ["rate-cdrs", str(calls), "--json"],
        setup=setup,
        snapshot=dbdump.content,
        seed=66,
        kills=4,
        env=_env,
        check=check,
        # every rerun resumes the import: its calls in the database are the share done
        progress=lambda now, full: len(now["calls"]) / len(full["calls"]),
    )
    assert report.killed >= 2, report
    # The import did real work: charges, pools, recharges and their e-mails.
    statuses = {dict(row)["status"] for row in expected["calls"]}
    assert {"charged", "included", "free"} <= statuses
    assert sum(1 for row in expected["lots"] if dict(row)["kind"] == "recharge") >= 2
    assert expected["pool_usage"] and expected["notifications"]
    assert len(expected["calls"]) > CALLS * 0.99
    assert report.final is not None
    summary = json.loads(report.final.stdout)
    assert summary["duplicates"] > 0  # the rerun met what the killed runs had written
    assert all(Decimal(dict(r)["remaining"]) >= 0 for r in expected["lots"])
    verified = json.loads(procs.run(crashed[-1], "verify", "--json", env=_env(crashed[-1])).stdout)
    assert verified["ok"] is True
