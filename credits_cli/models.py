"""Every table of the product, as SQLModel classes.

Money columns hold integers of ``1/10**money.SCALE`` of the tenant's currency
behind the :class:`Money` type decorator: Python code sees ``Decimal``, the
database sees ``BIGINT``. Times are naive UTC ``datetime`` values.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from credits_cli import money


class Money(TypeDecorator[Decimal]):
    """Decimal in Python, integer storage units in the database."""

    impl = sa.BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            raise TypeError("Money columns take Decimal, not int (ambiguous units)")
        return money.to_units(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return money.from_units(int(value))


def money_field(default: Decimal | None = None, nullable: bool = False) -> Any:
    return Field(default=default, sa_type=Money, nullable=nullable)


class SchemaMigration(SQLModel, table=True):
    __tablename__ = "schema_migrations"
    name: str = Field(primary_key=True)
    applied_at: datetime = Field(sa_type=sa.DateTime)


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    name: str
    country: str
    billing_country: str
    currency: str
    created_at: datetime = Field(sa_type=sa.DateTime)
    lang: str | None = None  # its admins' e-mails and workbook are in it (i18n.LANGUAGES); None: the command's


class Admin(SQLModel, table=True):
    __tablename__ = "admins"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    email: str
    role: str
    added_at: datetime = Field(sa_type=sa.DateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "upn"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    upn: str  # stored lower-case: UPNs compare case-insensitively
    name: str = ""
    country: str
    plan: str = "none"  # none | domestic | domestic-international | payg
    conferencing: bool = False
    licensed: bool = False  # the Communications Credits license (MCOPSTNC)
    licensed_at: datetime | None = Field(default=None, sa_type=sa.DateTime)
    created_at: datetime = Field(sa_type=sa.DateTime)
    updated_at: datetime = Field(sa_type=sa.DateTime)
    #: when the user was removed (``user remove``): hidden from listings, their calls still name them;
    #: None while they are a user. Adding the UPN again brings them back.
    removed_at: datetime | None = Field(default=None, sa_type=sa.DateTime)


class UserHistory(SQLModel, table=True):
    """One dated change of a user's country, plan, Audio Conferencing or license (see
    :mod:`credits_cli.history`). ``valid_from`` NULL: the value holds from the beginning."""

    __tablename__ = "user_history"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    field: str  # country | plan | conferencing | licensed
    value: str  # as text: "US", "domestic", "true"
    valid_from: datetime | None = Field(default=None, sa_type=sa.DateTime)
    recorded_at: datetime = Field(sa_type=sa.DateTime)


class Change(SQLModel, table=True):
    """One line of the trail of corrections (:mod:`credits_cli.trail`): what changed, from what to what,
    when, and who ran the command."""

    __tablename__ = "changes"
    __table_args__ = (sa.Index("ix_changes_tenant_at", "tenant_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    #: no foreign key: the trail outlives a removed tenant (its lines then have NULL here, and its slug)
    tenant_id: int | None = None
    tenant_slug: str
    at: datetime = Field(sa_type=sa.DateTime)
    actor: str = ""  # the operating-system user who ran the command
    command: str  # tenant edit | tenant remove | user edit | user remove | rates activate | ...
    target: str  # what was changed: a tenant's slug, a UPN, an admin's address, a rate table
    field: str = ""  # the field changed; "" for the whole target (removed, restored)
    old: str | None = None
    new: str | None = None


class PaymentMethod(SQLModel, table=True):
    __tablename__ = "payment_methods"
    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    kind: str  # card | invoice
    card_expiry: str | None = None  # YYYY-MM
    last4: str | None = None
    updated_at: datetime = Field(sa_type=sa.DateTime)


class AutoRecharge(SQLModel, table=True):
    __tablename__ = "auto_recharge"
    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True)
    enabled: bool = False
    threshold: Decimal | None = money_field(nullable=True)
    amount: Decimal | None = money_field(nullable=True)
    last_failure_at: datetime | None = Field(default=None, sa_type=sa.DateTime)
    #: when the current run of failed recharges began (its admins were told once); None while they succeed
    failing_since: datetime | None = Field(default=None, sa_type=sa.DateTime)
    updated_at: datetime = Field(sa_type=sa.DateTime)


class Lot(SQLModel, table=True):
    """A purchase (top-up or recharge). ``remaining`` is a cache of the sum of
    the ledger entries that name this lot; ``verify`` checks the two agree."""

    __tablename__ = "lots"
    __table_args__ = (sa.Index("uq_lots_tenant_number", "tenant_id", "number", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    number: int = 0  # the tenant's own numbering (1, 2, ...): what people see and pass to --lot
    kind: str  # topup | recharge | adjustment
    amount: Decimal = money_field()
    remaining: Decimal = money_field()
    purchased_at: datetime = Field(sa_type=sa.DateTime)
    expires_at: datetime = Field(index=True, sa_type=sa.DateTime)
    note: str = ""


class LedgerEntry(SQLModel, table=True):
    """One movement of the balance. Append-only: rows are never updated.

    kind: topup | recharge | charge | expiry | settlement | adjustment.
    A charge that spans two lots is two entries; the part of a charge no lot
    covers (the balance goes below zero) has ``lot_id`` NULL and is settled
    by the next purchase with a ``settlement`` pair.

    Two times (the accountants' model, see :mod:`credits_cli.ledger`):
    ``posted_at`` is when the tool booked the entry, ``service_at`` when what it
    records happened (the call's start; the day a purchase was really made).
    Balances follow posting order; usage follows service time.
    """

    __tablename__ = "ledger"
    __table_args__ = (
        sa.Index("ix_ledger_tenant_service", "tenant_id", "service_at"),
        sa.Index("ix_ledger_tenant_posted", "tenant_id", "posted_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    service_at: datetime = Field(sa_type=sa.DateTime)
    posted_at: datetime = Field(sa_type=sa.DateTime)
    kind: str
    amount: Decimal = money_field()  # signed: credits positive, debits negative
    lot_id: int | None = Field(default=None, foreign_key="lots.id", index=True)
    call_id: int | None = Field(default=None, foreign_key="calls.id", index=True)
    note: str = ""


class Notification(SQLModel, table=True):
    """The outbox: one row per event and recipient."""

    __tablename__ = "notifications"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    event: str  # recharge_succeeded | recharge_failed | balance_zero | dialout_pool_80 | ...
    recipient: str | None = None
    subject: str
    body: str
    created_at: datetime = Field(sa_type=sa.DateTime)
    status: str = Field(default="queued", index=True)  # queued | sent | no_recipient
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = Field(default=None, sa_type=sa.DateTime)


class RateTable(SQLModel, table=True):
    __tablename__ = "rate_tables"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    name: str
    currency: str
    decimals: int
    source: str  # the YAML text as loaded
    loaded_at: datetime = Field(sa_type=sa.DateTime)
    active: bool = True


class RateEntry(SQLModel, table=True):
    __tablename__ = "rate_entries"
    __table_args__ = (sa.UniqueConstraint("table_id", "section", "prefix"),)
    id: int | None = Field(default=None, primary_key=True)
    table_id: int = Field(foreign_key="rate_tables.id", index=True)
    section: str  # outbound | tollfree | dialout
    prefix: str
    name: str
    per_minute: str  # exact decimal text: rates may be finer than money.SCALE
    connection_fee: str = "0"
    minimum_seconds: int
    increment_seconds: int


class ImportRun(SQLModel, table=True):
    """One ``rate-cdrs`` run: what it read and what became of it."""

    __tablename__ = "imports"
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    started_at: datetime = Field(sa_type=sa.DateTime)
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime)
    files: str = ""
    summary: str = "{}"  # JSON counts


class Call(SQLModel, table=True):
    """A rated call record, with everything a report needs to explain it."""

    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_tenant_start", "tenant_id", "start"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id")
    external_id: str  # UsageId, Graph id, or our call_id
    import_id: int | None = Field(default=None, foreign_key="imports.id")
    source_file: str = ""
    source_line: int = 0
    user_upn: str = ""
    user_id: int | None = Field(default=None, foreign_key="users.id")
    start: datetime = Field(sa_type=sa.DateTime)
    duration_seconds: int
    call_type: str  # as in the record: user_out, conf_out, ...
    kind: str  # outbound | dialout | tollfree | inbound | carrier
    number: str = ""  # the other party (dialed number, or the toll-free number called)
    country: str | None = None  # ISO alpha-2 of the number
    domestic: bool | None = None
    status: str  # charged | included | free | denied | unrated | carrier
    reason: str = ""
    rate_prefix: str | None = None
    rate_name: str | None = None
    billed_seconds: int = 0
    pool: str | None = None
    pool_seconds: int = 0
    charged_seconds: int = 0
    charge: Decimal = money_field(default=Decimal(0))
    # What the export itself said the call cost (SPEC §6.8), kept beside our own charge for
    # ``reconcile``; None where the format has no such column.
    ms_charge: Decimal | None = money_field(nullable=True)
    ms_connection_fee: Decimal | None = money_field(nullable=True)
    ms_currency: str | None = None
    capability: str | None = None  # the license that paid the call: MCOPSTNPP, MCOPSTN1, FREECALL, ...
    operator: str | None = None  # Graph's operator: Microsoft, or an Operator Connect carrier
    #: the call's key, made from external_id (:mod:`credits_cli.callkey`); unique per tenant in
    #: :class:`CallGuard`, the duplicate guard
    guard: int = Field(sa_type=sa.BigInteger)


class CallGuard(SQLModel, table=True):
    """The duplicate guard (SPEC §6.1): each rated call's key, unique per tenant, and the call that holds it.

    A table of its own rather than an index on ``calls``: rating writes a transaction's keys at its end,
    in key order (:class:`credits_cli.rating.store.NewKeys`), so a year of calls in the table costs an
    import one pass over the guard's pages per transaction, not a random page per call. No foreign key
    on ``call_id``: a call and its key are written in the same transaction, and the check would read a
    random page of ``calls`` for each key.
    """

    __tablename__ = "call_guards"
    __table_args__ = ({"sqlite_with_rowid": False},)
    tenant_id: int = Field(foreign_key="tenants.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    guard: int = Field(sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    call_id: int


class PoolUsage(SQLModel, table=True):
    """Seconds used of a monthly pool (domestic:US, international, dialout)."""

    __tablename__ = "pool_usage"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "month", "pool"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant_id: int = Field(foreign_key="tenants.id", index=True)
    month: str  # YYYY-MM
    pool: str
    capacity_seconds: int
    used_seconds: int = 0
