"""Progress that says something, on a terminal only: rows done of the total (the file's size tells it
before the count is known), the rate and the time left; nothing on stderr otherwise."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from credits_cli.cli import progress
from tests.helpers import pin_now

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def test_rows_are_told_from_the_file_before_it_is_read(tmp_path: Path) -> None:
    assert progress.estimate_rows(EXAMPLES / "PSTN.calls.2026-10-01.csv") == 49  # read whole: exact
    graph = progress.estimate_rows(EXAMPLES / "getPstnCalls.json")
    rows = sum(len(page["value"]) for page in json.loads((EXAMPLES / "getPstnCalls.json").read_text()))
    assert graph == rows
    inside = progress.estimate_rows(EXAMPLES / "Calls.Export.example.zip")
    assert inside is not None and inside >= 49
    big = tmp_path / "big.csv"
    row = "c{i},ada@contoso.com,2026-01-02T10:00:00Z,60,outbound,+442079460123\n"
    rows40k = "".join(row.format(i=i) for i in range(40_000))
    big.write_text("call_id,user,start,duration_seconds,kind,number\n" + rows40k)
    guess = progress.estimate_rows(big)
    assert guess is not None and abs(guess - 40_000) < 40_000 * 0.05  # from its first 256 KiB and its size
    assert progress.estimate_rows(tmp_path / "missing.csv") is None
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert progress.estimate_rows(broken) is None
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    assert progress.estimate_rows(tmp_path / "empty.zip") is None


def test_rating_tells_progress_per_chunk(cli, tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from credits_cli import db as dbmod
    from credits_cli import rating
    from credits_cli.readers import open_records

    pin_now(monkeypatch, "2026-01-01T00:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    path = tmp_path / "calls.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n" + "".join(
        f"c{i},,2026-01-02T10:{i:02d}:00Z,60,inbound,+12065550100\n" for i in range(10)), encoding="utf-8")
    pin_now(monkeypatch, "2026-01-03T00:00:00Z")
    monkeypatch.setattr(rating, "CHUNK_ROWS", 3)
    told: list[int] = []
    name, records = open_records(path, notes=True)
    summary = rating.rate_records(dbmod.open_database(os.environ["CREDITS_DB"]), None, [(str(path), name, records)],
                                  progress=told.append)
    assert summary.statuses["free"] == 10
    assert told == [3, 3, 3, 1]  # a chunk at a time, within the one transaction of the batch


def test_nothing_on_stderr_without_a_terminal(cli, office) -> None:
    r = cli("rate-cdrs", str(EXAMPLES / "PSTN.calls.2026-10-01.csv"))  # all duplicates now
    assert r.exit_code == 0 and r.stderr == ""
    assert not progress.wanted(json_out=False)  # the test's stderr is no terminal


# --- on a terminal ---------------------------------------------------------------------------------


def _stderr_on_a_terminal(args: list[str], db: str, now: str) -> tuple[int, str, str]:
    """Run the real command with stderr (and stdin) on a pseudo-terminal and stdout on a pipe."""
    import pty

    leader, follower = pty.openpty()
    env = dict(os.environ, CREDITS_DB=db, PYTHONPATH=str(ROOT), COLUMNS="120", CREDITS_NOW=now)
    proc = subprocess.Popen([sys.executable, "-m", "credits_cli", *args], stdin=follower, stdout=subprocess.PIPE,
                            stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    out = proc.stdout.read().decode() if proc.stdout else ""
    return proc.wait(timeout=60), out, seen.decode("utf-8", "replace")


def test_progress_on_a_terminal(cli, tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = "2026-01-03T00:00:00Z"
    pin_now(monkeypatch, now)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    path = tmp_path / "calls.csv"
    path.write_text("call_id,user,start,duration_seconds,kind,number\n" + "".join(
        f"c{i},,2026-01-02T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,60,inbound,+12065550100\n"
        for i in range(30_000)), encoding="utf-8")
    db = os.environ["CREDITS_DB"]
    code, out, err = _stderr_on_a_terminal(["rate-cdrs", str(path), "--json"], db, now)
    assert code == 0 and json.loads(out)["statuses"]["free"] == 30_000
    assert "rating" not in err and "reading" not in err  # JSON for a script: no progress
    code, out, err = _stderr_on_a_terminal(["rate-cdrs", str(path)], db, now)  # all duplicates now
    assert code == 0 and "Rating summary" in out
    assert "reading" in err and "rows" in err and ("of ~" in err or "of 30,000" in err)
    assert "rating" in err and "30,000 calls" in err
    book = tmp_path / "r.xlsx"
    code, out, err = _stderr_on_a_terminal(["report", "--month", "2026-01", "--xlsx", str(book)], db, now)
    assert code == 0 and book.is_file()
    assert "writing" in err and "rows" in err
