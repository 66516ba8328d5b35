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
from enum import StrEnum
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
    #: Whether this command may create the database: ``tenant add`` only. Every other command finds
    #: none and says so, instead of leaving an empty database where a mistyped --db pointed.
    create_database: bool = False

    @property
    def db(self) -> Database:
        if self._db is None:
            from credits_cli.db import open_database

            self._db = open_database(self.db_value, create=self.create_database)
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
    _consoles.clear()  # a console measures the terminal (COLUMNS) when made: once per command
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


#: The global options that take a value: accepted after the command too (``credits tenant show --tenant x``).
GLOBAL_OPTIONS = ("--db", "--tenant", "--lang")

#: Commands with an option of their own named like a global one: there it is theirs (``tenant add --lang``
#: is the tenant's language; the command's own language goes before the command, or in CREDITS_LANG).
OWN_OPTIONS = {("tenant", "add"): {"--lang"}, ("tenant", "edit"): {"--lang"}}


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with the global options found after the command word moved before it, as click wants
    them. Nothing after ``--`` moves, and the value after a global option goes with it."""
    words = list(args)
    command_at = None
    own: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return words
        if command_at is None:
            if word in GLOBAL_OPTIONS:
                i += 2
                continue
            if not word.startswith("-"):
                command_at = i
                later = [w for w in words[i + 1:] if not w.startswith("-")][:1]
                own = OWN_OPTIONS.get((word, later[0]), set()) if later else set()
            i += 1
            continue
        name = word.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and name not in own:
            take = 1 if "=" in word or i + 1 >= len(words) else 2
            moved = words[i:i + take]
            del words[i:i + take]
            words[command_at:command_at] = moved
            command_at += take
            i += take
            continue
        i += 1
    return words


class CreditsGroup(TyperGroup):
    """Turns domain errors into one line on stderr and exit 1, in one place; takes the global options
    after the command too."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

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


