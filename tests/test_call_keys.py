"""The duplicate guard's keys (credits_cli/callkey.py): a collision is resolved by the ids themselves.

The key is a 64-bit hash; here it is made to collide on purpose (every id the same key, or a few
keys for many ids), and the books must still hold each call once, find every duplicate, and keep
the guard unique, across files, imports and transactions.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from credits_cli import callkey
from credits_cli import db as dbmod
from credits_cli.errors import DatabaseError
from credits_cli.rating import store
from tests.helpers import assert_error, pin_now

ROOT = Path(__file__).resolve().parent.parent


def calls_csv(path: Path, ids: list[str]) -> Path:
    rows = [f"{x},ada@contoso.com,2026-10-0{1 + i % 9}T10:{i % 60:02d}:00Z,61,outbound,+12065550{i:03d}"
            for i, x in enumerate(ids)]
    path.write_text("call_id,user,start,duration_seconds,kind,number\n" + "\n".join(rows) + "\n")
    return path


def stored() -> list[tuple[str, int]]:
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        rows = [tuple(r) for r in s.execute(sa.text("SELECT external_id, guard FROM calls ORDER BY id"))]
        # the guard holds each call's key once, naming that call
        guards = s.execute(sa.text("SELECT c.tenant_id, c.guard, c.id FROM calls c ORDER BY 1, 2")).all()
        assert guards == s.execute(sa.text("SELECT tenant_id, guard, call_id FROM call_guards ORDER BY 1, 2")).all()
        return rows


def _keys_by(monkeypatch: pytest.MonkeyPatch, key: Callable[[str], int]) -> None:
    """Rating makes each call's key with ``key`` (collisions on demand) instead of the hash."""
    monkeypatch.setattr(store, "keys_of", lambda ids: {x: key(x) for x in ids})


@pytest.fixture
def ready(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pin_now(monkeypatch, "2026-11-02T09:00:00Z")
    for step in (
        ("tenant", "add", "contoso", "--name", "Contoso", "--country", "US", "--currency", "USD"),
        ("payment", "set", "--card-expiry", "2099-12", "--last4", "4242"),
        ("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg"),
        ("license", "assign", "ada@contoso.com"),
        ("topup", "100"),
        ("rates", "load", str(ROOT / "rates" / "default-usd.yaml")),
    ):
        assert cli(*step).exit_code == 0, step
    return cli


def test_each_call_keeps_the_name_of_its_file(ready, tmp_path: Path) -> None:
    names = ["a.csv", "zürich 'q'.csv", "c,d.csv"]
    files = [str(calls_csv(tmp_path / name, [f"f{k}-{i}" for i in range(3)])) for k, name in enumerate(names)]
    assert ready("rate-cdrs", *files).exit_code == 0
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        rows = s.execute(sa.text("SELECT external_id, source_file FROM calls")).all()
    assert sorted(rows) == sorted((f"f{k}-{i}", name) for k, name in enumerate(names) for i in range(3))


@pytest.mark.parametrize("keys", [lambda x: 5, lambda x: len(x) % 3, lambda x: 2**63 - 1 - len(x) % 2])
def test_colliding_keys_keep_every_call_once(ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys) -> None:
    _keys_by(monkeypatch, keys)
    monkeypatch.setenv("CREDITS_RATE_BATCH", "4")  # several transactions and chunks
    ids = [f"c{i}" for i in range(12)] + ["c3", "c7"]  # two duplicates inside the file
    first = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ids)), "--json").stdout)
    assert first["duplicates"] == 2 and first["statuses"]["charged"] == 12
    # A second file: six calls again, six new ones, among them ids whose keys collide with those stored.
    more = ids[:6] + [f"n{i}" for i in range(6)]
    second = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", more)), "--json").stdout)
    assert second["duplicates"] == 6 and second["statuses"]["charged"] == 6
    again = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "c.csv", more + ids)), "--json").stdout)
    assert again["duplicates"] == len(more + ids) and again["statuses"]["charged"] == 0
    rows = stored()
    assert sorted(x for x, _ in rows) == sorted({*ids, *more})
    assert len({g for _, g in rows}) == len(rows)  # the guard is unique
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True


