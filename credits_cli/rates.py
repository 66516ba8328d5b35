"""Rate tables (SPEC §4): loading ``rates/*.yaml``, longest-prefix lookup, pricing.

A table is read with a safe YAML loader that refuses aliases (no
"billion laughs"), Python tags and files larger than :data:`MAX_FILE_BYTES`.
Every problem is one message naming the file and the entry, e.g.
``rates/x.yaml: outbound[12] (prefix 447): per_minute '-1' is negative``.

Pricing (SPEC §4): billed seconds = max(minimum, duration rounded up to the
increment); charge = connection fee + per_minute x charged seconds / 60,
rounded once, half up, to the table's decimals. :meth:`Rate.price` does it in
integers (the hot path of rating); :func:`price_decimal` is the definition in
``Decimal`` that the tests hold it to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from credits_cli import clock, money
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.models import RateEntry, RateTable, Tenant

SECTIONS = ("outbound", "tollfree", "dialout")
TOP_KEYS = {"name", "currency", "decimals", "billing", *SECTIONS}
ENTRY_KEYS = {"prefix", "name", "per_minute", "connection_fee", "minimum_seconds", "increment_seconds"}
BILLING_KEYS = {"minimum_seconds", "increment_seconds"}
#: A rate table larger than this is refused before it is parsed.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Rates may be finer than a charge (e.g. 0.012345 per minute), but not absurdly so.
MAX_RATE_DECIMALS = 8
MAX_RATE = Decimal("10000")  # per minute or per connection, in major units
MAX_SECONDS = 3600
MAX_PREFIX_DIGITS = 15  # E.164 numbers have at most 15 digits

_RATE_RE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,8})?$")  # 8 = MAX_RATE_DECIMALS
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


# --- one rate -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """One entry of a section, ready to price calls."""

    section: str
    prefix: str
    name: str
    per_minute: Decimal
    connection_fee: Decimal
    minimum_seconds: int
    increment_seconds: int
    decimals: int
    # Integer form: per_minute and connection_fee in units of 10**-scale.
    _pm_units: int = 0
    _fee_units: int = 0
    _scale: int = 0

    @classmethod
    def make(
        cls,
        section: str,
        prefix: str,
        name: str,
        per_minute: Decimal,
        connection_fee: Decimal,
        minimum_seconds: int,
        increment_seconds: int,
        decimals: int,
    ) -> Rate:
        scale = max(decimals, _places(per_minute), _places(connection_fee))
        return cls(
            section,
            prefix,
            name,
            per_minute,
            connection_fee,
            minimum_seconds,
            increment_seconds,
            decimals,
            int(per_minute.scaleb(scale)),
            int(connection_fee.scaleb(scale)),
            scale,
        )

    def billed_seconds(self, duration: int) -> int:
        """max(minimum, duration rounded up to the increment); a call of 0 seconds bills nothing."""
        if duration <= 0:
            return 0
        inc = self.increment_seconds
        rounded = -(-duration // inc) * inc
        return rounded if rounded > self.minimum_seconds else self.minimum_seconds

    def price(self, charged_seconds: int) -> Decimal:
        """connection fee + per_minute x charged_seconds / 60, rounded once (half up)."""
        if charged_seconds <= 0:
            return Decimal(0)
        # value x 60 x 10**scale, exactly, in integers
        numerator = self._fee_units * 60 + self._pm_units * charged_seconds
        denominator = 60 * 10 ** (self._scale - self.decimals)
        rounded = (2 * numerator + denominator) // (2 * denominator)  # half up (non-negative)
        return Decimal(rounded).scaleb(-self.decimals)

    def describe_billing(self) -> str:
        return f"{self.minimum_seconds}/{self.increment_seconds}"


def price_decimal(rate: Rate, charged_seconds: int) -> Decimal:
    """The definition of SPEC §4 in Decimal arithmetic (the reference for :meth:`Rate.price`)."""
    if charged_seconds <= 0:
        return Decimal(0)
    from decimal import localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        value = rate.connection_fee + rate.per_minute * Decimal(charged_seconds) / Decimal(60)
        return money.round_money(value, rate.decimals)


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# --- a loaded table -----------------------------------------------------------------------


#: Look-ups a :class:`RateBook` remembers (by the digits that decide them) before it starts afresh.
KNOWN_PREFIXES = 200_000


@dataclass
class RateBook:
    """The active table of a tenant, indexed for longest-prefix lookup.

    One dict per section (prefix -> Rate) and the distinct prefix lengths,
    longest first: a lookup tries at most as many dict probes as there are
    distinct lengths (a handful), whatever the table's size.
    """

    table_id: int
    name: str
    currency: str
    decimals: int
    sections: dict[str, dict[str, Rate]]
    lengths: dict[str, tuple[int, ...]]
    #: (section, the number's first digits up to the section's longest prefix) -> the answer: the
    #: longest prefix of a number is decided by those digits alone, and they recur across an import.
    _known: dict[tuple[str, str], Rate | None] = field(default_factory=dict, repr=False, compare=False)
    #: section -> how many leading digits decide a look-up there (its longest prefix, or outbound's
    #: for dial-out, which falls back to it)
    _decisive: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outbound = self.lengths.get("outbound", ())
        self._decisive = {
            section: max(lengths + (outbound if section == "dialout" else ()), default=0)
            for section, lengths in self.lengths.items()
        }

    @classmethod
    def build(cls, table_id: int, name: str, currency: str, decimals: int, rates: list[Rate]) -> RateBook:
        sections: dict[str, dict[str, Rate]] = {s: {} for s in SECTIONS}
        for rate in rates:
            sections[rate.section][rate.prefix] = rate
        lengths = {s: tuple(sorted({len(p) for p in entries}, reverse=True)) for s, entries in sections.items()}
        return cls(table_id, name, currency, decimals, sections, lengths)

    def lookup(self, section: str, digits: str) -> Rate | None:
        """The entry with the longest prefix of ``digits`` in ``section``.

        ``dialout`` falls back to ``outbound`` when it has no entry for the number.
        """
        key = (section, digits[: self._decisive[section]])
        try:
            return self._known[key]
        except KeyError:
            pass
        found = self._lookup(section, digits)
        if len(self._known) >= KNOWN_PREFIXES:
            self._known.clear()
        self._known[key] = found
        return found

    def _lookup(self, section: str, digits: str) -> Rate | None:
        entries = self.sections[section]
        n = len(digits)
        for length in self.lengths[section]:
            if length <= n:
                rate = entries.get(digits[:length])
                if rate is not None:
                    return rate
        if section == "dialout":
            return self._lookup("outbound", digits)
        return None

    def count(self, section: str | None = None) -> int:
        if section is None:
            return sum(len(v) for v in self.sections.values())
        return len(self.sections[section])


# --- parsing a file -------------------------------------------------------------------


def _safe_loader() -> type:
    import yaml

    class NoAliasSafeLoader(yaml.SafeLoader):
        """SafeLoader that refuses aliases: a rate table never needs them, and
        they are how a small file expands into gigabytes ("billion laughs")."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in a rate table", event.start_mark
                )
            return super().compose_node(parent, index)

    return NoAliasSafeLoader