class Output(StrEnum):
    """``-o``: how a command prints what it lists (SPEC §2)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class DocOutput(StrEnum):
    """``-o`` of a command that prints one document (a balance, a summary): a table or JSON."""

    TABLE = "table"
    JSON = "json"


#: ``-o`` of every command that lists data; ``--json`` is its alias for ``-o json``.
OutputOpt = Annotated[
    Output | None,
    typer.Option(
        "--output", "-o", case_sensitive=False, show_default=False,
        help="table (default), json, or csv: raw values for scripts (money 12.3400, ISO 8601 UTC times).",
    ),
]
#: ``-o`` of a command that prints one document.
DocOutputOpt = Annotated[
    DocOutput | None,
    typer.Option("--output", "-o", case_sensitive=False, show_default=False, help="table (default) or json."),
]
#: ``--limit`` of a listing (``calls`` has its own default).
Limit = Annotated[int | None, typer.Option("--limit", min=0, help="Show at most N rows (0: all).")]
#: ``--newest`` of a listing.
Newest = Annotated[bool, typer.Option("--newest", help="The newest first (and --limit keeps the newest).")]


def output_mode(output: Output | DocOutput | None, json_out: bool = False) -> Output:
    """The output a command was asked for: ``--json`` is ``-o json``; the two cannot disagree."""
    from credits_cli.errors import InvalidInput

    chosen = Output(output.value) if output is not None else None
    if json_out:
        if chosen not in (None, Output.JSON):
            raise InvalidInput(f"--json asks for JSON and -o for {chosen}: give one of them")
        return Output.JSON
    return chosen or Output.TABLE


# --- tables that fit the terminal ------------------------------------------------------

#: Cells between two columns: a space, the rule and a space.
GAP = 3
#: The ``keep`` from which a column is left out before any text is cut.
OPTIONAL = 3


@dataclass(frozen=True)
class Col:
    """A column of a terminal table.

    ``keep``: 0 for a column that is always shown; otherwise the higher the number, the sooner it is
    left out when the table is too wide: from :data:`OPTIONAL` up a column goes before any text is
    cut, 1 and 2 only when cutting is not enough. ``shrink``: the fewest cells the column may be cut to
    (its text ends in an ellipsis); 0 for a column whose values are never cut (numbers, dates, money).
    """

    name: str
    right: bool = False
    keep: int = 0
    shrink: int = 0


def _cells(value: Any) -> str:
    return "" if value is None else printable(str(value))


def fit(columns: list[Col], rows: list[list[str]], width: int) -> list[tuple[int, int]]:
    """Which columns to show, and how wide, so that a row is one line of at most ``width`` cells.

    Widths are terminal cells (``rich.cells.cell_len``: a Chinese character takes two). While the
    table is too wide: the optional columns (``keep`` of :data:`OPTIONAL` or more) are left out, the
    least needed first; then the shrinkable columns are cut (the widest first, never below their
    ``shrink``); when that is not enough, the next least needed column is left out and the rest try
    again. Returns (column index, width) in column order.
    """
    from rich.cells import cell_len

    natural = [cell_len(c.name) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            size = cell_len(cell)
            if size > natural[i]:
                natural[i] = size
    shown = list(range(len(columns)))
    while True:
        widths = {i: natural[i] for i in shown}
        excess = sum(widths.values()) + GAP * (len(shown) - 1) - width
        if excess <= 0:
            break
        optional = [i for i in shown if columns[i].keep >= OPTIONAL]
        if optional:
            shown.remove(max(optional, key=lambda i: (columns[i].keep, i)))
            continue
        cuttable = [i for i in shown if columns[i].shrink and widths[i] > columns[i].shrink]
        room = sum(widths[i] - columns[i].shrink for i in cuttable)
        droppable = [i for i in shown if columns[i].keep > 0]
        if room >= excess or not droppable:
            while excess > 0 and cuttable:
                widest = max(cuttable, key=lambda i: (widths[i] - columns[i].shrink, widths[i]))
                widths[widest] -= 1
                excess -= 1
                if widths[widest] <= columns[widest].shrink:
                    cuttable.remove(widest)
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].keep, i)))
    return [(i, widths[i]) for i in shown]


def terminal_width() -> int:
    return console().width


def _fitted(columns: list[Col], rows: list[list[str]], bold: set[int], width: int, header: bool = True) -> Any:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    # without a header, the header's words do not widen a column
    measured = columns if header else [Col("", c.right, c.keep, c.shrink) for c in columns]
    chosen = fit(measured, rows, width)
    t = Table(box=box.HEAVY_HEAD, show_edge=False, pad_edge=False, header_style="bold", show_header=header)
    for i, w in chosen:
        c = columns[i]
        t.add_column(c.name, justify="right" if c.right else "left", width=w, no_wrap=True, overflow="ellipsis")
    for n, row in enumerate(rows):
        t.add_row(*(Text(row[i]) for i, _ in chosen), style="bold" if n in bold else None)
    return t


def table(
    title: str | None,
    columns: list[Col] | list[str],
    rows: list[list[Any]],
    *,
    justify_right: set[str] | None = None,
    bold: set[int] | None = None,
    header: bool = True,
) -> None:
    """A table that fits the terminal (:func:`fit`): one line per row, no word broken; the title on a
    line of its own above it (``bold``: the rows shown in bold; ``header``: False for a table of
    labelled values). Cells hold what people typed (names, notes): never read as markup."""
    from rich.text import Text

    right = justify_right or set()
    cols = [c if isinstance(c, Col) else Col(c, right=c in right) for c in columns]
    cells = [[_cells(v) for v in row] for row in rows]
    out = console()
    if title:
        out.print(Text(printable(title)), soft_wrap=True)
    out.print(_fitted(cols, cells, bold or set(), out.width, header))


#: Rows a listing shows as a Rich table; a longer one streams as plain aligned text, in constant memory.
TABLE_ROWS = 1000


def shown_line(shown: int, total: int | None, noun: str, hint: str = "") -> str:
    """``12 users``, or ``showing 100 of 199,814 calls`` when a limit left some out."""
    if total is None or total == shown:
        return f"{shown:,} {noun}"
    return f"showing {shown:,} of {total:,} {noun}" + (f" ({hint})" if hint else "")


def listing(
    title: str,
    columns: list[Col] | list[str],
    rows: Iterable[list[Any]],
    *,
    justify_right: set[str] | None = None,
    noun: str | None = None,
    total: int | None = None,
    hint: str = "",
) -> int:
    """Rows as a table (:func:`table`) when there are at most :data:`TABLE_ROWS`, else streamed as plain
    text aligned on the first rows, fitted to the terminal the same way (a year of calls must not become
    one table in memory). With ``noun`` the count is told under it (``showing 100 of 199,814 calls``
    when ``total`` says more exist). Returns the rows shown."""
    right = justify_right or set()
    cols = [c if isinstance(c, Col) else Col(c, right=c in right) for c in columns]
    iterator = iter(rows)
    head = list(itertools.islice(iterator, TABLE_ROWS + 1))
    if not head:
        return 0  # the caller says there is nothing, in its own words
    if len(head) <= TABLE_ROWS:
        table(title, cols, head)
        if noun:
            say(shown_line(len(head), total, noun, hint))
        return len(head)
    from rich.cells import cell_len, set_cell_size

    cells = [[_cells(v) for v in row] for row in head]
    chosen = fit(cols, cells, terminal_width())

    def clip(text: str, width: int, at_right: bool) -> str:
        size = cell_len(text)
        if size > width:
            return set_cell_size(text, width - 1) + "\u2026" if width > 1 else "\u2026"
        pad = " " * (width - size)
        return pad + text if at_right else text + pad

    def line(values: list[str]) -> str:
        return "  ".join(clip(values[i], w, cols[i].right) for i, w in chosen).rstrip() + "\n"

    out = sys.stdout
    out.write(printable(title) + "\n" + line([c.name for c in cols]) + line(["-" * w for w in
              [dict(chosen).get(i, 0) for i in range(len(cols))]]))
    count = 0
    for values in itertools.chain(cells, ([_cells(v) for v in row] for row in iterator)):
        out.write(line(values))
        count += 1
    if noun:
        out.write(shown_line(count, total, noun, hint) + "\n")
    out.flush()
    return count


# --- CSV for scripts -----------------------------------------------------------------------


def csv_value(value: Any) -> str:
    """One field of ``-o csv``: the raw value (money ``12.3400``, ISO 8601 times, true/false), never
    guarded against spreadsheets: files made for spreadsheets are ``report --csv`` and ``--xlsx``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | datetime | date):
        return str(_json_default(value))
    if isinstance(value, list | tuple | set | frozenset | dict):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    return str(value)


