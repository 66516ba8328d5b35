"""``payment``, ``topup``, ``autorecharge``, ``balance``, ``ledger`` and ``verify``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import At, Json, at_moment, listing, print_json, print_json_stream, say, state, table, warn
from credits_cli.i18n import N_

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlmodel import Session

    from credits_cli.models import AutoRecharge, Tenant


payment_app = typer.Typer(help="How purchases are paid: a card or an invoice.", no_args_is_help=True)
autorecharge_app = typer.Typer(
    help="Recharge automatically when the balance falls below a threshold.", no_args_is_help=True
)


balance_app = typer.Typer(help="Balance, funding lots and their expiry, auto-recharge settings, runway.")


def register(app: typer.Typer) -> None:
    app.add_typer(payment_app, name="payment")
    app.command("topup")(topup)
    # a negative amount (-4500) reads as the argument it is, not as an unknown option
    app.command("adjust", context_settings={"ignore_unknown_options": True})(adjust)
    app.add_typer(autorecharge_app, name="autorecharge")
    app.add_typer(balance_app, name="balance")
    app.command("ledger")(ledger_cmd)
    app.command("verify")(verify)





def payment_doc(method: Any) -> dict[str, Any]:
    if method is None:
        return {"kind": None}
    return {
        "kind": method.kind,
        "card_expiry": method.card_expiry,
        "last4": method.last4,
        "updated_at": method.updated_at,
    }


def settings_doc(s: AutoRecharge | None) -> dict[str, Any]:
    if s is None:
        return {"enabled": False, "threshold": None, "amount": None, "last_failure_at": None}
    return {"enabled": s.enabled, "threshold": s.threshold, "amount": s.amount, "last_failure_at": s.last_failure_at}


# --- payment --------------------------------------------------------------------------


@payment_app.command("set")
def payment_set(
    ctx: typer.Context,
    card_expiry: Annotated[str | None, typer.Option("--card-expiry", help="Card expiry month, YYYY-MM.")] = None,
    last4: Annotated[str | None, typer.Option("--last4", help="Last four digits of the card.")] = None,
    invoice: Annotated[bool, typer.Option("--invoice", help="Pay by invoice instead of a card.")] = False,
    json_out: Json = False,
) -> None:
    """Record the payment method (a card with its expiry month, or invoice)."""
    from credits_cli import payments
    from credits_cli.errors import InvalidInput

    if invoice == (card_expiry is not None):
        raise InvalidInput("give either --card-expiry YYYY-MM or --invoice")
    if invoice and last4:
        raise InvalidInput("--last4 is for cards, not --invoice")
    st = state(ctx)

    def work(s: Session) -> tuple[dict[str, Any], str | None]:
        t = st.tenant(s)
        if invoice:
            return payment_doc(payments.set_invoice(s, t)), None
        method, warning = payments.set_card(s, t, card_expiry or "", last4)
        return payment_doc(method), warning

    doc, warning = st.db.write(work)
    if warning:
        warn(warning)
    if json_out:
        print_json(doc | {"warning": warning})
    else:
        say(
            "payment method: "
            + (
                "invoice"
                if doc["kind"] == "invoice"
                else f"card{' ending ' + doc['last4'] if doc['last4'] else ''}, expires {doc['card_expiry']}"
            )
        )


@payment_app.command("show")
def payment_show(ctx: typer.Context, json_out: Json = False) -> None:
    """Show the payment method and whether a purchase would go through now."""
    from credits_cli import clock, payments

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        method = payments.get_method(s, t)
        refusal = payments.refusal(t, method, clock.now())
    doc = payment_doc(method) | {"purchases_allowed": refusal is None, "refusal": refusal}
    if json_out:
        print_json(doc)
        return
    say(f"payment method: {payments.describe(method)}")
    say("purchases: allowed" if refusal is None else f"purchases: refused ({refusal})")


# --- topup ----------------------------------------------------------------------------


def topup(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Amount in the tenant's currency, e.g. 100 or 100.50.")],
    note: Annotated[str, typer.Option("--note", help="A note kept with the purchase.")] = "",
    at: At = None,
    json_out: Json = False,
) -> None:
    """Buy credits once (a lot that expires 12 months after it was bought).

    --at records a purchase made earlier (the day it was really bought: its lot expires a year after).
    """
    from credits_cli import currencies, ledger, money

    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        value = money.parse_amount(amount, t.currency)
        lot_id, after = ledger.topup(s, t, value, note=note, at=when)
        return {"lot": lot_id, "amount": value, "balance": after, "currency": t.currency}

    doc = st.db.write(work)
    if json_out:
        print_json(doc)
    else:
        cur = doc["currency"]
        say(
            f"topped up {currencies.display(doc['amount'], cur)} (lot {doc['lot']}); "
            f"balance {currencies.display(doc['balance'], cur)}"
        )


def adjust(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Signed amount in the tenant's currency: -100 takes, 25.50 adds.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept with the entry, shown by verify and reports.")],
    lot: Annotated[int | None, typer.Option("--lot", help="Take a debit from this lot first (a mistyped top-up).")]
    = None,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Correct the balance with an entry of its own: nothing is deleted, the books keep why.

    A mistyped top-up of 5000 for 500 is reversed with: credits adjust -4500 --reason "typo: 500" --lot 3
    """
    from credits_cli import currencies, ledger, money

    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        value = money.parse_amount(amount, t.currency, what=N_("adjustment"), signed=True)
        why = reason + (f" (by {st.settings.operator})" if st.settings.operator else "")
        lot_id, after = ledger.adjust(s, t, value, why, at=when, lot_id=lot)
        return {"amount": value, "lot": lot_id, "balance": after, "currency": t.currency, "reason": why}

    doc = st.db.write(work)
    if json_out:
        print_json(doc)
    else:
        cur = doc["currency"]
        say(f"adjusted by {currencies.display(doc['amount'], cur)} ({doc['reason']}); "
            f"balance {currencies.display(doc['balance'], cur)}")


