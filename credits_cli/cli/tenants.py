"""``tenant``, ``admin`` and ``changes``: the organisations, who is notified, and the trail of corrections."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n, phrases
from credits_cli.cli.common import (
    Col,
    DocOutputOpt,
    Json,
    Limit,
    Newest,
    OutputOpt,
    Yes,
    confirm,
    emit,
    examples,
    fail,
    limited,
    output_mode,
    print_json,
    say,
    short_time,
    state,
    table,
    warn,
)
from credits_cli.i18n import N_, _, ngettext, npgettext, pgettext
from credits_cli.phrases import Phrase

if TYPE_CHECKING:
    from sqlmodel import Session

    from credits_cli.models import Admin, Tenant


tenant_app = typer.Typer(help="Organisations whose balance this database keeps.", no_args_is_help=True)
admin_app = typer.Typer(help="Admins notified of recharges, failures and a zero balance.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(admin_app, name="admin")
    app.command("changes", epilog=examples("credits changes --newest --limit 20",
                                           "credits changes --all-tenants -o csv > trail.csv"))(changes)


def tenant_doc(t: Tenant) -> dict[str, Any]:
    return {
        "slug": t.slug,
        "name": t.name,
        "country": t.country,
        "billing_country": t.billing_country,
        "currency": t.currency,
        "lang": t.lang,
        "created_at": t.created_at,
    }


def admin_doc(a: Admin) -> dict[str, Any]:
    from credits_cli.refdata import service

    return {"email": a.email, "role": a.role, "role_name": service().admin_roles.get(a.role, a.role),
            "added_at": a.added_at}


def changed_docs(diffs: list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
    return [{"field": name, "old": old, "new": new} for name, old, new in diffs]


def said(diffs: list[tuple[str, Any, Any]]) -> str:
    from credits_cli import trail

    return "; ".join(trail.describe({"field": n, "old": trail.text(o), "new": trail.text(v)}) for n, o, v in diffs)


# --- tenant ---------------------------------------------------------------------------


@tenant_app.command("add", epilog=examples(
    'credits tenant add contoso --name "Contoso Ltd" --country US --currency USD',
    "credits tenant add fab --name Fabrikam --country DE --currency EUR",
    "credits tenant add alma --name Alma --country KZ --currency KZT --lang kk",
))
def tenant_add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, dashes.")],
    name: Annotated[str, typer.Option("--name", help="Display name of the organisation.")],
    country: Annotated[str, typer.Option("--country", help="Where the tenant is homed (ISO alpha-2).")],
    billing_country: Annotated[
        str | None, typer.Option("--billing-country", help="Billing address country (default: --country).")
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 currency of the balance.")] = "USD",
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="The language of what is written for the tenant's people (its admins' e-mails, "
                     "its workbook): en, ru, kk or zh_CN. Default: each command's own."),
    ] = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Add an organisation (the first one creates the database).

    Here --lang is the tenant's language; the language of this command's own output goes before the
    command (credits --lang ru tenant add ...) or in CREDITS_LANG.
    """
    from credits_cli import payments, tenants

    mode = output_mode(output, json_out)
    tenants.check_new_tenant(slug, name=name, country=country, billing_country=billing_country or country,
                             currency=currency, lang=lang)  # bad input creates no database
    st = state(ctx)
    st.create_database = True
    doc = st.db.write(
        lambda s: tenant_doc(
            tenants.add_tenant(
                s, slug, name=name, country=country, billing_country=billing_country or country, currency=currency,
                lang=lang,
            )
        )
    )
    refused = payments.region_refusal(_Countries(doc["country"], doc["billing_country"]))
    warnings = [f"purchases will be refused: {refused}; fix it with credits tenant edit {doc['slug']} "
                "--country CC --billing-country CC"] if refused else []  # English: the JSON's warnings
    if mode == "json":
        print_json(doc | {"warnings": warnings})
    else:
        say(_("added tenant {slug} ({name}, {country}, {currency})").format(
            slug=doc["slug"], name=doc["name"], country=doc["country"], currency=doc["currency"]))
    if refused:
        warn(_("purchases will be refused: {reason}; fix it with credits tenant edit {slug} "
               "--country CC --billing-country CC").format(reason=phrases.said(refused), slug=doc["slug"]))


