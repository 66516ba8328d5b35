"""Phone numbers: E.164 digits and the country a number belongs to.

Exports may mask the last digits (``+4420794601***``); such a number is priced
and placed by its visible digits. Country look-ups go through ``phonenumbers``
(slow per call), so they are cached, and a country code that belongs to one
country only is answered from a small table without parsing at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

from credits_cli.errors import InvalidInput
from credits_cli.i18n import _, ngettext

_SEPARATORS = re.compile(r"[\s\-.()/]")
_VALID = re.compile(r"^\+?[0-9]*\**$")


def normalise(number: str) -> str:
    """``+44 20-7946 01**`` -> ``4420794601**``: digits (and mask stars) without ``+``.

    A leading ``00`` (international prefix) is treated like ``+``. Returns ""
    for text that is not a phone number.
    """
    text = _SEPARATORS.sub("", number or "")
    if text.startswith("tel:"):
        text = text[4:]
    if not _VALID.match(text):
        return ""
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    return text


def check_number(number: str) -> str:
    """Normalise a number a person typed; refuse anything that is not one."""
    digits = normalise(number)
    if not visible_digits(digits):
        # TRANSLATORS: {number} is what was given, quoted; {example} a phone number in E.164 form (+442079460123).
        raise InvalidInput(_("{number} is not a phone number in E.164 form such as {example}").format(
            number=repr(number), example="+442079460123"))
    if len(digits) > 15:
        # TRANSLATORS: {number} is what was given, quoted; {n} the most digits of a phone number (15).
        raise InvalidInput(ngettext("{number} has more than {n} digit", "{number} has more than {n} digits", 15).format(
            number=repr(number), n=15))
    return digits


def written_international(number: str) -> bool:
    """Whether a person wrote ``number`` with its country code marked (``+44...``, ``0044...``)."""
    text = _SEPARATORS.sub("", number or "")
    return text.startswith(("+", "00", "tel:+"))


def national_hint(number: str, country: str) -> str | None:
    """When ``number`` was written without ``+`` and reads as a national number of ``country`` (Russia's
    ``89161234567``) rather than an international one, that number in the international format
    (``+79161234567``); otherwise None."""
    import phonenumbers

    if written_international(number):
        return None
    digits = normalise(number)
    if not digits or is_masked(digits):
        return None
    try:
        if phonenumbers.is_valid_number(phonenumbers.parse("+" + digits)):
            return None  # 442079460123: the digits of an E.164 number, without the +
    except phonenumbers.NumberParseException:
        pass
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def visible_digits(digits: str) -> str:
    """The digits before the first mask star."""
    star = digits.find("*")
    return digits if star < 0 else digits[:star]


def is_masked(digits: str) -> bool:
    return "*" in digits


@cache
def _country_codes() -> dict[str, tuple[str, ...]]:
    """Calling code (as text) -> the regions that use it (non-geographic codes left out)."""
    import phonenumbers

    table: dict[str, tuple[str, ...]] = {}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        geo = tuple(r for r in regions if r != "001")
        if geo:
            table[str(code)] = geo
    return table


def split_country_code(digits: str) -> tuple[str, tuple[str, ...]]:
    """The calling code at the start of ``digits`` and its regions, or ("", ())."""
    if len(digits) >= 3:  # calling codes are prefix-free: the first three digits decide
        return _by_first_three()[digits[:3]]
    return _split_slowly(digits)


def _split_slowly(digits: str) -> tuple[str, tuple[str, ...]]:
    codes = _country_codes()
    for length in (1, 2, 3):
        head = digits[:length]
        if len(head) == length and head in codes:
            return head, codes[head]
    return "", ()


@cache
def _by_first_three() -> dict[str, tuple[str, tuple[str, ...]]]:
    """``split_country_code`` of every three-digit start, worked out once."""
    return {f"{i:03d}": _split_slowly(f"{i:03d}") for i in range(1000)}


@cache
def country_key_lengths() -> dict[str, int]:
    """Three-digit start -> how many leading digits decide the country of a number that starts so
    (:func:`country_of` answers alike for two numbers that share them): the calling code for a code
    of one country, the area code too for +1, five national digits more for a shared code."""
    out: dict[str, int] = {}
    for start, (code, regions) in _by_first_three().items():
        if len(regions) <= 1:
            out[start] = 3
        elif code == "1":
            out[start] = 4
        else:
            out[start] = len(code) + _NATIONAL_DIGITS
    return out


def country_of(digits: str) -> str | None:
    """ISO alpha-2 country of E.164 ``digits`` (visible digits of a masked number), or None."""
    code, regions = split_country_code(digits)
    if not regions:
        return None
    if len(regions) == 1:
        return regions[0]
    if code == "1":
        return _nanp_country(digits[1:4]) if len(digits) >= 4 else "US"
    # Countries that share a calling code differ within the first few national digits
    # (+44 1481 Guernsey, +7 7 Kazakhstan, +39 06 698 Vatican): remember the answer by that prefix.
    key = digits[: len(code) + _NATIONAL_DIGITS]
    found = _by_prefix.get(key, _MISSING)
    if found is _MISSING:
        found = _shared_code_country(digits, code)
        if len(_by_prefix) < 200_000:
            _by_prefix[key] = found
    return found  # type: ignore[return-value]


_NATIONAL_DIGITS = 5
_MISSING = object()
_by_prefix: dict[str, object] = {}


def _shared_code_country(digits: str, code: str) -> str | None:
    """A calling code shared by several countries (+1, +44, +7, ...): ask phonenumbers.

    The number is tried as it is, then (when it is masked or cut short) padded
    out to a plausible length; the first valid reading wins, else the code's
    main country.
    """
    import phonenumbers

    main = phonenumbers.region_code_for_country_code(int(code))
    candidates = [digits]
    for target in (len(digits), 11, 12, 13):
        for fill in ("0", "2", "5"):
            if target > len(digits):
                candidates.append(digits + fill * (target - len(digits)))
    for candidate in candidates:
        region = _region_without_parsing(candidate, code)
        if region is _PARSE:
            try:
                region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + candidate))
            except phonenumbers.NumberParseException:
                continue
        if region and region != "001":
            return str(region)
    return main if main != "ZZ" else None


_PARSE = "parse"


def _region_without_parsing(digits: str, code: str) -> str | None:
    """``region_code_for_number(parse("+" + digits))`` without ``parse`` (three times the cost), for
    the numbers where parsing changes nothing: a national part of 2 to 17 digits that does not start
    with 0 (Italian leading zeros) or with what the country strips as a national prefix. For any
    other number :data:`_PARSE`: the caller parses it."""
    national = digits[len(code):]
    if not 2 <= len(national) <= 17 or national[0] == "0" or not national.isdigit():
        return _PARSE
    strip = _national_prefix(code)
    if strip is not None and strip.match(national):
        return _PARSE
    return _region_of(code, national)


#: The kinds of number phonenumbers tells a number's type by, in its order (``_number_type_helper``); the
#: mobile kind follows unless a region's mobile and fixed-line patterns are the same.
_KINDS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
          "fixed_line")

_Test = tuple[frozenset[int], Callable[[str], object]]  # possible lengths (none: any), the pattern's fullmatch
#: A region, its leading digits' match (None: told by its kinds), its general test, the tests of its kinds
_RegionTest = tuple[str, Callable[[str], object] | None, _Test, tuple[_Test, ...]]


def _region_of(code: str, national: str) -> str | None:
    """``phonenumbers.region_code_for_number`` of the number ``+<code><national>`` (``national``: digits, no
    leading 0), the same answer without its per-call work: a region whose metadata has leading digits is
    the number's when they match its start, any other when the number is of one of its kinds (its type is
    not UNKNOWN), the regions tried in phonenumbers' order. The patterns are compiled once per code."""
    size = len(national)
    for region, leading, general, kinds in _region_tests(code):
        if leading is not None:
            if leading(national):
                return region
            continue
        lengths, full = general
        if (lengths and size not in lengths) or not full(national):
            continue
        for lengths, full in kinds:
            if (not lengths or size in lengths) and full(national):
                return region
    return None


