"""Call records as columns: what the rule book works on.

A chunk is a :class:`polars.DataFrame` of at most :data:`CHUNK_ROWS`
calls with the columns of :data:`SCHEMA`, one per field of
:class:`credits_cli.readers.base.CallRecord` (Microsoft's amounts already in
integer storage units), plus ``seq``, the record's place in the run's input
(equal start times keep that order). :class:`ChunkBuilder` turns records into
chunks; a reader that has columns already (the Teams export) hands over a
:class:`Columns` item instead of records, and the two meet here.

Microsoft's charge and connection fee arrive as exact ``Decimal`` values (any
number of places): each is kept rounded to the ledger's places, and their sum
(what ``--charges export`` debits) is rounded once, as the rules say, in
``ms_total`` (SPEC §6.8).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from credits_cli import money
from credits_cli.readers.base import CallRecord, Columns, frame_records

if TYPE_CHECKING:
    import polars as pl

#: Calls per chunk: the unit of columnar work and of memory (a transaction rates one or more chunks).
#: Each chunk costs the same few milliseconds of fixed work (polars calls, look-ups, statements): 15,000
#: rather than 10,000 rated a million calls about 1.2 s sooner, for 15 MB more at the peak; 20,000 went
#: past 250 MB (bench/RESULTS.md).
CHUNK_ROWS = 15_000

#: Column -> polars type name (see :func:`schema`); the order of a chunk's columns.
COLUMNS = (
    ("seq", "Int64"),
    ("source", "String"),
    ("line", "Int64"),
    ("external_id", "String"),
    ("user_upn", "String"),
    ("start", "Datetime"),
    ("duration_seconds", "Int64"),
    ("call_type", "String"),
    ("number", "String"),
    ("direct_routing", "Boolean"),
    ("user_country", "String"),
    ("conference_id", "String"),
    ("ms_charge", "Int64"),  # Microsoft's charge, storage units (None: the export had none)
    ("ms_fee", "Int64"),  # Microsoft's connection fee, storage units
    ("ms_total", "Int64"),  # their sum rounded once: what --charges export debits
    ("currency", "String"),
    ("capability", "String"),
    ("operator", "String"),
)
NAMES = tuple(name for name, _ in COLUMNS)


def schema() -> dict[str, Any]:
    import polars as pl

    types: dict[str, Any] = {"Int64": pl.Int64, "String": pl.String, "Boolean": pl.Boolean,
                             "Datetime": pl.Datetime("us")}
    return {name: types[kind] for name, kind in COLUMNS}


def _units(value: Decimal | None) -> int | None:
    return None if value is None else money.to_units(money.round_money(value))


def ms_amounts(charge: Decimal | None, fee: Decimal | None) -> tuple[int | None, int | None, int | None]:
    """Microsoft's charge and fee in storage units, and their sum rounded once (None without a charge)."""
    total = None if charge is None else money.to_units(money.round_money(charge + (fee or money.ZERO)))
    return _units(charge), _units(fee), total


class ChunkBuilder:
    """Records in, chunks of at most ``rows`` out, numbered in the order they came."""

    def __init__(self, rows: int = CHUNK_ROWS) -> None:
        self.rows = rows
        self.seq = 0
        self._lists: list[list[Any]] = [[] for _ in NAMES]
        self._amounts: dict[tuple[Decimal | None, Decimal | None], tuple[int | None, int | None, int | None]] = {}

    def __len__(self) -> int:
        return len(self._lists[0])

    def add(self, r: CallRecord) -> None:
        key = (r.charge, r.connection_fee)
        found = self._amounts.get(key)
        if found is None:
            found = ms_amounts(r.charge, r.connection_fee)
            if len(self._amounts) < 10_000:
                self._amounts[key] = found
        lists = self._lists
        for target, value in zip(lists, (
            self.seq, r.source, r.line, r.external_id, r.user_upn, r.start, r.duration_seconds, r.call_type,
            r.number, r.direct_routing, r.user_country, r.conference_id, found[0], found[1], found[2], r.currency,
            r.capability,
            r.operator,
        ), strict=True):
            target.append(value)
        self.seq += 1

    def take(self) -> pl.DataFrame:
        """The records added since the last take, as a chunk."""
        import polars as pl

        frame = pl.DataFrame(dict(zip(NAMES, self._lists, strict=True)), schema=schema())
        self._lists = [[] for _ in NAMES]
        return frame

    def number(self, frame: pl.DataFrame) -> pl.DataFrame:
        """A reader's columns, numbered after the records before them."""
        import polars as pl

        n = frame.height
        out = frame.with_columns(pl.int_range(self.seq, self.seq + n, dtype=pl.Int64).alias("seq")).select(NAMES)
        self.seq += n
        return out


def records(frame: pl.DataFrame) -> Iterator[CallRecord]:
    """A chunk's calls as records again (for a test, or a message)."""
    return frame_records(frame)


__all__ = ["CHUNK_ROWS", "COLUMNS", "ChunkBuilder", "Columns", "NAMES", "ms_amounts", "records", "schema"]
