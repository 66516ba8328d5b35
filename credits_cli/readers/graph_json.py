"""Microsoft Graph ``getPstnCalls`` and ``getDirectRoutingCalls`` JSON (Microsoft Graph v1.0 and beta
``pstnCallLogRow``, ``directRoutingLogRow``).

A file may hold one page ``{"@odata.context": ..., "value": [rows]}``, a
plain list of rows, several pages (a JSON list of pages, or pages one after
another, concatenated or one per line as JSON Lines) or rows one per line.
What PowerShell writes is read too: UTF-16 with a BOM (``Out-File`` in
Windows PowerShell 5.1), PascalCase keys (the Graph PowerShell SDK's
objects), ``/Date(ms)/`` times (``ConvertTo-Json`` in 5.1).

The file is streamed (:mod:`credits_cli.readers._pages`): memory stays at
about a row whatever its size. What its rows mean is in
:mod:`credits_cli.readers._graph`.

``line`` is the 1-based position of the row in the file's rows, counted
across pages in order. A file that is not valid JSON (truncated, for
instance) is one :class:`InvalidInput`, raised where the fault is found; a
row that is not a usable call is a :class:`RowError`.

**Not a call log.** Whether the file is a call log is decided when it is
opened, from the first page's ``@odata.context`` and the first row's keys:
a Graph SMS log (``getSmsLog``), the audio conferencing dial-out report
(``getPstnOnlineMeetingDialoutReport``), the PSTN blocked users log, or any
JSON whose first row has none of a call row's keys is refused in one line
("looks like a Graph SMS log, not a call log"), not rejected row by row.

**Incomplete downloads.** Graph pages hold at most 1,000 rows; a page that
has ``@odata.nextLink`` has more after it. When the *last* page of the file
still has one, the rows are read as usual and the stream ends with a
:class:`Note` saying the download is incomplete. (A list of pages whose
links lead from one to the next is complete: only the last one counts.)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from credits_cli import i18n, phrases
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _
from credits_cli.readers import _graph, _table, _text
from credits_cli.readers._common import safe_text
from credits_cli.readers._pages import Page, Walk
from credits_cli.readers.base import Item, Note, RowError

NAME = "graph-json"


class GraphJsonReader:
    name = NAME

    def identify(self, path: Path, head: bytes) -> bool:
        return head.lstrip()[:1] in (b"{", b"[")  # the only JSON format; the first rows decide the rest

    def read(self, path: Path) -> Iterator[Item]:
        name = _text.safe_name(path.name)
        binary = _text.open_file(path, name)
        try:
            stream = _text.utf8(binary)
        except BaseException:
            binary.close()
            raise
        return read_stream(stream, name)


def read_stream(binary: IO[bytes], source: str) -> Iterator[Item]:
    """Walk to the first row now (a file that is not a call log fails here); stream the rest lazily."""
    items = _items(binary, source)
    try:
        first = next(items)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), items)


def _items(binary: IO[bytes], source: str) -> Iterator[Item]:
    walk = Walk(binary, source)
    convert = _graph.converter(source)
    index = rejected = given = 0
    checked = False

    def reject(line: int, reason: str) -> RowError:
        nonlocal rejected
        rejected += 1
        if rejected > _table.MAX_REJECTED and rejected > given:
            raise InvalidInput(_("{source}: more than {limit} rows rejected (row {line}: {reason}); "
                                 "this is not a Graph call log").format(
                source=source, limit=i18n.number(_table.MAX_REJECTED), line=line, reason=reason))
        return RowError(source, line, reason)

    try:
        for value in walk.rows():
            if isinstance(value, Page):
                what = _graph.kind_of_context(value.get("@odata.context"))
                if what:
                    raise InvalidInput(_("{source}: looks like {what}").format(source=source, what=phrases.said(what)))
                continue
            index += 1
            if not isinstance(value, dict):
                if not checked:
                    raise InvalidInput(_("{source}: the first row is not a JSON object; not a Graph call log").format(
                        source=source))
                yield reject(index, _("row is not a JSON object"))
                continue
            row = {k.lower(): v for k, v in value.items()}
            if not checked:
                what = _graph.kind_of_row(row)
                if what:
                    raise InvalidInput(_("{source}: looks like {what}").format(source=source, what=phrases.said(what)))
                checked = True
            try:
                record = convert(row, index)
            except ValueError as exc:
                yield reject(index, str(exc))
                continue
            given += 1
            yield record
        if walk.next_link:
            link = safe_text(walk.next_link)
            shown = link if len(link) <= 200 else link[:200] + "..."
            # TRANSLATORS: {link} is the @odata.nextLink address of the last page.
            yield Note(source, phrases.Phrase(N_("the download is incomplete: the last page still has @odata.nextLink "
                                                 "({link}); fetch the pages after it and import them too"), link=shown))
    except OSError as exc:
        raise InvalidInput(_("{source}: cannot read: {error}").format(
            source=source, error=exc.strerror or exc)) from None
    finally:
        binary.close()


READER = GraphJsonReader()
