"""Benchmark ``credits`` against the cost of just reading the file.

    python bench/run.py                         # 100k and 1M calls
    python bench/run.py --quick                 # 20k calls, a quick look
    python bench/run.py --write-results bench/RESULTS.md

For each size, in the same run: generate the export (cached under bench/data/),
time a bare ``csv.reader`` pass over it, then ``credits rate-cdrs`` end to end on
a fresh SQLite database (database writes included) with its peak RSS. For the
largest size, ``credits report --xlsx`` against a bare openpyxl write-only dump
of the same rows (and, beside it, a bare XlsxWriter constant-memory dump). Then
the start-up of ``credits --help`` and ``credits balance`` (under 0.25 s), and of
the writing commands ``topup``, ``license assign`` and ``autorecharge set``
and of ten reading commands (``tenant show``, ``ledger``, ``report``... over
the bundled example's month; all under 0.5 s), against ``python -c pass``.
Every command runs in its own process; a step whose command fails is reported
"n/a" with the command's last stderr line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))  # credits_cli of this checkout (the batch size the floor uses)

import generate  # noqa: E402  (bench/generate.py, beside this script)

RATES = ROOT / "rates" / "default-usd.yaml"

BARE_READ = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
        pass
"""

# The yardstick for a Graph JSON file given with --calls.
BARE_JSON = """
import json, sys
with open(sys.argv[1], "rb") as f:
    json.load(f)
"""

# The same rows the report's Calls sheet holds, straight from the database into a write-only workbook.
BARE_XLSX = """
import sqlite3, sys
from datetime import datetime
from openpyxl import Workbook
con = sqlite3.connect(sys.argv[1])
wb = Workbook(write_only=True)
ws = wb.create_sheet("Calls")
cols = ["start", "user_upn", "call_type", "kind", "number", "country", "domestic", "status", "reason",
        "rate_name", "duration_seconds", "billed_seconds", "pool_seconds", "charged_seconds", "charge"]
ws.append(cols)
parse = datetime.fromisoformat
sql = "SELECT " + ", ".join(cols) + " FROM calls WHERE tenant_id = (SELECT min(id) FROM tenants) ORDER BY start, id"
for row in con.execute(sql):  # the database holds the one tenant and the one month
    ws.append((parse(row[0]),) + row[1:])
wb.save(sys.argv[2])
"""

# The same dump through the library the report is written with: XlsxWriter in constant-memory mode, each row
# through its generic write_row (no formats, no formula guard), beside the openpyxl yardstick.
BARE_XLSXWRITER = """
import sqlite3, sys
from datetime import datetime
import xlsxwriter
con = sqlite3.connect(sys.argv[1])
wb = xlsxwriter.Workbook(sys.argv[2], {"constant_memory": True, "strings_to_formulas": False,
                                       "strings_to_numbers": False, "strings_to_urls": False})
ws = wb.add_worksheet("Calls")
cols = ["start", "user_upn", "call_type", "kind", "number", "country", "domestic", "status", "reason",
        "rate_name", "duration_seconds", "billed_seconds", "pool_seconds", "charged_seconds", "charge"]
ws.write_row(0, 0, cols)
parse = datetime.fromisoformat
sql = "SELECT " + ", ".join(cols) + " FROM calls WHERE tenant_id = (SELECT min(id) FROM tenants) ORDER BY start, id"
for r, row in enumerate(con.execute(sql), 1):
    ws.write_row(r, 0, (parse(row[0]),) + row[1:])
wb.close()
"""