class _Countries:
    def __init__(self, country: str, billing_country: str) -> None:
        self.country = country
        self.billing_country = billing_country


@tenant_app.command("list", epilog=examples("credits tenant list", "credits tenant list -o csv > tenants.csv"))
def tenant_list(
    ctx: typer.Context, limit: Limit = None, newest: Newest = False, output: OutputOpt = None, json_out: Json = False
) -> None:
    """List the organisations."""
    from credits_cli import tenants

    mode = output_mode(output, json_out)
    with state(ctx).db.read() as s:
        docs = [tenant_doc(t) for t in tenants.list_tenants(s)]
    docs, total = limited(docs, limit, newest, "created_at")
    emit(
        mode, docs, title=None, noun=lambda n: npgettext("listing", "tenant", "tenants", n), total=total,
        empty=_("no tenants yet; add one with: credits tenant add SLUG --name NAME --country CC"),
        columns=[Col(_("slug"), shrink=12), Col(_("name"), keep=2, shrink=10), Col(_("country"), keep=3),
                 Col(_("billing"), keep=4), Col(_("currency"))],
        row=lambda d: [d["slug"], d["name"], d["country"], d["billing_country"], d["currency"]],
    )


#: The labels of ``tenant show``'s rows, by the key of its JSON document (the keys stay English there).
SHOW_LABELS = {"slug": N_("slug"), "name": N_("name"), "country": N_("country"),
               "billing_country": N_("billing country"), "currency": N_("currency"), "lang": N_("lang"),
               "created_at": N_("created at"), "users": N_("users"), "licensed_users": N_("licensed users"),
               "admins": N_("admins"), "payment": N_("payment"), "balance": N_("balance")}

#: The corrections ``tenant show`` lists.
RECENT_CHANGES = 5


def english(say_it: Callable[..., Any], *args: Any) -> Any:
    """What ``say_it`` says, in English whatever the language: a value of a JSON document."""
    from credits_cli import i18n

    with i18n.speaking(i18n.SOURCE):
        return say_it(*args)


@tenant_app.command("show", epilog=examples("credits tenant show", "credits --tenant contoso tenant show --json"))
def tenant_show(ctx: typer.Context, output: DocOutputOpt = None, json_out: Json = False) -> None:
    """Show the tenant: details, users, licenses, admins, balance and the latest corrections."""
    from credits_cli import clock, currencies, ledger, money, payments, tenants, trail, users

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        all_users = users.list_users(s, t)
        method = payments.get_method(s, t)
        doc = tenant_doc(t) | {
            "users": len(all_users),
            "licensed_users": sum(1 for u in all_users if u.licensed),
            "admins": len(tenants.list_admins(s, t)),
            "payment": english(payments.describe, method),
            # As `balance` shows it: lots that have expired by now no longer count.
            "balance": ledger.balance(s, t)
            - sum((lot.remaining for lot in ledger.open_lots(s, t) if lot.expires_at <= clock.now()), money.ZERO),
            "removed_users": len(users.list_users(s, t, removed=True)) - len(all_users),
            "purchase_refusal": payments.refusal(t, method, clock.now()),  # a phrase: English as a value
            "recent_changes": list(trail.lines(s, t, limit=RECENT_CHANGES, newest=True)),
        }
        said = {"payment": payments.describe(method)}
    if mode == "json":
        print_json(doc)
        return
    doc = doc | said  # the same facts, said in the reader's language
    rows = [
        [_(SHOW_LABELS.get(k, k.replace("_", " "))),
         currencies.display(v, t.currency) if k == "balance" else phrases.said(v) if isinstance(v, str) else v]
        for k, v in doc.items()
        if k not in ("recent_changes", "purchase_refusal", "removed_users")
    ]
    if doc["removed_users"]:
        rows.insert(7, [_("removed users"), doc["removed_users"]])
    refusal = doc["purchase_refusal"]
    rows.append([_("purchases"), pgettext("purchases", "allowed") if refusal is None
                 else _("refused: {reason}").format(reason=phrases.said(refusal))])
    table(_("tenant {slug}").format(slug=t.slug), [Col(_("field")), Col(_("value"), shrink=20)], rows)
    changes = doc["recent_changes"]
    if changes:
        table(
            _("latest corrections (credits changes lists them all)"),
            [Col(_("at")), Col(_("by"), keep=2, shrink=6), Col(_("command"), keep=3), Col(_("target"), shrink=12),
             Col(_("change"), shrink=16)],
            [[short_time(c["at"]), c["actor"], c["command"], c["target"], trail.describe(c)] for c in changes],
        )


