"""Numbered schema migrations, recorded in ``schema_migrations``.

The rules, for whoever changes the schema next:

* **Add new migrations at the end of** :data:`MIGRATIONS`. **Never edit,
  rename, reorder or remove one that has shipped**: databases out there hold
  its result under its name, and a fresh database must go through the same
  steps to reach the same shape.
* **Each migration spells out its own DDL.** ``models.py`` describes the schema
  as it is *now*; a migration is a step that was taken once, so no migration
  imports the models or ``db.metadata()`` (a later model change would silently
  change what an old step creates on a fresh database, and the next
  ``ADD COLUMN`` would fail there). A schema change is a model change *and* a
  new migration; ``tests/test_migrations.py`` builds a database migration by
  migration and compares it with the models, so one without the other fails.
* Spell types with SQLAlchemy's generic types, as the models compile them:
  ``sa.String()`` for ``str`` (VARCHAR; SQLModel's AutoString), ``sa.Integer()``,
  ``sa.BigInteger()`` for money (what the ``Money`` decorator stores),
  ``sa.DateTime()``, ``sa.Boolean()``. Never the product's own classes.
* Write the steps with the helpers below (:func:`create_table`,
  :func:`add_column`, :func:`rename_column`, :func:`create_index`, :func:`drop_index`): each works on
  SQLite and PostgreSQL. SQLite's ``ALTER TABLE`` only adds and renames
  columns; dropping NOT NULL, changing a type or adding a constraint to an
  existing table is a rebuild there (new table, ``INSERT ... SELECT``, drop,
  rename: sqlite.org/lang_altertable.html#otheralter), and SQLite's recipe
  switches foreign keys off, which cannot be done inside the transaction a
  migration runs in: the first such change must plan for that.
* A migration that moves data gets a test that builds the database up to the
  step before (``apply_migrations(session, until=...)``), writes rows of the
  old shape, and upgrades.

A migration is a function of the :class:`~sqlalchemy.engine.Connection` of the
one write transaction that applies every pending migration and records each
(behind an advisory lock on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite). DDL is
transactional on both, so a failed upgrade leaves the database as it was.

This module imports neither SQLAlchemy nor SQLModel at module level (they are
imported inside the functions that run): :data:`NAMES` is read at every quick
start of ``credits balance``, which must not pay for loading them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from credits_cli import clock
from credits_cli.errors import DatabaseError
from credits_cli.i18n import _

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

#: The advisory lock (PostgreSQL) that lets one process at a time migrate a database.
LOCK_KEY = 7262011


# --- helpers for migrations ----------------------------------------------------


def create_table(conn: Connection, table: sa.Table) -> None:
    """``CREATE TABLE`` (and ``CREATE INDEX`` for the indexes declared on it).

    ``table`` is spelled out in the migration, on a ``sa.MetaData()`` of its
    own, the way :func:`m0001_initial` does. Fails if the table exists.
    """
    table.create(conn, checkfirst=False)


def add_column(conn: Connection, table: str, column: sa.Column) -> None:
    """``ALTER TABLE table ADD COLUMN ...`` on SQLite and PostgreSQL.

    ``column`` is a new ``sa.Column`` with a generic type, e.g.
    ``sa.Column("plan_id", sa.Integer(), sa.ForeignKey("plans.id"))``. A
    foreign key is written inline (``REFERENCES plans (id)``), which both
    accept; PostgreSQL names it ``<table>_<column>_fkey``, as it names the ones
    of ``CREATE TABLE``. A NOT NULL column needs a ``server_default``: it is
    what the rows already there get (SQLite refuses the column without one,
    PostgreSQL refuses it on a table that has rows). A primary-key, unique or
    ``index=True`` column is refused: SQLite cannot add those; add the column,
    then :func:`create_index` (``unique=True`` for uniqueness).
    """
    import sqlalchemy as sa

    if column.primary_key or column.unique or column.index:
        raise ValueError(f"add_column cannot add {column.name!r} as primary key, unique or indexed: use create_index")
    if not column.nullable and column.server_default is None:
        raise ValueError(f"add_column: NOT NULL column {column.name!r} needs a server_default for the existing rows")
    sa.Table(table, sa.MetaData(), column)  # CreateColumn compiles a column of a table
    quote = conn.dialect.identifier_preparer.quote
    spec = str(sa.schema.CreateColumn(column).compile(dialect=conn.dialect))
    for fk in column.foreign_keys:
        target_table, target_column = fk.target_fullname.rsplit(".", 1)
        spec += f" REFERENCES {quote(target_table)} ({quote(target_column)})"
    conn.execute(sa.text(f"ALTER TABLE {quote(table)} ADD COLUMN {spec}"))


def create_index(conn: Connection, name: str, table: str, *columns: str, unique: bool = False) -> None:
    """``CREATE [UNIQUE] INDEX name ON table (columns)`` on SQLite and PostgreSQL.

    Name it as the model will: a model's ``Field(index=True)`` is
    ``ix_<table>_<column>``; an ``sa.Index`` in ``__table_args__`` has its own.
    """
    import sqlalchemy as sa

    if not columns:
        raise ValueError(f"create_index {name!r}: no columns")
    quote = conn.dialect.identifier_preparer.quote
    cols = ", ".join(quote(c) for c in columns)
    conn.execute(sa.text(f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote(name)} ON {quote(table)} ({cols})"))


def rename_column(conn: Connection, table: str, old: str, new: str) -> None:
    """``ALTER TABLE table RENAME COLUMN old TO new`` (SQLite 3.25+ and PostgreSQL). An index on the
    column keeps its name: drop it and create one named for the new column where the model says so."""
    import sqlalchemy as sa

    quote = conn.dialect.identifier_preparer.quote
    conn.execute(sa.text(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(old)} TO {quote(new)}"))


def drop_index(conn: Connection, name: str) -> None:
    """``DROP INDEX IF EXISTS name`` (the same statement on SQLite and PostgreSQL)."""
    import sqlalchemy as sa

    conn.execute(sa.text(f"DROP INDEX IF EXISTS {conn.dialect.identifier_preparer.quote(name)}"))


# --- the migrations -------------------------------------------------------------


def m0001_initial(conn: Connection) -> None:
    """The schema as the first version created it, frozen.

    That version ran ``create_all`` of its models; these are those models'
    tables spelled out in SQLAlchemy Core, column for column and in the same
    order, with the same indexes (including ``ix_calls_user_id`` and
    ``ix_calls_status``, which 0002 drops). Core rather than SQL text per
    dialect: one spelling compiles to what ``create_all`` emitted on each (an
    ``INTEGER`` primary key is SQLite's rowid and PostgreSQL's ``SERIAL``;
    ``DateTime`` is ``DATETIME`` and ``TIMESTAMP WITHOUT TIME ZONE``; ``String``
    is ``VARCHAR``; unnamed constraints get each database's own names), where
    SQL text would be two copies of thirteen tables kept in step by hand.
    ``tests/test_migrations.py`` holds the result to a database made by an
    earlier version, on both databases.
    """
    import sqlalchemy as sa

    meta = sa.MetaData()  # this migration's own: nothing else is ever added to it
    text = sa.String
    integer = sa.Integer
    units = sa.BigInteger  # money: integer units of 1e-4

    def when() -> sa.DateTime:
        return sa.DateTime(timezone=False)

    def flag() -> sa.Boolean:
        return sa.Boolean(create_constraint=False)

    def pk() -> sa.Column:
        return sa.Column("id", integer(), primary_key=True, autoincrement=True)

    def tenant_fk(primary_key: bool = False) -> sa.Column:
        return sa.Column(
            "tenant_id", integer(), sa.ForeignKey("tenants.id"), nullable=False, primary_key=primary_key,
            autoincrement=False,
        )

    sa.Table(
        "schema_migrations", meta,
        sa.Column("name", text(), primary_key=True),
        sa.Column("applied_at", when(), nullable=False),
    )
    sa.Table(
        "tenants", meta,
        pk(),
        sa.Column("slug", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("country", text(), nullable=False),
        sa.Column("billing_country", text(), nullable=False),
        sa.Column("currency", text(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Index("ix_tenants_slug", "slug", unique=True),
    )
    sa.Table(
        "admins", meta,
        pk(),
        tenant_fk(),
        sa.Column("email", text(), nullable=False),
        sa.Column("role", text(), nullable=False),
        sa.Column("added_at", when(), nullable=False),
        sa.UniqueConstraint("tenant_id", "email"),
        sa.Index("ix_admins_tenant_id", "tenant_id"),
    )
    sa.Table(
        "users", meta,
        pk(),
        tenant_fk(),
        sa.Column("upn", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("country", text(), nullable=False),
        sa.Column("plan", text(), nullable=False),
        sa.Column("conferencing", flag(), nullable=False),
        sa.Column("licensed", flag(), nullable=False),
        sa.Column("licensed_at", when(), nullable=True),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("updated_at", when(), nullable=False),
        sa.UniqueConstraint("tenant_id", "upn"),
        sa.Index("ix_users_tenant_id", "tenant_id"),
    )
    sa.Table(
        "payment_methods", meta,
        tenant_fk(primary_key=True),
        sa.Column("kind", text(), nullable=False),
        sa.Column("card_expiry", text(), nullable=True),
        sa.Column("last4", text(), nullable=True),
        sa.Column("updated_at", when(), nullable=False),
    )
    sa.Table(
        "auto_recharge", meta,
        tenant_fk(primary_key=True),
        sa.Column("enabled", flag(), nullable=False),
        sa.Column("threshold", units(), nullable=True),
        sa.Column("amount", units(), nullable=True),
        sa.Column("last_failure_at", when(), nullable=True),
        sa.Column("updated_at", when(), nullable=False),
    )
    sa.Table(
        "lots", meta,
        pk(),
        tenant_fk(),
        sa.Column("kind", text(), nullable=False),
        sa.Column("amount", units(), nullable=False),
        sa.Column("remaining", units(), nullable=False),
        sa.Column("purchased_at", when(), nullable=False),
        sa.Column("expires_at", when(), nullable=False),
        sa.Column("note", text(), nullable=False),
        sa.Index("ix_lots_tenant_id", "tenant_id"),
        sa.Index("ix_lots_expires_at", "expires_at"),
    )
    sa.Table(
        "ledger", meta,
        pk(),
        tenant_fk(),
        sa.Column("occurred_at", when(), nullable=False),
        sa.Column("recorded_at", when(), nullable=False),
        sa.Column("kind", text(), nullable=False),
        sa.Column("amount", units(), nullable=False),
        sa.Column("lot_id", integer(), sa.ForeignKey("lots.id"), nullable=True),
        sa.Column("call_id", integer(), sa.ForeignKey("calls.id"), nullable=True),
        sa.Column("note", text(), nullable=False),
        sa.Index("ix_ledger_tenant_id", "tenant_id"),
        sa.Index("ix_ledger_occurred_at", "occurred_at"),
        sa.Index("ix_ledger_lot_id", "lot_id"),
        sa.Index("ix_ledger_call_id", "call_id"),
    )
    sa.Table(
        "notifications", meta,
        pk(),
        tenant_fk(),
        sa.Column("event", text(), nullable=False),
        sa.Column("recipient", text(), nullable=True),
        sa.Column("subject", text(), nullable=False),
        sa.Column("body", text(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("status", text(), nullable=False),
        sa.Column("attempts", integer(), nullable=False),
        sa.Column("last_error", text(), nullable=True),
        sa.Column("sent_at", when(), nullable=True),
        sa.Index("ix_notifications_tenant_id", "tenant_id"),
        sa.Index("ix_notifications_status", "status"),
    )
    sa.Table(
        "rate_tables", meta,
        pk(),
        tenant_fk(),
        sa.Column("name", text(), nullable=False),
        sa.Column("currency", text(), nullable=False),
        sa.Column("decimals", integer(), nullable=False),
        sa.Column("source", text(), nullable=False),
        sa.Column("loaded_at", when(), nullable=False),
        sa.Column("active", flag(), nullable=False),
        sa.Index("ix_rate_tables_tenant_id", "tenant_id"),
    )
    sa.Table(
        "rate_entries", meta,
        pk(),
        sa.Column("table_id", integer(), sa.ForeignKey("rate_tables.id"), nullable=False),
        sa.Column("section", text(), nullable=False),
        sa.Column("prefix", text(), nullable=False),
        sa.Column("name", text(), nullable=False),
        sa.Column("per_minute", text(), nullable=False),
        sa.Column("connection_fee", text(), nullable=False),
        sa.Column("minimum_seconds", integer(), nullable=False),
        sa.Column("increment_seconds", integer(), nullable=False),
        sa.UniqueConstraint("table_id", "section", "prefix"),
        sa.Index("ix_rate_entries_table_id", "table_id"),
    )
    sa.Table(
        "imports", meta,
        pk(),
        tenant_fk(),
        sa.Column("started_at", when(), nullable=False),
        sa.Column("finished_at", when(), nullable=True),
        sa.Column("files", text(), nullable=False),
        sa.Column("summary", text(), nullable=False),
        sa.Index("ix_imports_tenant_id", "tenant_id"),
    )
    sa.Table(
        "calls", meta,
        pk(),
        tenant_fk(),
        sa.Column("external_id", text(), nullable=False),
        sa.Column("import_id", integer(), sa.ForeignKey("imports.id"), nullable=True),
        sa.Column("source_file", text(), nullable=False),
        sa.Column("source_line", integer(), nullable=False),
        sa.Column("user_upn", text(), nullable=False),
        sa.Column("user_id", integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("start", when(), nullable=False),
        sa.Column("duration_seconds", integer(), nullable=False),
        sa.Column("call_type", text(), nullable=False),
        sa.Column("kind", text(), nullable=False),
        sa.Column("number", text(), nullable=False),
        sa.Column("country", text(), nullable=True),
        sa.Column("domestic", flag(), nullable=True),
        sa.Column("status", text(), nullable=False),
        sa.Column("reason", text(), nullable=False),
        sa.Column("rate_prefix", text(), nullable=True),
        sa.Column("rate_name", text(), nullable=True),
        sa.Column("billed_seconds", integer(), nullable=False),
        sa.Column("pool", text(), nullable=True),
        sa.Column("pool_seconds", integer(), nullable=False),
        sa.Column("charged_seconds", integer(), nullable=False),
        sa.Column("charge", units(), nullable=False),
        sa.UniqueConstraint("tenant_id", "external_id"),
        sa.Index("ix_calls_tenant_start", "tenant_id", "start"),
        sa.Index("ix_calls_user_id", "user_id"),
        sa.Index("ix_calls_status", "status"),
    )
    sa.Table(
        "pool_usage", meta,
        pk(),
        tenant_fk(),
        sa.Column("month", text(), nullable=False),
        sa.Column("pool", text(), nullable=False),
        sa.Column("capacity_seconds", integer(), nullable=False),
        sa.Column("used_seconds", integer(), nullable=False),
        sa.UniqueConstraint("tenant_id", "month", "pool"),
        sa.Index("ix_pool_usage_tenant_id", "tenant_id"),
    )
    for table in meta.sorted_tables:  # in the order of their foreign keys (ledger names calls)
        create_table(conn, table)


def m0002_calls_fewer_indexes(conn: Connection) -> None:
    """Every rated call is inserted into ``calls``: keep only the indexes a query uses (the unique
    (tenant_id, external_id) and (tenant_id, start)); user_id and status are only ever filtered
    within a tenant's time range."""
    import sqlalchemy as sa

    conn.execute(sa.text("DROP INDEX IF EXISTS ix_calls_user_id"))
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_calls_status"))


def m0003_calls_keep_the_exports_charge(conn: Connection) -> None:
    """What the export said a call cost (its charge, connection fee, currency, the license that paid
    it, and the operator that carried it), kept beside our own charge for ``credits reconcile``.
    Calls rated before have none (NULL): their exports were read without these columns."""
    import sqlalchemy as sa

    add_column(conn, "calls", sa.Column("ms_charge", sa.BigInteger(), nullable=True))
    add_column(conn, "calls", sa.Column("ms_connection_fee", sa.BigInteger(), nullable=True))
    add_column(conn, "calls", sa.Column("ms_currency", sa.String(), nullable=True))
    add_column(conn, "calls", sa.Column("capability", sa.String(), nullable=True))
    add_column(conn, "calls", sa.Column("operator", sa.String(), nullable=True))


def m0004_ledger_posting_and_service_time(conn: Connection) -> None:
    """Each ledger entry's two times say what they are: ``service_at`` (was ``occurred_at``: when the
    call started, when a purchase was really made) and ``posted_at`` (was ``recorded_at``: when the
    tool booked it). Balances are read in posting order and usage by service time, per tenant: one
    index for each, led by the tenant (they replace the tenant-only and time-only indexes)."""
    rename_column(conn, "ledger", "occurred_at", "service_at")
    rename_column(conn, "ledger", "recorded_at", "posted_at")
    drop_index(conn, "ix_ledger_occurred_at")
    drop_index(conn, "ix_ledger_tenant_id")
    create_index(conn, "ix_ledger_tenant_service", "ledger", "tenant_id", "service_at")
    create_index(conn, "ix_ledger_tenant_posted", "ledger", "tenant_id", "posted_at")


def m0005_recharge_failure_episodes(conn: Connection) -> None:
    """A failed recharge is retried every hour; its admins are told once per run of failures (until a
    recharge succeeds or the payment method changes): ``failing_since`` marks the run."""
    import sqlalchemy as sa

    add_column(conn, "auto_recharge", sa.Column("failing_since", sa.DateTime(), nullable=True))


def m0006_user_history(conn: Connection) -> None:
    """Dated licenses and plans (:mod:`credits_cli.history`): each change of a user's country, plan,
    Audio Conferencing or license is a row with the moment it holds from. The users already there
    start with what they hold now, from the beginning (as if set up today), the license included
    whether held or not: an earlier version did not keep when it changed."""
    import sqlalchemy as sa

    meta = sa.MetaData()
    history = sa.Table(
        "user_history",
        meta,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Index("ix_user_history_tenant_id", "tenant_id"),
        sa.Index("ix_user_history_user_id", "user_id"),
    )
    sa.Table("tenants", meta, sa.Column("id", sa.Integer(), primary_key=True))
    sa.Table("users", meta, sa.Column("id", sa.Integer(), primary_key=True))
    create_table(conn, history)
    users = sa.table("users", sa.column("id"), sa.column("tenant_id"), sa.column("country"), sa.column("plan"),
                     sa.column("conferencing"), sa.column("licensed"))
    now = clock.now()
    rows = []
    for user_id, tenant_id, country, plan, conferencing, licensed in conn.execute(
        sa.select(users.c.id, users.c.tenant_id, users.c.country, users.c.plan, users.c.conferencing,
                  users.c.licensed)
    ):
        for name, value in (("country", country), ("plan", plan), ("conferencing", conferencing),
                            ("licensed", licensed)):
            text = ("true" if value else "false") if name in ("conferencing", "licensed") else str(value)
            rows.append({"tenant_id": tenant_id, "user_id": user_id, "field": name, "value": text,
                         "valid_from": None, "recorded_at": now})
    if rows:
        conn.execute(sa.insert(history), rows)


def m0007_lot_numbers_per_tenant(conn: Connection) -> None:
    """Each tenant numbers its own lots 1, 2, 3... (a database of many tenants showed every tenant the
    ids of all): the lots already there are numbered in the order they were made."""
    import sqlalchemy as sa

    add_column(conn, "lots", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    lots = sa.table("lots", sa.column("id"), sa.column("tenant_id"), sa.column("number"))
    counters: dict[int, int] = {}
    updates = []
    for lot_id, tenant_id in conn.execute(sa.select(lots.c.id, lots.c.tenant_id).order_by(lots.c.id)):
        counters[tenant_id] = counters.get(tenant_id, 0) + 1
        updates.append({"lot": lot_id, "n": counters[tenant_id]})
    if updates:
        conn.execute(sa.update(lots).where(lots.c.id == sa.bindparam("lot")).values(number=sa.bindparam("n")), updates)
    create_index(conn, "uq_lots_tenant_number", "lots", "tenant_id", "number", unique=True)


def m0008_tenant_language(conn: Connection) -> None:
    """Each tenant may have a language (``ru``, ``kk``, ``zh_CN``, ``en``) for what is written for its
    people: its admins' e-mails and its workbook. None: the language of the command that writes."""
    import sqlalchemy as sa

    add_column(conn, "tenants", sa.Column("lang", sa.String(), nullable=True))


def m0009_users_removed(conn: Connection) -> None:
    """``user remove``: a removed user keeps their row (their calls name them) with the moment they were
    removed; NULL for every user there is."""
    import sqlalchemy as sa

    add_column(conn, "users", sa.Column("removed_at", sa.DateTime(), nullable=True))


def m0010_changes_trail(conn: Connection) -> None:
    """The trail of corrections (:mod:`credits_cli.trail`): one row per field a correction changed, with
    when and who. ``tenant_id`` has no foreign key, so the lines of a removed tenant stay (with NULL)."""
    import sqlalchemy as sa

    meta = sa.MetaData()
    create_table(conn, sa.Table(
        "changes",
        meta,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("tenant_slug", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("old", sa.String(), nullable=True),
        sa.Column("new", sa.String(), nullable=True),
        sa.Index("ix_changes_tenant_at", "tenant_id", "at"),
    ))


def m0011_calls_duplicate_guard_key(conn: Connection) -> None:
    """The duplicate guard of ``calls`` becomes a unique 64-bit key per tenant (``guard``, made from the call
    id by :func:`credits_cli.callkey.key_of`) instead of the unique (tenant_id, external_id) text: the index
    every rated call is inserted into shrinks to about a third, so a year of calls in the table slows an
    import down far less. The calls already there get their keys here, a page of calls at a time (memory
    stays flat however many there are): first each call's own key, then every call whose key an earlier
    call of its tenant holds (a collision) takes the next key that no call holds, as rating does.

    SQLite cannot drop a table's UNIQUE constraint: the table is made again (copied aside, dropped, created
    in its new shape and filled back). The ledger's entries name calls by id, which the copy keeps; the
    foreign keys are checked at commit (``defer_foreign_keys``), when every call is back."""
    import sqlalchemy as sa

    key_of, next_key = _guard_key, _next_guard
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.execute(sa.text("PRAGMA defer_foreign_keys = ON"))  # until commit: the calls come back before it
    conn.execute(sa.text("CREATE TEMPORARY TABLE call_guards "
                         "(id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL, guard BIGINT NOT NULL)"))
    page = sa.text("SELECT id, tenant_id, external_id FROM calls WHERE id > :last ORDER BY id LIMIT :n")
    put = sa.text("INSERT INTO call_guards (id, tenant_id, guard) VALUES (:id, :tenant, :guard)")
    last = 0
    while True:
        rows = conn.execute(page, {"last": last, "n": _GUARD_PAGE}).all()
        if not rows:
            break
        conn.execute(put, [{"id": i, "tenant": t, "guard": key_of(x)} for i, t, x in rows])
        last = rows[-1][0]
    conn.execute(sa.text("CREATE INDEX call_guards_key ON call_guards (tenant_id, guard)"))
    shared = conn.execute(sa.text(
        "SELECT g.id, g.tenant_id, g.guard FROM call_guards g JOIN (SELECT tenant_id, guard, MIN(id) AS first "
        "FROM call_guards GROUP BY tenant_id, guard HAVING COUNT(*) > 1) d "
        "ON d.tenant_id = g.tenant_id AND d.guard = g.guard AND g.id > d.first ORDER BY g.id")).all()
    held = sa.text("SELECT 1 FROM call_guards WHERE tenant_id = :tenant AND guard = :guard")
    move = sa.text("UPDATE call_guards SET guard = :guard WHERE id = :id")
    for call_id, tenant_id, key in shared:  # ids were unique per tenant: a key held is another id's
        while conn.execute(held, {"tenant": tenant_id, "guard": key}).first() is not None:
            key = next_key(key)
        conn.execute(move, {"guard": key, "id": call_id})
    if sqlite:
        _sqlite_calls_with_guard(conn)
    else:
        add_column(conn, "calls", sa.Column("guard", sa.BigInteger(), nullable=True))
        conn.execute(sa.text("UPDATE calls SET guard = g.guard FROM call_guards g WHERE g.id = calls.id"))
        conn.execute(sa.text("ALTER TABLE calls ALTER COLUMN guard SET NOT NULL"))
        quote = conn.dialect.identifier_preparer.quote
        for unique in sa.inspect(conn).get_unique_constraints("calls"):
            if unique["column_names"] == ["tenant_id", "external_id"] and unique["name"]:
                conn.execute(sa.text(f"ALTER TABLE calls DROP CONSTRAINT {quote(unique['name'])}"))
        create_index(conn, "uq_calls_tenant_guard", "calls", "tenant_id", "guard", unique=True)
    conn.execute(sa.text("DROP TABLE call_guards"))


#: Calls read at a time by :func:`m0011_calls_duplicate_guard_key`.
_GUARD_PAGE = 10_000


def _guard_key(external_id: str) -> int:
    """:func:`credits_cli.callkey.key_of` as 0011 shipped it (frozen here; a test holds the two equal)."""
    from hashlib import blake2b

    digest = blake2b(external_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _next_guard(key: int) -> int:
    """:func:`credits_cli.callkey.next_key` as 0011 shipped it."""
    return -(2**63) if key == 2**63 - 1 else key + 1


def _sqlite_calls_with_guard(conn: Connection) -> None:
    """``calls`` made again on SQLite with ``guard`` (from the temporary ``call_guards``) and without the
    unique text (see :func:`m0011_calls_duplicate_guard_key`)."""
    import sqlalchemy as sa

    columns = [
        "id", "tenant_id", "external_id", "import_id", "source_file", "source_line", "user_upn", "user_id", "start",
        "duration_seconds", "call_type", "kind", "number", "country", "domestic", "status", "reason", "rate_prefix",
        "rate_name", "billed_seconds", "pool", "pool_seconds", "charged_seconds", "charge", "ms_charge",
        "ms_connection_fee", "ms_currency", "capability", "operator",
    ]
    listed = ", ".join(f"c.{name}" for name in columns)
    conn.execute(sa.text(f"CREATE TEMPORARY TABLE calls_aside AS SELECT {listed}, g.guard AS guard "
                         "FROM calls c JOIN call_guards g ON g.id = c.id"))
    conn.execute(sa.text("DROP TABLE calls"))
    meta = sa.MetaData()
    for name in ("tenants", "imports", "users"):
        sa.Table(name, meta, sa.Column("id", sa.Integer(), primary_key=True))
    table = sa.Table(
        "calls", meta,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("import_id", sa.Integer(), sa.ForeignKey("imports.id"), nullable=True),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.Column("source_line", sa.Integer(), nullable=False),
        sa.Column("user_upn", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("call_type", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("domestic", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("rate_prefix", sa.String(), nullable=True),
        sa.Column("rate_name", sa.String(), nullable=True),
        sa.Column("billed_seconds", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(), nullable=True),
        sa.Column("pool_seconds", sa.Integer(), nullable=False),
        sa.Column("charged_seconds", sa.Integer(), nullable=False),
        sa.Column("charge", sa.BigInteger(), nullable=False),
        sa.Column("ms_charge", sa.BigInteger(), nullable=True),
        sa.Column("ms_connection_fee", sa.BigInteger(), nullable=True),
        sa.Column("ms_currency", sa.String(), nullable=True),
        sa.Column("capability", sa.String(), nullable=True),
        sa.Column("operator", sa.String(), nullable=True),
        sa.Column("guard", sa.BigInteger(), nullable=False),
        sa.Index("ix_calls_tenant_start", "tenant_id", "start"),
        sa.Index("uq_calls_tenant_guard", "tenant_id", "guard", unique=True),
    )
    table.create(conn, checkfirst=False)
    names = ", ".join([*columns, "guard"])
    conn.execute(sa.text(f"INSERT INTO calls ({names}) SELECT {names} FROM calls_aside ORDER BY id"))
    conn.execute(sa.text("DROP TABLE calls_aside"))


def m0012_call_guards(conn: Connection) -> None:
    """The duplicate guard moves from an index on ``calls`` to a table of its own, ``call_guards``: one row
    per call, its tenant and key (``calls.guard``, :mod:`credits_cli.callkey`) the primary key, and the id
    of the call that holds the key. Rating writes a transaction's keys together at its end, in key order,
    so each page of a year's guard is read and written about once per transaction, where the index took
    one random page per call. The keys are the ones the calls already have: copied in key order, the
    index dropped. ``call_id`` has no foreign key: its check would read a random page of ``calls`` for
    every key written (the call and its key are always written in the same transaction)."""
    import sqlalchemy as sa

    meta = sa.MetaData()
    sa.Table("tenants", meta, sa.Column("id", sa.Integer(), primary_key=True))
    create_table(conn, sa.Table(
        "call_guards", meta,
        sa.Column("tenant_id", sa.Integer(), sa.ForeignKey("tenants.id"), primary_key=True, autoincrement=False),
        sa.Column("guard", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    ))
    conn.execute(sa.text("INSERT INTO call_guards (tenant_id, guard, call_id) "
                         "SELECT tenant_id, guard, id FROM calls ORDER BY tenant_id, guard"))
    drop_index(conn, "uq_calls_tenant_guard")


Migration = Callable[["Connection"], None]

#: Every migration, in the order they run. Append only.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial", m0001_initial),
    ("0002_calls_fewer_indexes", m0002_calls_fewer_indexes),
    ("0003_calls_keep_the_exports_charge", m0003_calls_keep_the_exports_charge),
    ("0004_ledger_posting_and_service_time", m0004_ledger_posting_and_service_time),
    ("0005_recharge_failure_episodes", m0005_recharge_failure_episodes),
    ("0006_user_history", m0006_user_history),
    ("0007_lot_numbers_per_tenant", m0007_lot_numbers_per_tenant),
    ("0008_tenant_language", m0008_tenant_language),
    ("0009_users_removed", m0009_users_removed),
    ("0010_changes_trail", m0010_changes_trail),
    ("0011_calls_duplicate_guard_key", m0011_calls_duplicate_guard_key),
    ("0012_call_guards", m0012_call_guards),
]

#: Every migration's name, in order: a database whose applied migrations are exactly these is current.
NAMES = tuple(name for name, _ in MIGRATIONS)


# --- applying them --------------------------------------------------------------


def _applied(conn: Connection) -> set[str] | None:
    """The names recorded in ``schema_migrations``; None when there is no such table."""
    import sqlalchemy as sa

    if not sa.inspect(conn).has_table("schema_migrations"):
        return None
    return set(conn.execute(sa.text("SELECT name FROM schema_migrations")).scalars())


def _record(conn: Connection, name: str) -> None:
    import sqlalchemy as sa

    table = sa.table("schema_migrations", sa.column("name", sa.String()), sa.column("applied_at", sa.DateTime()))
    conn.execute(sa.insert(table).values(name=name, applied_at=clock.now()))


def _refuse_unknown(applied: set[str]) -> None:
    """A database migrated by a newer version must not be used (or written) by this one."""
    unknown = applied - set(NAMES)
    if unknown:
        raise DatabaseError(
            # TRANSLATORS: {names} are names of schema migrations (0009_...): keep them; credits is the program.
            _("the database has migrations this version does not know ({names}); upgrade credits").format(
                names=", ".join(sorted(unknown)))
        )


def pending(session: Session) -> list[str]:
    """Names of the migrations this database still needs (cheap; for a read session)."""
    applied = _applied(session.connection())
    if applied is None:
        return list(NAMES)
    _refuse_unknown(applied)
    return [name for name in NAMES if name not in applied]


def apply_migrations(session: Session, until: str | None = None) -> list[str]:
    """Apply and record the pending migrations (up to and including ``until``); their names.

    Runs in the caller's write transaction. Refuses a database that has
    tables but no ``schema_migrations`` (not made by credits) and one that
    records a migration this version does not know (made by a newer one).
    """
    import sqlalchemy as sa

    if until is not None and until not in NAMES:
        raise ValueError(f"no migration named {until!r}")
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    applied = _applied(conn)
    if applied is None:
        if sa.inspect(conn).get_table_names():
            # TRANSLATORS: credits is the program; schema_migrations the name of a table: keep both.
            raise DatabaseError(_("this database was not made by credits (no schema_migrations table)"))
        applied = set()
    _refuse_unknown(applied)
    done = []
    for name, migration in MIGRATIONS:
        if name not in applied:
            migration(conn)
            _record(conn, name)
            done.append(name)
        if name == until:
            break
    return done
