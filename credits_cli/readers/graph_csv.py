"""Graph call-log rows in CSV form: what PowerShell's ``Export-Csv`` writes of ``getPstnCalls`` or
``getDirectRoutingCalls`` rows (Microsoft Graph v1.0 ``pstnCallLogRow``, ``directRoutingLogRow``).

Recognised by its header, which holds Graph's own field names: ``id``,
``callType`` and ``startDateTime`` (``inviteDateTime``), in any case (Graph's
camelCase, or the Graph PowerShell SDK's PascalCase), e.g. ``id, callId,
userId, userPrincipalName, userDisplayName, startDateTime, endDateTime,
duration, charge, callType, currency, calleeNumber, usageCountryCode,
tenantCountryCode, connectionCharge, callerNumber, destinationContext,
destinationName, conferenceId, licenseCapability, inventoryType, operator,
callDurationSource``. Windows PowerShell 5.1 writes a ``#TYPE
System.Management.Automation.PSCustomObject`` line first and quotes every
field; both are fine. Each row means what the same row means in JSON
(:mod:`credits_cli.readers._graph`): an empty field is a null.

``line`` is the physical line where the row starts (1 = the file's first
line, the ``#TYPE`` line when there is one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from credits_cli.i18n import N_
from credits_cli.readers import _graph
from credits_cli.readers._table import Column, CsvFormat, Table
from credits_cli.readers.base import CallRecord, RowError

NAME = "graph-csv"
COLUMNS = {
    "type": Column("callType", ("calltype",), required=True),
    "duration": Column("duration", ("duration",), required=True),
    "start": Column("startDateTime", ("startdatetime", "invitedatetime"), required=True),
}


def matches(header: set[str] | list[str]) -> bool:
    return "calltype" in header and ("id" in header or "correlationid" in header) and (
        "startdatetime" in header or "invitedatetime" in header)


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    table = Table.open(binary, source)
    table.positions(COLUMNS, N_("Graph call log in CSV form"))
    return table.rows(_converter(source, list(table.header)))


def _converter(source: str, header: list[str]) -> Callable[[list[str], int], CallRecord]:
    convert_row = _graph.converter(source)

    def convert(row: list[str], line: int) -> CallRecord:
        return convert_row(dict(zip(header, row, strict=True)), line)

    return convert


READER = CsvFormat(NAME, matches, read_stream)
