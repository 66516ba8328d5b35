"""The Teams admin center Direct Routing export: ``DirectRouting.calls.<date>.csv``.

Columns (Teams PSTN usage report, Direct Routing): ``CorrelationId``, ``AAD
ObjectId``, ``UPN``, ``Display Name``, ``User country``, ``Invite time``,
``Start time``, ``Failure time``, ``End time``, ``Duration (seconds)``,
``Success``, ``Caller Number``, ``Callee Number``, ``Call type``, ``Azure
region for Media``, ``Azure region for Signaling``, ``Final SIP code``,
``Final Microsoft subcode``, ``Final SIP Phrase``, ``SBC FQDN``, ``Media
bypass``, ``Shared correlation ID``.

Direct Routing calls go over the organisation's own carrier (an SBC), so they
are recorded, never paid from credits: every record has ``direct_routing=True``.
Columns are found by header name; ``Call type`` is lower-cased (``Dr_In`` ->
``dr_in``). The number is ``Callee Number``; the start is ``Start time``, or
``Invite time`` for a call that never connected, whose empty duration reads as
0. Caller and callee may hold what an SBC sent rather than a number (a name,
a PBX extension): a callee that is not a phone number leaves ``number``
empty rather than rejecting the row. ``line`` is the physical line where the
row starts (1 = header).

**One record per leg.** The legs of one call (a transfer, a forward) can
share a ``CorrelationId``. Each row is its own record, whose ``external_id``
is the CorrelationId followed by ``#`` and 12 hex digits of a SHA-256 of what
makes the leg that leg: invite and start time, call type, caller, callee,
UPN and duration (see :func:`leg_id`). It is computed from the row alone, so
importing the same file again, or the same call in the next day's export,
gives the same ids and changes nothing; legs that differ in any of these get
different ids and none is taken for a duplicate of another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO

from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _
from credits_cli.readers import _common as c
from credits_cli.readers._table import Column, CsvFormat, Table
from credits_cli.readers.base import CallRecord, RowError

NAME = "direct-routing-csv"
COLUMNS = {
    "id": Column("CorrelationId", ("correlationid",), required=True),
    "type": Column("Call type", ("calltype",), required=True),
    "start": Column("Start time", ("starttime",)),
    "invite": Column("Invite time", ("invitetime",)),
    "duration": Column("Duration (seconds)", ("durationseconds", "duration"), required=True),
    "callee": Column("Callee Number", ("calleenumber",), required=True),
    "caller": Column("Caller Number", ("callernumber",)),
    "upn": Column("UPN", ("upn", "userprincipalname", "sipaddress")),
    "country": Column("User country", ("usercountry", "userlocation")),
}


def matches(header: set[str] | list[str]) -> bool:
    return "correlationid" in header and "calltype" in header and "usageid" not in header


def leg_id(correlation_id: str, invite: datetime | None, start: datetime | None, call_type: str, caller: str,
           callee: str, upn: str, seconds: int) -> str:
    """``<CorrelationId>#<12 hex digits>``: the identity of one leg of a Direct Routing call.

    The digest is taken over the leg's normalised values (times as ISO text,
    the call type and UPN lower-cased, numbers as written, stripped), so a file
    re-saved with other time formatting keeps its ids. What a leg's outcome
    says (SIP codes, SBC, media region) is left out: it tells how the leg went,
    not which leg it is.
    """
    parts = (invite.isoformat() if invite else "", start.isoformat() if start else "", call_type, caller, callee,
             upn, str(seconds))
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", errors="replace")).hexdigest()
    return f"{correlation_id}#{digest[:12]}"


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    table = Table.open(binary, source)
    at = table.positions(COLUMNS, N_("Direct Routing export"))
    if at["start"] < 0 and at["invite"] < 0:
        table.binary.close()
        raise InvalidInput(_("{source}: not a {fmt}: missing column(s) {columns}").format(
            source=source, fmt=_("Direct Routing export"), columns="Start time"))
    return table.rows(_converter(source, at))


def _converter(source: str, at: dict[str, int]) -> Callable[[list[str], int], CallRecord]:
    i_id, i_type, i_start, i_invite, i_dur = at["id"], at["type"], at["start"], at["invite"], at["duration"]
    i_callee, i_caller, i_upn, i_loc = at["callee"], at["caller"], at["upn"], at["country"]

    def time_of(row: list[str], i: int, what: str) -> datetime | None:
        text = row[i].strip() if i >= 0 else ""
        return c.parse_start(text, what) if text else None

    def convert(row: list[str], line: int) -> CallRecord:
        correlation = c.clean_text(row[i_id], "CorrelationId")
        kind = c.call_type(row[i_type], "Call type")[0]
        start = time_of(row, i_start, "Start time")
        invite = time_of(row, i_invite, "Invite time")
        when = start or invite
        if when is None:
            raise ValueError(_("{what} is empty").format(what="Start time"))
        upn = row[i_upn] if i_upn >= 0 else ""
        upn = c.clean_upn(upn) if upn else ""
        seconds = c.parse_duration(row[i_dur].strip() or "0", "Duration (seconds)")
        callee = c.clean_text(row[i_callee], "Callee Number", required=False)
        caller = c.clean_text(row[i_caller], "Caller Number", required=False) if i_caller >= 0 else ""
        try:
            number = c.parse_number(callee, required=False)
        except ValueError:
            number = ""  # an SBC sent a name or an extension: no number to keep
        return c.make_record(
            source,
            line,
            leg_id(correlation, invite, start, kind, caller, callee, upn, seconds),
            upn,
            when,
            seconds,
            kind,
            number,
            True,
            c.country(row[i_loc]) if i_loc >= 0 else None,
            None,
        )

    return convert


READER = CsvFormat(NAME, matches, read_stream)
