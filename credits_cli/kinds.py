"""The product's vocabulary: every kind, status, reason and event, in one place.

Each is a :class:`~enum.StrEnum`: a member *is* its string (``Status.CHARGED ==
"charged"``), so it is stored in the database, written in JSON and compared
with what a row holds without conversion. The strings are part of the contract
(SPEC §6: statuses and reasons appear in ``--json``, in ``calls --status`` and
in the reports); never rename one.
"""

from __future__ import annotations

from enum import StrEnum


class CallKind(StrEnum):
    """What a call is to the balance (SPEC §6.2)."""

    OUTBOUND = "outbound"  # a user's call out: user_out*, ucap_out
    DIALOUT = "dialout"  # Audio Conferencing dial-out: conf_out
    INBOUND = "inbound"  # a call in to a number that is not toll-free: free
    TOLLFREE = "tollfree"  # a call in to one of the tenant's toll-free numbers: charged
    CARRIER = "carrier"  # Direct Routing or Operator Connect: billed by the carrier, not from credits


#: The call kinds that spend credits, in the order reports list them.
SPENDING_KINDS = (CallKind.OUTBOUND, CallKind.DIALOUT, CallKind.TOLLFREE)


class Status(StrEnum):
    """What became of a rated call (SPEC §6, Statuses). ``duplicate`` is counted, never stored."""

    CHARGED = "charged"
    INCLUDED = "included"  # a pool covered all of it
    FREE = "free"  # inbound, not toll-free; or nothing to bill
    DENIED = "denied"
    UNRATED = "unrated"  # no prefix matches: kept, reported, not charged
    CARRIER = "carrier"


#: Every stored status, in the order summaries and reports list them.
STATUSES = tuple(Status)


class Reason(StrEnum):
    """Why a call was denied, unrated or free."""

    UNLICENSED = "unlicensed"
    UNKNOWN_USER = "unknown_user"
    NO_BALANCE = "no_balance"
    NO_RATE = "no_rate"
    NO_NUMBER = "no_number"
    SHORT_NUMBER = "short_number"  # too short to be an international number: never placed by a guess
    ZERO_DURATION = "zero_duration"
    FREECALL = "freecall"  # Microsoft left the call unpriced (capability FREECALL)
    EMERGENCY = "emergency"  # an emergency call: never charged


class EntryKind(StrEnum):
    """A ledger entry (SPEC §3). Top-ups and recharges are also the kinds of a lot."""

    TOPUP = "topup"
    RECHARGE = "recharge"
    CHARGE = "charge"
    EXPIRY = "expiry"
    SETTLEMENT = "settlement"
    ADJUSTMENT = "adjustment"


#: Entries that fund the balance (each is a lot).
FUNDING_KINDS = (EntryKind.TOPUP, EntryKind.RECHARGE)


class Event(StrEnum):
    """What the admins are told of (SPEC §6.7)."""

    RECHARGE_SUCCEEDED = "recharge_succeeded"
    RECHARGE_FAILED = "recharge_failed"
    BALANCE_ZERO = "balance_zero"
    DIALOUT_POOL_80 = "dialout_pool_80"
    DIALOUT_POOL_100 = "dialout_pool_100"


class Delivery(StrEnum):
    """Where an outbox row stands (see :mod:`credits_cli.notify`)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    NO_RECIPIENT = "no_recipient"


class Plan(StrEnum):
    """A user's calling plan."""

    NONE = "none"
    DOMESTIC = "domestic"
    DOMESTIC_INTERNATIONAL = "domestic-international"
    PAYG = "payg"


#: Plans with a domestic pool; the international pool is DOMESTIC_INTERNATIONAL's alone.
DOMESTIC_PLANS = (Plan.DOMESTIC, Plan.DOMESTIC_INTERNATIONAL)


class Section(StrEnum):
    """A section of a rate table (SPEC §4)."""

    OUTBOUND = "outbound"
    TOLLFREE = "tollfree"
    DIALOUT = "dialout"


SECTIONS = tuple(Section)
