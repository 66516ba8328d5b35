"""Graph pages and their rows, read from a JSON file one row at a time, in bounded memory.

A file may hold one page ``{"@odata.context": ..., "value": [rows],
"@odata.nextLink": ...}`` (the link before or after ``value``: Microsoft's
v1.0 and beta examples differ), a list of rows, a list of pages, or pages or
rows one after another (concatenated, or one per line as JSON Lines).

The walk: a small hand-written reader of the top two levels (objects, their
keys, the ``value`` array) over a sliding window of decoded text, and
:meth:`json.JSONDecoder.raw_decode` (the standard library's C scanner) for
each row. Memory is the window, at most a row (:data:`MAX_ROW_CHARS`) plus a
block, whatever the file's size or shape. Numbers are read exactly: a float
as a ``Decimal`` (``parse_float``), an integer too long for a sane ``int`` as
a ``Decimal`` too (``parse_int``: Python refuses ``int()`` of more than 4,300
digits), ``NaN`` and infinities as ``Decimal`` (refused where a number is
needed). A value nested deeper than the interpreter can decode is refused.

Why not ijson: it streams as well, but builds each value whole before
handing it on, so one 1 GB string would be 1 GB in memory; bounding a row is
the point here, and ``raw_decode`` already decodes a row in C.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _, ngettext

#: A row longer than this is not a call-log row (a pstnCallLogRow is well under 2 KB).
MAX_ROW_CHARS = 1024 * 1024
BLOCK_BYTES = 256 * 1024
_NOT_SPACE = re.compile(r"[^ \t\r\n]").search
#: Keys of a page kept for the reader (what it is, and whether more pages follow).
PAGE_KEYS = ("@odata.context", "@odata.nextlink")


def _int(text: str) -> int | Decimal:
    return int(text) if len(text) <= 18 else Decimal(text)


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_int, parse_constant=Decimal)


class Page(dict[str, Any]):
    """A page's own keys (lower-case): ``@odata.context``, ``@odata.nextlink``."""


