"""Every table fits the terminal: at 80 columns no line is longer than 80 cells (Chinese characters take
two) and no row wraps onto a second line, so no word is broken; a wider terminal shows more columns."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len

from credits_cli.cli.common import Col, fit

RULES = ("│", "┃", "━")

#: (command, the JSON key whose rows the table shows, or None for a table without a row count to check)
TABLES = [
    (("tenant", "list"), ""),
    (("tenant", "show"), None),
    (("admin", "list"), ""),
    (("user", "list"), ""),
    (("user", "list", "--removed"), ""),
    (("license", "list"), ""),
    (("calls", "--limit", "0"), "calls"),
    (("ledger",), "entries"),
    (("rates", "list"), "tables"),
    (("rates", "list", "--entries", "--limit", "30"), None),
    (("notifications",), ""),
    (("overview",), "tenants"),
    (("changes",), ""),
    (("changes", "--all-tenants"), ""),
    (("balance",), None),
    (("balance", "--all-tenants"), None),
    (("report", "--month", "2026-10"), None),
    (("report", "--month", "2026-10", "--all-tenants"), None),
]


def narrow(cli, *args: str, columns: int = 80):
    from typer.testing import CliRunner

    from credits_cli.cli.app import app

    return CliRunner(env={"COLUMNS": str(columns)}).invoke(app, list(args), catch_exceptions=False)


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(rule in line for rule in RULES)]


@pytest.mark.parametrize("args,key", TABLES, ids=[" ".join(a) for a, _ in TABLES])
def test_tables_fit_80_columns(cli, office, args: tuple[str, ...], key: str | None) -> None:
    cli("user", "remove", "john.doe@contoso.com", "--yes")
    cli("admin", "add", "it@contoso.com", "--role", "Teams Communications Support Specialist")
    r = narrow(cli, *args)
    assert r.exit_code == 0, r.output
    lines = table_lines(r.stdout)
    assert lines, r.stdout
    too_long = [line for line in lines if cell_len(line) > 80]
    assert not too_long, "\n".join(too_long)
    if key is not None:  # one line per row: header, rule, then exactly the rows
        doc = json.loads(cli(*args, "--json").stdout)
        rows = doc if key == "" else doc[key]
        assert len(lines) == len(rows) + 2, r.stdout


def test_calls_at_80_columns_keep_whole_words(cli, office) -> None:
    r = narrow(cli, "calls", "--limit", "0")
    body = table_lines(r.stdout)[2:]
    assert len(body) == 48
    assert any(line.rstrip().endswith("0.0000") and "included" in line for line in body)
    assert "showing" not in r.stdout and "48 calls" in r.stdout
    statuses = {"charged", "included", "free", "denied", "unrated", "carrier"}
    for line in body:  # every status whole, or cut with an ellipsis: never folded onto the next line
        cell = line.split("│")[-2].strip()
        assert cell.split(" ")[0] in statuses or cell.endswith("…"), line


def test_a_wider_terminal_shows_more(cli, office) -> None:
    narrow_header = table_lines(narrow(cli, "calls", columns=80).stdout)[0]
    wide_header = table_lines(narrow(cli, "calls", columns=160).stdout)[0]
    assert "kind" not in narrow_header and "billed" not in narrow_header
    assert "kind" in wide_header and "billed" in wide_header and "pool" in wide_header
    wide = narrow(cli, "user", "list", columns=160)
    assert "Ada Lovelace" in wide.stdout and "conferencing" in wide.stdout


def test_wide_characters_line_up(cli, office) -> None:
    r = narrow(cli, "tenant", "list", columns=60)
    lines = table_lines(r.stdout)
    assert any("法布里卡姆" in line for line in lines)
    widths = {cell_len(line.rstrip()) for line in lines[2:]}
    rules = [i for i, ch in enumerate(lines[0]) if ch == "┃"]
    for line in lines[2:]:  # the column rules sit under the header's, counted in cells
        positions = []
        seen = 0
        for ch in line:
            if ch == "│":
                positions.append(seen)
            seen += cell_len(ch)
        assert positions == rules, (line, positions, rules)
    assert max(widths) <= 60


def test_a_long_listing_streams_and_fits(cli, office, monkeypatch) -> None:
    from credits_cli.cli import common

    monkeypatch.setattr(common, "TABLE_ROWS", 10)
    r = narrow(cli, "calls", "--limit", "0")
    lines = r.stdout.splitlines()
    assert lines[0] == "Calls" and lines[-1] == "48 calls"
    assert all(cell_len(line) <= 80 for line in lines)
    assert len(lines) == 48 + 4  # title, header, dashes, rows, count


def test_fit_drops_optional_columns_before_cutting_text() -> None:
    columns = [Col("name", shrink=6), Col("extra", keep=3), Col("id")]
    rows = [["a" * 30, "x" * 20, "1"]]
    assert fit(columns, rows, 80) == [(0, 30), (1, 20), (2, 2)]
    assert fit(columns, rows, 40) == [(0, 30), (2, 2)]  # the optional column goes, the name stays whole
    assert fit(columns, rows, 20) == [(0, 15), (2, 2)]  # then the name is cut
    important = [Col("name", shrink=6), Col("extra", keep=1), Col("id")]
    assert fit(important, rows, 40) == [(0, 12), (1, 20), (2, 2)]  # cut before an important column goes
    assert fit([Col("名前")], [["中文名称"]], 80) == [(0, 8)]  # cells, not characters


def test_a_long_line_for_people_wraps_at_words_on_a_terminal_only(monkeypatch) -> None:
    import io

    from rich.cells import cell_len
    from rich.console import Console

    from credits_cli.cli import common

    text = ("runway: at 0.2834 USD a day (average of the 30 day(s) from 2026-10-01 to 2026-10-30, the latest "
            "imported calls), 322.8 days to zero (2027-09-23) without recharges; 可用天数：距离余额为零还有 322.8 天")
    for terminal in (True, False):
        out = io.StringIO()
        monkeypatch.setitem(common._consoles, "out", Console(file=out, force_terminal=terminal, width=40,
                                                              color_system=None))
        common.say(text)
        lines = out.getvalue().splitlines()
        if terminal:
            assert len(lines) > 3 and all(cell_len(line) <= 40 for line in lines)
            assert " ".join(line.strip() for line in lines).replace("天 ", "天").split() == text.split()
        else:
            assert lines == [text]


def test_a_line_for_a_pipe_is_the_one_rich_writes_without_rich_and_text_stays_as_typed(monkeypatch, capsys) -> None:
    """Written to a pipe before any table (most commands: one line), the line is the one a console
    would write there, without the console; ``:smile:`` in a name is text on either path."""
    import io

    from credits_cli.cli import common

    text = "added tenant emo (Smile :smile: Co, US, USD) [bold]not markup[/bold] 可用天数 " + "x" * 120 + " C:\\"
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(common, "_consoles", {})
    common.say(text)
    assert capsys.readouterr().out == text + "\n"
    assert "out" not in common._consoles  # no console was made for it
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("NO_COLOR", "1")
    for terminal in (False, True):
        if terminal:
            monkeypatch.setenv("TTY_COMPATIBLE", "1")
        out = io.StringIO()
        monkeypatch.setattr(common, "_consoles", {})
        console = common.console()  # the console a command makes, its settings and all
        console.file = out
        assert console.is_terminal is terminal
        common.say(text)
        assert out.getvalue() == text + "\n", terminal


@pytest.mark.parametrize("name,value,console", [("FORCE_COLOR", "1", True), ("FORCE_COLOR", "", False),
                                                ("TTY_COMPATIBLE", "1", True), ("TTY_COMPATIBLE", "0", False)])
def test_where_the_environment_makes_a_pipe_a_terminal_every_line_goes_through_the_console(
    monkeypatch, capsys, name: str, value: str, console: bool
) -> None:
    """Under FORCE_COLOR (as CI services set it) or TTY_COMPATIBLE=1 rich treats a pipe as a terminal
    and wraps: then the first lines of a command are written by the console too, like those after a table."""
    from credits_cli.cli import common

    for other in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(common, "_consoles", {})
    common.say("a line")
    assert ("out" in common._consoles) is console
    assert capsys.readouterr().out == "a line\n"


def test_errors_and_warnings_show_the_message_as_it_is(monkeypatch, capsys) -> None:
    """No markup is read in a message: brackets, :codes: and a trailing backslash (a Windows folder) stay."""
    import typer

    from credits_cli.cli import common

    monkeypatch.setattr(common, "_consoles", {})
    message = "([bold]x[/bold] :smile:) cannot read C:\\exports\\"
    common.warn(message)
    with pytest.raises(typer.Exit):
        common.fail(message)
    assert capsys.readouterr().err.splitlines() == [f"warning: {message}", f"error: {message}"]
