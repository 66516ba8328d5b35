"""rating.in_start_order: start-time order, ties in file order, row errors passed on, whatever
the input's size against the in-memory limit (sorted in memory, sorted runs chained, runs merged)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credits_cli.rating import in_start_order
from credits_cli.rating.ordering import Transactions
from credits_cli.readers.base import CallRecord, RowError

BASE = datetime(2026, 10, 1)


def record(i: int, minute: int) -> CallRecord:
    return CallRecord(
        source="calls.csv", line=i + 2, external_id=f"id-{i}", user_upn="ada@contoso.com",
        start=BASE + timedelta(minutes=minute, microseconds=7 if minute % 2 else 0),  # with and without a fraction
        duration_seconds=60, call_type="user_out",
        number="+12065550100", direct_routing=i % 2 == 0, user_country="US" if i % 3 else None,
        conference_id=None if i % 2 else f"conf-{i}",
    )


def ordered(items: list[CallRecord | RowError], memory_records: int) -> tuple[list[CallRecord], list[RowError]]:
    errors: list[RowError] = []
    return list(in_start_order(items, errors.append, memory_records=memory_records)), errors


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.lists(st.integers(min_value=0, max_value=30), max_size=60),
    memory_records=st.integers(min_value=1, max_value=70),
    error_every=st.integers(min_value=0, max_value=7),
)
def test_any_input_comes_out_stably_sorted(minutes: list[int], memory_records: int, error_every: int) -> None:
    items: list[CallRecord | RowError] = []
    for i, minute in enumerate(minutes):
        items.append(record(i, minute))
        if error_every and i % error_every == 0:
            items.append(RowError("calls.csv", 1000 + i, "bad row"))
    out, errors = ordered(items, memory_records)
    records = [r for r in items if isinstance(r, CallRecord)]
    assert out == sorted(records, key=lambda r: r.start)  # sorted() is stable: ties keep file order
    assert errors == [r for r in items if isinstance(r, RowError)]


def test_an_ordered_input_larger_than_memory_keeps_every_field() -> None:
    items: list[CallRecord | RowError] = [record(i, i // 3) for i in range(50)]  # ties in threes
    out, errors = ordered(items, memory_records=7)  # runs that do not overlap: read back one after the other
    assert out == items and errors == []
    assert all(type(r) is CallRecord for r in out)


def test_runs_that_overlap_are_merged_ties_in_file_order() -> None:
    minutes = [5, 1, 5, 0, 9, 5, 1, 0, 9, 5, 3, 3]
    items: list[CallRecord | RowError] = [record(i, m) for i, m in enumerate(minutes)]
    out, _ = ordered(items, memory_records=2)
    assert [r.external_id for r in out] == [
        "id-3", "id-7", "id-1", "id-6", "id-10", "id-11", "id-0", "id-2", "id-5", "id-9", "id-4", "id-8",
    ]


@settings(max_examples=60, deadline=None)
@given(minutes=st.lists(st.integers(min_value=0, max_value=12), max_size=80),
       memory_records=st.integers(min_value=1, max_value=9))
def test_many_runs_are_merged_in_passes_of_a_few(minutes: list[int], memory_records: int) -> None:
    """More runs than a merge takes at once (FAN_IN) are merged a few at a time into longer runs first,
    batches of two calls each: the order is the same, ties in file order."""
    from credits_cli.rating import ordering

    saved = ordering.FAN_IN, ordering.RUN_BATCH
    ordering.FAN_IN, ordering.RUN_BATCH = 2, 2
    try:
        items: list[CallRecord | RowError] = [record(i, m) for i, m in enumerate(minutes)]
        out, _ = ordered(items, memory_records)
    finally:
        ordering.FAN_IN, ordering.RUN_BATCH = saved
    assert out == sorted(items, key=lambda r: r.start)  # type: ignore[union-attr]


@settings(max_examples=60, deadline=None)
@given(minutes=st.lists(st.integers(min_value=0, max_value=400), max_size=90),
       swaps=st.lists(st.integers(min_value=0, max_value=88), max_size=6),
       memory_records=st.integers(min_value=1, max_value=9))
def test_an_input_nearly_in_order_is_merged_in_one_pass(minutes: list[int], swaps: list[int],
                                                       memory_records: int) -> None:
    """An export in start order but for a few calls makes runs that barely overlap:
    however many there are, they are merged in one pass, a run opened when the merge reaches it."""
    from credits_cli.rating import ordering

    minutes = sorted(minutes)
    moved: set[int] = set()
    for i in swaps:  # a few calls one place out of order
        if i + 1 < len(minutes) and not moved & {i, i + 1}:
            minutes[i], minutes[i + 1] = minutes[i + 1], minutes[i]
            moved |= {i, i + 1}
    items: list[CallRecord | RowError] = [record(i, m) for i, m in enumerate(minutes)]
    merges: list[int] = []
    held = [0, 0]  # runs being read now, and the most at once
    saved = ordering._merge, ordering._Run.batches

    def counted(runs: list[Any], rows: int) -> Iterator[pl.DataFrame]:
        merges.append(ordering._overlap(runs))
        return saved[0](runs, rows)

    def batches(run: Any) -> Iterator[pl.DataFrame]:
        held[0] += 1
        held[1] = max(held)
        try:
            yield from saved[1](run)
        finally:
            held[0] -= 1

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ordering, "FAN_IN", 3)
        patch.setattr(ordering, "RUN_BATCH", 2)
        patch.setattr(ordering, "_merge", counted)
        patch.setattr(ordering._Run, "batches", batches)
        out, _ = ordered(items, memory_records)
    assert out == sorted(items, key=lambda r: r.start)  # type: ignore[union-attr]
    if len(minutes) > memory_records:  # spilled: one merge, and never more than two runs open at once
        assert len(merges) == 1 and merges[0] <= 2
        assert held[1] <= 2


def chunks_of(sizes: list[int]) -> list[pl.DataFrame]:
    out, n = [], 0
    for size in sizes:
        out.append(pl.DataFrame({"seq": list(range(n, n + size)), "text": [f"call {i} é" for i in range(n, n + size)]}))
        n += size
    return out


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=9), max_size=25),
    size=st.integers(min_value=1, max_value=30),
    memory_records=st.integers(min_value=1, max_value=12),
    reads=st.lists(st.integers(min_value=0, max_value=6), max_size=4),
)
def test_transactions_read_again_give_the_same_chunks(sizes: list[int], size: int, memory_records: int,
                                                      reads: list[int]) -> None:
    # A transaction the database makes start again (busy) reads its chunks again, after any number
    # of them were taken the first time; those past memory_records come back from the spill file.
    source = chunks_of(sizes)
    seen: list[pl.DataFrame] = []
    previous: list[pl.DataFrame] = []
    for transaction in Transactions(iter(source), size, memory_records=memory_records):
        for n in reads:  # attempts that stop after n chunks
            for i, _chunk in enumerate(transaction):
                if i >= n:
                    break
        final = list(transaction)
        again = list(transaction)
        assert len(final) == len(again) and all(a.equals(b) for a, b in zip(final, again, strict=True))
        held = sum(chunk.height for chunk in final)
        assert held <= size or len(final) == 1  # a chunk is never split
        if seen:  # the transaction before could not take this one's first chunk
            assert sum(c.height for c in previous) + final[0].height > size
        previous = final
        seen.extend(final)
    assert len(seen) == len(source) and all(a.equals(b) for a, b in zip(seen, source, strict=True))


def _source(sink: Any, items: list[object], fail_at: int | None = None) -> Iterator[object]:
    for i, item in enumerate(items):
        if fail_at == i:
            raise ValueError(f"broken at {i}")
        if isinstance(item, RowError):
            sink(item)
        else:
            yield item


@settings(max_examples=100, deadline=None)
@given(kinds=st.lists(st.booleans(), max_size=40), depth=st.integers(min_value=1, max_value=4),
       fail=st.one_of(st.none(), st.integers(min_value=0, max_value=40)))
def test_read_ahead_gives_what_reading_in_turn_gives(kinds: list[bool], depth: int, fail: int | None) -> None:
    """Items and row errors reach the caller in the order the reading made them, and a failure of the
    reading comes where the next item would have: as when the same source is read in the caller's thread."""
    from credits_cli.rating.ordering import read_ahead

    items: list[object] = [RowError("calls.csv", i, "bad") if bad else i for i, bad in enumerate(kinds)]

    def events(reading: Any) -> list[object]:
        seen: list[object] = []
        try:
            for item in reading(seen.append):
                seen.append(("item", item))
        except ValueError as exc:
            seen.append(("failed", str(exc)))
        return seen

    def in_turn(on_error: Any) -> Iterator[object]:
        return _source(on_error, items, fail)

    def ahead(on_error: Any) -> Iterator[object]:
        return iter(read_ahead(lambda sink: _source(sink, items, fail), on_error, depth=depth))

    assert events(ahead) == events(in_turn)
    assert not [t for t in threading.enumerate() if t.name == "credits-read-ahead"]


def test_read_ahead_closed_early_stops_its_thread_and_the_source() -> None:
    from contextvars import ContextVar

    from credits_cli.rating.ordering import read_ahead

    language: ContextVar[str] = ContextVar("language", default="en")
    language.set("de")
    closed: list[bool] = []

    def endless(sink: Any) -> Iterator[str]:
        try:
            while True:
                yield language.get()  # the caller's context, in the reading thread
        finally:
            closed.append(True)

    with read_ahead(endless, lambda e: None, depth=2) as reading:
        got = [x for x, _ in zip(reading, range(5), strict=False)]
    assert got == ["de"] * 5 and closed == [True]
    assert not [t for t in threading.enumerate() if t.name == "credits-read-ahead"]
    reading.close()  # again: nothing to do
    assert closed == [True]
