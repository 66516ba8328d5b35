"""Service facts that live as data in ``rates/service.yaml``.

The ``rates/`` folder ships inside the package (``credits_cli/rates`` in a
wheel) and sits beside it in a source checkout; :func:`use_folder` (the command
line's ``CREDITS_RATES_DIR``) overrides both.

The file is read by :mod:`credits_cli.strict_yaml` (YAML where versions 1.1
and 1.2 agree, no duplicate keys) and validated by a typed model
(``_ServiceFile``, pydantic): a missing key or a value of the wrong kind is
one message naming the file and the key, e.g.
``rates/service.yaml: calling_plans: missing key 'international_minutes'``,
never an internal error. It is read once per process (:func:`service`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator, model_validator

from credits_cli import currencies, money, strict_yaml
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _

_folder: Path | None = None


def use_folder(folder: Path | None) -> None:
    """Read the service data from ``folder`` from here on (None: the shipped ``rates/``)."""
    global _folder
    if folder != _folder:
        _folder = folder
        service.cache_clear()


def rates_dir() -> Path:
    if _folder is not None:
        return _folder
    return shipped_dir()


def shipped_dir() -> Path:
    """The ``rates/`` folder that ships with credits (whatever ``CREDITS_RATES_DIR`` says)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rates", here.parent / "rates"):
        if (candidate / "service.yaml").is_file():
            return candidate
    # TRANSLATORS: rates/, service.yaml and CREDITS_RATES_DIR are names of a folder, a file and a variable: keep them.
    raise InvalidInput(_("cannot find the rates/ folder with service.yaml (set CREDITS_RATES_DIR)"))


@dataclass(frozen=True)
class ServiceData:
    lot_validity_months: int
    minimum_purchase: dict[str, Decimal]
    region_of: dict[str, str]
    domestic_minutes_default: int
    domestic_minutes: dict[str, int]
    international_minutes: int
    pool_country: dict[str, str]
    domestic_group: dict[str, str]
    dialout_minutes_per_user: int
    dialout_alerts: tuple[int, ...]
    zone_a: frozenset[str]
    admin_roles: dict[str, str]

    def minimum(self, currency: str) -> Decimal:
        try:
            return self.minimum_purchase[currency]
        except KeyError:
            # TRANSLATORS: {currency} is an ISO 4217 code (USD); rates/service.yaml a file: keep it.
            raise InvalidInput(_("no minimum purchase is known for {currency}; add it to rates/service.yaml").format(
                currency=currency)) from None

    def region(self, country: str) -> str | None:
        return self.region_of.get(country)

    def domestic_minutes_for(self, country: str) -> int:
        return self.domestic_minutes.get(country, self.domestic_minutes_default)

    def domestic_pool_for(self, country: str) -> str:
        """The country whose pool a user of ``country`` draws from (PR users share US's)."""
        return self.pool_country.get(country, country)

    def same_domestic_area(self, a: str, b: str) -> bool:
        return self.domestic_group.get(a, a) == self.domestic_group.get(b, b)

    def role(self, text: str) -> str:
        """A role slug from a slug or the full role name; refuse anything else."""
        key = " ".join(text.split()).lower()
        for slug, title in self.admin_roles.items():
            if key == slug or key in _title_variants(title.lower()):
                return slug
        # TRANSLATORS: {role} is what was given, quoted; {roles} the short names of the roles (billing,
        # global): keep them.
        raise InvalidInput(_("unknown role {role}; roles: {roles}").format(
            role=repr(text), roles=", ".join(self.admin_roles)))


def _title_variants(title: str) -> set[str]:
    """'global (company) administrator' is also typed 'global administrator' or
    'company administrator'; 'device administrators' also in the singular."""
    variants = {title}
    head, sep, rest = title.partition(" (")
    if sep and ") " in rest:
        inner, _, tail = rest.partition(") ")
        variants |= {f"{head} {tail}", f"{inner} {tail}"}
    variants |= {v.removesuffix("s") for v in variants if v.endswith("administrators")}
    return variants


# --- reading service.yaml ----------------------------------------------------------------------
# The file's typed model. Validators raise ValueError with the message a user reads; its place
# (``calling_plans.international_minutes``) comes from the error's location, in :func:`_problem`.

#: service.yaml is a page of facts; a file larger than this is not one.
MAX_SERVICE_BYTES = 1024 * 1024
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


