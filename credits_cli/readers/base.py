"""What every reader yields: immutable call records that carry their source,
and row errors as values (never exceptions that stop at the first)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the export described it, normalised.

    ``number`` is the number that prices the call: the number dialed for an
    outbound or dial-out call, the number that received the call for an
    inbound one (a toll-free number of the tenant, when it is one). It is
    E.164 with ``+`` where the export gave one; masked digits stay as ``*``.
    """

    source: str  # file name (inside a zip: "Calls.Export.zip!PSTN.calls.csv")
    line: int  # line of the row in its file (1 = header), or index in a JSON list
    external_id: str  # UsageId, Graph id, or our call_id: the call's identity
    user_upn: str  # lower-case; "" for bots (auto attendants, call queues)
    start: datetime  # naive UTC
    duration_seconds: int
    call_type: str  # lower-case as exported: user_out, conf_out, dr_in, ...
    number: str
    direct_routing: bool = False
    user_country: str | None = None  # the export's usage location, if any
    conference_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    source: str
    line: int
    reason: str


class Reader(Protocol):
    """A file format. ``identify`` looks at content, not at the file name."""

    name: str

    def identify(self, path: Path, head: bytes) -> bool: ...

    def read(self, path: Path) -> Iterator[CallRecord | RowError]: ...
