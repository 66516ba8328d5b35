"""What every command shares: the global state, output, and the one place
where domain errors become ``error: ...`` on stderr and an exit code."""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from credits_cli.errors import CreditsError
from credits_cli.i18n import N_
from credits_cli.settings import Settings, from_environ

if TYPE_CHECKING:
    from rich.console import Console
    from sqlmodel import Session

    from credits_cli.db import Database
    from credits_cli.models import Tenant


@dataclass
class State:
    """What every command of one process shares: the global options and the settings."""

    db_value: str | None = None
    tenant_slug: str | None = None
    settings: Settings = field(default_factory=Settings)
    lang_given: bool = False  # --lang (or CREDITS_LANG) said the language: it wins over a tenant's
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        if self._db is None:
            from credits_cli.db import open_database

            self._db = open_database(self.db_value)
        return self._db

    def database_file(self) -> Path | None:
        """The SQLite file the database is, or None for a server (what an output must never overwrite)."""
        from credits_cli.location import resolve_url, sqlite_file

        return sqlite_file(resolve_url(self.db_value))

    def tenant(self, session: Session, *, lock: bool = False) -> Tenant:
        """The tenant of ``--tenant`` (or the only one); with ``lock``, its row is locked for this
        transaction first, for a command that reads the balance and writes from what it read."""
        from credits_cli.tenants import resolve

        tenant = resolve(session, self.tenant_slug)
        if lock:
            self.db.lock_tenant(session, tenant.id or 0)
        return tenant


def start(db_value: str | None, tenant_slug: str | None, lang: str | None = None) -> State:
    """Read the environment (here, once: STYLE "settings at the edge"), set the core up from it, and
    return the state the command runs with. ``lang`` is ``--lang`` (or ``CREDITS_LANG``)."""
    from credits_cli import clock, i18n, refdata

    settings = from_environ(os.environ)
    clock.pin(settings.now)
    refdata.use_folder(settings.rates_dir)
    speak(i18n.choose(lang, os.environ))
    return State(db_value=db_value, tenant_slug=tenant_slug, settings=settings, lang_given=bool(lang))


#: Typer's own words in help and errors: it asks the standard library's gettext for them, in the
#: process's text domain; these are the ones it shows, so that the catalogs have them.
TYPER_WORDS = (N_("Arguments"), N_("Options"), N_("Commands"), N_("required"), N_("default: {default}"),
               N_("env var: {var}"), N_("(dynamic)"), N_("Aborted!"), N_("Missing command."),
               N_("No such command {name!r}."))


def speak(code: str) -> None:
    """Speak ``code`` in this process: our messages (:mod:`credits_cli.i18n`) and Typer's words, which
    it asks of the standard library's gettext in the process's text domain and languages."""
    import gettext

    from credits_cli import i18n

    i18n.use(code)
    gettext.bindtextdomain(i18n.DOMAIN, str(i18n.LOCALE_DIR))
    gettext.textdomain(i18n.DOMAIN)
    os.environ["LANGUAGE"] = i18n.current().code


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = start(os.environ.get("CREDITS_DB"), os.environ.get("CREDITS_TENANT"))
    return root.obj


def fail(message: str, code: int = 1) -> NoReturn:
    err_console().print(f"[bold red]error:[/] {_one_line(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console().print(f"[yellow]warning:[/] {_one_line(message)}", highlight=False, soft_wrap=True)


def _one_line(message: str) -> str:
    from rich.markup import escape

    return escape(printable(" ".join(str(message).split())))


#: Characters that must never reach a terminal from the data: C0 and C1 controls and DEL (an escape
#: sequence in a display name could retitle the window, hide text or write a hyperlink).
_UNPRINTABLE = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0)], "\ufffd")


def printable(text: str) -> str:
    """Text for a terminal: control characters (escape sequences included) become U+FFFD."""
    return text.translate(_UNPRINTABLE) if not text.isprintable() else text