# The storage floor: the rated calls copied into an empty calls table (same schema and indexes)
# through Python's sqlite3, in transactions of the size rate-cdrs uses, each transaction's keys
# written to the duplicate guard (call_guards) at its end in key order, as rate-cdrs writes them.
# Only the inserts and commits are timed: what storing the calls costs, with no reading, parsing or
# rating at all. With "bare" as the fourth argument the calls table has no index at all and there is
# no guard (nothing stops a call being charged twice): the least that writing the rows costs.
STORE_FLOOR = """
import os, re, sqlite3, sys, time
src = sqlite3.connect(sys.argv[1])
batch = int(sys.argv[3])
guarded = sys.argv[4] != "bare"
ddl = [r[0] for r in src.execute(
    "SELECT sql FROM sqlite_master WHERE tbl_name = 'calls' AND sql IS NOT NULL ORDER BY type DESC")]
if guarded:
    ddl += [r[0] for r in src.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'call_guards' "
                                      "AND type = 'table'")]
else:
    ddl = [re.sub(r",\\s*UNIQUE \\([^)]*\\)", "", s) for s in ddl if s.lstrip().upper().startswith("CREATE TABLE")]
    assert "UNIQUE" not in ddl[0] and len(ddl) == 1, ddl
cols = [r[1] for r in src.execute("PRAGMA table_info(calls)") if r[1] != "id"]
if guarded:
    cols = ["id", *cols]
    at_tenant, at_guard = cols.index("tenant_id"), cols.index("guard")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(sys.argv[2] + suffix):
        os.unlink(sys.argv[2] + suffix)
dst = sqlite3.connect(sys.argv[2], isolation_level=None)
dst.execute("PRAGMA journal_mode = WAL")
dst.execute("PRAGMA synchronous = NORMAL")
dst.execute("PRAGMA cache_size = -32768")
for stmt in ddl:
    dst.execute(stmt)
cursor = src.execute(f"SELECT {', '.join(cols)} FROM calls ORDER BY id")
spent = 0.0
n = 0
from credits_cli.rating.store import sql_literal as literal  # a column of one value, written as rate-cdrs does
while True:
    rows = cursor.fetchmany(batch)
    if not rows:
        break
    one = {i: literal(rows[0][i]) for i in range(len(cols)) if all(r[i] == rows[0][i] for r in rows)}
    one = {i: text for i, text in one.items() if text is not None and not (guarded and i == 0)}
    keep = [i for i in range(len(cols)) if i not in one]
    sql = (f"INSERT INTO calls ({', '.join([cols[i] for i in keep] + [cols[i] for i in one])}) "
           f"VALUES ({', '.join(['?'] * len(keep) + list(one.values()))})")
    slim = [tuple(r[i] for i in keep) for r in rows] if one else rows
    t = time.perf_counter()
    dst.execute("BEGIN IMMEDIATE")
    dst.executemany(sql, slim)
    if guarded:  # the tenant into the statement, as rate-cdrs writes it
        for tenant in sorted({r[at_tenant] for r in rows}):
            dst.executemany(f"INSERT INTO call_guards (tenant_id, guard, call_id) VALUES ({int(tenant)}, ?, ?)",
                            sorted(((r[at_guard], r[0]) for r in rows if r[at_tenant] == tenant)))
    dst.execute("COMMIT")
    spent += time.perf_counter() - t
    n += len(rows)
print(f"{n} {spent:.3f}")
"""


