"""``payment``, ``topup``, ``autorecharge``, ``balance``, ``ledger`` and ``verify``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n, phrases
from credits_cli.cli.common import (
    At,
    Col,
    DocOutputOpt,
    Json,
    Limit,
    Newest,
    OutputOpt,
    at_moment,
    examples,
    listing,
    output_mode,
    print_csv,
    print_json,
    print_json_stream,
    say,
    short_time,
    state,
    table,
    warn,
)
from credits_cli.i18n import N_, _, ngettext, npgettext, pgettext
from credits_cli.phrases import Phrase

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from sqlmodel import Session

    from credits_cli.cli.common import State
    from credits_cli.models import AutoRecharge, Tenant


payment_app = typer.Typer(help="How purchases are paid: a card or an invoice.", no_args_is_help=True)
autorecharge_app = typer.Typer(
    help="Recharge automatically when the balance falls below a threshold.", no_args_is_help=True
)


balance_app = typer.Typer(help="Balance, funding lots and their expiry, auto-recharge settings, runway.",
                          epilog=examples("credits balance", "credits balance --all-tenants --json"))


def register(app: typer.Typer) -> None:
    app.add_typer(payment_app, name="payment")
    app.command("topup", epilog=examples("credits topup 100", "credits topup 500 --at 2026-10-01 --note 'PO 4711'"))(
        topup)
    # a negative amount (-4500) reads as the argument it is, not as an unknown option
    app.command("adjust", context_settings={"ignore_unknown_options": True}, epilog=examples(
        "credits adjust -4500 --reason 'typo: 500, not 5000' --lot 3",
        "credits adjust 12.50 --reason 'credit note 2026-117'",
    ))(adjust)
    app.add_typer(autorecharge_app, name="autorecharge")
    app.add_typer(balance_app, name="balance")
    app.command("ledger", epilog=examples("credits ledger --from 2026-10-01 --to 2026-10-31",
                                          "credits ledger --newest --limit 20 -o csv"))(ledger_cmd)
    app.command("verify", epilog=examples("credits verify", "credits verify --json"))(verify)


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


@payment_app.command("set", epilog=examples("credits payment set --card-expiry 2028-04 --last4 4242",
                                           "credits payment set --invoice"))
def payment_set(
    ctx: typer.Context,
    card_expiry: Annotated[str | None, typer.Option("--card-expiry", help="Card expiry month, YYYY-MM.")] = None,
    last4: Annotated[str | None, typer.Option("--last4", help="Last four digits of the card.")] = None,
    invoice: Annotated[bool, typer.Option("--invoice", help="Pay by invoice instead of a card.")] = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Record the payment method (a card with its expiry month, or invoice)."""
    from credits_cli import payments
    from credits_cli.errors import InvalidInput

    json_out = output_mode(output, json_out) == "json"

    if invoice == (card_expiry is not None):
        raise InvalidInput(_("give either --card-expiry YYYY-MM or --invoice"))
    if invoice and last4:
        raise InvalidInput(_("--last4 is for cards, not --invoice"))
    st = state(ctx)

    def work(s: Session) -> tuple[dict[str, Any], str | None]:
        t = st.tenant(s)
        if invoice:
            return payment_doc(payments.set_invoice(s, t)), None
        method, warning = payments.set_card(s, t, card_expiry or "", last4)
        return payment_doc(method), warning

    doc, warning = st.db.write(work)
    if warning:
        # The JSON keeps the English words (the Phrase's value); people read it in their language.
        warning = Phrase(N_("card expired at the end of {month}: purchases and recharges will fail until it is "
                            "replaced"), month=doc["card_expiry"])
        warn(warning.said())
    if json_out:
        print_json(doc | {"warning": warning})
    else:
        from credits_cli.balance import MethodRow

        facts = MethodRow(doc["kind"], doc["card_expiry"], doc["last4"])
        # TRANSLATORS: {method} is the payment method in a few words (invoice; card ending 4242, expires 2028-04).
        say(_("payment method: {method}").format(method=payments.describe(facts)))


@payment_app.command("show", epilog=examples("credits payment show", "credits payment show --json"))
def payment_show(ctx: typer.Context, output: DocOutputOpt = None, json_out: Json = False) -> None:
    """Show the payment method and whether a purchase would go through now."""
    from credits_cli import clock, payments

    json_out = output_mode(output, json_out) == "json"

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        method = payments.get_method(s, t)
        now = clock.now()
        refusal = payments.refusal(t, method, now)  # a phrase: English in the JSON, said below
    doc = payment_doc(method) | {"purchases_allowed": refusal is None, "refusal": refusal}
    if json_out:
        print_json(doc)
        return
    say(_("payment method: {method}").format(method=payments.describe(method)))
    say(_("purchases: {allowed}").format(allowed=pgettext("purchases", "allowed")) if refusal is None
        else _("purchases: refused ({reason})").format(reason=phrases.said(refusal)))


