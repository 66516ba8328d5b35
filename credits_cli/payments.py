"""How purchases are paid, and whether a purchase may go through."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from credits_cli import clock
from credits_cli.errors import InvalidInput, PurchaseRefused
from credits_cli.i18n import N_, _, pgettext
from credits_cli.phrases import Phrase
from credits_cli.refdata import service

if TYPE_CHECKING:  # the models (SQLModel) load only where a method is written or read
    from sqlmodel import Session

    from credits_cli.models import PaymentMethod, Tenant

_EXPIRY_RE = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def check_card_expiry(text: str) -> str:
    match = _EXPIRY_RE.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        # TRANSLATORS: {value} is what was given, quoted; {example} is 2028-04: a year and a month, the one
        # form read, whatever the language.
        raise InvalidInput(_("card expiry {value} must be YYYY-MM, e.g. {example}").format(
            value=repr(text), example="2028-04"))
    return text.strip()


def card_expired(card_expiry: str, at: datetime) -> bool:
    """A card is good through the last day of its expiry month."""
    return clock.month_key(at) > card_expiry


def set_card(session: Session, tenant: Tenant, expiry: str, last4: str | None) -> tuple[PaymentMethod, str | None]:
    expiry = check_card_expiry(expiry)
    if last4 is not None and not re.fullmatch(r"[0-9]{4}", last4.strip()):
        # TRANSLATORS: {value} is what was given, quoted.
        raise InvalidInput(_("--last4 {value} must be exactly four digits").format(value=repr(last4)))
    method = _upsert(session, tenant, "card", expiry, last4.strip() if last4 else None)
    warning = None
    if card_expired(expiry, clock.now()):
        # TRANSLATORS: {month} is the card's expiry month, as given (2026-05).
        warning = _("card expired at the end of {month}: purchases and recharges will fail until it is "
                    "replaced").format(month=expiry)
    return method, warning


def set_invoice(session: Session, tenant: Tenant) -> PaymentMethod:
    return _upsert(session, tenant, "invoice", None, None)


def _upsert(session: Session, tenant: Tenant, kind: str, expiry: str | None, last4: str | None) -> PaymentMethod:
    from credits_cli.models import PaymentMethod

    method = session.get(PaymentMethod, tenant.id)
    if method is None:
        method = PaymentMethod(tenant_id=tenant.id or 0, kind=kind, updated_at=clock.now())
    method.kind = kind
    method.card_expiry = expiry
    method.last4 = last4
    method.updated_at = clock.now()
    session.add(method)
    _new_episode(session, tenant)
    session.flush()
    return method


def _new_episode(session: Session, tenant: Tenant) -> None:
    """A changed payment method starts a new episode: a failure of the next recharge is news the admins
    hear again (SPEC §6.7). The hourly pause after a failure (§6.6) stands."""
    from credits_cli.models import AutoRecharge

    settings = session.get(AutoRecharge, tenant.id)
    if settings is not None:
        settings.failing_since = None
        session.add(settings)


def get_method(session: Session, tenant: Tenant) -> PaymentMethod | None:
    from credits_cli.models import PaymentMethod

    return session.get(PaymentMethod, tenant.id)


class MethodFacts(Protocol):
    """What :func:`describe` reads of a payment method (a row of the model, or of plain SQL)."""

    @property
    def kind(self) -> str: ...
    @property
    def card_expiry(self) -> str | None: ...
    @property
    def last4(self) -> str | None: ...


def describe(method: MethodFacts | None) -> str:
    """The payment method in a few words, in the language being spoken (a JSON document, which is
    never translated, takes it inside ``i18n.speaking(i18n.SOURCE)``)."""
    if method is None:
        # TRANSLATORS: the payment method of a tenant that has none.
        return pgettext("payment method", "none")
    if method.kind == "invoice":
        # TRANSLATORS: the payment method: purchases are paid by invoice.
        return pgettext("payment method", "invoice")
    if method.last4:
        # TRANSLATORS: a payment card; {last4} its last four digits, {month} its expiry month (2028-04).
        return _("card ending {last4}, expires {month}").format(last4=method.last4, month=method.card_expiry)
    # TRANSLATORS: a payment card; {month} is its expiry month (2028-04).
    return _("card, expires {month}").format(month=method.card_expiry)


class Countries(Protocol):
    """What :func:`region_refusal` reads of a tenant."""

    @property
    def country(self) -> str: ...
    @property
    def billing_country(self) -> str: ...


def region_refusal(tenant: Countries) -> Phrase | None:
    """Why no purchase of this tenant can ever go through (its country and billing country lie in
    different regions, SPEC §3), or None. A :class:`~credits_cli.phrases.Phrase`: English as a value
    (``--json``, the rating summary's ``failure``), said in the reader's language."""
    data = service()
    home, billing = data.region(tenant.country), data.region(tenant.billing_country)
    if tenant.country != tenant.billing_country and (home is None or home != billing):
        # TRANSLATORS: in place of the region of a country rates/service.yaml does not place in one.
        unknown = Phrase(N_("unknown region"))
        # TRANSLATORS: {country} and {billing_country} are ISO country codes (GB, US); {region} and
        # {billing_region} the regions of rates/service.yaml they belong to (Europe), or "unknown region".
        return Phrase(N_("tenant country {country} ({region}) and billing country {billing_country} "
                         "({billing_region}) are in different regions"),
                      country=tenant.country, region=home or unknown, billing_country=tenant.billing_country,
                      billing_region=billing or unknown)
    return None


def refusal(tenant: Tenant, method: PaymentMethod | None, at: datetime) -> Phrase | None:
    """Why a purchase at ``at`` cannot go through, or None when it can (a Phrase: see
    :func:`region_refusal`)."""
    regions = region_refusal(tenant)
    if regions:
        return regions
    if method is None:
        # TRANSLATORS: "credits payment set" is a command: keep it as it is.
        return Phrase(N_("no payment method; set one with credits payment set"))
    if method.kind == "card" and method.card_expiry and card_expired(method.card_expiry, at):
        # TRANSLATORS: {month} is the card's expiry month (2026-05).
        return Phrase(N_("the card on file expired at the end of {month}"), month=method.card_expiry)
    return None


def check_purchase(tenant: Tenant, method: PaymentMethod | None, at: datetime) -> None:
    reason = refusal(tenant, method, at)
    if reason:
        # TRANSLATORS: {reason} is why a purchase cannot go through (the card expired, no payment method).
        raise PurchaseRefused(_("purchase refused: {reason}").format(reason=reason.said()), reason=reason)