@dataclass
class Run:
    cmd: list[str]
    code: int
    wall: float
    maxrss_kb: int
    stdout: str
    stderr: str
    ok: bool = False

    def why(self) -> str:
        lines = [line for line in (self.stderr or self.stdout).splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "(no output)"
        return f"exit {self.code}: {last}"[:200]


def run(cmd: list[str], env: dict[str, str], ok_codes: tuple[int, ...] = (0,), timeout: float = 3600) -> Run:
    """Run cmd in its own process; wall time and the child's peak RSS (ru_maxrss, KB on Linux)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        try:
            p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        except OSError as exc:
            return Run(cmd, 127, 0.0, 0, "", f"cannot start {cmd[0]}: {exc}")
        killer = threading.Timer(timeout, p.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(p.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - t
        p.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        r = Run(cmd, code, wall, usage.ru_maxrss, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))
    r.ok = code in ok_codes
    return r


@dataclass
class Figure:
    name: str
    value: str
    target: str = ""
    status: str = ""  # PASS | FAIL | n/a | "" (information)
    note: str = ""


@dataclass
class Bench:
    args: argparse.Namespace
    figures: list[Figure] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = Path(self.args.data_dir)
        self.work = self.data / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.credits = shlex.split(self.args.credits) if self.args.credits else [sys.executable, "-m", "credits_cli"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITS_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.env = env
        year, month = (int(x) for x in self.args.month.split("-"))
        self.month_start = datetime(year, month, 1)
        self.month_end = (self.month_start + timedelta(days=32)).replace(day=1)

    # --- helpers ------------------------------------------------------------------------

    def add(self, name: str, value: str, target: str = "", status: str = "", note: str = "") -> None:
        self.figures.append(Figure(name, value, target, status, note))
        mark = f" [{status}]" if status else ""
        print(f"  {name}: {value}{mark}{'  ' + note if note else ''}", flush=True)

    def na(self, name: str, target: str, why: str) -> None:
        self.add(name, "not available", target, "n/a", why)

    def cli(self, db: Path, *args: str, now: datetime, ok_codes: tuple[int, ...] = (0,)) -> Run:
        env = dict(self.env, CREDITS_NOW=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return run([*self.credits, "--db", str(db), *args], env, ok_codes)

    @staticmethod
    def fresh(db: Path) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(db) + suffix).unlink(missing_ok=True)

    def dataset(self, n: int) -> tuple[Path, Path]:
        # The name carries a digest of the generator, so a changed generator never reuses stale files.
        digest = hashlib.sha1(Path(generate.__file__).read_bytes()).hexdigest()[:8]
        stem = f"calls-{n}-seed{self.args.seed}-{self.args.month}-{digest}"
        calls, users = self.data / f"{stem}.csv", self.data / f"{stem}.users.csv"
        if calls.exists() and users.exists():
            print(f"  using {calls.relative_to(ROOT) if calls.is_relative_to(ROOT) else calls}", flush=True)
            return calls, users
        tmp_calls, tmp_users = calls.with_suffix(".tmp"), users.with_suffix(".tmp")
        t, cpu = time.perf_counter(), time.process_time()
        generate.generate(n, self.args.seed, self.args.month, tmp_calls, tmp_users)
        dt, cpu = time.perf_counter() - t, time.process_time() - cpu
        tmp_users.replace(users)
        tmp_calls.replace(calls)
        self.add(f"generate {n:,} calls", f"{dt:.1f} s ({n / dt:,.0f} rows/s)", note=f"CPU {cpu:.1f} s")
        return calls, users

    # --- steps --------------------------------------------------------------------------

    def external(self, path: Path) -> tuple[int, Path, Path]:
        """An export given with --calls: its rows, and a users file (--users, else one made from the
        export's UPNs: usage location or US, Domestic and International Calling Plan, conferencing,
        licensed). The month range and the pinned clocks follow the calls' own start times."""
        from credits_cli.errors import InvalidInput
        from credits_cli.readers import open_records
        from credits_cli.readers.base import RowError

        try:
            _, records = open_records(path)
            n, first, last, upns = 0, datetime.max, datetime.min, {}
            for item in records:
                if isinstance(item, RowError):
                    continue
                n += 1
                first, last = min(first, item.start), max(last, item.start)
                if item.user_upn and item.user_upn not in upns:
                    upns[item.user_upn] = item.user_country or "US"
        except InvalidInput as exc:
            raise SystemExit(f"error: {exc}") from None
        if not n:
            raise SystemExit(f"error: {path}: no call records")
        self.month_start = datetime(first.year, first.month, first.day)
        self.month_end = datetime(last.year, last.month, last.day) + timedelta(days=1)
        print(f"  {path.name}: {n:,} calls from {first:%Y-%m-%d} to {last:%Y-%m-%d}, {len(upns):,} users", flush=True)
        if self.args.users:
            return n, path, Path(self.args.users).resolve()
        users = self.work / "external.users.csv"
        with users.open("w", encoding="utf-8", newline="") as out:
            out.write("upn,name,country,plan,conferencing,licensed\n")
            for upn, country in upns.items():
                name = upn.split("@")[0].replace(".", " ").replace(",", " ").title()
                out.write(f"{upn},{name},{country},domestic-international,true,true\n")
        return n, path, users

    def bare_read(self, n: int, calls: Path) -> float | None:
        json_file = calls.suffix.lower() == ".json"
        name = f"bare {'json.load' if json_file else 'csv.reader'} pass, {n:,}"
        script = BARE_JSON if json_file else BARE_READ
        runs = [run([sys.executable, "-c", script, str(calls)], self.env) for _ in range(3)]
        bad = next((r for r in runs if not r.ok), None)
        if bad:
            self.na(name, "", bad.why())
            return None
        best = min(r.wall for r in runs)
        self.add(name, f"{best:.2f} s", note="best of 3")
        return best

    def prepare(self, db: Path, users: Path) -> Run | None:
        """A fresh database with a tenant ready to rate: users and licenses, payment, funds, rates."""
        self.fresh(db)
        before = self.month_start - timedelta(days=1)
        steps = [
            ("tenant", "add", "bench", "--name", "Bench Corporation", "--country", "US", "--currency", "USD"),
            ("payment", "set", "--card-expiry", "2099-12", "--last4", "4242"),
            ("admin", "add", "billing@contoso.com", "--role", "billing-admin"),
            ("user", "import", str(users)),  # the users file carries the license column too
            ("topup", "1000"),
            ("autorecharge", "set", "--threshold", "200", "--amount", "1000"),
            ("rates", "load", str(RATES)),
        ]
        for step in steps:
            r = self.cli(db, *step, now=before)
            if not r.ok:
                r.stderr = f"setup `{' '.join(step[:2])}` failed, {r.why()}"
                return r
        return None

    def rate(self, n: int, calls: Path, users: Path, bare: float | None) -> tuple[Path | None, int | None]:
        db = self.work / f"rate-{n}.db"
        label = f"rate-cdrs {n:,}"
        failed = self.prepare(db, users)
        if failed is None:
            r = self.cli(db, "rate-cdrs", str(calls), "--json", now=self.month_end, ok_codes=(0, 3))
            if not r.ok:
                failed = r
                failed.stderr = f"rate-cdrs {r.why()}"
        if failed is not None:
            why = failed.stderr if failed.stderr.startswith(("setup", "rate-cdrs")) else failed.why()
            self.na(f"{label}: wall time", "", why)
            self.na(f"{label}: ratio to bare read", f"<= {ratio_target(n):.0f}x", "needs rate-cdrs")
            self.na(f"{label}: peak RSS", "<= 250 MB", "needs rate-cdrs")
            return None, None
        self.add(f"{label}: wall time", f"{r.wall:.2f} s", note=_rating_note(r.stdout))
        self.add(f"{label}: calls per second", f"{n / r.wall:,.0f}")
        limit = ratio_target(n)
        if bare:
            ratio = r.wall / bare
            self.add(f"{label}: ratio to bare read", f"{ratio:.2f}x", f"<= {limit:.0f}x",
                     "PASS" if ratio <= limit else "FAIL")
        else:
            self.na(f"{label}: ratio to bare read", f"<= {limit:.0f}x", "no bare read")
        mb = r.maxrss_kb / 1024
        self.add(f"{label}: peak RSS", f"{mb:.0f} MB", "<= 250 MB", "PASS" if mb <= 250 else "FAIL")
        self.store_floor(n, db, bare, r.wall)
        return db, r.maxrss_kb

    def store_floor(self, n: int, db: Path, bare: float | None, wall: float) -> None:
        """What storing the calls alone costs: the rated rows copied into an empty calls table."""
        from credits_cli.rating import BATCH_SIZE

        label = f"storage floor {n:,}"
        out = self.work / f"floor-{n}.db"
        spent: dict[str, float] = {}
        for variant, what in (("indexed", "inserting the calls"), ("bare", "the same rows, no index at all")):
            r = run([sys.executable, "-c", STORE_FLOOR, str(db), str(out), str(BATCH_SIZE), variant], self.env)
            self.fresh(out)
            if not r.ok:
                self.na(f"{label}: {what}", "", r.why())
                continue
            rows, seconds = r.stdout.split()
            spent[variant] = float(seconds)
            note = f"{int(rows):,} rows, {BATCH_SIZE:,} per transaction, no reading or rating"
            if bare:
                note += f"; {spent[variant] / bare:.2f}x the bare read on its own"
            self.add(f"{label}: {what}", f"{spent[variant]:.2f} s", note=note)
        if bare and "indexed" in spent:
            self.add(f"rate-cdrs {n:,}: ratio to bare read + storage floor", f"{wall / (bare + spent['indexed']):.2f}x")

    def report(self, n: int, db: Path | None) -> None:
        label = f"report --xlsx {n:,}"
        if db is None:
            self.na(f"{label}: ratio to bare openpyxl dump", "<= 1.5x", "needs a rated database (rate-cdrs)")
            return
        out = self.work / f"report-{n}.xlsx"
        bare_out = self.work / f"bare-{n}.xlsx"
        out.unlink(missing_ok=True)
        last = (self.month_end - timedelta(days=1)).date().isoformat()
        r = self.cli(db, "report", "--from", self.month_start.date().isoformat(), "--to", last,
                     "--xlsx", str(out), now=self.month_end)
        if not r.ok:
            self.na(f"{label}: ratio to bare openpyxl dump", "<= 1.5x", r.why())
            return
        b = run([sys.executable, "-c", BARE_XLSX, str(db), str(bare_out)], self.env)
        if not b.ok:
            self.add(f"{label}: wall time", f"{r.wall:.2f} s")
            self.na(f"{label}: ratio to bare openpyxl dump", "<= 1.5x", f"bare dump {b.why()}")
            return
        ratio = r.wall / b.wall
        self.add(f"{label}: wall time", f"{r.wall:.2f} s", note=f"peak RSS {r.maxrss_kb / 1024:.0f} MB")
        self.add(f"bare openpyxl write-only dump, {n:,}", f"{b.wall:.2f} s",
                 note=f"peak RSS {b.maxrss_kb / 1024:.0f} MB")
        self.add(f"{label}: ratio to bare openpyxl dump", f"{ratio:.2f}x", "<= 1.5x",
                 "PASS" if ratio <= 1.5 else "FAIL")
        xw_out = self.work / f"bare-xlsxwriter-{n}.xlsx"
        x = run([sys.executable, "-c", BARE_XLSXWRITER, str(db), str(xw_out)], self.env)
        xw_out.unlink(missing_ok=True)
        if not x.ok:
            self.na(f"bare XlsxWriter constant-memory dump, {n:,}", "", x.why())
            return
        self.add(f"bare XlsxWriter constant-memory dump, {n:,}", f"{x.wall:.2f} s",
                 note=f"peak RSS {x.maxrss_kb / 1024:.0f} MB")
        self.add(f"{label}: ratio to bare XlsxWriter dump", f"{r.wall / x.wall:.2f}x")

    def startup(self) -> None:
        # An installed package has its bytecode; a checkout gets it on first import, unless
        # PYTHONDONTWRITEBYTECODE is set (then every start compiles the package again: 40 ms here).
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "credits_cli")], check=False,
                       capture_output=True)
        db = self.work / "startup.db"
        self.fresh(db)
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        ready = shown = None  # why the writing commands, and the reading ones, cannot be measured
        for step in (("tenant", "add", "bench", "--name", "Bench", "--country", "US"),
                     ("payment", "set", "--card-expiry", "2099-12"), ("topup", "100"),
                     ("user", "add", "ada@contoso.com", "--country", "US", "--plan", "domestic")):
            r = self.cli(db, *step, now=now)
            if not r.ok:
                ready = shown = f"setup `{' '.join(step[:2])}` failed, {r.why()}"
                break
        # something for the reading commands to show: the bundled example's users, a rate table and its
        # month of calls (--allow-old: the example's month is in the past)
        for step in (("user", "import", str(ROOT / "examples" / "users.csv")), ("rates", "load", str(RATES)),
                     ("rate-cdrs", str(ROOT / "examples" / "PSTN.calls.2026-10-01.csv"), "--allow-old")):
            if shown:
                break
            r = self.cli(db, *step, now=now)
            if not r.ok:
                shown = f"setup `{' '.join(step[:2])}` failed, {r.why()}"
        n = self.args.startup_runs

        def median(cmd: list[str]) -> tuple[float | None, str]:
            env = dict(self.env, CREDITS_NOW=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
            run(cmd, env)  # warm the file cache
            runs = [run(cmd, env) for _ in range(n)]
            bad = next((r for r in runs if not r.ok), None)
            if bad:
                return None, bad.why()
            return statistics.median(r.wall for r in runs), f"median of {n}, min {min(r.wall for r in runs):.3f} s"

        base, why = median([sys.executable, "-c", "pass"])
        if base is None:
            self.na("start-up: python -c pass", "", why)
        else:
            self.add("start-up: python -c pass", f"{base:.3f} s", note=why)
        on_db = [*self.credits, "--db", str(db)]
        # (name, command, target in seconds, why it cannot run): reading commands, then writing ones
        # (topup buys a lot and autorecharge set saves its settings at each run; license assign finds the
        # license held after the warm-up run and changes nothing, but starts and checks all the same).
        checks = [("credits --help", [*self.credits, "--help"], 0.25, None),
                  ("credits balance", [*on_db, "balance"], 0.25, ready),
                  ("credits topup 100", [*on_db, "topup", "100"], 0.5, ready),
                  ("credits license assign", [*on_db, "license", "assign", "ada@contoso.com"], 0.5, ready),
                  ("credits autorecharge set", [*on_db, "autorecharge", "set", "--threshold", "50", "--amount",
                                                "100"], 0.5, ready)]
        # every other command under 0.5 s too: the ones that read, over the example's month
        checks += [(f"credits {' '.join(words)}", [*on_db, *words], 0.5, shown)
                   for words in (("tenant", "show"), ("user", "list"), ("ledger",), ("calls",), ("verify",),
                                 ("overview",), ("report",), ("recommend",), ("reconcile",), ("changes",))]
        for name, cmd, limit, blocked in checks:
            target = f"< {limit:g} s"
            if blocked:
                self.na(f"start-up: {name}", target, blocked)
                continue
            value, why = median(cmd)
            if value is None:
                self.na(f"start-up: {name}", target, why)
                continue
            extra = f"{why}; +{value - base:.3f} s over python -c pass" if base is not None else why
            self.add(f"start-up: {name}", f"{value:.3f} s", target, "PASS" if value < limit else "FAIL", extra)

    def year(self, n: int) -> None:
        """A year in the table: 13 months of ``n`` calls each (the generator's --variety: the same users,
        each month's own calls), the months before ``--month`` first. Month 1 is rated into an empty
        database, months 2 to 12 after it, then month 13 into the database that holds the 12: the
        figure is month 13's time over month 1's, both measured in this run."""
        year, mon = (int(x) for x in self.args.month.split("-"))
        firsts = [datetime(year + (mon - 14 + k) // 12, (mon - 14 + k) % 12 + 1, 1) for k in range(1, 14)]
        digest = hashlib.sha1(Path(generate.__file__).read_bytes()).hexdigest()[:8]
        files: list[tuple[Path, Path]] = []
        for first in firsts:
            stem = f"year-{n}-seed{self.args.seed}-{first:%Y-%m}-{digest}"
            calls, users = self.data / f"{stem}.csv", self.data / f"{stem}.users.csv"
            if not (calls.exists() and users.exists()):
                tmp_calls, tmp_users = calls.with_suffix(".tmp"), users.with_suffix(".tmp")
                generate.generate(n, self.args.seed, f"{first:%Y-%m}", tmp_calls, tmp_users, variety=True)
                tmp_users.replace(users)
                tmp_calls.replace(calls)
            files.append((calls, users))
        db = self.work / f"year-{n}.db"
        self.month_start = firsts[0]
        failed = self.prepare(db, files[0][1])
        label = f"a year in the table, {n:,} calls a month"
        if failed is not None:
            self.na(f"{label}: month 13 / month 1", "<= 1.5x", failed.why())
            return
        walls: list[float] = []
        for k, ((calls, _), first) in enumerate(zip(files, firsts, strict=True), start=1):
            end = (first + timedelta(days=32)).replace(day=1)
            r = self.cli(db, "rate-cdrs", str(calls), "--json", now=end, ok_codes=(0, 3, 4))
            if not r.ok:
                self.na(f"{label}: month 13 / month 1", "<= 1.5x", f"month {k}: rate-cdrs {r.why()}")
                return
            walls.append(r.wall)
            print(f"  month {k} ({first:%Y-%m}): {r.wall:.2f} s, peak RSS {r.maxrss_kb / 1024:.0f} MB", flush=True)
            if k in (1, 13):
                self.add(f"{label}: month {k} ({first:%Y-%m}) into {'an empty database' if k == 1 else '12 months'}",
                         f"{r.wall:.2f} s", note=f"{n / r.wall:,.0f} calls/s, peak RSS {r.maxrss_kb / 1024:.0f} MB")
        self.add(f"{label}: months 2 to 12", f"{sum(walls[1:12]):.1f} s",
                 note=", ".join(f"{w:.1f}" for w in walls[1:12]))
        size = db.stat().st_size / 2**30
        self.fresh(db)
        # Month 1 again into an empty database, right after month 13: on a shared machine the load drifts
        # over a long run, and the two figures compared should be taken under the same load.
        again = self.work / f"year-{n}-again.db"
        self.month_start = firsts[0]
        failed = self.prepare(again, files[0][1])
        end = (firsts[0] + timedelta(days=32)).replace(day=1)
        r = failed or self.cli(again, "rate-cdrs", str(files[0][0]), "--json", now=end, ok_codes=(0, 3, 4))
        self.fresh(again)
        if not r.ok:
            self.na(f"{label}: month 13 / month 1", "<= 1.5x", f"month 1 again: {r.why()}")
            return
        self.add(f"{label}: month 1 again, into an empty database after month 13", f"{r.wall:.2f} s",
                 note=f"peak RSS {r.maxrss_kb / 1024:.0f} MB")
        ratio = walls[12] / r.wall
        self.add(f"{label}: month 13 / month 1", f"{ratio:.2f}x", "<= 1.5x", "PASS" if ratio <= 1.5 else "FAIL",
                 f"month 1 as rated right after month 13; {walls[12] / walls[0]:.2f}x its first run; "
                 f"database {size:.1f} GiB after month 13")

    # --- the whole run --------------------------------------------------------------------

    def main(self) -> int:
        sizes = [20_000] if self.args.quick else self.args.sizes
        given: tuple[int, Path, Path] | None = None
        if self.args.calls:
            given = self.external(Path(self.args.calls).resolve())
            sizes = [given[0]]
        rss: dict[int, int] = {}
        last_db: Path | None = None
        if self.args.year:
            print(f"a year in the table: 13 months of {self.args.year:,} calls", flush=True)
            self.year(self.args.year)
            if self.args.year_only:
                self.print_table()
                if self.args.write_results:
                    self.write_results(Path(self.args.write_results))
                return 1 if any(f.status == "FAIL" for f in self.figures) else 0
        for n in sizes:
            print(f"{n:,} calls", flush=True)
            calls, users = given[1:] if given else self.dataset(n)
            bare = self.bare_read(n, calls)
            db, peak = self.rate(n, calls, users, bare)
            if peak is not None:
                rss[n] = peak
            last_db = db
        if len(sizes) > 1:
            small, big = min(sizes), max(sizes)
            name = f"peak RSS {big:,} / {small:,}"
            if small in rss and big in rss:
                growth = rss[big] / rss[small]
                self.add(name, f"{growth:.2f}x", "<= 1.3x", "PASS" if growth <= 1.3 else "FAIL")
            else:
                self.na(name, "<= 1.3x", "needs rate-cdrs")
        if not self.args.skip_report:
            print("report", flush=True)
            self.report(max(sizes), last_db)
        print("start-up", flush=True)
        self.startup()
        self.print_table()
        if self.args.write_results:
            self.write_results(Path(self.args.write_results))
        return 1 if any(f.status == "FAIL" for f in self.figures) else 0

    def rows(self) -> list[list[str]]:
        return [[f.name, f.value, f.target, f.status, f.note] for f in self.figures]

    def print_table(self) -> None:
        head = ["figure", "value", "target", "result", "note"]
        rows = self.rows()
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
        print()
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)) + "  note")
        print("  ".join("-" * w for w in widths) + "  ----")
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[4])

    def write_results(self, path: Path) -> None:
        m = machine()
        lines = [
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {m['commit']}",
            "",
            f"Machine: {m['cpu']}, {m['nproc']} CPUs, {m['ram']} RAM, {m['os']}; Python {m['python']}, "
            f"{m['workbooks']}; load average at the end {m['load']}.",
            f"Command: `python bench/run.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}`",
            "",
            "| figure | value | target | result | note |",
            "|---|---|---|---|---|",
        ]
        for r in self.rows():
            lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
        block = "\n".join(lines) + "\n"
        if not path.exists():
            title = "# Benchmark results\n\nAppended by `python bench/run.py --write-results bench/RESULTS.md`.\n\n"
            block = title + block
        else:
            block = "\n" + block
        with path.open("a", encoding="utf-8") as f:
            f.write(block)
        print(f"\nresults appended to {path}")


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=False).stdout.strip() or "?"
    except OSError:
        commit = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    probe = subprocess.run(
        [sys.executable, "-c", "import openpyxl, openpyxl.xml as x, xlsxwriter; "
         "print(xlsxwriter.__version__, openpyxl.__version__, x.LXML)"],
        capture_output=True, text=True, check=False,
    ).stdout.split()
    xl = (f"XlsxWriter {probe[0]}, openpyxl {probe[1]} ({'with' if probe[2:] == ['True'] else 'without'} lxml)"
          if len(probe) == 3 else "no XlsxWriter or openpyxl")
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "ram": ram, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "commit": commit, "load": load, "workbooks": xl}


