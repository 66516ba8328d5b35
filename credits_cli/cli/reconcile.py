"""``reconcile``: our charge against the charge Microsoft reported in the export."""

from __future__ import annotations

import itertools
from typing import Annotated, Any

import typer

from credits_cli import i18n
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
from credits_cli.i18n import _, pgettext
from credits_cli.phrases import said


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
        raise InvalidInput(_("--limit must be 0 or more"))
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
    from credits_cli.reports.reconcile import reason_label

    cur = r.currency
    out = console()
    n = i18n.number

    def m(value: Any) -> str:
        return "" if value is None else currencies.display(value, cur)

    # TRANSLATORS: the heading of reconcile: the period's first and last days, the currency code, why that period.
    heading = _("Reconciliation, {first} to {last}, {currency}: {reason}").format(
        first=i18n.day(r.period.first), last=i18n.day(r.period.last), currency=cur, reason=printable(said(reason)))
    # the first word (up to the comma) in bold, as before
    word, comma, rest = heading.partition(",")
    out.print(f"[bold]{escape(word)}[/]{comma}{escape(rest)}" if comma else escape(heading), highlight=False)
    totals = Table(show_header=False, title=_("Totals"), title_justify="left")
    totals.add_column("what")
    totals.add_column("value", justify="right")
    totals.add_row(escape(_("calls compared")), n(r.total.calls))
    totals.add_row(escape(_("our charges")), m(r.total.ours))
    totals.add_row(escape(_("Microsoft's charges")), m(r.total.theirs))
    difference = escape(_("difference (Microsoft's - ours)"))
    totals.add_row(f"[bold]{difference}[/]", f"[bold]{m(r.total.difference)}[/]")
    # TRANSLATORS: {tolerance} is an amount with its currency; the count of such calls follows in the next column.
    totals.add_row(escape(_("calls differing by more than {tolerance}").format(
        tolerance=currencies.display(r.tolerance, cur))), n(r.differing))
    if r.without_charge:
        totals.add_row(escape(_("not compared: no charge in the export")), n(r.without_charge))
    if r.other_currency:
        totals.add_row(escape(_("not compared: priced in another currency")), n(r.other_currency))
    if r.carrier:
        totals.add_row(escape(_("not compared: carrier calls")), n(r.carrier))
    out.print(totals)
    if not r.total.calls:
        say(_("nothing to compare: no call of the period carries Microsoft's charge (import the Teams export or "
              "Graph JSON, which have it)"))
    # TRANSLATORS: the titles of reconcile's tables; "destination" and "user" also head their first column.
    groups = ((True, _("By destination (largest differences)"), pgettext("column", "destination"), r.by_destination),
              (False, _("By user (largest differences)"), pgettext("column", "user"), r.by_user))
    # TRANSLATORS: column headers of reconcile: our charge, Microsoft's, the difference.
    ours, theirs = pgettext("column", "ours"), pgettext("column", "Microsoft's")
    for by_destination, title, first, lines in groups:
        differing = [x for x in lines if x.difference != 0][:10]
        if not differing:
            continue
        table = Table(title=escape(title), title_justify="left", header_style="bold")
        table.add_column(escape(first), justify="left", overflow="fold")
        for name in (pgettext("column", "calls"), ours, theirs, pgettext("column", "difference")):
            table.add_column(escape(name), justify="right", overflow="fold")
        for x in differing:
            label = x.name or x.key if by_destination else (x.key or _("(no user)"))
            table.add_row(escape(printable(label)), n(x.calls), m(x.ours), m(x.theirs), m(x.difference))
        out.print(table)
    if r.reasons:
        # the reasons' labels are English keys in --json: said in the reader's language here
        say(_("why they differ: {reasons}").format(
            reasons="; ".join(f"{reason_label(why)} {n(count)}" for why, count in r.reasons.items())))
    if shown:
        table = Table(title=escape(_("Differing calls (showing {shown} of {total})").format(
            shown=n(len(shown)), total=n(len(shown) + more))), title_justify="left", header_style="bold")
        for name, right in ((pgettext("column", "start"), False), (pgettext("column", "user"), False),
                            (ours, True), (theirs, True), (pgettext("column", "why"), False)):
            table.add_column(escape(name), justify="right" if right else "left", overflow="fold")
        for d in shown:
            table.add_row(clock.iso(d.start), escape(printable(d.user or _("(no user)"))), m(d.ours), m(d.theirs),
                          escape(printable(said(d.why))))
        out.print(table)
