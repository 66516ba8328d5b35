"""Progress on stderr for the long commands (``rate-cdrs``, ``report --xlsx``), on a terminal only.

A progress line says something: the rows done of the total, the rate and the time left. Before a file
has been read to its end its rows are not known: :func:`estimate_rows` tells them from the file's size
and the rows in its first block, and the line says ``~`` until the count is exact. Nothing is written
when stderr is not a terminal, or when the output is JSON (a script reads it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credits_cli.cli.common import err_console

if TYPE_CHECKING:
    from rich.progress import Progress, Task

#: The first bytes of a file read to tell how many rows it holds.
SAMPLE_BYTES = 256 * 1024
#: Rows read between two updates of the line (an update costs far more than reading a row).
EVERY = 2000


def wanted(json_out: bool) -> bool:
    """Whether to show progress: stderr is a terminal and the output is not JSON."""
    return sys.stderr.isatty() and not json_out


def _rows_in(sample: bytes, whole: bool) -> int:
    """Rows in a block of a call-record file: Graph rows (JSON) or lines (CSV, less the header)."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = sample.decode("utf-16", errors="ignore")
    else:
        text = sample.decode("utf-8", errors="ignore")
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head in ("{", "["):
        return text.count('"callType"') + text.count('"CallType"')
    lines = text.count("\n")
    return max(lines - 1, 0) if whole else lines


def estimate_rows(path: Path) -> int | None:
    """About how many rows ``path`` holds (a zip: its call files), from its size and its first block;
    None when that cannot be told."""
    import zipfile

    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if m.filename.lower().endswith((".csv", ".json"))]
                total = 0
                for member in members:
                    with archive.open(member) as fh:
                        sample = fh.read(SAMPLE_BYTES)
                    total += _scaled(sample, member.file_size)
                return total or None
        size = path.stat().st_size
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE_BYTES)
        return _scaled(sample, size) or None
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def _scaled(sample: bytes, size: int) -> int:
    whole = len(sample) >= size
    rows = _rows_in(sample, whole)
    if whole or not sample:
        return rows
    return int(rows * size / len(sample))


def _columns() -> list[Any]:
    from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        """Rows a second, from rich's recent samples."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            from credits_cli import i18n
            from credits_cli.i18n import _

            # TRANSLATORS: rows a second in a progress line ("12,000/s")
            rate = _("{rate}/s").format(rate=i18n.number(round(speed))) if speed else ""
            return Text(rate, style="progress.data.speed")

    return [
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[done]}"),
        Rate(),
        TimeRemainingColumn(),
    ]


class Line:
    """One progress line: ``what`` done of ``total`` (``~`` while it is an estimate), rate and time left."""

    def __init__(self, bar: Progress, description: str, total: int | None, noun: str, *, estimate: bool) -> None:
        self.bar = bar
        self.noun = noun
        self.estimate = estimate
        self.done = 0
        self.total = total
        self.task = bar.add_task(description, total=total, done=self._text())

    def _text(self) -> str:
        from credits_cli import i18n
        from credits_cli.i18n import _

        if self.total is None:
            return f"{i18n.number(self.done)} {self.noun}"
        approx = "~" if self.estimate else ""
        # TRANSLATORS: a progress line: {done} rows of {total} ("~" before it while estimated), {noun} plural
        return _("{done} of {total} {noun}").format(done=i18n.number(self.done),
                                                    total=approx + i18n.number(max(self.total, self.done)),
                                                    noun=self.noun)

    def advance(self, n: int) -> None:
        self.done += n
        if self.total is not None and self.done > self.total:
            self.total = self.done
        self.bar.update(self.task, completed=self.done, total=self.total, done=self._text())

    def exact(self, total: int) -> None:
        self.total = total
        self.estimate = False
        self.bar.update(self.task, total=total, done=self._text())

    def hide(self) -> None:
        self.bar.update(self.task, visible=False)


def bar() -> Progress:
    from rich.progress import Progress

    return Progress(*_columns(), console=err_console(), transient=True)


def counted(items: Iterable[Any], line: Line) -> Iterator[Any]:
    """``items`` as they are, telling ``line`` every :data:`EVERY` of them."""
    n = 0
    for item in items:
        yield item
        n += 1
        if n == EVERY:
            line.advance(n)
            n = 0
    if n:
        line.advance(n)
