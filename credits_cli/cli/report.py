"""``report`` and ``recommend``: who spends, on what, how fast, and how much to fund."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import Json, console, print_json, printable, say, state

if TYPE_CHECKING:
    from credits_cli.recommend import Recommendation
    from credits_cli.reports.build import Report


#: Width of the longest bar of the daily spend chart, in terminal cells.
BAR_WIDTH = 40
_EIGHTHS = " ▏▎▍▌▋▊▉"


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("recommend")(recommend)


def _check_xlsx_target(path: Path, database: Path | None) -> None:
    from credits_cli import outputs
    from credits_cli.errors import InvalidInput

    if path.suffix.lower() != ".xlsx":
        raise InvalidInput(f"{path} should end in .xlsx")
    outputs.check_target(path, what="--xlsx", database=database)
    if not path.parent.is_dir():
        raise InvalidInput(f"folder {path.parent} does not exist")


def report(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option("--month", help="The month YYYY-MM.")] = None,
    last_month: Annotated[bool, typer.Option("--last-month", help="The calendar month before this one.")] = False,
    start: Annotated[
        str | None, typer.Option("--from", help="First day YYYY-MM-DD, or a month YYYY-MM (its first day).")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last day YYYY-MM-DD (inclusive), or a month YYYY-MM (its last day)."),
    ] = None,
    xlsx_out: Annotated[Path | None, typer.Option("--xlsx", help="Also write an Excel workbook here.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write the tables as CSV files in this folder.")]
    = None,
    json_out: Json = False,
) -> None:
    """Usage and funding report: balance, funding, spend by kind, denied calls, pools, users, destinations.

    With no dates it covers the latest month that has calls. The balance follows the order entries
    were posted (a late import counts in the period it was imported, and the report says how much of
    it was for earlier calls); the spend is that of the calls made in the period.
    """
    from credits_cli.reports import build as rep

    st = state(ctx)
    if xlsx_out is not None:
        _check_xlsx_target(xlsx_out, st.database_file())
    written: dict[str, Any] = {}
    with st.db.read() as s:
        t = st.tenant(s)
        chosen = rep.period(start, end, month=month, last_month=last_month, latest_call=rep.latest_call_day(s, t))
        per = chosen.period
        data = rep.build(s, t, per, reason=chosen.reason)
        from credits_cli.reports import reconcile as rec

        reconciled = rec.build(s, t, per)
        if xlsx_out is not None:
            from credits_cli.reports import xlsx

            written["xlsx"] = xlsx.write(
                xlsx_out, data, rep.iter_calls(s, t, per), rep.iter_ledger(s, t, per, data.opening),
                reconciled, rec.iter_differences(s, t, per, reconciled.tolerance),
            )
        if csv_out is not None:
            from credits_cli.reports import csv as report_csv

            written["csv"] = report_csv.write(
                csv_out, data, rep.iter_calls(s, t, per), rep.iter_ledger(s, t, per, data.opening),
                database=st.database_file(), reconciliation=reconciled,
                differences=rec.iter_differences(s, t, per, reconciled.tolerance),
            )
    if json_out:
        print_json(data.to_dict() | {"reconciliation": reconciled.doc(), "written": written})
        return
    show_report(data)
    if "xlsx" in written:
        w = written["xlsx"]
        say(
            f"wrote {w['path']}: sheets {', '.join(w['sheets'])}; "
            f"{w['calls']} calls, {w['ledger_entries']} ledger entries"
        )
    if "csv" in written:
        w = written["csv"]
        say(f"wrote {len(w['files'])} CSV files in {w['directory']}")
    if reconciled.total.calls:
        from credits_cli import currencies

        cur = data.currency
        say(f"Microsoft's charges for the period's calls: {currencies.display(reconciled.total.theirs, cur)}, "
            f"ours {currencies.display(reconciled.total.ours, cur)}"
            + (f"; {reconciled.differing:,} call(s) differ: credits reconcile says why" if reconciled.differing
               else ""))


def show_report(r: Report) -> None:
    from rich.markup import escape as _escape
    from rich.table import Table

    def escape(text: str) -> str:
        return _escape(printable(text))

    from credits_cli import currencies

    cur = r.currency
    out = console()

    def m(value: Any) -> str:
        return currencies.display(value, cur)

    def mins(seconds: int) -> str:
        return f"{seconds / 60:,.1f}"

    p = r.period
    out.print(
        f"[bold]Report for {escape(r.tenant)}[/] ({escape(r.tenant_name)}), {p.first} to {p.last} "
        f"({p.days} days, UTC), {cur}" + (f": {escape(r.period_reason)}" if r.period_reason else ""),
        highlight=False,
    )

    bal = Table(title="Balance (entries posted in the period)", title_justify="left", header_style="bold",
                show_header=False)
    bal.add_column("item")
    bal.add_column("amount", justify="right")
    bal.add_row("Opening balance", m(r.opening))
    bal.add_row(f"Funding: top-ups ({r.topup_count})", m(r.topups))
    bal.add_row(f"Funding: recharges ({r.recharge_count})", m(r.recharges))
    bal.add_row("Call charges posted", m(-r.charges_posted))
    if r.late_charges:
        bal.add_row(f"  of which for {r.late_calls:,} calls before {p.first}", m(-r.late_charges))
    if r.expired:
        bal.add_row("Expired", m(-r.expired))
    if r.other:
        bal.add_row("Adjustments and settlements", m(r.other))
    bal.add_row("[bold]Closing balance[/]", f"[bold]{m(r.closing)}[/]")
    out.print(bal)
    if r.adjustments:
        adj = Table(title="Adjustments", title_justify="left", header_style="bold")
        for name in ("posted", "for", "amount", "note"):
            adj.add_column(name, justify="right" if name == "amount" else "left", overflow="fold")
        for a in r.adjustments:
            adj.add_row(str(a["posted_at"].date()), str(a["occurred_at"].date()), m(a["amount"]), escape(a["note"]))
        out.print(adj)

    kinds = Table(title="Spend by kind (calls made in the period)", title_justify="left", header_style="bold")
    for name, right in (("kind", False), ("calls", True), ("charged", True), ("charged min", True),
                        ("included min", True), ("spend", True)):
        kinds.add_column(name, justify="right" if right else "left")
    for k in r.by_kind:
        kinds.add_row(escape(k.kind), f"{k.calls:,}", f"{k.charged_calls:,}", mins(k.charged_seconds),
                      mins(k.pool_seconds), m(k.spend))
    kinds.add_row("[bold]total[/]", f"{sum(k.calls for k in r.by_kind):,}", "", "", "", f"[bold]{m(r.spend)}[/]")
    out.print(kinds)

    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(r.statuses.items(), key=lambda x: -x[1]))
    out.print(f"Calls: {r.calls:,}" + (f" ({escape(statuses)})" if statuses else ""), highlight=False)
    if r.denied:
        den = Table(title=f"Denied calls: {r.denied_calls:,}", title_justify="left", header_style="bold")
        den.add_column("reason")
        den.add_column("calls", justify="right")
        den.add_column("minutes", justify="right")
        for dn in r.denied:
            den.add_row(escape(dn.reason or "(no reason)"), f"{dn.calls:,}", mins(dn.billed_seconds))
        out.print(den)
    else:
        out.print("Denied calls: none", highlight=False)

    if r.pools:
        pools = Table(title="Pool use", title_justify="left", header_style="bold")
        for name, right in (("month", False), ("pool", False), ("capacity min", True), ("used min", True),
                            ("used", True)):
            pools.add_column(name, justify="right" if right else "left")
        for pl in r.pools:
            pools.add_row(pl.month, escape(pl.pool), mins(pl.capacity_seconds), mins(pl.used_seconds),
                          f"{pl.used_fraction * 100:.1f} %")
        out.print(pools)

    top = r.top_users()
    if top:
        users = Table(title="Top users", title_justify="left", header_style="bold")
        for name, right in (("user", False), ("calls", True), ("charged min", True), ("denied", True),
                            ("spend", True)):
            users.add_column(name, justify="right" if right else "left", overflow="fold")
        for u in top:
            users.add_row(escape(u.upn or "(no user)"), f"{u.calls:,}", mins(u.charged_seconds),
                          f"{u.denied_calls:,}", m(u.spend))
        out.print(users)

    dests = r.top_destinations()
    if dests:
        dt = Table(title="Top destinations", title_justify="left", header_style="bold")
        for name, right in (("destination", False), ("kind", False), ("prefix", False), ("calls", True),
                            ("charged min", True), ("spend", True)):
            dt.add_column(name, justify="right" if right else "left", overflow="fold")
        for de in dests:
            dt.add_row(escape(de.name or "(unrated)") + (f" ({escape(de.country)})" if de.country else ""),
                       escape(de.kind), escape(de.prefix), f"{de.calls:,}", mins(de.charged_seconds), m(de.spend))
        out.print(dt)

    out.print("[bold]Daily spend[/]", highlight=False)
    peak = max((d.spend for d in r.daily), default=None)
    for day in r.daily:
        out.print(f"{day.day}  {bar(day.spend, peak)} {m(day.spend)}", highlight=False)


def bar(value: Any, peak: Any, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of block characters, ``width`` cells at ``peak``, in eighths of a cell."""
    if not peak or peak <= 0 or value <= 0:
        return " " * width
    eighths = max(1, int(value * width * 8 / peak))
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return text.ljust(width)


def recommend(ctx: typer.Context, json_out: Json = False) -> None:
    """Recommended one-off amount, auto-recharge trigger and recharge amount, with the reasoning."""
    from credits_cli import recommend as rec

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        advice = rec.recommend(s, t)
    if json_out:
        print_json(advice.to_dict())
        return
    show_recommendation(advice)


def show_recommendation(a: Recommendation) -> None:
    from credits_cli import currencies

    cur = a.currency
    say(f"one-off amount:  {currencies.display(a.one_off, cur)}")
    say(f"trigger:         {currencies.display(a.trigger, cur)}")
    say(f"recharge amount: {currencies.display(a.recharge, cur)}")
    say(f"method: {a.method}")
    say("reasoning:")
    for line in a.reasoning:
        say(f"  - {line}")
    say(f"to apply: credits autorecharge set --threshold {a.trigger:f} --amount {a.recharge:f}"
        + (f"; credits topup {a.one_off:f}" if a.one_off > 0 else ""))
