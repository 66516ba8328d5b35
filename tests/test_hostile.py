"""Broken and malicious input through the real commands: never a traceback.

The corpus is in tests/hostile/ (small files; the big ones are made here at run
time). Each case runs one command (``rate-cdrs``, ``rates load``, ``user
import``) on one file and expects either

* a broken *file*: exit 1, one ``error: ...`` line on stderr naming the file,
  and the database exactly as before (a content dump compared), or
* broken *rows*: exit 3 with the rejected rows' line numbers (``--rejects``),
  and only the good rows kept.

The 10 MB single field runs in its own process so its peak memory can be
measured. Formula-leading names in users and call records go through
``report --xlsx`` and the workbook is read back: no formula cell anywhere.
The readers' fuzzing with hypothesis is in tests/test_readers.py.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests import dbdump, procs
from tests.helpers import pin_now

HERE = Path(__file__).resolve().parent / "hostile"
ROOT = HERE.parent.parent
NOW = "2026-11-02T09:00:00Z"
GOOD_ID = "11111111-0000-0000-0000-000000000001"


@pytest.fixture
def ready(cli, tenant, monkeypatch: pytest.MonkeyPatch, isolated_db: str) -> str:
    pin_now(monkeypatch, NOW)
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    return isolated_db


def one_error_line(stderr: str, *words: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word.lower() in lines[0].lower(), lines[0]


# (command, file, words the error line must hold)
BROKEN_FILES = [
    (["rate-cdrs"], "empty.csv", ["empty"]),
    (["rate-cdrs"], "binary.csv", ["binary"]),
    (["rate-cdrs"], "truncated.json", ["truncated"]),
    (["rate-cdrs"], "wrong_header.csv", ["not a call-record file"]),
    (["rate-cdrs"], "utf16_nobom.csv", ["UTF-16", "byte order mark"]),
    (["rates", "load"], "python_tag.yaml", ["not a valid rate table"]),
    (["rates", "load"], "billion_laughs.yaml", ["not a valid rate table"]),
    (["rates", "load"], "empty.csv", []),
    (["rates", "load"], "binary.csv", []),
    (["user", "import"], "broken_users.csv", ["line 3", "nothing imported"]),
    (["user", "import"], "binary.csv", []),
    (["user", "import"], "empty.csv", []),
    (["user", "import"], "utf16_bom.csv", []),
]


@pytest.mark.parametrize(("command", "name", "words"), BROKEN_FILES, ids=[f"{c[-1]}-{n}" for c, n, _ in BROKEN_FILES])
def test_broken_file_is_one_line_and_touches_nothing(cli, ready: str, command: list[str], name: str,
                                                     words: list[str]) -> None:
    before = dbdump.content(ready)
    result = cli(*command, str(HERE / name))
    assert result.exit_code == 1, result.stdout + result.stderr
    one_error_line(result.stderr, *words)
    assert dbdump.content(ready) == before


def test_python_tags_are_never_run(cli, ready: str, tmp_path: Path) -> None:
    marker = Path("/tmp/credits-pwned")
    marker.unlink(missing_ok=True)
    assert cli("rates", "load", str(HERE / "python_tag.yaml")).exit_code == 1
    assert not marker.exists()


# (file, line numbers rejected, external ids kept)
BROKEN_ROWS = [
    ("huge_duration.csv", {3, 4}, {GOOD_ID}),
    ("dates_out_of_range.csv", {3, 4, 5}, {GOOD_ID}),
    ("nul_bytes.csv", None, {GOOD_ID}),
]


@pytest.mark.parametrize(("name", "lines", "kept"), BROKEN_ROWS, ids=[n for n, _, _ in BROKEN_ROWS])
def test_broken_rows_are_rejected_with_line_numbers_and_good_rows_kept(
    cli, ready: str, tmp_path: Path, name: str, lines: set[int] | None, kept: set[str]
) -> None:
    rejects = tmp_path / "rejects.csv"
    result = cli("rate-cdrs", str(HERE / name), "--rejects", str(rejects))
    assert result.exit_code == 3, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    with rejects.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["file"] == name and r["line"].isdigit() and r["reason"] for r in rows)
    if lines is not None:
        assert {int(r["line"]) for r in rows} == lines
    calls = dbdump.content(ready)["calls"]
    assert {dict(c)["external_id"] for c in calls} == kept


@pytest.mark.parametrize("name", ["utf8_bom.csv", "utf16_bom.csv"])
def test_utf8_and_utf16_with_a_bom_are_read_like_plain_utf8(cli, ready: str, name: str) -> None:
    result = cli("rate-cdrs", str(HERE / name), "--json")
    assert result.exit_code == 0, result.stderr
    assert len(dbdump.content(ready)["calls"]) == 2


def _peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``credits ARGS`` from a fresh interpreter that reports its child's peak RSS (MB)."""
    probe = (
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(r.returncode)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *procs.command(*args)], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )
    *stderr, peak = done.stderr.rstrip("\n").split("\n")
    done.stderr = "\n".join(stderr)
    return done, int(peak) / 1024


@pytest.mark.parametrize("shape", ["field", "unterminated"])
def test_ten_megabyte_field_in_bounded_memory(ready: str, tmp_path: Path, shape: str) -> None:
    good = (HERE / "good_calls.csv").read_text(encoding="utf-8").splitlines()
    header, first, second = good
    big = "x" * (10 * 1024 * 1024)
    path = tmp_path / "big.csv"
    if shape == "field":  # one row's display name is 10 MB: that row is rejected, the others kept
        cells = second.split(",")
        cells[6] = big
        path.write_text("\r\n".join([header, first, ",".join(cells), ""]), encoding="utf-8")
    else:  # a quote opened and never closed: the rest of the file is one 10 MB field
        path.write_text("\r\n".join([header, first, '"' + big]), encoding="utf-8")
    before = dbdump.content(ready)
    done, peak = _peak_rss_mb(["rate-cdrs", str(path)], procs.cli_env(ready, CREDITS_NOW=NOW))
    assert "Traceback" not in done.stderr
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    if done.returncode == 1:
        one_error_line(done.stderr)
        assert dbdump.content(ready) == before
    else:
        assert done.returncode in (0, 3), done.stderr
        ids = {dict(c)["external_id"] for c in dbdump.content(ready)["calls"]}
        assert GOOD_ID in ids


def test_formula_names_never_become_formulas_in_the_workbook(cli, ready: str, tmp_path: Path) -> None:
    assert cli("user", "import", str(HERE / "formula_users.csv")).exit_code == 0
    result = cli("rate-cdrs", str(HERE / "formula_calls.csv"), "--rejects", str(tmp_path / "rejects.csv"))
    assert result.exit_code == 3, result.stderr  # the call to '=HYPERLINK("x")' is not a phone number
    assert "line 4" in (tmp_path / "rejects.csv").read_text(encoding="utf-8").replace(",4,", " line 4 ")
    out = tmp_path / "report.xlsx"
    result = cli("report", "--from", "2026-10-01", "--to", "2026-10-31", "--xlsx", str(out))
    assert result.exit_code == 0, result.stderr
    workbook = load_workbook(out)
    texts = set()
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.add(cell.value)
    joined = "\n".join(texts)
    # The names are there, as text.
    for name in ('HYPERLINK("http://evil.example","click")', "SUM(A1)"):
        assert name in joined

