"""Text for people that is also kept as data: a :class:`Phrase`.

Some sentences are read by people and also written where scripts read them:
why a report covers its period (the terminal, the workbook, and
``period_reason`` in ``--json``), why a call's charge differs from Microsoft's
(the workbook, the terminal, and ``why`` in ``--json`` and the CSV files), the
reasoning of ``recommend``. Machine output never changes with the language
(JSON and CSV values stay what scripts know), while what people read is in
their language, and what a tenant's people read is in the tenant's, possibly
long after the sentence was made (a workbook written inside
``i18n.speaking(tenant.lang)``).

A :class:`Phrase` is a ``str`` whose value is the English text, the same
whatever the language: JSON, CSV, comparisons and ``split`` see exactly the
text they always saw. It keeps its template (marked with ``N_``, or a function
that returns the template, for a counted message: ``lambda: ngettext(...)``)
and its fields; :meth:`Phrase.said` (or :func:`said`, for a text that may be
plain) formats it in the language current when it is called. Each field is
shown for that language (:func:`shown`): a count or a quantity with the
locale's separators, a date the locale's way, a :func:`money` amount through
:func:`credits_cli.currencies.display`, a nested phrase said in turn. In
English every field reads as the English text always had it, so the English
value of a phrase is byte for byte the text written before there were
languages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from credits_cli import i18n

Template = str | Callable[[], str]


def quantity(value: int | Decimal) -> str:
    """A count or a quantity in running text: as the English text always wrote it (``1234``, ``12.5``,
    no thousands separator), the locale's way in another language (``1 234``, ``12,5``)."""
    if i18n.current().english:
        return f"{value:f}" if isinstance(value, Decimal) else str(value)
    return i18n.number(value)


def money(value: Decimal, currency: str) -> Callable[[], str]:
    """An amount as a field of a phrase: shown by :func:`credits_cli.currencies.display` in the language
    current when the phrase is said (``5,000.00 USD``, ``5 000,00 $``)."""
    from credits_cli import currencies

    return partial(currencies.display, value, currency)


def shown(value: Any) -> str:
    """One field of a phrase, for the current language (see the module docstring)."""
    if isinstance(value, Phrase):
        return value.said()
    if callable(value):
        return str(value())
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | Decimal):
        return quantity(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return i18n.day(value)
    return str(value)


class Phrase(str):
    """A message for people kept as its English text (the ``str`` value); :meth:`said` in the current
    language. Made with ``Phrase(N_("the month {month} (--month)"), month=...)``, or with a function
    that returns the template (``Phrase(lambda: ngettext("{n} call", "{n} calls", n), n=n)``)."""

    template: Template
    fields: Mapping[str, Any]

    def __new__(cls, template: Template, /, **fields: Any) -> Phrase:
        with i18n.speaking(i18n.SOURCE):
            english = _render(template, fields)
        phrase = super().__new__(cls, english)
        phrase.template = template
        phrase.fields = fields
        return phrase

    def said(self) -> str:
        """The phrase in the current language (its English value in English)."""
        if i18n.current().english:
            return str.__str__(self)
        return _render(self.template, self.fields)

    def __reduce__(self) -> tuple[Any, ...]:  # copy.deepcopy (dataclasses.asdict) keeps the template
        return (_rebuild, (self.template, dict(self.fields)))


def _render(template: Template, fields: Mapping[str, Any]) -> str:
    text = template() if callable(template) else i18n._(template)
    return text.format(**{name: shown(value) for name, value in fields.items()})


def _rebuild(template: Template, fields: dict[str, Any]) -> Phrase:
    return Phrase(template, **fields)


def said(text: str) -> str:
    """``text`` in the current language when it is a :class:`Phrase`; any other text as it is."""
    return text.said() if isinstance(text, Phrase) else text
