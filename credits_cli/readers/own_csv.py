"""The project's own call-record CSV: ``call_id,user,start,duration_seconds,kind,number``.

``kind`` is ``outbound`` (-> ``user_out``), ``inbound`` (-> ``user_in``; the
number is the one that received the call) or ``dialout`` (-> ``conf_out``).
An optional ``country`` column gives the user's country. Columns may come in
any order; ``line`` is the physical line where the row starts (1 = header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    fmt = "call-record CSV (call_id,user,start,duration_seconds,kind,number)"
    text, header, reader, header_line, cols = c.open_table(binary, source, fmt, _COLUMNS)
    convert = _converter(source, cols["call_id"], cols["user"], cols["start"], cols["duration_seconds"],
                         cols["kind"], cols["number"], c.column(header, "country"))
    return c.drive(text, reader, source, header_line, convert)


def _converter(source: str, i_id: int, i_user: int, i_start: int, i_dur: int, i_kind: int, i_number: int,
               i_country: int) -> Callable[[list[str], int], CallRecord]:
    needed = max(i_id, i_user, i_start, i_dur, i_kind, i_number) + 1
    width = max(needed, i_country + 1)

    def convert(row: list[str], line: int) -> CallRecord:
        if len(row) < width:
            if len(row) < needed:
                raise ValueError(f"row has {len(row)} columns; the header has more")
            row = row + [""] * (width - len(row))
        call_type = KINDS.get(row[i_kind].strip().lower())
        if call_type is None:
            raise ValueError(f"kind {row[i_kind][:40]!r} is not outbound, inbound or dialout")
        user = row[i_user]
        return c.make_record(
            source,
            line,
            c.clean_text(row[i_id], "call_id"),
            c.clean_text(user, "user", required=False).lower() if user else "",
            c.parse_start(row[i_start].strip(), "start"),
            c.parse_duration(row[i_dur], "duration_seconds"),
            call_type,
            c.parse_number(row[i_number].strip(), required=call_type != "user_in"),
            False,
            c.country(row[i_country]) if i_country >= 0 else None,
            None,
        )

    return convert


READER = c.CsvFormat(NAME, matches, read_stream)
