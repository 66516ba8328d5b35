"""``report`` and ``recommend``: who spends, on what, how fast, and how much to fund."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n
from credits_cli.cli import progress
from credits_cli.cli.common import (
    Col,
    DocOutputOpt,
    Json,
    console,
    examples,
    output_mode,
    print_json,
    printable,
    say,
    state,
    table,
)
from credits_cli.i18n import _, ngettext, pgettext
from credits_cli.phrases import quantity, said

if TYPE_CHECKING:
    from credits_cli.recommend import Recommendation
    from credits_cli.reports.build import Report


#: Width of the longest bar of the daily spend chart, in terminal cells.
BAR_WIDTH = 40
_EIGHTHS = " ▏▎▍▌▋▊▉"


def register(app: typer.Typer) -> None:
    app.command("report", epilog=examples("credits report --last-month --xlsx october.xlsx",
                                          "credits report --all-tenants --month 2026-10 --csv reports/"))(report)
    app.command("recommend", epilog=examples("credits recommend", "credits recommend --all-tenants --json"))(
        recommend)


def _check_xlsx_target(path: Path, database: Path | None) -> None:
    from credits_cli import outputs
    from credits_cli.errors import InvalidInput

    if path.suffix.lower() != ".xlsx":
        raise InvalidInput(_("{path} should end in .xlsx").format(path=path))
    outputs.check_target(path, what="--xlsx", database=database)
    if not path.parent.is_dir():
        raise InvalidInput(_("folder {path} does not exist").format(path=path.parent))


AllTenants = Annotated[bool, typer.Option("--all-tenants", help="Every tenant of the database.")]


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
    all_tenants: Annotated[
        bool,
        typer.Option("--all-tenants", help="Every tenant: the terminal shows one after another, the workbook "
                     "has an Overview sheet and each tenant's sheets, --csv a folder per tenant."),
    ] = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Usage and funding report: balance, funding, spend by kind, denied calls, pools, users, destinations.

    With no dates it covers the latest month that has calls (with --all-tenants: of any tenant, the
    same period for all). The balance follows the order entries were posted (a late import counts in
    the period it was imported, and the report says how much of it was for earlier calls); the spend
    is that of the calls made in the period. On a terminal, writing --xlsx shows its progress.
    """
    from credits_cli import clock, tenants
    from credits_cli.reports import build as rep

    mode = output_mode(output, json_out)
    st = state(ctx)
    if xlsx_out is not None:
        _check_xlsx_target(xlsx_out, st.database_file())
    written: dict[str, Any] = {}
    with st.db.read() as s:
        chosen_tenants = tenants.list_tenants(s) if all_tenants else [st.tenant(s)]
        if not chosen_tenants:
            from credits_cli.errors import NotFound

            raise NotFound(_("no tenant yet; create one with: credits tenant add SLUG --name ... "))
        latest = [d for d in (rep.latest_call_day(s, t) for t in chosen_tenants) if d is not None]
        chosen = rep.period(start, end, month=month, last_month=last_month, latest_call=max(latest, default=None))
        per = chosen.period
        from credits_cli.reports import reconcile as rec

        datas = [rep.build(s, t, per, reason=chosen.reason) for t in chosen_tenants]
        reconciled = [rec.build(s, t, per) for t in chosen_tenants]
        # The workbook and CSV files are for the tenant's people: its language unless --lang said one.
        lang = None if st.lang_given or all_tenants else chosen_tenants[0].lang
        if xlsx_out is not None:
            from credits_cli.reports import xlsx

            rows = sum(d.calls + d.ledger_entries for d in datas)
            with _writing(progress.wanted(mode == "json"), rows) as count:
                parts = [
                    xlsx.Part(d, count(rep.iter_calls(s, t, per)), count(rep.iter_ledger(s, t, per, d.opening),
                                                                          ledger=True),
                              r, rec.iter_differences(s, t, per, r.tolerance))
                    for t, d, r in zip(chosen_tenants, datas, reconciled, strict=True)
                ]
                if all_tenants:
                    written["xlsx"] = xlsx.write_tenants(xlsx_out, parts, clock.now())
                else:
                    written["xlsx"] = xlsx.write(xlsx_out, *parts[0], lang=lang)
        if csv_out is not None:
            from credits_cli.reports import csv as report_csv

            def csv_files(folder: Path, t: Any, d: Any, r: Any) -> dict[str, Any]:
                return report_csv.write(
                    folder, d, rep.iter_calls(s, t, per), rep.iter_ledger(s, t, per, d.opening),
                    database=st.database_file(), reconciliation=r,
                    differences=rec.iter_differences(s, t, per, r.tolerance), lang=lang,
                )

            if all_tenants:
                written["csv"] = {
                    "directory": str(csv_out),
                    "tenants": [
                        csv_files(csv_out / t.slug, t, d, r) | {"tenant": t.slug}
                        for t, d, r in zip(chosen_tenants, datas, reconciled, strict=True)
                    ],
                }
                report_csv.write_overview(csv_out, datas, database=st.database_file())
            else:
                written["csv"] = csv_files(csv_out, chosen_tenants[0], datas[0], reconciled[0])
    if mode == "json":
        docs = [d.to_dict() | {"reconciliation": r.doc()} for d, r in zip(datas, reconciled, strict=True)]
        if all_tenants:
            print_json({"tenants": docs, "written": written})
        else:
            print_json(docs[0] | {"written": written})
        return
    for n, data in enumerate(datas):
        if n:
            console().print()
        show_report(data)
    if "xlsx" in written:
        w = written["xlsx"]
        counted = w["tenants"] if all_tenants else [w]
        calls_written = sum(x["calls"] for x in counted)
        entries_written = sum(x["ledger_entries"] for x in counted)
        # TRANSLATORS: {path} is the workbook written, {sheets} the number of its sheets, {names} their names.
        say(_("wrote {path}: {sheets} sheets ({names}); {calls}, {entries}").format(
            path=w["path"], sheets=i18n.number(len(w["sheets"])),
            names=", ".join(w["sheets"][:8]) + (", ..." if len(w["sheets"]) > 8 else ""),
            calls=ngettext("{n} calls", "{n} calls", calls_written).format(n=i18n.number(calls_written)),
            entries=ngettext("{n} ledger entries", "{n} ledger entries", entries_written).format(
                n=i18n.number(entries_written))))
    if "csv" in written:
        w = written["csv"]
        if all_tenants:
            say(_("wrote a folder of CSV files per tenant in {directory}, and overview.csv").format(
                directory=w["directory"]))
        else:
            say(ngettext("wrote {n} CSV files in {directory}", "wrote {n} CSV files in {directory}",
                         len(w["files"])).format(n=i18n.number(len(w["files"])), directory=w["directory"]))
    for data, r in zip(datas, reconciled, strict=True):
        if r.total.calls:
            from credits_cli import currencies

            cur = data.currency
            prefix = f"{data.tenant}: " if all_tenants else ""
            line = _("Microsoft's charges for the period's calls: {theirs}, ours {ours}").format(
                theirs=currencies.display(r.total.theirs, cur), ours=currencies.display(r.total.ours, cur))
            if r.differing:
                line += ngettext("; {n} call(s) differ: credits reconcile says why",
                                 "; {n} call(s) differ: credits reconcile says why", r.differing).format(
                    n=i18n.number(r.differing))
            say(prefix + line)