# --- topup ----------------------------------------------------------------------------


def topup(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Amount in the tenant's currency, e.g. 100 or 100.50.")],
    note: Annotated[str, typer.Option("--note", help="A note kept with the purchase.")] = "",
    at: At = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Buy credits once (a lot that expires 12 months after it was bought).

    --at records a purchase made earlier (the day it was really bought: its lot expires a year after).
    """
    from credits_cli import currencies, ledger, money

    json_out = output_mode(output, json_out) == "json"

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
        # TRANSLATORS: {lot} is the number of the funding lot the purchase made.
        say(_("topped up {amount} (lot {lot}); balance {balance}").format(
            amount=currencies.display(doc["amount"], cur), lot=doc["lot"],
            balance=currencies.display(doc["balance"], cur)))


def adjust(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Signed amount in the tenant's currency: -100 takes, 25.50 adds.")],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept with the entry, shown by verify and reports.")],
    lot: Annotated[int | None, typer.Option("--lot", help="Take a debit from this lot first (a mistyped top-up).")]
    = None,
    at: At = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Correct the balance with an entry of its own: nothing is deleted, the books keep why.

    A mistyped top-up of 5000 for 500 is reversed with: credits adjust -4500 --reason "typo: 500" --lot 3.
    The correction also goes to the trail (credits changes).
    """
    from credits_cli import currencies, ledger, money, trail

    json_out = output_mode(output, json_out) == "json"
    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s, lock=True)
        value = money.parse_amount(amount, t.currency, what=N_("adjustment"), signed=True)
        why = reason + (f" (by {st.settings.operator})" if st.settings.operator else "")
        lot_id, after = ledger.adjust(s, t, value, why, at=when, lot_id=lot)
        trail.record(s, t, "adjust", f"lot {lot}" if lot is not None else "balance",
                     [("balance", money.fmt(after - value), money.fmt(after))], actor=st.settings.operator)
        return {"amount": value, "lot": lot_id, "balance": after, "currency": t.currency, "reason": why}

    doc = st.db.write(work)
    if json_out:
        print_json(doc)
    else:
        cur = doc["currency"]
        # TRANSLATORS: {reason} is the reason the administrator gave, as typed.
        say(_("adjusted by {amount} ({reason}); balance {balance}").format(
            amount=currencies.display(doc["amount"], cur), reason=doc["reason"],
            balance=currencies.display(doc["balance"], cur)))


# --- autorecharge ---------------------------------------------------------------------


@autorecharge_app.command("set", epilog=examples("credits autorecharge set --threshold 25 --amount 50",
                                                  "credits recommend   # suggests both from the spend"))
