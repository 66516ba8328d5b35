"""The project's own call-record CSV: ``call_id,user,start,duration_seconds,kind,number``.

``kind`` is ``outbound`` (-> ``user_out``), ``inbound`` (-> ``user_in``; the
number is the one that received the call) or ``dialout`` (-> ``conf_out``).
An optional ``country`` column gives the user's country. Columns may come in
any order; ``line`` is the physical line where the row starts (1 = header).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from credits_cli.i18n import N_, _
from credits_cli.readers import _common as c
from credits_cli.readers._table import Column, CsvFormat, Table
from credits_cli.readers.base import CallRecord, RowError

NAME = "csv"
KINDS = {"outbound": "user_out", "inbound": "user_in", "dialout": "conf_out", "dial-out": "conf_out"}
COLUMNS = {
    "id": Column("call_id", ("callid",), required=True),
    "user": Column("user", ("user", "upn"), required=True),
    "start": Column("start", ("start",), required=True),
    "duration": Column("duration_seconds", ("durationseconds",), required=True),
    "kind": Column("kind", ("kind",), required=True),
    "number": Column("number", ("number",), required=True),
    "country": Column("country", ("country",)),
}


def matches(header: set[str] | list[str]) -> bool:
    return "callid" in header and "kind" in header and "number" in header


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    table = Table.open(binary, source)
    at = table.positions(COLUMNS, N_("call-record CSV (call_id,user,start,duration_seconds,kind,number)"))
    return table.rows(_converter(source, at))


def _converter(source: str, at: dict[str, int]) -> Callable[[list[str], int], CallRecord]:
    i_id, i_user, i_start, i_dur, i_kind, i_number, i_country = (
        at["id"], at["user"], at["start"], at["duration"], at["kind"], at["number"], at["country"])

    def convert(row: list[str], line: int) -> CallRecord:
        call_type = KINDS.get(row[i_kind].strip().lower())
        if call_type is None:
            raise ValueError(_("kind {value} is not outbound, inbound or dialout").format(value=repr(row[i_kind][:40])))
        user = row[i_user]
        return c.make_record(
            source,
            line,
            c.clean_text(row[i_id], "call_id"),
            c.clean_upn(user, "user") if user else "",
            c.parse_start(row[i_start].strip(), "start"),
            c.parse_duration(row[i_dur], "duration_seconds"),
            call_type,
            c.parse_number(row[i_number].strip(), required=call_type != "user_in"),
            False,
            c.country(row[i_country]) if i_country >= 0 else None,
            None,
        )

    return convert


READER = CsvFormat(NAME, matches, read_stream)
