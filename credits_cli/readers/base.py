"""What every reader yields: immutable call records that carry their source,
row errors as values (never exceptions that stop at the first), and notes.

A reader's stream holds these kinds of values, in file order:

- :class:`CallRecord`: one call, read and normalised;
- :class:`RowError`: one rejected row (a physical record of a CSV, an element
  of a Graph page), with the line (or row index) where it starts;
- :class:`Note`: something about the file as a whole that the person running
  the import should be told, which is neither a call nor a rejected row (a
  Graph page that still has ``@odata.nextLink``: the download is incomplete).
  Rating collects notes into its summary; a reader never prints;
- :class:`Columns`: many calls at once, in columns (the Teams export's plain lines).

A file that cannot be read at all raises :class:`credits_cli.errors.InvalidInput`
instead: nothing of it is rated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeAlias


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the export described it, normalised.

    ``number`` is the number that prices the call: the number dialed for an
    outbound or dial-out call, the number that received the call for an
    inbound one (a toll-free number of the tenant, when it is one). It is
    E.164 with ``+`` where the export gave one; masked digits stay as ``*``.

    Every text field is valid UTF-8 (no lone surrogate) without NUL or other
    control characters, so the database can store it as it is.

    The last five fields are what Microsoft itself billed, as the export gave
    them (SPEC §6 rule 8), or None where the export has no such column:
    ``charge`` and ``connection_fee`` exact (Teams export ``Charge`` and
    ``Connection Fee``, Graph ``charge`` and ``connectionCharge``; never
    through a float), ``currency`` the ISO 4217 code upper-case (``Currency``,
    ``currency``), ``capability`` the license that paid the call upper-case
    (``Capability``, Graph ``licenseCapability``: MCOPSTNPP, MCOPSTN1,
    FREECALL, MCOEV_VIRTUALUSER...), ``operator`` the carrier that gave the
    PSTN service (Graph ``operator``: "Microsoft" or an Operator Connect
    operator's name, as given).
    """

    source: str  # file name (inside a zip: "Calls.Export.zip!PSTN.calls.csv")
    line: int  # line where the row starts in its file (1 = header), or index of the row in a JSON file
    external_id: str  # UsageId, Graph id, our call_id, or a Direct Routing leg's id: the call's identity
    user_upn: str  # lower-case; "" for bots (auto attendants, call queues) and "No data"
    start: datetime  # naive UTC
    duration_seconds: int
    call_type: str  # lower-case as exported: user_out, conf_out, dr_in, oc_user_in, byotin...
    number: str
    direct_routing: bool = False
    user_country: str | None = None  # the export's usage location, if any
    conference_id: str | None = None
    charge: Decimal | None = None
    connection_fee: Decimal | None = None
    currency: str | None = None
    capability: str | None = None
    operator: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: where it starts and why. Never silently dropped (SPEC §6)."""

    source: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """A remark on a whole file for the import's summary, e.g. that a Graph download is incomplete.

    A note neither counts as a row nor rejects anything; the calls of the file
    are rated as usual.
    """

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Columns:
    """Call records a reader has already put in columns: a :class:`polars.DataFrame` with the columns of
    :data:`credits_cli.rating.chunk.COLUMNS` but ``seq``, in file order, and the rows it rejected among
    them (in line order). Rating numbers them in with the records around them."""

    frame: Any
    errors: tuple[RowError, ...] = ()

    def items(self) -> Iterator[CallRecord | RowError]:
        """The calls as records again, with the rejected rows, in line order."""
        out: list[CallRecord | RowError] = [*frame_records(self.frame), *self.errors]
        out.sort(key=lambda item: item.line)
        return iter(out)


def frame_records(frame: Any) -> Iterator[CallRecord]:
    """The calls of a frame of call columns (:class:`Columns`, a rating chunk) as records."""
    from credits_cli import money

    exact = "charge_exact" in frame.columns  # the amounts as the reader read them
    for row in frame.iter_rows(named=True):
        if exact:
            charge = None if row["charge_exact"] is None else Decimal(row["charge_exact"])
            fee = None if row["fee_exact"] is None else Decimal(row["fee_exact"])
        else:
            charge = None if row["ms_charge"] is None else money.from_units(row["ms_charge"])
            fee = None if row["ms_fee"] is None else money.from_units(row["ms_fee"])
        yield CallRecord(row["source"], row["line"], row["external_id"], row["user_upn"], row["start"],
                         row["duration_seconds"], row["call_type"], row["number"], row["direct_routing"],
                         row["user_country"], row["conference_id"], charge, fee, row["currency"], row["capability"],
                         row["operator"])


Item: TypeAlias = CallRecord | RowError | Note | Columns


class Reader(Protocol):
    """A file format. ``identify`` looks at content, not at the file name.

    ``head`` is the start of the file as UTF-8 (a UTF-16 file's head is given
    transcoded, its byte order mark dropped).
    """

    name: str

    def identify(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path) -> Iterator[Item]: ...
