"""Nothing lost, nothing leaked: outputs never destroy inputs, dates the world has not reached never
move the ledger, a failed import says so, and the terminal never receives an escape sequence.

Each case goes through the real command line and compares the database (and the files) before and
after where the command must refuse.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select

from credits_cli import clock
from credits_cli import db as dbmod
from credits_cli.models import ImportRun
from credits_cli.rating import in_start_order
from credits_cli.readers.base import CallRecord
from tests import procs
from tests.helpers import assert_error, assert_json, db_path, dump, pin_now

ROOT = Path(__file__).resolve().parent.parent
SETUP_AT = "2026-10-01T00:00:00Z"
NOW = "2026-11-02T09:00:00Z"

CALLS = """\
call_id,user,start,duration_seconds,kind,number
c1,ada@contoso.com,2026-10-05T10:00:00Z,61,outbound,+442079460123
c2,ada@contoso.com,2026-10-05T11:00:00Z,x,outbound,+442079460123
c3,ada@contoso.com,2026-10-06T10:00:00Z,120,outbound,+442079460123
"""


@pytest.fixture
def ready(cli, tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pin_now(monkeypatch, SETUP_AT)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    pin_now(monkeypatch, NOW)
    path = tmp_path / "calls.csv"
    path.write_text(CALLS, encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- outputs never destroy inputs ----------------------------------------------------------------


@pytest.mark.parametrize("dry", [False, True])
def test_rejects_onto_the_database_is_refused(cli, ready: Path, dry: bool) -> None:
    database = Path(db_path())
    before, content = digest(database), dump()
    args = ["rate-cdrs", str(ready), "--rejects", str(database)] + (["--dry-run"] if dry else [])
    assert_error(cli(*args), "is the database")
    assert digest(database) == before and dump() == content


def test_rejects_onto_the_database_through_a_symlink_or_a_relative_path(cli, ready: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    database = Path(db_path())
    link = tmp_path / "innocent.csv"
    link.symlink_to(database)
    before = digest(database)
    assert_error(cli("rate-cdrs", str(ready), "--rejects", str(link)), "is the database")
    monkeypatch.chdir(database.parent)
    assert_error(cli("rate-cdrs", str(ready), "--rejects", f"./{database.name}"), "is the database")
    assert_error(cli("rate-cdrs", str(ready), "--rejects", f"{database.name}-wal"), "is the database")
    assert digest(database) == before


@pytest.mark.parametrize("dry", [False, True])
def test_rejects_onto_an_input_file_is_refused(cli, ready: Path, dry: bool) -> None:
    before, content = digest(ready), dump()
    args = ["rate-cdrs", str(ready), "--rejects", str(ready)] + (["--dry-run"] if dry else [])
    assert_error(cli(*args), "input")
    assert digest(ready) == before and dump() == content


def test_rejects_into_a_missing_folder_stops_before_anything_is_written(cli, ready: Path, tmp_path: Path) -> None:
    content = dump()
    assert_error(cli("rate-cdrs", str(ready), "--rejects", str(tmp_path / "no" / "such" / "r.csv")), "no such folder")
    assert dump() == content


def test_rejects_are_written_whole_and_a_planted_symlink_is_not_followed(cli, ready: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    # what a predictable temporary name would have been
    for pid in range(os.getpid(), os.getpid() + 3):
        (tmp_path / f".rejects.csv.{pid}.tmp").symlink_to(victim)
    out = tmp_path / "rejects.csv"
    r = cli("rate-cdrs", str(ready), "--rejects", str(out))
    assert r.exit_code == 3, r.stderr
    assert out.read_text().splitlines() == ["file,line,reason",
                                            "calls.csv,3,duration_seconds 'x' is not a whole number of seconds"]
    assert victim.read_text() == "keep me\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rejects.csv.credits-")]


def test_a_stale_temporary_of_a_killed_run_is_swept(cli, ready: Path, tmp_path: Path) -> None:
    dead = 2**22 + 12345  # above any pid this machine hands out
    stale = tmp_path / f".rejects.csv.credits-{dead}-abcd.tmp"
    stale.write_text("half a file")
    assert cli("rate-cdrs", str(ready), "--rejects", str(tmp_path / "rejects.csv")).exit_code == 3
    assert not stale.exists()


def test_rows_rejected_are_streamed_not_kept(cli, ready: Path, tmp_path: Path) -> None:
    lines = ["call_id,user,start,duration_seconds,kind,number"]
    lines += [f"b{i},ada@contoso.com,2026-10-05T10:00:00Z,-{i + 1},outbound,+442079460123" for i in range(3000)]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "rejects.csv"
    r = cli("rate-cdrs", str(path), "--rejects", str(out), "--json")
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    assert doc["rejected"] == 3000
    assert len(out.read_text().splitlines()) == 3001
    assert "3,000 rows rejected (first: bad.csv line 2: duration_seconds -1 is negative)" in r.stderr


# --- dates the world has not reached ---------------------------------------------------------------


def test_a_call_dated_in_the_future_is_a_rejected_row_and_moves_nothing(cli, ready: Path, tmp_path: Path) -> None:
    assert cli("autorecharge", "set", "--threshold", "99", "--amount", "50").exit_code == 0
    path = tmp_path / "typo.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "f1,ada@contoso.com,2098-10-05T10:00:00Z,61,outbound,+442079460123\n"
                    "f2,ada@contoso.com,2027-10-05T10:00:00Z,61,outbound,+442079460123\n")
    balance = assert_json(cli("balance", "--json"))["balance"]
    out = tmp_path / "rejects.csv"
    r = cli("rate-cdrs", str(path), "--rejects", str(out), "--json")
    assert r.exit_code == 3, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rejected"] == 2
    assert doc["recharges"] == {"succeeded": 0, "failed": 0, "failure": None, "amount": "0.0000"}
    reasons = out.read_text()
    assert "2098-10-05T10:00:00Z, after now" in reasons and "2027-10-05T10:00:00Z, after now" in reasons
    assert assert_json(cli("balance", "--json"))["balance"] == balance
    ledger = assert_json(cli("ledger", "--json"))
    assert [e["kind"] for e in ledger["entries"]] == ["topup"]
    assert all(e["occurred_at"] <= NOW for e in ledger["entries"])
    assert cli("verify").exit_code == 0


def test_a_call_older_than_thirteen_months_needs_allow_old(cli, ready: Path, tmp_path: Path) -> None:
    path = tmp_path / "old.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "o1,ada@contoso.com,2025-09-30T10:00:00Z,61,outbound,+442079460123\n")
    r = cli("rate-cdrs", str(path), "--json")
    assert r.exit_code == 3 and json.loads(r.stdout)["rejected"] == 1
    assert "--allow-old" in r.stderr
    r = cli("rate-cdrs", str(path), "--allow-old", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["statuses"]["charged"] == 1


# --- a failed import says so -------------------------------------------------------------------------


def test_an_import_that_fails_part_way_is_recorded_as_failed(cli, ready: Path, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    from credits_cli import rating

    real = rating.rate_batch
    calls = {"n": 0}

    def breaks_on_the_second(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(rating, "rate_batch", breaks_on_the_second)
    monkeypatch.setenv("CREDITS_RATE_BATCH", "1")
    r = cli("rate-cdrs", str(ready))
    assert r.exit_code == 1 and "the disk went away" in r.stderr
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        runs = s.exec(select(ImportRun)).all()
    assert len(runs) == 1 and runs[0].finished_at is not None
    assert json.loads(runs[0].summary)["failed"] == "the disk went away"


def test_nothing_committed_leaves_no_import_record(cli, ready: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from credits_cli import rating

    def breaks(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("broken at once")

    monkeypatch.setattr(rating, "rate_batch", breaks)
    content = dump()
    assert cli("rate-cdrs", str(ready)).exit_code == 1
    assert dump() == content


# --- temporary files and folders -------------------------------------------------------------------


def test_sorting_a_large_input_leaves_no_file_behind_whatever_happens(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    records = [CallRecord("f", i, f"id-{i}", "", datetime(2026, 10, 1 + i % 20), 60, "user_out", "+1206555")
               for i in range(50)]
    ordered = in_start_order(iter(records), lambda e: None, memory_records=7)
    first = next(ordered)
    assert first.start == datetime(2026, 10, 1)
    assert list(folder.iterdir()) == []  # the runs on disk have no name: a kill -9 leaves nothing
    assert len(list(ordered)) == 49


def test_a_missing_temporary_folder_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from credits_cli.errors import InvalidInput

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    records = [CallRecord("f", i, f"id-{i}", "", datetime(2026, 10, 1), 60, "user_out", "+1") for i in range(10)]
    with pytest.raises(InvalidInput, match="cannot sort the calls: temporary files in .*gone"):
        list(in_start_order(iter(records), lambda e: None, memory_records=3))


def test_a_full_disk_while_sorting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs are written into the spill file by polars itself: the disk's error still comes out as the
    one line, not as polars' own."""
    import errno

    from credits_cli.errors import InvalidInput
    from credits_cli.rating import ordering

    class Full:  # a spill file on a disk with no room left
        def __init__(self) -> None:
            self.file = tempfile.TemporaryFile()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name: str) -> object:
            return getattr(self.file, name)

    monkeypatch.setattr(ordering, "_temporary", Full)
    records = [CallRecord("f", i, f"id-{i}", "", datetime(2026, 10, 1), 60, "user_out", "+1") for i in range(10)]
    with pytest.raises(InvalidInput, match="cannot sort the calls: temporary files in .*: no space left on device"):
        list(in_start_order(iter(records), lambda e: None, memory_records=3))


