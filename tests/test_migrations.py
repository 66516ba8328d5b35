"""The migrations make the schema the models describe, and old databases upgrade.

* A database built migration by migration (each applied and recorded in turn)
  is compared with the models' metadata by alembic's ``compare_metadata``:
  tables, columns, types, nullability, indexes, unique constraints and foreign
  keys. A model change without its migration (or the reverse) fails here.
* The comparison has teeth: a changed copy of the metadata is reported.
* A database made by the code of commit c41acc5 (``tests/fixtures``, made by
  ``make_old_db.sh``) opens and upgrades in place, keeps its data, and ends
  with exactly the schema a fresh database gets, on SQLite and PostgreSQL.

The SQLite cases always run; the PostgreSQL ones when
``CREDITS_TEST_DATABASE_URL`` names a server (each in a schema of its own).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credits_cli import db as dbmod
from credits_cli import migrations
from credits_cli.migrations import NAMES, add_column, apply_migrations, create_index, drop_index
from tests.helpers import assert_error, assert_json

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD = "c41acc5"  # the commit whose code made the fixtures
OLD_NOW = "2026-10-31T12:00:00Z"  # CREDITS_NOW when they were made
PG_URL = os.environ.get("CREDITS_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server"))]


# --- comparing a database with the models -----------------------------------------


def drift(database: dbmod.Database, metadata: sa.MetaData | None = None) -> list[tuple[str, ...]]:
    """What alembic's autogenerate would change to make the database match ``metadata``
    (the models' by default), as (operation, table, name) tuples, sorted."""
    metadata = dbmod.metadata() if metadata is None else metadata
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        found = {_describe(d) for d in compare_metadata(context, metadata)}
        found |= _unique_drift(conn, metadata) | _primary_key_drift(conn, metadata)
    return sorted(found)


def _primary_key_drift(conn: sa.Connection, metadata: sa.MetaData) -> set[tuple[str, ...]]:
    """alembic does not compare primary keys: each table's, by its columns."""
    inspector = sa.inspect(conn)
    found = set()
    for name in set(inspector.get_table_names()) & set(metadata.tables):
        in_database = ",".join(inspector.get_pk_constraint(name)["constrained_columns"])
        in_models = ",".join(c.name for c in metadata.tables[name].primary_key.columns)
        if in_database != in_models:
            found.add(("modify_primary_key", name, in_models))
    return found


def _unique_drift(conn: sa.Connection, metadata: sa.MetaData) -> set[tuple[str, ...]]:
    """Unique constraints by their columns, both ways. alembic leaves out a constraint the
    database has and the models do not when it has no name (SQLite's never do): it could
    not write the DROP. A model that loses a ``UniqueConstraint`` must still be seen."""
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names()) & set(metadata.tables)
    in_database = {
        (name, ",".join(uq["column_names"])) for name in tables for uq in inspector.get_unique_constraints(name)
    }
    in_models = {
        (name, ",".join(c.name for c in uq.columns))
        for name in tables
        for uq in metadata.tables[name].constraints
        if isinstance(uq, sa.UniqueConstraint)
    }
    return {("remove_constraint", *key) for key in in_database - in_models} | {
        ("add_constraint", *key) for key in in_models - in_database
    }


def _describe(diff: Any) -> tuple[str, ...]:
    """(operation, table, what): an index by its name, a constraint by its columns (SQLite
    reflects unnamed constraints without a name, PostgreSQL with the one it gave them)."""
    if isinstance(diff, list):  # modify_type, modify_nullable: a list of one tuple per column change
        return _describe(diff[0])
    op, *rest = diff
    if op.startswith("modify_"):  # (op, schema, table, column, info, old, new)
        return (op, rest[1], rest[2])
    if op.endswith("_column"):  # (op, schema, table, column)
        return (op, rest[1], rest[2].name)
    thing = rest[-1]
    if op.endswith("_table"):
        return (op, thing.name, "")
    if isinstance(thing, sa.Index):
        return (op, thing.table.name, thing.name)
    return (op, thing.table.name, ",".join(c.name for c in thing.columns))


