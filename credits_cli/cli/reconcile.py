"""``reconcile``: our charge against the charge Microsoft reported in the export."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import typer

from credits_cli.cli.common import (
    DocOutputOpt,
    Json,
    console,
    examples,
    output_mode,
    print_json_stream,
    printable,
    say,
    state,
)


def register(app: typer.Typer) -> None:
    app.command("reconcile", epilog=examples(
        "credits reconcile --month 2026-10 --tolerance 0.05",
        "credits reconcile --last-month --limit 0 -o json > differences.json",
    ))(reconcile)


def reconcile(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option("--month", help="The month YYYY-MM.")] = None,
    last_month: Annotated[bool, typer.Option("--last-month", help="The calendar month before this one.")] = False,
    start: Annotated[str | None, typer.Option("--from", help="First day YYYY-MM-DD, or a month YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day YYYY-MM-DD (inclusive), or a month.")] = None,
    tolerance: Annotated[
        str | None,
        typer.Option("--tolerance", help="Differences up to this are not listed (default: one minor unit, 0.01)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Differing calls shown (0: all).")] = 20,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Our charge against Microsoft's, per call, per user, per destination and in total: was the tenant
    charged what its contract says?

    Compares the calls made in the period (by default the latest month with calls) that the export
    priced in the tenant's currency; Microsoft's charge is the export's Charge plus its Connection Fee.
    Each call that differs by more than the tolerance is listed with the reason when one is known.
    """
    from credits_cli import money
    from credits_cli.errors import InvalidInput
    from credits_cli.reports import build as rep
    from credits_cli.reports import reconcile as rec

    json_out = output_mode(output, json_out) == "json"
    if limit < 0:
        raise InvalidInput("--limit must be 0 or more")
    st = state(ctx)
    with st.db.read() as s:  # open while the differences stream out
        t = st.tenant(s)
        tol = (money.parse_amount(tolerance, t.currency, what="--tolerance", zero=True) if tolerance is not None
               else None)
        chosen = rep.period(start, end, month=month, last_month=last_month, latest_call=rep.latest_call_day(s, t))
        result = rec.build(s, t, chosen.period, tol)
        differences = rec.iter_differences(s, t, chosen.period, result.tolerance)
        if json_out:
            head = result.doc() | {"period_reason": chosen.reason}

            def docs() -> Any:
                for d in differences:
                    yield {"start": d.start, "external_id": d.external_id, "user": d.user, "kind": d.kind,
                           "number": d.number, "destination": d.destination, "status": d.status,
                           "reason": d.reason, "ours": d.ours, "microsoft": d.theirs, "difference": d.difference,
                           "currency": d.currency, "capability": d.capability, "why": d.why}

            print_json_stream(head, "differences", docs())
            return
        shown = list(itertools.islice(differences, limit or None))
        more = sum(1 for _ in differences)
    _show(result, chosen.reason, shown, more)


def _show(r: Any, reason: str, shown: list[Any], more: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    from credits_cli import clock, currencies

    cur = r.currency
    out = console()

    def m(value: Any) -> str:
        return "" if value is None else currencies.display(value, cur)

    out.print(f"[bold]Reconciliation[/], {r.period.first} to {r.period.last}, {cur}: {escape(printable(reason))}",
              highlight=False)
    totals = Table(show_header=False, title="Totals", title_justify="left")
    totals.add_column("what")
    totals.add_column("value", justify="right")
    totals.add_row("calls compared", f"{r.total.calls:,}")
    totals.add_row("our charges", m(r.total.ours))
    totals.add_row("Microsoft's charges", m(r.total.theirs))
    totals.add_row("[bold]difference (Microsoft's - ours)[/]", f"[bold]{m(r.total.difference)}[/]")
    totals.add_row(f"calls differing by more than {currencies.display(r.tolerance, cur)}", f"{r.differing:,}")
    if r.without_charge:
        totals.add_row("not compared: no charge in the export", f"{r.without_charge:,}")
    if r.other_currency:
        totals.add_row("not compared: priced in another currency", f"{r.other_currency:,}")
    if r.carrier:
        totals.add_row("not compared: carrier calls", f"{r.carrier:,}")
    out.print(totals)
    if not r.total.calls:
        say("nothing to compare: no call of the period carries Microsoft's charge (import the Teams export or "
            "Graph JSON, which have it)")
    for title, lines in (("By destination", r.by_destination), ("By user", r.by_user)):
        differing = [x for x in lines if x.difference != 0][:10]
        if not differing:
            continue
        table = Table(title=f"{title} (largest differences)", title_justify="left", header_style="bold")
        for name in ("", "calls", "ours", "Microsoft's", "difference"):
            table.add_column(name or title.split()[-1], justify="left" if not name else "right", overflow="fold")
        for x in differing:
            label = x.name or x.key if title == "By destination" else (x.key or "(no user)")
            table.add_row(escape(printable(label)), f"{x.calls:,}", m(x.ours), m(x.theirs), m(x.difference))
        out.print(table)
    if r.reasons:
        say("why they differ: " + "; ".join(f"{why} {n:,}" for why, n in r.reasons.items()))
    if shown:
        table = Table(title=f"Differing calls (showing {len(shown):,} of {len(shown) + more:,})",
                      title_justify="left", header_style="bold")
        for name in ("start", "user", "ours", "Microsoft's", "why"):
            table.add_column(name, justify="right" if name in ("ours", "Microsoft's") else "left", overflow="fold")
        for d in shown:
            table.add_row(clock.iso(d.start), escape(printable(d.user or "(no user)")), m(d.ours), m(d.theirs),
                          escape(printable(d.why)))
        out.print(table)
