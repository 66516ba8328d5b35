"""``rate-cdrs`` and ``calls``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import Json, console, err_console, listing, print_json, print_json_stream, say, state, warn
from credits_cli.kinds import Reason

if TYPE_CHECKING:
    from credits_cli.rating import Summary



def register(app: typer.Typer) -> None:
    app.command("rate-cdrs")(rate_cdrs)
    app.command("calls")(calls)


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
        str,
        typer.Option("--format",
                     help="auto (by content), teams-csv, direct-routing-csv, graph-json, graph-csv or csv."),
    ] = "auto",
    charges: Annotated[
        str,
        typer.Option("--charges", help="table: price with the active rate table; export: debit the charge "
                     "Microsoft reported in the export."),
    ] = "table",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Price the calls without writing anything.")] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected rows here (CSV: file,line,reason).")
    ] = None,
    allow_old: Annotated[
        bool, typer.Option("--allow-old", help="Rate calls that started more than 13 months ago (a replay).")
    ] = False,
    json_out: Json = False,
) -> None:
    """Rate call records and debit the balance.

    Exit 3 when some rows were rejected; exit 4 when recharges failed or calls were denied for lack of
    balance (4 wins when both happen: a balance that ran dry stops toll-free numbers).
    """
    from credits_cli import outputs, rating
    from credits_cli.errors import InvalidInput
    from credits_cli.readers import FORMATS, open_records

    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r} must be one of {', '.join(FORMATS)}")
    charges = charges.strip().lower()
    if charges not in ("table", "export"):
        raise InvalidInput(f"--charges {charges!r} must be table or export")
    st = state(ctx)
    batch_size = st.settings.rate_batch()
    if rejects is not None:  # before anything is read or written: never over the database or an input
        outputs.check_target(rejects, what="--rejects", inputs=files, database=st.database_file())
    db = st.db
    with db.read() as s:  # fail early (no tenant, no rate table) before reading any file
        from credits_cli import rates

        tenant = st.tenant(s)
        if charges == "table":
            rates.require_active(s, tenant)
    # The rejects file is opened (under a temporary name) before the import, so a folder that does not
    # exist stops the command before anything is read or written; rows stream into it as they are found.
    out = outputs.AtomicFile(rejects, what="--rejects") if rejects is not None else None
    try:
        sources = []
        for path in files:
            if not path.is_file():
                raise InvalidInput(f"{path}: no such file")
            name, records = open_records(path, fmt, notes=True)
            sources.append((str(path), name, records))
        with _progress(json_out) as progress:
            summary = rating.rate_records(
                db, st.tenant_slug, sources, dry_run=dry_run, progress=progress,
                batch_size=batch_size or rating.BATCH_SIZE, rejects_out=out.handle if out else None,
                allow_old=allow_old, charges=charges,
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
    if json_out:
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


@contextmanager
def _progress(json_out: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress line on stderr while rating, on a terminal only."""
    if not sys.stderr.isatty() or json_out:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), TextColumn("rating: {task.completed:,} calls"), TimeElapsedColumn(),
                   console=err_console(), transient=True)
    task = bar.add_task("rating", total=None)
    bar.start()
    try:
        yield lambda n: bar.advance(task, n)
    finally:
        bar.stop()


def _print_summary(summary: Summary) -> None:
    from rich.table import Table

    from credits_cli import currencies

    cur = summary.currency
    t = Table(
        title="Rating summary" + (" (dry run: nothing written)" if summary.dry_run else ""),
        title_justify="left",
        show_header=False,
    )
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("rate table", summary.rate_table or "(none)")
    t.add_row("charges", "Microsoft's, from the export" if summary.charges == "export" else "from the rate table")
    t.add_row("rows read", f"{summary.rows_read:,}")
    for status, n in summary.statuses.items():
        t.add_row(f"  {status}", f"{n:,}")
    for reason, n in sorted(summary.reasons.items()):
        t.add_row(f"    denied: {reason}", f"{n:,}")
    t.add_row("  duplicate", f"{summary.duplicates:,}")
    t.add_row("  rejected", f"{summary.rejected:,}")
    t.add_row("total charged", currencies.display(summary.total_charged, cur))
    t.add_row(
        "recharges",
        f"{summary.recharges_succeeded} succeeded ({currencies.display(summary.recharged_amount, cur)}), "
        f"{summary.recharges_failed} failed",
    )
    t.add_row("balance before", currencies.display(summary.balance_before, cur))
    t.add_row("balance after", currencies.display(summary.balance_after, cur))
    console().print(t)



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


def calls(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's calls (UPN).")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="charged, included, free, denied, unrated or carrier."),
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day (inclusive), YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many calls (0 = all).")] = 100,
    json_out: Json = False,
) -> None:
    """Rated calls, oldest first."""
    from datetime import timedelta

    from credits_cli import clock, money, rating
    from credits_cli.errors import InvalidInput
    from credits_cli.kinds import STATUSES

    if status is not None and status not in STATUSES:
        raise InvalidInput(f"--status {status!r} must be one of {', '.join(STATUSES)}")
    if limit < 0:
        raise InvalidInput("--limit must be 0 or more")
    start = clock.day_start(clock.parse_day(date_from, what="--from")) if date_from else None
    end = clock.day_start(clock.parse_day(date_to, what="--to")) + timedelta(days=1) if date_to else None
    st = state(ctx)
    with st.db.read() as s:  # open while the calls stream out
        t = st.tenant(s)
        docs = (
            call_doc(c)
            for c in rating.iter_calls(s, t, upn=user, status=status, start=start, end=end, limit=limit or None)
        )
        if json_out:
            print_json_stream({"currency": t.currency}, "calls", docs)
            return
        shown = listing(
            "Calls",
            ["start", "user", "kind", "number", "seconds", "billed", "pool", "status", "charge"],
            (
                [clock.iso(d["start"]), d["user"], d["kind"], d["number"], d["duration_seconds"],
                 d["billed_seconds"], d["pool_seconds"] or "",
                 d["status"] + (f" ({d['reason']})" if d["reason"] else ""), money.fmt(d["charge"])]
                for d in docs
            ),
            justify_right={"seconds", "billed", "pool", "charge"},
            noun="calls",
        )
    if not shown:
        say("no calls match")
