"""Microsoft Graph ``getPstnCalls`` (and ``getDirectRoutingCalls``) JSON.

A file may hold:

- one page: ``{"@odata.context": ..., "@odata.nextLink": ..., "value": [rows]}``;
- a plain list of rows: ``[row, row, ...]``;
- several pages: a JSON list of page objects, or page objects one after
  another (concatenated, or one per line as JSON Lines);
- rows one per line (JSON Lines of ``pstnCallLogRow`` objects).

``line`` is the 1-based position of the row in the file's rows, counted across
pages in order: for a single page or list it is the row's index in its
``value`` list (1 = first row). A file that is not valid JSON (truncated,
for instance) is one :class:`InvalidInput`; a row that is not a usable call is
a :class:`RowError`. Pages hold at most 1,000 rows, so the file is parsed in
one go, and files over :data:`MAX_BYTES` are refused.

The number is ``calleeNumber``: the number dialed for outbound and dial-out
calls, the number that received the call for inbound ones. ``ByotIn``,
``ByotOut``... (Direct Routing) are lower-cased and marked ``direct_routing``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from credits_cli.errors import InvalidInput
from credits_cli.readers import _common as c
from credits_cli.readers.base import CallRecord, RowError

NAME = "graph-json"
MAX_BYTES = 512 * 1024 * 1024


class GraphJsonReader:
    name = NAME

    def identify(self, path: Path, head: bytes) -> bool:
        text = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        text = text.lstrip()
        return text[:1] in (b"{", b"[")  # the only JSON format; row checks do the rest

    def read(self, path: Path) -> Iterator[CallRecord | RowError]:
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise InvalidInput(f"{path.name}: {size // (1024 * 1024)} MB is too large for a Graph JSON file "
                                   f"(limit {MAX_BYTES // (1024 * 1024)} MB); split it into pages")
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path.name}: cannot read: {exc.strerror or exc}") from None
        return read_bytes(data, path.name)


def read_bytes(data: bytes, source: str) -> Iterator[CallRecord | RowError]:
    """Parse all of ``data`` now (a broken file fails here) and return the rows lazily."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{source}: not UTF-8 text; save the Graph response as UTF-8 JSON") from None
    values = _json_values(text, source)
    rows: list[Any] = []
    for value in values:
        rows.extend(_rows_of(value, source))
    return _records(rows, source)


def _json_values(text: str, source: str) -> list[Any]:
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    try:
        while True:
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
            if pos >= end:
                break
            value, pos = decoder.raw_decode(text, pos)
            values.append(value)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= end - 1 or "Unterminated" in exc.msg else ""
        raise InvalidInput(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    except RecursionError:
        raise InvalidInput(f"{source}: JSON nested too deeply to be a Graph page") from None
    if not values:
        raise InvalidInput(f"{source}: empty JSON file")
    return values


def _is_page(value: Any) -> bool:
    return isinstance(value, dict) and "value" in value


def _rows_of(value: Any, source: str) -> list[Any]:
    if _is_page(value):
        rows = value["value"]
        if not isinstance(rows, list):
            raise InvalidInput(f"{source}: a page's \"value\" is not a list of call records")
        return rows
    if isinstance(value, list):
        if value and all(_is_page(v) for v in value):
            out: list[Any] = []
            for page in value:
                out.extend(_rows_of(page, source))
            return out
        return value
    if isinstance(value, dict):
        return [value]  # JSON Lines of rows
    raise InvalidInput(f"{source}: not a Graph getPstnCalls page or list of call records")


def _get_str(row: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            if value.strip():
                return value
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"{key} is not a string")
    return ""


def _records(rows: list[Any], source: str) -> Iterator[CallRecord | RowError]:
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            yield RowError(source, index, "row is not a JSON object")
            continue
        try:
            call_id = c.clean_text(_get_str(row, "id", "correlationId"), "id")
            call_type, inbound, direct = c.call_type(_get_str(row, "callType"), "callType")
            duration = row.get("duration")
            if duration is None:
                raise ValueError("duration is missing")
            record = c.make_record(
                source,
                index,
                call_id,
                c.clean_text(_get_str(row, "userPrincipalName"), "userPrincipalName", required=False).lower(),
                c.parse_start(_get_str(row, "startDateTime", "inviteDateTime"), "startDateTime"),
                c.parse_duration(duration, "duration"),
                call_type,
                c.parse_number(_get_str(row, "calleeNumber"), required=not inbound),
                direct,
                c.country(_get_str(row, "usageCountryCode", "userCountryCode")),
                c.clean_text(_get_str(row, "conferenceId"), "conferenceId", required=False) or None,
            )
        except ValueError as exc:
            yield RowError(source, index, str(exc))
            continue
        yield record


READER = GraphJsonReader()