@contextmanager
def _writing(show: bool, total: int) -> Iterator[Callable[..., Iterable[Any]]]:
    """Rows counted on their way into the workbook, with a progress line on a terminal (the period's
    ledger entries and calls: a ledger row of many charges counts each)."""
    if not show:
        yield lambda rows, ledger=False: rows
        return
    from credits_cli.reports.build import LEDGER_COLUMNS

    entries_at = [key for _, key in LEDGER_COLUMNS].index("entries")
    bar = progress.bar()
    line = progress.Line(bar, _("writing"), total, _("rows"), estimate=False)

    def count(rows: Iterable[Any], ledger: bool = False) -> Iterator[Any]:
        pending = 0
        for row in rows:
            yield row
            pending += row[entries_at] if ledger else 1
            if pending >= progress.EVERY:
                line.advance(pending)
                pending = 0
        line.advance(pending)

    bar.start()
    try:
        yield count
    finally:
        bar.stop()


def show_report(r: Report) -> None:
    """The report in the terminal: every table fits its width (columns left out by need on a narrow one)."""
    from rich.text import Text

    from credits_cli import currencies

    cur = r.currency
    out = console()

    def m(value: Any) -> str:
        return currencies.display(value, cur)

    def mins(seconds: int) -> str:
        return i18n.number(Decimal(f"{seconds / 60:.1f}"))

    def n(count: int) -> str:
        return i18n.number(count)

    def percent(fraction: Any) -> str:
        if i18n.current().english:
            return f"{fraction * 100:.1f} %"
        return i18n.percent(Decimal(str(fraction)), 1)

    p = r.period
    head = Text()
    # TRANSLATORS: the report's heading, in bold; {tenant} is the tenant's short name (its slug).
    head.append(_("Report for {tenant}").format(tenant=printable(r.tenant)), style="bold")
    # TRANSLATORS: follows "Report for {tenant}": the tenant's name, the period (its first and last days, how many
    # days), the currency code, and why that period, if known (after the colon).
    head.append(_(" ({name}), {first} to {last} ({days}, UTC), {currency}").format(
        name=printable(r.tenant_name), first=i18n.day(p.first), last=i18n.day(p.last),
        days=ngettext("{n} days", "{n} days", p.days).format(n=quantity(p.days)), currency=cur)
        + (": " + printable(said(r.period_reason)) if r.period_reason else ""))
    out.print(head, soft_wrap=True)

    bal = [[_("Opening balance"), m(r.opening)],
           # TRANSLATORS: {count} is how many top-ups there were.
           [_("Funding: top-ups ({count})").format(count=quantity(r.topup_count)), m(r.topups)],
           # TRANSLATORS: {count} is how many recharges there were.
           [_("Funding: recharges ({count})").format(count=quantity(r.recharge_count)), m(r.recharges)],
           [_("Call charges posted"), m(-r.charges_posted)]]
    if r.late_charges:
        # TRANSLATORS: indented under "Call charges posted": the part for calls made before the period's first day.
        bal.append(["  " + ngettext("of which for {n} calls before {day}", "of which for {n} calls before {day}",
                                    r.late_calls).format(n=n(r.late_calls), day=i18n.day(p.first)),
                    m(-r.late_charges)])
    if r.expired:
        # TRANSLATORS: the credits that expired unused (an amount).
        bal.append([_("Expired"), m(-r.expired)])
    if r.other:
        bal.append([_("Adjustments and settlements"), m(r.other)])
    bal.append([_("Closing balance"), m(r.closing)])
    table(_("Balance (entries posted in the period)"), [Col("item", shrink=16), Col("amount", right=True)], bal,
          bold={len(bal) - 1}, header=False)
    if r.adjustments:
        # TRANSLATORS: column headers of the adjustments: when it was posted, the day it was for, the amount, the note.
        table(_("Adjustments"), [Col(pgettext("column", "posted")), Col(pgettext("column", "for"), keep=1),
                                 Col(pgettext("column", "amount"), right=True),
                                 Col(pgettext("column", "note"), shrink=12)],
              [[i18n.day(a["posted_at"].date()), i18n.day(a["occurred_at"].date()), m(a["amount"]), a["note"]]
               for a in r.adjustments])

    kinds = [[k.kind, n(k.calls), n(k.charged_calls), mins(k.charged_seconds), mins(k.pool_seconds), m(k.spend)]
             for k in r.by_kind]
    kinds.append([pgettext("row", "total"), n(sum(k.calls for k in r.by_kind)), "", "", "", m(r.spend)])
    # TRANSLATORS: column headers; "min" is minutes, "included min" the minutes taken from included pools.
    table(_("Spend by kind (calls made in the period)"),
          [Col(pgettext("column", "kind")), Col(pgettext("column", "calls"), right=True, keep=1),
           Col(pgettext("column", "charged"), right=True, keep=2),
           Col(pgettext("column", "charged min"), right=True, keep=3),
           Col(pgettext("column", "included min"), right=True, keep=4),
           Col(pgettext("column", "spend"), right=True)],
          kinds, bold={len(kinds) - 1})

    # the statuses are the tool's words (also in --json and -o csv): not translated
    statuses = ", ".join(f"{s} {n(c)}" for s, c in sorted(r.statuses.items(), key=lambda x: -x[1]))
    say(_("Calls: {count}").format(count=n(r.calls)) + (f" ({statuses})" if statuses else ""))
    if r.denied:
        table(_("Denied calls: {count}").format(count=n(r.denied_calls)),
              [Col(pgettext("column", "reason"), shrink=12), Col(pgettext("column", "calls"), right=True),
               Col(pgettext("column", "minutes"), right=True, keep=1)],
              [[dn.reason or _("(no reason)"), n(dn.calls), mins(dn.billed_seconds)] for dn in r.denied])
    else:
        say(_("Denied calls: none"))

    if r.pools:
        # TRANSLATORS: column headers of the pools of included minutes; "min" is minutes, "used" a percentage.
        table(_("Pool use"),
              [Col(pgettext("column", "month"), keep=2), Col(pgettext("column", "pool"), shrink=12),
               Col(pgettext("column", "capacity min"), right=True, keep=1),
               Col(pgettext("column", "used min"), right=True), Col(pgettext("column", "used"), right=True)],
              [[pl.month, pl.pool, mins(pl.capacity_seconds), mins(pl.used_seconds),
                percent(pl.used_fraction)] for pl in r.pools])

    top = r.top_users()
    if top:
        table(_("Top users"),
              [Col(pgettext("column", "user"), shrink=16), Col(pgettext("column", "calls"), right=True, keep=2),
               Col(pgettext("column", "charged min"), right=True, keep=3),
               Col(pgettext("column", "denied"), right=True, keep=1), Col(pgettext("column", "spend"), right=True)],
              [[u.upn or _("(no user)"), n(u.calls), mins(u.charged_seconds), n(u.denied_calls), m(u.spend)]
               for u in top])

    dests = r.top_destinations()
    if dests:
        table(_("Top destinations"),
              [Col(pgettext("column", "destination"), shrink=14), Col(pgettext("column", "kind"), keep=3),
               Col(pgettext("column", "prefix"), keep=2), Col(pgettext("column", "calls"), right=True),
               Col(pgettext("column", "charged min"), right=True, keep=1),
               Col(pgettext("column", "spend"), right=True)],
              [[(de.name or _("(unrated)")) + (f" ({de.country})" if de.country else ""), de.kind, de.prefix,
                n(de.calls), mins(de.charged_seconds), m(de.spend)] for de in dests])

    out.print(Text(_("Daily spend"), style="bold"))
    peak = max((d.spend for d in r.daily), default=None)
    amounts = [m(day.spend) for day in r.daily]
    days = [i18n.day(day.day) for day in r.daily]
    from rich.cells import cell_len

    widest = max((cell_len(a) for a in amounts), default=0)
    widest_day = max((cell_len(d) for d in days), default=cell_len("2026-10-01"))
    width = max(8, min(BAR_WIDTH, out.width - widest_day - 2 - 1 - widest))
    for day, label, amount in zip(r.daily, days, amounts, strict=True):
        out.print(Text(f"{pad(label, widest_day)}  {bar(day.spend, peak, width)} {pad(amount, widest, right=True)}"))


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal cells (a Chinese character takes two)."""
    from rich.cells import cell_len

    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


def bar(value: Any, peak: Any, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of block characters, ``width`` cells at ``peak``, in eighths of a cell."""
    if not peak or peak <= 0 or value <= 0:
        return " " * width
    eighths = max(1, int(value * width * 8 / peak))
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part else "")
    return pad(text, width)


