"""Putting call records in start-time order, in bounded memory (SPEC §6: "in start-time order").

Calls come in as records or as a reader's columns (:mod:`.chunk`) and go out
as chunks in start order (equal starts keep the order of the input). Up to
:data:`MEMORY_RECORDS` calls are sorted in memory; a larger input is cut into
sorted runs, spilled to a temporary file as Arrow IPC batches, and merged back
a batch at a time. A run is opened only when the merge reaches its first call,
so a merge holds a batch of each run whose calls span the point it has reached:
an export in start order, or nearly (each call a few places from its own), is
merged in one pass with a batch or two in hand, however many runs it made. When
more than :data:`FAN_IN` runs overlap at one point (an input in no order, or one
whose runs each hold a few calls that started long before the others), all the
runs are first merged :data:`FAN_IN` at a time into longer runs (in the same
file), so a merge never holds more than :data:`FAN_IN` batches and memory stays
flat on a file of any size.
"""

from __future__ import annotations

import contextvars
import io
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TYPE_CHECKING, Generic, TypeVar

from credits_cli.errors import InvalidInput
from credits_cli.i18n import _
from credits_cli.outputs import os_reason
from credits_cli.rating.chunk import CHUNK_ROWS, ChunkBuilder, Columns, records
from credits_cli.readers.base import CallRecord, RowError

if TYPE_CHECKING:
    import polars as pl

#: Calls sorted in memory; beyond this the input is spilled to a temporary file in sorted runs. 20,000
#: rather than 50,000: reading and sorting a million calls peaked 27 MB lower, no slower (an export in
#: start order, or nearly, is merged in one pass however many runs it makes).
MEMORY_RECORDS = 20_000
#: Calls per batch of a spilled run (a merge holds one batch of each run it has open in memory).
RUN_BATCH = 5_000
#: The most runs a merge holds open at once: when more overlap, the runs are merged this many at a time
#: into longer runs first.
FAN_IN = 8

Key = tuple[datetime, int]  # (start, seq): the order of the calls, unique

Item = CallRecord | RowError | Columns


