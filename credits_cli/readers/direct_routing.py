"""The Teams admin center Direct Routing export: ``DirectRouting.calls.<date>.csv``.

Direct Routing calls go over the organisation's own carrier (an SBC), so they
are recorded, never paid from credits: every record has ``direct_routing=True``.
Columns are found by header name; ``Call type`` is lower-cased (``Dr_In`` ->
``dr_in``). The number is ``Callee Number``; the start is ``Start time``, or
``Invite time`` for a call that never connected, whose empty duration reads as 0.
``line`` is the physical line where the row starts (1 = header).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
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


class DirectRoutingReader:
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
    cols = c.require(header, source, "Direct Routing export", _COLUMNS)
    positions = (
        cols["CorrelationId"],
        cols["Call type"],
        c.column(header, "starttime"),
        c.column(header, "invitetime"),
        cols["Duration (seconds)"],
        cols["Callee Number"],
        c.column(header, "upn", "userprincipalname"),
        c.column(header, "usercountry", "userlocation"),
    )
    return _records(text, rows, source, positions)


def _records(text: IO[str], rows: Iterator[tuple[int, list[str]] | RowError], source: str,
             positions: tuple[int, ...]) -> Iterator[CallRecord | RowError]:
    i_id, i_type, i_start, i_invite, i_dur, i_callee, i_upn, i_loc = positions
    needed = max(i_id, i_type, i_dur, i_callee, i_start, i_invite) + 1
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
                call_id = c.clean_text(row[i_id], "CorrelationId")
                call_type = row[i_type].strip().lower()
                if not call_type:
                    raise ValueError("Call type is empty")
                when = row[i_start].strip() if i_start >= 0 else ""
                if not when and i_invite >= 0:
                    when = row[i_invite].strip()
                duration = row[i_dur].strip() or "0"
                record = CallRecord(
                    source,
                    line,
                    call_id,
                    c.clean_text(row[i_upn], "UPN", required=False).lower() if i_upn >= 0 else "",
                    c.parse_start(when, "Start time"),
                    c.parse_duration(duration, "Duration (seconds)"),
                    call_type,
                    c.parse_number(row[i_callee], required=False),
                    True,
                    c.country(row[i_loc]) if i_loc >= 0 else None,
                    None,
                )
            except ValueError as exc:
                yield RowError(source, line, str(exc))
                continue
            yield record
    finally:
        text.close()


READER = DirectRoutingReader()
