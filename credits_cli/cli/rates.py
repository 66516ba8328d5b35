"""``rates load``, ``rates list``, ``rates activate`` and ``rates quote``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n
from credits_cli.cli.common import (
    Col,
    DocOutputOpt,
    Json,
    Limit,
    Newest,
    OutputOpt,
    emit,
    examples,
    limited,
    output_mode,
    print_json,
    say,
    short_time,
    state,
)
from credits_cli.i18n import _, ngettext, npgettext, pgettext
from credits_cli.kinds import Section
from credits_cli.phrases import quantity

if TYPE_CHECKING:
    from sqlmodel import Session


rates_app = typer.Typer(help="Rate tables: load one, list them, go back to one, quote a call.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")


@rates_app.command("load", epilog=examples("credits rates load rates/default-usd.yaml"))
def rates_load(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A rate table in YAML (see rates/default-usd.yaml).")],
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Load a rate table; it becomes the active one (earlier tables are kept, inactive)."""
    from credits_cli import rates

    mode = output_mode(output, json_out)
    st = state(ctx)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        loaded, count = rates.load_file(s, t, file)
        return {"id": loaded.id, "name": loaded.name, "currency": loaded.currency, "entries": count}

    doc = st.db.write(work)
    if mode == "json":
        print_json(doc)
    else:
        # TRANSLATORS: {name} is the rate table's name, {currency} its currency code.
        say(ngettext("loaded rate table {name} ({n} entries, {currency}); it is now active",
                     "loaded rate table {name} ({n} entries, {currency}); it is now active", doc["entries"]).format(
            name=doc["name"], n=quantity(doc["entries"]), currency=doc["currency"]))


