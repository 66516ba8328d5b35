"""Shared helpers of the readers: header names, the fast record maker, and the
field parsers (text, time, duration, number, money, codes) every format uses.

Everything here is tuned for the per-row path: positions are looked up once,
rows are plain lists indexed by position, and the common case of each parser
is one or two C-level calls. Every parser raises ``ValueError`` with a
sentence naming the field: the readers turn it into a :class:`RowError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from credits_cli import clock
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _
from credits_cli.readers.base import CallRecord

WEEK = 7 * 24 * 3600  # a call of a week or more is a broken row (README: "week-long durations are refused")
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 128  # an operator's name; the Teams export's text columns are nvarchar(128) at most
MIN_YEAR, MAX_YEAR = 2000, 2099
#: An amount of the export has at most this many digits (the Teams export's Charge is numeric(16, 2);
#: Graph JSON doubles can carry up to 17 significant digits).
MAX_AMOUNT_DIGITS = 24

_NUMBER_RE = re.compile(r"\+?[0-9*]{1,20}")
_NUMBER_NOISE = str.maketrans("", "", " \t-().\u00a0")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# C0 controls, DEL, lone surrogates and U+FFFD (what undecodable bytes became): never in a stored text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffd]")
_has_unsafe = _UNSAFE.search


def norm(name: str) -> str:
    """Header key: case, spaces and punctuation ignored (``Duration (seconds)`` -> ``durationseconds``)."""
    return _NON_ALNUM.sub("", name.strip().lstrip("\ufeff").lower())


# --- the record maker ------------------------------------------------------------------------------------------

RecordMaker = Callable[..., CallRecord]
FIELDS = ("source", "line", "external_id", "user_upn", "start", "duration_seconds", "call_type", "number",
          "direct_routing", "user_country", "conference_id", "charge", "connection_fee", "currency", "capability",
          "operator")


def _record_maker() -> RecordMaker:
    """``CallRecord(...)`` at half the cost, for the per-row path; all sixteen fields, positionally.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` per
    field; setting the slots through their descriptors makes the very same
    frozen, hashable object in half the time, which is a third of the reader's
    time per row. If the record's fields ever differ from :data:`FIELDS`, the
    plain constructor is used.
    """
    names = tuple(f.name for f in dataclasses.fields(CallRecord))
    if names != FIELDS or tuple(getattr(CallRecord, "__slots__", ())) != names:
        return CallRecord
    new = object.__new__
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15) = (
        vars(CallRecord)[name].__set__ for name in names
    )

    def make(source: str, line: int, external_id: str, user_upn: str, start: datetime, duration_seconds: int,
             call_type: str, number: str, direct_routing: bool, user_country: str | None,
             conference_id: str | None, charge: Decimal | None = None, connection_fee: Decimal | None = None,
             currency: str | None = None, capability: str | None = None, operator: str | None = None) -> CallRecord:
        record = new(CallRecord)
        s0(record, source)
        s1(record, line)
        s2(record, external_id)
        s3(record, user_upn)
        s4(record, start)
        s5(record, duration_seconds)
        s6(record, call_type)
        s7(record, number)
        s8(record, direct_routing)
        s9(record, user_country)
        s10(record, conference_id)
        s11(record, charge)
        s12(record, connection_fee)
        s13(record, currency)
        s14(record, capability)
        s15(record, operator)
        return record

    return make


make_record = _record_maker()


# --- text ------------------------------------------------------------------------------------------------------

def safe_text(value: str) -> str:
    """``value`` made storable: lone surrogates and control characters replaced by U+FFFD.

    For texts that are not a row's (a file or zip member name) and so cannot be refused per row.
    """
    if value.isascii() and value.isprintable():
        return value
    return _UNSAFE.sub("\ufffd", value)


def clean_text(value: str, what: str, *, required: bool = True, limit: int = MAX_ID_CHARS) -> str:
    """A short identifying text (id, UPN): stripped, bounded, storable (no NUL or other control
    character, no lone surrogate from a JSON escape, no byte that was not UTF-8)."""
    if value and len(value) <= limit and not value[0].isspace() and not value[-1].isspace() \
            and _has_unsafe(value) is None:
        return value
    value = value.strip()
    if not value:
        if required:
            # TRANSLATORS: {what} is a column of the file (UsageId, callType, Charge...), kept as it is.
            raise ValueError(_("{what} is empty").format(what=what))
        return value
    if len(value) > limit:
        raise ValueError(_("{what} is longer than {limit} characters").format(what=what, limit=limit))
    bad = _has_unsafe(value)
    if bad is not None:
        char = bad.group()
        if char == "\ufffd":
            raise ValueError(_("{what} holds bytes that are not UTF-8").format(what=what))
        if char == "\x00":
            raise ValueError(_("{what} holds a NUL byte").format(what=what))
        if "\ud800" <= char <= "\udfff":
            # TRANSLATORS: {code} is the character's escape, such as \udc80.
            raise ValueError(_("{what} holds a lone surrogate ({code}), not text").format(
                what=what, code=f"\\u{ord(char):04x}"))
        # TRANSLATORS: {code} is the character's escape, such as \x07.
        raise ValueError(_("{what} holds a control character ({code})").format(what=what, code=f"\\x{ord(char):02x}"))
    return value


def clean_upn(value: str, what: str = "UPN") -> str:
    """A user's sign-in name, lower-case; ``""`` for none.

    Bot calls (auto attendants, call queues) often carry the text ``No data``
    (any case) where the user would be: that is no user.
    """
    value = clean_text(value, what, required=False)
    if value.lower() == "no data":
        return ""
    return value.lower()


_fromisoformat = datetime.fromisoformat
_number_ok = _NUMBER_RE.fullmatch
# An id or UPN that needs no cleaning: no spaces, control characters, lone surrogates or U+FFFD; bounded.
plain_id = re.compile(r"[^\x00-\x20\x7f\ud800-\udfff\ufffd]{1," + str(MAX_ID_CHARS) + "}").fullmatch
plain_number = _number_ok


# --- time ------------------------------------------------------------------------------------------------------

def fast_start(text: str, what: str) -> datetime:
    """:func:`parse_start` for the exports' usual ``...Z`` form, else the full parser."""
    if text[-1:] == "Z":
        try:
            value = _fromisoformat(text[:-1])
        except ValueError:
            return parse_start(text, what)
        if value.tzinfo is None and MIN_YEAR <= value.year <= MAX_YEAR:
            return value
    return parse_start(text, what)


def parse_start(text: str, what: str = "start time") -> datetime:
    """ISO 8601 -> naive UTC. Fast path: ``datetime.fromisoformat`` (3.11 reads ``Z``
    and seven-digit fractions); anything else goes through :func:`clock.parse_timestamp`."""
    if len(text) > 19 and text[-1] == "Z":  # the exports' form: naive UTC without any conversion
        try:
            value = _fromisoformat(text[:-1])
        except ValueError:
            pass
        else:
            if MIN_YEAR <= value.year <= MAX_YEAR and value.tzinfo is None:
                return value
    try:
        value = _fromisoformat(text)
    except ValueError:
        if not text.strip():
            raise ValueError(_("{what} is empty").format(what=what)) from None
        try:
            value = clock.parse_timestamp(text[:64], what=what)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(_("{what} {value} is out of range ({first}-{last})").format(
                what=what, value=repr(text[:40]), first=MIN_YEAR, last=MAX_YEAR)) from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(_("{what} {value} is out of range ({first}-{last})").format(
            what=what, value=repr(text[:40]), first=MIN_YEAR, last=MAX_YEAR))
    return value


# --- duration --------------------------------------------------------------------------------------------------

def parse_duration(value: object, what: str = "duration") -> int:
    """Whole seconds, 0 to less than a week. ``219``, ``"219"`` and ``"219.0"`` are accepted."""
    if isinstance(value, str):
        if value.isdigit() and value.isascii() and len(value) < 10:
            seconds = int(value)
            if seconds < WEEK:
                return seconds
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            if text[:1] == "-" and text[1:].isascii() and text[1:].isdigit():
                raise ValueError(_("{what} {value} is negative").format(what=what, value=text[:40]))
            whole, dot, frac = text.partition(".")
            if not (dot and whole.isascii() and whole.isdigit() and frac.strip("0") == ""):
                raise ValueError(_("{what} {value} is not a whole number of seconds").format(
                    what=what, value=repr(text[:40] or "empty")))
            text = whole
        if len(text) > 18:  # int() of thousands of digits is slow, and far beyond a week anyway
            raise ValueError(_("{what} {value} s is a week or longer").format(
                what=what, value=text if len(text) <= 24 else text[:24] + "..."))
        seconds = int(text)
    elif isinstance(value, bool) or value is None:
        raise ValueError(_("{what} {value} is not a whole number of seconds").format(what=what, value=repr(value)))
    elif isinstance(value, int):
        seconds = value
    elif isinstance(value, Decimal):  # a JSON number: 219.0, or an integer too long for an int
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(_("{what} {value} is not a whole number of seconds").format(
                what=what, value=repr(str(value)[:40])))
        if value < 0:
            raise ValueError(_("{what} {value} is negative").format(what=what, value=str(value)[:20]))
        if value >= WEEK:
            raise ValueError(_("{what} {value} s is a week or longer").format(what=what, value=str(value)[:20]))
        seconds = int(value)
    elif isinstance(value, float) and value.is_integer():
        seconds = int(value)
    else:
        raise ValueError(_("{what} {value} is not a whole number of seconds").format(
            what=what, value=repr(str(value)[:40])))
    if seconds < 0:
        raise ValueError(_("{what} {value} is negative").format(what=what, value=seconds))
    if seconds >= WEEK:
        raise ValueError(_("{what} {value} s is a week or longer").format(what=what, value=str(seconds)[:20]))
    return seconds


# --- numbers ---------------------------------------------------------------------------------------------------

def parse_number(text: str | None, *, required: bool) -> str:
    """A phone number as given, spaces and punctuation removed, ``*`` kept (masked digits)."""
    if not text:
        if required:
            raise ValueError(_("no number"))
        return ""
    if _number_ok(text) is not None:
        return text
    number = text.translate(_NUMBER_NOISE)
    if number[:4].lower() == "tel:":
        number = number[4:]
    if not number and not required:
        return ""
    if _NUMBER_RE.fullmatch(number) is None:
        raise ValueError(_("number {value} is not a phone number").format(value=repr(text[:40])))
    return number


# --- money and codes -------------------------------------------------------------------------------------------

_amounts: dict[str, Decimal | None] = {"": None}


def parse_amount(value: object, what: str) -> Decimal | None:
    """An amount Microsoft charged, exact: ``"0.06"`` -> ``Decimal("0.06")``; empty -> None.

    Text is parsed as a decimal, never through a float; a JSON number arrives
    here already a ``Decimal`` (the JSON reader parses numbers so). A decimal
    comma (``0,06``, from a spreadsheet saved in some locales) is read too.
    NaN, infinities and absurd sizes are refused.
    """
    if isinstance(value, str):
        try:
            return _amounts[value]
        except KeyError:
            pass
        text = value.strip()
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")
        if not text:
            amount = None
        elif len(text) > MAX_AMOUNT_DIGITS + 2 or not text.isascii() or text.lstrip("+-")[:1] not in "0123456789.":
            # TRANSLATORS: {what} is a column of the file (Charge, charge), kept as it is; {value} the text found.
            raise ValueError(_("{what} {value} is not an amount").format(what=what, value=repr(value[:40])))
        else:
            try:
                amount = Decimal(text)
            except InvalidOperation:
                raise ValueError(_("{what} {value} is not an amount").format(
                    what=what, value=repr(value[:40]))) from None
            _check_amount(amount, what, value)
        if len(_amounts) < 4096:
            _amounts[value] = amount
        return amount
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(_("{what} {value} is not an amount").format(what=what, value=repr(value)))
    if isinstance(value, int):
        value = Decimal(value) if -(10**MAX_AMOUNT_DIGITS) < value < 10**MAX_AMOUNT_DIGITS else Decimal("NaN")
    if isinstance(value, Decimal):
        _check_amount(value, what, str(value))
        return value
    raise ValueError(_("{what} {value} is not an amount").format(what=what, value=repr(str(value)[:40])))


def _check_amount(amount: Decimal, what: str, shown: str) -> None:
    if not amount.is_finite():
        raise ValueError(_("{what} {value} is not an amount").format(what=what, value=repr(shown[:40])))
    sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    if len(digits) > MAX_AMOUNT_DIGITS or not -MAX_AMOUNT_DIGITS <= exponent <= MAX_AMOUNT_DIGITS \
            or len(digits) + exponent > 16:
        raise ValueError(_("{what} {value} is not an amount (too large or too precise)").format(
            what=what, value=repr(shown[:40])))


_currencies: dict[str, str | None] = {"": None}


def currency(value: object, what: str = "Currency") -> str | None:
    """An ISO 4217 code, upper-case as given (``USD``); None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return _currencies[value]
        except KeyError:
            pass
        code = value.strip().upper()
        if not code:
            result = None
        elif len(code) == 3 and code.isascii() and code.isalpha():
            result = code
        else:
            raise ValueError(_("{what} {value} is not an ISO 4217 currency code").format(
                what=what, value=repr(value[:40])))
        if len(_currencies) < 1000:
            _currencies[value] = result
        return result
    raise ValueError(_("{what} {value} is not an ISO 4217 currency code").format(
        what=what, value=repr(str(value)[:40])))


_capabilities: dict[str, str | None] = {"": None}


def capability(value: object, what: str = "Capability") -> str | None:
    """The license that paid the call (``MCOPSTNPP``, ``FREECALL``...), upper-case; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return _capabilities[value]
        except KeyError:
            pass
        code = value.strip().upper()
        if not code:
            result = None
        elif len(code) <= 32 and code.isascii() and code.replace("_", "").isalnum():
            result = code
        else:
            raise ValueError(_("{what} {value} is not a license name").format(what=what, value=repr(value[:40])))
        if len(_capabilities) < 1000:
            _capabilities[value] = result
        return result
    raise ValueError(_("{what} {value} is not a license name").format(what=what, value=repr(str(value)[:40])))


def operator(value: object, what: str = "operator") -> str | None:
    """The PSTN operator's name as given (``Microsoft``, a carrier's name); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(_("{what} {value} is not a name").format(what=what, value=repr(str(value)[:40])))
    return clean_text(value, what, required=False, limit=MAX_NAME_CHARS) or None


# --- call types and countries ----------------------------------------------------------------------------------

def is_inbound(call_type: str) -> bool:
    """The other party called: ``user_in``, ``conf_in``, ``ucap_in``, ``unassigned_in``, ``dr_in``,
    ``dr_in_ucap``, ``dr_in_bot``, Operator Connect ``oc_user_in``, ``oc_fmc_in``, ``oc_ucap_in``, and
    Graph Direct Routing ``ByotIn...`` (lower-cased)."""
    return call_type.endswith("_in") or "_in_" in call_type or call_type.startswith("byotin")


def is_direct_routing(call_type: str) -> bool:
    """Direct Routing: ``dr_*`` (admin center export) or ``byot*`` (Graph). Operator Connect (``oc_*``) is not."""
    return call_type.startswith(("dr_", "byot"))


_countries: dict[str, str | None] = {}


def country(text: str | None) -> str | None:
    """An ISO alpha-2 code, upper-case; None when absent or not a code."""
    if not text:
        return None
    try:
        return _countries[text]
    except KeyError:
        pass
    value: str | None = text.strip().upper()
    if not (value and len(value) == 2 and value.isascii() and value.isalpha()):
        value = None
    if len(_countries) < 1000:
        _countries[text] = value
    return value


_call_types: dict[str, tuple[str, bool, bool]] = {}


def call_type(text: str, what: str = "call type") -> tuple[str, bool, bool]:
    """(lower-case call type, inbound?, Direct Routing?) for an exported call type.

    The type is kept as exported (lower-cased): which types are billed, and how,
    is the rating rules' business, not the reader's.
    """
    try:
        return _call_types[text]
    except KeyError:
        pass
    value = text.strip().lower()
    if not value:
        raise ValueError(_("{what} is empty").format(what=what))
    if len(value) > 64 or not value.isascii() or not value.replace("_", "").isalnum():
        raise ValueError(_("{what} {value} is not a call type").format(what=what, value=repr(text[:40])))
    result = (value, is_inbound(value), is_direct_routing(value))
    if len(_call_types) < 1000:
        _call_types[text] = result
    return result
