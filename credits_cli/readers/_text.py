"""Bytes in: a call-record file opened as UTF-8 bytes, whatever it was saved as.

Windows PowerShell 5.1 writes UTF-16 little-endian with a byte order mark
(``Out-File``, ``Set-Content -Encoding Unicode``, ``ConvertTo-Json | Out-File``);
Excel and the admin center write UTF-8, with or without a BOM. Every reader
works on UTF-8 bytes: :func:`utf8` drops a UTF-8 BOM and transcodes UTF-16
(either byte order, with its BOM) on the fly, a block at a time, so a
PowerShell file is read in the same bounded memory as any other.

UTF-16 without a byte order mark is refused: nothing says which byte order it
is, and no tool of the platform writes it so.

Only regular files are read (:func:`open_file`): a device or a pipe has no end
that a reader could rely on (``/dev/zero`` never stops).
"""

from __future__ import annotations

import codecs
import io
import os
import stat
from pathlib import Path
from typing import IO

from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _
from credits_cli.readers._common import safe_text

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_LE_BOM = b"\xff\xfe"
UTF16_BE_BOM = b"\xfe\xff"
EXPECTED = N_("expected a Teams PSTN usage export (CSV or Calls.Export zip), a Direct Routing export, "
            "Graph getPstnCalls or getDirectRoutingCalls JSON (or their rows saved by Export-Csv), "
            "or a call_id,user,start,duration_seconds,kind,number CSV")
#: Bytes of UTF-16 read and transcoded at a time.
BLOCK = 64 * 1024


def open_file(path: Path, name: str) -> IO[bytes]:
    """``path`` opened for reading, if it is a regular file; else :class:`InvalidInput` naming it.

    The type is checked before opening: opening a pipe would wait for a writer.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InvalidInput(_("{source}: not a regular file (a device, pipe or socket); "
                                 "save the export to a file first").format(source=name))
        return open(path, "rb")  # noqa: SIM115 - the reader that streams it closes it
    except OSError as exc:
        raise InvalidInput(_("{source}: cannot read: {error}").format(source=name, error=exc.strerror or exc)) from None


def safe_name(name: str) -> str:
    """A file or member name as a record's ``source``: storable text (an undecodable byte of a
    file name, or a control character, becomes U+FFFD)."""
    return safe_text(name)


def encoding_of(head: bytes, name: str = "the file") -> str:
    """``utf-8`` or ``utf-16`` (with its BOM), from the first bytes; InvalidInput for BOM-less UTF-16."""
    if head.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        return "utf-16"
    if looks_utf16(head):
        raise InvalidInput(_("{source}: UTF-16 text without a byte order mark is not supported; save it as UTF-8 "
                             "(or as UTF-16 with its byte order mark, as PowerShell does)").format(source=name))
    return "utf-8"


def check_text(head: bytes, name: str) -> None:
    """InvalidInput unless ``head`` (a file's first bytes) can start a text call-record file."""
    encoding = encoding_of(head, name)
    if head.startswith(b"PK\x03\x04"):
        raise InvalidInput(_("{source}: a zip file (or Excel workbook); {expected}").format(
            source=name, expected=_(EXPECTED)))
    text = head_utf8(head) if encoding == "utf-16" else head
    if b"\x00" in text.split(b"\n", 1)[0]:  # NULs in rows are row errors; in the header, not text
        raise InvalidInput(_("{source}: binary content, not text; {expected}").format(
            source=name, expected=_(EXPECTED)))


def looks_utf16(head: bytes) -> bool:
    """Text whose every other byte is NUL: UTF-16 of mostly ASCII characters."""
    sample = head[:512]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return even.count(0) > len(even) // 2 or odd.count(0) > len(odd) // 2


def head_utf8(head: bytes) -> bytes:
    """The first bytes of a file as UTF-8 without a BOM (a UTF-16 head transcoded), for recognising it."""
    if encoding_of(head) == "utf-16":
        return codecs.getincrementaldecoder("utf-16")(errors="replace").decode(head).encode("utf-8")
    return head[3:] if head.startswith(UTF8_BOM) else head


def utf8(binary: IO[bytes]) -> IO[bytes]:
    """``binary`` as a buffered stream of UTF-8 bytes without a BOM (``read``, ``readline(limit)``).

    ``binary`` must offer ``peek`` (a buffered file, a zip member) or be at its start.
    """
    head = _peek(binary, 4)
    if head.startswith((UTF16_LE_BOM, UTF16_BE_BOM)):
        return io.BufferedReader(_Utf16(binary), buffer_size=256 * 1024)
    if head.startswith(UTF8_BOM):
        binary.read(3)
    return binary


def _peek(binary: IO[bytes], size: int) -> bytes:
    peek = getattr(binary, "peek", None)
    if peek is not None:
        data = peek(size)[:size]
        if len(data) >= size:
            return data
    if binary.seekable():
        where = binary.tell()
        data = binary.read(size)
        binary.seek(where)
        return data
    raise InvalidInput(_("cannot look at the start of the stream"))  # not reached with files or zip members


class _Utf16(io.RawIOBase):
    """UTF-16 (byte order from its BOM) in, UTF-8 out, a block at a time.

    An odd trailing byte or an unpaired surrogate becomes U+FFFD (and so a
    rejected row wherever it lands in an id or a number), never an exception.
    """

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self._decode = codecs.getincrementaldecoder("utf-16")(errors="replace").decode
        self._pending = b""
        self._at = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while self._at >= len(self._pending):
            if self._done:
                return 0
            raw = self._source.read(BLOCK)
            self._done = not raw
            self._pending = self._decode(raw, final=self._done).encode("utf-8")
            self._at = 0
        size = min(len(buffer), len(self._pending) - self._at)
        buffer[:size] = self._pending[self._at:self._at + size]
        self._at += size
        return size

    def close(self) -> None:
        try:
            self._source.close()
        finally:
            super().close()
