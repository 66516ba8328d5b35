"""Rate tables (SPEC §4): loading ``rates/*.yaml``, longest-prefix lookup, pricing.

A table is read by :mod:`credits_cli.strict_yaml`: YAML where versions 1.1
and 1.2 agree (an unquoted ``0044`` is refused, never the octal 36), no
duplicate keys, aliases ("billion laughs") or tags, and no file larger than
:data:`MAX_FILE_BYTES`. It is then validated by a typed model (``_Table``,
pydantic); every problem is one message naming the file and the entry, e.g.
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from sqlmodel import Session, col, func, select

from credits_cli import clock, currencies, money, strict_yaml
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.i18n import N_, _, ngettext
from credits_cli.kinds import SECTIONS, Section
from credits_cli.models import RateEntry, RateTable, Tenant

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

    def units(self) -> tuple[int, int, int]:
        """(per minute, connection fee, scale): the two rates as integers of ``10**-scale``."""
        return self._pm_units, self._fee_units, self._scale

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
        outbound = self.lengths.get(Section.OUTBOUND, ())
        self._decisive = {
            section: max(lengths + (outbound if section == Section.DIALOUT else ()), default=0)
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
        if section == Section.DIALOUT:
            return self._lookup(Section.OUTBOUND, digits)
        return None

    def entries(self) -> list[Rate]:
        """Every entry, in a fixed order (section, then prefix): a rate's place in it is its index."""
        return [self.sections[s][p] for s in sorted(self.sections) for p in sorted(self.sections[s])]

    def index(self) -> dict[tuple[str, str], int]:
        """(section, prefix) -> the entry's place in :meth:`entries`."""
        return {(r.section, r.prefix): i for i, r in enumerate(self.entries())}

    def count(self, section: str | None = None) -> int:
        if section is None:
            return sum(len(v) for v in self.sections.values())
        return len(self.sections[section])


# --- parsing a file -------------------------------------------------------------------


def read_yaml(path: Path) -> tuple[Any, str]:
    """Read and parse a rate file strictly (:mod:`credits_cli.strict_yaml`). Returns (data, text)."""
    # TRANSLATORS: a kind of file (rates/*.yaml), named in "{label}: not a valid {what}: ..." and "... is too large
    # for a {what} ...".
    return strict_yaml.read(path, what=N_("rate table"), max_bytes=MAX_FILE_BYTES)


@dataclass
class ParsedTable:
    name: str
    currency: str
    decimals: int
    rates: list[Rate]


# The file's typed model. Each validator raises ValueError with the message a user reads; the
# problem's place (``outbound[3] (prefix 4477)``) is added from the error's location by
# :func:`_problem`, so every message names the file and the entry in one line.


