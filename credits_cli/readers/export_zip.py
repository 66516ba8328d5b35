"""The Teams admin center's ``Calls.Export.<id>.zip``, read in place.

The zip holds ``PSTN.calls.<UTC date>.csv`` (Calling Plans and Operator
Connect), ``DirectRouting.calls.<UTC date>.csv`` and ``parameters.json``
(Teams PSTN usage report, "Exporting PSTN usage report"). Each call file is
read, in name order, streamed without unpacking; records carry
``"<zip>!<member>"`` as their source.

A zip is small and can say anything about what it holds, so before a byte is
inflated it must look like an export:

- at most :data:`MAX_ENTRIES` entries (a year of daily files is ~700;
  counted from the end-of-central-directory record before the directory is
  read, so a directory of millions of entries is never loaded);
- each call file at most :data:`MAX_MEMBER_BYTES` expanded, and expanded at
  most :data:`MAX_RATIO` times its compressed size (CSV text deflates 5 to
  20 times; a zip bomb thousands of times);
- while a member is read, what is actually inflated is counted: more than
  it declared (headers can lie) stops the file.

A member that breaks any of these, or that cannot be inflated, makes the
whole file one :class:`InvalidInput`.
"""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _
from credits_cli.readers import _table, _text, direct_routing, teams_csv
from credits_cli.readers._common import safe_text
from credits_cli.readers.base import Item

NAME = "teams-export-zip"
MAX_ENTRIES = 10_000
MAX_MEMBER_BYTES = 8 * 1024**3
MAX_RATIO = 100
#: Below this a member's ratio is not judged (a tiny file can deflate to almost nothing).
RATIO_FROM_BYTES = 1024 * 1024
HEAD_BYTES = 8192
_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
           RuntimeError, zlib.error, struct.error)


def is_member(name: str) -> bool:
    base = posixpath.basename(name).lower()
    return base.endswith(".csv") and base.startswith(("pstn.calls.", "directrouting.calls."))


def read(path: Path, name: str) -> Iterator[Item]:
    """Check and open the zip now (a broken, foreign or absurd zip fails here); stream the members lazily."""
    entries = _entry_count(path, name)
    if entries is not None and entries > MAX_ENTRIES:
        raise InvalidInput(_("{source}: the zip holds {entries} entries; an export holds a few files "
                             "(at most {limit} are read)").format(
            source=name, entries=i18n.number(entries), limit=i18n.number(MAX_ENTRIES)))
    try:
        archive = zipfile.ZipFile(path)
        members = sorted((i for i in archive.infolist() if not i.is_dir() and is_member(i.filename)),
                         key=lambda i: i.filename)
    except _ERRORS as exc:
        raise InvalidInput(_("{source}: not a readable zip file: {error}").format(source=name, error=exc)) from None
    try:
        if not members:
            names = {i.filename for i in archive.infolist()}
            if "[Content_Types].xml" in names:
                raise InvalidInput(_("{source}: an Excel workbook; save it as CSV (UTF-8) first").format(source=name))
            raise InvalidInput(_("{source}: the zip holds no PSTN.calls.*.csv or DirectRouting.calls.*.csv").format(
                source=name))
        for info in members:
            _check_sizes(info, _source(name, info))
    except BaseException:
        archive.close()
        raise
    return _records(name, archive, members)


def _source(name: str, info: zipfile.ZipInfo) -> str:
    return f"{name}!{safe_text(posixpath.basename(info.filename))}"


def _check_sizes(info: zipfile.ZipInfo, source: str) -> None:
    size, packed = info.file_size, info.compress_size
    if size > MAX_MEMBER_BYTES:
        raise InvalidInput(_("{source}: the zip member declares {size} bytes expanded; "
                             "more than any export ({limit} GB)").format(
            source=source, size=i18n.number(size), limit=MAX_MEMBER_BYTES // 1024**3))
    if size > RATIO_FROM_BYTES and size > MAX_RATIO * max(packed, 1):
        raise InvalidInput(_("{source}: the zip member expands {ratio} times "
                             "({packed} to {size} bytes); no export compresses beyond {limit} times").format(
            source=source, ratio=i18n.number(size // max(packed, 1)), packed=i18n.number(packed),
            size=i18n.number(size), limit=MAX_RATIO))


def _records(name: str, archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> Iterator[Item]:
    with archive:
        for info in members:
            source = _source(name, info)
            try:
                raw = io.BufferedReader(_Counted(archive.open(info), info.file_size, source),
                                        buffer_size=_table.BLOCK_BYTES)
                head = raw.peek(HEAD_BYTES)[:HEAD_BYTES]
                if not head.strip(b" \t\r\n\xef\xbb\xbf\xff\xfe\x00"):
                    raw.close()
                    continue  # an export of a day without calls
                _text.check_text(head, source)
                header = _table.head_header(_text.head_utf8(head))
                if teams_csv.matches(header):
                    read_stream = teams_csv.read_stream
                elif direct_routing.matches(header):
                    read_stream = direct_routing.read_stream
                else:
                    raw.close()
                    raise InvalidInput(_("{source}: neither a Teams PSTN usage export "
                                         "nor a Direct Routing export").format(
                        source=source))
                yield from read_stream(_text.utf8(raw), source)
            except _ERRORS as exc:
                # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression.
                raise InvalidInput(_("{source}: the zip member cannot be read: {error}").format(
                    source=source, error=exc)) from None


class _Counted(io.RawIOBase):
    """A zip member's inflated bytes, counted: more than it declared stops the file."""

    def __init__(self, member: IO[bytes], limit: int, source: str) -> None:
        super().__init__()
        self._member = member
        self._limit = limit
        self._source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._member.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise InvalidInput(_("{source}: the zip member inflates to more than the {size} bytes "
                                 "it declares; not an export").format(
                                     source=self._source, size=i18n.number(self._limit)))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._member.close()
        finally:
            super().close()


def _entry_count(path: Path, name: str) -> int | None:
    """Entries the zip declares in its end-of-central-directory record (zip64 too); None if not found
    (then :mod:`zipfile` says what is wrong)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, io.SEEK_END)
            size = handle.tell()
            tail_size = min(size, 22 + 65535 + 20)
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or len(tail) - at < 22:
                return None
            count: int = struct.unpack("<H", tail[at + 10:at + 12])[0]
            if count != 0xFFFF or at < 20 or tail[at - 20:at - 16] != b"PK\x06\x07":
                return count
            offset = struct.unpack("<Q", tail[at - 12:at - 4])[0]
            handle.seek(offset)
            record = handle.read(56)
            if record[:4] != b"PK\x06\x06" or len(record) < 40:
                return None
            return int(struct.unpack("<Q", record[32:40])[0])
    except OSError as exc:
        raise InvalidInput(_("{source}: cannot read: {error}").format(source=name, error=exc.strerror or exc)) from None
