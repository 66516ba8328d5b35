"""A scenario that goes through every rule of SPEC §6, and what the books hold after it.

Three imports into one tenant, on generated Teams exports with ``--variety`` (every call
type, Operator Connect and Direct Routing rows, FREECALL, emergency and short numbers,
bots, unknown users, calls of 0 seconds, another currency, unreadable rows) and pools
made small (``service.yaml`` of our own) so that they run out mid-month:

1. September, with a card that is good through September only: recharges succeed, the
   lot bought a year earlier expires in the middle, pools cross 80 % and 100 %.
   Licenses and plans change during the month (``--at``).
2. October with rows of September again (duplicates across imports, and inside a run):
   every recharge fails (one failure episode, retried hourly), the balance crosses zero,
   calls are denied for lack of balance.
3. A new card, then August, imported late, debited at Microsoft's own charges
   (``--charges export``), another currency rejected there.

:func:`capture` reads back what rating wrote, compactly and without surrogate ids: each
call's outcome, the ledger in posting order, lots, pools, the outbox and the recharge
state, with each run's summary and rejected rows. ``tests/test_engine_golden.py`` holds
it to ``tests/golden/engine.json``, recorded with the per-call engine before the columnar
one replaced it; ``python -m tests.engine_scenario --write`` records it again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bench.generate import generate
from credits_cli import db as dbmod
from credits_cli import money

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "engine.json"
NOW = "2026-11-02T09:00:00Z"
SEED = 11
CALLS = 1200  # a month; the same seed and size give the same users in every month


def service_folder(folder: Path) -> Path:
    """service.yaml with pools small enough to run out within the scenario's months."""
    data = yaml.safe_load((ROOT / "rates" / "service.yaml").read_text())
    data["calling_plans"]["domestic_minutes"] = {"default": 20, "US": 40, "PR": 40, "CA": 40}
    data["calling_plans"]["international_minutes"] = 15
    data["conferencing"]["dialout_minutes_per_user"] = 6
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "service.yaml").write_text(yaml.safe_dump(data))
    return folder


def files(folder: Path) -> dict[str, Path]:
    """The exports of the scenario (written into ``folder``)."""
    sept, octo, extra = folder / "sept.csv", folder / "oct.csv", folder / "aug.csv"
    users = folder / "users.csv"
    generate(CALLS, SEED, "2026-09", sept, users, variety=True)
    generate(CALLS, SEED, "2026-10", octo, None, variety=True)
    generate(CALLS, SEED, "2026-08", extra, None, variety=True)
    lines = sept.read_text(encoding="utf-8").splitlines(keepends=True)
    again = folder / "sept-again.csv"  # the last rows of September, exported again with October
    again.write_text(lines[0] + "".join(lines[-60:]), encoding="utf-8")
    return {"sept": sept, "oct": octo, "extra": extra, "again": again, "users": users}


def user_upns(users: Path) -> list[tuple[str, str, str, str, str]]:
    rows = users.read_text(encoding="utf-8").splitlines()[1:]
    return [tuple(r.split(",")[i] for i in (0, 2, 3, 4, 5)) for r in rows]  # type: ignore[misc]


def run(cli: Callable[..., Any], folder: Path) -> dict[str, Any]:
    """Set the tenant up and run the three imports through the real command; each run's summary
    and rejected rows."""
    f = files(folder)
    steps: list[tuple[str, ...]] = [
        ("tenant", "add", "contoso", "--name", "Contoso", "--country", "US", "--currency", "USD"),
        ("admin", "add", "billing@contoso.com", "--role", "billing-admin"),
        ("payment", "set", "--card-expiry", "2026-09", "--last4", "4242"),
        ("user", "import", str(f["users"])),
        ("topup", "60", "--at", "2025-09-12T08:00:00Z"),  # expires 2026-09-12, in the middle of September
        ("topup", "50", "--at", "2026-09-01T00:00:00Z"),
        ("autorecharge", "set", "--threshold", "25", "--amount", "50"),
        ("rates", "load", str(ROOT / "rates" / "default-usd.yaml")),
    ]
    users = user_upns(f["users"])
    licensed = [u for u in users if u[4] == "true"]
    unlicensed = [u for u in users if u[4] == "false"]
    domestic = [u for u in users if u[2] == "domestic" and u[4] == "true"]
    payg = [u for u in users if u[2] == "payg" and u[4] == "true"]
    conferencing = [u for u in users if u[3] == "true" and u[4] == "true"]
    # Dated changes inside the months rated: a license taken and one given, plans changed both ways,
    # Audio Conferencing given, a user moved to another country.
    for upn, *_ in licensed[:3]:
        steps.append(("license", "unassign", upn, "--at", "2026-09-18T12:00:00Z"))
    for upn, *_ in unlicensed[:2]:
        steps.append(("license", "assign", upn, "--at", "2026-09-10T00:00:00Z"))
    for upn, country, *_ in domestic[:4]:
        steps.append(("user", "add", upn, "--country", country, "--plan", "payg", "--at", "2026-09-15T00:00:00Z"))
    for upn, country, *_ in payg[:4]:
        steps.append(("user", "add", upn, "--country", country, "--plan", "domestic-international",
                      "--at", "2026-09-20T00:00:00Z"))
    for upn, country, *_ in conferencing[:3]:
        steps.append(("user", "add", upn, "--country", country, "--no-conferencing", "--at", "2026-10-08T00:00:00Z"))
    steps.append(("user", "add", licensed[5][0], "--country", "GB", "--at", "2026-10-03T00:00:00Z"))
    for step in steps:
        result = cli(*step)
        assert result.exit_code == 0, (step, result.stdout, result.stderr)

    runs: dict[str, Any] = {}

    def rate(name: str, *args: str) -> None:
        rejects = folder / f"{name}-rejects.csv"
        result = cli("rate-cdrs", *args, "--rejects", str(rejects), "--json")
        assert result.exit_code in (0, 3, 4), (name, result.stdout, result.stderr)
        doc = json.loads(result.stdout)
        doc.pop("import_id", None)
        doc.pop("rejects_file", None)
        doc["files"] = [Path(x).name for x in doc.get("files", [])]
        doc["formats"] = {Path(k).name: v for k, v in doc.get("formats", {}).items()}
        runs[name] = {"exit": result.exit_code, "summary": doc,
                      "rejects": rejects.read_text(encoding="utf-8").splitlines()}

    rate("september", str(f["sept"]))
    rate("october", str(f["oct"]), str(f["again"]))
    for step in (("payment", "set", "--card-expiry", "2099-12", "--last4", "1111"), ("topup", "50")):
        result = cli(*step)
        assert result.exit_code == 0, (step, result.stdout, result.stderr)
    rate("export", str(f["extra"]), "--charges", "export")
    return runs


