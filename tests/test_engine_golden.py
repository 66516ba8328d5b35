"""The engine against what it did before: call for call, entry for entry.

``tests/golden/engine.json`` was recorded with the per-call engine (commit "tests: golden data of
the rating engine") on the scenario of :mod:`tests.engine_scenario`: three imports that go through
every rule of SPEC §6. Whatever the engine becomes, it must write the same books from the same
files. ``tests/golden/engine_totals.json`` holds the totals of larger imports (the generated
exports of the benchmark), compared summary for summary.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.generate import generate
from tests import engine_scenario
from tests.helpers import pin_now

TOTALS = engine_scenario.ROOT / "tests" / "golden" / "engine_totals.json"


def _first_difference(name: str, got: list[Any], want: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return f"{name}[{i}]: got {a!r}, recorded {b!r}"
    return f"{name}: {len(got)} rows, recorded {len(want)}"


def test_the_scenario_writes_the_recorded_books(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_now(monkeypatch, engine_scenario.NOW)
    monkeypatch.setenv("CREDITS_RATES_DIR", str(engine_scenario.service_folder(tmp_path / "rates")))
    runs = engine_scenario.run(cli, tmp_path)
    got = json.loads(json.dumps(engine_scenario.capture(os.environ["CREDITS_DB"], runs)))
    want = json.loads(engine_scenario.GOLDEN.read_text(encoding="utf-8"))
    assert got["runs"] == want["runs"]
    for key in ("calls", "ledger", "lots", "pools", "notifications", "auto_recharge"):
        assert got[key] == want[key], _first_difference(key, got[key], want[key])


def _totals_setup(cli: Any, users: Path) -> None:
    for step in (
        ("tenant", "add", "contoso", "--name", "Contoso", "--country", "US", "--currency", "USD"),
        ("payment", "set", "--card-expiry", "2099-12", "--last4", "4242"),
        ("admin", "add", "billing@contoso.com", "--role", "billing-admin"),
        ("user", "import", str(users)),
        ("topup", "1000"),
        ("autorecharge", "set", "--threshold", "200", "--amount", "1000"),
        ("rates", "load", str(engine_scenario.ROOT / "rates" / "default-usd.yaml")),
    ):
        assert cli(*step).exit_code == 0, step


def totals(cli: Any, folder: Path, calls: int, seed: int, variety: bool) -> dict[str, Any]:
    """A generated month rated on a tenant set up as the benchmark's: the import's summary."""
    path, users = folder / "calls.csv", folder / "users.csv"
    generate(calls, seed, "2026-10", path, users, variety=variety)
    _totals_setup(cli, users)
    result = cli("rate-cdrs", str(path), "--json")
    assert result.exit_code in (0, 3), result.stderr
    doc = json.loads(result.stdout)
    for key in ("import_id", "files", "formats"):
        doc.pop(key, None)
    verified = json.loads(cli("verify", "--json").stdout)
    doc["verified_calls"] = verified["calls"]
    doc["entries"] = verified["entries"]
    doc["calls_digest"] = calls_digest(os.environ["CREDITS_DB"])
    return doc


def calls_digest(url: str) -> str:
    """A digest of every call's outcome (id, status, reason, pool, pool seconds, charge), by id."""
    import hashlib

    import sqlalchemy as sa

    from credits_cli import db as dbmod

    database = dbmod.Database(dbmod.resolve_url(url))
    digest = hashlib.sha256()
    try:
        with database.engine.connect() as conn:
            calls = sa.Table("calls", sa.MetaData(), autoload_with=conn)
            c = calls.c
            query = sa.select(c.external_id, c.status, c.reason, c.pool, c.pool_seconds, c.charge)
            for row in sorted(tuple(r) for r in conn.execute(query)):  # in Python: not by a server's collation
                digest.update(("|".join(str(v) for v in row) + "\n").encode())
    finally:
        database.dispose()
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize(("calls", "seed", "variety"), [(50_000, 6, False), (50_000, 8, True)])
def test_larger_imports_have_the_recorded_totals(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: int,
                                                 seed: int, variety: bool) -> None:
    pin_now(monkeypatch, engine_scenario.NOW)
    got = json.loads(json.dumps(totals(cli, tmp_path, calls, seed, variety), default=str))
    want = json.loads(TOTALS.read_text(encoding="utf-8"))[f"{calls}:{seed}:{variety}"]
    assert got == want
