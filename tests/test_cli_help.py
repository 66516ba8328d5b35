"""Every command explains itself, and the README names every top-level command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from credits_cli.cli.app import _name, app, command_named
from tests.procs import cli_env

ROOT = Path(__file__).resolve().parent.parent


def walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """The click command tree (typer may vendor click, so no import of click itself)."""
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += walk(sub, (*path, name))
    return found


COMMANDS = walk(typer.main.get_command(app))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "credits" for p, _ in COMMANDS])
def test_every_command_has_help(cli, path: tuple[str, ...], command: Any) -> None:
    text = command.help or command.short_help
    assert text and text.strip(), f"credits {' '.join(path)} has no help text"
    for param in command.params:
        if param.param_type_name == "option" and not param.hidden and param.name != "help":
            assert param.help, f"credits {' '.join(path)} {param.opts[0]} has no help text"
    r = cli(*path, "--help")
    assert r.exit_code == 0
    assert "Usage" in r.stdout


def test_readme_names_every_command() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    if len(text.splitlines()) < 20:
        pytest.skip("README.md is still a stub (fewer than 20 lines); the command list is checked once it is written")
    top = typer.main.get_command(app)
    assert hasattr(top, "commands")
    missing = [name for name in top.commands if f"credits {name}" not in text]
    assert not missing, f"README.md does not mention: {', '.join('credits ' + m for m in missing)}"


@pytest.mark.parametrize(
    "args,word",
    [
        (["balance"], "balance"),
        (["--db", "x.db", "balance", "--json"], "balance"),
        (["--db=x.db", "--tenant", "acme", "license", "assign", "a@b"], "license"),
        (["--tenant", "balance", "topup", "5"], "topup"),  # a value that looks like a command
        (["--help"], None),
        (["--db", "x.db"], None),
        (["--", "balance"], None),
        ([], None),
    ],
)
def test_command_named(args: list[str], word: str | None) -> None:
    assert command_named(args) == word


def test_every_registered_name_is_found() -> None:
    """keep_only finds each top-level command by the name click gives it."""
    top = typer.main.get_command(app)
    assert hasattr(top, "commands")
    names = {_name(c) for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(top.commands)


def _credits(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(str(tmp_path / "c.db"), CREDITS_NOW="2026-03-01T00:00:00Z")
    return subprocess.run(
        [sys.executable, "-m", "credits_cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_entry_point_builds_only_the_command_it_runs(tmp_path: Path) -> None:
    """The real entry point (which leaves only the invoked command in the app) runs commands and
    groups, shows their help, and still lists every command or names a mistyped one."""
    assert _credits(tmp_path, "tenant", "add", "acme", "--name", "Acme", "--country", "US").returncode == 0
    assert _credits(tmp_path, "payment", "set", "--card-expiry", "2099-12", "--last4", "4242").returncode == 0
    assert _credits(tmp_path, "topup", "75").returncode == 0
    r = _credits(tmp_path, "--tenant", "acme", "balance", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["tenant"], doc["balance"]) == ("acme", "75.0000")
    r = _credits(tmp_path, "autorecharge", "--help")
    assert r.returncode == 0 and "set" in r.stdout
    r = _credits(tmp_path, "--help")
    assert r.returncode == 0
    assert all(name in r.stdout for name in ("rate-cdrs", "license", "report", "balance", "notifications"))
    r = _credits(tmp_path, "balanec")
    assert r.returncode == 2 and "balanec" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "credits" for p, _ in COMMANDS])
def test_every_command_ends_its_help_with_examples(cli, path: tuple[str, ...], command: Any) -> None:
    """A command (a group that runs on its own too, like balance) ends its --help with an example or two."""
    if hasattr(command, "commands") and not getattr(command, "invoke_without_command", False):
        return  # a group only lists its commands, each with its own examples
    lines = [line for line in cli(*path, "--help").stdout.splitlines() if line.strip()]
    examples = lines[lines.index("  Examples:") + 1:] if "  Examples:" in lines else []
    assert 1 <= len(examples) <= 3, f"credits {' '.join(path)}: {examples or 'no Examples: at the end'}"
    assert all(line.strip().startswith("credits ") for line in examples), examples
    assert all(len(line) <= 80 for line in examples), examples


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) or "credits" for p, _ in COMMANDS])
def test_every_command_with_json_takes_output(path: tuple[str, ...], command: Any) -> None:
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    if "--json" in options:
        assert {"-o", "--output"} <= options, f"credits {' '.join(path)} has --json but no -o"


@pytest.mark.parametrize("given,expected", [(None, "narenas:1,tcache:false"), ("dirty_decay_ms:0", "dirty_decay_ms:0")])
def test_polars_allocator_is_set_before_polars_unless_the_user_set_it(
    tmp_path: Path, given: str | None, expected: str
) -> None:
    """``credits`` gives polars' allocator one arena and no per-thread caches (a lower peak RSS on a large
    import) before anything imports polars, and keeps a setting of the user's own."""
    env = cli_env(str(tmp_path / "credits.db"))
    env.pop("_RJEM_MALLOC_CONF", None)
    if given is not None:
        env["_RJEM_MALLOC_CONF"] = given
    code = (
        "import os, sys\n"
        "sys.argv = ['credits', '--version']\n"
        "from credits_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('_RJEM_MALLOC_CONF'), 'polars' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert r.stdout.splitlines()[-1] == f"{expected} False"


def test_the_command_line_pauses_the_collector_until_a_database_is_opened(tmp_path: Path) -> None:
    """``credits`` starts with Python's cyclic collector paused (imports make objects that live as long as
    the process) and turns it back on, what was imported set aside, when the command opens its database;
    a command run in-process (as the tests do) leaves the collector alone."""
    env = cli_env(str(tmp_path / "credits.db"))
    code = (
        "import gc, sys\n"
        "from credits_cli.cli import common\n"
        "seen = []\n"
        "opened = common.State.db.fget\n"
        "def db(self):\n"
        "    seen.append(gc.isenabled())\n"
        "    return opened(self)\n"
        "common.State.db = property(db)\n"
        "sys.argv = ['credits', 'tenant', 'add', 'contoso', '--name', 'Contoso', '--country', 'US']\n"
        "from credits_cli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(seen[0], gc.isenabled(), gc.get_freeze_count() > 10000)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert r.stdout.splitlines()[-1] == "False True True", r.stdout + r.stderr


def test_a_command_run_in_process_leaves_the_collector_alone(cli) -> None:
    import gc

    frozen = gc.get_freeze_count()
    assert cli("tenant", "add", "contoso", "--name", "Contoso", "--country", "US").exit_code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_lines_for_a_pipe_keep_their_order_with_warnings_and_a_closed_pipe_ends_quietly(tenant, isolated_db) -> None:
    """A line for people written to a pipe is flushed as it is said: in its place before a warning on a
    shared output (``> log 2>&1``, with Python's own buffering), and a reader gone away is seen by the
    command (exit 1, nothing on stderr), not by the interpreter at exit."""
    env = cli_env(isolated_db)
    env.pop("PYTHONUNBUFFERED", None)
    r = subprocess.run([sys.executable, "-m", "credits_cli", "balance", "assert", "50"], env=env, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("admin center 50.00 USD") and lines[1].startswith("warning: the books differ"), lines
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the command writes
    try:
        p = subprocess.run([sys.executable, "-m", "credits_cli", "balance", "assert", "50"], env=env, cwd=ROOT,
                           stdout=writer, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(writer)
    assert (p.returncode, p.stderr) == (1, "")


@pytest.mark.parametrize("closed", [">&-", "2>&-", ">&- 2>&-"])
def test_a_command_started_with_its_output_closed_does_its_work_and_exits_0(tenant, isolated_db, closed: str) -> None:
    """``credits topup 100 >&-``: Python starts without sys.stdout (or sys.stderr); the lines go nowhere,
    the purchase is made and the exit is 0 (an error would say it was not made)."""
    import shlex

    from credits_cli.db import open_database
    from credits_cli.ledger import balance
    from credits_cli.tenants import resolve

    command = " ".join(shlex.quote(word) for word in (sys.executable, "-m", "credits_cli"))
    for args in ("topup 100", "topup 50 --json", "balance --json"):
        r = subprocess.run(["sh", "-c", f"exec {command} {args} {closed}"], env=cli_env(isolated_db), cwd=ROOT)
        assert r.returncode == 0, (args, closed)
    with open_database(isolated_db).read() as session:
        assert balance(session, resolve(session, None)) == 150
