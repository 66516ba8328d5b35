"""What every command shares: the global state, output, and the one place
where domain errors become ``error: ...`` on stderr and an exit code."""

from __future__ import annotations

import gc
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from credits_cli.errors import CreditsError
from credits_cli.i18n import N_, _
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
            resume_collector()
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
#: process's text domain; these are the ones it shows, so that the catalogs have them. The msgids are
#: Typer's, byte for byte (``{name!r}`` included): do not reword them.
TYPER_WORDS = (N_("Arguments"), N_("Options"), N_("Commands"), N_("required"), N_("default: {default}"),
               N_("env var: {var}"), N_("(dynamic)"), N_("Aborted!"), N_("Missing command."),
               N_("No such command {name!r}."),
               # typer.rich_utils: module constants, translated when it is imported (after speak(): see
               # credits_cli.cli.app.main); shown only with rich help (rich_markup_mode), kept for it
               N_("(deprecated) "), N_("[default: {}]"), N_("[env var: {}]"), N_("[required]"), N_("Error"),
               N_("Aborted."), N_("Try [blue]'{command_path} {help_option}'[/] for help."))

#: Click's words (the copy inside Typer builds them without gettext): :func:`show_usage_error` finds
#: them in the English message and says them from our catalog.
CLICK_WORDS = (N_("Usage:"), N_("Error:"), N_("Missing argument"), N_("Missing option"), N_("Missing parameter"))


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
    # TRANSLATORS: the word before an error message on stderr ("error: no tenant acme")
    _to_stderr(_("error:"), "bold red", message)
    raise typer.Exit(code)


def warn(message: str) -> None:
    # TRANSLATORS: the word before a warning on stderr ("warning: ...")
    _to_stderr(_("warning:"), "yellow", message)


def _to_stderr(prefix: str, style: str, message: str) -> None:
    """``prefix message`` on stderr, the prefix in ``style``, the message on one line as it is (no markup
    read in it: a path ending in a backslash keeps one)."""
    from rich.text import Text

    text = Text.assemble((prefix, style), " ", _one_line(message))
    err_console().print(text, highlight=False, soft_wrap=True)


