"""CSV call-record files read as their header says, in bounded memory.

A CSV reader declares its columns once (:class:`Column`); :meth:`Table.open`
reads the header and compiles the declaration to positions; :meth:`Table.rows`
turns each physical record into a call record or a :class:`RowError`.

What a record may be (RFC 4180 as the Teams admin center writes it, Teams
PSTN usage report, "Fields in the export"):

- **its fields are the header's**: a record with another field count than
  the header is a rejected row;
- **a physical line is at most** :data:`MAX_LINE_BYTES` (1 MiB). Every column
  of the export is short (UsageId is a GUID, UPN and display name
  ``nvarchar(128)``, the longest, ``Destination Dialed``, ``nvarchar(64)``):
  a real row is a few hundred bytes, so a line a thousand times longer is
  not a row. It is rejected and skipped to its end without being held in
  memory;
- **a record spans at most** :data:`MAX_RECORD_LINES` (3) physical lines. The
  only field that can hold a line break is a display name pasted with one;
  two breaks in one record is already more than any export has shown. A
  quote opened and never closed (``"Ace Smith,``) would otherwise swallow the
  rest of the file into one field: that record is rejected *at the line where
  it starts*, and the lines it swallowed are read again, each as a row of its
  own, so one stray quote costs one row.

Lines are read a block at a time (:data:`BLOCK_BYTES` of whole lines) and fed
to :mod:`csv` through C-level iterators, so the common row costs no more than
a plain ``csv.reader`` over a file. A file that has rejected more than
:data:`MAX_REJECTED` rows, and more rows than it has given, is not the export
its header says: it is refused (the import fails) rather than listed row by
row. A real export with a bad column in some of its rows is kept going: its
good rows are rated and the bad ones set aside.
"""

from __future__ import annotations

import bisect
import contextvars
import csv
import functools
import io
import itertools
import re
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _, ngettext
from credits_cli.readers import _text
from credits_cli.readers._common import norm
from credits_cli.readers.base import CallRecord, Columns, Item, RowError

if TYPE_CHECKING:
    import polars as pl

#: ``convert_lines(lines, convert, fields_of)`` of :meth:`Table.columns`: calls in columns, and rejected rows.
LinesConverter = Callable[["pl.DataFrame", Callable[[list[str], int], CallRecord], Callable[[int], list[str]]],
                          tuple["pl.DataFrame", list[RowError]]]

MAX_LINE_BYTES = 1024 * 1024
MAX_RECORD_LINES = 3
MAX_HEADER_BYTES = 64 * 1024
#: Bytes read at a time. At most MAX_LINE_BYTES: a line that ends inside a block is then within the limit,
#: and only the line a block ends in needs measuring.
BLOCK_BYTES = 256 * 1024
MAX_REJECTED = 100_000
#: Pieces of plain lines converted at once, each by a thread of its own (polars lets the others run).
CONVERTERS = 2
#: Plain lines converted in columns at a time (:meth:`Table.columns`). 10,000 rather than 5,000, two pieces
#: at once: a million-line export is read in 2.4 s rather than 4.1 s; 20,000 peaked 40 MB higher (the
#: pieces in hand) for little more speed (bench/RESULTS.md).
COLUMN_LINES = 10_000
#: The csv module's field limit (process-wide): a field can be no longer than the lines it spans.
FIELD_LIMIT = MAX_RECORD_LINES * MAX_LINE_BYTES + 1024
_SEPARATORS = ",;\t|"  # what an Excel "sep=" line may name
_NEWLINE = re.compile("\n")
#: What makes a block of lines not plain (see Table.columns), besides a carriage return not before a line feed
#: (:func:`_lone_cr`): a quote, a NUL, and a byte order mark (polars' CSV reader drops one at the start of what it
#: reads; the csv module keeps it in the field). Such a block is read by the csv module.
_ODD = (b'"', b"\x00")
_BOM = b"\xef\xbb\xbf"


