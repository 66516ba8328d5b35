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

from collections.abc import Iterator
from pathlib import Path
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


class TeamsCsvReader:
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
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    text = c.text_stream(binary)
    header, rows = c.open_csv(text, source)
    cols = c.require(header, source, "Teams PSTN usage export", _COLUMNS)
    positions = (
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
    return _records(text, rows, source, positions)


def _records(text: IO[str], rows: Iterator[tuple[int, list[str]] | RowError], source: str,
             positions: tuple[int, ...]) -> Iterator[CallRecord | RowError]:
    i_id, i_type, i_start, i_dur, i_dest, i_caller, i_upn, i_loc, i_conf = positions
    needed = max(i_id, i_type, i_start, i_dur) + 1
    width = max(positions) + 1
    parse_start, parse_duration, parse_number = c.parse_start, c.parse_duration, c.parse_number
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
                call_id = c.clean_text(row[i_id], "UsageId")
                call_type = row[i_type].strip().lower()
                if not call_type:
                    raise ValueError("Call Type is empty")
                inbound = c.is_inbound(call_type)
                if inbound:
                    number = parse_number(row[i_caller] if i_caller >= 0 else "", required=False)
                else:
                    raw = row[i_dest] if i_dest >= 0 else ""
                    if not raw.strip() and i_caller >= 0:
                        raw = row[i_caller]
                    number = parse_number(raw, required=True)
                upn = c.clean_text(row[i_upn], "UPN", required=False).lower() if i_upn >= 0 else ""
                record = CallRecord(
                    source,
                    line,
                    call_id,
                    upn,
                    parse_start(row[i_start], "Start Time"),
                    parse_duration(row[i_dur], "Duration Seconds"),
                    call_type,
                    number,
                    c.is_direct_routing(call_type),
                    c.country(row[i_loc]) if i_loc >= 0 else None,
                    (c.clean_text(row[i_conf], "Conference ID", required=False) or None) if i_conf >= 0 else None,
                )
            except ValueError as exc:
                yield RowError(source, line, str(exc))
                continue
            yield record
    finally:
        text.close()


READER = TeamsCsvReader()
