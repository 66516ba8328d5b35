"""The Teams admin center PSTN usage export (Calling Plans): ``PSTN.calls.<date>.csv``.

Columns are found by header name (case, spaces and punctuation ignored), so
reordered columns and the extra columns of newer exports are fine. The file is
UTF-8 with or without a byte order mark; the delimiter is sniffed from the
header line (old Skype for Business exports were tab-separated under a
``.csv`` name). ``line`` is the physical line where the row starts (1 = header).

The priced number: ``Destination Number`` (else ``Caller ID``) for outbound and
dial-out calls; ``Caller ID`` for inbound calls, which in this export is the
number that received the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from credits_cli.readers import _common as c
from credits_cli.readers.base import CallRecord, RowError

NAME = "teams-csv"
_COLUMNS = {
    "UsageId": ("usageid",),
    "Call Type": ("calltype",),
    "Start Time": ("starttime",),
    "Duration Seconds": ("durationseconds", "duration"),
}


def matches(header: set[str] | list[str]) -> bool:
    return "usageid" in header and "calltype" in header


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    text, header, reader, header_line, cols = c.open_table(binary, source, "Teams PSTN usage export", _COLUMNS)
    convert = _converter(
        source,
        cols["UsageId"],
        cols["Call Type"],
        cols["Start Time"],
        cols["Duration Seconds"],
        c.column(header, "destinationnumber"),
        c.column(header, "callerid", "callernumber"),
        c.column(header, "upn", "userprincipalname"),
        c.column(header, "userlocation", "usagecountrycode", "usercountry"),
        c.column(header, "conferenceid"),
    )
    return c.drive(text, reader, source, header_line, convert)


def _converter(source: str, i_id: int, i_type: int, i_start: int, i_dur: int, i_dest: int, i_caller: int,
               i_upn: int, i_loc: int, i_conf: int) -> Callable[[list[str], int], CallRecord]:
    """The per-row function: positions were found once, rows are indexed by position."""
    needed = max(i_id, i_type, i_start, i_dur) + 1
    width = max(needed, i_dest + 1, i_caller + 1, i_upn + 1, i_loc + 1, i_conf + 1)
    pad = [""] * width
    clean_text, call_type, parse_number, parse_duration = c.clean_text, c.call_type, c.parse_number, c.parse_duration
    fast_start, country, plain_id, plain_number = c.fast_start, c.country, c.plain_id, c.plain_number
    max_duration, make_record = c.MAX_DURATION, c.make_record

    def convert(row: list[str], line: int) -> CallRecord:
        if len(row) < width:
            if len(row) < needed:
                raise ValueError(f"row has {len(row)} columns; the header has more")
            row = row + pad[len(row):]
        kind, inbound, direct = call_type(row[i_type], "Call Type")
        if inbound:
            number = row[i_caller] if i_caller >= 0 else ""
            if number and plain_number(number) is None:
                number = parse_number(number.strip(), required=False)
        else:
            number = (row[i_dest] if i_dest >= 0 else "") or (row[i_caller] if i_caller >= 0 else "")
            if plain_number(number) is None:
                number = parse_number(number.strip(), required=True)
        call_id = row[i_id]
        if plain_id(call_id) is None:
            call_id = clean_text(call_id, "UsageId")
        upn = row[i_upn] if i_upn >= 0 else ""
        if upn:
            upn = (upn if plain_id(upn) is not None else clean_text(upn, "UPN", required=False)).lower()
        duration = row[i_dur]
        if duration.isdigit() and duration.isascii() and len(duration) < 8 and int(duration) <= max_duration:
            seconds = int(duration)
        else:
            seconds = parse_duration(duration, "Duration Seconds")
        conference = row[i_conf] if i_conf >= 0 else ""
        if conference and plain_id(conference) is None:
            conference = clean_text(conference, "Conference ID", required=False)
        return make_record(
            source,
            line,
            call_id,
            upn,
            fast_start(row[i_start], "Start Time"),
            seconds,
            kind,
            number,
            direct,
            country(row[i_loc]) if i_loc >= 0 else None,
            conference or None,
        )

    return convert


READER = c.CsvFormat(NAME, matches, read_stream)
