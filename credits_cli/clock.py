"""Time: one source of "now", and the date helpers the commands share.

All times in the database are naive UTC. The clock can be pinned
(:func:`pin`; the command line pins it to ``CREDITS_NOW``), so examples, tests
and replays of old data are reproducible.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _

_pinned: datetime | None = None


def pin(moment: datetime | None) -> None:
    """Make :func:`now` answer ``moment`` (naive UTC) from here on; None lets the real clock run again."""
    global _pinned
    _pinned = moment


def now() -> datetime:
    """The current time, naive UTC, to the second (or the pinned moment)."""
    if _pinned is not None:
        return _pinned
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


# TRANSLATORS: a date and time someone gave, named in "{what} is empty" and the like.
def parse_timestamp(text: str, *, what: str = N_("time")) -> datetime:
    """ISO 8601 -> naive UTC. Accepts ``Z``, offsets and up to 9 fractional digits. ``what`` names the
    value in messages: an option or variable (``"--at"``, shown as it is) or a word marked with ``N_``."""
    raw = text.strip()
    if not raw:
        # TRANSLATORS: {what} is an option or variable (--at, CREDITS_NOW) or a word such as "time".
        raise InvalidInput(_("{what} is empty").format(what=_(what)))
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    # Python < 3.11 and some exports: trim fractions longer than 6 digits.
    dot = raw.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(raw) and raw[end].isdigit():
            end += 1
        if end - dot - 1 > 6:
            raw = raw[: dot + 7] + raw[end:]
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        # TRANSLATORS: {what} is an option or variable (--at, CREDITS_NOW) or a word such as "time"; {value}
        # what was given, quoted. ISO 8601 (2026-11-01 or 2026-11-01T09:30Z) is the one form read.
        raise InvalidInput(_("{what} {value} is not an ISO 8601 date or time").format(
            what=_(what), value=repr(text))) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


# TRANSLATORS: a date someone gave, named in "{what} {value} is not a date like {example}".
def parse_day(text: str, *, what: str = N_("date")) -> date:
    """An ISO 8601 date (``2026-11-01``); ``what`` as for :func:`parse_timestamp`."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        # TRANSLATORS: {what} is an option (--from) or a word such as "date"; {value} what was given,
        # quoted; {example} is 2026-11-01: dates are typed in this ISO 8601 form, whatever the language.
        raise InvalidInput(_("{what} {value} is not a date like {example}").format(
            what=_(what), value=repr(text), example="2026-11-01")) from None


def day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def month_key(moment: datetime | date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def add_months(moment: datetime, months: int) -> datetime:
    """Same day and time ``months`` later, clamped to the month's last day."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def month_bounds(d: date) -> tuple[date, date]:
    """First day of d's month and first day of the next month."""
    first = d.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return first, nxt


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, for JSON output."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"