@lru_cache(maxsize=64)
def _region_tests(code: str) -> tuple[_RegionTest, ...]:
    """Per region of ``code`` (phonenumbers' order): its leading digits' match, or its general pattern and
    the patterns of its kinds (:data:`_KINDS`), as phonenumbers' ``_number_type_helper`` tries them."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    def test(desc: object) -> _Test | None:
        pattern = getattr(desc, "national_number_pattern", None)
        if not pattern:  # no pattern matches nothing (phonenumbers' _match_national_number)
            return None
        return frozenset(getattr(desc, "possible_length", ()) or ()), re.compile(pattern).fullmatch

    never: _Test = (frozenset(), lambda _national: None)
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(code), ())
    if len(regions) == 1:  # one region: phonenumbers names it without a look at the number
        return ((regions[0], re.compile("").match, never, ()),)
    out: list[_RegionTest] = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            out.append((region, re.compile(metadata.leading_digits).match, never, ()))
            continue
        names = _KINDS if metadata.same_mobile_and_fixed_line_pattern else (*_KINDS, "mobile")
        kinds = tuple(t for t in (test(getattr(metadata, name, None)) for name in names) if t is not None)
        out.append((region, None, test(metadata.general_desc) or never, kinds))
    return tuple(out)


@lru_cache(maxsize=64)
def _national_prefix(code: str) -> re.Pattern[str] | None:
    """What parsing strips from the start of a national number of the code's main country."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(int(code)))
    pattern = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(pattern) if pattern else None


@lru_cache(maxsize=1024)
def _nanp_country(area: str) -> str:
    """NANP (+1): the area code decides (US, CA, PR, the Caribbean); US when unknown."""
    import phonenumbers

    for tail in ("2000000", "5550100", "2345678", "9000000"):
        try:
            parsed = phonenumbers.parse(f"+1{area}{tail}")
        except phonenumbers.NumberParseException:
            continue
        region = phonenumbers.region_code_for_number(parsed)
        if region:
            return str(region)
    return "US"


@lru_cache(maxsize=4096)
def is_emergency(digits: str, region: str) -> bool:
    """Whether ``digits`` (a short number as dialed: 911, 112, 999...) is an emergency number in
    ``region`` (ISO alpha-2), by phonenumbers' short-number metadata."""
    import phonenumbers

    try:
        return bool(phonenumbers.is_emergency_number(digits, region))
    except Exception:  # noqa: BLE001 - an unknown region: not an emergency number we can name
        return False