def ratio_target(n: int) -> float:
    """The most rate-cdrs may cost, as a multiple of a bare csv.reader pass over the same file: 5x from
    a million calls, 8x below (a start-up and a fixed cost weigh more on a small file)."""
    return 5.0 if n >= 1_000_000 else 8.0


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of row counts") from None
    if not sizes or any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive row counts")
    return sorted(set(sizes))


def _rating_note(stdout: str) -> str:
    """What the import did, from its --json summary: rows, statuses, total charged."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return ""
    statuses = ", ".join(f"{k} {v:,}" for k, v in doc.get("statuses", {}).items() if v)
    return (f"{doc.get('rows_read', 0):,} rows; {statuses}; duplicates {doc.get('duplicates', 0):,}; "
            f"charged {doc.get('total_charged')} {doc.get('currency', '')}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark credits against a bare read of the same file.")
    p.add_argument("--sizes", type=parse_sizes, default=[100_000, 1_000_000], help="comma-separated call counts")
    p.add_argument("--quick", action="store_true", help="one small size (20,000 calls)")
    p.add_argument("--seed", type=int, default=2026, help="generator seed")
    p.add_argument("--month", default="2026-10", help="YYYY-MM the calls fall in")
    p.add_argument("--credits", help="command that runs credits (default: this Python with -m credits_cli)")
    p.add_argument("--data-dir", default=str(HERE / "data"), help="where generated files and databases go")
    p.add_argument("--startup-runs", type=int, default=10, help="runs per start-up figure (median)")
    p.add_argument("--skip-report", action="store_true", help="leave out the report --xlsx step")
    p.add_argument("--write-results", metavar="FILE", help="append a markdown block with machine and date")
    p.add_argument("--year", type=int, metavar="N", help="also a year in the table: 13 months of N calls, month 13 "
                   "rated into the database of the 12 before it against month 1 into an empty one (N=1000000: "
                   "12M calls)")
    p.add_argument("--year-only", action="store_true", help="with --year: only the year")
    p.add_argument("--calls", metavar="FILE", help="benchmark this export instead of generated ones")
    p.add_argument("--users", metavar="FILE", help="with --calls: the users file to import (default: made from the "
                   "export's UPNs)")
    args = p.parse_args(argv)
    if args.year_only and not args.year:
        p.error("--year-only goes with --year")
    if args.year is not None and args.year < 1:
        p.error("--year must be a positive row count")
    if args.users and not args.calls:
        p.error("--users goes with --calls")
    for option in ("calls", "users"):
        value = getattr(args, option)
        if value and not Path(value).is_file():
            p.error(f"--{option} {value}: no such file")
    try:
        datetime.strptime(args.month, "%Y-%m")
    except ValueError:
        p.error(f"--month {args.month!r} is not YYYY-MM")
    if args.startup_runs < 1:
        p.error("--startup-runs must be at least 1")
    if args.credits and not shutil.which(shlex.split(args.credits)[0]):
        p.error(f"--credits: {shlex.split(args.credits)[0]!r} not found")
    try:
        return Bench(args).main()
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
