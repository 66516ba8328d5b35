"""The ``credits`` command: global options and the sub-apps.

Command modules import the domain lazily, inside each command, so that
``credits --help`` and quick commands start fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from typer.main import get_command_name

from credits_cli import __version__
from credits_cli.cli import funding, notifications, overview, rates, rating, report, tenants, users
from credits_cli.cli.common import CreditsGroup, start

if TYPE_CHECKING:
    from typer.models import CommandInfo

app = typer.Typer(
    name="credits",
    cls=CreditsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Keep a prepaid Communications Credits balance funded: tenants, users, licenses, "
    "the ledger, call rating, reports and funding advice.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"credits {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="CREDITS_DB",
            help="SQLite file path or SQLAlchemy URL "
            "(sqlite:///..., postgresql+psycopg://...). Default: credits.db in the user data dir.",
        ),
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", envvar="CREDITS_TENANT", help="Tenant slug; optional when the database holds exactly one."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keep a prepaid Communications Credits balance funded."""
    ctx.obj = start(db, tenant)


tenants.register(app)
users.register(app)
overview.register(app)
funding.register(app)
notifications.register(app)
rates.register(app)
rating.register(app)
report.register(app)


def main() -> None:
    keep_only(command_named(sys.argv[1:]))
    app()


#: The global options that take a value (``--db PATH``): the word after them is not the command.
_VALUED = frozenset({"--db", "--tenant"})


def command_named(args: Sequence[str]) -> str | None:
    """The command word of a command line (``balance`` in ``--db x.db balance --json``), or None."""
    words = iter(args)
    for word in words:
        if word in _VALUED:
            next(words, None)
        elif word == "--":
            return None
        elif not word.startswith("-"):
            return word
    return None


def keep_only(name: str | None) -> None:
    """Leave only the command or group ``name`` in ``app``, when it has one.

    Typer builds the click command of every registered command before it runs
    one, inspecting each signature: about a sixth of the start-up of
    ``credits balance``. A process runs one command, so the others need not be
    built. A word no command has (a typo, or none at all) keeps them all, so
    that click lists them or suggests the nearest.
    """
    if name is None:
        return
    commands = [c for c in app.registered_commands if _name(c) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if commands or groups:
        app.registered_commands[:] = commands
        app.registered_groups[:] = groups


def _name(command: CommandInfo) -> str:
    if command.name:
        return command.name
    return get_command_name(command.callback.__name__ if command.callback else "")
