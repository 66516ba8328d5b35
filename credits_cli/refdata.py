"""Service facts that live as data in ``rates/service.yaml``.

The ``rates/`` folder ships inside the package (``credits_cli/rates`` in a
wheel) and sits beside it in a source checkout; :func:`use_folder` (the command
line's ``CREDITS_RATES_DIR``) overrides both.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from credits_cli import money
from credits_cli.errors import InvalidInput

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
    here = Path(__file__).resolve().parent
    for candidate in (here / "rates", here.parent / "rates"):
        if (candidate / "service.yaml").is_file():
            return candidate
    raise InvalidInput("cannot find the rates/ folder with service.yaml (set CREDITS_RATES_DIR)")


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
            raise InvalidInput(f"no minimum purchase is known for {currency}; add it to rates/service.yaml") from None

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
        raise InvalidInput(f"unknown role {text!r}; roles: {', '.join(self.admin_roles)}")


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


def _groups(raw: Any) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for group in raw or []:
        head = str(group[0])
        for member in group:
            mapping[str(member)] = head
    return mapping


@cache
def service() -> ServiceData:
    import yaml

    path = rates_dir() / "service.yaml"
    try:
        # libyaml's safe loader when PyYAML has it (every command that rates or buys reads this file)
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from None
    plans = raw["calling_plans"]
    conf = raw["conferencing"]
    regions = {str(country): str(region) for region, countries in raw["regions"].items() for country in countries}
    return ServiceData(
        lot_validity_months=int(raw["lot_validity_months"]),
        minimum_purchase={
            str(cur): money.parse_decimal(val, what=f"minimum purchase {cur}")
            for cur, val in raw["minimum_purchase"].items()
        },
        region_of=regions,
        domestic_minutes_default=int(plans["domestic_minutes"]["default"]),
        domestic_minutes={str(k): int(v) for k, v in plans["domestic_minutes"].items() if k != "default"},
        international_minutes=int(plans["international_minutes"]),
        pool_country=_groups(plans.get("shared_domestic_pools")),
        domestic_group=_groups(plans.get("domestic_equivalents")),
        dialout_minutes_per_user=int(conf["dialout_minutes_per_user"]),
        dialout_alerts=tuple(int(x) for x in conf.get("dialout_alerts", [80, 100])),
        zone_a=frozenset(str(c) for c in conf["zone_a"]),
        admin_roles={str(k): str(v) for k, v in raw["admin_roles"].items()},
    )
