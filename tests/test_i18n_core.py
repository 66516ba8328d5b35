"""The core's messages through a catalog: a what= word is translated where the message is built, an
option name never is, the one input form (a dot, ISO 8601) survives the translation, and the values of a
JSON document stay English."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from credits_cli import clock, i18n, ledger, money, payments
from credits_cli.errors import InvalidInput, PurchaseRefused
from credits_cli.i18n import N_

#: A made-up Russian catalog of a few of the core's messages (the real one is the translators').
RU: dict[str | tuple[str, str], str] = {
    "threshold": "порог",
    "{what} {value} is not a plain decimal number such as {whole} or {decimal} "
    "(no signs, exponents, separators or currency symbols)":
        "{what}: {value} — не десятичное число с точкой, например {whole} или {decimal}",
    "{what} {value} is too large (at most {limit} {currency})": "{what}: {value} — слишком много (не больше {limit} "
                                                                "{currency})",
    "{what} {value} is not a date like {example}": "{what}: {value} — не дата вида {example}",
    "purchase refused: {reason}": "покупка отклонена: {reason}",
    "no payment method; set one with credits payment set": "нет способа оплаты; задайте его: credits payment set",
    "card ending {last4}, expires {month}": "карта …{last4}, действует до {month}",
    "the card on file expired at the end of {month}": "срок действия карты истёк в конце {month}",
    ("payment method", "none"): "нет",
}


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The made-up Russian, where ``i18n.language("ru")`` (and ``--lang ru``) finds it."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale="ru", domain=i18n.DOMAIN)
    for key, text in RU.items():
        if isinstance(key, tuple):
            catalog.add(key[1], text, context=key[0])
        else:
            catalog.add(key, text)
    folder = tmp_path / "locale" / "ru" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / f"{i18n.DOMAIN}.mo").open("wb") as handle:
        write_mo(handle, catalog)
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path / "locale")
    i18n.language.cache_clear()
    yield
    i18n.language.cache_clear()


@pytest.fixture
def russian(catalog: None) -> Iterator[None]:
    """Speak the made-up Russian."""
    i18n.use("ru")
    yield
    i18n.use(None)


def _refused(call: Callable[[], object]) -> str:
    with pytest.raises(InvalidInput) as info:
        call()
    return str(info.value)


def test_a_word_is_translated_and_the_dot_kept(russian: None) -> None:
    said = _refused(lambda: money.parse_amount("1,5", "USD", what=N_("threshold")))
    assert said == "порог: '1,5' — не десятичное число с точкой, например 100 или 100.50"


def test_an_option_name_is_never_translated(russian: None) -> None:
    said = _refused(lambda: money.parse_amount("1,5", "USD", what="--tolerance", zero=True))
    assert said.startswith("--tolerance: '1,5' — не десятичное число")


def test_numbers_in_a_message_follow_the_language(russian: None) -> None:
    said = _refused(lambda: money.parse_amount("100000001", "USD", what=N_("threshold")))
    assert said == f"порог: 100000001 — слишком много (не больше {i18n.number(money.MAX_INPUT)} USD)"
    assert "100,000,000" not in said and i18n.number(money.MAX_INPUT).replace("\u00a0", " ") == "100 000 000"


def test_a_date_keeps_its_iso_example(russian: None) -> None:
    said = _refused(lambda: clock.parse_day("01.11.2026", what="--from"))
    assert said == "--from: '01.11.2026' — не дата вида 2026-11-01"


def test_english_is_as_it_was() -> None:
    said = _refused(lambda: money.parse_amount("1,5", "USD", what=N_("threshold")))
    assert said == ("threshold '1,5' is not a plain decimal number such as 100 or 100.50 "
                    "(no signs, exponents, separators or currency symbols)")
    said = _refused(lambda: money.parse_amount("100000001", "USD"))
    assert said == "amount 100000001 is too large (at most 100000000 USD)"


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_refused_purchase_keeps_its_reason_apart(lang: str, request: pytest.FixtureRequest) -> None:
    if lang == "ru":
        request.getfixturevalue("russian")
    tenant = SimpleNamespace(country="US", billing_country="US")
    with pytest.raises(PurchaseRefused) as info:
        payments.check_purchase(tenant, None, clock.now())  # type: ignore[arg-type]
    reason = payments.refusal(tenant, None, clock.now())  # type: ignore[arg-type]
    assert info.value.reason == reason
    if lang == "en":
        assert str(info.value) == "purchase refused: no payment method; set one with credits payment set"
    else:
        assert str(info.value) == "покупка отклонена: нет способа оплаты; задайте его: credits payment set"


def test_the_balance_document_keeps_the_payment_method_in_english(cli, tenant, russian: None) -> None:
    method = SimpleNamespace(kind="card", card_expiry="2099-12", last4="4242")
    assert payments.describe(method) == "карта …4242, действует до 2099-12"  # for people
    assert payments.describe(None) == "нет"
    result = cli("--lang", "ru", "balance", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["payment"] == "card ending 4242, expires 2099-12"  # for scripts


def test_a_failed_recharge_is_told_in_the_tenants_language(catalog: None, tmp_path: Path) -> None:
    """The command speaks English; the tenant's admins read Russian: each hears the reason in their own."""
    from sqlmodel import Session, select

    from credits_cli.models import Notification, Tenant
    from tests.test_ledger import T0, Env

    env = Env(tmp_path / "ledger.db")
    try:
        env.topup("100", T0)
        env.auto("20", "50")
        env.set_card("2025-12")  # expired before T0

        def russian_people(s: Session, t: Tenant) -> None:
            t.lang = "ru"
            s.add(t)

        env.write(russian_people)
        at = T0 + timedelta(minutes=5)

        def charge(acc: ledger.Account) -> list[ledger.RechargeOutcome]:
            acc.prepare(at)
            acc.charge(Decimal("85"), at)
            return acc.recharges

        (outcome,) = env.account(charge)
        assert not outcome.succeeded and outcome.reason == "the card on file expired at the end of 2025-12"
        with env.database.read() as s:
            (note,) = s.exec(select(Notification)).all()
        assert "срок действия карты истёк в конце 2025-12" in note.body
    finally:
        env.close()