class CreditsGroup(TyperGroup):
    """Turns domain errors into one line on stderr and exit 1, in one place."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CreditsError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; nothing of the batch in progress was written", 130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (``credits ledger | head``): click ends quietly, exit 1
            raise
        except OSError as exc:  # the file system said no (a full disk, no permission): one line, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{(exc.strerror or str(exc)).lower()}", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("CREDITS_DEBUG"):
                raise
            if type(exc).__module__.startswith("typer") or type(exc).__module__.startswith("click"):
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set CREDITS_DEBUG=1 for the traceback)", 1)


_consoles: dict[str, Console] = {}


def console() -> Console:
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console()
    return _consoles["out"]


def err_console() -> Console:
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True)
    return _consoles["err"]


def _json_default(value: Any) -> Any:
    from credits_cli import clock, money

    if isinstance(value, Decimal):
        return money.fmt(value)
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} in JSON")


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, default=_json_default, indent=2, ensure_ascii=False) + "\n")


def table(
    title: str | None, columns: list[str], rows: list[list[Any]], *, justify_right: set[str] | None = None
) -> None:
    from rich.markup import escape
    from rich.table import Table

    right = justify_right or set()
    # Cells hold what people typed (names, notes): never read them as Rich markup.
    t = Table(title=escape(printable(title)) if title else None, title_justify="left", header_style="bold")
    for name in columns:
        t.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else escape(printable(str(v))) for v in row))
    console().print(t)


#: Rows a listing shows as a Rich table; a longer one streams as plain aligned text, in constant memory.
TABLE_ROWS = 1000


def listing(
    title: str,
    columns: list[str],
    rows: Iterable[list[Any]],
    *,
    justify_right: set[str] | None = None,
    noun: str | None = None,
) -> int:
    """Rows as a Rich table when there are at most :data:`TABLE_ROWS`, else streamed as plain text
    aligned on the first rows (a year of calls must not become one table in memory). With ``noun``
    the count is told: ``Calls (12)`` over a table, ``1,234,567 calls`` under a stream. Returns it."""
    iterator = iter(rows)
    head = list(itertools.islice(iterator, TABLE_ROWS + 1))
    if not head:
        return 0  # the caller says there is nothing, in its own words
    if len(head) <= TABLE_ROWS:
        table(f"{title} ({len(head)})" if noun else title, columns, head, justify_right=justify_right)
        return len(head)
    right = justify_right or set()

    def cells(row: list[Any]) -> list[str]:
        return ["" if v is None else printable(str(v)) for v in row]

    widths = [len(name) for name in columns]
    for row in head:
        widths = [max(w, len(c)) for w, c in zip(widths, cells(row), strict=True)]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if name in right else v.ljust(w) for v, w, name in zip(values, widths, columns, strict=True)
        ).rstrip() + "\n"

    out = sys.stdout
    out.write(printable(title) + "\n" + line(columns) + line(["-" * w for w in widths]))
    count = 0
    for row in itertools.chain(head, iterator):
        out.write(line(cells(row)))
        count += 1
    if noun:
        out.write(f"{count:,} {noun}\n")
    out.flush()
    return count


def print_json_stream(
    head: dict[str, Any], key: str, items: Iterable[dict[str, Any]], tail: Callable[[], dict[str, Any]] | None = None
) -> None:
    """One JSON document written as it goes: ``head``'s keys, ``key`` with the items one by one,
    then ``tail()``'s keys (asked for once the items are written: a closing balance, a count)."""
    def dumps(value: Any) -> str:
        return json.dumps(value, default=_json_default, ensure_ascii=False)

    out = sys.stdout
    out.write("{\n")
    for k, v in head.items():
        out.write(f"  {dumps(k)}: {dumps(v)},\n")
    out.write(f"  {dumps(key)}: [")
    first = True
    for item in items:
        out.write(("\n    " if first else ",\n    ") + dumps(item))
        first = False
    out.write("]" if first else "\n  ]")
    for k, v in (tail() if tail else {}).items():
        out.write(f",\n  {dumps(k)}: {dumps(v)}")
    out.write("\n}\n")
    out.flush()


def say(text: str) -> None:
    from rich.markup import escape

    console().print(escape(printable(text)), highlight=False, soft_wrap=True)


#: ``--json`` of every data command.
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

#: ``--at``: when something really happened (never in the future).
At = Annotated[
    str | None,
    typer.Option("--at", help="When it really happened: a date or time, ISO 8601 (UTC), e.g. 2026-10-01."),
]


def at_moment(text: str | None) -> datetime | None:
    """``--at``: an ISO 8601 date or time (UTC unless it says otherwise), or None."""
    from credits_cli import clock

    return clock.parse_timestamp(text, what="--at") if text else None
