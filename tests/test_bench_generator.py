"""The benchmark's generator of Teams PSTN usage exports: deterministic, well-formed, self-consistent."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The Calling Plans columns, in order, as DOMAIN.md lists them (written out here, not imported).
EXPECTED_COLUMNS = [
    "UsageId", "Call ID", "Conference ID", "User Location", "AAD ObjectId", "UPN", "User Display Name",
    "Caller ID", "Call Type", "Number Type", "Domestic/International", "Destination Dialed",
    "Destination Number", "Start Time", "End Time", "Duration Seconds", "Connection Fee", "Charge",
    "Currency", "Capability",
]
CALL_TYPES = {"user_in", "user_out", "user_out_conf", "user_out_transfer", "user_out_forwarding",
              "conf_in", "conf_out", "unassigned_in", "ucap_in", "ucap_out"}


def load_generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_generate"] = module
    spec.loader.exec_module(module)
    return module


gen = load_generator()


def make(tmp_path: Path, calls: int, seed: int = 7, name: str = "a") -> tuple[Path, Path]:
    out, users = tmp_path / f"{name}.csv", tmp_path / f"{name}-users.csv"
    assert gen.generate(calls, seed, "2026-10", out, users) == calls
    return out, users


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a_calls, a_users = make(tmp_path, 1500, seed=11, name="a")
    b_calls, b_users = make(tmp_path, 1500, seed=11, name="b")
    assert a_calls.read_bytes() == b_calls.read_bytes()
    assert a_users.read_bytes() == b_users.read_bytes()
    c_calls, _ = make(tmp_path, 1500, seed=12, name="c")
    assert c_calls.read_bytes() != a_calls.read_bytes()


@pytest.mark.parametrize("calls", [0, 1, 37, 2500])
def test_exact_row_count_and_columns(tmp_path: Path, calls: int) -> None:
    out, _ = make(tmp_path, calls)
    rows = read(out)
    assert rows[0] == EXPECTED_COLUMNS
    assert len(rows) == calls + 1
    assert all(len(r) == len(EXPECTED_COLUMNS) for r in rows)
    assert out.read_bytes().endswith(b"\r\n") and b"\n" not in out.read_bytes().replace(b"\r\n", b"")


def test_rows_are_realistic(tmp_path: Path) -> None:
    out, users_csv = make(tmp_path, 5000, seed=3)
    rows = read(out)
    col = {name: i for i, name in enumerate(rows[0])}
    data = rows[1:]
    types = Counter(r[col["Call Type"]] for r in data)
    assert set(types) == CALL_TYPES
    assert types["user_out"] > types["user_in"] > types["conf_out"] > types["unassigned_in"]

    starts = [r[col["Start Time"]] for r in data]
    for r in data:
        start = datetime.fromisoformat(r[col["Start Time"]].replace("Z", "+00:00")[:26] + "+00:00")
        end = datetime.fromisoformat(r[col["End Time"]].replace("Z", "+00:00")[:26] + "+00:00")
        seconds = int(r[col["Duration Seconds"]])
        assert (start.year, start.month) == (2026, 10)
        assert 1 <= seconds <= 4 * 3600 and (end - start).total_seconds() == seconds
        assert str(uuid.UUID(r[col["UsageId"]])) == r[col["UsageId"]]
        number = r[col["Caller ID"]]
        assert number.startswith("+") and number[1:].rstrip("*").isdigit()
        if r[col["Call Type"]] in ("ucap_in", "ucap_out", "unassigned_in"):
            assert r[col["UPN"]] == "" and r[col["AAD ObjectId"]] == ""
        else:
            assert r[col["UPN"]].endswith("@contoso.com")
    # Mostly, not strictly, in start-time order.
    inversions = sum(1 for a, b in zip(starts, starts[1:], strict=False) if b < a)
    assert 0 < inversions < len(data) * 0.05
    # A few UsageIds exported twice; the rest unique.
    ids = Counter(r[col["UsageId"]] for r in data)
    assert 0 < sum(n - 1 for n in ids.values()) < len(data) * 0.01
    # Inbound calls to the tenant's toll-free numbers.
    assert any(r[col["Caller ID"]].startswith(("+1800", "+1833", "+1844", "+1855", "+1866", "+1877", "+1888"))
               and r[col["Call Type"]] in ("conf_in", "ucap_in") for r in data)
    assert any(r[col["Domestic/International"]] == "International" for r in data)

    users = read(users_csv)
    assert users[0] == ["upn", "name", "country", "plan", "conferencing", "licensed"]
    upns = {u[0] for u in users[1:]}
    assert len(upns) == len(users) - 1 == gen.user_count(5000)
    assert {r[col["UPN"]] for r in data} - {""} <= upns
    assert {u[3] for u in users[1:]} == {"none", "domestic", "domestic-international", "payg"}
    licensed = sum(u[5] == "true" for u in users[1:])
    assert 0.85 * len(upns) < licensed < len(upns)
    assert len({u[2] for u in users[1:]}) >= 10


def test_users_file_imports(tmp_path: Path, cli, tenant) -> None:
    _, users_csv = make(tmp_path, 300)
    result = cli("user", "import", str(users_csv), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 200
    listed = json.loads(cli("user", "list", "--json").stdout)
    assert len(listed) == 200 and any(u["plan"] == "payg" for u in listed)


def test_command_line(tmp_path: Path) -> None:
    out, users = tmp_path / "c.csv", tmp_path / "u.csv"
    assert gen.main(["--calls", "50", "--seed", "1", "--out", str(out), "--users-out", str(users)]) == 0
    assert len(read(out)) == 51 and len(read(users)) == 201
    with pytest.raises(SystemExit):
        gen.main(["--calls", "5", "--month", "2026-13", "--out", str(out)])


def test_benchmark_script_reports_unavailable_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With a credits command that always fails, every credits figure is "not available"; nothing crashes."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    bench_run = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = bench_run
    spec.loader.exec_module(bench_run)
    results = tmp_path / "RESULTS.md"
    code = bench_run.main(["--sizes", "500", "--startup-runs", "1", "--data-dir", str(tmp_path / "data"),
                           "--credits", "false", "--write-results", str(results)])
    out = capsys.readouterr().out
    assert code == 0
    assert "bare csv.reader pass, 500" in out
    assert "rate-cdrs 500: wall time" in out and "not available" in out
    assert "setup `tenant add` failed, exit 1" in out
    text = results.read_text()
    assert text.startswith("# Benchmark results")
    assert "| start-up: credits --help | not available | < 0.25 s | n/a |" in text
    assert len(list((tmp_path / "data").glob("calls-500-seed2026-2026-10-????????.csv"))) == 1


def test_variety_mixes_in_every_odd_row_and_leaves_the_default_file_alone(tmp_path: Path) -> None:
    plain, _ = make(tmp_path, 3000, seed=11, name="plain")
    out = tmp_path / "odd.csv"
    assert gen.generate(3000, 11, "2026-10", out, None, variety=True) == 3000
    rows = read(out)[1:]
    types = Counter(r[8] for r in rows if len(r) > 8)
    assert {"oc_user_out", "oc_user_in", "Dr_In", "dr_out", "user_sideways"} <= set(types)
    assert any(r[19] == "FREECALL" for r in rows if len(r) == 20)
    assert any(r[18] == "EUR" for r in rows if len(r) == 20)
    assert any(r[13] == "yesterday" for r in rows if len(r) == 20)
    assert any(len(r) == 12 for r in rows)
    assert any(r[17] not in ("0.00", "0.10") for r in rows if len(r) == 20)  # Microsoft's charges
    again, _ = make(tmp_path, 3000, seed=11, name="again")
    assert plain.read_bytes() == again.read_bytes()
