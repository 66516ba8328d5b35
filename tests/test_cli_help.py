"""Every command explains itself, and the README names every top-level command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from credits_cli.cli.app import app

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