@pytest.mark.parametrize("keys", [lambda x: 5, lambda x: len(x) % 3])
def test_a_transaction_finds_its_own_calls_before_their_keys_are_in_the_guard(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys
) -> None:
    """Keys are put in the guard at a transaction's end: until then, a call of an earlier chunk of the same
    transaction is found (a duplicate) and its key is not given again (a collision)."""
    from credits_cli import rating

    _keys_by(monkeypatch, keys)
    monkeypatch.setattr(rating, "CHUNK_ROWS", 2)
    monkeypatch.setenv("CREDITS_RATE_BATCH", "8")  # four chunks to a transaction
    ids = [f"c{i}" for i in range(10)] + ["c1", "c6", "c9", "new"]
    doc = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ids)), "--json").stdout)
    assert doc["duplicates"] == 3 and doc["statuses"]["charged"] == 11
    rows = stored()
    assert sorted(x for x, _ in rows) == sorted(set(ids)) and len({g for _, g in rows}) == len(rows)
    again = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", ids[::-1])), "--json").stdout)
    assert again["duplicates"] == len(ids) and again["statuses"]["charged"] == 0
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True


def test_the_guard_refuses_a_key_held_twice(ready, tmp_path: Path) -> None:
    """The guarantee is the database's: a second row for a (tenant, key) is refused."""
    ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1"])))
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with pytest.raises(DatabaseError, match="(?i)unique|duplicate key"):
        database.write(lambda s: s.execute(sa.text("INSERT INTO call_guards (tenant_id, guard, call_id) "
                                                   "SELECT tenant_id, guard, call_id + 1 FROM call_guards")))


