"""The Teams admin center PSTN usage export (Calling Plans): ``PSTN.calls.<date>.csv``.

Columns as Microsoft documents them (Teams PSTN usage report, "Fields in the
export"): ``UsageId`` (unique), ``Call ID``, ``Conference ID``, ``User
Location``, ``AAD ObjectId``, ``UPN``, ``User Display Name``, ``Caller ID``,
``Call Type``, ``Number Type``, ``Domestic/International``, ``Destination
Dialed``, ``Destination Number``, ``Start Time``, ``End Time``, ``Duration
Seconds``, ``Connection Fee`` and ``Charge`` (``numeric(16, 2)``),
``Currency``, ``Capability``. Operator Connect tenants' exports have the same
columns with ``oc_*`` call types.

Columns are found by header name (case, spaces and punctuation ignored), so
reordered columns and the extra columns of newer exports are fine. The
delimiter is sniffed from the header line (old Skype for Business exports were
tab-separated under a ``.csv`` name). ``line`` is the physical line where the
row starts (1 = header). See :mod:`credits_cli.readers._table` for what a
record may be (field count, line length, lines per record).

The priced number: ``Destination Number`` (else ``Caller ID``) for outbound and
dial-out calls; ``Caller ID`` for inbound calls, which in this export is the
number that received the call. The call type is kept as exported,
lower-cased: which types cost what is the rating rules' business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from credits_cli.i18n import N_
from credits_cli.readers import _common as c
from credits_cli.readers._table import Column, CsvFormat, Table
from credits_cli.readers.base import CallRecord, RowError

NAME = "teams-csv"
COLUMNS = {
    "id": Column("UsageId", ("usageid",), required=True),
    "type": Column("Call Type", ("calltype",), required=True),
    "start": Column("Start Time", ("starttime",), required=True),
    "duration": Column("Duration Seconds", ("durationseconds", "duration"), required=True),
    "dest": Column("Destination Number", ("destinationnumber",)),
    "caller": Column("Caller ID", ("callerid", "callernumber")),
    "upn": Column("UPN", ("upn", "userprincipalname")),
    "country": Column("User Location", ("userlocation", "usagecountrycode", "usercountry")),
    "conference": Column("Conference ID", ("conferenceid",)),
    "fee": Column("Connection Fee", ("connectionfee", "connectioncharge")),
    "charge": Column("Charge", ("charge",)),
    "currency": Column("Currency", ("currency",)),
    "capability": Column("Capability", ("capability", "licensecapability")),
}


def matches(header: set[str] | list[str]) -> bool:
    return "usageid" in header and "calltype" in header


def read_stream(binary: IO[bytes], source: str) -> Iterator[CallRecord | RowError]:
    """Parse the header now (a wrong file fails here), stream the rows lazily."""
    table = Table.open(binary, source)
    return table.rows(_converter(source, table.positions(COLUMNS, N_("Teams PSTN usage export"))))


def _converter(source: str, at: dict[str, int]) -> Callable[[list[str], int], CallRecord]:
    """The per-row function: positions were found once, rows (as wide as the header) are indexed
    by position. An optional column that is absent reads as an empty field (the last one, '')."""
    i_id, i_type, i_start, i_dur = at["id"], at["type"], at["start"], at["duration"]
    i_dest, i_caller, i_upn, i_loc, i_conf = at["dest"], at["caller"], at["upn"], at["country"], at["conference"]
    i_fee, i_charge, i_cur, i_cap = at["fee"], at["charge"], at["currency"], at["capability"]
    clean_text, clean_upn, call_type, parse_number = c.clean_text, c.clean_upn, c.call_type, c.parse_number
    parse_duration, country, plain_id, plain_number = c.parse_duration, c.country, c.plain_id, c.plain_number
    parse_amount, currency, capability, parse_start = c.parse_amount, c.currency, c.capability, c.parse_start
    # The parsers' own caches, looked up here first: a function call per field is a tenth of a row's time.
    amounts, currencies, capabilities = c._amounts.get, c._currencies.get, c._capabilities.get
    call_types, countries, fromisoformat = c._call_types.get, c._countries.get, c._fromisoformat
    week, make_record, missing, min_year, max_year = c.WEEK, c.make_record, object(), c.MIN_YEAR, c.MAX_YEAR

    def convert(row: list[str], line: int) -> CallRecord:
        text = row[i_type]
        kind, inbound, direct = call_types(text) or call_type(text, "Call Type")
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
            upn = upn.lower() if plain_id(upn) is not None else clean_upn(upn)
        duration = row[i_dur]
        if duration.isdigit() and duration.isascii() and len(duration) < 8 and int(duration) < week:
            seconds = int(duration)
        else:
            seconds = parse_duration(duration, "Duration Seconds")
        conference = row[i_conf] if i_conf >= 0 else ""
        if conference and plain_id(conference) is None:
            conference = clean_text(conference, "Conference ID", required=False)
        when = row[i_start]
        start = None
        if when[-1:] == "Z":  # the export's form, naive UTC: 2026-10-01T00:07:33.1648641Z
            try:
                start = fromisoformat(when[:-1])
            except ValueError:
                pass
            else:
                if start.tzinfo is not None or not min_year <= start.year <= max_year:
                    start = None
        if start is None:
            start = parse_start(when, "Start Time")
        if i_loc >= 0:
            text = row[i_loc]
            where = countries(text, missing)
            if where is missing:
                where = country(text)
        else:
            where = None
        text = row[i_charge] if i_charge >= 0 else ""
        charge = amounts(text, missing)
        if charge is missing:
            charge = parse_amount(text, "Charge")
        text = row[i_fee] if i_fee >= 0 else ""
        fee = amounts(text, missing)
        if fee is missing:
            fee = parse_amount(text, "Connection Fee")
        text = row[i_cur] if i_cur >= 0 else ""
        code = currencies(text, missing)
        if code is missing:
            code = currency(text, "Currency")
        text = row[i_cap] if i_cap >= 0 else ""
        license_ = capabilities(text, missing)
        if license_ is missing:
            license_ = capability(text, "Capability")
        return make_record(
            source,
            line,
            call_id,
            upn,
            start,
            seconds,
            kind,
            number,
            direct,
            where,
            conference or None,
            charge,
            fee,
            code,
            license_,
            None,
        )

    return convert


READER = CsvFormat(NAME, matches, read_stream)
