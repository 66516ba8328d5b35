"""Tenants (organisations) and the admins who receive their notifications."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlmodel import Session, col, select

from credits_cli import clock, currencies, i18n
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.i18n import N_, _, ngettext
from credits_cli.models import Admin, Tenant
from credits_cli.phrases import Phrase
from credits_cli.refdata import service
from credits_cli.trail import Diff

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EMAIL_RE = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
#: What a header parser reads as syntax, not as part of an address (RFC 5322 specials; quotes, commas,
#: semicolons and angle brackets are refused by _EMAIL_RE already).
_SPECIALS = frozenset("()[]:\\")


def check_country(code: str, *, what: str = N_("country")) -> str:
    """An ISO 3166 alpha-2 code that has a telephone numbering plan (``what``: the word that names it,
    marked with ``N_``, translated here)."""
    import phonenumbers

    value = code.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        # TRANSLATORS: {what} is "country" or "billing country"; {code} what was given.
        raise InvalidInput(_("{what} {code} is not an ISO 3166 alpha-2 country code such as US or GB").format(
            what=_(what), code=repr(code)))
    return value


def check_email(text: str) -> str:
    """An address as it will travel: lower-case, and exactly what smtplib puts in the envelope and the
    ``To:`` header. Refused: control characters (C0, DEL, C1), invisible format characters and line
    separators (a header could be cut or an address shown as another); the characters a header parser
    reads as syntax (``a(comment)@x.com`` is sent to ``a@x.com``, ``a:b@x.com`` to ``b@x.com``); dots
    at the ends of a part or doubled (``a@x.com.`` becomes ``<>``)."""
    value = text.strip(" ")  # stray spaces only: a control character at either end is refused too
    odd = next((c for c in value if unicodedata.category(c)[0] in "CZ"), None)
    if odd is not None:
        category = unicodedata.category(odd)
        if category == "Cc":
            # TRANSLATORS: {text} is what was given, {code} the character's code point (U+0007).
            message = _("{text} is not an e-mail address: it has a control character ({code})")
        elif category[0] == "Z":
            message = _("{text} is not an e-mail address: it has a space or line separator ({code})")
        else:
            message = _("{text} is not an e-mail address: it has an invisible character ({code})")
        raise InvalidInput(message.format(text=repr(text), code=f"U+{ord(odd):04X}"))
    local, _at, domain = value.rpartition("@")
    if (
        len(value) > 254
        or not _EMAIL_RE.match(value)
        or any(c in _SPECIALS for c in value)
        or any(part.startswith(".") or part.endswith(".") or ".." in part for part in (local, domain))
        or not _travels_as_written(value.lower())
    ):
        raise InvalidInput(_("{text} is not an e-mail address").format(text=repr(text)))
    return value.lower()


def _travels_as_written(address: str) -> bool:
    """Whether smtplib sends ``address`` unchanged: in the ``To:`` header and as the envelope recipient
    it takes from that header."""
    from email.message import EmailMessage
    from email.utils import getaddresses

    message = EmailMessage()
    try:
        message["To"] = address
    except ValueError:
        return False
    header = str(message["To"])
    return header == address and getaddresses([header]) == [("", address)]


def check_new_tenant(
    slug: str, *, name: str, country: str, billing_country: str, currency: str, lang: str | None = None,
) -> Tenant:
    """A new tenant's fields, checked (without the database: ``tenant add`` refuses bad input before it
    creates one)."""
    if not _SLUG_RE.match(slug):
        raise InvalidInput(_("tenant slug {slug} must be lower-case letters, digits and dashes (at most {n})").format(
            slug=repr(slug), n=63))
    if not name.strip():
        raise InvalidInput(_("tenant name is empty"))
    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        country=check_country(country),
        billing_country=check_country(billing_country, what=N_("billing country")),
        currency=currencies.check(currency),
        created_at=clock.now(),
        lang=i18n.check(lang) if lang else None,
    )
    service().minimum(tenant.currency)  # a currency we cannot sell in is refused up front
    return tenant


def add_tenant(
    session: Session, slug: str, *, name: str, country: str, billing_country: str, currency: str,
    lang: str | None = None,
) -> Tenant:
    tenant = check_new_tenant(slug, name=name, country=country, billing_country=billing_country, currency=currency,
                              lang=lang)
    if session.exec(select(Tenant).where(Tenant.slug == slug)).first():
        raise InvalidInput(_("tenant {slug} already exists").format(slug=slug))
    session.add(tenant)
    session.flush()
    return tenant


def edit_tenant(
    session: Session,
    tenant: Tenant,
    *,
    name: str | None = None,
    country: str | None = None,
    billing_country: str | None = None,
    currency: str | None = None,
    lang: str | None = None,
) -> tuple[list[Diff], list[str]]:
    """Change what is given of a tenant; returns (the fields changed, warnings). ``lang`` ``none`` (or
    empty) takes the tenant's language away: each command then writes in its own.

    The currency changes only while nothing is booked in the old one: no ledger entry, no rated call,
    and no auto-recharge (its threshold and amount are amounts of the old currency). Rate tables in
    another currency stop being active (a table must be in the tenant's currency, SPEC §4).
    """
    import sqlalchemy as sa

    from credits_cli.models import AutoRecharge, Call, LedgerEntry, RateTable

    wanted: dict[str, str] = {}
    if name is not None:
        if not name.strip():
            raise InvalidInput(_("tenant name is empty"))
        wanted["name"] = name.strip()
    if country is not None:
        wanted["country"] = check_country(country)
    if billing_country is not None:
        wanted["billing_country"] = check_country(billing_country, what=N_("billing country"))
    if currency is not None:
        wanted["currency"] = currencies.check(currency)
        service().minimum(wanted["currency"])  # a currency we cannot sell in is refused up front
    chosen: dict[str, str | None] = dict(wanted)
    if lang is not None:
        chosen["lang"] = None if lang.strip().lower() in ("", "none") else i18n.check(lang)
    if not chosen:
        raise InvalidInput(_("nothing to change: give --name, --country, --billing-country, --currency or --lang"))
    diffs: list[Diff] = [(k, getattr(tenant, k), v) for k, v in chosen.items() if getattr(tenant, k) != v]
    warnings: list[str] = []
    if any(k == "currency" for k, _old, _new in diffs):
        old = tenant.currency
        entries = _count(session, LedgerEntry.__table__, tenant)  # type: ignore[attr-defined]
        calls = _count(session, Call.__table__, tenant)  # type: ignore[attr-defined]
        if entries or calls:
            # TRANSLATORS: {entries} and {calls} are counts ("12 ledger entries", "3 calls"); {currency} a code.
            raise InvalidInput(_("tenant {slug} has {entries} and {calls} in {currency}: its currency cannot change "
                                 "(add a tenant in the new currency)").format(
                slug=tenant.slug, currency=old,
                entries=ngettext("{n} ledger entries", "{n} ledger entries", entries).format(n=i18n.number(entries)),
                calls=ngettext("{n} calls", "{n} calls", calls).format(n=i18n.number(calls))))
        settings = session.get(AutoRecharge, tenant.id)
        if settings is not None and settings.enabled:
            raise InvalidInput(_("auto-recharge holds amounts in {currency}: turn it off (credits autorecharge off) "
                                 "before changing the currency, and set it again in the new one").format(currency=old))
        rt = RateTable.__table__  # type: ignore[attr-defined]
        stale = session.execute(
            sa.select(rt.c.name).where(rt.c.tenant_id == tenant.id, rt.c.active.is_(True),
                                       rt.c.currency != wanted["currency"])
        ).scalars().all()
        if stale:
            session.execute(sa.update(rt).where(rt.c.tenant_id == tenant.id, rt.c.currency != wanted["currency"])
                            .values(active=False))
            # a phrase: English in --json, said in the reader's language on the terminal
            warnings.append(Phrase(N_("rate table {name} is in {old}: it is no longer active; load one in {new} with "
                                      "credits rates load"), name=stale[0], old=old, new=wanted["currency"]))
    for key, _old, new in diffs:
        setattr(tenant, key, new)
    session.add(tenant)
    session.flush()
    return diffs, warnings


def _count(session: Session, table: Any, tenant: Tenant) -> int:
    import sqlalchemy as sa

    return int(session.execute(
        sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == tenant.id)
    ).scalar() or 0)


#: What a tenant holds, in the order it is removed (a table before the tables it names).
_HOLDINGS = ("ledger", "pool_usage", "notifications", "calls", "imports", "lots", "rate_tables", "user_history",
             "users", "admins", "payment_methods", "auto_recharge")


def holdings(session: Session, tenant: Tenant) -> dict[str, int]:
    """The rows a tenant holds, per table (what ``tenant remove`` would delete)."""
    from credits_cli.db import metadata

    tables = metadata().tables
    return {name: _count(session, tables[name], tenant) for name in _HOLDINGS}


def remove_tenant(session: Session, tenant: Tenant, *, force: bool = False) -> dict[str, int]:
    """Delete a tenant and everything it holds; returns the rows deleted per table.

    A tenant with books (ledger entries) is removed only with ``force``: its books go with it.
    """
    import sqlalchemy as sa

    from credits_cli.db import metadata

    held = holdings(session, tenant)
    if held["ledger"] and not force:
        raise InvalidInput(ngettext(
            "tenant {slug} has {n} ledger entries: removing it deletes its books; add --force to remove it anyway",
            "tenant {slug} has {n} ledger entries: removing it deletes its books; add --force to remove it anyway",
            held["ledger"]).format(slug=tenant.slug, n=i18n.number(held["ledger"])))
    tables = metadata().tables
    entries = tables["rate_entries"]
    rate_tables = tables["rate_tables"]
    session.execute(sa.delete(entries).where(entries.c.table_id.in_(
        sa.select(rate_tables.c.id).where(rate_tables.c.tenant_id == tenant.id))))
    guards = tables["call_guards"]  # one per call: counted as its calls
    session.execute(sa.delete(guards).where(guards.c.tenant_id == tenant.id))
    for name in _HOLDINGS:
        table = tables[name]
        session.execute(sa.delete(table).where(table.c.tenant_id == tenant.id))
    session.delete(tenant)
    session.flush()
    return held


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(col(Tenant.slug))).all())


def resolve(session: Session, slug: str | None) -> Tenant:
    """The tenant named by ``--tenant``, or the only one when there is exactly one."""
    slug = (slug or "").strip().lower()  # slugs are lower-case; CREDITS_TENANT may carry stray spaces
    if slug:
        tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
        if tenant is None:
            known = ", ".join(t.slug for t in list_tenants(session)) or _("none yet")
            raise NotFound(_("no tenant {slug} (tenants: {known})").format(slug=repr(slug), known=known))
        return tenant
    tenants = session.exec(select(Tenant).limit(2)).all()
    if not tenants:
        raise NotFound(_("no tenant yet; create one with: credits tenant add SLUG --name ... "))
    if len(tenants) > 1:
        raise InvalidInput(_("several tenants exist; choose one with --tenant or CREDITS_TENANT"))
    return tenants[0]


def add_admin(session: Session, tenant: Tenant, email: str, role: str) -> Admin:
    address = check_email(email)
    slug = service().role(role)
    existing = session.exec(select(Admin).where(Admin.tenant_id == tenant.id, Admin.email == address)).first()
    if existing:
        existing.role = slug
        session.add(existing)
        return existing
    admin = Admin(tenant_id=tenant.id or 0, email=address, role=slug, added_at=clock.now())
    session.add(admin)
    session.flush()
    return admin


def list_admins(session: Session, tenant: Tenant) -> list[Admin]:
    return list(session.exec(select(Admin).where(Admin.tenant_id == tenant.id).order_by(col(Admin.email))).all())


def remove_admin(session: Session, tenant: Tenant, email: str) -> None:
    address = email.strip().lower()
    admin = session.exec(select(Admin).where(Admin.tenant_id == tenant.id, Admin.email == address)).first()
    if admin is None:
        raise NotFound(_("{email} is not an admin of {tenant}").format(email=email, tenant=tenant.slug))
    session.delete(admin)