def copy_of_models() -> sa.MetaData:
    """A copy of the models' metadata to change in a test; the models are left alone."""
    copy = sa.MetaData()
    for table in dbmod.metadata().sorted_tables:
        table.to_metadata(copy)
    return copy


def shape(database: dbmod.Database) -> list[tuple[Any, ...]]:
    """The schema as the database itself describes it, text for text: SQLite's
    ``sqlite_master``; PostgreSQL's columns (types, nullability, defaults),
    constraints and index definitions, without the schema's name."""
    with database.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return list(conn.execute(sa.text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")))
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        columns = conn.execute(sa.text(
            "SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " ORDER BY table_name, ordinal_position"))
        constraints = conn.execute(sa.text(
            "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_class t ON t.oid = c.conrelid WHERE t.relnamespace = current_schema()::regnamespace"
            " ORDER BY 1, 2"))
        indexes = conn.execute(sa.text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " ORDER BY 1, 2"))
        text = [tuple(row) for row in [*columns, *constraints, *indexes]]
        return [tuple(str(v).replace(f"{schema}.", "") if v is not None else None for v in row) for row in text]


def applied(database: dbmod.Database) -> list[str]:
    with database.engine.connect() as conn:
        return sorted(conn.execute(sa.text("SELECT name FROM schema_migrations")).scalars())


# --- databases to compare ---------------------------------------------------------


def _new_url(backend: str, folder: Path) -> str:
    if backend == "postgresql":
        from tests.pg import fresh_schema_url

        assert PG_URL
        return fresh_schema_url(PG_URL)
    return dbmod.resolve_url(str(folder / "steps.db"))


@pytest.fixture(scope="module", params=BACKENDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A database built migration by migration; what it recorded and how it compared after each step."""
    database = dbmod.Database(_new_url(request.param, tmp_path_factory.mktemp("steps")))
    steps = []
    for name in NAMES:
        done = database.write(lambda session, name=name: apply_migrations(session, until=name))
        steps.append({"name": name, "done": done, "applied": applied(database), "drift": drift(database)})
    yield {"database": database, "steps": steps}
    database.dispose()


def test_each_migration_is_applied_and_recorded_in_turn(built: dict[str, Any]) -> None:
    for n, step in enumerate(built["steps"]):
        assert step["done"] == [step["name"]]
        assert step["applied"] == sorted(NAMES[: n + 1])


def test_built_step_by_step_the_schema_is_the_models(built: dict[str, Any]) -> None:
    assert built["steps"][-1]["drift"] == []
    assert drift(built["database"]) == []


def test_0001_is_the_schema_it_shipped_with(built: dict[str, Any]) -> None:
    """0001 made the two calls indexes that 0002 drops (the models have not had them since); what
    else the models have over 0001 is what the later migrations add, each step closing its part. 0011
    made the guard's unique index on calls that 0012 replaces with the table call_guards."""
    dropped_by_0002 = [("remove_index", "calls", "ix_calls_status"), ("remove_index", "calls", "ix_calls_user_id")]
    after_0001 = built["steps"][0]["drift"]
    assert all(d in after_0001 for d in dropped_by_0002)
    assert not any(d in built["steps"][1]["drift"] for d in dropped_by_0002)
    moved_by_0012 = ("remove_index", "calls", "uq_calls_tenant_guard")
    steps = {step["name"]: step for step in built["steps"]}
    assert moved_by_0012 in steps["0011_calls_duplicate_guard_key"]["drift"]
    assert moved_by_0012 not in steps["0012_call_guards"]["drift"]
    for earlier, later in zip(built["steps"], built["steps"][1:], strict=False):
        added = set(later["drift"]) - set(earlier["drift"])
        if later["name"] == "0011_calls_duplicate_guard_key":
            added.discard(moved_by_0012)
        assert not added, "a migration added drift instead of closing it"


def _add_column(meta: sa.MetaData) -> None:
    meta.tables["calls"].append_column(sa.Column("carrier", sa.String(), nullable=True))


def _add_index(meta: sa.MetaData) -> None:
    sa.Index("ix_calls_status", meta.tables["calls"].c.status)


def _drop_unique(meta: sa.MetaData) -> None:
    table = meta.tables["admins"]
    table.constraints -= {c for c in table.constraints if isinstance(c, sa.UniqueConstraint)}


def _add_unique(meta: sa.MetaData) -> None:
    meta.tables["lots"].append_constraint(sa.UniqueConstraint("tenant_id", "note"))


def _change_type(meta: sa.MetaData) -> None:
    meta.tables["ledger"].c.amount.type = sa.Numeric(18, 4)  # money as NUMERIC instead of BIGINT units


def _change_nullable(meta: sa.MetaData) -> None:
    meta.tables["users"].c.licensed_at.nullable = False


def _add_fk(meta: sa.MetaData) -> None:
    meta.tables["calls"].append_constraint(sa.ForeignKeyConstraint(["import_id"], ["rate_tables.id"]))


def _change_primary_key(meta: sa.MetaData) -> None:
    table = meta.tables["pool_usage"]
    table.c.id.primary_key = False
    key = [table.c.tenant_id, table.c.month, table.c.pool]
    for column in key:
        column.primary_key = True
    table.append_constraint(sa.PrimaryKeyConstraint(*key))


def _add_table(meta: sa.MetaData) -> None:
    sa.Table("plans", meta, sa.Column("id", sa.Integer(), primary_key=True))


def _drop_table(meta: sa.MetaData) -> None:
    meta.remove(meta.tables["pool_usage"])


@pytest.mark.parametrize(("change", "reported"), [
    (_add_column, ("add_column", "calls", "carrier")),
    (_add_index, ("add_index", "calls", "ix_calls_status")),
    (_drop_unique, ("remove_constraint", "admins", "tenant_id,email")),
    (_add_unique, ("add_constraint", "lots", "tenant_id,note")),
    (_change_type, ("modify_type", "ledger", "amount")),
    (_change_nullable, ("modify_nullable", "users", "licensed_at")),
    (_add_fk, ("add_fk", "calls", "import_id")),
    (_change_primary_key, ("modify_primary_key", "pool_usage", "tenant_id,month,pool")),
    (_add_table, ("add_table", "plans", "")),
    (_drop_table, ("remove_table", "pool_usage", "")),
], ids=lambda v: v.__name__.strip("_") if callable(v) else "")
def test_the_comparison_sees_a_change(
    built: dict[str, Any], change: Callable[[sa.MetaData], None], reported: tuple[str, ...]
) -> None:
    """Each kind of drift the comparison is trusted with is reported (on a copy of the models)."""
    models = copy_of_models()
    change(models)
    assert reported in drift(built["database"], models)


# --- the helpers for later migrations ---------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_helpers_make_what_the_models_would_declare(backend: str, tmp_path: Path) -> None:
    """add_column (NOT NULL with a default for the rows already there, a foreign key) and
    create_index on a table with rows give exactly what the same model change declares."""
    database = dbmod.Database(_new_url(backend, tmp_path))
    database.write(apply_migrations)
    with database.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO tenants (slug, name, country, billing_country, currency, created_at)"
                             " VALUES ('c', 'C', 'US', 'US', 'USD', '2026-01-01 00:00:00')"))
        conn.execute(sa.text("INSERT INTO users (tenant_id, upn, name, country, plan, conferencing, licensed,"
                             " created_at, updated_at) SELECT id, 'a@c.com', 'A', 'US', 'none', false, false,"
                             " created_at, created_at FROM tenants"))

    def step(session: Any) -> None:
        conn = session.connection()
        add_column(conn, "users", sa.Column("seats", sa.Integer(), nullable=False, server_default="1"))
        add_column(conn, "users", sa.Column("plan_since", sa.DateTime(), nullable=True))
        add_column(conn, "users", sa.Column("rate_table_id", sa.Integer(), sa.ForeignKey("rate_tables.id")))
        create_index(conn, "ix_users_rate_table_id", "users", "rate_table_id")
        create_index(conn, "ix_users_tenant_plan", "users", "tenant_id", "plan", unique=True)
        create_index(conn, "ix_gone", "users", "plan")
        drop_index(conn, "ix_gone")
        drop_index(conn, "ix_never_was")

    database.write(step)
    models = copy_of_models()
    users = models.tables["users"]
    users.append_column(sa.Column("seats", sa.Integer(), nullable=False))
    users.append_column(sa.Column("plan_since", sa.DateTime(), nullable=True))
    users.append_column(sa.Column("rate_table_id", sa.Integer(), sa.ForeignKey("rate_tables.id"), index=True))
    sa.Index("ix_users_tenant_plan", users.c.tenant_id, users.c.plan, unique=True)
    try:
        assert drift(database, models) == []
        with database.engine.connect() as conn:
            rows = list(conn.execute(sa.text("SELECT seats, plan_since, rate_table_id FROM users")))
            assert rows == [(1, None, None)]
            with pytest.raises(sa.exc.IntegrityError):  # the foreign key is enforced
                conn.execute(sa.text("UPDATE users SET rate_table_id = 999"))
    finally:
        database.dispose()


@pytest.mark.parametrize("column", [
    sa.Column("x", sa.Integer(), nullable=False),  # NOT NULL needs a default for the rows there
    sa.Column("x", sa.Integer(), unique=True),
    sa.Column("x", sa.Integer(), index=True),
    sa.Column("x", sa.Integer(), primary_key=True),
], ids=["not-null-without-default", "unique", "index", "primary-key"])
def test_add_column_refuses_what_sqlite_cannot_add(column: sa.Column) -> None:
    with pytest.raises(ValueError, match="add_column"):
        add_column(None, "users", column)  # type: ignore[arg-type]  # refused before the connection is used


# --- what migrations.py depends on -------------------------------------------------


def test_migrations_stand_alone_and_load_no_sqlalchemy_at_import(tmp_path: Path) -> None:
    """NAMES is read without loading SQLAlchemy; migrating needs neither the models, db.py nor SQLModel."""
    script = f"""
import sys
for name in ("credits_cli.models", "credits_cli.db", "sqlmodel"):
    sys.modules[name] = None  # importing any of them fails
from credits_cli import migrations
assert not [m for m in sys.modules if m.startswith("sqlalchemy")], "SQLAlchemy loaded by the import"
print(",".join(migrations.NAMES))
import sqlalchemy as sa
from sqlalchemy.orm import Session
engine = sa.create_engine("sqlite:///{tmp_path / 'alone.db'}")
with Session(engine) as session:
    print(",".join(migrations.apply_migrations(session)))
    session.commit()
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [",".join(NAMES), ",".join(NAMES)]


def test_names_are_every_migration_in_order() -> None:
    assert NAMES == tuple(name for name, _ in migrations.MIGRATIONS)
    assert list(NAMES) == sorted(NAMES) and len(set(NAMES)) == len(NAMES)
    assert all(re.fullmatch(r"\d{4}_[a-z0-9_]+", name) for name in NAMES)


def test_until_names_a_migration() -> None:
    with pytest.raises(ValueError, match="no migration named"):
        apply_migrations(None, until="0099_nothing")  # type: ignore[arg-type]


# --- refusals (on the run's database: SQLite, or PostgreSQL) ----------------------


def test_a_newer_database_is_refused_in_one_line(cli, isolated_db: str) -> None:
    assert cli("tenant", "add", "contoso", "--name", "C", "--country", "US").exit_code == 0
    database = dbmod.Database(dbmod.resolve_url(isolated_db))
    with database.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schema_migrations (name, applied_at)"
                             " VALUES ('9999_from_the_future', '2030-01-01 00:00:00')"))
    database.dispose()
    dbmod._opened.clear()
    assert_error(cli("tenant", "list"), "9999_from_the_future", "upgrade credits")
    assert_error(cli("topup", "10"), "upgrade credits")


def test_a_database_not_made_by_credits_is_refused(cli, isolated_db: str) -> None:
    database = dbmod.Database(dbmod.resolve_url(isolated_db))
    with database.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE stuff (x INTEGER)"))
    database.dispose()
    assert_error(cli("tenant", "list"), "not made by credits")
    with database.engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["stuff"]


# --- a database made by the previous version ---------------------------------------


def _expected() -> dict[str, Any]:
    return json.loads((FIXTURES / f"{OLD}.json").read_text())


def _assert_data_survived(cli: Callable[..., Any], *db: str) -> None:
    """Today's CLI on the upgraded database reports what the old code did."""
    expected = _expected()
    verify = assert_json(cli(*db, "verify", "--json"))  # the full path: opens and migrates
    assert {k: v for k, v in verify.items() if k in expected["verify"]} == expected["verify"] and verify["ok"]
    assert verify["adjustments"] == []
    balance = assert_json(cli(*db, "balance", "--json"))
    old = expected["balance"]
    assert (balance["tenant"], balance["currency"], balance["balance"]) == (old["tenant"], old["currency"],
                                                                            old["balance"])
    assert [(lot["amount"], lot["remaining"], lot["expires_at"]) for lot in balance["lots"]] == [
        (lot["amount"], lot["remaining"], lot["expires_at"]) for lot in old["lots"]]
    calls = assert_json(cli(*db, "calls", "--json"))["calls"]
    assert {c["external_id"]: [c["status"], c["charge"]] for c in calls} == expected["calls"]
    assert len(calls) == len(expected["calls"]) == verify["calls"]
    ledger = assert_json(cli(*db, "ledger", "--json"))["entries"]
    # the same entries (listed now in the order they were posted; the old version listed them by time)
    assert sorted([e["kind"], e["amount"], e["occurred_at"]] for e in ledger) == sorted(expected["ledger"])


def test_the_fixture_is_what_its_script_says() -> None:
    expected = _expected()
    assert OLD in expected["made_by"] and OLD_NOW in expected["made_by"]
    assert len(expected["calls"]) >= 40 and len(expected["ledger"]) >= 10
    con = sqlite3.connect(f"file:{FIXTURES / f'{OLD}.db'}?mode=ro", uri=True)
    try:
        assert sorted(n for (n,) in con.execute("SELECT name FROM schema_migrations")) == [
            "0001_initial", "0002_calls_fewer_indexes"]
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == len(expected["calls"])
    finally:
        con.close()


def test_an_old_sqlite_database_upgrades_in_place(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITS_NOW", OLD_NOW)
    copy = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / f"{OLD}.db", copy)
    _assert_data_survived(cli, "--db", str(copy))
    upgraded = dbmod.Database(dbmod.resolve_url(str(copy)))
    fresh = dbmod.Database(_new_url("sqlite", tmp_path))
    fresh.write(apply_migrations)
    try:
        assert applied(upgraded) == sorted(NAMES)
        assert drift(upgraded) == []
        assert shape(upgraded) == shape(fresh)  # the very text of every CREATE statement
    finally:
        upgraded.dispose()
        fresh.dispose()


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL server")
def test_an_old_postgresql_database_upgrades_in_place(
    cli, isolated_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDITS_NOW", OLD_NOW)
    old = dbmod.Database(dbmod.resolve_url(isolated_db))
    raw = old.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute((FIXTURES / f"{OLD}.pg.sql").read_text())  # no parameters: several statements at once
        cursor.close()
        raw.commit()
    finally:
        raw.close()
    old.engine.dispose()  # the dump's SET statements stay with that connection: keep it out of the pool
    assert applied(old) == ["0001_initial", "0002_calls_fewer_indexes"]  # as the old code left it
    _assert_data_survived(cli)
    fresh = dbmod.Database(_new_url("postgresql", tmp_path))
    fresh.write(apply_migrations)
    try:
        assert applied(old) == sorted(NAMES)
        assert drift(old) == []
        assert shape(old) == shape(fresh)  # columns, constraints and index definitions, as PostgreSQL says them
    finally:
        old.dispose()
        fresh.dispose()
