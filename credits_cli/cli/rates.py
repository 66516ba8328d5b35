"""``rates load``, ``rates list``, ``rates activate`` and ``rates quote``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
from credits_cli.kinds import Section

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
        say(f"loaded rate table {doc['name']} ({doc['entries']} entries, {doc['currency']}); it is now active")


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
            say(f"no rate table is loaded; {advice}")
            return
        emit(
            mode, docs, json_doc={"table": active.name if active else None, "entries": docs},
            title=f"{active.name} ({active.currency})" if active else None, noun="entries", total=total,
            empty="the active table has no entries",
            columns=[Col("section", keep=2), Col("prefix"), Col("name", shrink=12), Col("per minute", right=True),
                     Col("connection", right=True, keep=3), Col("billing", keep=1)],
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
        mode, table_docs, json_doc={"tables": table_docs}, title="Rate tables", noun="rate tables", total=total,
        empty=f"no rate table is loaded; {advice}",
        columns=[Col("id", keep=2), Col("name", shrink=12), Col("currency", keep=3), Col("decimals", keep=4),
                 Col("entries", right=True, keep=1), Col("loaded"), Col("active")],
        row=lambda d: [d["id"], d["name"], d["currency"], d["decimals"], d["entries"], short_time(d["loaded_at"]),
                       "yes" if d["active"] else ""],
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
        say(f"rate table {doc['name']} (#{doc['id']}) was already the active one")
    else:
        say(f"rate table {doc['name']} (#{doc['id']}, loaded {short_time(doc['loaded_at'])}) is now active"
            + (f" instead of {doc['previous']} (#{doc['previous_id']})" if doc["previous"] else ""))


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
        raise InvalidInput(f"{number} reads as a national number of {home}; use the international format +CC...: "
                           f"credits rates quote {hint}")
    q = rates.quote(book, number, seconds, kind.value)
    r = q.rate
    if r is None and not phones.written_international(number):
        raise InvalidInput(f"no {kind.value} prefix matches {number}: use the international format +CC... "
                           "(such as +442079460123)")
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
        say(f"{number}: no {kind.value} prefix matches; such a call is unrated (not charged)")
        return
    say(
        f"{number} -> {r.prefix} {r.name} ({q.country or 'unknown country'}): {r.per_minute:f}/min"
        + (f" + {r.connection_fee:f} connection" if r.connection_fee else "")
        + f", billing {r.minimum_seconds}/{r.increment_seconds}"
    )
    say(f"{seconds} s billed as {q.billed_seconds} s: {currencies.display(q.charge, book.currency)}")