def recommend(
    ctx: typer.Context, all_tenants: AllTenants = False, output: DocOutputOpt = None, json_out: Json = False
) -> None:
    """Recommended one-off amount, auto-recharge trigger and recharge amount, with the reasoning.

    With --all-tenants, every tenant's (--json: {"tenants": [...]}).
    """
    from credits_cli import recommend as rec
    from credits_cli import tenants

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        chosen = tenants.list_tenants(s) if all_tenants else [st.tenant(s)]
        if not chosen:
            from credits_cli.errors import NotFound

            raise NotFound(_("no tenant yet; create one with: credits tenant add SLUG --name ... "))
        advice = [(t.slug, rec.recommend(s, t)) for t in chosen]
    if mode == "json":
        if all_tenants:
            print_json({"tenants": [a.to_dict() | {"tenant": slug} for slug, a in advice]})
        else:
            print_json(advice[0][1].to_dict())
        return
    for n, (slug, a) in enumerate(advice):
        if all_tenants:
            # TRANSLATORS: a heading above one tenant's recommendation; {tenant} is its short name (slug).
            say(("\n" if n else "") + _("{tenant}:").format(tenant=slug))
        show_recommendation(a, slug if all_tenants else None)


def show_recommendation(a: Recommendation, slug: str | None = None) -> None:
    from rich.cells import cell_len

    from credits_cli import currencies

    cur = a.currency
    labels = [
        # TRANSLATORS: a label before an amount: the recommended one-off purchase (the labels are aligned).
        _("one-off amount:"),
        # TRANSLATORS: a label before an amount: the balance at which an auto-recharge starts.
        _("trigger:"),
        # TRANSLATORS: a label before an amount: how much one auto-recharge buys.
        _("recharge amount:"),
    ]
    widest = max(cell_len(label) for label in labels)
    for label, value in zip(labels, (a.one_off, a.trigger, a.recharge), strict=True):
        say(f"{pad(label, widest)} {currencies.display(value, cur)}")
    say(_("method: {method}").format(method=said(a.method)))
    say(_("reasoning:"))
    for line in a.reasoning:
        say(f"  - {said(line)}")
    # the commands are typed back: their amounts as they are typed, never in a locale's format
    who = f"credits --tenant {slug} " if slug else "credits "
    command = f"{who}autorecharge set --threshold {a.trigger:f} --amount {a.recharge:f}" + (
        f"; {who}topup {a.one_off:f}" if a.one_off > 0 else "")
    say(_("to apply: {command}").format(command=command))
