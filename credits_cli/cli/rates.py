"""``rates load``, ``rates list`` and ``rates quote``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import Json, print_json, say, state, table

if TYPE_CHECKING:
    from sqlmodel import Session


rates_app = typer.Typer(help="Rate tables: load one, list them, quote a call.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rates_app, name="rates")


@rates_app.command("load")
def rates_load(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A rate table in YAML (see rates/default-usd.yaml).")],
    json_out: Json = False,
) -> None:
    """Load a rate table; it becomes the active one (earlier tables are kept, inactive)."""
    from credits_cli import rates

    st = state(ctx)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        loaded, count = rates.load_file(s, t, file)
        return {"id": loaded.id, "name": loaded.name, "currency": loaded.currency, "entries": count}

    doc = st.db.write(work)
    if json_out:
        print_json(doc)
    else:
        say(f"loaded rate table {doc['name']} ({doc['entries']} entries, {doc['currency']}); it is now active")


@rates_app.command("list")
def rates_list(
    ctx: typer.Context,
    entries: Annotated[bool, typer.Option("--entries", help="List the entries of the active table.")] = False,
    json_out: Json = False,
) -> None:
    """The loaded rate tables (the active one marked), or the active table's entries."""
    from credits_cli import clock, rates

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        tables = rates.list_tables(s, t)
        active = rates.active_table(s, t)
        rows = rates.entries(s, active) if entries and active is not None else []
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
        if json_out:
            print_json({"table": active.name if active else None, "entries": docs})
            return
        if active is None:
            say("no rate table is loaded; run: credits rates load rates/default-usd.yaml")
            return
        table(
            f"{active.name} ({active.currency})",
            ["section", "prefix", "name", "per minute", "connection", "billing"],
            [
                [d["section"], d["prefix"], d["name"], d["per_minute"], d["connection_fee"],
                 f"{d['minimum_seconds']}/{d['increment_seconds']}"]
                for d in docs
            ],
            justify_right={"per minute", "connection"},
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
    if json_out:
        print_json({"tables": table_docs})
        return
    if not table_docs:
        say("no rate table is loaded; run: credits rates load rates/default-usd.yaml")
        return
    table(
        "Rate tables",
        ["id", "name", "currency", "decimals", "entries", "loaded", "active"],
        [
            [d["id"], d["name"], d["currency"], d["decimals"], d["entries"], clock.iso(d["loaded_at"]),
             "yes" if d["active"] else ""]
            for d in table_docs
        ],
        justify_right={"entries"},
    )


@rates_app.command("quote")
def rates_quote(
    ctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The number, E.164 such as +442079460123.")],
    seconds: Annotated[int, typer.Option("--seconds", help="Call duration in seconds.")] = 60,
    kind: Annotated[str, typer.Option("--kind", help="outbound, tollfree or dialout.")] = "outbound",
    json_out: Json = False,
) -> None:
    """What a call would cost at the active table's list price (no pools or licenses)."""
    from credits_cli import currencies, rates

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        book = rates.load_book(s, t)
    q = rates.quote(book, number, seconds, kind)
    r = q.rate
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
    if json_out:
        print_json(doc)
        return
    if r is None:
        say(f"{number}: no {kind} prefix matches; such a call is unrated (not charged)")
        return
    say(
        f"{number} -> {r.prefix} {r.name} ({q.country or 'unknown country'}): {r.per_minute:f}/min"
        + (f" + {r.connection_fee:f} connection" if r.connection_fee else "")
        + f", billing {r.minimum_seconds}/{r.increment_seconds}"
    )
    say(f"{seconds} s billed as {q.billed_seconds} s: {currencies.display(q.charge, book.currency)}")