class Walk:
    """The values of one JSON file: :meth:`rows` yields each row, or a :class:`Page` where a page starts.

    After the walk, :attr:`next_link` is the ``@odata.nextLink`` of the last
    page read (None if it had none).
    """

    def __init__(self, binary: IO[bytes], source: str) -> None:
        self._binary = binary
        self._source = source
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._lines_before = 0  # newlines in the text dropped from the window
        self._column_before = 0  # characters since the last newline, at the window's start
        self.next_link: str | None = None
        self.pages = 0

    # --- the top two levels ------------------------------------------------------------------------------------

    def rows(self) -> Iterator[Any]:
        """Rows (any JSON value: a row that is not an object is the row's fault) and pages' starts."""
        values = 0
        while True:
            ch = self._skip()
            if not ch:
                break
            values += 1
            if ch == "[":
                self._pos += 1
                if self._skip() == "]":
                    self._pos += 1
                    continue
                while True:
                    yield from self._element()
                    if not self._after_item("]", N_("a list element")):
                        break
            elif ch == "{":
                yield from self._element()
            elif values == 1:
                raise self._invalid(_("not a Graph page or a list of call records "
                                      "(the file starts with {char})").format(
                    char=repr(ch)))
            else:
                raise self._invalid(_("{char} after the pages or rows; "
                                      "not a Graph page or a list of call records").format(
                    char=repr(ch)))
        if not values:
            raise InvalidInput(_("{source}: empty JSON file").format(source=self._source))

    def _element(self) -> Iterator[Any]:
        """A page or a row, where either may stand (the top level, or an element of a top-level list)."""
        if self._skip() != "{":
            yield self._value()  # not an object: a row, and a faulty one
            return
        value = self._value(limit=MAX_ROW_CHARS, large_ok=True)
        if value is _LARGE:
            yield from self._walk_object()
        elif isinstance(value, dict) and isinstance(_get(value, "value"), list):
            page = Page((k, v) for k, v in ((k.lower(), v) for k, v in value.items()) if k in PAGE_KEYS)
            yield page
            yield from _get(value, "value")
            self._end_page(page)
        elif isinstance(value, dict) and _get(value, "value") is not None and _looks_like_page(value):
            raise self._invalid(_("a page's \"value\" is not a list of call records"))
        else:
            yield value

    def _walk_object(self) -> Iterator[Any]:
        """An object too large to be a row: a page, walked key by key, its rows streamed."""
        self._pos += 1  # "{"
        page = Page()
        seen_value = False
        if self._skip() == "}":
            self._pos += 1
            return
        while True:
            if self._skip() != '"':
                raise self._invalid(_("expected a key"))
            key = self._value(limit=4096)
            if self._skip() != ":":
                raise self._invalid(_("expected ':' after a key"))
            self._pos += 1
            low = key.lower() if isinstance(key, str) else ""
            if self._skip() == "[" and low == "value":
                seen_value = True
                yield page
                self._pos += 1
                if self._skip() == "]":
                    self._pos += 1
                else:
                    while True:
                        yield self._value(limit=MAX_ROW_CHARS)
                        if not self._after_item("]", "a row"):
                            break
            else:
                value = self._value(limit=MAX_ROW_CHARS)
                if low in PAGE_KEYS:
                    page[low] = value
            if not self._after_item("}", N_("a key's value")):
                break
        if not seen_value:
            raise self._invalid(_("a JSON object longer than {size} MB that is not a page "
                                  "of rows; not a Graph call record").format(size=MAX_ROW_CHARS // 1024 // 1024))
        self._end_page(page)

    def _end_page(self, page: Page) -> None:
        self.pages += 1
        link = page.get("@odata.nextlink")
        self.next_link = link if isinstance(link, str) and link else None

    def _after_item(self, close: str, what: str) -> bool:
        """After an element: True at ``,`` (another follows), False at ``close``."""
        ch = self._skip()
        self._pos += 1
        if ch == ",":
            return True
        if ch == close:
            return False
        self._pos -= 1
        raise self._invalid(_("expected ',' or '{close}' after {what}").format(close=close, what=_(what)) if ch else
                            _("the file ends inside a list or object (the file looks truncated)"))

    # --- the window --------------------------------------------------------------------------------------------

    def _more(self, chars: int) -> None:
        """Read until the window holds ``chars`` characters past the position, or the file ends."""
        if self._pos > BLOCK_BYTES:
            dropped = self._buf[:self._pos]
            newlines = dropped.count("\n")
            if newlines:
                self._lines_before += newlines
                self._column_before = len(dropped) - dropped.rfind("\n") - 1
            else:
                self._column_before += len(dropped)
            self._buf = self._buf[self._pos:]
            self._pos = 0
        while not self._eof and len(self._buf) - self._pos < chars:
            data = self._binary.read(max(BLOCK_BYTES, chars - (len(self._buf) - self._pos)))
            self._eof = not data
            self._buf += self._decode(data, final=self._eof)

    def _skip(self) -> str:
        """The next character that is not white space ("" at the end), the position on it."""
        while True:
            found = _NOT_SPACE(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return self._buf[self._pos]
            self._pos = len(self._buf)
            if self._eof:
                return ""
            self._more(BLOCK_BYTES)

    def _value(self, limit: int = MAX_ROW_CHARS, large_ok: bool = False) -> Any:
        """The JSON value at the position (white space skipped), if it is at most ``limit`` characters;
        the position after it."""
        self._skip()
        want = min(limit + 1, BLOCK_BYTES)
        while True:
            if len(self._buf) - self._pos < want and not self._eof:
                self._more(want)
            buf, pos = self._buf, self._pos
            try:
                value, end = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                if not self._eof and (exc.pos >= len(buf) - 16 or exc.msg.startswith("Unterminated string")):
                    if len(buf) - pos > limit:
                        if large_ok:
                            return _LARGE
                        raise self._invalid(_("a value longer than {size}; not a Graph call record").format(
                            size=_size(limit))) from None
                    want = min(2 * (len(buf) - pos), limit + 1)
                    self._more(want)
                    continue
                raise self._invalid(exc.msg, exc.pos, truncated=self._eof and (
                    exc.pos >= len(buf) - 1 or exc.msg.startswith("Unterminated"))) from None
            except RecursionError:
                raise self._invalid(_("nested too deeply to be a Graph page")) from None
            if end == len(buf) and not self._eof:  # a number or literal may go on past the window
                want = len(buf) - pos + BLOCK_BYTES
                self._more(want)
                continue
            if end - pos > limit:
                if large_ok:
                    return _LARGE
                raise self._invalid(_("a value longer than {size}; not a Graph call record").format(size=_size(limit)))
            self._pos = end
            return value

    def _invalid(self, message: str, at: int | None = None, truncated: bool = False) -> InvalidInput:
        at = self._pos if at is None else at
        newlines = self._buf.count("\n", 0, at)
        line = self._lines_before + newlines + 1
        column = at - self._buf.rfind("\n", 0, at) if newlines else self._column_before + at + 1
        # TRANSLATORS: added after a message about broken JSON; it starts with a space in English.
        hint = _(" (the file looks truncated)") if truncated else ""
        # TRANSLATORS: {message} says what is wrong (often in English: Python's JSON parser); {hint} may be empty.
        return InvalidInput(_("{source}: invalid JSON at line {line} column {column}: {message}{hint}").format(
            source=self._source, line=line, column=column, message=message, hint=hint))


_LARGE = object()


def _size(chars: int) -> str:
    return _("{n} MB").format(n=chars // 1024 // 1024) if chars >= 1024 * 1024 else \
        ngettext("{n} character", "{n} characters", chars).format(n=i18n.number(chars))


def _get(obj: dict[str, Any], key: str) -> Any:
    return obj.get(key)


def _looks_like_page(obj: dict[str, Any]) -> bool:
    return any(k.lower().startswith("@odata.") for k in obj)
