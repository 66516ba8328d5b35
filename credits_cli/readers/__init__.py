"""Readers of call-record files, one module per format.

:func:`open_records` is the one entry point: it checks the file, picks the
reader by content (or the one asked for) and returns the format's name and a
stream of values, in file order:

- :class:`CallRecord`: a call;
- :class:`RowError`: a rejected row, with the line where it starts;
- :class:`Note`: a remark on the whole file for the import's summary (a Graph
  download whose last page still has ``@odata.nextLink``). It is neither a
  row nor a rejection. Notes are in the stream when the caller asks for them
  (``open_records(path, notes=True)``), so that a consumer that only knows
  records and row errors keeps working; only Graph JSON yields them.

A file that cannot be read at all raises :class:`InvalidInput` with one line
naming it: at once for what the start of the file shows (empty, binary, an
unknown header, JSON that is not a call log), or while streaming for a fault
found further in (JSON broken half-way, a zip member lying about its size,
more rejected rows than any real export has). Every reader reads in bounded
memory, whatever the file's size or shape, and only reads regular files.

Formats: the Teams admin center PSTN usage export (:mod:`.teams_csv`) and its
``Calls.Export.*.zip`` (:mod:`.export_zip`), the Direct Routing export
(:mod:`.direct_routing`), Graph JSON (:mod:`.graph_json`), Graph rows saved
as CSV by PowerShell (:mod:`.graph_csv`), and the project's own CSV
(:mod:`.own_csv`). UTF-8 with or without a BOM, and UTF-16 with a BOM
(what Windows PowerShell writes), are read alike (:mod:`._text`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal, overload

from credits_cli import phrases
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _
from credits_cli.readers import (
    _graph,
    _table,
    _text,
    direct_routing,
    export_zip,
    graph_csv,
    graph_json,
    own_csv,
    teams_csv,
)
from credits_cli.readers.base import CallRecord, Columns, Item, Note, Reader, RowError

__all__ = ["CallRecord", "RowError", "Note", "Item", "Reader", "READERS", "FORMATS", "ZIP_FORMAT", "open_records"]

#: In the order they are tried: Graph's CSV header also has what the Direct Routing export's has.
READERS: dict[str, Reader] = {
    teams_csv.NAME: teams_csv.READER,
    graph_csv.NAME: graph_csv.READER,
    direct_routing.NAME: direct_routing.READER,
    graph_json.NAME: graph_json.READER,
    own_csv.NAME: own_csv.READER,
}
FORMATS = ("auto", *READERS)
ZIP_FORMAT = export_zip.NAME
HEAD_BYTES = 8192


@overload
def open_records(path: Path, fmt: str = ..., *,
                 notes: Literal[False] = ...) -> tuple[str, Iterator[CallRecord | RowError]]: ...
@overload
def open_records(path: Path, fmt: str = ..., *, notes: Literal[True]) -> tuple[str, Iterator[Item]]: ...


def open_records(path: Path, fmt: str = "auto", *, notes: bool = False) -> tuple[str, Iterator[Item]]:
    """(format name, stream) for ``path``; ``fmt`` is ``auto`` or one of :data:`READERS`.

    With ``notes=True`` the stream is what rating takes: it also holds the file's :class:`Note` values,
    and calls a reader read in columns come as :class:`Columns`; without, every call is a record.
    """
    name, stream = _open(path, fmt)
    if not notes:
        return name, _without_notes(stream)
    return name, stream


def _without_notes(stream: Iterator[Item]) -> Iterator[CallRecord | RowError]:
    for item in stream:
        if isinstance(item, Columns):
            yield from item.items()
        elif not isinstance(item, Note):
            yield item


def _open(path: Path, fmt: str) -> tuple[str, Iterator[Item]]:
    path = Path(path)
    if fmt not in FORMATS:
        raise InvalidInput(_("unknown format {fmt}; formats: {formats}").format(
            fmt=repr(fmt), formats=", ".join(FORMATS)))
    name = _text.safe_name(path.name)
    if not path.exists():
        raise InvalidInput(_("{path}: no such file").format(path=_text.safe_name(str(path))))
    if path.is_dir():
        raise InvalidInput(_("{path}: is a folder, not a call-record file").format(path=_text.safe_name(str(path))))
    with _text.open_file(path, name) as handle:
        try:
            head = handle.read(HEAD_BYTES)
        except OSError as exc:
            raise InvalidInput(_("{source}: cannot read: {error}").format(
                source=name, error=exc.strerror or exc)) from None
    if head.startswith(b"PK\x03\x04") and fmt in ("auto", teams_csv.NAME, direct_routing.NAME):
        return ZIP_FORMAT, export_zip.read(path, name)
    _text.check_text(head, name)
    text = _text.head_utf8(head)
    if not text.strip(b" \t\r\n"):
        raise InvalidInput(_("{source}: the file is empty; {expected}").format(source=name, expected=_(_text.EXPECTED)))
    if fmt != "auto":
        return fmt, READERS[fmt].read(path)
    for reader in READERS.values():
        if reader.identify(path, text):
            return reader.name, reader.read(path)
    what = _graph.kind_of_row(_table.head_header(text))
    if what and "without call rows" not in what:
        raise InvalidInput(_("{source}: looks like {what}").format(source=name, what=phrases.said(what)))
    raise InvalidInput(_("{source}: not a call-record file I know; {expected}").format(
        source=name, expected=_(_text.EXPECTED)))