# --- autorecharge ---------------------------------------------------------------------


@autorecharge_app.command("set")
def autorecharge_set(
    ctx: typer.Context,
    threshold: Annotated[str, typer.Option("--threshold", help="Recharge when the balance falls below this.")],
    amount: Annotated[str, typer.Option("--amount", help="How much each recharge buys.")],
    json_out: Json = False,
) -> None:
    """Turn auto-recharge on: below THRESHOLD, buy AMOUNT."""
    from credits_cli import currencies, ledger, money

    st = state(ctx)

    def work(s: Session) -> tuple[dict[str, Any], Tenant]:
        t = st.tenant(s)
        th = money.parse_amount(threshold, t.currency, what=N_("threshold"))
        am = money.parse_amount(amount, t.currency, what=N_("recharge amount"))
        return settings_doc(ledger.set_auto_recharge(s, t, th, am)), t

    doc, t = st.db.write(work)
    if json_out:
        print_json(doc)
    else:
        say(
            f"auto-recharge on: below {currencies.display(doc['threshold'], t.currency)}, "
            f"recharge {currencies.display(doc['amount'], t.currency)}"
        )


@autorecharge_app.command("show")
def autorecharge_show(ctx: typer.Context, json_out: Json = False) -> None:
    """Show the auto-recharge settings."""
    from credits_cli import currencies, ledger

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        doc = settings_doc(ledger.get_auto_recharge(s, t))
    if json_out:
        print_json(doc)
    elif not doc["enabled"]:
        say("auto-recharge is off")
    else:
        say(
            f"auto-recharge on: below {currencies.display(doc['threshold'], t.currency)}, "
            f"recharge {currencies.display(doc['amount'], t.currency)}"
            + (f"; last failure {doc['last_failure_at']}" if doc["last_failure_at"] else "")
        )


@autorecharge_app.command("off")
def autorecharge_off(ctx: typer.Context, json_out: Json = False) -> None:
    """Turn auto-recharge off."""
    from credits_cli import ledger

    st = state(ctx)
    doc = st.db.write(lambda s: settings_doc(ledger.disable_auto_recharge(s, st.tenant(s))))
    if json_out:
        print_json(doc)
    else:
        say("auto-recharge is off")


# --- balance, ledger, verify ----------------------------------------------------------


@balance_app.callback(invoke_without_command=True)
def balance(ctx: typer.Context, json_out: Json = False) -> None:
    """Balance, funding lots and their expiry, auto-recharge settings, runway.

    `credits balance assert AMOUNT` compares it with the balance the admin center shows.
    """
    if ctx.invoked_subcommand is not None:
        return
    from credits_cli import balance as document
    from credits_cli import clock, currencies, runway

    st = state(ctx)

    def work(s: Session) -> dict[str, Any]:
        from credits_cli import ledger
        from credits_cli.queries import SessionRows

        t = st.tenant(s, lock=True)
        ledger.housekeep(s, t)  # write off lots that expired since the last command
        return document.document(SessionRows(s), document.TenantRow(t.id or 0, t.slug, t.currency), clock.now())

    # Most of the time the answer needs no write: read it with stdlib sqlite3 and start instantly.
    doc = None
    if st.settings.fast_balance:
        doc = document.fast_document(st.db_value, st.tenant_slug, clock.now())
    if doc is None:
        doc = st.db.write(work)
    if json_out:
        print_json(doc)
        return
    cur = doc["currency"]
    say(f"balance: {currencies.display(doc['balance'], cur)}  ({doc['tenant']}, as of {clock.iso(doc['as_of'])})")
    ar = doc["autorecharge"]
    say(
        "auto-recharge: "
        + (
            f"below {currencies.display(ar['threshold'], cur)} recharge {currencies.display(ar['amount'], cur)}"
            if ar["enabled"]
            else "off"
        )
        + f"; payment: {doc['payment']}"
    )
    say(runway.describe_runway(doc["runway"], cur))
    if doc["lots"]:
        table(
            "funding lots (used oldest first)",
            ["lot", "kind", "amount", "remaining", "purchased", "expires"],
            [
                [
                    x["id"],
                    x["kind"],
                    currencies.display(x["amount"], cur),
                    currencies.display(x["remaining"], cur),
                    x["purchased_at"].date(),
                    x["expires_at"].date(),
                ]
                for x in doc["lots"]
            ],
            justify_right={"amount", "remaining"},
        )