@tenant_app.command("edit", epilog=examples(
    'credits tenant edit contoso --name "Contoso Ltd"',
    "credits tenant edit contoso --billing-country US   # purchases were refused",
    "credits tenant edit contoso --lang zh_CN   # its admins read Chinese",
))
def tenant_edit(
    ctx: typer.Context,
    slug: Annotated[
        str | None, typer.Argument(help="The tenant (default: --tenant, or the only one).", show_default=False)
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="New display name.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="New home country (ISO alpha-2).")] = None,
    billing_country: Annotated[
        str | None, typer.Option("--billing-country", help="New billing address country (ISO alpha-2).")
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="New currency: only while nothing is booked for the tenant.")
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="The language of what is written for the tenant's people (its admins' e-mails, "
                     "its workbook): en, ru, kk or zh_CN; none: each command's own."),
    ] = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Correct a tenant's name, countries, currency or language; each change goes to the trail (credits changes).

    Here --lang is the tenant's language; the language of this command's own output goes before the
    command (credits --lang ru tenant edit ...) or in CREDITS_LANG.
    """
    from credits_cli import payments, tenants, trail

    mode = output_mode(output, json_out)
    st = state(ctx)
    if slug is not None:
        st.tenant_slug = slug

    def work(s: Session) -> tuple[dict[str, Any], list[Any], list[str]]:
        t = st.tenant(s, lock=True)
        diffs, warnings = tenants.edit_tenant(s, t, name=name, country=country, billing_country=billing_country,
                                              currency=currency, lang=lang)
        if diffs:
            trail.record(s, t, "tenant edit", t.slug, diffs, actor=st.settings.operator)
        refused = payments.region_refusal(t)
        if refused:
            warnings.append(Phrase(N_("purchases will be refused: {reason}"), reason=refused))
        return tenant_doc(t), diffs, warnings

    doc, diffs, warnings = st.db.write(work)
    if mode == "json":
        print_json(doc | {"changed": changed_docs(diffs), "warnings": warnings})
    elif diffs:
        say(f"tenant {doc['slug']}: {said(diffs)}")
    else:
        say(_("tenant {slug}: nothing changed").format(slug=doc["slug"]))
    for warning in warnings:
        warn(phrases.said(warning))


@tenant_app.command("remove", epilog=examples(
    "credits tenant remove fabrikam",
    "credits tenant remove fabrikam --force --yes   # and its books",
))
def tenant_remove(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The tenant to remove (its slug, spelled out).")],
    force: Annotated[
        bool, typer.Option("--force", help="Remove it even though it has books (ledger entries): they go too.")
    ] = False,
    yes: Yes = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Remove a tenant and everything it holds (users, admins, rate tables, calls, ledger).

    A tenant with ledger entries is removed only with --force. Asks first on a terminal; a script
    gives --yes. Its lines of the trail stay (credits changes --all-tenants).
    """
    from credits_cli import currencies, ledger, tenants, trail

    mode = output_mode(output, json_out)
    st = state(ctx)
    st.tenant_slug = slug
    with st.db.read() as s:
        t = st.tenant(s)
        held = tenants.holdings(s, t)
        balance = ledger.balance(s, t)
        name, cur = t.name, t.currency
    if held["ledger"] and not force:
        fail(ngettext("tenant {slug} has {n} ledger entries (balance {balance}): "
                      "removing it deletes its books; add --force to remove it anyway",
                      "tenant {slug} has {n} ledger entries (balance {balance}): "
                      "removing it deletes its books; add --force to remove it anyway", held["ledger"]).format(
                          slug=slug, n=i18n.number(held["ledger"]), balance=currencies.display(balance, cur)))
    counted = [(what, n) for what, n in (("users", held["users"]), ("admins", held["admins"]),
                                         ("rate tables", held["rate_tables"]), ("calls", held["calls"]),
                                         ("ledger entries", held["ledger"])) if n]
    parts_en = [f"{n:,} {what}" for what, n in counted]  # the trail's note: kept in English, as data
    parts = [_HOLDINGS[what](n).format(n=i18n.number(n)) for what, n in counted]
    listed = ", ".join(parts)
    if held["ledger"]:
        confirm(_("remove tenant {slug} ({name}) with {holdings}, and its books (balance {balance})?").format(
            slug=slug, name=name, holdings=listed or _("nothing in it"), balance=currencies.display(balance, cur)),
            yes)
    else:
        confirm(_("remove tenant {slug} ({name}) with {holdings}?").format(
            slug=slug, name=name, holdings=listed or _("nothing in it")), yes)

    def work(s: Session) -> dict[str, int]:
        t = st.tenant(s, lock=True)
        trail.record(s, t, "tenant remove", t.slug, actor=st.settings.operator,
                     note=f"removed ({', '.join(parts_en) or 'empty'})")
        trail.detach(s, t)
        return tenants.remove_tenant(s, t, force=force)

    deleted = st.db.write(work)
    if mode == "json":
        print_json({"removed": slug, "deleted": deleted})
    else:
        say(_("removed tenant {slug} and its {holdings}").format(slug=slug, holdings=listed) if parts
            else _("removed tenant {slug}").format(slug=slug))