def print_csv(keys: list[str], docs: Iterable[dict[str, Any]]) -> int:
    """A header of ``keys``, then each document's values under them, on stdout. Returns the rows."""
    import csv

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(keys)
    count = 0
    for doc in docs:
        out.writerow([csv_value(doc.get(k)) for k in keys])
        count += 1
    sys.stdout.flush()
    return count


def emit(
    mode: Output,
    docs: list[dict[str, Any]],
    *,
    title: str | None,
    columns: list[Col],
    row: Callable[[dict[str, Any]], list[Any]],
    noun: str,
    empty: str,
    json_doc: Any = None,
    total: int | None = None,
    hint: str = "",
    keys: list[str] | None = None,
) -> None:
    """A listing of documents in the chosen output: a fitted table with its count, the JSON document
    (``json_doc``, by default the list), or CSV with a column per key (``keys``, else the documents')."""
    if mode is Output.JSON:
        print_json(docs if json_doc is None else json_doc)
    elif mode is Output.CSV:
        print_csv(keys or (list(docs[0]) if docs else []), docs)
    elif not docs:
        say(empty)
    else:
        table(title, columns, [row(d) for d in docs])
        say(shown_line(len(docs), total, noun, hint))


def limited(docs: list[dict[str, Any]], limit: int | None, newest: bool, key: str) -> tuple[list[dict[str, Any]], int]:
    """``--newest`` (by ``key``, the newest first) and ``--limit`` over a listing held in memory; with the
    count before the limit."""
    ordered = sorted(docs, key=lambda d: (d[key] is not None, d[key]), reverse=True) if newest else docs
    return (ordered[:limit] if limit else ordered), len(docs)


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
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document (the same as -o json).")]

#: ``--yes`` of every command that removes something.
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run on a terminal).")]


def confirm(question: str, yes: bool, *, nothing: str = "nothing removed") -> None:
    """Ask on a terminal before something is removed; ``--yes`` answers for a script. Without a terminal
    and without ``--yes``, one error line and nothing done (a script must say what it means)."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{question.rstrip('?')}? This asks for confirmation: add --yes (no terminal to ask on); {nothing}")
    if not typer.confirm(printable(question), default=False, err=True):
        fail(f"not confirmed; {nothing}")


def examples(*lines: str) -> str:
    """The end of a command's ``--help``: one or two examples, kept as written (click's ``\\b``)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)

#: ``--at``: when something really happened (never in the future).
At = Annotated[
    str | None,
    typer.Option("--at", help="When it really happened: a date or time, ISO 8601 (UTC), e.g. 2026-10-01."),
]


def short_time(moment: datetime | None) -> str:
    """A time in a table: ``2026-10-01 13:02`` (UTC; JSON and CSV carry it whole)."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def at_moment(text: str | None) -> datetime | None:
    """``--at``: an ISO 8601 date or time (UTC unless it says otherwise), or None."""
    from credits_cli import clock

    return clock.parse_timestamp(text, what="--at") if text else None