def _one_line(message: str) -> str:
    return printable(" ".join(str(message).split()))


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
        try:
            return super().parse_args(ctx, hoist_global_options(args))
        except Exception as exc:
            if is_usage_error(exc):
                show_usage_error(exc)
            raise

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CreditsError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail(_("interrupted; nothing of the batch in progress was written"), 130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (``credits ledger | head``): click ends quietly, exit 1
            raise
        except OSError as exc:  # the file system said no (a full disk, no permission): one line, not a traceback
            from credits_cli.outputs import os_reason

            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{os_reason(exc)}", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if is_usage_error(exc):
                show_usage_error(exc)
            if os.environ.get("CREDITS_DEBUG"):
                raise
            if type(exc).__module__.startswith("typer") or type(exc).__module__.startswith("click"):
                raise
            # TRANSLATORS: {kind} is the Python exception's class (ValueError), {detail} its English text
            fail(_("internal error: {kind}: {detail} (set CREDITS_DEBUG=1 for the traceback)").format(
                kind=type(exc).__name__, detail=exc), 1)


def is_usage_error(exc: BaseException) -> bool:
    """A usage error of click (an unknown option, a bad value; not "no arguments: show the help"),
    told by its class's lineage: the click inside Typer is not a public module to import from."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "UsageError" in names and "NoArgsIsHelpError" not in names


def show_usage_error(exc: Any) -> NoReturn:
    """A usage error of click (an unknown option, a bad value), said in the current language: click's
    own words when it is English (byte for byte), else the usage, the hint and the message from our
    catalog. Exits 2, as click does."""
    echo = typer.echo
    if current_is_english():
        raise exc
    ctx = exc.ctx
    if ctx is not None:
        formatter = ctx.make_formatter()
        formatter.write_usage(ctx.command_path, " ".join(ctx.command.collect_usage_pieces(ctx)),
                              prefix=_("Usage:") + " ")
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            # TRANSLATORS: {command} is a command line (credits tenant show), {option} is --help
            hint = _("Try '{command} {option}' for help.").format(
                command=ctx.command_path, option=ctx.help_option_names[0]) + "\n"
        echo(f"{formatter.getvalue().rstrip(chr(10))}\n{hint}", err=True, color=ctx.color)
    echo(f"{_('Error:')} {click_message(exc)}", err=True, color=ctx.color if ctx is not None else None)
    raise typer.Exit(exc.exit_code)


def current_is_english() -> bool:
    from credits_cli.i18n import current

    return current().english


#: Click's messages as the copy inside Typer writes them (f-strings, no gettext), and the message of
#: our catalog each one is said with: (pattern of the English text, msgid with the same named fields).
CLICK_MESSAGES = (
    (r"Invalid value for (?P<param_hint>.+?): (?P<message>.*)", N_("Invalid value for {param_hint}: {message}")),
    (r"Invalid value: (?P<message>.*)", N_("Invalid value: {message}")),
    (r"(?P<value>.+) is not one of (?P<choices>.+)\.", N_("{value} is not one of {choices}.")),
    (r"(?P<value>.+) is not a valid (?P<kind>[a-z ]+)\.", N_("{value} is not a valid {kind}.")),
    (r"(?P<value>.+) is not in the range (?P<range>.+)\.", N_("{value} is not in the range {range}.")),
    (r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", N_("Got unexpected extra argument(s) ({args})")),
    (r"Option (?P<name>.+) does not take a value\.", N_("Option {name} does not take a value.")),
    (r"Option (?P<name>.+) requires an argument\.", N_("Option {name} requires an argument.")),
    (r"Argument (?P<name>.+) takes (?P<count>\d+) values\.", N_("Argument {name} takes {count} values.")),
    (r"(?P<message>.+) \(Possible options: (?P<possibilities>.+)\)",
     N_("{message} (Possible options: {possibilities})")),
    (r"No such option: (?P<name>.+)", N_("No such option: {name}")),
    (r"Missing parameter: (?P<name>.+)", N_("Missing parameter: {name}")),
)


def click_message(exc: Any) -> str:
    """The message of a click exception in the current language (what is not known stays English)."""
    return _click_text(exc.format_message())


def _click_text(text: str) -> str:
    import re

    for pattern, msgid in CLICK_MESSAGES:
        found = re.fullmatch(pattern, text, flags=re.DOTALL)
        if found:
            fields = found.groupdict()
            if "message" in fields:
                fields["message"] = _click_text(fields["message"])
            return _(msgid).format(**fields)
    for word in ("Missing argument", "Missing option", "Missing parameter"):
        if text.startswith(word):
            return _(word) + text[len(word):]
    return text


_consoles: dict[str, Console] = {}


#: Whether :func:`pause_collector` paused the cyclic garbage collector (only the command-line entry does).
_collector_paused = [False]


def pause_collector() -> None:
    """Pause Python's cyclic garbage collector while a command starts.

    Most of a command's start is imports (SQLAlchemy, SQLModel, pydantic, our tables): some 300,000
    objects that live as long as the process. The collector, run every 700 new objects, walks them
    again and again for nothing: pausing it made a ``credits topup`` 0.70x as long (``bench/RESULTS.md``).
    :func:`resume_collector` turns it back on, with those objects set aside for good (``gc.freeze``),
    once the command opens its database, by when it has imported what it needs; a command that opens
    none is short and ends paused.
    Only the command-line entry (:func:`credits_cli.cli.app.main`) pauses it: a process that runs commands
    in-process (the tests) keeps its collector as it is."""
    if gc.isenabled():
        gc.disable()
        _collector_paused[0] = True


def resume_collector() -> None:
    """Undo :func:`pause_collector`, if it paused the collector; what was imported until now is frozen."""
    if _collector_paused[0]:
        _collector_paused[0] = False
        gc.freeze()
        gc.enable()


def console() -> Console:
    if "out" not in _consoles:
        from rich.console import Console

        _consoles["out"] = Console(emoji=False)  # text as typed: a name "Co :smile:" stays so
    return _consoles["out"]


def err_console() -> Console:
    if "err" not in _consoles:
        from rich.console import Console

        _consoles["err"] = Console(stderr=True, emoji=False)
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
            raise InvalidInput(_("--json asks for JSON and -o for {output}: give one of them").format(output=chosen))
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


#: What a listing counts: the noun for a count (``lambda n: ngettext("call", "calls", n)``, so that each
#: language takes the form its number wants), or one word for any count.
Noun = Callable[[int], str] | str


def shown_line(shown: int, total: int | None, noun: Noun, hint: str = "") -> str:
    """``12 users``, or ``showing 100 of 199,814 calls`` when a limit left some out."""
    from credits_cli import i18n

    if total is None or total == shown:
        return f"{i18n.number(shown)} {noun(shown) if callable(noun) else noun}"
    word = noun(total) if callable(noun) else noun
    # TRANSLATORS: {noun} is the counted noun in the form the total takes ("calls"), {hint} says how to see more
    line = _("showing {shown} of {total} {noun}").format(shown=i18n.number(shown), total=i18n.number(total), noun=word)
    return line + (f" ({hint})" if hint else "")


def listing(
    title: str,
    columns: list[Col] | list[str],
    rows: Iterable[list[Any]],
    *,
    justify_right: set[str] | None = None,
    noun: Noun | None = None,
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
    noun: Noun,
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


def _terminal_asked() -> bool:
    """Whether the environment tells rich to treat any output as a terminal (``TTY_COMPATIBLE=1``, or
    ``FORCE_COLOR`` set and not empty, as CI services set it): then :func:`say` leaves every line to the
    console, so that all of a command's lines are written alike."""
    tty = os.environ.get("TTY_COMPATIBLE", "")
    if tty in ("0", "1"):
        return tty == "1"
    return os.environ.get("FORCE_COLOR", "") != ""


def say(text: str) -> None:
    """A line for people. On a terminal a long one is wrapped at words, measured in cells (a Chinese
    sentence too); written to a file or a pipe it stays one line, for grep and scripts."""
    line = printable(text)
    if "out" not in _consoles and not _terminal_asked() and not sys.stdout.isatty():
        # the one line rich would write to a file or a pipe, without importing rich (about 17 ms here),
        # flushed as rich flushes it: in order with what goes to stderr, and a closed pipe is seen here
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return
    from rich.text import Text

    out = console()
    out.print(Text(line), highlight=False, soft_wrap=not out.is_terminal)  # as typed: no markup, no :codes:


#: ``--json`` of every data command.
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document (the same as -o json).")]

#: ``--yes`` of every command that removes something.
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (needed when not run on a terminal).")]


def confirm(question: str, yes: bool, *, nothing: str | None = None) -> None:
    """Ask on a terminal before something is removed; ``--yes`` answers for a script. Without a terminal
    and without ``--yes``, one error line and nothing done (a script must say what it means). ``question``
    and ``nothing`` come translated (``nothing``: "nothing removed" by default)."""
    if yes:
        return
    if nothing is None:
        nothing = _("nothing removed")
    if not sys.stdin.isatty():
        # TRANSLATORS: {question} is the question asked (without its "?"), {nothing} says what was left as it was
        fail(_("{question}? This asks for confirmation: add --yes (no terminal to ask on); {nothing}").format(
            question=question.rstrip("?"), nothing=nothing))
    if not typer.confirm(printable(question), default=False, err=True):
        fail(_("not confirmed; {nothing}").format(nothing=nothing))


#: The heading of a command's examples in ``--help`` (translated where the help is: translated_epilog).
EXAMPLES = N_("Examples:")


def examples(*lines: str) -> str:
    """The end of a command's ``--help``: one or two examples, kept as written (click's ``\\b``)."""
    return f"\b\n{EXAMPLES}\n" + "\n".join(f"  {line}" for line in lines)


def translated_epilog(epilog: str) -> str:
    """An epilog of :func:`examples` with its heading in the current language (the commands as written)."""
    head = f"\b\n{EXAMPLES}\n"
    return f"\b\n{_(EXAMPLES)}\n" + epilog[len(head):] if epilog.startswith(head) else epilog

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


# --- help that fits the terminal in cells ----------------------------------------------------


def wrap_cells(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "",
               preserve_paragraphs: bool = False) -> str:
    """click's ``wrap_text`` measured in terminal cells (a Chinese character takes two): lines break at
    spaces and between wide characters, never inside a word at its hyphen (``--insecure-login``,
    ``graph-csv``); a word longer than a line is cut. With ``preserve_paragraphs``, paragraphs are
    wrapped apart, keep their indent, and one that starts with a ``\\b`` line is kept as written."""
    text = text.expandtabs()
    if not preserve_paragraphs:
        return _fill_cells(text, width, initial_indent, subsequent_indent)
    paragraphs: list[tuple[int, bool, str]] = []
    buf: list[str] = []
    indent: int | None = None

    def flush() -> None:
        if buf:
            if buf[0].strip() == "\b":
                paragraphs.append((indent or 0, True, "\n".join(buf[1:])))
            else:
                paragraphs.append((indent or 0, False, " ".join(buf)))
            del buf[:]

    for line in text.splitlines():
        if not line:
            flush()
            indent = None
        else:
            if indent is None:
                stripped = line.lstrip()
                indent = len(line) - len(stripped)
                line = stripped
            buf.append(line)
    flush()
    out = []
    for margin, raw, body in paragraphs:
        first, later = initial_indent + " " * margin, subsequent_indent + " " * margin
        if raw:
            out.append("\n".join(f"{later if n else first}{line}" for n, line in enumerate(body.splitlines())))
        else:
            out.append(_fill_cells(body, width, first, later))
    return "\n\n".join(out)


def _fill_cells(text: str, width: int, initial_indent: str, subsequent_indent: str) -> str:
    """One paragraph filled greedily to ``width`` cells: words (runs of narrow characters between spaces)
    and wide characters are the pieces; a space between two pieces is kept, a space at a line's end
    dropped."""
    from rich.cells import cell_len, set_cell_size

    pieces: list[tuple[str, bool]] = []  # (piece, a space before it)
    for n, word in enumerate(text.split()):
        for m, part in enumerate(_cell_pieces(word)):
            pieces.append((part, n > 0 and m == 0))
    lines: list[str] = []
    line, used = "", 0
    indent = initial_indent
    room = max(width - cell_len(indent), 1)
    for piece, spaced in pieces:
        size = cell_len(piece)
        gap = 1 if spaced and line else 0
        if line and used + gap + size > room:
            lines.append(indent + line)
            indent = subsequent_indent
            room = max(width - cell_len(indent), 1)
            line, used, gap = "", 0, 0
        while size > room:  # a word longer than a line: cut it
            head = set_cell_size(piece, room - used - gap).rstrip() if room - used - gap > 0 else ""
            if not head:
                if line:
                    lines.append(indent + line)
                    indent = subsequent_indent
                    room = max(width - cell_len(indent), 1)
                    line, used, gap = "", 0, 0
                head = set_cell_size(piece, room).rstrip() or piece[:1]
            lines.append(indent + line + " " * gap + head)
            indent = subsequent_indent
            room = max(width - cell_len(indent), 1)
            line, used, gap = "", 0, 0
            piece = piece[len(head):]
            size = cell_len(piece)
        if piece:
            line += " " * gap + piece
            used += gap + size
    if line or not lines:
        lines.append(indent + line)
    return "\n".join(lines)


def _cell_pieces(word: str) -> list[str]:
    """A word cut between wide characters: ``通信点数`` is four pieces, ``graph-csv`` one."""
    from rich.cells import cell_len

    pieces: list[str] = []
    run = ""
    for ch in word:
        if cell_len(ch) > 1:
            if run:
                pieces.append(run)
            pieces.append(ch)
            run = ""
        else:
            run += ch
    if run:
        pieces.append(run)
    return pieces


def _cell_formatter() -> type:
    from rich.cells import cell_len

    HelpFormatter = typer.Context.formatter_class  # noqa: N806 - click's help formatter, as Typer's context has it

    def iter_rows(rows: list[Any], columns: int) -> Iterator[tuple[str, ...]]:
        for row in rows:
            yield tuple(row) + ("",) * (columns - len(row))

    class CellFormatter(HelpFormatter):  # type: ignore[misc, valid-type]
        """click's help formatter, measuring in cells (:func:`wrap_cells`), its "Usage:" translated."""

        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            prefix = _("Usage:") + " " if prefix is None else prefix
            usage_prefix = f"{prefix:>{self.current_indent}}{prog} "
            text_width = self.width - self.current_indent
            if text_width >= cell_len(usage_prefix) + 20:
                indent = " " * cell_len(usage_prefix)
                self.write(wrap_cells(args, text_width, initial_indent=usage_prefix, subsequent_indent=indent))
            else:
                self.write(usage_prefix + "\n")
                indent = " " * (max(self.current_indent, cell_len(prefix)) + 4)
                self.write(wrap_cells(args, text_width, initial_indent=indent, subsequent_indent=indent))
            self.write("\n")

        def write_text(self, text: str) -> None:
            indent = " " * self.current_indent
            self.write(wrap_cells(text, self.width, initial_indent=indent, subsequent_indent=indent,
                                  preserve_paragraphs=True) + "\n")

        def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
            rows = list(rows)
            widths = [max((cell_len(r[i]) for r in rows), default=0) for i in range(2)]
            first_col = min(widths[0], col_max) + col_spacing
            for first, second in iter_rows(rows, 2):
                self.write(f"{'':>{self.current_indent}}{first}")
                if not second:
                    self.write("\n")
                    continue
                if cell_len(first) <= first_col - col_spacing:
                    self.write(" " * (first_col - cell_len(first)))
                else:
                    self.write("\n" + " " * (first_col + self.current_indent))
                text_width = max(self.width - first_col - 2, 10)
                lines = wrap_cells(second, text_width, preserve_paragraphs=True).splitlines()
                self.write(f"{lines[0]}\n" if lines else "\n")
                for line in lines[1:]:
                    self.write(f"{'':>{first_col + self.current_indent}}{line}\n")

    return CellFormatter


def measure_help_in_cells(command: Any) -> None:
    """Make every command of the tree under ``command`` format its help and usage in cells
    (:func:`wrap_cells`): a Chinese help fits the terminal, option names are not broken."""
    formatter = _cell_formatter()
    context = type("CellContext", (command.context_class or typer.Context,), {"formatter_class": formatter})
    _put_context(command, context)


def _put_context(command: Any, context: type) -> None:
    command.context_class = context
    for sub in getattr(command, "commands", {}).values():
        _put_context(sub, context)