#: What a tenant holds, counted, as ``tenant remove`` says it.
_HOLDINGS = {
    "users": lambda n: ngettext("{n} users", "{n} users", n),
    "admins": lambda n: ngettext("{n} admins", "{n} admins", n),
    "rate tables": lambda n: ngettext("{n} rate tables", "{n} rate tables", n),
    "calls": lambda n: ngettext("{n} calls", "{n} calls", n),
    "ledger entries": lambda n: ngettext("{n} ledger entries", "{n} ledger entries", n),
}


# --- admin ----------------------------------------------------------------------------


@admin_app.command("add", epilog=examples(
    "credits admin add billing@contoso.com --role billing-admin",
    "credits admin add it@contoso.com --role 'Teams Service Administrator'",
))
def admin_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    role: Annotated[
        str,
        typer.Option("--role", help="Admin role, e.g. billing-admin or 'Billing Administrator'.",
                     autocompletion=lambda: _role_slugs()),
    ],
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Add an admin who receives notifications (or change their role)."""
    from credits_cli import tenants, trail

    mode = output_mode(output, json_out)
    st = state(ctx)

    def work(s: Session) -> dict[str, Any]:
        t = st.tenant(s)
        before = {a.email: a.role for a in tenants.list_admins(s, t)}
        doc = admin_doc(tenants.add_admin(s, t, email, role))
        old = before.get(doc["email"])
        if old is not None and old != doc["role"]:
            trail.record(s, t, "admin add", doc["email"], [("role", old, doc["role"])], actor=st.settings.operator)
        return doc

    doc = st.db.write(work)
    if mode == "json":
        print_json(doc)
    else:
        # TRANSLATORS: {role} is the admin role's name (Billing administrator)
        say(_("{email} is now {role}").format(email=doc["email"], role=doc["role_name"]))


def _role_slugs() -> list[str]:
    from credits_cli.refdata import service

    return list(service().admin_roles)


@admin_app.command("list", epilog=examples("credits admin list", "credits admin list -o json"))
def admin_list(
    ctx: typer.Context, limit: Limit = None, newest: Newest = False, output: OutputOpt = None, json_out: Json = False
) -> None:
    """List admins and their roles."""
    from credits_cli import tenants

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        docs = [admin_doc(a) for a in tenants.list_admins(s, st.tenant(s))]
    docs, total = limited(docs, limit, newest, "added_at")
    emit(
        mode, docs, title=None, noun=lambda n: npgettext("listing", "admin", "admins", n), total=total,
        empty=_("no admins: notifications stay in the outbox; add one with credits admin add EMAIL --role ROLE"),
        columns=[Col(_("email"), shrink=16), Col(_("role"), shrink=12)],
        row=lambda d: [d["email"], d["role_name"]],
    )


@admin_app.command("remove", epilog=examples("credits admin remove billing@contoso.com",
                                             "credits admin remove billing@contoso.com --yes"))
def admin_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    yes: Yes = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Stop notifying an admin (asks first on a terminal; a script gives --yes)."""
    from credits_cli import tenants, trail
    from credits_cli.errors import NotFound

    mode = output_mode(output, json_out)
    st = state(ctx)
    address = email.strip().lower()
    with st.db.read() as s:
        t = st.tenant(s)
        if address not in {a.email for a in tenants.list_admins(s, t)}:
            raise NotFound(_("{email} is not an admin of {slug}").format(email=email, slug=t.slug))
    confirm(_("remove admin {email} of {slug}: they will no longer be notified?").format(email=address, slug=t.slug),
            yes)

    def work(s: Session) -> None:
        t = st.tenant(s)
        role = {a.email: a.role for a in tenants.list_admins(s, t)}.get(address)
        tenants.remove_admin(s, t, email)
        trail.record(s, t, "admin remove", address, [("role", role, None)], actor=st.settings.operator)

    st.db.write(work)
    if mode == "json":
        print_json({"removed": address})
    else:
        say(_("removed {email}").format(email=address))




