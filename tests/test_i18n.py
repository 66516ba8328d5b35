"""Choosing the language, the locale's formats and the ISO 4217 table (in-process, no catalogs needed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from credits_cli import currencies, i18n, money
from credits_cli.errors import InvalidInput


@pytest.mark.parametrize(
    ("tag", "lang"),
    [("ru", "ru"), ("ru_RU.UTF-8", "ru"), ("ru-RU", "ru"), ("kk_KZ.UTF-8", "kk"), ("kk", "kk"),
     ("zh_CN.UTF-8", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans-CN", "zh_CN"), ("zh_SG", "zh_CN"), ("ZH_cn", "zh_CN"),
     ("zh_TW.UTF-8", None), ("zh_Hant_HK", None), ("en_US.UTF-8", "en"), ("C", "en"), ("POSIX", "en"),
     ("C.UTF-8", "en"), ("de_DE.UTF-8", None), ("", None), ("sr_RS@latin", None), ("ru_RU@euro", "ru")],
)
def test_a_locale_tag_names_one_of_our_languages_or_none(tag: str, lang: str | None) -> None:
    assert i18n.normalize(tag) == lang


def test_the_language_is_lang_then_credits_lang_then_the_posix_variables() -> None:
    env = {"CREDITS_LANG": "kk", "LC_ALL": "zh_CN.UTF-8", "LC_MESSAGES": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}
    assert i18n.choose("ru", env) == "ru"
    assert i18n.choose(None, env) == "kk"
    assert i18n.choose(None, env | {"CREDITS_LANG": ""}) == "zh_CN"
    assert i18n.choose(None, {"LC_MESSAGES": "kk_KZ", "LANG": "ru_RU"}) == "kk"
    assert i18n.choose(None, {"LANG": "ru_RU.UTF-8"}) == "ru"
    assert i18n.choose(None, {}) == "en"
    # POSIX: the first variable that is set decides, even when it names a language we do not have
    assert i18n.choose(None, {"LC_ALL": "de_DE.UTF-8", "LANG": "ru_RU.UTF-8"}) == "en"
    # an unknown --lang is English, with no error
    assert i18n.choose("klingon", {"LANG": "ru_RU.UTF-8"}) == "en"


def test_a_kept_language_must_be_one_we_have() -> None:
    assert i18n.check("ru_RU") == "ru"
    with pytest.raises(InvalidInput, match="unknown language 'de'; known: en, ru, kk, zh_CN"):
        i18n.check("de")


def test_speaking_is_for_the_block_only() -> None:
    assert i18n.current().code == "en"
    with i18n.speaking("ru") as lang:
        assert lang.code == "ru" and i18n.current().code == "ru"
        with i18n.speaking(None):
            assert i18n.current().code == "ru"
    assert i18n.current().code == "en"


AMOUNTS = {
    # language: (5000 RUB, 1234567.50 KZT, 1234567.50 CNY, a 4-place charge in USD, 1234 JPY)
    "en": ("5000.00 RUB", "1234567.50 KZT", "1234567.50 CNY", "0.0125 USD", "1234 JPY"),  # as typed: no grouping
    "ru": ("5\xa0000,00\xa0₽", "1\xa0234\xa0567,50\xa0KZT", "1\xa0234\xa0567,50\xa0CN¥", "0,0125\xa0$",
           "1\xa0234\xa0¥"),
    "kk": ("5\xa0000,00\xa0₽", "1\xa0234\xa0567,50\xa0₸", "1\xa0234\xa0567,50\xa0CN¥", "0,0125\xa0$",
           "1\xa0234\xa0JP¥"),
    "zh_CN": ("RUB5,000.00", "KZT1,234,567.50", "¥1,234,567.50", "US$0.0125", "JP¥1,234"),
}


@pytest.mark.parametrize("lang", sorted(AMOUNTS))
def test_money_is_written_the_locales_way(lang: str) -> None:
    with i18n.speaking(lang):
        shown = (currencies.display(Decimal("5000"), "RUB"), currencies.display(Decimal("1234567.5"), "KZT"),
                 currencies.display(Decimal("1234567.50"), "CNY"), currencies.display(Decimal("0.0125"), "USD"),
                 currencies.display(Decimal("1234"), "JPY"))
    assert shown == AMOUNTS[lang]


def test_numbers_percentages_and_dates_follow_the_locale() -> None:
    day = date(2026, 11, 28)
    with i18n.speaking("en"):
        assert (i18n.number(1234567), i18n.percent(Decimal("0.125"), 1), i18n.day(day)) == \
            ("1,234,567", "12.5%", "2026-11-28")
    with i18n.speaking("ru"):
        assert (i18n.number(1234567), i18n.percent(Decimal("0.125"), 1), i18n.day(day)) == \
            ("1\xa0234\xa0567", "12,5\xa0%", "28 нояб. 2026\u202fг.")
    with i18n.speaking("zh_CN"):
        assert (i18n.number(1234567), i18n.percent(Decimal("0.5")), i18n.day(day)) == \
            ("1,234,567", "50%", "2026年11月28日")
    with i18n.speaking("kk"):
        assert i18n.day(day).startswith("2026")


def test_a_spreadsheet_gets_the_currency_where_the_locale_puts_it() -> None:
    with i18n.speaking("ru"):
        assert i18n.money_pattern("RUB") == ("₽", "\xa0", False)
    with i18n.speaking("kk"):
        assert i18n.money_pattern("KZT") == ("₸", "\xa0", False)
    with i18n.speaking("zh_CN"):
        assert i18n.money_pattern("CNY") == ("¥", "", True)
    assert i18n.money_pattern("USD") == ("USD", " ", False)


def test_every_iso_4217_currency_is_known_with_its_minor_digits() -> None:
    table = currencies.digits_table()
    assert len(table) > 150
    assert (table["KZT"], table["CNY"], table["RUB"], table["JPY"], table["BHD"], table["CLF"]) == (2, 2, 2, 0, 3, 4)
    assert all(0 <= d <= money.SCALE for d in table.values())
    for code in ("XAU", "XDR", "XTS", "XXX", "ABC"):
        assert code not in table
        with pytest.raises(InvalidInput, match="ISO 4217"):
            currencies.check(code)
    assert currencies.check(" kzt ") == "KZT"


def test_tenge_amounts_are_parsed_with_two_decimals() -> None:
    assert money.parse_amount("25000.50", "KZT") == Decimal("25000.50")
    with pytest.raises(InvalidInput, match="more decimals than KZT allows"):
        money.parse_amount("1.005", "KZT")
    with pytest.raises(InvalidInput, match="more decimals than JPY allows"):
        money.parse_amount("1.5", "JPY")