def _t(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace(" ", "T")[:26]
    return str(value.isoformat())[:26]


def _units(value: Any) -> int | None:
    return None if value is None else int(value)


def capture(url: str, runs: dict[str, Any]) -> dict[str, Any]:
    """What the books hold, compactly (see the module docstring)."""
    database = dbmod.Database(dbmod.resolve_url(url))
    try:
        meta = sa.MetaData()
        with database.engine.connect() as conn:
            def table(name: str) -> sa.Table:
                return sa.Table(name, meta, autoload_with=conn)

            calls_t, ledger_t, lots_t = table("calls"), table("ledger"), table("lots")
            pools_t, notes_t, auto_t = table("pool_usage"), table("notifications"), table("auto_recharge")
            lot_number = dict(conn.execute(sa.select(lots_t.c.id, lots_t.c.number)).all())
            call_ext = dict(conn.execute(sa.select(calls_t.c.id, calls_t.c.external_id)).all())
            calls = sorted([
                [r.external_id, r.source_file, r.source_line, _t(r.start), r.duration_seconds, r.call_type, r.kind,
                 r.number, r.country, r.domestic, r.status, r.reason, r.rate_prefix, r.billed_seconds, r.pool,
                 r.pool_seconds, r.charged_seconds, _units(r.charge), _units(r.ms_charge),
                 _units(r.ms_connection_fee), r.ms_currency, r.capability, r.user_upn, r.user_id is not None]
                for r in conn.execute(sa.select(calls_t))
            ], key=lambda row: (row[3], row[0]))  # start, id (in Python: a server's collation may differ)
            ledger = [
                [_t(r.service_at), _t(r.posted_at), r.kind, _units(r.amount), lot_number.get(r.lot_id),
                 call_ext.get(r.call_id), r.note]
                for r in conn.execute(sa.select(ledger_t).order_by(ledger_t.c.id))
            ]
            lots = [
                [r.number, r.kind, _units(r.amount), _units(r.remaining), _t(r.purchased_at), _t(r.expires_at),
                 r.note]
                for r in conn.execute(sa.select(lots_t).order_by(lots_t.c.number))
            ]
            pools = sorted(
                [r.month, r.pool, r.capacity_seconds, r.used_seconds] for r in conn.execute(sa.select(pools_t))
            )
            notifications = [
                [r.event, r.recipient, r.subject, r.body, _t(r.created_at)]
                for r in conn.execute(sa.select(notes_t).order_by(notes_t.c.id))
            ]
            recharge = [
                [r.enabled, _units(r.threshold), _units(r.amount), _t(r.last_failure_at), _t(r.failing_since)]
                for r in conn.execute(sa.select(auto_t))
            ]
    finally:
        database.dispose()
    return {"runs": runs, "calls": calls, "ledger": ledger, "lots": lots, "pools": pools,
            "notifications": notifications, "auto_recharge": recharge}


def dumps(doc: dict[str, Any]) -> str:
    """One line per row: a diff of the file shows the calls that changed."""
    out = ["{"]
    keys = list(doc)
    for k, key in enumerate(keys):
        value = doc[key]
        comma = "," if k < len(keys) - 1 else ""
        if isinstance(value, list):
            out.append(f"{json.dumps(key)}: [")
            out.extend(json.dumps(row, ensure_ascii=False) + ("," if i < len(value) - 1 else "")
                       for i, row in enumerate(value))
            out.append(f"]{comma}")
        else:
            out.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


def _record() -> int:  # pragma: no cover - run by hand to record the golden data again
    import os
    import tempfile

    from typer.testing import CliRunner

    from credits_cli import clock, refdata
    from credits_cli.cli.app import app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["CREDITS_DB"] = str(folder / "credits.db")
        os.environ["CREDITS_NOW"] = NOW
        os.environ["CREDITS_RATES_DIR"] = str(service_folder(folder / "rates"))
        runner = CliRunner()

        def cli(*args: str) -> Any:
            return runner.invoke(app, list(args), catch_exceptions=False)

        runs = run(cli, folder)
        doc = capture(os.environ["CREDITS_DB"], runs)
        clock.pin(None)
        refdata.use_folder(None)
    GOLDEN.write_text(dumps(doc), encoding="utf-8")
    print(f"{GOLDEN}: {len(doc['calls'])} calls, {len(doc['ledger'])} ledger entries", file=sys.stderr)
    return 0


assert money.SCALE == 4  # the golden data's money is in units of 1/10,000

if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] != ["--write"]:
        print("usage: python -m tests.engine_scenario --write", file=sys.stderr)
        sys.exit(2)
    sys.exit(_record())