def _odd(data: bytes) -> bool:
    """Whether a block's bytes are read by the csv module: a quote, a NUL, a lone carriage return, a byte
    order mark, or bytes that are not UTF-8 (the csv module reads them as the row reader decodes them)."""
    if any(c in data for c in _ODD):  # (a scan each, at memchr speed, beats one regular expression)
        return True
    if b"\xef" in data and _BOM in data:  # (a look for a byte first: the three are rarely there)
        return True
    if _lone_cr(data):
        return True
    if data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _lone_cr(data: bytes) -> bool:
    """Whether a carriage return in ``data`` is not the first half of a CR LF. Lines that end in CR LF are
    read as they are (polars' CSV reader drops the CR before each LF; :meth:`Table._convert` drops it from
    the lines it splits itself): counting is half the time of replacing each CR LF by a LF."""
    return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")


@dataclass(frozen=True, slots=True)
class Column:
    """A column a reader reads: its name in the export (for messages) and the normalised
    header names that mean it (:func:`credits_cli.readers._common.norm`), first match wins."""

    label: str
    names: tuple[str, ...]
    required: bool = False


def sniff_delimiter(line: str) -> str:
    """The header line's delimiter: tab (old exports), semicolon (some locales) or comma."""
    counts = {d: line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def split_header(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _is_type_line(text: str) -> bool:
    """PowerShell's ``Export-Csv`` first line: ``#TYPE System.Management.Automation.PSCustomObject``."""
    return text[:6].lower() == "#type "


def _is_sep_line(text: str) -> bool:
    """Excel's ``sep=;`` first line."""
    line = text.rstrip("\r\n")
    return line[:4].lower() == "sep=" and len(line) == 5 and line[4] in _SEPARATORS


def head_header(head: bytes) -> set[str]:
    """Normalised header names from the first (UTF-8) bytes of a file; empty when it is not text."""
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n", 3)
    if lines and _is_type_line(lines[0]):
        lines = lines[1:]
    if not lines or "\x00" in lines[0]:
        return set()
    if _is_sep_line(lines[0]) and len(lines) > 1:
        return {norm(h) for h in split_header(lines[1], lines[0].rstrip("\r\n")[4])}
    return {norm(h) for h in split_header(lines[0], sniff_delimiter(lines[0]))}


class CsvFormat:
    """A CSV call-record format: recognised by its header, read by its ``read_stream``."""

    def __init__(self, name: str, matches: Callable[[set[str]], bool],
                 read_stream: Callable[[IO[bytes], str], Iterator[Item]]) -> None:
        self.name = name
        self._matches = matches
        self._read_stream = read_stream

    def identify(self, path: Path, head: bytes) -> bool:
        return self._matches(head_header(head))

    def read(self, path: Path) -> Iterator[Item]:
        name = _text.safe_name(path.name)
        binary = _text.open_file(path, name)
        try:
            stream = _text.utf8(binary)
        except BaseException:
            binary.close()
            raise
        return self._read_stream(stream, name)  # the row generator closes it


class Table:
    """An open CSV call-record file: its header read, its rows still to come."""

    def __init__(self, binary: IO[bytes], source: str, header: list[str], delimiter: str, header_line: int) -> None:
        self.binary = binary
        self.source = source
        self.header = header
        self.delimiter = delimiter
        self.header_line = header_line

    @classmethod
    def open(cls, binary: IO[bytes], source: str) -> Table:
        """Read the header of ``binary`` (UTF-8 bytes). Line 1 is the header, or 2 after an Excel
        ``sep=;`` line or PowerShell's ``#TYPE`` line. ``binary`` is closed if the header is unusable."""
        try:
            if csv.field_size_limit() < FIELD_LIMIT:
                csv.field_size_limit(FIELD_LIMIT)
            header_line = 1
            first = _header_line(binary, source)
            if _is_type_line(first):
                first = _header_line(binary, source)
                header_line += 1
            if _is_sep_line(first):
                delimiter = first.rstrip("\r\n")[4]  # (a tab too: strip() would take it)
                first = _header_line(binary, source)
                header_line += 1
            else:
                delimiter = sniff_delimiter(first)
            if not first.strip():
                raise InvalidInput(_("{source}: no header line").format(source=source))
            header = [norm(h) for h in split_header(first.rstrip("\r\n"), delimiter)]
        except BaseException:
            binary.close()
            raise
        return cls(binary, source, header, delimiter, header_line)

    def positions(self, columns: Mapping[str, Column], fmt: str) -> dict[str, int]:
        """Each declared column's position (-1 when absent); InvalidInput naming the missing required ones."""
        found: dict[str, int] = {}
        missing: list[str] = []
        for key, col in columns.items():
            found[key] = next((self.header.index(n) for n in col.names if n in self.header), -1)
            if found[key] < 0 and col.required:
                missing.append(col.label)
        if missing:
            self.binary.close()
            # TRANSLATORS: {fmt} names the format (Teams PSTN usage export...); {columns} are column names, kept.
            raise InvalidInput(_("{source}: not a {fmt}: missing column(s) {columns}").format(
                source=self.source, fmt=_(fmt), columns=", ".join(missing)))
        return found

    def columns(
        self,
        convert: Callable[[list[str], int], CallRecord],
        convert_lines: LinesConverter,
        wanted: Iterable[int],
    ) -> Iterator[Item]:
        """:meth:`rows`, with the blocks of plain lines read as columns: a block without a quote, a NUL,
        a lone carriage return or an overlong line is cut at the delimiter into columns (the fields at
        the positions ``wanted``), and ``convert_lines(lines, convert, fields_of)`` (``lines``: ``line``
        and ``f<position>`` for each wanted position; ``fields_of(line)``: the line's fields, all of
        them) gives the frame of calls in line order and the rejected rows: what :meth:`rows` would
        have made of them (a line it cannot read in columns goes through ``convert``). A block that is
        not plain for its bytes only (not UTF-8, a NUL, a byte order mark) is read alone by :meth:`rows`;
        from the first block with a quote, a lone carriage return or an overlong line on, the whole rest
        of the file is (a quoted record may run over several lines)."""
        from concurrent.futures import Future, ThreadPoolExecutor

        source = self.source
        positions = sorted({p for p in wanted if p >= 0})
        lines = _Lines(self.binary, self.header_line + 1)
        rejected = given = 0  # rows set aside, calls given (the refusal of MAX_REJECTED counts both)
        parts: list[bytes] = []  # blocks of plain lines not yet converted, from line ``first`` on
        held = 0  # their lines
        first = lines.start_line
        block: _Block | None = None
        converting: deque[Future[tuple[pl.DataFrame | None, list[RowError]]]] = deque()  # oldest first
        pool: ThreadPoolExecutor | None = None
        try:
            while True:
                try:
                    block = lines.read_block()
                except OSError as exc:
                    raise InvalidInput(_("{source}: cannot read: {error}").format(
                        source=source, error=exc.strerror or exc)) from None
                data = block.data if block is not None else b""
                overlong = block is not None and any(
                    block.first <= n < block.first + block.count for n in lines.overlong)
                plain = block is not None and not overlong and not _odd(data)
                if block is not None and plain:
                    if not parts:
                        first = block.first
                    parts.append(data)
                    held += block.count
                    if held < COLUMN_LINES:
                        continue
                if parts:
                    if pool is None:
                        pool = ThreadPoolExecutor(CONVERTERS, thread_name_prefix="credits-convert")
                    run = contextvars.copy_context().run  # (its rejected rows in the import's language)
                    converting.append(pool.submit(run, self._convert, parts, first, positions, convert,
                                                  convert_lines))
                    parts, held = [], 0
                # what is converted is given in line order: all of it before any line read another way
                while converting and (len(converting) > CONVERTERS or not plain):
                    calls, errors = converting.popleft().result()
                    rejected, given = yield from self._settled(calls, errors, rejected, given)
                if block is None:
                    self.binary.close()
                    return
                if not plain and not overlong and b'"' not in data and not _lone_cr(data):
                    # Odd for its bytes only (not UTF-8, a NUL, a byte order mark): each of its lines is a
                    # record of its own, so the block alone is read row by row, and the next in columns.
                    alone = _Lines(io.BytesIO(block.data), block.first)
                    rejected, given = yield from self.rows(convert, alone, rejected, given, close=False)
                    continue
                if not plain:
                    lines.replay_from(block)
                    yield from self.rows(convert, lines, rejected, given)
                    return
        except BaseException:
            self.binary.close()
            raise
        finally:
            for pending in converting:
                pending.cancel()
            if pool is not None:
                pool.shutdown(wait=True)

    def _convert(
        self,
        parts: list[bytes],
        first: int,
        positions: list[int],
        convert: Callable[[list[str], int], CallRecord],
        convert_lines: LinesConverter,
    ) -> tuple[pl.DataFrame | None, list[RowError]]:
        """Lines ``first``, ``first + 1``... (``parts``: blocks of whole plain lines, UTF-8) in columns (see
        :meth:`columns`): the calls in line order (None: no line had the header's fields) and the rejected
        rows in line order. Touches nothing of the table's: blocks are converted side by side.

        Each line's delimiters are counted first: a line with as many fields as the header is cut into
        columns by polars' CSV reader with quoting off (a plain line has no quote: its fields are what
        splitting it at each delimiter gives), a blank line is skipped, any other line is a rejected row."""
        import polars as pl

        source, width, delimiter = self.source, len(self.header), self.delimiter
        data = b"".join(parts)
        data = data[:-1] if data.endswith(b"\n") else data  # the last line's end: no line after it
        data = data[:-1] if data.endswith(b"\r") else data  # (a CR here ends a CR LF: a lone one is not plain)
        lines = data.split(b"\n")  # each but the last with the CR of its CR LF, if the file has them
        counts = list(map(bytes.count, lines, itertools.repeat(delimiter.encode())))
        errors: list[RowError] = []
        if min(counts) == max(counts) == width - 1:
            numbers = pl.int_range(first, first + len(lines), dtype=pl.Int64, eager=True)
        else:
            keep: list[int] = []
            for i, (line, n) in enumerate(zip(lines, counts, strict=True)):
                if n == width - 1:
                    keep.append(i)
                elif n or line.decode("utf-8").strip():  # (a blank line is skipped)
                    errors.append(RowError(source, first + i, _(
                        "the row has {fields} fields; the header has {width}").format(fields=n + 1, width=width)))
            data = b"\n".join([lines[i] for i in keep])
            numbers = pl.Series(keep, dtype=pl.Int64) + first
        calls = None
        if len(numbers):
            frame = pl.read_csv(io.BytesIO(data), has_header=False, separator=delimiter, quote_char=None,
                                infer_schema=False, columns=positions, **_empty_is_empty())
            # The columns come in the order asked for (their names differ between polars versions).
            good = pl.DataFrame([pl.Series("line", numbers), *(
                frame.to_series(i).alias(f"f{p}") for i, p in enumerate(positions))])

            def fields_of(line: int) -> list[str]:
                text = lines[line - first].decode("utf-8")
                return (text[:-1] if text.endswith("\r") else text).split(delimiter)

            calls, others = convert_lines(good, convert, fields_of)
            errors.extend(others)
            errors.sort(key=lambda e: e.line)
        return calls, errors

    def _settled(self, calls: pl.DataFrame | None, errors: list[RowError], rejected: int,
                 given: int) -> Generator[Item, None, tuple[int, int]]:
        """A converted piece (:meth:`_convert`) given, after the rows rejected and the calls given before
        it; returns both counts with its own. Refuses the file as :meth:`rows` would, at the same row."""
        if rejected + len(errors) > MAX_REJECTED:
            # Refused at the rejected row that :meth:`rows` refuses at: counted with the calls before it.
            before = calls["line"].to_list() if calls is not None else []  # (in line order)
            for i, error in enumerate(errors):
                count = rejected + i + 1
                if count > MAX_REJECTED and count > given + bisect.bisect_left(before, error.line):
                    raise _too_many_rejected(self.source, error.line, error.reason)
        if calls is not None and calls.height:
            yield Columns(calls, tuple(errors))
        else:
            yield from errors
        return rejected + len(errors), given + (calls.height if calls is not None else 0)

    def rows(self, convert: Callable[[list[str], int], CallRecord], lines: _Lines | None = None,
             rejected: int = 0, given_before: int = 0, *,
             close: bool = True) -> Generator[CallRecord | RowError, None, tuple[int, int]]:
        """Each physical record through ``convert(fields, line)``: a record, or a :class:`RowError`
        for a ``ValueError`` it raised or a record that is not as the header says. Blank lines are
        skipped. ``line`` is the physical line where the record starts (1 = the file's first line).
        Closes the file at the end (unless not ``close``: ``lines`` are then a block's, see
        :meth:`columns`). Returns the rows rejected and the records given, with those before."""
        source, width, delimiter = self.source, len(self.header), self.delimiter
        if lines is None:
            lines = _Lines(self.binary, self.header_line + 1)
        done = lines.done  # [the reader's line count after its last record]: the block reader's guard reads it
        given = given_before  # records yielded (with those of the blocks read in columns before)

        def reject(line: int, reason: str) -> RowError:
            nonlocal rejected
            rejected += 1
            if rejected > MAX_REJECTED and rejected > given:
                raise _too_many_rejected(source, line, reason)
            return RowError(source, line, reason)

        try:
            while True:  # one csv reader per run of good records; a bad one restarts after its first line
                reader = csv.reader(lines.stream(), delimiter=delimiter)
                base = lines.base
                first = base + 1
                last = 0
                try:
                    for fields in reader:
                        n = reader.line_num
                        line = first + last
                        if n - last != 1 and not lines.fits(line, base + n):
                            yield reject(line, lines.why(line, base + n))
                            lines.rewind(line + 1)
                            break
                        last = done[0] = n
                        if len(fields) != width:
                            if not fields or (len(fields) == 1 and not fields[0].strip()):
                                if line in lines.overlong:
                                    yield reject(line, _("the line is longer than {size}; not a call record").format(
                                        size=_size(MAX_LINE_BYTES)))
                                continue  # a blank line
                            yield reject(line, _("the row has {fields} fields; the header has {width}").format(
                                fields=len(fields), width=width))
                            continue
                        try:
                            record = convert(fields, line)
                        except ValueError as exc:
                            yield reject(line, str(exc))
                            continue
                        given += 1
                        yield record
                    else:
                        return rejected, given
                except _TooLong:
                    line = first + done[0]
                    yield reject(line, lines.why(line, lines.next_line))
                    lines.rewind(line + 1)
                except csv.Error as exc:
                    line = first + done[0]
                    yield reject(line, _("unreadable CSV row: {error}").format(error=exc))
                    lines.rewind(line + 1)
        except OSError as exc:
            raise InvalidInput(_("{source}: cannot read: {error}").format(
                source=source, error=exc.strerror or exc)) from None
        finally:
            if close:
                self.binary.close()


def _too_many_rejected(source: str, line: int, reason: str) -> InvalidInput:
    """The refusal of a file with more than :data:`MAX_REJECTED` rejected rows, and more than it gave."""
    return InvalidInput(_("{source}: more than {limit} rows rejected (line {line}: {reason}); "
                          "this is not a file of call records as its header says").format(
        source=source, limit=i18n.number(MAX_REJECTED), line=line, reason=reason))


@functools.cache
def _empty_is_empty() -> dict[str, Any]:
    """polars' read_csv option that reads an empty field as an empty text, not null (renamed in polars 2)."""
    import inspect

    import polars as pl

    names = inspect.signature(pl.read_csv).parameters
    return {"empty_string_is_null": False} if "empty_string_is_null" in names else {
        "missing_utf8_is_empty_string": True}


def _header_line(binary: IO[bytes], source: str) -> str:
    data = binary.readline(MAX_HEADER_BYTES + 1)
    if len(data) > MAX_HEADER_BYTES and not data.endswith(b"\n"):
        raise InvalidInput(_("{source}: the first line is longer than {size} KB; not a call-record CSV").format(
            source=source, size=MAX_HEADER_BYTES // 1024))
    return data.decode("utf-8", errors="replace")


def _size(limit: int) -> str:
    return _("{n} MB").format(n=limit // 1024 // 1024) if limit % (1024 * 1024) == 0 else \
        ngettext("{n} byte", "{n} bytes", limit).format(n=i18n.number(limit))


class _TooLong(Exception):
    """Raised through the csv reader when the record it is reading already spans too many lines."""


class _Block:
    __slots__ = ("first", "count", "data", "_text", "_starts")

    def __init__(self, first: int, data: bytes) -> None:
        self.first = first  # the line number of its first line
        self.count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        self.data = data
        self._text: str | None = None
        self._starts: list[int] | None = None

    @property
    def text(self) -> str:
        """Its lines as text (what is not UTF-8 in them replaced), for the csv module."""
        if self._text is None:
            self._text = self.data.decode("utf-8", errors="replace")
        return self._text

    def text_from(self, line: int) -> str:
        """Its text from the start of ``line`` on."""
        k = line - self.first
        if k <= 0:
            return self.text
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self.text))]
        return self.text[self._starts[k]:] if k < len(self._starts) else ""


class _Lines:
    """The physical lines of the body, in blocks of whole lines, each line at most MAX_LINE_BYTES.

    :meth:`stream` feeds a csv reader. The last few blocks are kept, so that
    after a bad record the lines it swallowed can be read again
    (:meth:`rewind`). A longer line is cut out and replaced by an empty one
    (its number is in :attr:`overlong`), so line numbers stay true.
    """

    def __init__(self, binary: IO[bytes], first_line: int) -> None:
        self.binary = binary
        self.start_line = first_line  # the first line the next stream() gives
        self.base = first_line - 1  # the line before the first one of the current stream()
        self.next_line = first_line  # the next line not yet read from the file
        self.done = [0]  # lines of the current stream() its reader has made records of (kept by Table.rows)
        self.overlong: set[int] = set()
        # A record is caught at the latest when it asks for a block beyond MAX_RECORD_LINES lines
        # from its start, and every block holds at least a line: its start is in the last few blocks.
        self._kept: deque[_Block] = deque(maxlen=MAX_RECORD_LINES + 1)
        self._replay: list[str] = []

    def stream(self) -> Iterator[str]:
        self.base = self.start_line - 1
        self.done[0] = 0
        return itertools.chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[io.StringIO]:
        replay, self._replay = self._replay, []
        for text in replay:
            yield io.StringIO(text, newline="\n")
        while True:
            if self.next_line - (self.base + self.done[0] + 1) > MAX_RECORD_LINES:
                raise _TooLong  # the record being read has read all the lines so far, and too many
            block = self._read()
            if block is None:
                return
            yield io.StringIO(block.text, newline="\n")

    def _read(self) -> _Block | None:
        data = self.binary.read(BLOCK_BYTES)
        if not data:
            return None
        if not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1  # where the unfinished last line starts
            room = MAX_LINE_BYTES - (len(data) - cut)
            rest = self.binary.readline(room + 1)
            if len(rest) > room and not rest.endswith(b"\n"):
                # Longer than any record: forget it (read to its end a block at a time), keep its place.
                self.overlong.add(self.next_line + data.count(b"\n", 0, cut))
                while rest and not rest.endswith(b"\n"):
                    rest = self.binary.readline(BLOCK_BYTES)
                data = data[:cut] + b"\n"
            else:
                data += rest
        block = _Block(self.next_line, data)
        self.next_line += block.count
        self._kept.append(block)
        return block

    def read_block(self) -> _Block | None:
        """The next block of whole lines, read outside :meth:`stream` (see :meth:`Table.columns`)."""
        block = self._read()
        if block is not None:
            self.start_line = self.next_line
        return block

    def replay_from(self, block: _Block) -> None:
        """Let the next :meth:`stream` start with ``block`` (read by :meth:`read_block`)."""
        self._replay = [block.text]
        self.start_line = block.first

    def fits(self, first: int, last: int) -> bool:
        """Whether a record on lines ``first``..``last`` is one a real export could hold."""
        return last - first < MAX_RECORD_LINES and not any(first <= n <= last for n in self.overlong)

    def why(self, first: int, last: int) -> str:
        long = sorted(n for n in self.overlong if first <= n <= last)
        if long and last - first < MAX_RECORD_LINES:
            return _("the record runs into line {line}, which is longer than {size}").format(
                line=long[0], size=_size(MAX_LINE_BYTES))
        return _("a quoted field opened on this line is not closed within {n} lines "
                 "(a stray quote?); the lines after it are read as rows of their own").format(n=MAX_RECORD_LINES)

    def rewind(self, line: int) -> None:
        """Let the next :meth:`stream` start at ``line`` again."""
        self._replay = [b.text_from(line) for b in self._kept if b.first + b.count > line]
        self.start_line = line
