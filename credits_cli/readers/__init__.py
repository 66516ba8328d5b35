"""Readers of call-record files, one module per format.

:func:`open_records` is the one entry point: it checks the file, picks the
reader by content (or the one asked for) and returns the format's name and a
stream of :class:`CallRecord` and :class:`RowError` values. A file that cannot
be read at all raises :class:`InvalidInput` with one line naming it.

A ``Calls.Export.*.zip`` from the Teams admin center is read in place: each
``PSTN.calls.*.csv`` and ``DirectRouting.calls.*.csv`` member, in name order,
streamed without unpacking; records carry ``"<zip>!<member>"`` as their source.
"""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from credits_cli.errors import InvalidInput
from credits_cli.readers import _common, direct_routing, graph_json, own_csv, teams_csv
from credits_cli.readers.base import CallRecord, Reader, RowError

__all__ = ["CallRecord", "RowError", "Reader", "READERS", "FORMATS", "ZIP_FORMAT", "open_records"]

READERS: dict[str, Reader] = {
    teams_csv.NAME: teams_csv.READER,
    direct_routing.NAME: direct_routing.READER,
    graph_json.NAME: graph_json.READER,
    own_csv.NAME: own_csv.READER,
}
FORMATS = ("auto", *READERS)
ZIP_FORMAT = "teams-export-zip"
HEAD_BYTES = 8192
_EXPECTED = ("expected a Teams PSTN usage export (CSV or Calls.Export zip), a Direct Routing export, "
             "Graph getPstnCalls JSON or a call_id,user,start,duration_seconds,kind,number CSV")


def open_records(path: Path, fmt: str = "auto") -> tuple[str, Iterator[CallRecord | RowError]]:
    """(format name, records) for ``path``; ``fmt`` is ``auto`` or one of :data:`READERS`."""
    path = Path(path)
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if path.is_dir():
        raise InvalidInput(f"{path}: is a folder, not a call-record file")
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    name = path.name
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise InvalidInput(f"{name}: the file is empty; {_EXPECTED}")
    if head.startswith(b"PK\x03\x04") and fmt in ("auto", teams_csv.NAME, direct_routing.NAME):
        return ZIP_FORMAT, _read_zip(path)
    _check_text(head, name)
    if fmt != "auto":
        return fmt, READERS[fmt].read(path)
    for reader in READERS.values():
        if reader.identify(path, head):
            return reader.name, reader.read(path)
    raise InvalidInput(f"{name}: not a call-record file I know; {_EXPECTED}")


def _check_text(head: bytes, name: str) -> None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(head):
        raise InvalidInput(f"{name}: UTF-16 is not supported, save as UTF-8")
    if head.startswith(b"PK\x03\x04"):
        raise InvalidInput(f"{name}: a zip file (or Excel workbook); {_EXPECTED}")
    if b"\x00" in head.split(b"\n", 1)[0]:  # NULs in rows are row errors; in the header, not text
        raise InvalidInput(f"{name}: binary content, not text; {_EXPECTED}")


def _looks_utf16(head: bytes) -> bool:
    sample = head[:512]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return even.count(0) > len(even) // 2 or odd.count(0) > len(odd) // 2


def _is_member(name: str) -> bool:
    base = posixpath.basename(name).lower()
    return base.endswith(".csv") and base.startswith(("pstn.calls.", "directrouting.calls."))


def _read_zip(path: Path) -> Iterator[CallRecord | RowError]:
    """Open the zip now (a broken or foreign zip fails here); stream the members lazily."""
    try:
        archive = zipfile.ZipFile(path)
        members = sorted((i for i in archive.infolist() if not i.is_dir() and _is_member(i.filename)),
                         key=lambda i: i.filename)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise InvalidInput(f"{path.name}: not a readable zip file: {exc}") from None
    if not members:
        names = {i.filename for i in archive.infolist()}
        archive.close()
        if "[Content_Types].xml" in names:
            raise InvalidInput(f"{path.name}: an Excel workbook; save it as CSV (UTF-8) first")
        raise InvalidInput(f"{path.name}: the zip holds no PSTN.calls.*.csv or DirectRouting.calls.*.csv")
    return _zip_records(path, archive, members)


def _zip_records(path: Path, archive: zipfile.ZipFile,
                 members: list[zipfile.ZipInfo]) -> Iterator[CallRecord | RowError]:
    with archive:
        for info in members:
            source = f"{path.name}!{posixpath.basename(info.filename)}"
            try:
                with archive.open(info) as member:
                    head = member.read(HEAD_BYTES)
                if not head.strip(b" \t\r\n\xef\xbb\xbf"):
                    continue  # an export of a day without calls
                _check_text(head, source)
                header = _common.head_header(head)
                module = teams_csv if teams_csv.matches(header) else direct_routing
                if not (teams_csv.matches(header) or direct_routing.matches(header)):
                    raise InvalidInput(f"{source}: neither a Teams PSTN usage export nor a Direct Routing export")
                yield from module.read_stream(archive.open(info), source)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error, RuntimeError, NotImplementedError) as exc:
                # RuntimeError: an encrypted member; NotImplementedError: an unsupported compression.
                raise InvalidInput(f"{source}: the zip member cannot be read: {exc}") from None
