"""A phrase: its English text as data (JSON, CSV), said in the current language when people read it."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import date
from decimal import Decimal

from credits_cli import i18n
from credits_cli.i18n import N_, ngettext
from credits_cli.phrases import Phrase, money, quantity, said


def test_the_value_is_the_english_text_whatever_the_language() -> None:
    with i18n.speaking("ru"):
        p = Phrase(N_("{n} calls on {day} for {amount}"), n=1234, day=date(2026, 11, 3),
                   amount=money(Decimal("5000"), "RUB"))
        assert p == "1234 calls on 2026-11-03 for 5000.00 RUB"
        assert json.dumps({"why": p}) == '{"why": "1234 calls on 2026-11-03 for 5000.00 RUB"}'
        assert p.said() == "1\u00a0234 calls on 3 нояб. 2026\u202fг. for 5\u00a0000,00\u00a0₽"
    assert p.said() == str(p) and type(p.said()) is str


def test_counted_phrases_and_nested_ones() -> None:
    n = 3
    inner = Phrase(lambda: ngettext("{n} day(s)", "{n} day(s)", n), n=n)
    outer = Phrase(N_("over {span}"), span=inner)
    assert outer == "over 3 day(s)"
    with i18n.speaking("zh_CN"):
        assert said(outer) == "over 3 day(s)"  # no catalog yet: the English words, the locale's numbers
        assert said("plain text") == "plain text"


def test_a_copy_keeps_what_it_needs_to_be_said() -> None:
    @dataclasses.dataclass
    class Holder:
        reason: str

    p = Phrase(N_("{x} a minute"), x=Decimal("0.0300"))
    doc = dataclasses.asdict(Holder(p))
    assert doc["reason"] == "0.0300 a minute" and isinstance(doc["reason"], Phrase)
    with i18n.speaking("ru"):
        assert copy.deepcopy(p).said() == "0,03 a minute"


def test_quantity_keeps_the_english_text() -> None:
    assert quantity(1234) == "1234" and quantity(Decimal("12.5")) == "12.5"
    with i18n.speaking("ru"):
        assert quantity(1234) == "1\u00a0234" and quantity(Decimal("12.5")) == "12,5"