# --- the trail ------------------------------------------------------------------------

#: The columns of ``changes -o csv``.
CHANGE_KEYS = ["id", "at", "tenant", "actor", "command", "target", "field", "old", "new", "tenant_removed"]


def changes(
    ctx: typer.Context,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Every tenant's, removed tenants' included.")
    ] = False,
    limit: Limit = None,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """The trail of corrections: what changed, from what to what, when, and who ran the command.

    Written by tenant edit/remove, user add/edit/remove/import, admin add (a new role) and remove,
    rates activate, adjust and balance assert --adjust.
    """
    from credits_cli import trail

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        t = None if all_tenants else st.tenant(s)
        total = trail.count(s, t)
        docs = list(trail.lines(s, t, limit=limit, newest=newest))
    emit(
        mode, docs, title=None, noun=lambda n: npgettext("listing", "correction", "corrections", n), total=total,
        keys=CHANGE_KEYS,
        hint=_("--limit N shows more, 0 all") if newest else _("--limit N shows more, 0 all; --newest the latest"),
        empty=_("no corrections yet"),
        columns=[Col(_("at")), *([Col(_("tenant"), shrink=8)] if all_tenants else []), Col(_("by"), keep=1, shrink=6),
                 Col(_("command"), keep=3), Col(_("target"), keep=2, shrink=12), Col(_("change"), shrink=16)],
        row=lambda d: [short_time(d["at"]),
                       *([d["tenant"] + (_(" (removed)") if d["tenant_removed"] else "")] if all_tenants else []),
                       d["actor"], d["command"], d["target"], trail.describe(d)],
    )
