"""Text from the data, made safe for a spreadsheet: the one formula guard of both writers.

SPEC §7: a cell never becomes a formula because of what a call record
contained. A user name, a destination or a rejection reason is data from
outside; a spreadsheet reads text that starts with ``= + - @`` (or hides one
behind a leading tab or carriage return) as a formula, and ``#N/A`` as an
error value, when the text is opened from CSV or typed again into a cell.

- The CSV files put ``'`` before formula-like text (:func:`csv_text`).
- The workbook keeps such text a string cell and marks it with Excel's quote
  prefix, so editing the cell does not turn it into a formula either; it also
  replaces the characters XML cannot hold and cuts text to what one cell can
  hold (:func:`cell_text`).

The workbook's sheet names are translated, and Excel refuses a name longer
than 31 characters, one with any of ``[ ] : * ? / \\``, one that starts or
ends with an apostrophe, ``History``, and two names that differ only in case.
:class:`SheetNames` makes every name valid whatever a translation says: too
long, it is cut; otherwise unusable (or taken), the English name is used.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: A text starting with one of these is a formula to a spreadsheet (= + - @); a leading tab or
#: carriage return is stripped by some importers, uncovering what follows.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: Excel's error values (the classic seven and the newer ones); typed into a cell, such a text is an
#: error, not text. Compared without regard to case, as Excel reads them.
ERROR_VALUES = frozenset({
    "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
    "#GETTING_DATA", "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#PYTHON!",
})

#: Characters XML 1.0 cannot hold: control characters other than tab, LF and CR; surrogates (UTF-8
#: cannot encode a lone one); U+FFFE and U+FFFF. Each becomes U+FFFD in a workbook.
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: The most text one Excel cell holds, in UTF-16 code units (what Excel counts as characters).
MAX_CELL_TEXT = 32767

#: First characters after which a text needs a closer look (:func:`is_plain`).
_WATCHED_FIRST = frozenset("=+-@\t\r#")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (it starts with = + - @, a tab or a CR)."""
    return text.startswith(FORMULA_PREFIXES)


def is_error_like(text: str) -> bool:
    """Whether ``text`` reads like one of Excel's error values (``#N/A``, ``#div/0!``...)."""
    return text[:1] == "#" and text.upper() in ERROR_VALUES


def xml_clean(text: str) -> str:
    """``text`` with every character XML cannot hold replaced by U+FFFD."""
    return XML_ILLEGAL.sub("\ufffd", text)


def cut(text: str) -> str:
    """``text`` cut to :data:`MAX_CELL_TEXT` UTF-16 code units, never inside a surrogate pair."""
    if len(text) <= MAX_CELL_TEXT // 2:
        return text  # at most two code units a character: it fits
    units = text.encode("utf-16-le", "surrogatepass")
    if len(units) <= 2 * MAX_CELL_TEXT:
        return text
    head = units[: 2 * MAX_CELL_TEXT]
    if 0xD8 <= head[-1] <= 0xDB:  # the last unit opens a pair whose second half was cut off
        head = head[:-2]
    return head.decode("utf-16-le", "surrogatepass")


def is_plain(text: str) -> bool:
    """Whether ``text`` goes into a cell as it is: no formula start, no error value, nothing to replace or cut.

    The common case, tested cheaply; :func:`cell_text` handles the rest.
    """
    return (
        (not text or text[0] not in _WATCHED_FIRST or not (is_formula_like(text) or is_error_like(text)))
        and len(text) <= MAX_CELL_TEXT // 2
        and XML_ILLEGAL.search(text) is None
    )


class CellText(NamedTuple):
    """What a workbook cell holds for a text from the data."""

    text: str
    quoted: bool  # written with Excel's quote prefix: formula-like or error-like


def cell_text(text: str) -> CellText:
    """``text`` for a workbook cell: characters XML cannot hold replaced, cut to one cell, quoted when needed."""
    clean = cut(xml_clean(text))
    return CellText(clean, is_formula_like(clean) or is_error_like(clean))


def csv_text(text: str) -> str:
    """``text`` for a CSV field: ``'`` before formula-like text (CSV injection)."""
    return "'" + text if is_formula_like(text) else text


#: The longest sheet name Excel takes, in UTF-16 code units (what Excel and XlsxWriter count).
MAX_SHEET_NAME = 31

#: Characters Excel refuses in a sheet name.
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

#: Sheet names Excel keeps for itself (compared without regard to case).
RESERVED_SHEET_NAMES = frozenset({"history"})


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit_sheet_name(name: str, suffix: str = "") -> str | None:
    """``name`` followed by ``suffix`` (`` (2)``) as a valid sheet name: ``name`` cut so that the whole
    fits in :data:`MAX_SHEET_NAME` (never inside a surrogate pair, no space or apostrophe left at the
    cut); None when ``name`` cannot be one (a forbidden or control character, an apostrophe at an end,
    empty, reserved)."""
    name = name.strip()
    if (not name or SHEET_NAME_FORBIDDEN.search(name) or _CONTROL.search(name) or name[0] == "'"
            or name[-1] == "'" or name.casefold() in RESERVED_SHEET_NAMES):
        return None
    room = MAX_SHEET_NAME - _utf16_len(suffix)
    if _utf16_len(name) > room:
        units = name.encode("utf-16-le", "surrogatepass")[: 2 * room]
        if 0xD8 <= units[-1] <= 0xDB:  # the last unit opens a pair whose second half was cut off
            units = units[:-2]
        name = units.decode("utf-16-le", "surrogatepass").rstrip(" '")
        if not name:
            return None
    return name + suffix


#: Control characters (and what XML cannot hold): never in a sheet name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class SheetNames:
    """The sheet names of one workbook, each valid and unique without regard to case."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def name(self, wanted: str, english: str, suffix: str = "") -> str:
        """A valid name for a sheet: ``wanted`` (a translation) + ``suffix`` when it can be one
        (:func:`fit_sheet_name`) and is free, else ``english`` + ``suffix`` (valid by construction),
        else that with a number."""
        candidates = [fit_sheet_name(wanted, suffix), fit_sheet_name(english, suffix)]
        candidates += [fit_sheet_name(english, f"{suffix} ~{n}") for n in range(2, 100)]
        for candidate in candidates:
            if candidate is not None and candidate.casefold() not in self._taken:
                self._taken.add(candidate.casefold())
                return candidate
        raise ValueError(f"no free sheet name for {english!r}")  # a hundred sheets of one name: a bug