def read_yaml(path: Path) -> tuple[Any, str]:
    """Read and parse a rate file safely. Returns (data, text)."""
    import yaml

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    if size > MAX_FILE_BYTES:
        raise InvalidInput(f"{path}: {size:,} bytes is too large for a rate table (at most {MAX_FILE_BYTES:,})")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass without aliases
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not a valid rate table: {' '.join(str(exc).split())}") from None
    return data, text


@dataclass
class ParsedTable:
    name: str
    currency: str
    decimals: int
    rates: list[Rate]


def _seconds(value: Any, where: str, key: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}: {key} {value!r} must be a whole number of seconds")
    if value < low or value > MAX_SECONDS:
        raise InvalidInput(f"{where}: {key} {value} must be between {low} and {MAX_SECONDS}")
    return value


def _rate_value(value: Any, where: str, key: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput(f"{where}: {key} {value!r} must be quoted (write \"{value}\") so it stays exact")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{where}: {key} {value!r} is not a decimal number")
    text = str(value).strip()
    if text.startswith("-"):
        raise InvalidInput(f"{where}: {key} {text!r} is negative")
    if not _RATE_RE.match(text):
        raise InvalidInput(
            f"{where}: {key} {text!r} is not a plain decimal such as \"0.0230\" "
            f"(at most {MAX_RATE_DECIMALS} decimals, no exponents or signs)"
        )
    result = Decimal(text)
    if result > MAX_RATE:
        raise InvalidInput(f"{where}: {key} {text} is too large (at most {MAX_RATE})")
    return result


def parse_table(data: Any, label: str) -> ParsedTable:
    """Validate a parsed YAML document; one clear message for the first problem."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{label}: a rate table is a mapping with name, currency, decimals and outbound")
    unknown = sorted(str(k) for k in data if k not in TOP_KEYS)
    if unknown:
        raise InvalidInput(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})")
    for key in ("name", "currency", "outbound"):
        if key not in data:
            raise InvalidInput(f"{label}: missing {key!r}")
    name = data["name"]
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidInput(f"{label}: name {name!r} must be letters, digits, '.', '_' or '-' (at most 80)")
    currency = data["currency"]
    if not isinstance(currency, str) or currency.strip().upper() not in money.CURRENCY_DIGITS:
        raise InvalidInput(f"{label}: unknown currency {currency!r}")
    currency = currency.strip().upper()
    decimals = data.get("decimals", money.SCALE)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= money.SCALE:
        raise InvalidInput(f"{label}: decimals {decimals!r} must be a whole number from 0 to {money.SCALE}")
    billing = data.get("billing") or {}
    if not isinstance(billing, dict):
        raise InvalidInput(f"{label}: billing must be a mapping like {{minimum_seconds: 60, increment_seconds: 60}}")
    bad = sorted(str(k) for k in billing if k not in BILLING_KEYS)
    if bad:
        raise InvalidInput(f"{label}: billing: unknown key {bad[0]!r} (known: {', '.join(sorted(BILLING_KEYS))})")
    default_min = _seconds(billing.get("minimum_seconds", 60), f"{label}: billing", "minimum_seconds", low=0)
    default_inc = _seconds(billing.get("increment_seconds", 60), f"{label}: billing", "increment_seconds", low=1)

    rates: list[Rate] = []
    for section in SECTIONS:
        entries = data.get(section)
        if entries is None:
            if section == "outbound":
                raise InvalidInput(f"{label}: outbound must list at least one entry")
            continue
        if not isinstance(entries, list):
            raise InvalidInput(f"{label}: {section} must be a list of entries")
        if section == "outbound" and not entries:
            raise InvalidInput(f"{label}: outbound must list at least one entry")
        seen: dict[str, int] = {}
        for index, entry in enumerate(entries):
            where = f"{label}: {section}[{index}]"
            if not isinstance(entry, dict):
                raise InvalidInput(f"{where}: an entry is a mapping like {{prefix: \"44\", per_minute: ...}}")
            raw_prefix = entry.get("prefix")
            if raw_prefix is None:
                raise InvalidInput(f"{where}: missing prefix")
            if isinstance(raw_prefix, bool) or not isinstance(raw_prefix, int | str):
                raise InvalidInput(f"{where}: prefix {raw_prefix!r} must be digits")
            prefix = str(raw_prefix).strip().removeprefix("+")
            if not prefix.isascii() or not prefix.isdigit():
                raise InvalidInput(f"{where}: prefix {raw_prefix!r} must be E.164 digits without '+', e.g. \"44\"")
            if prefix.startswith("0"):
                raise InvalidInput(f"{where}: prefix {prefix!r} starts with 0; E.164 starts with a country code")
            if len(prefix) > MAX_PREFIX_DIGITS:
                raise InvalidInput(f"{where}: prefix {prefix!r} is longer than {MAX_PREFIX_DIGITS} digits")
            where = f"{where} (prefix {prefix})"
            unknown = sorted(str(k) for k in entry if k not in ENTRY_KEYS)
            if unknown:
                raise InvalidInput(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(ENTRY_KEYS))})")
            if prefix in seen:
                raise InvalidInput(f"{where}: duplicate prefix (also {section}[{seen[prefix]}])")
            seen[prefix] = index
            entry_name = entry.get("name", "")
            if not isinstance(entry_name, str) or len(entry_name) > 200:
                raise InvalidInput(f"{where}: name must be text (at most 200 characters)")
            if "per_minute" not in entry:
                raise InvalidInput(f"{where}: missing per_minute")
            per_minute = _rate_value(entry["per_minute"], where, "per_minute")
            fee = _rate_value(entry.get("connection_fee", "0"), where, "connection_fee")
            minimum = _seconds(entry.get("minimum_seconds", default_min), where, "minimum_seconds", low=0)
            increment = _seconds(entry.get("increment_seconds", default_inc), where, "increment_seconds", low=1)
            rates.append(Rate.make(section, prefix, entry_name.strip(), per_minute, fee, minimum, increment, decimals))
    return ParsedTable(name=name, currency=currency, decimals=decimals, rates=rates)


# --- the database ---------------------------------------------------------------------------


def load_file(session: Session, tenant: Tenant, path: Path) -> tuple[RateTable, int]:
    """Validate ``path`` and make it the tenant's active table (the previous one is kept, inactive)."""
    data, text = read_yaml(path)
    parsed = parse_table(data, str(path))
    if parsed.currency != tenant.currency:
        raise InvalidInput(
            f"{path}: the table is in {parsed.currency} but tenant {tenant.slug} keeps {tenant.currency}"
        )
    session.execute(
        sa.update(RateTable.__table__)  # type: ignore[attr-defined]
        .where(RateTable.__table__.c.tenant_id == tenant.id)  # type: ignore[attr-defined]
        .values(active=False)
    )
    table = RateTable(
        tenant_id=tenant.id or 0,
        name=parsed.name,
        currency=parsed.currency,
        decimals=parsed.decimals,
        source=text,
        loaded_at=clock.now(),
        active=True,
    )
    session.add(table)
    session.flush()
    rows = [
        {
            "table_id": table.id,
            "section": r.section,
            "prefix": r.prefix,
            "name": r.name,
            "per_minute": _text(r.per_minute),
            "connection_fee": _text(r.connection_fee),
            "minimum_seconds": r.minimum_seconds,
            "increment_seconds": r.increment_seconds,
        }
        for r in parsed.rates
    ]
    if rows:
        session.execute(sa.insert(RateEntry.__table__), rows)  # type: ignore[attr-defined]
    return table, len(rows)


def _text(value: Decimal) -> str:
    return f"{value:f}"


def active_table(session: Session, tenant: Tenant) -> RateTable | None:
    return session.exec(
        select(RateTable)
        .where(RateTable.tenant_id == tenant.id, col(RateTable.active).is_(True))
        .order_by(col(RateTable.id).desc())
    ).first()


def require_active(session: Session, tenant: Tenant) -> RateTable:
    table = active_table(session, tenant)
    if table is None:
        raise NotFound(f"no rate table is loaded for {tenant.slug}; run: credits rates load rates/default-usd.yaml")
    return table


def load_book(session: Session, tenant: Tenant) -> RateBook:
    """The active table, indexed for lookup (one query for all its entries)."""
    table = require_active(session, tenant)
    t = RateEntry.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(
            t.c.section,
            t.c.prefix,
            t.c.name,
            t.c.per_minute,
            t.c.connection_fee,
            t.c.minimum_seconds,
            t.c.increment_seconds,
        ).where(t.c.table_id == table.id)
    ).all()
    rates = [
        Rate.make(sec, pre, name, Decimal(pm), Decimal(fee), int(mn), int(inc), table.decimals)
        for sec, pre, name, pm, fee, mn, inc in rows
    ]
    return RateBook.build(table.id or 0, table.name, table.currency, table.decimals, rates)