@balance_app.command("assert")
def balance_assert(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="The balance the Microsoft 365 admin center shows, e.g. 280.91.")],
    at: At = None,
    do_adjust: Annotated[
        bool, typer.Option("--adjust", help="Book the difference as an adjustment entry that closes it.")
    ] = False,
    json_out: Json = False,
) -> None:
    """Compare the balance the admin center shows (at --at, default now) with the books.

    The books' balance at that moment is what had happened by then (purchases made, calls made, lots
    expired), whenever it was booked. With --adjust the difference becomes an adjustment entry (a note,
    who, when), which verify and the reports show.
    """
    from credits_cli import clock, currencies, ledger, money

    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> tuple[Any, str]:
        t = st.tenant(s, lock=True)
        shown = money.parse_amount(amount, t.currency, what=N_("balance"), zero=True)
        return ledger.assert_balance(s, t, shown, at=when, adjust_to=do_adjust, who=st.settings.operator), t.currency

    result, cur = st.db.write(work)
    doc = {"at": result.at, "shown": result.shown, "books": result.books, "difference": result.difference,
           "adjusted": result.adjusted, "currency": cur}
    if json_out:
        print_json(doc)
        return
    m = currencies.display
    say(f"admin center {m(result.shown, cur)} at {clock.iso(result.at)}; the books {m(result.books, cur)}")
    if result.difference == 0:
        say("they agree")
    elif result.adjusted:
        say(f"adjusted by {m(result.difference, cur)}: the books now agree")
    else:
        warn(f"the books differ by {m(result.difference, cur)}; add --adjust to book the difference")


def ledger_cmd(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First day entries were posted, YYYY-MM-DD (inclusive).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day entries were posted, YYYY-MM-DD (inclusive).")]
    = None,
    json_out: Json = False,
) -> None:
    """Every movement of the balance, in the order it was posted, with the running balance.

    Each entry has two times: when it was posted (booked by credits) and when what it records
    happened (the call's start, the day a purchase was made). The running balance follows posting
    order, as the books do; --from/--to select by posting day.
    """
    from datetime import timedelta

    from credits_cli import clock, ledger, money

    st = state(ctx)
    lo = clock.day_start(clock.parse_day(start, what="--from")) if start else None
    hi = clock.day_start(clock.parse_day(end, what="--to")) + timedelta(days=1) if end else None
    if lo is not None and hi is not None and lo >= hi:
        from credits_cli.errors import InvalidInput

        raise InvalidInput(f"--from {start} is after --to {end}")
    with st.db.read() as s:  # open while the entries stream out
        t = st.tenant(s)
        opening = ledger.balance_posted_before(s, t, lo) if lo else money.ZERO
        closing = [opening]

        def docs() -> Iterator[dict[str, Any]]:
            running = opening
            for e in ledger.iter_entries(s, t, lo, hi):
                running += e.amount
                closing[0] = running
                # occurred_at: the service time (the name scripts have read since the first version)
                yield {"id": e.id, "occurred_at": e.service_at, "posted_at": e.posted_at, "kind": e.kind,
                       "amount": e.amount, "balance": running, "lot": e.lot_id, "call": e.call_id, "note": e.note}

        if json_out:
            print_json_stream({"currency": t.currency, "opening_balance": opening}, "entries", docs(),
                              lambda: {"closing_balance": closing[0]})
            return
        shown = listing(
            f"ledger of {t.slug} ({t.currency})",
            ["#", "posted", "for", "kind", "amount", "balance", "lot", "note"],
            (
                [d["id"], clock.iso(d["posted_at"]), clock.iso(d["occurred_at"]), d["kind"], money.fmt(d["amount"]),
                 money.fmt(d["balance"]), d["lot"], d["note"]]
                for d in docs()
            ),
            justify_right={"amount", "balance"},
        )
    if not shown:
        say("no ledger entries in that period")


def verify(ctx: typer.Context, json_out: Json = False) -> None:
    """Re-add the ledger and check its invariants; exit 1 at the first broken one."""
    from credits_cli import clock, currencies, ledger

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        doc = ledger.verify(s, t)
    if json_out:
        print_json(doc | {"ok": True})
    else:
        say(
            f"ok: {doc['entries']} ledger entries over {doc['lots']} lots and {doc['calls']} calls add up; "
            f"balance {currencies.display(doc['balance'], t.currency)}"
        )
        for a in doc["adjustments"]:
            say(f"adjustment #{a['id']} of {currencies.display(a['amount'], t.currency)} posted "
                f"{clock.iso(a['posted_at'])}: {a['note']}")
