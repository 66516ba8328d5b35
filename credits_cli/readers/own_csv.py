"""The project's own call-record CSV: ``call_id,user,start,duration_seconds,kind,number``.

``kind`` is ``outbound`` (-> ``user_out``), ``inbound`` (-> ``user_in``; the
number is the one that received the call) or ``dialout`` (-> ``conf_out``).
An optional ``country`` column gives the user's country. Columns may come in
any order; ``line`` is the physical line where the row starts (1 = header).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from credits_cli.readers import _common as c
from credits_cli.readers.base import CallRecord, RowError

NAME = "csv"
KINDS = {"outbound": "user_out", "inbound": "user_in", "dialout": "conf_out", "dial-out": "conf_out"}
_COLUMNS = {
    "call_id": ("callid",),
    "user": ("user", "upn"),
    "start": ("start",),
    "duration_seconds": ("durationseconds",),
    "kind": ("kind",),
    "number": ("number",),
}


def matches(header: set[str] | list[str]) -> bool:
    return "callid" in header and "kind" in header and "number" in header


class OwnCsvReader:
    name = NAME

    def identify(self, path: Path, head: bytes) -> bool:
        return matches(c.head_header(head))

    def read(self, path: Path) -> Iterator[CallRecord | RowError]:
        binary = open(path, "rb")  # closed by the row generator
        try:
            return read_stream(binary, path.name)
        except BaseException:
            binary.close()
            raise


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    text = c.text_stream(binary)
    header, rows = c.open_csv(text, source)
    cols = c.require(header, source, "call-record CSV (call_id,user,start,duration_seconds,kind,number)", _COLUMNS)
    positions = (cols["call_id"], cols["user"], cols["start"], cols["duration_seconds"], cols["kind"],
                 cols["number"], c.column(header, "country"))
    return _records(text, rows, source, positions)


def _records(text: IO[str], rows: Iterator[tuple[int, list[str]] | RowError], source: str,
             positions: tuple[int, ...]) -> Iterator[CallRecord | RowError]:
    i_id, i_user, i_start, i_dur, i_kind, i_number, i_country = positions
    needed = max(positions[:6]) + 1
    width = max(positions) + 1
    try:
        for item in rows:
            if isinstance(item, RowError):
                yield item
                continue
            line, row = item
            if len(row) < needed:
                yield RowError(source, line, f"row has {len(row)} columns; the header has more")
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))
            try:
                kind = row[i_kind].strip().lower()
                call_type = KINDS.get(kind)
                if call_type is None:
                    raise ValueError(f"kind {row[i_kind][:40]!r} is not outbound, inbound or dialout")
                record = CallRecord(
                    source,
                    line,
                    c.clean_text(row[i_id], "call_id"),
                    c.clean_text(row[i_user], "user", required=False).lower(),
                    c.parse_start(row[i_start], "start"),
                    c.parse_duration(row[i_dur], "duration_seconds"),
                    call_type,
                    c.parse_number(row[i_number], required=call_type != "user_in"),
                    False,
                    c.country(row[i_country]) if i_country >= 0 else None,
                    None,
                )
            except ValueError as exc:
                yield RowError(source, line, str(exc))
                continue
            yield record
    finally:
        text.close()


READER = OwnCsvReader()
