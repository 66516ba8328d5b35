"""``rate-cdrs`` and ``calls``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import Json, console, err_console, listing, print_json, print_json_stream, say, state, warn

if TYPE_CHECKING:
    from credits_cli.rating import Summary

FORMATS = ("auto", "teams-csv", "graph-json", "csv", "direct-routing-csv")


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
        str, typer.Option("--format", help="auto, teams-csv, graph-json, csv or direct-routing-csv.")
    ] = "auto",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Price the calls without writing anything.")] = False,
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected rows here (CSV: file,line,reason).")
    ] = None,
    json_out: Json = False,
) -> None:
    """Rate call records and debit the balance. Exit 3 when some rows were rejected."""
    from credits_cli import rating
    from credits_cli.errors import InvalidInput
    from credits_cli.readers import open_records

    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r} must be one of {', '.join(FORMATS)}")
    st = state(ctx)
    batch_size = st.settings.rate_batch()
    db = st.db
    with db.read() as s:  # fail early (no tenant, no rate table) before reading any file
        from credits_cli import rates

        rates.require_active(s, st.tenant(s))
    if rejects is not None and rejects.exists() and rejects.is_dir():
        raise InvalidInput(f"--rejects {rejects} is a folder; give a file name")
    sources = []
    for path in files:
        if not path.is_file():
            raise InvalidInput(f"{path}: no such file")
        name, records = open_records(path, fmt)
        sources.append((str(path), name, records))

    progress = None
    bar = None
    if sys.stderr.isatty() and not json_out:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        bar = Progress(SpinnerColumn(), TextColumn("rating: {task.completed:,} calls"), TimeElapsedColumn(),
                       console=err_console(), transient=True)
        task = bar.add_task("rating", total=None)
        bar.start()

        def progress(n: int) -> None:
            bar.advance(task, n)

    try:
        summary = rating.rate_records(db, st.tenant_slug, sources, dry_run=dry_run, progress=progress,
                                      batch_size=batch_size or rating.BATCH_SIZE)
    finally:
        if bar is not None:
            bar.stop()
    if rejects is not None:
        try:
            rating.write_rejects(rejects, summary.rejects)
        except OSError as exc:
            raise InvalidInput(f"cannot write --rejects {rejects}: {exc.strerror}") from None
    doc = summary.doc()
    if rejects is not None:
        doc["rejects_file"] = str(rejects)
    if json_out:
        print_json(doc)
    else:
        _print_summary(summary, rejects)
    if summary.rejected:
        raise typer.Exit(3)


def _print_summary(summary: Summary, rejects: Path | None) -> None:
    from rich.table import Table

    from credits_cli import money

    cur = summary.currency
    t = Table(
        title="Rating summary" + (" (dry run: nothing written)" if summary.dry_run else ""),
        title_justify="left",
        show_header=False,
    )
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("rate table", summary.rate_table)
    t.add_row("rows read", f"{summary.rows_read:,}")
    for status, n in summary.statuses.items():
        t.add_row(f"  {status}", f"{n:,}")
    for reason, n in sorted(summary.reasons.items()):
        t.add_row(f"    denied: {reason}", f"{n:,}")
    t.add_row("  duplicate", f"{summary.duplicates:,}")
    t.add_row("  rejected", f"{summary.rejected:,}")
    t.add_row("total charged", money.fmt_display(summary.total_charged, cur))
    t.add_row(
        "recharges",
        f"{summary.recharges_succeeded} succeeded ({money.fmt_display(summary.recharged_amount, cur)}), "
        f"{summary.recharges_failed} failed",
    )
    t.add_row("balance before", money.fmt_display(summary.balance_before, cur))
    t.add_row("balance after", money.fmt_display(summary.balance_after, cur))
    console().print(t)
    if summary.rejected:
        where = f"; see {rejects}" if rejects else "; use --rejects OUT.csv to list them"
        warn(f"{summary.rejected} rows rejected{where}")


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
