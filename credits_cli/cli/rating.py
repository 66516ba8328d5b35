"""``rate-cdrs`` and ``calls``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n
from credits_cli.cli import progress
from credits_cli.cli.common import (
    Col,
    DocOutputOpt,
    Json,
    Newest,
    OutputOpt,
    examples,
    listing,
    output_mode,
    print_csv,
    print_json,
    print_json_stream,
    say,
    short_time,
    state,
    table,
    warn,
)
from credits_cli.i18n import _, ngettext, npgettext, pgettext
from credits_cli.kinds import Reason, Status
from credits_cli.phrases import said

if TYPE_CHECKING:
    from credits_cli.rating import Summary



def register(app: typer.Typer) -> None:
    app.command("rate-cdrs", epilog=examples("credits rate-cdrs Calls.Export.*.zip --rejects rejects.csv",
                                             "credits rate-cdrs getPstnCalls.json --dry-run"))(rate_cdrs)
    app.command("calls", epilog=examples("credits calls --status denied --newest",
                                         "credits calls --user ada@contoso.com --from 2026-10-01 -o csv"))(calls)


class Format(StrEnum):
    """``--format``: the readers of :mod:`credits_cli.readers` (a test holds the two lists together)."""

    AUTO = "auto"
    TEAMS_CSV = "teams-csv"
    GRAPH_CSV = "graph-csv"
    DIRECT_ROUTING_CSV = "direct-routing-csv"
    GRAPH_JSON = "graph-json"
    CSV = "csv"


class Charges(StrEnum):
    """``--charges``: whose price is debited."""

    TABLE = "table"
    EXPORT = "export"


def rate_cdrs(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Call-record files: Teams PSTN export (csv or zip), Graph JSON, or the project's CSV.",
        ),
    ],
    fmt: Annotated[
        Format,
        typer.Option("--format", case_sensitive=False,
                     help="auto (by content), or the format: the Teams PSTN export, Graph rows as CSV, the "
                     "Direct Routing export, Graph JSON, the project's CSV."),
    ] = Format.AUTO,
    charges: Annotated[
        Charges,
        typer.Option("--charges", case_sensitive=False,
                     help="table: price with the active rate table; export: debit the charge Microsoft reported "
                     "in the export."),
    ] = Charges.TABLE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Price the calls without writing anything.")] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected rows here (CSV: file,line,reason).")
    ] = None,
    allow_old: Annotated[
        bool, typer.Option("--allow-old", help="Rate calls that started more than 13 months ago (a replay).")
    ] = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Rate call records and debit the balance.

    Exit 3 when some rows were rejected; exit 4 when recharges failed or calls were denied for lack of
    balance (4 wins when both happen: a balance that ran dry stops toll-free numbers). On a terminal a
    progress line on stderr says the rows read and rated of the total, the rate and the time left.
    """
    from credits_cli import outputs, rating
    from credits_cli.errors import InvalidInput
    from credits_cli.readers import open_records

    mode = output_mode(output, json_out)
    st = state(ctx)
    batch_size = st.settings.rate_batch()
    if rejects is not None:  # before anything is read or written: never over the database or an input
        outputs.check_target(rejects, what="--rejects", inputs=files, database=st.database_file())
    db = st.db
    with db.read() as s:  # fail early (no tenant, no rate table) before reading any file
        from credits_cli import rates

        tenant = st.tenant(s)
        if charges is Charges.TABLE:
            rates.require_active(s, tenant)
    # The rejects file is opened (under a temporary name) before the import, so a folder that does not
    # exist stops the command before anything is read or written; rows stream into it as they are found.
    out = outputs.AtomicFile(rejects, what="--rejects") if rejects is not None else None
    try:
        for path in files:
            if not path.is_file():
                raise InvalidInput(_("{path}: no such file").format(path=path))
        with _progress(progress.wanted(mode == "json"), files) as (counting, told):
            sources = []
            for path in files:
                name, records = open_records(path, fmt.value, notes=True)
                sources.append((str(path), name, counting(records)))
            summary = rating.rate_records(
                db, st.tenant_slug, sources, dry_run=dry_run, progress=told,
                batch_size=batch_size, rejects_out=out.handle if out else None,
                allow_old=allow_old, charges=charges.value,
            )
        failed = summary.rejects_failed
        if out is not None and failed is None:
            out.commit()
    finally:
        if out is not None and not out.done:
            out.discard()
    doc = summary.doc()
    if rejects is not None and failed is None:
        doc["rejects_file"] = str(rejects)
    if mode == "json":
        print_json(doc)
    else:
        _print_summary(summary)
    for note in summary.notes:
        warn(said(note))
    if summary.rejected:
        if rejects and failed is None:
            # TRANSLATORS: follows "{n} rows rejected"; {path} is the --rejects file.
            where = _("; see {path}").format(path=rejects)
        else:
            where = _("; use --rejects OUT.csv to list them")
        first = summary.first_rejects[0] if summary.first_rejects else None
        # TRANSLATORS: the first rejected row: its file's name, its line number and why it was rejected.
        example = _(" (first: {file} line {line}: {reason})").format(
            file=Path(first.source).name, line=first.line, reason=said(first.reason)) if first else ""
        # TRANSLATORS: {example} tells the first rejected row, {where} where to see them all (both may be empty).
        warn(ngettext("{n} rows rejected{example}{where}", "{n} rows rejected{example}{where}",
                      summary.rejected).format(n=i18n.number(summary.rejected), example=example, where=where))
    if failed is not None:
        # TRANSLATORS: {failure} says why the --rejects file could not be written.
        warn(ngettext("{failure}; the {n} rejected rows are not listed (the import itself is complete)",
                      "{failure}; the {n} rejected rows are not listed (the import itself is complete)",
                      summary.rejected).format(failure=failed, n=i18n.number(summary.rejected)))
    short = _money_trouble(summary)
    if short:
        warn(short)
        raise typer.Exit(4)  # before 3: a balance that ran dry stops toll-free lines, rejected rows wait
    if summary.rejected:
        raise typer.Exit(3)


