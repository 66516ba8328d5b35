"""Tenants (organisations) and the admins who receive their notifications."""

from __future__ import annotations

import re
import unicodedata

from sqlmodel import Session, col, select

from credits_cli import clock, currencies, i18n
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.models import Admin, Tenant
from credits_cli.refdata import service

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_EMAIL_RE = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
#: What a header parser reads as syntax, not as part of an address (RFC 5322 specials; quotes, commas,
#: semicolons and angle brackets are refused by _EMAIL_RE already).
_SPECIALS = frozenset("()[]:\\")


def check_country(code: str, *, what: str = "country") -> str:
    """An ISO 3166 alpha-2 code that has a telephone numbering plan."""
    import phonenumbers

    value = code.strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"{what} {code!r} is not an ISO 3166 alpha-2 country code such as US or GB")
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
        kind = (
            "a control character" if category == "Cc"
            else "a space or line separator" if category[0] == "Z"
            else "an invisible character"
        )
        raise InvalidInput(f"{text!r} is not an e-mail address: it has {kind} (U+{ord(odd):04X})")
    local, _, domain = value.rpartition("@")
    if (
        len(value) > 254
        or not _EMAIL_RE.match(value)
        or any(c in _SPECIALS for c in value)
        or any(part.startswith(".") or part.endswith(".") or ".." in part for part in (local, domain))
        or not _travels_as_written(value.lower())
    ):
        raise InvalidInput(f"{text!r} is not an e-mail address")
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


def add_tenant(
    session: Session, slug: str, *, name: str, country: str, billing_country: str, currency: str,
    lang: str | None = None,
) -> Tenant:
    if not _SLUG_RE.match(slug):
        raise InvalidInput(f"tenant slug {slug!r} must be lower-case letters, digits and dashes (at most 63)")
    if not name.strip():
        raise InvalidInput("tenant name is empty")
    tenant = Tenant(
        slug=slug,
        name=name.strip(),
        country=check_country(country),
        billing_country=check_country(billing_country, what="billing country"),
        currency=currencies.check(currency),
        created_at=clock.now(),
        lang=i18n.check(lang) if lang else None,
    )
    service().minimum(tenant.currency)  # a currency we cannot sell in is refused up front
    if session.exec(select(Tenant).where(Tenant.slug == slug)).first():
        raise InvalidInput(f"tenant {slug} already exists")
    session.add(tenant)
    session.flush()
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.exec(select(Tenant).order_by(col(Tenant.slug))).all())


def resolve(session: Session, slug: str | None) -> Tenant:
    """The tenant named by ``--tenant``, or the only one when there is exactly one."""
    slug = (slug or "").strip().lower()  # slugs are lower-case; CREDITS_TENANT may carry stray spaces
    if slug:
        tenant = session.exec(select(Tenant).where(Tenant.slug == slug)).first()
        if tenant is None:
            known = ", ".join(t.slug for t in list_tenants(session)) or "none yet"
            raise NotFound(f"no tenant {slug!r} (tenants: {known})")
        return tenant
    tenants = session.exec(select(Tenant).limit(2)).all()
    if not tenants:
        raise NotFound("no tenant yet; create one with: credits tenant add SLUG --name ... ")
    if len(tenants) > 1:
        raise InvalidInput("several tenants exist; choose one with --tenant or CREDITS_TENANT")
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
        raise NotFound(f"{email} is not an admin of {tenant.slug}")
    session.delete(admin)