def _kind(value: Any) -> str:
    """What a value is, in the words of the file."""
    if value is None:
        # TRANSLATORS: what an empty value of a YAML file is, as in "must be text (found nothing)".
        return _("nothing")
    if isinstance(value, bool):
        # TRANSLATORS: {value} is true or false (YAML's words: keep them), as in "unquoted yes is the boolean true
        # in YAML 1.1".
        return _("the boolean {value}").format(value=str(value).lower())
    if isinstance(value, dict):
        # TRANSLATORS: what a value of a YAML file is (key: value pairs), as in "must be text (found a mapping)".
        return _("a mapping")
    if isinstance(value, list):
        # TRANSLATORS: what a value of a YAML file is, as in "must be text (found a list)".
        return _("a list")
    return repr(value)


def _whole(low: int, high: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            # TRANSLATORS: said of a value of rates/service.yaml; {found} is what it is ("a list", "nothing",
            # or the value itself).
            raise ValueError(_("must be a whole number (found {found})").format(found=_kind(value)))
        if value < low or (high is not None and value > high):
            if high is None:
                # TRANSLATORS: said of a value of rates/service.yaml; {value} is the value, {low} the least allowed.
                raise ValueError(_("{value} must be at least {low}").format(value=value, low=low))
            # TRANSLATORS: said of a value of rates/service.yaml; {value} is the value, {low} and {high} the least
            # and most allowed.
            raise ValueError(_("{value} must be from {low} to {high}").format(value=value, low=low, high=high))
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        # TRANSLATORS: said of a value of rates/service.yaml; {found} is what it is ("a list", "nothing", or the
        # value itself).
        raise ValueError(_("must be text (found {found})").format(found=_kind(value)))
    return value.strip()


def _country(value: Any) -> str:
    if not isinstance(value, str) or not _COUNTRY_RE.fullmatch(value):
        # TRANSLATORS: {found} is a value of rates/service.yaml ("a list", "nothing", or the value itself,
        # quoted); {example} is GB, an ISO 3166 code.
        raise ValueError(_("{found} is not a country code (two capital letters, e.g. {example})").format(
            found=_kind(value), example="GB"))
    return value


def _country_or_default(value: Any) -> str:
    return value if value == "default" else _country(value)


def _currency(value: Any) -> str:
    if not isinstance(value, str) or value not in currencies.digits_table():
        # TRANSLATORS: {value} is the value found in the file, quoted.
        raise ValueError(_("unknown currency {value}").format(value=_kind(value)))
    return value


def _amount(value: Any) -> Decimal:
    try:
        return money.parse_decimal(value, what=N_("amount"))
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


_Country = Annotated[str, PlainValidator(_country)]
_Minutes = Annotated[int, PlainValidator(_whole(0))]
_Text = Annotated[str, PlainValidator(_text)]
_Group = Annotated[list[_Country], Field(min_length=1)]


class _Model(BaseModel):
    # built on first use, in the one process that reads the file
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _mapping_of_known_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            # TRANSLATORS: said of a part of rates/service.yaml; {keys} are the keys it holds: keep them; {found}
            # what it is instead ("a list", "nothing", or the value itself).
            raise ValueError(_("must be a mapping of {keys} (found {found})").format(
                keys=", ".join(cls.model_fields), found=_kind(data)))
        for key in data:
            if not isinstance(key, str):
                raise ValueError(_unknown_key(repr(str(key)), cls))
        return data


class _CallingPlans(_Model):
    domestic_minutes: dict[Annotated[str, PlainValidator(_country_or_default)], _Minutes]
    international_minutes: _Minutes
    # plain defaults (pydantic copies them): a default_factory costs an inspect.signature at build
    shared_domestic_pools: list[_Group] = []
    domestic_equivalents: list[_Group] = []

    @field_validator("domestic_minutes")
    @classmethod
    def _has_default(cls, value: dict[str, int]) -> dict[str, int]:
        if "default" not in value:
            # TRANSLATORS: {key} is the key 'default' of rates/service.yaml: keep it.
            raise ValueError(_("missing key {key} (the minutes of every other country)").format(key=repr("default")))
        return value


class _Conferencing(_Model):
    dialout_minutes_per_user: _Minutes
    dialout_alerts: list[Annotated[int, PlainValidator(_whole(1, 100))]] = [80, 100]
    zone_a: list[_Country]


class _ServiceFile(_Model):
    """rates/service.yaml."""

    lot_validity_months: Annotated[int, PlainValidator(_whole(1))]
    minimum_purchase: dict[Annotated[str, PlainValidator(_currency)], Annotated[Decimal, PlainValidator(_amount)]]
    regions: dict[_Text, list[_Country]]
    calling_plans: _CallingPlans
    conferencing: _Conferencing
    admin_roles: dict[_Text, _Text]

    @field_validator("regions")
    @classmethod
    def _one_region_per_country(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for region, countries in value.items():
            for country in countries:
                if country in seen:
                    # TRANSLATORS: {country} is an ISO country code (GB); {region} and {other} names of regions as
                    # rates/service.yaml gives them (Europe).
                    raise ValueError(_("{country} is in both {region} and {other}").format(
                        country=country, region=seen[country], other=region))
                seen[country] = region
        return value


def _place(loc: tuple[int | str, ...]) -> str:
    """('regions', 'Europe', 3) -> regions.Europe[3]"""
    place = ""
    for part in loc:
        place += f"[{part}]" if isinstance(part, int) else f".{part}" if place else str(part)
    return place


def _problem(exc: ValidationError, label: str) -> str:
    """The first problem of ``exc`` as one line naming the file and the key.

    An unknown key is reported before the other problems of its mapping (a misspelt key is
    also a missing one).
    """
    errors = exc.errors()
    error = errors[0]
    for candidate in errors:
        holder = candidate["loc"][:-1]
        if candidate["type"] == "extra_forbidden" and error["loc"][: len(holder)] == holder:
            error = candidate
            break
    loc, kind = error["loc"], error["type"]
    if loc and loc[-1] == "[key]":  # a mapping's key: the problem is the mapping's
        loc = loc[:-2]
    if kind == "missing":
        # TRANSLATORS: {key} is a key of rates/service.yaml, quoted: keep it.
        loc, message = loc[:-1], _("missing key {key}").format(key=repr(loc[-1]))
    elif kind == "extra_forbidden":
        model: type[BaseModel] = _ServiceFile
        for part in loc[:-1]:
            annotation = model.model_fields[str(part)].annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
        loc, message = loc[:-1], _unknown_key(repr(loc[-1]), model)
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error"))
    elif kind == "too_short":
        # TRANSLATORS: said of a list of rates/service.yaml.
        message = _("must not be empty")
    elif kind == "dict_type":
        # TRANSLATORS: said of a value of rates/service.yaml; {found} is what it is instead ("a list", "nothing",
        # or the value itself).
        message = _("must be a mapping (found {found})").format(found=_kind(error["input"]))
    elif kind == "list_type":
        # TRANSLATORS: said of a value of rates/service.yaml; {found} is what it is instead ("a mapping",
        # "nothing", or the value itself).
        message = _("must be a list (found {found})").format(found=_kind(error["input"]))
    else:
        message = error["msg"]  # pydantic's own words, in English
    place = _place(loc)
    return f"{label}: {place}: {message}" if place else f"{label}: {message}"


def _unknown_key(key: str, model: type[BaseModel]) -> str:
    # TRANSLATORS: {key} is a key found in the file, quoted; {known} the keys allowed there: keep them.
    return _("unknown key {key} (known: {known})").format(key=key, known=", ".join(sorted(model.model_fields)))


def _groups(groups: list[list[str]]) -> dict[str, str]:
    """Each member of each group -> the group's first member."""
    return {member: group[0] for group in groups for member in group}


def read_service(path: Path) -> ServiceData:
    """Read and validate a service data file; one message naming the file and the key at fault."""
    # TRANSLATORS: a kind of file (rates/service.yaml), named in "{label}: not a valid {what}: ..." and "... is too
    # large for a {what} ...".
    raw, _source = strict_yaml.read(path, what=N_("service data file"), max_bytes=MAX_SERVICE_BYTES)
    try:
        facts = _ServiceFile.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_problem(exc, str(path))) from None
    plans, conf = facts.calling_plans, facts.conferencing
    return ServiceData(
        lot_validity_months=facts.lot_validity_months,
        minimum_purchase=dict(facts.minimum_purchase),
        region_of={country: region for region, countries in facts.regions.items() for country in countries},
        domestic_minutes_default=plans.domestic_minutes["default"],
        domestic_minutes={k: v for k, v in plans.domestic_minutes.items() if k != "default"},
        international_minutes=plans.international_minutes,
        pool_country=_groups(plans.shared_domestic_pools),
        domestic_group=_groups(plans.domestic_equivalents),
        dialout_minutes_per_user=conf.dialout_minutes_per_user,
        dialout_alerts=tuple(conf.dialout_alerts),
        zone_a=frozenset(conf.zone_a),
        admin_roles=dict(facts.admin_roles),
    )


@cache
def service(folder: Path | None = None) -> ServiceData:
    """The service facts of ``folder``/service.yaml (by default the :func:`rates_dir`), read once:
    every command that buys or rates asks for them."""
    return read_service((folder or rates_dir()) / "service.yaml")