def _money_trouble(summary: Summary) -> str:
    """One line when the import met recharges that failed or calls denied for lack of balance (exit 4)."""
    parts = []
    if summary.recharges_failed:
        reason = f" ({said(summary.recharge_failure)})" if summary.recharge_failure else ""
        # TRANSLATORS: {reason} is empty or why the last one failed, in parentheses.
        parts.append(ngettext("{n} recharge attempt(s) failed{reason}", "{n} recharge attempt(s) failed{reason}",
                              summary.recharges_failed).format(n=i18n.number(summary.recharges_failed), reason=reason))
    denied = summary.reasons.get(Reason.NO_BALANCE, 0)
    if denied:
        parts.append(ngettext("{n} call(s) denied for lack of balance", "{n} call(s) denied for lack of balance",
                              denied).format(n=i18n.number(denied)))
    if not parts:
        return ""
    # TRANSLATORS: {trouble} is what went wrong (failed recharges, denied calls); the commands stay as they are.
    return _("{trouble}: fund the balance (credits topup) or fix the payment method (credits payment set)").format(
        trouble="; ".join(parts))


Counting = Callable[[Iterable[Any]], Iterable[Any]]


@contextmanager
def _progress(show: bool, files: list[Path]) -> Iterator[tuple[Counting, Callable[[int], None] | None]]:
    """Two progress lines on stderr, on a terminal only: rows read of the files (about as many as their
    sizes tell, exact once each file is read), then calls rated of those read."""
    if not show:
        yield (lambda items: items), None
        return
    from rich.cells import cell_len

    from credits_cli.readers import CallRecord, Note

    estimates = [progress.estimate_rows(path) for path in files]
    bar = progress.bar()
    # TRANSLATORS: the two progress lines of rate-cdrs ("reading 1,000 of ~5,000 rows", "rating 900 of 1,000
    # calls"): their descriptions are padded to the same width.
    doing = [_("reading"), _("rating")]
    wide = max(cell_len(d) for d in doing)
    doing = [d + " " * (wide - cell_len(d)) for d in doing]
    reading = progress.Line(bar, doing[0], sum(e or 0 for e in estimates) or None, _("rows"), estimate=True)
    calls = [0]
    exact: list[int] = []
    rated: list[progress.Line] = []

    def counting(items: Iterable[Any]) -> Iterator[Any]:
        index = len(exact)
        exact.append(0)
        pending = 0
        for item in items:
            yield item
            if isinstance(item, Note):
                continue
            exact[index] += 1
            pending += 1
            if isinstance(item, CallRecord):
                calls[0] += 1
            if pending == progress.EVERY:
                reading.advance(pending)
                pending = 0
        reading.advance(pending)
        # this file is read: its count is known, the others are still estimates
        known = sum(exact) + sum(e or 0 for e in estimates[len(exact):])
        if len(exact) == len(files):
            reading.exact(sum(exact))
        elif known:
            reading.exact(known)
            reading.estimate = True

    def told(n: int) -> None:
        if not rated:
            reading.hide()
            rated.append(progress.Line(bar, doing[1], calls[0], pgettext("progress", "calls"), estimate=False))
        rated[0].advance(n)

    bar.start()
    try:
        yield counting, told
    finally:
        bar.stop()