@rates_app.command("list", epilog=examples("credits rates list", "credits rates list --entries -o csv > rates.csv"))
def rates_list(
    ctx: typer.Context,
    entries: Annotated[bool, typer.Option("--entries", help="List the entries of the active table.")] = False,
    limit: Limit = None,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """The loaded rate tables (the active one marked), or the active table's entries."""
    from credits_cli import rates

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        tables = rates.list_tables(s, t)
        active = rates.active_table(s, t)
        rows = rates.entries(s, active) if entries and active is not None else []
        advice = rates.load_advice(t.currency)
    if entries:
        docs: list[dict[str, Any]] = [
            {
                "section": e.section,
                "prefix": e.prefix,
                "name": e.name,
                "per_minute": e.per_minute,
                "connection_fee": e.connection_fee,
                "minimum_seconds": e.minimum_seconds,
                "increment_seconds": e.increment_seconds,
            }
            for e in rows
        ]
        total = len(docs)
        docs = docs[:limit] if limit else docs
        if mode == "table" and active is None:
            say(_("no rate table is loaded; {advice}").format(advice=advice))
            return
        emit(
            mode, docs, json_doc={"table": active.name if active else None, "entries": docs},
            # TRANSLATORS: what a listing counts, after its number ("100 entries", "showing 100 of 900 entries").
            title=f"{active.name} ({active.currency})" if active else None,
            noun=lambda n: npgettext("listing", "entry", "entries", n),
            total=total, empty=_("the active table has no entries"),
            # TRANSLATORS: column headers of a rate table's entries: "connection" is the connection fee, "billing"
            # the minimum and increment seconds (60/60).
            columns=[Col(pgettext("column", "section"), keep=2), Col(pgettext("column", "prefix")),
                     Col(pgettext("column", "name"), shrink=12), Col(pgettext("column", "per minute"), right=True),
                     Col(pgettext("column", "connection"), right=True, keep=3),
                     Col(pgettext("column", "billing"), keep=1)],
            row=lambda d: [d["section"], d["prefix"], d["name"], d["per_minute"], d["connection_fee"],
                           f"{d['minimum_seconds']}/{d['increment_seconds']}"],
        )
        return
    table_docs: list[dict[str, Any]] = [
        {
            "id": tbl.id,
            "name": tbl.name,
            "currency": tbl.currency,
            "decimals": tbl.decimals,
            "entries": count,
            "loaded_at": tbl.loaded_at,
            "active": tbl.active,
        }
        for tbl, count in tables
    ]
    table_docs, total = limited(table_docs, limit, newest, "loaded_at")
    emit(
        # TRANSLATORS: what a listing counts, after its number ("3 rate tables").
        mode, table_docs, json_doc={"tables": table_docs}, title=_("Rate tables"),
        noun=lambda n: npgettext("listing", "rate table", "rate tables", n), total=total,
        empty=_("no rate table is loaded; {advice}").format(advice=advice),
        # TRANSLATORS: column headers of the rate tables: "decimals" is how many decimals its prices keep, "loaded"
        # when it was loaded, "active" whether it is the one in use.
        columns=[Col(pgettext("column", "id"), keep=2), Col(pgettext("column", "name"), shrink=12),
                 Col(pgettext("column", "currency"), keep=3), Col(pgettext("column", "decimals"), keep=4),
                 Col(pgettext("column", "entries"), right=True, keep=1), Col(pgettext("column", "loaded")),
                 Col(pgettext("column", "active"))],
        # TRANSLATORS: in the "active" column of the rate tables, beside the one in use.
        row=lambda d: [d["id"], d["name"], d["currency"], d["decimals"], d["entries"], short_time(d["loaded_at"]),
                       pgettext("active", "yes") if d["active"] else ""],
    )


@rates_app.command("activate", epilog=examples("credits rates activate default-usd-2026", "credits rates activate 1"))
def rates_activate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The table's name, or its id as rates list shows it.")],
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Make an earlier loaded table the active one again (the change goes to the trail)."""
    from credits_cli import rates, trail

    mode = output_mode(output, json_out)
    st = state(ctx)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        before, chosen = rates.activate(s, t, name)
        doc = {"id": chosen.id, "name": chosen.name, "currency": chosen.currency, "loaded_at": chosen.loaded_at,
               "previous": before.name if before else None, "previous_id": before.id if before else None}
        if before is None or before.id != chosen.id:
            trail.record(s, t, "rates activate", "rate table",
                         [("active", f"{before.name} (#{before.id})" if before else None,
                           f"{chosen.name} (#{chosen.id})")], actor=st.settings.operator)
        return doc

    doc = st.db.write(work)
    if mode == "json":
        print_json(doc)
    elif doc["previous_id"] == doc["id"]:
        say(_("rate table {name} (#{id}) was already the active one").format(name=doc["name"], id=doc["id"]))
    else:
        if doc["previous"]:
            # TRANSLATORS: {loaded} is when the table was loaded; {previous} is the table that was active before.
            text = _("rate table {name} (#{id}, loaded {loaded}) is now active instead of {previous} (#{previous_id})")
        else:
            text = _("rate table {name} (#{id}, loaded {loaded}) is now active")
        say(text.format(name=doc["name"], id=doc["id"], loaded=short_time(doc["loaded_at"]), previous=doc["previous"],
                        previous_id=doc["previous_id"]))


KindOpt = Annotated[
    Section,
    typer.Option("--kind", case_sensitive=False, help="outbound (calls users place), tollfree (calls in to the "
                 "tenant's toll-free numbers) or dialout (conference dial-out)."),
]


@rates_app.command("quote", epilog=examples("credits rates quote +442079460123 --seconds 95",
                                            "credits rates quote +18005550100 --kind tollfree"))
def rates_quote(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The number in the international format, such as +442079460123.")],
    seconds: Annotated[int, typer.Option("--seconds", help="Call duration in seconds.")] = 60,
    kind: KindOpt = Section.OUTBOUND,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """What a call would cost at the active table's list price (no pools or licenses)."""
    from credits_cli import currencies, phones, rates
    from credits_cli.errors import InvalidInput

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        book = rates.load_book(s, t)
        home = t.country
    hint = phones.national_hint(number, home)
    if hint:
        # TRANSLATORS: {home} is the tenant's country code (US); {command} a command to type, kept as it is.
        raise InvalidInput(_("{number} reads as a national number of {home}; use the international format +CC...: "
                             "{command}").format(number=number, home=home, command=f"credits rates quote {hint}"))
    q = rates.quote(book, number, seconds, kind.value)
    r = q.rate
    if r is None and not phones.written_international(number):
        # TRANSLATORS: {kind} is a kind of call as typed in --kind (outbound, tollfree, dialout).
        raise InvalidInput(_("no {kind} prefix matches {number}: use the international format +CC... "
                             "(such as +442079460123)").format(kind=kind.value, number=number))
    doc = {
        "number": q.number,
        "digits": q.digits,
        "country": q.country,
        "kind": q.section,
        "table": book.name,
        "currency": book.currency,
        "matched": r is not None,
        "prefix": r.prefix if r else None,
        "name": r.name if r else None,
        "per_minute": f"{r.per_minute:f}" if r else None,
        "connection_fee": f"{r.connection_fee:f}" if r else None,
        "minimum_seconds": r.minimum_seconds if r else None,
        "increment_seconds": r.increment_seconds if r else None,
        "duration_seconds": q.duration_seconds,
        "billed_seconds": q.billed_seconds,
        "charge": q.charge,
    }
    if mode == "json":
        print_json(doc)
        return
    if r is None:
        say(_("{number}: no {kind} prefix matches; such a call is unrated (not charged)").format(
            number=number, kind=kind.value))
        return
    if r.connection_fee:
        # TRANSLATORS: a quote: the number, the prefix and name of its rate, its country, the price a minute, the
        # connection fee, the billing (minimum/increment seconds, such as 60/60).
        text = _("{number} -> {prefix} {name} ({country}): {per_minute}/min + {connection} connection, "
                 "billing {billing}")
    else:
        text = _("{number} -> {prefix} {name} ({country}): {per_minute}/min, billing {billing}")
    say(text.format(number=number, prefix=r.prefix, name=r.name, country=q.country or _("unknown country"),
                    per_minute=i18n.decimal(r.per_minute), connection=i18n.decimal(r.connection_fee),
                    billing=f"{r.minimum_seconds}/{r.increment_seconds}"))
    # TRANSLATORS: {seconds} is the call's duration, {billed} the seconds billed ("s" is seconds), {charge} an amount.
    say(_("{seconds} s billed as {billed} s: {charge}").format(
        seconds=quantity(seconds), billed=quantity(q.billed_seconds),
        charge=currencies.display(q.charge, book.currency)))