# --- verify, the terminal, the database URL ----------------------------------------------------------


def test_verify_notices_a_free_call_that_carries_a_charge(cli, ready: Path) -> None:
    assert cli("rate-cdrs", str(ready)).exit_code == 3
    con = sqlite3.connect(db_path())
    con.execute("UPDATE calls SET status = 'free' WHERE external_id = 'c1'")
    con.commit()
    con.close()
    assert_error(cli("verify"), "call c1: status free but it carries a charge")


def test_no_escape_sequence_reaches_the_terminal(cli, ready: Path, tmp_path: Path) -> None:
    hostile = "Evil\x1b]0;owned\x07\x1b[2J\x9b31m Corp"
    assert cli("tenant", "add", "evil", "--name", hostile, "--country", "US").exit_code == 0
    path = tmp_path / "esc.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "e\x1b[31m1,ada@contoso.com,2026-10-05T10:00:00Z,61,outbound,+442079460123\n")
    outputs = [
        cli("tenant", "list"),
        cli("--tenant", "evil", "tenant", "show"),
        cli("--tenant", "contoso", "rate-cdrs", str(path)),
        cli("--tenant", "contoso", "calls"),
    ]
    for r in outputs:
        assert "\x1b" not in r.stdout and "\x1b" not in r.stderr and "\x9b" not in r.stdout, (r.stdout, r.stderr)
    assert "Evil" in outputs[0].stdout


def test_a_database_url_with_a_bad_port_is_one_line(cli) -> None:
    err = assert_error(cli("--db", "postgresql://ada:s3cret@127.0.0.1:abc/books", "tenant", "list"))
    assert "cannot use database URL" in err and "s3cret" not in err


@pytest.mark.slow
@pytest.mark.skipif(procs.on_postgres, reason="measures a process against an SQLite file")
def test_millions_of_bad_rows_stay_in_bounded_memory(tmp_path: Path) -> None:
    """Two million bad rows are refused once they outnumber the good ones, in bounded memory, and
    nothing is charged; 150,000 bad rows among as many good ones are set aside, streamed to the file."""
    from tests.test_hostile import _peak_rss_mb

    db = str(tmp_path / "c.db")
    env = procs.cli_env(db, CREDITS_NOW=NOW)
    for args in (["tenant", "add", "contoso", "--name", "C", "--country", "US"],
                 ["rates", "load", str(ROOT / "rates" / "default-usd.yaml")]):
        procs.run(db, *args, env=env)
    bad = "b,ada@contoso.com,2026-10-05T10:00:00Z,-1,outbound,+442079460123\n"
    header = "call_id,user,start,duration_seconds,kind,number\n"
    path = tmp_path / "bad.csv"
    with path.open("w") as handle:
        handle.write(header)
        for _ in range(2000):
            handle.write(bad * 1000)
    out = tmp_path / "rejects.csv"
    done, peak = _peak_rss_mb(["rate-cdrs", str(path), "--rejects", str(out)], env)
    assert done.returncode == 1 and "more than 100,000 rows rejected" in done.stderr, done.stderr
    assert peak < 300, peak
    assert procs.run(db, "calls", "--json", env=env).stdout.count('"external_id"') == 0

    mixed = tmp_path / "mixed.csv"
    with mixed.open("w") as handle:
        handle.write(header)
        for n in range(150_000):
            handle.write(f"g{n},ada@contoso.com,2026-10-05T10:00:00Z,0,outbound,+442079460123\n")
            handle.write(bad)
    done, peak = _peak_rss_mb(["rate-cdrs", str(mixed), "--rejects", str(out)], env)
    assert done.returncode == 3, done.stderr
    assert peak < 300, peak
    with out.open() as handle:
        assert sum(1 for _ in handle) == 150_001


def test_clock_is_restored_between_tests() -> None:
    assert abs((clock.now() - datetime.utcnow()).total_seconds()) < 5


@pytest.mark.parametrize("command", [["user", "import"], ["license", "assign", "--file"], ["rates", "load"],
                                     ["rate-cdrs"]])
def test_devices_and_pipes_are_refused_not_read_forever(cli, ready: Path, tmp_path: Path, command) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    content = dump()
    for path in ("/dev/zero", str(fifo)):
        r = cli(*command, path)
        assert r.exit_code == 1 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert dump() == content


def test_an_unwritable_workbook_target_is_one_line(cli, ready: Path) -> None:
    assert_error(cli("report", "--xlsx", "/proc/x.xlsx"), "cannot write /proc/x.xlsx")
    assert_error(cli("report", "--csv", "/proc/nowhere"), "cannot create /proc/nowhere")