def ordered_chunks(
    items: Iterable[Item],
    on_error: Callable[[RowError], None],
    *,
    memory_records: int = MEMORY_RECORDS,
    chunk_rows: int = CHUNK_ROWS,
    check: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> Iterator[pl.DataFrame]:
    """The calls of ``items`` as chunks of at most ``chunk_rows``, in start order (ties in input order).
    Row errors go to ``on_error`` as they come. ``check(frame)``, when given, sees each piece of input
    first and returns the calls to keep (it reports the others through ``on_error`` itself)."""

    builder = ChunkBuilder(min(chunk_rows, max(1, memory_records)))
    pieces: list[pl.DataFrame] = []
    held = 0
    runs: list[_Run] = []
    spill: IO[bytes] | None = None

    def keep(frame: pl.DataFrame) -> None:
        nonlocal held, spill
        if check is not None:
            frame = check(frame)
        if frame.height == 0:
            return
        pieces.append(frame)
        held += frame.height
        if held > memory_records:
            if spill is None:
                spill = _temporary()
            runs.append(_Run.write(spill, _sorted(pieces)))
            pieces.clear()
            held = 0

    try:
        for item in items:
            if isinstance(item, CallRecord):
                builder.add(item)
                if len(builder) >= builder.rows:
                    keep(builder.take())
            elif isinstance(item, RowError):
                on_error(item)
            else:
                if len(builder):
                    keep(builder.take())
                keep(builder.number(item.frame))
        if len(builder):
            keep(builder.take())
        if not runs:
            if pieces:
                yield from _split(_sorted(pieces), chunk_rows)
            return
        if pieces:
            assert spill is not None
            runs.append(_Run.write(spill, _sorted(pieces)))
            pieces.clear()
        assert spill is not None
        while _overlap(runs) > FAN_IN:  # a pass: runs merged FAN_IN at a time (ties keep input order)
            runs = [_Run.write_all(spill, _merge(runs[i : i + FAN_IN], RUN_BATCH), keyed=True)
                    for i in range(0, len(runs), FAN_IN)]
        yield from _merge(runs, chunk_rows)
    finally:
        if spill is not None:
            spill.close()


def in_start_order(
    items: Iterable[Item],
    on_error: Callable[[RowError], None],
    *,
    memory_records: int = MEMORY_RECORDS,
) -> Iterator[CallRecord]:
    """The records of ``items`` in start order (ties keep input order), row errors to ``on_error``."""
    for frame in ordered_chunks(items, on_error, memory_records=memory_records):
        yield from records(frame)


T = TypeVar("T")

#: Chunks a reading thread may have ready ahead of the rating (:func:`read_ahead`).
AHEAD_CHUNKS = 1


def read_ahead(
    make: Callable[[Callable[[RowError], None]], Iterable[T]],
    on_error: Callable[[RowError], None],
    *,
    depth: int = AHEAD_CHUNKS,
    each: Callable[[T], T] | None = None,
) -> _ReadAhead[T]:
    """The items of ``make(sink)`` read in a thread of their own, at most ``depth`` ahead of the caller,
    while the caller works on the ones before (reading and sorting are mostly polars and file reads,
    which let the other thread run: on two cores the rating no longer waits for them). ``each``: what
    is done to each item in that thread too, before the caller has it.

    What the reading reports to ``sink`` (row errors) reaches ``on_error`` in the caller's thread, in
    the order it came among the items, exactly as if the items had been read in the caller's thread;
    an exception of the reading is raised in the caller's thread where the next item would have come.
    ``make`` is called at once, in the caller's thread (and its context: the language, the clock); the
    reading runs in a copy of that context. Close the result (it is a context manager) to stop the
    reading early: the thread is then stopped and joined."""
    return _ReadAhead(make, on_error, depth, each)


_END = object()


class _ReadAhead(Generic[T]):
    def __init__(self, make: Callable[[Callable[[RowError], None]], Iterable[T]],
                 on_error: Callable[[RowError], None], depth: int, each: Callable[[T], T] | None = None) -> None:
        self._errors: list[RowError] = []
        self._items = make(self._errors.append)
        self._each = each
        self._on_error = on_error
        self._queue: queue.Queue[tuple[list[RowError], object, BaseException | None]] = queue.Queue(max(1, depth))
        self._room = threading.Semaphore(max(1, depth))  # items that may be made and not yet taken
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = False
        self._started = False

    def __enter__(self) -> _ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, item: object, error: BaseException | None = None) -> bool:
        errors, self._errors[:] = self._errors[:], []
        while not self._stop.is_set():
            try:
                self._queue.put((errors, item, error), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            each = self._each
            items = iter(self._items)
            while self._wait_for_room():
                try:
                    item = next(items)
                except StopIteration:
                    self._put(_END)
                    return
                if not self._put(item if each is None else each(item)):
                    return
        except BaseException as exc:  # raised in the caller's thread
            self._put(_END, exc)
        finally:
            self._close_items()

    def _wait_for_room(self) -> bool:
        """Wait until fewer than ``depth`` items are made and not yet taken (False: stop reading). An item
        is made only then: no more than ``depth`` wait, none half made besides."""
        while not self._stop.is_set():
            if self._room.acquire(timeout=0.05):
                return True
        return False

    def _close_items(self) -> None:
        """Close the source (a generator: its own ``finally`` closes files and spills), if it can be."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()

    def __iter__(self) -> Iterator[T]:
        if self._thread is None and not self._done:
            self._started = True
            self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._read,),
                                            name="credits-read-ahead", daemon=True)
            self._thread.start()
        try:
            while not self._done:
                errors, item, error = self._queue.get()
                self._room.release()
                for row in errors:
                    self._on_error(row)
                if item is _END:
                    self._done = True
                    self._join()
                    if error is not None:
                        raise error
                    return
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def _join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Stop the reading (if it still runs) and wait for its thread."""
        self._done = True
        self._stop.set()
        while self._thread is not None and self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
        self._join()
        if not self._started:
            self._close_items()


def _sorted(pieces: list[pl.DataFrame]) -> pl.DataFrame:
    import polars as pl

    frame = pieces[0] if len(pieces) == 1 else pl.concat(pieces, rechunk=True)
    return frame.sort("start", "seq")


def _split(frame: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, rows):
        yield frame.slice(offset, rows)


def _temporary() -> IO[bytes]:
    try:
        return tempfile.TemporaryFile()
    except OSError as exc:
        raise _cannot_sort(exc) from None


def _cannot_sort(exc: OSError) -> InvalidInput:
    return InvalidInput(
        _("cannot sort the calls: temporary files in {folder}: "
          "{error} (TMPDIR chooses the folder)").format(
            folder=tempfile.gettempdir(), error=os_reason(exc))
    )


@dataclass
class _Run:
    """A sorted run in the spill file: Arrow IPC streams of a batch of :data:`RUN_BATCH` calls each, at ``spans``.

    The file has no name (``tempfile.TemporaryFile``: unlinked as soon as it is made), so nothing is
    left behind however the process ends, a ``kill -9`` included."""

    handle: IO[bytes]
    spans: list[tuple[int, int]] = field(default_factory=list)
    first: Key | None = None  # its first call's key, and its last one's (None: no call, or not keyed)
    last: Key | None = None

    @classmethod
    def write(cls, handle: IO[bytes], frame: pl.DataFrame) -> _Run:
        return cls.write_all(handle, (frame.slice(offset, RUN_BATCH) for offset in range(0, frame.height, RUN_BATCH)),
                             keyed=True)

    @classmethod
    def write_all(cls, handle: IO[bytes], frames: Iterable[pl.DataFrame], keyed: bool = False) -> _Run:
        """A run of ``frames`` (sorted, each a batch), appended to the file. The batches are read back
        from their own spans, so a run may be read while another is written after it. ``keyed``: calls
        (with ``start`` and ``seq``) whose first and last keys the run keeps, for a merge."""
        run = cls(handle)
        try:
            for frame in frames:
                if keyed:
                    if not frame.height:
                        continue  # (a merge reads a batch's first and last keys)
                    if run.first is None:
                        run.first = _key(frame, 0)
                    run.last = _key(frame, -1)
                handle.seek(0, io.SEEK_END)
                start = handle.tell()
                # Arrow's stream format, straight into the file: the file format (a footer, the schema twice) took
                # three times as long to write and to read a batch; through a buffer first, three times as long
                frame.write_ipc_stream(handle)
                run.spans.append((start, handle.tell() - start))
            handle.flush()
        except OSError as exc:
            raise _cannot_sort(exc) from None
        return run

    def batches(self) -> Iterator[pl.DataFrame]:
        import polars as pl

        for start, length in self.spans:
            self.handle.seek(start)
            yield pl.read_ipc_stream(io.BytesIO(self.handle.read(length)))


class Transactions:
    """``chunks`` grouped into transactions of at most ``size`` calls (a chunk is never split), each
    one an iterable that can be read again: a transaction the database makes start again (busy)
    rates the same chunks. A transaction's chunks are taken from ``chunks`` as it rates them; its
    first ``memory_records`` calls (one chunk) are kept in memory, the rest in an unnamed temporary
    file (Arrow IPC; ``kept(chunk)``, when given, is what of each the file keeps), so a transaction of
    any size holds about as much memory as a small one."""

    def __init__(self, chunks: Iterable[pl.DataFrame], size: int, memory_records: int = CHUNK_ROWS,
                 kept: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> None:
        self._source = iter(chunks)
        #: what of a chunk the spill file keeps (None: all of it); a transaction made to start again rates that
        self.kept = kept
        self._next: pl.DataFrame | None = None
        self.size = max(1, size)
        self.memory_records = memory_records
        self._spill: IO[bytes] | None = None

    def _peek(self) -> pl.DataFrame | None:
        if self._next is None:
            self._next = next(self._source, None)
        return self._next

    def take(self, room: int | None) -> pl.DataFrame | None:
        """The next chunk, unless there is none or it has more calls than ``room`` (None: any)."""
        chunk = self._peek()
        if chunk is None or (room is not None and chunk.height > room):
            return None
        self._next = None
        return chunk

    def __iter__(self) -> Iterator[Iterable[pl.DataFrame]]:
        try:
            while self._peek() is not None:
                if self._spill is not None:  # the last transaction's spilled chunks are done with
                    self._spill.seek(0)
                    self._spill.truncate()
                yield _Transaction(self)
        finally:
            if self._spill is not None:
                self._spill.close()
                self._spill = None

    def spill(self) -> IO[bytes]:
        if self._spill is None:
            self._spill = _temporary()
        return self._spill


class _Transaction:
    """One transaction's chunks (see :class:`Transactions`): the ones already taken, then more from
    the source while the transaction has room."""

    def __init__(self, owner: Transactions) -> None:
        self.owner = owner
        self.held: list[pl.DataFrame] = []  # in memory
        self.run: _Run | None = None  # in the spill file, after those in memory
        self.calls = 0

    def __iter__(self) -> Iterator[pl.DataFrame]:
        yield from self.held
        if self.run is not None:
            yield from self.run.batches()
        owner = self.owner
        while (chunk := owner.take(owner.size - self.calls if self.calls else None)) is not None:
            if self.calls + chunk.height <= owner.memory_records:
                self.held.append(chunk)
            else:
                if self.run is None:
                    self.run = _Run(owner.spill())
                spilled = chunk if owner.kept is None else owner.kept(chunk)
                self.run.spans.extend(_Run.write_all(owner.spill(), [spilled]).spans)
            self.calls += chunk.height
            yield chunk


def _key(frame: pl.DataFrame, row: int) -> Key:
    return frame["start"][row], frame["seq"][row]


def _overlap(runs: list[_Run]) -> int:
    """The most runs whose keys (start, seq) span one same key: how many batches a merge of ``runs`` holds at most
    (:func:`_merge` opens a run when it reaches the run's first call, and is done with it after its last)."""
    edges = sorted([(run.first, 0) for run in runs if run.first is not None]
                   + [(run.last, 1) for run in runs if run.last is not None])  # a start before an end
    most = held = 0
    for _at, end in edges:
        held += -1 if end else 1
        most = max(most, held)
    return most


def _merge(runs: list[_Run], rows: int) -> Iterator[pl.DataFrame]:
    """Runs merged by (start, seq), one batch of each open run in memory at a time: whatever is at or
    before the smallest last key of the batches in hand is final, once every run whose first call is at
    or before that key is open (a run not yet open starts after it)."""
    import polars as pl

    assert all(run.first is not None or not run.spans for run in runs), "a run to merge keeps its keys"
    waiting = sorted((run for run in runs if run.first is not None), key=lambda run: run.first)  # type: ignore[arg-type, return-value]
    waiting.reverse()  # the next run to open at the end
    sources: list[Iterator[pl.DataFrame]] = []
    current: list[pl.DataFrame | None] = []

    def open_next() -> pl.DataFrame:
        source = waiting.pop().batches()
        batch = next(source)  # a keyed run that has a first key has a first batch
        sources.append(source)
        current.append(batch)
        return batch

    out: list[pl.DataFrame] = []
    held = 0
    while True:
        if not any(c is not None for c in current):
            if not waiting:
                break
            open_next()
        frontier = min(_key(c, -1) for c in current if c is not None)
        while waiting and waiting[-1].first <= frontier:  # type: ignore[operator]
            frontier = min(frontier, _key(open_next(), -1))
        taken: list[pl.DataFrame] = []
        for i, c in enumerate(current):
            if c is None or _key(c, 0) > frontier:
                continue  # nothing of this batch is final yet
            start = pl.col("start")
            mask = c.select((start < frontier[0]) | ((start == frontier[0]) & (pl.col("seq") <= frontier[1])))
            mask = mask.to_series()  # type: ignore[assignment]
            part = c.filter(mask)
            rest = c.filter(~mask)  # type: ignore[operator]
            if part.height:
                taken.append(part)
            current[i] = rest if rest.height else next(sources[i], None)
        merged = _sorted(taken)
        out.append(merged)
        held += merged.height
        while held >= rows:
            frame = pl.concat(out, rechunk=True)
            yield frame.slice(0, rows)
            rest_frame = frame.slice(rows)
            out = [rest_frame] if rest_frame.height else []
            held = rest_frame.height
    if held:
        yield pl.concat(out, rechunk=True)


__all__ = ["AHEAD_CHUNKS", "MEMORY_RECORDS", "Transactions", "in_start_order", "ordered_chunks", "read_ahead"]