def test_new_keys_go_into_the_guard_whole(ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transaction's keys are written a part of the key range at a time: keys from every part, the
    extremes among them, are all written, each naming its call."""
    edges = [-(2**63), -(2**60) - 1, -(2**60), -1, 0, 2**60 - 1, 2**60, 2**63 - 1]
    spread = [*edges, *(k * 2**59 + 12345 for k in range(-16, 16))]
    ids = [f"c{i}" for i in range(len(spread))]
    _keys_by(monkeypatch, dict(zip(ids, spread, strict=True)).__getitem__)
    doc = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ids)), "--json").stdout)
    assert doc["statuses"]["charged"] == len(ids)
    rows = stored()  # every call's key in the guard, naming that call
    assert sorted(g for _, g in rows) == sorted(spread)
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True  # its checksum at the edges of 64 bits


def test_verify_finds_a_guard_that_does_not_match_the_calls(ready, tmp_path: Path) -> None:
    """verify: a call whose key is not in the guard (it could be charged again), or a key beside the calls'."""
    ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1", "c2"])))
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    database.write(lambda s: s.execute(sa.text(
        "DELETE FROM call_guards WHERE call_id = (SELECT id FROM calls WHERE external_id = 'c2')")))
    assert_error(ready("verify"), "call c2: its key is not in the duplicate guard")
    database.write(lambda s: s.execute(sa.text(
        "INSERT INTO call_guards (tenant_id, guard, call_id) SELECT tenant_id, guard, id FROM calls "
        "WHERE external_id = 'c2'")))
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True
    database.write(lambda s: s.execute(sa.text(
        "INSERT INTO call_guards (tenant_id, guard, call_id) SELECT tenant_id, guard + 1, id FROM calls "
        "WHERE external_id = 'c2'")))
    assert_error(ready("verify"), "the duplicate guard does not match the calls: 3 keys, 2 calls")


def test_verify_finds_a_key_that_names_another_call(ready, tmp_path: Path) -> None:
    """As many keys as calls, but one names the wrong call (or a call's key is held under another key):
    verify names the call whose key is not in the guard as it should be."""
    ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1", "c2", "c3"])))
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        ids = dict(s.execute(sa.text("SELECT external_id, id FROM calls")).all())
    c1, c2 = ids["c1"], ids["c2"]
    swap = ("UPDATE call_guards SET call_id = CASE call_id WHEN :a THEN :b ELSE :a END "
            "WHERE call_id IN (:a, :b)")
    database.write(lambda s: s.execute(sa.text(swap), {"a": c1, "b": c2}))
    assert_error(ready("verify"), "its key is not in the duplicate guard")
    database.write(lambda s: s.execute(sa.text(swap), {"a": c1, "b": c2}))
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True
    shift = "UPDATE call_guards SET guard = guard + :d WHERE call_id = :c"
    database.write(lambda s: s.execute(sa.text(shift), {"d": 1, "c": c1}))
    assert_error(ready("verify"), "call c1: its key is not in the duplicate guard")
    database.write(lambda s: s.execute(sa.text(shift), {"d": -1, "c": c1}))
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True


@pytest.mark.parametrize("staged", [True, False], ids=["staged", "chunk by chunk"])
def test_a_chunks_columns_of_one_value_are_stored_as_read(ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          staged: bool) -> None:
    """Calls are stored as read whichever way they are written: staged in a scratch file and copied at the
    transaction's end (SQLite), or inserted a chunk at a time. Either way a column with one value in a whole
    chunk goes into the statement as a literal (not bound): a file name with quotes in it, or one that is not
    ASCII (bound as before), is stored as it was read."""
    monkeypatch.setenv("CREDITS_RATE_BATCH", "3")  # chunks of three calls
    written: list[object] = []  # the values written into a statement
    literal = store.sql_literal
    monkeypatch.setattr(store, "sql_literal", lambda v: written.append(v) or literal(v))
    opened: list[object] = []
    open_staged = store.StagedCalls.open
    monkeypatch.setattr(store.StagedCalls, "open", classmethod(
        lambda cls, session: opened.append(found := open_staged(session) if staged else None) or found))
    names = ["o'brien's ''calls''.csv", "zürich; DROP TABLE calls.csv", "plain.csv"]
    files = [calls_csv(tmp_path / name, [f"{k}-{i}" for i in range(4)]) for k, name in enumerate(names)]
    # the first file alone (its name the same in every chunk), then two whose calls alternate in each chunk
    docs = [json.loads(ready("rate-cdrs", *map(str, part), "--json").stdout) for part in (files[:1], files[1:])]
    assert [d["statuses"]["charged"] for d in docs] == [4, 8]
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        got = s.execute(sa.text("SELECT external_id, source_file, source_line, tenant_id, import_id, start "
                                "FROM calls ORDER BY external_id")).all()
    assert [(x, f, n) for x, f, n, *_ in got] == [
        (f"{k}-{i}", name, i + 2) for k, name in enumerate(names) for i in range(4)]
    tenant = got[0][3]
    imports = [docs[min(k, 1)]["import_id"] for k in range(3) for _ in range(4)]
    assert [(t, i) for *_, t, i, _ in got] == [(tenant, i) for i in imports]
    if database.engine.dialect.name == "sqlite":  # (PostgreSQL's insert binds every value)
        if staged:  # one scratch file a transaction (of three calls: 2 + 3), each removed
            assert len(opened) == 5 and all(isinstance(x, store.StagedCalls) for x in opened)
            assert not any(os.path.exists(x.path) for x in opened)  # type: ignore[attr-defined]
        assert names[0] in written and names[2] not in written  # (plain.csv's chunks mix it with zürich)
    assert all(str(start).startswith("2026-10-0") for *_, start in got)
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True


def test_staged_calls_are_stored_as_bound_ones(ready) -> None:
    """The scratch file's copy stores each value as binding it does: the same value, of the same type, for
    the values at the edges (64-bit extremes, NUL, quotes, text that is not ASCII, empty, null)."""
    import polars as pl

    database = dbmod.open_database(os.environ["CREDITS_DB"])
    if database.engine.dialect.name != "sqlite":
        pytest.skip("calls are staged on SQLite only")
    with database.read() as s:
        tenant = s.execute(sa.text("SELECT id FROM tenants")).scalar_one()
        nullable = {r[1] for r in s.execute(sa.text("PRAGMA table_info(calls)")) if not r[3]}
    ints = {"tenant_id", "import_id", "source_line", "user_id", "duration_seconds", "billed_seconds",
            "pool_seconds", "charged_seconds", "charge", "ms_charge", "ms_connection_fee", "guard"}
    types = {c: pl.Int64 if c in ints else pl.Boolean if c == "domestic" else pl.Datetime("us") if c == "start"
             else pl.String for c in store.CALL_COLUMNS}
    texts = ["o'brien \"x\" ''", "zürich 📞 中", "a\x00b", "tab\there\r\n", "", "x" * 5000, "%s ? :a $1"]
    edges = [-(2**63), 2**63 - 1, 0, -1, 2**31, 7, 1]
    starts = [datetime(2026, 10, 1), datetime(2026, 10, 1, 0, 0, 0, 999999), datetime(1999, 12, 31, 23, 59, 59, 1),
              datetime(2026, 2, 28, 12), datetime(2026, 10, 31, 23, 59, 59, 500), datetime(2026, 1, 1),
              datetime(2026, 6, 6, 6, 6, 6, 60)]
    n = len(texts)

    def column(name: str) -> list[object]:
        if name == "tenant_id":
            return [tenant] * n
        if name in ("import_id", "user_id"):  # (foreign keys)
            return [None] * n
        values: list[object] = (edges if name in ints else [True, False, True, False, True, False, True]
                                if name == "domestic" else starts if name == "start" else texts)
        return values[:-1] + [None] if name in nullable else values

    frame = pl.DataFrame({c: column(c) for c in store.CALL_COLUMNS}, schema=types)

    def write(staged: bool) -> list[int]:
        holder: list[store.StagedCalls] = []

        def work(session):
            if not staged:
                return store.insert_calls(session, frame)
            holder.append(stage := store.StagedCalls.open(session))
            ids = stage.add(session, frame)
            stage._written()
            assert stage._execute("PRAGMA page_size", query=True).item() == store.SCRATCH_PAGE_SIZE
            assert stage.external_ids(ids[-2:]) == dict(zip(ids[-2:], texts[-2:], strict=True))
            stage.flush(session)
            return ids

        try:
            return database.write(work)
        finally:
            for stage in holder:
                stage.close()

    first, second = write(False), write(True)
    assert second[0] == first[-1] + 1
    columns = ", ".join(f"{c}, typeof({c})" for c in store.CALL_COLUMNS)
    with database.read() as s:
        read = [s.execute(sa.text(f"SELECT {columns} FROM calls WHERE id IN ({', '.join(map(str, ids))}) "
                                  "ORDER BY id")).all() for ids in (first, second)]
    assert read[0] == read[1] and len(read[0]) == n
    assert [r[2 * store.CALL_COLUMNS.index("external_id")] for r in read[1]] == texts


def test_a_temporary_folder_with_uri_characters_in_its_name_is_used_as_named(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scratch file is opened by a URI: ``?``, ``#``, ``%`` and spaces in the folder's name are that
    folder's, not a query."""
    import tempfile

    folder = tmp_path / "tmp ?mode=ro#x %41"
    folder.mkdir()
    seen: list[str] = []
    open_staged = store.StagedCalls.open
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.setattr(store.StagedCalls, "open", classmethod(
        lambda cls, session: (found := open_staged(session)) and (seen.append(os.listdir(folder)[0]) or found)))
    doc = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1", "c2"])), "--json").stdout)
    assert doc["statuses"]["charged"] == 2 and [x for x, _ in stored()] == ["c1", "c2"]
    if dbmod.open_database(os.environ["CREDITS_DB"]).engine.dialect.name == "sqlite":
        assert len(seen) == 1 and seen[0].startswith("credits-calls-")  # made in that folder, and removed
    assert os.listdir(folder) == []


@pytest.mark.skipif(os.name != "posix", reason="a process is asked whether it runs on POSIX only")
def test_a_killed_imports_scratch_folder_is_removed_by_the_next_import(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scratch folder whose process is gone (a kill -9) and that has not changed for an hour is removed
    when the next import stages its calls; a running process's, a fresh one, another file, are kept."""
    import subprocess
    import sys
    import tempfile
    import time

    folder = tmp_path / "tmp"
    folder.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead = int(gone.stdout)
    old = time.time() - store.STALE_SECONDS - 60

    def scratch(name: str, when: float) -> Path:
        path = folder / name
        path.mkdir(mode=0o700)
        (path / "calls.sqlite").write_bytes(b"call data")
        (path / store.KEYS_FILE).write_bytes(b"sorted keys")  # (the keys' file, when the kill came after the sort)
        for p in (path / "calls.sqlite", path / store.KEYS_FILE, path):
            os.utime(p, (when, when))
        return path

    left = scratch(f"credits-calls-{dead}-k1ll3d_x", old)
    unnamed = scratch("credits-calls-1htggbfu", old)  # made before the name carried the process
    alive = scratch(f"credits-calls-{os.getpid()}-running1", old)
    fresh = scratch(f"credits-calls-{dead}-recent_1", time.time())
    huge = scratch("credits-calls-99999999999-abcdefgh", old)  # no process can have that number
    crowded = scratch(f"credits-calls-{dead}-crowded1", old)  # something else in it: only ours goes
    (crowded / "notes.txt").write_text("mine")
    os.utime(crowded, (old, old))
    mine = [scratch(name, old) for name in ("credits-calls-2024-05", "credits-calls-backup")]
    (mine[1] / "invoice.pdf").write_text("mine")
    elsewhere = scratch("elsewhere", old)
    (folder / f"credits-calls-{dead}-linked_1").symlink_to(elsewhere)
    other = folder / "credits-calls-notes.txt"
    other.write_text("not a scratch folder")
    os.utime(other, (old, old))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    doc = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1", "c2"])), "--json").stdout)
    assert doc["statuses"]["charged"] == 2
    if dbmod.open_database(os.environ["CREDITS_DB"]).engine.dialect.name != "sqlite":
        pytest.skip("calls are staged on SQLite only")
    assert not left.exists() and not unnamed.exists()
    assert os.listdir(crowded) == ["notes.txt"]
    for kept in (alive, fresh, huge, *mine, elsewhere):
        assert (kept / "calls.sqlite").read_bytes() == b"call data"
    assert (mine[1] / "invoice.pdf").exists() and other.exists()
    assert sorted(os.listdir(folder)) == sorted(p.name for p in (alive, fresh, huge, crowded, *mine, elsewhere, other,
                                                                 folder / f"credits-calls-{dead}-linked_1"))


def _two_calls_staged(ready, tmp_path: Path) -> dict:
    """c1 and c2 rated (on SQLite: staged, else the test is skipped); the balance after them."""
    first = ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", ["c1", "c2"])), "--json")
    assert json.loads(first.stdout)["statuses"]["charged"] == 2
    if dbmod.open_database(os.environ["CREDITS_DB"]).engine.dialect.name != "sqlite":
        pytest.skip("calls are staged on SQLite only")
    return json.loads(ready("balance", "--json").stdout)


def test_a_scratch_file_that_cannot_be_written_stops_the_import_whole(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls cannot be staged (here the temporary folder is a file; a full disk alike): one line says
    where, and the database is as it was."""
    import tempfile

    before = _two_calls_staged(ready, tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    was = tempfile.tempdir
    monkeypatch.setattr(tempfile, "tempdir", str(blocker))
    assert_error(ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", ["c3", "c4"]))),
                 f"cannot write the calls: temporary files in {blocker}: ", "(TMPDIR chooses the folder)")
    monkeypatch.setattr(tempfile, "tempdir", was)
    assert json.loads(ready("balance", "--json").stdout) == before
    assert [x for x, _ in stored()] == ["c1", "c2"]
    assert json.loads(ready("verify", "--json").stdout)["ok"] is True


def test_a_scratch_write_failing_in_its_thread_stops_the_import_whole(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are written into the scratch file by a thread of their own while the next is rated: a write
    that fails there (a full disk) still stops the import with one line, and the database is as it was."""
    from credits_cli import rating

    before = _two_calls_staged(ready, tmp_path)
    monkeypatch.setattr(rating, "CHUNK_ROWS", 2)  # five chunks in one transaction
    execute = store.StagedCalls._execute
    appended: list[str] = []

    def failing(self, sql: str = "", *, query: bool = False, into=None, table: str = "calls", **more):
        if into is not None and table == "calls":
            appended.append(threading.current_thread().name)
            if len(appended) == 3:
                raise self._cannot_write(OSError(28, "No space left on device"))
        return execute(self, sql, query=query, into=into, table=table, **more)

    monkeypatch.setattr(store.StagedCalls, "_execute", failing)
    result = ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", [f"d{i}" for i in range(10)])))
    assert_error(result, "cannot write the calls: temporary files in ", ": no space left on device")
    assert len(appended) in (3, 4) and all(name.startswith("credits-staging") for name in appended)
    assert json.loads(ready("balance", "--json").stdout) == before
    assert [x for x, _ in stored()] == ["c1", "c2"]
    assert not [t for t in threading.enumerate() if t.name.startswith(("credits-staging", "credits-read-ahead"))]


def test_the_keys_are_sorted_in_a_file_of_their_own_while_the_calls_are_copied(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a transaction's end the writer thread sorts the staged keys into a file of their own, of 4 KiB
    pages (SQLite's sort holds at least 250 of its file's pages in memory), while the transaction copies
    the calls; the guard takes them in that order, each naming its call."""
    import sqlite3
    from contextlib import closing

    _two_calls_staged(ready, tmp_path)
    sort_keys, attach = store.StagedCalls._sort_keys, store.StagedCalls._attach
    sorted_files: list[tuple[str, int, list[tuple[int, int]]]] = []
    sorting_at_copy: list[bool] = []  # whether the sort was under way when the calls' copy began

    def sorting(self) -> str:
        path = sort_keys(self)
        with closing(sqlite3.connect(path)) as conn:
            sorted_files.append((threading.current_thread().name, conn.execute("PRAGMA page_size").fetchone()[0],
                                 conn.execute("SELECT guard, id FROM guards ORDER BY rowid").fetchall()))
        return path

    def attaching(self, session) -> str:  # (the scratch file is attached for the copy, in flush)
        sorting_at_copy.append(self._sorted is not None)
        return attach(self, session)

    monkeypatch.setattr(store.StagedCalls, "_sort_keys", sorting)
    monkeypatch.setattr(store.StagedCalls, "_attach", attaching)
    monkeypatch.setenv("CREDITS_RATE_BATCH", "5")  # transactions of 5, 5 and 2 calls
    ids = [f"s{i}" for i in range(12)]
    doc = json.loads(ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", ids)), "--json").stdout)
    assert doc["statuses"]["charged"] == 12
    assert [len(rows) for *_, rows in sorted_files] == [5, 5, 2] and sorting_at_copy == [True] * 3
    assert all(name.startswith("credits-staging") and page == 4096 for name, page, _ in sorted_files)
    assert all(rows == sorted(rows) for *_, rows in sorted_files)
    stored_now = stored()  # (the guard holds each call's key once, naming that call)
    assert sorted(x for x, _ in stored_now) == sorted(["c1", "c2", *ids])
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    with database.read() as s:
        new = s.execute(sa.text("SELECT guard, id FROM calls WHERE external_id LIKE 's%' ORDER BY id")).all()
    assert sorted(tuple(r) for r in new) == sorted(r for *_, rows in sorted_files for r in rows)


def test_a_sort_of_the_keys_failing_in_its_thread_stops_the_import_whole(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keys are sorted by the writer thread while the calls are copied: a sort that fails there (a full
    disk, its file half written) stops the import with one line; the database is as it was, and the scratch
    folder is removed with both files."""
    import tempfile

    before = _two_calls_staged(ready, tmp_path)
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    sort_keys = store.StagedCalls._sort_keys
    made: list[list[str]] = []

    def failing(self) -> str:
        path = sort_keys(self)
        made.append(sorted(os.listdir(os.path.dirname(path))))
        raise self._cannot_write(OSError(28, "No space left on device"))

    monkeypatch.setattr(store.StagedCalls, "_sort_keys", failing)
    result = ready("rate-cdrs", str(calls_csv(tmp_path / "b.csv", [f"d{i}" for i in range(5)])))
    assert_error(result, "cannot write the calls: temporary files in ", ": no space left on device")
    assert made == [[store.SCRATCH_FILE, store.KEYS_FILE]]
    assert json.loads(ready("balance", "--json").stdout) == before
    assert [x for x, _ in stored()] == ["c1", "c2"]
    assert not [t for t in threading.enumerate() if t.name.startswith(("credits-staging", "credits-read-ahead"))]
    assert os.listdir(folder) == []


def test_a_literal_is_what_binding_would_store() -> None:
    assert [store.sql_literal(v) for v in (None, True, False, 0, -(2**63), 42, "it's", "")] == [
        "NULL", "1", "0", "0", str(-(2**63)), "42", "'it''s'", "''"]
    for bound in ("zürich", "a\x00b", "tab\there", 1.5, b"x"):  # not ASCII, not printable, not int or text
        assert store.sql_literal(bound) is None


def test_the_key_is_stable() -> None:
    # Stored in every database: a change would let a call already rated in again.
    assert callkey.key_of("w1") == -991772088101750344
    ids = ["w1", "", "a" * 300, "é-ü-中", "\ud800 lone", "00000000-0000-0000-0000-000000000000"]
    assert callkey.keys_of(ids) == {x: callkey.key_of(x) for x in ids}  # an import's keys, made many at once
    assert callkey.next_key(2**63 - 1) == -(2**63)


def test_the_migration_keys_are_the_ones_rating_makes() -> None:
    from credits_cli import migrations

    for x in ("w1", "", "a" * 300, "é-ü-中", "00000000-0000-0000-0000-000000000000"):
        assert migrations._guard_key(x) == callkey.key_of(x)
    for key in (0, -1, 2**63 - 1, -(2**63)):
        assert migrations._next_guard(key) == callkey.next_key(key)


def test_an_old_database_gets_its_keys_and_keeps_every_id_findable(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calls of a database made before the guard get their keys on upgrade, colliding ones included
    (three keys for 40-odd calls): each is found again by its id, and a new id is given a free key."""
    import shutil

    from credits_cli import migrations

    tiny = lambda x: len(x) % 3  # noqa: E731
    monkeypatch.setattr(migrations, "_guard_key", tiny)
    _keys_by(monkeypatch, tiny)
    monkeypatch.setenv("CREDITS_NOW", "2026-10-31T12:00:00Z")
    copy = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).resolve().parent / "fixtures" / "c41acc5.db", copy)
    assert cli("--db", str(copy), "verify", "--json").exit_code == 0  # opens, and upgrades
    database = dbmod.open_database(str(copy))
    with database.read() as s:
        rows = s.execute(sa.text("SELECT tenant_id, external_id, guard FROM calls")).all()
        assert len(rows) >= 40 and len({(t, g) for t, _, g in rows}) == len(rows)
        assert s.execute(sa.text("SELECT tenant_id, guard, call_id FROM call_guards ORDER BY 1, 2")).all() == \
            s.execute(sa.text("SELECT tenant_id, guard, id FROM calls ORDER BY 1, 2")).all()
        for tenant_id in {t for t, _, _ in rows}:
            ids = [x for t, x, _ in rows if t == tenant_id]
            existing, free = store.identify(s, tenant_id, [*ids, "new-call"])
            assert existing == set(ids) and list(free) == ["new-call"]
            assert free["new-call"] not in {g for t, _, g in rows if t == tenant_id}


def test_new_keys_find_the_calls_of_chunks_whose_ids_run_on_and_of_others() -> None:
    """A transaction's keys: a chunk whose ids follow one another keeps only the first id; either way
    each key found names its own call, and the guard's rows pair every key with its id."""
    new = store.NewKeys()
    new.add([10, 11, 12], [100, 101, 102])  # ids that run on: kept as 100
    new.add([20, 21], [7, 3])  # ids that do not
    new.add([30, -5], [103, 104])
    assert new.find([12, 21, -5, 99]) == {12: 102, 21: 3, -5: 104}
    assert new.find([]) == {} and store.NewKeys().find([1]) == {}
    assert new._all_ids().to_list() == [100, 101, 102, 7, 3, 103, 104]


def test_a_tenant_removed_during_an_import_stops_it_and_leaves_nothing_orphaned(
    ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import's transactions run without SQLite's foreign-key checks and check their references
    themselves: a tenant removed between two of them stops the import with one line, and no row is
    left naming what is gone. Every other transaction checks as always."""
    import sqlite3

    from credits_cli import rating, tenants

    monkeypatch.setattr(rating, "CHUNK_ROWS", 2)
    monkeypatch.setenv("CREDITS_RATE_BATCH", "4")  # five transactions for ten calls
    real = dbmod.Database.write
    imports: list[int] = []

    def write(self, work, **options):
        if options.get("references_checked"):
            imports.append(1)
            if len(imports) == 2:  # after the first transaction, before the second
                real(self, lambda s: tenants.remove_tenant(s, tenants.resolve(s, "contoso"), force=True))
        return real(self, work, **options)

    monkeypatch.setattr(dbmod.Database, "write", write)
    result = ready("rate-cdrs", str(calls_csv(tmp_path / "a.csv", [f"c{i}" for i in range(10)])))
    database = dbmod.open_database(os.environ["CREDITS_DB"])
    if database.is_sqlite:
        assert_error(result, "tenant contoso was removed while its calls were rated: the last batch was not written")
        with sqlite3.connect(os.environ["CREDITS_DB"]) as conn:
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    else:  # PostgreSQL checks each row as always: the first call of the tenant that is gone is refused
        assert_error(result, "foreign key")
    with database.read() as s:
        assert s.execute(sa.text("SELECT count(*) FROM calls")).scalar_one() == 0
    with pytest.raises(DatabaseError, match="(?i)foreign key"):
        database.write(lambda s: s.execute(sa.text("INSERT INTO call_guards (tenant_id, guard, call_id) "
                                                   "VALUES (12345, 1, 1)")))


def test_look_ups_come_in_a_few_shapes() -> None:
    # The driver keeps 128 prepared statements: one per length of a chunk's keys would hold megabytes each.
    shapes = {len(store._padded(list(range(n)), 15_000)) for n in range(1, 15_001, 7)}
    assert shapes == {64, 1024, 15_000}
    assert {len(store._padded(list(range(n)), 998)) for n in range(1, 999)} == {64, 998}
    assert set(store._padded([5, 9, 2], 15_000)) == {5, 9, 2}
