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
from decimal import Decimal
from typing import IO, TYPE_CHECKING

from credits_cli.i18n import N_
from credits_cli.readers import _common as c
from credits_cli.readers._table import Column, CsvFormat, LinesConverter, Table
from credits_cli.readers.base import CallRecord, Item, RowError

if TYPE_CHECKING:
    import polars as pl

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


def read_stream(binary: IO[bytes], source: str) -> Iterator[Item]:
    """Parse the header now (a wrong file fails here), stream the rows lazily: plain blocks of lines
    as columns (:func:`_lines_converter`), anything else row by row."""
    table = Table.open(binary, source)
    at = table.positions(COLUMNS, N_("Teams PSTN usage export"))
    return table.columns(_converter(source, at), _lines_converter(source, at), at.values())


#: A field that needs no cleaning to be an id (what ``plain_id`` passes, in ASCII: at most
#: ``MAX_ID_CHARS`` of these, :func:`_plain_id`), a number, a start.
_PLAIN_ID = r"^[\x21-\x7e]+$"
_PLAIN_NUMBER = r"^\+?[0-9*]{1,20}$"
_PLAIN_START = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?Z$"


#: Columns beside a call's that keep Microsoft's charge and fee as read (their storage units are rounded).
EXACT = ("charge_exact", "fee_exact")