def _seconds(value: Any, key: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        # TRANSLATORS: {key} is a key of a rate table (minimum_seconds): keep it; {value} the value found.
        raise ValueError(_("{key} {value} must be a whole number of seconds").format(key=key, value=repr(value)))
    if value < low or value > MAX_SECONDS:
        # TRANSLATORS: {key} is a key of a rate table (minimum_seconds): keep it; {value} the value found;
        # {low} and {high} are seconds (0 and 3600).
        raise ValueError(_("{key} {value} must be between {low} and {high}").format(
            key=key, value=value, low=low, high=MAX_SECONDS))
    return value


def _rate_value(value: Any, key: str) -> Decimal:
    if isinstance(value, float):
        # TRANSLATORS: {key} is a key of a rate table (per_minute): keep it; {value} the number found;
        # {text} the same number, to be written between straight double quotes in the file.
        raise ValueError(_('{key} {value} must be quoted (write "{text}") so it stays exact').format(
            key=key, value=repr(value), text=value))
    if isinstance(value, bool) or not isinstance(value, int | str):
        # TRANSLATORS: {key} is a key of a rate table (per_minute): keep it; {value} the value found.
        raise ValueError(_("{key} {value} is not a decimal number").format(key=key, value=repr(value)))
    text = str(value).strip()
    if text.startswith("-"):
        # TRANSLATORS: {key} is a key of a rate table (per_minute): keep it; {value} the value found.
        raise ValueError(_("{key} {value} is negative").format(key=key, value=repr(text)))
    if not _RATE_RE.match(text):
        raise ValueError(
            # TRANSLATORS: {key} is a key of a rate table (per_minute): keep it; {value} the value found;
            # {example} is "0.0230": a rate is written with a dot, in quotes, whatever the language (if yours
            # writes decimals with a comma, say that a dot is used); {n} the most decimals a rate may have.
            ngettext("{key} {value} is not a plain decimal such as {example} "
                     "(at most {n} decimal, no exponents or signs)",
                     "{key} {value} is not a plain decimal such as {example} "
                     "(at most {n} decimals, no exponents or signs)", MAX_RATE_DECIMALS).format(
                key=key, value=repr(text), example='"0.0230"', n=MAX_RATE_DECIMALS)
        )
    result = Decimal(text)
    if result > MAX_RATE:
        # TRANSLATORS: {key} is a key of a rate table (per_minute): keep it; {value} the value found;
        # {limit} the largest rate accepted (10000).
        raise ValueError(_("{key} {value} is too large (at most {limit})").format(key=key, value=text, limit=MAX_RATE))
    return result


def _prefix(value: Any) -> str:
    """E.164 digits without '+': an int (44) or text ("44", "+44"), not starting with 0."""
    if value is None:
        raise ValueError(_missing("prefix"))
    if isinstance(value, bool) or not isinstance(value, int | str):
        # TRANSLATORS: {key} is the key "prefix" of a rate table's entry: keep it; {value} the value found.
        raise ValueError(_("{key} {value} must be digits").format(key="prefix", value=repr(value)))
    prefix = str(value).strip().removeprefix("+")
    if not prefix.isascii() or not prefix.isdigit():
        # TRANSLATORS: {key} is the key "prefix" of a rate table's entry: keep it; {value} the value found;
        # {example} is "44" (the United Kingdom's country code, as the file holds it).
        raise ValueError(_("{key} {value} must be E.164 digits without '+', e.g. {example}").format(
            key="prefix", value=repr(value), example='"44"'))
    if prefix.startswith("0"):
        # TRANSLATORS: {key} is the key "prefix" of a rate table's entry: keep it; {value} the value found.
        raise ValueError(_("{key} {value} starts with 0; E.164 starts with a country code").format(
            key="prefix", value=repr(prefix)))
    if len(prefix) > MAX_PREFIX_DIGITS:
        # TRANSLATORS: {key} is the key "prefix" of a rate table's entry: keep it; {value} the value found.
        raise ValueError(ngettext("{key} {value} is longer than {n} digit", "{key} {value} is longer than {n} digits",
                                  MAX_PREFIX_DIGITS).format(key="prefix", value=repr(prefix), n=MAX_PREFIX_DIGITS))
    return prefix


def _missing(key: str) -> str:
    # TRANSLATORS: {key} is a key of the file (per_minute, 'name'): keep it as it is.
    return _("missing {key}").format(key=key)


def _unknown_key(key: str, model: type[BaseModel]) -> str:
    # TRANSLATORS: {key} is a key found in the file, quoted; {known} the keys allowed there: keep them.
    return _("unknown key {key} (known: {known})").format(key=key, known=", ".join(sorted(model.model_fields)))


def _known_keys(data: dict[Any, Any], model: type[BaseModel]) -> None:
    """Refuse a key that is not text (YAML allows ``5: x``) as the unknown key it is."""
    for key in data:
        if not isinstance(key, str):
            raise ValueError(_unknown_key(repr(str(key)), model))


class _Model(BaseModel):
    # built on first use: commands that only price calls never validate a file
    model_config = ConfigDict(extra="forbid", defer_build=True)


class _Billing(_Model):
    minimum_seconds: int = 60
    increment_seconds: int = 60

    @field_validator("minimum_seconds", "increment_seconds", mode="plain")
    @classmethod
    def _check_seconds(cls, value: Any, info: ValidationInfo) -> int:
        return _seconds(value, str(info.field_name), low=0 if info.field_name == "minimum_seconds" else 1)


class _Entry(_Model):
    prefix: str
    name: str = ""
    per_minute: Decimal
    connection_fee: Decimal = Decimal(0)
    minimum_seconds: int | None = None  # None: the table's billing
    increment_seconds: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            # TRANSLATORS: {example} is an entry of a rate table as YAML writes it.
            raise ValueError(_("an entry is a mapping like {example}").format(
                example='{prefix: "44", per_minute: ...}'))
        _known_keys(data, cls)
        return data

    @field_validator("prefix", mode="plain")
    @classmethod
    def _check_prefix(cls, value: Any) -> str:
        return _prefix(value)

    @field_validator("name", mode="plain")
    @classmethod
    def _check_name(cls, value: Any) -> str:
        if not isinstance(value, str) or len(value) > 200:
            # TRANSLATORS: {key} is the key "name" of a rate table's entry: keep it.
            raise ValueError(ngettext("{key} must be text (at most {n} character)",
                                      "{key} must be text (at most {n} characters)", 200).format(key="name", n=200))
        return value.strip()

    @field_validator("per_minute", "connection_fee", mode="plain")
    @classmethod
    def _check_rate(cls, value: Any, info: ValidationInfo) -> Decimal:
        return _rate_value(value, str(info.field_name))

    @field_validator("minimum_seconds", "increment_seconds", mode="plain")
    @classmethod
    def _check_seconds(cls, value: Any, info: ValidationInfo) -> int:
        return _seconds(value, str(info.field_name), low=0 if info.field_name == "minimum_seconds" else 1)


class _Table(_Model):
    """A rate table file (SPEC §4)."""

    name: str
    currency: str
    decimals: int = money.SCALE
    billing: _Billing = Field(default_factory=_Billing)
    outbound: list[_Entry]
    tollfree: list[_Entry] = Field(default_factory=list)
    dialout: list[_Entry] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _is_mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            # TRANSLATORS: name, currency, decimals and outbound are keys of the file: keep them as they are.
            raise ValueError(_("a rate table is a mapping with name, currency, decimals and outbound"))
        _known_keys(data, cls)
        return data

    @field_validator("name", mode="plain")
    @classmethod
    def _check_name(cls, value: Any) -> str:
        if not isinstance(value, str) or not _NAME_RE.match(value):
            # TRANSLATORS: {key} is the key "name" of a rate table: keep it; {value} the value found; {n} the most
            # characters a name may have.
            raise ValueError(_("{key} {value} must be letters, digits, '.', '_' or '-' (at most {n})").format(
                key="name", value=repr(value), n=80))
        return value

    @field_validator("currency", mode="plain")
    @classmethod
    def _check_currency(cls, value: Any) -> str:
        if not isinstance(value, str) or value.strip().upper() not in currencies.digits_table():
            # TRANSLATORS: {value} is the value found in the file, quoted.
            raise ValueError(_("unknown currency {value}").format(value=repr(value)))
        return value.strip().upper()

    @field_validator("decimals", mode="plain")
    @classmethod
    def _check_decimals(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= money.SCALE:
            # TRANSLATORS: {key} is the key "decimals" of a rate table: keep it; {value} the value found.
            raise ValueError(_("{key} {value} must be a whole number from {low} to {high}").format(
                key="decimals", value=repr(value), low=0, high=money.SCALE))
        return value

    @field_validator("billing", mode="before")
    @classmethod
    def _check_billing(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            # TRANSLATORS: {key} is the key "billing" of a rate table: keep it; {example} what it holds, as YAML
            # writes it.
            raise ValueError(_("{key} must be a mapping like {example}").format(
                key="billing", example="{minimum_seconds: 60, increment_seconds: 60}"))
        try:
            _known_keys(value, _Billing)
        except ValueError as exc:
            raise ValueError(f"billing: {exc}") from None
        return value

    @field_validator(*SECTIONS, mode="before")
    @classmethod
    def _check_section(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == Section.OUTBOUND and not value:
            # TRANSLATORS: {key} is the key "outbound" of a rate table: keep it.
            raise ValueError(_("{key} must list at least one entry").format(key=Section.OUTBOUND.value))
        if value is None:
            return []
        if not isinstance(value, list):
            # TRANSLATORS: {key} is a section of a rate table (outbound, tollfree, dialout): keep it.
            raise ValueError(_("{key} must be a list of entries").format(key=info.field_name))
        return value

    @model_validator(mode="after")
    def _one_entry_per_prefix(self) -> _Table:
        for section in SECTIONS:
            seen: dict[str, int] = {}
            for index, entry in enumerate(getattr(self, section)):
                if entry.prefix in seen:
                    where = f"{section}[{index}] (prefix {entry.prefix})"
                    # TRANSLATORS: {where} and {other} are places in a rate table (outbound[3] (prefix 44) and
                    # outbound[1]): keep them as they are.
                    raise ValueError(_("{where}: duplicate prefix (also {other})").format(
                        where=where, other=f"{section}[{seen[entry.prefix]}]"))
                seen[entry.prefix] = index
        return self


def _problem(exc: ValidationError, data: Any, label: str) -> str:
    """The first problem of ``exc`` as one line naming the file and the entry.

    An unknown key is reported before the other problems of its mapping (a misspelt key is
    also a missing one).
    """
    errors = exc.errors()
    first = errors[0]
    for candidate in errors:
        holder = candidate["loc"][:-1]
        if candidate["type"] == "extra_forbidden" and first["loc"][: len(holder)] == holder:
            first = candidate
            break
    loc = first["loc"]
    # the mapping or list that holds the problem: a key's holder, or the entry itself
    holder = loc if not loc or isinstance(loc[-1], int) else loc[:-1]
    key = str(loc[-1]) if loc else ""
    in_entry = len(holder) == 2
    if first["type"] == "missing":
        message = _missing(key if in_entry else repr(key))
    elif first["type"] == "extra_forbidden":
        model = _Entry if in_entry else _Billing if holder == ("billing",) else _Table
        message = _unknown_key(repr(key), model)
    else:
        error = first.get("ctx", {}).get("error")
        message = str(error) if error is not None else first["msg"]
    if not holder:
        return f"{label}: {message}"
    where = str(holder[0])
    if in_entry:
        section, index = holder
        where += f"[{index}]"
        try:
            where += f" (prefix {_prefix(data[section][index]['prefix'])})"
        except (LookupError, TypeError, ValueError):
            pass
    return f"{label}: {where}: {message}"


def parse_table(data: Any, label: str) -> ParsedTable:
    """Validate a parsed YAML document; one clear message for the first problem."""
    try:
        table = _Table.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_problem(exc, data, label)) from None
    default_min = table.billing.minimum_seconds
    default_inc = table.billing.increment_seconds
    rates = [
        Rate.make(
            section,
            entry.prefix,
            entry.name,
            entry.per_minute,
            entry.connection_fee,
            default_min if entry.minimum_seconds is None else entry.minimum_seconds,
            default_inc if entry.increment_seconds is None else entry.increment_seconds,
            table.decimals,
        )
        for section in SECTIONS
        for entry in getattr(table, section)
    ]
    return ParsedTable(name=table.name, currency=table.currency, decimals=table.decimals, rates=rates)


# --- the database ---------------------------------------------------------------------------


def load_file(session: Session, tenant: Tenant, path: Path) -> tuple[RateTable, int]:
    """Validate ``path`` and make it the tenant's active table (the previous one is kept, inactive)."""
    data, text = read_yaml(path)
    parsed = parse_table(data, str(path))
    if parsed.currency != tenant.currency:
        raise InvalidInput(
            # TRANSLATORS: {path} is the rate table's file; {currency} and {kept} ISO 4217 codes (USD); {tenant}
            # the tenant's short name.
            _("{path}: the table is in {currency} but tenant {tenant} keeps {kept}").format(
                path=path, currency=parsed.currency, tenant=tenant.slug, kept=tenant.currency)
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
        # TRANSLATORS: {tenant} is the tenant's short name; {advice} says what to run (a command).
        raise NotFound(_("no rate table is loaded for {tenant}; {advice}").format(
            tenant=tenant.slug, advice=load_advice(tenant.currency)))
    return table


_CURRENCY_LINE = re.compile(r"^currency:\s*[\"']?([A-Za-z]{3})[\"']?\s*(#.*)?$", re.MULTILINE)


def shipped_tables(currency: str) -> list[Path]:
    """The rate tables in ``currency`` beside the service data in use (``CREDITS_RATES_DIR``) and in the
    ``rates/`` folder that ships with credits."""
    from credits_cli import refdata

    candidates: list[Path] = []
    for where in (refdata.rates_dir, refdata.shipped_dir):
        try:
            folder = where()
            candidates += sorted(p for p in folder.glob("*.yaml") if p.name != "service.yaml" and p not in candidates)
        except (InvalidInput, OSError):
            continue
    found = []
    for path in candidates:
        try:
            with path.open(encoding="utf-8", errors="replace") as fh:
                head = fh.read(4096)
        except OSError:
            continue
        match = _CURRENCY_LINE.search(head)
        if match and match.group(1).upper() == currency:
            found.append(path)
    return found


def load_advice(currency: str) -> str:
    """What to run when no table is loaded: a shipped table in the tenant's currency, or that none ships."""
    tables = shipped_tables(currency)
    if tables:
        # TRANSLATORS: {command} is a command to type, kept as it is.
        return _("run: {command}").format(command=f"credits rates load {_shown(tables[0])}")
    # TRANSLATORS: {currency} is a currency code; the commands and file names stay as they are.
    return _("no table in {currency} ships with credits: load your contract's table with credits rates load "
             "FILE.yaml (rates/default-usd.yaml shows the format)").format(currency=currency)


def _shown(path: Path) -> str:
    """A path as the user can type it from here: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


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


def activate(session: Session, tenant: Tenant, wanted: str) -> tuple[RateTable | None, RateTable]:
    """Make an earlier loaded table of the tenant the active one again: ``wanted`` is its name (the
    latest loaded of that name) or its id as ``rates list`` shows it. Returns (the table active before, the
    table active now)."""
    text = wanted.strip()
    tables = [tbl for tbl, _count in list_tables(session, tenant)]
    if text.lstrip("#").isdigit():
        found = [tbl for tbl in tables if tbl.id == int(text.lstrip("#"))]
    else:
        found = [tbl for tbl in tables if tbl.name == text]
    if not found:
        known = ", ".join(dict.fromkeys(tbl.name for tbl in tables)) or _("none loaded yet")
        # TRANSLATORS: {name} is the name or id asked for; {known} lists the tenant's rate tables.
        raise NotFound(_("no rate table {name} in {tenant} (tables: {known})").format(
            name=repr(text), tenant=tenant.slug, known=known))
    chosen = found[-1]
    if chosen.currency != tenant.currency:
        raise InvalidInput(_("rate table {name} is in {currency} but tenant {tenant} keeps {kept}").format(
            name=chosen.name, currency=chosen.currency, tenant=tenant.slug, kept=tenant.currency))
    before = active_table(session, tenant)
    rt = RateTable.__table__  # type: ignore[attr-defined]
    session.execute(sa.update(rt).where(rt.c.tenant_id == tenant.id).values(active=False))
    session.execute(sa.update(rt).where(rt.c.id == chosen.id).values(active=True))
    session.expire_all()
    return before, chosen


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
        # TRANSLATORS: --kind is an option: keep it; {value} what was given, quoted; {known} the kinds
        # (outbound, tollfree, dialout): keep them.
        raise InvalidInput(_("--kind {value} must be one of {known}").format(
            value=repr(kind), known=", ".join(SECTIONS)))
    if seconds < 0 or seconds > 86400 * 7:
        # TRANSLATORS: --seconds is an option: keep it; {value} what was given; {low} and {high} are seconds
        # (0 and 604800, a week).
        raise InvalidInput(_("--seconds {value} must be between {low} and {high}").format(
            value=seconds, low=0, high=86400 * 7))
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