def _print_summary(summary: Summary) -> None:
    from credits_cli import currencies
    from credits_cli.phrases import quantity

    cur = summary.currency
    n = i18n.number
    rows: list[list[Any]] = [
        [_("rate table"), summary.rate_table or _("(none)")],
        # TRANSLATORS: a label of the rating summary: whose prices were debited (the value after it).
        [pgettext("label", "charges"),
         _("Microsoft's, from the export") if summary.charges == "export" else _("from the rate table")],
        [_("rows read"), n(summary.rows_read)],
    ]
    # the statuses and reasons are the tool's words (also in --json): not translated
    rows += [[f"  {status}", n(count)] for status, count in summary.statuses.items()]
    rows += [["    " + _("denied: {reason}").format(reason=reason), n(count)]
             for reason, count in sorted(summary.reasons.items())]
    rows += [
        # TRANSLATORS: a label of the rating summary: rows already imported before (a count follows).
        ["  " + pgettext("rows", "duplicate"), n(summary.duplicates)],
        # TRANSLATORS: a label of the rating summary: rows that could not be read (a count follows).
        ["  " + pgettext("rows", "rejected"), n(summary.rejected)],
        [_("total charged"), currencies.display(summary.total_charged, cur)],
        # TRANSLATORS: the auto-recharges during the import: how many succeeded (the amount bought), how many failed.
        [_("recharges"), _("{succeeded} succeeded ({amount}), {failed} failed").format(
            succeeded=quantity(summary.recharges_succeeded), amount=currencies.display(summary.recharged_amount, cur),
            failed=quantity(summary.recharges_failed))],
        [_("balance before"), currencies.display(summary.balance_before, cur)],
        [_("balance after"), currencies.display(summary.balance_after, cur)],
    ]
    title = _("Rating summary (dry run: nothing written)") if summary.dry_run else _("Rating summary")
    table(title, [Col("what"), Col("value", right=True, shrink=16)], rows, header=False)


def call_doc(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "external_id": c.external_id,
        "start": c.start,
        "user": c.user_upn,
        "call_type": c.call_type,
        "kind": c.kind,
        "number": c.number,
        "country": c.country,
        "domestic": c.domestic,
        "duration_seconds": c.duration_seconds,
        "status": c.status,
        "reason": c.reason,
        "rate_prefix": c.rate_prefix,
        "rate_name": c.rate_name,
        "billed_seconds": c.billed_seconds,
        "pool": c.pool,
        "pool_seconds": c.pool_seconds,
        "charged_seconds": c.charged_seconds,
        "charge": c.charge,
        "source_file": c.source_file,
        "source_line": c.source_line,
        "import_id": c.import_id,
    }


#: The columns of ``calls -o csv``: every key of a call's JSON document.
CALL_KEYS = ["id", "external_id", "start", "user", "call_type", "kind", "number", "country", "domestic",
             "duration_seconds", "status", "reason", "rate_prefix", "rate_name", "billed_seconds", "pool",
             "pool_seconds", "charged_seconds", "charge", "source_file", "source_line", "import_id"]

StatusOpt = Annotated[
    Status | None,
    typer.Option("--status", case_sensitive=False, show_default=False, help="Only calls of this status."),
]


def calls(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's calls (UPN).")] = None,
    status: StatusOpt = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (inclusive), YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many calls (0 = all).")] = 100,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """Rated calls, oldest first (--newest: the latest first)."""
    from datetime import timedelta

    from credits_cli import calls as found
    from credits_cli import clock, money

    mode = output_mode(output, json_out)
    start = clock.day_start(clock.parse_day(date_from, what="--from")) if date_from else None
    end = clock.day_start(clock.parse_day(date_to, what="--to")) + timedelta(days=1) if date_to else None
    which = found.Filter(upn=user, status=status.value if status else None, start=start, end=end)
    st = state(ctx)
    with st.db.read() as s:  # open while the calls stream out
        t = st.tenant(s)
        total = found.count(s, t, which)
        docs = (call_doc(c) for c in found.iter_calls(s, t, which, limit=limit or None, newest=newest))
        if mode == "json":
            print_json_stream({"currency": t.currency, "total": total}, "calls", docs)
            return
        if mode == "csv":
            print_csv(CALL_KEYS, docs)
            return
        # TRANSLATORS: column headers of the calls: "sec" is the duration in seconds, "billed" the seconds billed,
        # "pool" the seconds taken from an included pool.
        shown = listing(
            _("Calls (the newest first)") if newest else _("Calls"),
            [Col(pgettext("column", "start")), Col(pgettext("column", "user"), shrink=10),
             Col(pgettext("column", "kind"), keep=3), Col(pgettext("column", "number"), keep=2),
             Col(pgettext("column", "sec"), right=True, keep=4), Col(pgettext("column", "billed"), right=True, keep=5),
             Col(pgettext("column", "pool"), right=True, keep=6), Col(pgettext("column", "status"), shrink=8),
             Col(pgettext("column", "charge"), right=True)],
            (
                [short_time(d["start"]), d["user"], d["kind"], d["number"], d["duration_seconds"],
                 d["billed_seconds"], d["pool_seconds"] or "",
                 d["status"] + (f" ({d['reason']})" if d["reason"] else ""), money.fmt(d["charge"])]
                for d in docs
            ),
            # TRANSLATORS: what a listing counts, after its number ("100 calls", "showing 100 of 199,814 calls").
            noun=lambda n: npgettext("listing", "call", "calls", n),
            total=total,
            hint=_("--limit N shows more, 0 all") if newest else _("--limit N shows more, 0 all; --newest the latest"),
        )
    if not shown:
        say(_("no calls match") if total == 0 else _("no calls shown of {total}").format(total=i18n.number(total)))