def list_tables(session: Session, tenant: Tenant) -> list[tuple[RateTable, int]]:
    t = RateEntry.__table__  # type: ignore[attr-defined]
    counts = dict(
        session.execute(sa.select(t.c.table_id, func.count()).group_by(t.c.table_id)).all()
    )
    tables = session.exec(select(RateTable).where(RateTable.tenant_id == tenant.id).order_by(col(RateTable.id))).all()
    return [(table, int(counts.get(table.id, 0))) for table in tables]


def entries(session: Session, table: RateTable) -> list[RateEntry]:
    return list(
        session.exec(
            select(RateEntry)
            .where(RateEntry.table_id == table.id)
            .order_by(col(RateEntry.section), col(RateEntry.prefix))
        ).all()
    )


@dataclass
class Quote:
    number: str
    digits: str
    country: str | None
    section: str
    rate: Rate | None
    duration_seconds: int
    billed_seconds: int
    charge: Decimal


def quote(book: RateBook, number: str, seconds: int, kind: str) -> Quote:
    """What a call of ``seconds`` to ``number`` would cost at list price (no pools, no licenses)."""
    from credits_cli import phones

    if kind not in SECTIONS:
        raise InvalidInput(f"--kind {kind!r} must be one of {', '.join(SECTIONS)}")
    if seconds < 0 or seconds > 86400 * 7:
        raise InvalidInput(f"--seconds {seconds} must be between 0 and {86400 * 7}")
    digits = phones.visible_digits(phones.check_number(number))
    rate = book.lookup(kind, digits)
    billed = rate.billed_seconds(seconds) if rate else 0
    return Quote(
        number=number,
        digits=digits,
        country=phones.country_of(digits),
        section=kind,
        rate=rate,
        duration_seconds=seconds,
        billed_seconds=billed,
        charge=rate.price(billed) if rate else Decimal(0),
    )


__all__ = ["Rate", "RateBook", "load_file", "load_book", "quote", "price_decimal"]
