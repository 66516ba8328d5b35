"""The language people read: gettext catalogs, the chosen locale, Babel formats.

Every message a person reads goes through :func:`_` (or :func:`ngettext` when
it counts something, :func:`pgettext` when one English word has two
meanings). A message that is defined before a language is known (a table's
column names, help text) is marked with :func:`N_` and translated where it is
shown. Messages are ``str.format`` templates with named fields, so that a
translation may put the fields in its own order::

    raise NotFound(_("no tenant {slug}").format(slug=slug))

The catalogs are in ``locale/<lang>/LC_MESSAGES/credits.po`` with the compiled
``.mo`` beside them (shipped in the package); ``python -m credits_cli.catalogs``
extracts, updates, compiles and checks them.

The language is chosen once per process by the command line (:func:`choose`:
``--lang``, ``CREDITS_LANG``, then the POSIX locale variables) and set with
:func:`use`. What is written for a tenant's people (its admins' e-mails, its
workbook) is produced inside ``with speaking(tenant.lang):``. English is the
source language and costs nothing: no catalog is read and Babel is not
imported. Machine output (JSON, CSV for scripts, exit codes, the database)
never goes through this module.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

#: The languages with a catalog, and how each calls itself.
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский", "kk": "Қазақ тілі", "zh_CN": "简体中文"}
#: The source language: messages are written in it, and it is the fallback.
SOURCE = "en"
DOMAIN = "credits"
LOCALE_DIR = Path(__file__).with_name("locale")
#: The environment variables that may choose the language, strongest first (POSIX: the first one
#: set decides, even when it names a language we do not have).
LANGUAGE_VARIABLES = ("CREDITS_LANG", "LC_ALL", "LC_MESSAGES", "LANG")


@dataclass(frozen=True)
class Language:
    code: str  # a key of LANGUAGES
    catalog: _gettext.NullTranslations

    @property
    def english(self) -> bool:
        return self.code == SOURCE


def normalize(tag: str | None) -> str | None:
    """The language of ours a tag names, or None: ``ru_RU.UTF-8`` and ``ru-RU`` are ``ru``,
    ``zh``, ``zh-CN``, ``zh_Hans_CN`` and ``zh_SG`` are ``zh_CN``, ``C`` and ``POSIX`` are ``en``."""
    if not tag:
        return None
    text = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if text in ("C", "POSIX"):
        return SOURCE
    parts = [p.lower() for p in text.split("_") if p]
    if not parts:
        return None
    lang = parts[0]
    if lang == "zh":
        rest = set(parts[1:])
        if rest & {"hant", "tw", "hk", "mo"}:
            return None  # Traditional Chinese: not ours
        return "zh_CN"
    return lang if lang in LANGUAGES else None


def choose(option: str | None, env: Mapping[str, str]) -> str:
    """The language a command speaks: ``--lang``, else the first set of :data:`LANGUAGE_VARIABLES`.
    A language we have no catalog for is English, with no error."""
    if option and option.strip():
        return normalize(option) or SOURCE
    for name in LANGUAGE_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return normalize(value) or SOURCE
    return SOURCE


def check(code: str) -> str:
    """The language ``code`` names, for a value that is kept (a tenant's): unlike ``--lang``, a
    language we do not have is refused, so that its people are not written to in English unseen."""
    found = normalize(code)
    if found is None:
        from credits_cli.errors import InvalidInput

        raise InvalidInput(_("unknown language {code}; known: {known}").format(
            code=repr(code)[:20], known=", ".join(LANGUAGES)))
    return found


@cache
def language(code: str) -> Language:
    """The language ``code`` (one of :data:`LANGUAGES`, else English), its catalog read once."""
    code = normalize(code) or SOURCE
    if code == SOURCE:
        return Language(SOURCE, _gettext.NullTranslations())
    try:
        with (LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as handle:
            catalog: _gettext.NullTranslations = _gettext.GNUTranslations(handle)
    except OSError:
        catalog = _gettext.NullTranslations()  # a build without catalogs still speaks English
    return Language(code, catalog)


_current: ContextVar[Language] = ContextVar("credits_language", default=language(SOURCE))  # noqa: B039 (read-only)


def current() -> Language:
    return _current.get()


def use(code: str | None) -> None:
    """Speak ``code`` from now on in this process (or context)."""
    _current.set(language(code or SOURCE))


@contextmanager
def speaking(code: str | None) -> Iterator[Language]:
    """Speak ``code`` inside the block (what is written for one tenant's people); None keeps the
    current language."""
    chosen = language(code) if code else current()
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language."""
    return _current.get().catalog.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a counted message for ``n`` in the current language (Russian has three, Kazakh
    two, Chinese one); the template still needs ``.format(n=...)``."""
    return _current.get().catalog.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, where ``context`` tells two English uses apart."""
    return _current.get().catalog.pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    """:func:`ngettext` where ``context`` tells the counted noun from the same word used alone (a column
    title "tenant" is not the noun after "12")."""
    return _current.get().catalog.npgettext(context, singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for the catalog without translating it (yet): for text defined at import."""
    return message


# -- formats for people ---------------------------------------------------------------------------


def _locale() -> str:
    return _current.get().code


def number(value: int | Decimal) -> str:
    """A count or quantity for people: ``1,234`` in English, ``1 234`` in Russian."""
    if _current.get().english:
        return f"{value:,}"
    from babel.numbers import format_decimal

    return format_decimal(value, locale=_locale(), decimal_quantization=False)


def decimal(value: Decimal) -> str:
    """An amount without its currency, for people: ``100000000`` in English (as it is typed: see
    :func:`amount`), ``100 000 000`` in Russian."""
    if _current.get().english:
        return f"{value:f}"
    return number(value)


def percent(value: Decimal | int, places: int = 0) -> str:
    """``value`` (0.125 is 12.5 %) for people, with ``places`` decimals."""
    value = Decimal(value).quantize(Decimal(1).scaleb(-(places + 2)))
    if _current.get().english:
        return f"{value * 100:.{places}f}%"
    from babel.numbers import format_percent

    return format_percent(value, locale=_locale(), decimal_quantization=False)


def day(value: date) -> str:
    """A date for people: ``2026-11-28`` in English, ``28 нояб. 2026 г.`` in Russian."""
    if _current.get().english:
        return value.isoformat()
    from babel.dates import format_date

    return format_date(value, "medium", locale=_locale())


def moment(value: datetime) -> str:
    """A time for people, in UTC as every time the tool shows."""
    if _current.get().english:
        return value.strftime("%Y-%m-%d %H:%M UTC")
    from babel.dates import format_datetime

    return format_datetime(value, "medium", locale=_locale()) + " UTC"


def amount(value: Decimal, currency: str) -> str:
    """An amount of ``currency`` for people, with the decimals ``value`` has: ``5000.00 USD`` in
    English (the code after the amount: unambiguous for every currency), ``5 000,00 ₽`` in Russian,
    ``¥5,000.00`` in Chinese. :func:`credits_cli.currencies.display` decides the decimals.

    English has no thousands separators: an amount is printed the way
    :func:`credits_cli.money.parse_amount` accepts it, so what a message says (a minimum purchase, a
    recommended trigger) can be copied into the next command. Input takes no grouping in any language
    (``1,500`` is one and a half in much of Europe; an amount of money is never guessed), so the
    other languages' grouped amounts are for reading, as the issue of the locale asks."""
    if _current.get().english:
        return f"{value:f} {currency}"
    from babel.numbers import format_currency

    return format_currency(value, currency, locale=_locale(), decimal_quantization=False)


def money_pattern(currency: str) -> tuple[str, str, bool]:
    """How the current locale writes ``currency`` beside an amount, for a spreadsheet's number
    format: ``(symbol, gap, before)``: ``("₽", "\u00a0", False)`` in Russian, ``("¥", "", True)``
    for CNY in Chinese, ``("USD", " ", False)`` in English."""
    if _current.get().english:
        return currency, " ", False
    return _pattern(_locale(), currency)


@cache
def _pattern(locale: str, currency: str) -> tuple[str, str, bool]:
    from babel import Locale
    from babel.numbers import get_currency_symbol

    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    symbol = get_currency_symbol(currency, locale=locale)
    mark, first, last = pattern.index("¤"), pattern.index("#") if "#" in pattern else pattern.index("0"), \
        pattern.rindex("0")
    if mark < first:
        return symbol, pattern[mark + 1 : first], True
    return symbol, pattern[last + 1 : mark], False
