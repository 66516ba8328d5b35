"""The Teams admin center Direct Routing export: ``DirectRouting.calls.<date>.csv``.

Direct Routing calls go over the organisation's own carrier (an SBC), so they
are recorded, never paid from credits: every record has ``direct_routing=True``.
Columns are found by header name; ``Call type`` is lower-cased (``Dr_In`` ->
``dr_in``). The number is ``Callee Number``; the start is ``Start time``, or
``Invite time`` for a call that never connected, whose empty duration reads as 0.
``line`` is the physical line where the row starts (1 = header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from credits_cli.readers import _common as c
from credits_cli.readers.base import CallRecord, RowError

NAME = "direct-routing-csv"
_COLUMNS = {
    "CorrelationId": ("correlationid",),
    "Call type": ("calltype",),
    "Start time": ("starttime", "invitetime"),
    "Duration (seconds)": ("durationseconds", "duration"),
    "Callee Number": ("calleenumber",),
}


def matches(header: set[str] | list[str]) -> bool:
    return "correlationid" in header and "calltype" in header and "usageid" not in header


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    text, header, reader, header_line, cols = c.open_table(binary, source, "Direct Routing export", _COLUMNS)
    convert = _converter(
        source,
        cols["CorrelationId"],
        cols["Call type"],
        c.column(header, "starttime"),
        c.column(header, "invitetime"),
        cols["Duration (seconds)"],
        cols["Callee Number"],
        c.column(header, "upn", "userprincipalname"),
        c.column(header, "usercountry", "userlocation"),
    )
    return c.drive(text, reader, source, header_line, convert)


def _converter(source: str, i_id: int, i_type: int, i_start: int, i_invite: int, i_dur: int, i_callee: int,
               i_upn: int, i_loc: int) -> Callable[[list[str], int], CallRecord]:
    needed = max(i_id, i_type, i_dur, i_callee, i_start, i_invite) + 1
    width = max(needed, i_upn, i_loc) + 1

    def convert(row: list[str], line: int) -> CallRecord:
        if len(row) < width:
            if len(row) < needed:
                raise ValueError(f"row has {len(row)} columns; the header has more")
            row = row + [""] * (width - len(row))
        kind = c.call_type(row[i_type], "Call type")[0]
        when = row[i_start].strip() if i_start >= 0 else ""
        if not when and i_invite >= 0:
            when = row[i_invite].strip()
        upn = row[i_upn] if i_upn >= 0 else ""
        return c.make_record(
            source,
            line,
            c.clean_text(row[i_id], "CorrelationId"),
            c.clean_text(upn, "UPN", required=False).lower() if upn else "",
            c.parse_start(when, "Start time"),
            c.parse_duration(row[i_dur].strip() or "0", "Duration (seconds)"),
            kind,
            c.parse_number(row[i_callee].strip(), required=False),
            True,
            c.country(row[i_loc]) if i_loc >= 0 else None,
            None,
        )

    return convert


READER = c.CsvFormat(NAME, matches, read_stream)