def autorecharge_set(
    ctx: typer.Context,
    threshold: Annotated[str, typer.Option("--threshold", help="Recharge when the balance falls below this.")],
    amount: Annotated[str, typer.Option("--amount", help="How much each recharge buys.")],
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Turn auto-recharge on: below THRESHOLD, buy AMOUNT.

    Settings that look wrong (a threshold of 0 or above the amount, below a day's spend) are warned about.
    """
    from credits_cli import clock, currencies, ledger, money, recommend, spend
    from credits_cli.queries import SessionRows

    json_out = output_mode(output, json_out) == "json"
    st = state(ctx)

    def work(s: Session) -> tuple[dict[str, Any], Tenant, list[str]]:
        t = st.tenant(s)
        th = money.parse_amount(threshold, t.currency, what=N_("threshold"), zero=True)
        am = money.parse_amount(amount, t.currency, what=N_("recharge amount"))
        doc = settings_doc(ledger.set_auto_recharge(s, t, th, am))
        per_day = spend.runway(SessionRows(s), t.id or 0, ledger.balance(s, t), th, clock.now()).daily_spend
        return doc, t, recommend.check_settings(th, am, per_day, t.currency)

    doc, t, warnings = st.db.write(work)
    if json_out:
        print_json(doc | {"warnings": warnings})
    else:
        say(_("auto-recharge on: below {threshold}, recharge {amount}").format(
            threshold=currencies.display(doc["threshold"], t.currency),
            amount=currencies.display(doc["amount"], t.currency)))
    for warning in warnings:
        warn(phrases.said(warning))


@autorecharge_app.command("show", epilog=examples("credits autorecharge show", "credits autorecharge show --json"))
def autorecharge_show(ctx: typer.Context, output: DocOutputOpt = None, json_out: Json = False) -> None:
    """Show the auto-recharge settings."""
    from credits_cli import currencies, ledger

    json_out = output_mode(output, json_out) == "json"

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        doc = settings_doc(ledger.get_auto_recharge(s, t))
    if json_out:
        print_json(doc)
    elif not doc["enabled"]:
        say(_("auto-recharge is off"))
    elif doc["last_failure_at"]:
        # TRANSLATORS: {failed} is when the last recharge failed.
        say(_("auto-recharge on: below {threshold}, recharge {amount}; last failure {failed}").format(
            threshold=currencies.display(doc["threshold"], t.currency),
            amount=currencies.display(doc["amount"], t.currency),
            failed=str(doc["last_failure_at"]) if i18n.current().english else i18n.moment(doc["last_failure_at"])))
    else:
        say(_("auto-recharge on: below {threshold}, recharge {amount}").format(
            threshold=currencies.display(doc["threshold"], t.currency),
            amount=currencies.display(doc["amount"], t.currency)))


@autorecharge_app.command("off", epilog=examples("credits autorecharge off"))
def autorecharge_off(ctx: typer.Context, output: DocOutputOpt = None, json_out: Json = False) -> None:
    """Turn auto-recharge off."""
    from credits_cli import ledger

    json_out = output_mode(output, json_out) == "json"

    st = state(ctx)
    doc = st.db.write(lambda s: settings_doc(ledger.disable_auto_recharge(s, st.tenant(s))))
    if json_out:
        print_json(doc)
    else:
        say(_("auto-recharge is off"))


# --- balance, ledger, verify ----------------------------------------------------------


AllTenants = Annotated[bool, typer.Option("--all-tenants", help="Every tenant of the database, one after another.")]


@balance_app.callback(invoke_without_command=True)
def balance(
    ctx: typer.Context, all_tenants: AllTenants = False, output: DocOutputOpt = None, json_out: Json = False
) -> None:
    """Balance, funding lots and their expiry, auto-recharge settings, runway.

    `credits balance assert AMOUNT` compares it with the balance the admin center shows. With
    --all-tenants, every tenant's (--json: {"tenants": [...]}, one document each).
    """
    if ctx.invoked_subcommand is not None:
        return
    from credits_cli import balance as document
    from credits_cli import clock

    json_out = output_mode(output, json_out) == "json"
    st = state(ctx)
    if all_tenants:
        docs = [_balance_document(st, slug) for slug in _slugs(st)]
        if json_out:
            print_json({"tenants": docs})
            return
        for n, doc in enumerate(docs):
            if n:
                say("")
            _show_balance(doc)
        return
    # Most of the time the answer needs no write: read it with stdlib sqlite3 and start instantly.
    found = None
    if st.settings.fast_balance:
        found = document.fast_document(st.db_value, st.tenant_slug, clock.now())
    doc = found if found is not None else _balance_document(st, st.tenant_slug)
    if json_out:
        print_json(doc)
        return
    _show_balance(doc)


def _slugs(st: State) -> list[str]:
    from credits_cli import tenants

    with st.db.read() as s:
        found = [t.slug for t in tenants.list_tenants(s)]
    if not found:
        from credits_cli.errors import NotFound

        raise NotFound(_("no tenant yet; create one with: credits tenant add SLUG --name ... "))
    return found


def _balance_document(st: State, slug: str | None) -> dict[str, Any]:
    """The balance document of the full path: expired lots are written off first."""
    from credits_cli import balance as document
    from credits_cli import clock, ledger, tenants
    from credits_cli.queries import SessionRows

    def work(s: Session) -> dict[str, Any]:
        t = tenants.resolve(s, slug)
        st.db.lock_tenant(s, t.id or 0)
        ledger.housekeep(s, t)  # write off lots that expired since the last command
        return document.document(SessionRows(s), document.TenantRow(t.id or 0, t.slug, t.currency), clock.now())

    return st.db.write(work)


def _when(moment: datetime) -> str:
    """A time in a line for people: ISO 8601 in English (as it always read), the locale's way otherwise."""
    from credits_cli import clock

    return (clock.iso(moment) or "") if i18n.current().english else i18n.moment(moment)


def _show_balance(doc: dict[str, Any]) -> None:
    """The balance document for people, built from its values in the current language (the document,
    printed with --json, keeps its English words)."""
    from credits_cli import currencies, runway

    cur = doc["currency"]
    # TRANSLATORS: {tenant} is the tenant's slug, {moment} the time the balance is as of.
    say(_("balance: {balance}  ({tenant}, as of {moment})").format(
        balance=currencies.display(doc["balance"], cur), tenant=doc["tenant"], moment=_when(doc["as_of"])))
    ar = doc["autorecharge"]
    payment = phrases.said(doc["payment"])
    if ar["enabled"]:
        # TRANSLATORS: {payment} is the payment method in a few words (invoice; card ending 4242, expires 2028-04).
        say(_("auto-recharge: below {threshold} recharge {amount}; payment: {payment}").format(
            threshold=currencies.display(ar["threshold"], cur), amount=currencies.display(ar["amount"], cur),
            payment=payment))
    else:
        # TRANSLATORS: {payment} is the payment method in a few words (invoice; card ending 4242, expires 2028-04).
        say(_("auto-recharge: off; payment: {payment}").format(payment=payment))
    say(runway.describe_runway(doc["runway"], cur))
    if doc["lots"]:
        table(
            _("funding lots (used oldest first)"),
            [Col(_("lot")), Col(_("kind"), keep=2), Col(_("amount"), right=True, keep=1),
             Col(_("remaining"), right=True), Col(_("purchased"), keep=3), Col(_("expires"))],
            [
                [
                    x["id"],
                    x["kind"],
                    currencies.display(x["amount"], cur),
                    currencies.display(x["remaining"], cur),
                    i18n.day(x["purchased_at"].date()),
                    i18n.day(x["expires_at"].date()),
                ]
                for x in doc["lots"]
            ],
        )


@balance_app.command("assert", epilog=examples("credits balance assert 280.91",
                                               "credits balance assert 280.91 --at 2026-10-31 --adjust"))
def balance_assert(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="The balance the Microsoft 365 admin center shows, e.g. 280.91.")],
    at: At = None,
    do_adjust: Annotated[
        bool, typer.Option("--adjust", help="Book the difference as an adjustment entry that closes it.")
    ] = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Compare the balance the admin center shows (at --at, default now) with the books.

    The books' balance at that moment is what had happened by then (purchases made, calls made, lots
    expired), whenever it was booked. With --adjust the difference becomes an adjustment entry (a note,
    who, when), which verify and the reports show, and a line of the trail (credits changes).
    """
    from credits_cli import currencies, ledger, money, trail

    json_out = output_mode(output, json_out) == "json"
    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> tuple[Any, str]:
        t = st.tenant(s, lock=True)
        shown = money.parse_amount(amount, t.currency, what=N_("balance"), zero=True)
        result = ledger.assert_balance(s, t, shown, at=when, adjust_to=do_adjust, who=st.settings.operator)
        if result.adjusted:
            trail.record(s, t, "balance assert --adjust", "balance",
                         [("balance", money.fmt(result.books), money.fmt(result.shown))], actor=st.settings.operator)
        return result, t.currency

    result, cur = st.db.write(work)
    doc = {"at": result.at, "shown": result.shown, "books": result.books, "difference": result.difference,
           "adjusted": result.adjusted, "currency": cur}
    if json_out:
        print_json(doc)
        return
    m = currencies.display
    # TRANSLATORS: {shown} is the balance the Microsoft 365 admin center shows, {books} the one of the books.
    say(_("admin center {shown} at {moment}; the books {books}").format(
        shown=m(result.shown, cur), moment=_when(result.at), books=m(result.books, cur)))
    if result.difference == 0:
        say(_("they agree"))
    elif result.adjusted:
        say(_("adjusted by {difference}: the books now agree").format(difference=m(result.difference, cur)))
    else:
        warn(_("the books differ by {difference}; add --adjust to book the difference").format(
            difference=m(result.difference, cur)))


#: The columns of ``ledger -o csv``: the keys of an entry's JSON document.
ENTRY_KEYS = ["id", "occurred_at", "posted_at", "kind", "amount", "balance", "lot", "call", "note"]


def ledger_cmd(
    ctx: typer.Context,
    start: Annotated[
        str | None, typer.Option("--from", help="First day entries were posted, YYYY-MM-DD (inclusive).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day entries were posted, YYYY-MM-DD (inclusive).")]
    = None,
    limit: Limit = None,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """Every movement of the balance, in the order it was posted, with the running balance.

    Each entry has two times: when it was posted (booked by credits) and when what it records
    happened (the call's start, the day a purchase was made). The running balance follows posting
    order, as the books do; --from/--to select by posting day; --newest lists the latest first.
    """
    from datetime import timedelta

    from credits_cli import clock, ledger, money

    mode = output_mode(output, json_out)
    st = state(ctx)
    lo = clock.day_start(clock.parse_day(start, what="--from")) if start else None
    hi = clock.day_start(clock.parse_day(end, what="--to")) + timedelta(days=1) if end else None
    if lo is not None and hi is not None and lo >= hi:
        from credits_cli.errors import InvalidInput

        raise InvalidInput(_("--from {start} is after --to {end}").format(start=start, end=end))
    with st.db.read() as s:  # open while the entries stream out
        t = st.tenant(s)
        opening = ledger.balance_posted_before(s, t, lo) if lo else money.ZERO
        total = ledger.count_entries(s, t, lo, hi)
        closing = [opening]
        if newest:  # walked back from the balance after the period's last entry
            closing[0] = ledger.balance_posted_before(s, t, hi) if hi else ledger.balance(s, t)

        def docs() -> Iterator[dict[str, Any]]:
            running = closing[0]
            for e in ledger.iter_entries(s, t, lo, hi, limit=limit or None, newest=newest):
                if newest:
                    after, running = running, running - e.amount
                else:
                    running += e.amount
                    after = closing[0] = running
                # occurred_at: the service time (the name scripts have read since the first version)
                yield {"id": e.id, "occurred_at": e.service_at, "posted_at": e.posted_at, "kind": e.kind,
                       "amount": e.amount, "balance": after, "lot": e.lot_id, "call": e.call_id, "note": e.note}

        if mode == "json":
            print_json_stream({"currency": t.currency, "opening_balance": opening, "total": total}, "entries",
                              docs(), lambda: {"closing_balance": closing[0]})
            return
        if mode == "csv":
            print_csv(ENTRY_KEYS, docs())
            return
        shown = listing(
            _("ledger of {slug} ({currency}), the newest first").format(slug=t.slug, currency=t.currency) if newest
            else _("ledger of {slug} ({currency})").format(slug=t.slug, currency=t.currency),
            # TRANSLATORS: "posted" is when an entry was booked, "for" when what it records happened.
            [Col("#", keep=6), Col(_("posted")), Col(pgettext("ledger", "for"), keep=3), Col(_("kind")),
             Col(_("amount"), right=True), Col(_("balance"), right=True, keep=1), Col(_("lot"), keep=5),
             Col(_("note"), keep=2, shrink=10)],
            (
                [d["id"], short_time(d["posted_at"]), short_time(d["occurred_at"]), d["kind"], money.fmt(d["amount"]),
                 money.fmt(d["balance"]), d["lot"], d["note"]]
                for d in docs()
            ),
            noun=lambda n: npgettext("listing", "ledger entry", "ledger entries", n),
            total=total,
            hint=_("--limit N shows more, 0 all") if newest else _("--limit N shows more, 0 all; --newest the latest"),
        )
    if not shown:
        say(_("no ledger entries in that period"))


def verify(ctx: typer.Context, output: DocOutputOpt = None, json_out: Json = False) -> None:
    """Re-add the ledger and check its invariants; exit 1 at the first broken one."""
    from credits_cli import currencies, ledger

    json_out = output_mode(output, json_out) == "json"
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        doc = ledger.verify(s, t)
    if json_out:
        print_json(doc | {"ok": True})
    else:
        entries, lots, calls = doc["entries"], doc["lots"], doc["calls"]
        # TRANSLATORS: {entries}, {lots} and {calls} are counted phrases ("5 ledger entries", "2 lots", "40 calls").
        say(_("ok: {entries} over {lots} and {calls} add up; balance {balance}").format(
            entries=ngettext("{n} ledger entries", "{n} ledger entries", entries).format(n=phrases.quantity(entries)),
            lots=ngettext("{n} lots", "{n} lots", lots).format(n=phrases.quantity(lots)),
            calls=ngettext("{n} calls", "{n} calls", calls).format(n=phrases.quantity(calls)),
            balance=currencies.display(doc["balance"], t.currency)))
        for a in doc["adjustments"]:
            # TRANSLATORS: {note} is the adjustment's note (its reason, as typed).
            say(_("adjustment #{id} of {amount} posted {moment}: {note}").format(
                id=a["id"], amount=currencies.display(a["amount"], t.currency), moment=_when(a["posted_at"]),
                note=a["note"]))
