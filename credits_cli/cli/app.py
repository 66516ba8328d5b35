"""The ``credits`` command: global options and the sub-apps.

Command modules import the domain lazily, inside each command, so that
``credits --help`` and quick commands start fast.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Annotated, cast

import typer
import typer.core
from typer.core import TyperGroup
from typer.main import get_command_name

from credits_cli import __version__
from credits_cli.cli import funding, notifications, overview, rates, rating, reconcile, report, tenants, users
from credits_cli.cli.common import (
    CreditsGroup,
    hoist_global_options,
    measure_help_in_cells,
    pause_collector,
    speak,
    start,
    translated_epilog,
)
from credits_cli.i18n import _, choose, current

if TYPE_CHECKING:
    from typer.models import CommandInfo

#: One help text of the command tree: where it shows, how to set it, the English text.
HelpItem = tuple[str, Callable[[str], None], str]

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
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            envvar="CREDITS_LANG",
            help="Language people read: en, ru, kk or zh_CN (default: the locale, LC_ALL / LC_MESSAGES / LANG). "
            "JSON, CSV for scripts, exit codes and the database do not change with it.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Keep a prepaid Communications Credits balance funded."""
    ctx.obj = start(db, tenant, lang)


tenants.register(app)
users.register(app)
overview.register(app)
funding.register(app)
notifications.register(app)
rates.register(app)
rating.register(app)
report.register(app)
reconcile.register(app)


#: The settings of polars' allocator (jemalloc, which reads them from this variable when polars is first
#: imported). One arena instead of its default of four per CPU keeps less freed memory aside: a
#: million-call ``rate-cdrs`` peaked 10-25 MB lower in RSS (``bench/RESULTS.md``, 2026-11-28). No cache
#: of freed blocks per thread (an import rates in one thread while the next chunk is prepared in another,
#: besides polars' own): 10-18 MB lower again, no slower (2026-11-29). A value of the user's own is kept.
POLARS_ALLOCATOR = ("_RJEM_MALLOC_CONF", "narenas:1,tcache:false")


def main() -> None:
    pause_collector()  # until the command has imported what it needs: see pause_collector
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with it closed (credits topup 100 >&-): its lines go nowhere,
            setattr(sys, name, open(os.devnull, "w"))  # and the command does its work all the same
    os.environ.setdefault(*POLARS_ALLOCATOR)  # before anything imports polars
    args = sys.argv[1:]
    keep_only(command_named(args))
    # before the tree is built (its help is translated) and before typer.rich_utils is imported (its
    # words are module constants, asked of gettext at import)
    speak(choose(lang_named(args), os.environ))
    command = cast(TyperGroup, typer.main.get_command(app))  # the root is a CreditsGroup
    translate_help(command)
    measure_help_in_cells(command)
    command()


#: The global options that take a value (``--db PATH``): the word after them is not the command.
_VALUED = frozenset({"--db", "--tenant", "--lang"})


def lang_named(args: Sequence[str]) -> str | None:
    """The value of the global ``--lang`` on a command line, if it has one: before the command word,
    or after it where the command has no ``--lang`` of its own (``tenant add --lang`` is the tenant's)."""
    words = hoist_global_options(list(args))
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            break
        if word == "--lang" and i + 1 < len(words):
            return words[i + 1]
        if word.startswith("--lang="):
            return word.partition("=")[2]
        if word in _VALUED:
            i += 2
            continue
        if not word.startswith("-"):
            break  # the command word: what follows is the command's
        i += 1
    return None


def help_items(command: TyperGroup | typer.core.TyperCommand, where: str = "credits") -> Iterator[HelpItem]:
    """Every help text of the command tree under ``command``: ``(where, put, text)``, where ``put``
    sets the text shown (the catalog's msgid is ``text``, the help as ``--help`` prints it)."""
    if command.help:
        yield where, partial(setattr, command, "help"), inspect.cleandoc(command.help)
    params = list(command.params)
    helper = command.get_help_option(typer.Context(command, info_name=where))
    if helper is not None:
        params.append(helper)
    for param in params:
        text = getattr(param, "help", None)
        if text:
            yield f"{where} {param.opts[0] if param.opts else param.name}", partial(setattr, param, "help"), text
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from help_items(sub, f"{where} {name}")


def translate_help(command: TyperGroup | typer.core.TyperCommand) -> None:
    """Put the current language's help text into the command tree (once, before it runs)."""
    if current().english:
        return
    for _where, put, text in help_items(command):
        put(_(text))
    _translate_epilogs(command)


def _translate_epilogs(command: TyperGroup | typer.core.TyperCommand) -> None:
    if command.epilog:
        command.epilog = translated_epilog(command.epilog)
    for sub in getattr(command, "commands", {}).values():
        _translate_epilogs(sub)


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


if __name__ == "__main__":
    main()
