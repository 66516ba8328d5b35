"""license assign/unassign/list, by name and with --file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import assert_error, assert_json, dump, pin_now, rows


@pytest.fixture
def people(cli):
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    for upn in ("ada@contoso.com", "bob@contoso.com", "cy@contoso.com"):
        assert cli("user", "add", upn, "--country", "US").exit_code == 0
    return "contoso"


def licensed() -> list[str]:
    return [u for (u,) in rows("SELECT upn FROM users WHERE licensed = 1 ORDER BY upn")]


def test_assign_unassign_list(cli, people) -> None:
    doc = assert_json(cli("license", "assign", "Ada@Contoso.com", "bob@contoso.com", "--json"))
    assert doc == {"assigned": ["ada@contoso.com", "bob@contoso.com"]}
    assert licensed() == ["ada@contoso.com", "bob@contoso.com"]
    assert rows("SELECT count(*) FROM users WHERE licensed = 1 AND licensed_at IS NOT NULL") == [(2,)]
    listed = assert_json(cli("license", "list", "--json"))
    assert [u["upn"] for u in listed] == ["ada@contoso.com", "bob@contoso.com"]
    assert all(u["licensed_at"].endswith("Z") for u in listed)
    r = cli("license", "unassign", "bob@contoso.com")
    assert r.exit_code == 0 and "unassigned" in r.stdout
    assert licensed() == ["ada@contoso.com"]
    assert rows("SELECT licensed_at FROM users WHERE upn = 'bob@contoso.com'") == [(None,)]
    r = cli("license", "list")
    assert "ada@contoso.com" in r.stdout and "bob@contoso.com" not in r.stdout


def test_assign_twice_keeps_the_first_date(cli, people, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_now(monkeypatch, "2026-01-01T00:00:00Z")
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    pin_now(monkeypatch, "2026-02-01T00:00:00Z")
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    assert rows("SELECT licensed_at FROM users WHERE upn = 'ada@contoso.com'") == [("2026-01-01 00:00:00.000000",)]


def test_file(cli, people, tmp_path: Path) -> None:
    f = tmp_path / "upns.txt"
    f.write_bytes(b"\xef\xbb\xbf# licensed in January\nada@contoso.com\r\n\r\n  CY@contoso.com  \n")
    assert cli("license", "assign", "--file", str(f)).exit_code == 0
    assert licensed() == ["ada@contoso.com", "cy@contoso.com"]
    assert cli("license", "unassign", "--file", str(f), "ada@contoso.com").exit_code == 0
    assert licensed() == []


def test_unknown_upn_writes_nothing(cli, people, tmp_path: Path) -> None:
    before = dump()
    assert_error(cli("license", "assign", "ada@contoso.com", "ghost@contoso.com"), "ghost@contoso.com")
    assert dump() == before
    f = tmp_path / "upns.txt"
    f.write_text("bob@contoso.com\nnobody@contoso.com\n")
    assert_error(cli("license", "assign", "--file", str(f)), "nobody@contoso.com")
    assert dump() == before
    assert licensed() == []


@pytest.mark.parametrize("args", [[], ["--file", "/nonexistent/upns.txt"], ["not a upn"]])
def test_refusals(cli, people, args: list[str]) -> None:
    before = dump()
    assert_error(cli("license", "assign", *args))
    assert dump() == before


def test_empty_list(cli, people) -> None:
    r = cli("license", "list")
    assert r.exit_code == 0 and "nobody holds" in r.stdout
    assert assert_json(cli("license", "list", "--json")) == []
