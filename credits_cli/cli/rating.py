"""``rate-cdrs`` and ``calls``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
from credits_cli.kinds import Reason, Status

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
                raise InvalidInput(f"{path}: no such file")
        with _progress(progress.wanted(mode == "json"), files) as (counting, told):
            sources = []
            for path in files:
                name, records = open_records(path, fmt.value, notes=True)
                sources.append((str(path), name, counting(records)))
            summary = rating.rate_records(
                db, st.tenant_slug, sources, dry_run=dry_run, progress=told,
                batch_size=batch_size or rating.BATCH_SIZE, rejects_out=out.handle if out else None,
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
        warn(note)
    if summary.rejected:
        where = f"; see {rejects}" if rejects and failed is None else "; use --rejects OUT.csv to list them"
        first = summary.first_rejects[0] if summary.first_rejects else None
        example = f" (first: {Path(first.source).name} line {first.line}: {first.reason})" if first else ""
        warn(f"{summary.rejected:,} rows rejected{example}{where}")
    if failed is not None:
        warn(f"{failed}; the {summary.rejected:,} rejected rows are not listed (the import itself is complete)")
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
        reason = f" ({summary.recharge_failure})" if summary.recharge_failure else ""
        parts.append(f"{summary.recharges_failed:,} recharge attempt(s) failed{reason}")
    denied = summary.reasons.get(Reason.NO_BALANCE, 0)
    if denied:
        parts.append(f"{denied:,} call(s) denied for lack of balance")
    if not parts:
        return ""
    return "; ".join(parts) + ": fund the balance (credits topup) or fix the payment method (credits payment set)"


Counting = Callable[[Iterable[Any]], Iterable[Any]]


@contextmanager
def _progress(show: bool, files: list[Path]) -> Iterator[tuple[Counting, Callable[[int], None] | None]]:
    """Two progress lines on stderr, on a terminal only: rows read of the files (about as many as their
    sizes tell, exact once each file is read), then calls rated of those read."""
    if not show:
        yield (lambda items: items), None
        return
    from credits_cli.readers import CallRecord, Note

    estimates = [progress.estimate_rows(path) for path in files]
    bar = progress.bar()
    reading = progress.Line(bar, "reading", sum(e or 0 for e in estimates) or None, "rows", estimate=True)
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
            rated.append(progress.Line(bar, "rating ", calls[0], "calls", estimate=False))
        rated[0].advance(n)

    bar.start()
    try:
        yield counting, told
    finally:
        bar.stop()


def _print_summary(summary: Summary) -> None:
    from credits_cli import currencies

    cur = summary.currency
    rows: list[list[Any]] = [
        ["rate table", summary.rate_table or "(none)"],
        ["charges", "Microsoft's, from the export" if summary.charges == "export" else "from the rate table"],
        ["rows read", f"{summary.rows_read:,}"],
    ]
    rows += [[f"  {status}", f"{n:,}"] for status, n in summary.statuses.items()]
    rows += [[f"    denied: {reason}", f"{n:,}"] for reason, n in sorted(summary.reasons.items())]
    rows += [
        ["  duplicate", f"{summary.duplicates:,}"],
        ["  rejected", f"{summary.rejected:,}"],
        ["total charged", currencies.display(summary.total_charged, cur)],
        ["recharges", f"{summary.recharges_succeeded} succeeded ({currencies.display(summary.recharged_amount, cur)}), "
                      f"{summary.recharges_failed} failed"],
        ["balance before", currencies.display(summary.balance_before, cur)],
        ["balance after", currencies.display(summary.balance_after, cur)],
    ]
    table("Rating summary" + (" (dry run: nothing written)" if summary.dry_run else ""),
          [Col("what"), Col("value", right=True, shrink=16)], rows, header=False)


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
        shown = listing(
            "Calls" + (" (the newest first)" if newest else ""),
            [Col("start"), Col("user", shrink=10), Col("kind", keep=3), Col("number", keep=2),
             Col("sec", right=True, keep=4), Col("billed", right=True, keep=5), Col("pool", right=True, keep=6),
             Col("status", shrink=8), Col("charge", right=True)],
            (
                [short_time(d["start"]), d["user"], d["kind"], d["number"], d["duration_seconds"],
                 d["billed_seconds"], d["pool_seconds"] or "",
                 d["status"] + (f" ({d['reason']})" if d["reason"] else ""), money.fmt(d["charge"])]
                for d in docs
            ),
            noun="calls",
            total=total,
            hint="--limit N shows more, 0 all" + ("" if newest else "; --newest the latest"),
        )
    if not shown:
        say("no calls match" if total == 0 else f"no calls shown of {total:,}")