def _plain_id(column: str) -> pl.Expr:
    # (a counted repetition, {1,256}, makes the regular expression four times slower than + and a length)
    import polars as pl

    return pl.col(column).str.contains(_PLAIN_ID) & (pl.col(column).str.len_bytes() <= c.MAX_ID_CHARS)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _lines_converter(source: str, at: dict[str, int]) -> LinesConverter:
    """The columnar twin of :func:`_converter`: the lines whose fields are in the export's usual form
    are converted in columns (texts of few distinct values, such as call types and amounts, through
    the same parsers once per value); every other line goes through the per-row converter, so a line
    gives the same record or the same rejected row either way."""

    def convert_lines(lines: pl.DataFrame, convert: Callable[[list[str], int], CallRecord],
                      fields_of: Callable[[int], list[str]]) -> tuple[pl.DataFrame, list[RowError]]:
        import polars as pl

        from credits_cli.rating.chunk import NAMES, ChunkBuilder, ms_amounts

        def field(key: str) -> pl.Expr:
            return pl.col(f"f{at[key]}") if at[key] >= 0 else pl.lit("")

        f = lines.select(
            "line",
            *(field(k).alias(k) for k in ("id", "type", "start", "duration", "dest", "caller", "upn", "country",
                                          "conference", "fee", "charge", "currency", "capability")),
        )
        kinds = {}
        for (text,) in f.select("type").unique().iter_rows():
            try:
                kinds[text] = c.call_type(text, "Call Type")
            except ValueError:
                pass
        amounts: dict[tuple[str, str], tuple[int | None, int | None, int | None]] = {}
        exact_of: dict[str, str | None] = {}  # the amounts as read, for the records (Columns.items)
        fee_of: dict[str, str | None] = {}
        for charge_text, fee_text in f.select("charge", "fee").unique().iter_rows():
            try:
                charge, fee = c.parse_amount(charge_text, "Charge"), c.parse_amount(fee_text, "Connection Fee")
            except ValueError:
                continue
            amounts[(charge_text, fee_text)] = ms_amounts(charge, fee)
            exact_of[f"{charge_text}\x00{fee_text}"] = _text(charge)
            fee_of[fee_text] = _text(fee)
        codes = {}
        for (text,) in f.select("currency").unique().iter_rows():
            try:
                codes[text] = c.currency(text, "Currency") or ""
            except ValueError:
                pass
        licenses = {}
        for (text,) in f.select("capability").unique().iter_rows():
            try:
                licenses[text] = c.capability(text, "Capability") or ""
            except ValueError:
                pass
        places = {text: c.country(text) or "" for (text,) in f.select("country").unique().iter_rows()}
        kind = pl.col("type").replace_strict({k: v[0] for k, v in kinds.items()}, default=None,
                                             return_dtype=pl.String)
        inbound = pl.col("type").replace_strict({k: v[1] for k, v in kinds.items()}, default=None,
                                                return_dtype=pl.Boolean)
        direct = pl.col("type").replace_strict({k: v[2] for k, v in kinds.items()}, default=None,
                                               return_dtype=pl.Boolean)
        pair = pl.concat_str("charge", pl.lit("\x00"), "fee")
        money_of = {f"{a}\x00{b}": v for (a, b), v in amounts.items()}
        number = pl.when(inbound).then(pl.col("caller")).otherwise(
            pl.when(pl.col("dest") != "").then(pl.col("dest")).otherwise(pl.col("caller")))
        start = pl.col("start")
        # the fraction's first six digits, padded: a start of the export's form (_PLAIN_START, which ``ok`` checks)
        # has its seconds' fraction from its 21st character to the Z (none when the Z is the 20th)
        fraction = start.str.strip_suffix("Z").str.slice(20, 6)
        micros = (fraction + pl.lit("000000")).str.slice(0, 6).cast(pl.Int64, strict=False)
        parsed = start.str.slice(0, 19).str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False)
        f = f.with_columns(
            kind.alias("call_type"), direct.alias("direct_routing"), number.alias("number"),
            (parsed + pl.duration(microseconds=micros)).alias("when"),
            pl.col("duration").cast(pl.Int64, strict=False).alias("seconds"),
            pair.replace_strict({k: v[0] for k, v in money_of.items()}, default=None, return_dtype=pl.Int64)
            .alias("ms_charge"),
            pair.replace_strict({k: v[1] for k, v in money_of.items()}, default=None, return_dtype=pl.Int64)
            .alias("ms_fee"),
            pair.replace_strict({k: v[2] for k, v in money_of.items()}, default=None, return_dtype=pl.Int64)
            .alias("ms_total"),
            pair.is_in(pl.Series(list(money_of), dtype=pl.String).implode()).alias("money_ok"),
        )
        ok = (
            pl.col("call_type").is_not_null()
            & _plain_id("id")
            & ((pl.col("upn") == "") | _plain_id("upn"))
            & ((inbound & (pl.col("number") == "")) | pl.col("number").str.contains(_PLAIN_NUMBER))
            & pl.col("duration").str.contains(r"^[0-9]{1,7}$") & (pl.col("seconds") < c.WEEK)
            & ((pl.col("conference") == "") | _plain_id("conference"))
            & start.str.contains(_PLAIN_START) & pl.col("when").is_not_null()
            & pl.col("when").dt.year().is_between(c.MIN_YEAR, c.MAX_YEAR)
            & pl.col("money_ok")
            & pl.col("currency").is_in(pl.Series(list(codes), dtype=pl.String).implode())
            & pl.col("capability").is_in(pl.Series(list(licenses), dtype=pl.String).implode())
        ).fill_null(False)
        f = f.with_columns(ok.alias("ok"))
        good = f.filter(pl.col("ok")).select(
            pl.lit(source, dtype=pl.String).alias("source"), "line", pl.col("id").alias("external_id"),
            pl.col("upn").str.to_lowercase().alias("user_upn"), pl.col("when").alias("start"),
            pl.col("seconds").alias("duration_seconds"), "call_type", "number", "direct_routing",
            pl.col("country").replace_strict(places, default=None, return_dtype=pl.String).replace("", None)
            .alias("user_country"),
            pl.col("conference").replace("", None).alias("conference_id"),
            "ms_charge", "ms_fee", "ms_total",
            pl.col("currency").replace_strict(codes, default=None, return_dtype=pl.String).replace("", None)
            .alias("currency"),
            pl.col("capability").replace_strict(licenses, default=None, return_dtype=pl.String).replace("", None)
            .alias("capability"),
            pl.lit(None, dtype=pl.String).alias("operator"),
            pair.replace_strict({k: v for k, v in exact_of.items()}, default=None, return_dtype=pl.String)
            .alias(EXACT[0]),
            pl.col("fee").replace_strict(fee_of, default=None, return_dtype=pl.String).alias(EXACT[1]),
        )
        errors: list[RowError] = []
        builder = ChunkBuilder()
        exact: list[tuple[str | None, str | None]] = []
        for (line,) in f.filter(~pl.col("ok")).select("line").iter_rows():
            try:
                record = convert(fields_of(line), line)
            except ValueError as exc:
                errors.append(RowError(source, line, str(exc)))
                continue
            builder.add(record)
            exact.append((_text(record.charge), _text(record.connection_fee)))
        if len(builder):
            others = builder.take().select(name for name in NAMES if name != "seq").with_columns(
                pl.Series(EXACT[0], [e[0] for e in exact], dtype=pl.String),
                pl.Series(EXACT[1], [e[1] for e in exact], dtype=pl.String),
            )
            good = pl.concat([good, others]).sort("line")
        return good, errors

    return convert_lines


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
