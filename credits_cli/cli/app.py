"""The ``credits`` command: global options and the sub-apps.

Command modules import the domain lazily, inside each command, so that
``credits --help`` and quick commands start fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from credits_cli import __version__
from credits_cli.cli import directory, funding, notifications, rates, rating, report
from credits_cli.cli.common import CreditsGroup, State

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
    ctx.obj = State(db_value=db, tenant_slug=tenant)


directory.register(app)
funding.register(app)
notifications.register(app)
rates.register(app)
rating.register(app)
report.register(app)


def main() -> None:
    app()
