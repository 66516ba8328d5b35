"""Generate a realistic Teams PSTN usage export (Calling Plans CSV) of any size.

    python bench/generate.py --calls 1000000 --seed 7 --month 2026-10 \
        --out bench/data/calls.csv --users-out bench/data/users.csv

The same seed gives the same bytes. Rows are written as they are generated
(memory stays flat for millions of rows), in start-time order with the small
local disorder a real export has, and a small share of duplicated UsageIds.

Column list and order: DOMAIN.md, "The PSTN usage export". The priced number
is in both ``Caller ID`` and ``Destination Number``: the number dialed on an
outbound call, the tenant's number that received an inbound one.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import math
import random
import sys
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

COLUMNS = [
    "UsageId",
    "Call ID",
    "Conference ID",
    "User Location",
    "AAD ObjectId",
    "UPN",
    "User Display Name",
    "Caller ID",
    "Call Type",
    "Number Type",
    "Domestic/International",
    "Destination Dialed",
    "Destination Number",
    "Start Time",
    "End Time",
    "Duration Seconds",
    "Connection Fee",
    "Charge",
    "Currency",
    "Capability",
]

CALL_TYPES = [
    "user_in",
    "user_out",
    "user_out_conf",
    "user_out_transfer",
    "user_out_forwarding",
    "conf_in",
    "conf_out",
    "unassigned_in",
    "ucap_in",
    "ucap_out",
]

# Share of rows per call type (percent).
CALL_TYPE_SHARE = {
    "user_out": 40.0,
    "user_in": 25.0,
    "conf_in": 10.0,
    "ucap_in": 10.0,
    "conf_out": 5.0,
    "user_out_forwarding": 3.0,
    "user_out_conf": 2.0,
    "user_out_transfer": 2.0,
    "ucap_out": 2.0,
    "unassigned_in": 1.0,
}

PLANS = {"domestic": 45, "domestic-international": 20, "payg": 20, "none": 15}
PLAN_CAPABILITY = {
    "domestic": "MCOPSTN1", "domestic-international": "MCOPSTN2", "payg": "MCOPSTNPP", "none": "MCOPSTNPP"
}

DOMAIN_NAME = "contoso.com"
TABLE_BITS = 16  # weighted choices go through lookup tables of 2**16 slots
MMSS = [f"{s // 60:02d}:{s % 60:02d}" for s in range(3600)]


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    cc: str  # E.164 country calling code
    share: float  # share of users (user countries only)
    landline: tuple[tuple[str, int], ...]  # (national prefix, digits after it)
    mobile: tuple[tuple[str, int], ...]


# Real numbering-plan prefixes: geographic area codes and mobile leading digits.
COUNTRIES = [
    Country("US", "United States", "1", 38, (("212", 7), ("415", 7), ("312", 7), ("206", 7), ("617", 7),
            ("713", 7), ("305", 7), ("404", 7), ("303", 7), ("214", 7), ("425", 7), ("512", 7)), ()),
    Country("GB", "United Kingdom", "44", 10, (("20", 8), ("161", 7), ("121", 7), ("131", 7), ("117", 7)),
            (("74", 8), ("75", 8), ("77", 8), ("78", 8), ("79", 8))),
    Country("DE", "Germany", "49", 8, (("30", 8), ("89", 8), ("40", 8), ("69", 8), ("221", 7)),
            (("151", 8), ("152", 8), ("157", 8), ("160", 7), ("162", 7), ("170", 7), ("171", 7), ("172", 7),
             ("175", 7), ("176", 8), ("177", 8), ("179", 7))),
    Country("FR", "France", "33", 6, (("1", 8), ("4", 8), ("3", 8), ("5", 8)), (("6", 8), ("7", 8))),
    Country("CA", "Canada", "1", 5, (("416", 7), ("604", 7), ("514", 7), ("403", 7), ("613", 7)), ()),
    Country("IN", "India", "91", 6, (("22", 8), ("11", 8), ("80", 8), ("44", 8)),
            (("98", 8), ("99", 8), ("97", 8), ("96", 8), ("70", 8), ("88", 8), ("63", 8))),
    Country("AU", "Australia", "61", 4, (("2", 8), ("3", 8), ("7", 8), ("8", 8)), (("4", 8),)),
    Country("JP", "Japan", "81", 4, (("3", 8), ("6", 8), ("45", 7)), (("90", 8), ("80", 8), ("70", 8))),
    Country("NL", "Netherlands", "31", 3, (("20", 7), ("10", 7), ("30", 7)), (("6", 8),)),
    Country("ES", "Spain", "34", 3, (("91", 7), ("93", 7), ("96", 7)), (("6", 8), ("71", 7), ("72", 7))),
    Country("IT", "Italy", "39", 3, (("06", 8), ("02", 8), ("011", 7)), (("32", 8), ("33", 8), ("34", 8), ("39", 8))),
    Country("BR", "Brazil", "55", 3, (("112", 7), ("213", 7), ("313", 7)), (("119", 8), ("219", 8), ("319", 8))),
    Country("MX", "Mexico", "52", 3, (("55", 8), ("33", 8), ("81", 8)), (("55", 8), ("33", 8))),
    Country("SG", "Singapore", "65", 2, (("6", 7),), (("8", 7), ("9", 7))),
    Country("ZA", "South Africa", "27", 2, (("11", 7), ("21", 7), ("31", 7)), (("82", 7), ("83", 7), ("72", 7),
            ("71", 7), ("60", 7))),
    # Destinations only (no users here): international calls go there too.
    Country("CH", "Switzerland", "41", 0, (("44", 7), ("22", 7)), (("79", 7), ("78", 7))),
    Country("BE", "Belgium", "32", 0, (("2", 7),), (("47", 7), ("49", 7))),
    Country("SE", "Sweden", "46", 0, (("8", 7),), (("70", 7), ("73", 7))),
    Country("PL", "Poland", "48", 0, (("22", 7),), (("50", 7), ("60", 7))),
    Country("IE", "Ireland", "353", 0, (("1", 7),), (("85", 7), ("87", 7))),
    Country("CN", "China", "86", 0, (("10", 8), ("21", 8)), (("138", 8), ("139", 8))),
    Country("PH", "Philippines", "63", 0, (("2", 8),), (("917", 7),)),
    Country("AE", "United Arab Emirates", "971", 0, (("4", 7),), (("50", 7),)),
    Country("KR", "Korea", "82", 0, (("2", 8),), (("10", 8),)),
    Country("NZ", "New Zealand", "64", 0, (("9", 7),), (("21", 7),)),
]
BY_CODE = {c.code: c for c in COUNTRIES}
USER_COUNTRIES = [c for c in COUNTRIES if c.share > 0]

# The tenant's toll-free numbers (conference bridges, auto attendants, call queues).
TOLL_FREE = [
    ("US", "+1800", 7), ("US", "+1833", 7), ("US", "+1844", 7), ("US", "+1855", 7), ("US", "+1866", 7),
    ("US", "+1877", 7), ("US", "+1888", 7), ("GB", "+44800", 7), ("GB", "+44808", 7), ("DE", "+49800", 7),
    ("FR", "+33805", 6), ("AU", "+611800", 6), ("JP", "+81120", 6), ("IN", "+911800", 7),
]
# Outbound calls to other organisations' toll-free and premium numbers, and satellite networks: rare.
ODD_DESTINATIONS = [("US", "+1800", 7), ("US", "+1877", 7), ("GB", "+44800", 7), ("GB", "+449", 9),
                    ("XS", "+8816", 8), ("XS", "+870", 9)]

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
         "Oliver", "Amelia", "Harry", "Isla", "Lukas", "Mia", "Léa", "Hugo", "Chloé", "Louis", "Aarav", "Priya",
         "Rohan", "Ananya", "Yuki", "Haruto", "Sakura", "Ren", "Daan", "Emma", "Sofía", "Pablo", "Lucía", "Mateo",
         "Giulia", "Francesco", "João", "Ana", "Camila", "Diego", "Wei", "Mei", "Thabo", "Naledi", "Noah", "Zoë",
         "Jürgen", "Björn", "Siobhán", "Kenji"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor",
        "Anderson", "Thomas", "Moore", "Martin", "Jackson", "Lee", "Walker", "Hall", "Young", "King", "Müller",
        "Schmidt", "Schneider", "Fischer", "Dubois", "Lefèvre", "Moreau", "Patel", "Sharma", "Iyer", "Gupta",
        "Sato", "Suzuki", "Takahashi", "de Vries", "van Dijk", "García", "Fernández", "López", "Rossi", "Russo",
        "Bianchi", "Silva", "Santos", "Oliveira", "Hernández", "Martínez", "Tan", "Lim", "Ng", "Nkosi", "Dlamini",
        "O'Brien", "Kowalski", "Novak", "Wright", "Clarke", "Murphy", "Kelly", "Chen"]


assert not any(ch in name for name in FIRST + LAST for ch in ',"\r\n'), "names must need no CSV quoting"


@dataclass
class User:
    upn: str
    name: str
    country: str
    plan: str
    conferencing: bool
    licensed: bool
    object_id: str
    did: str
    activity: float


def user_count(calls: int) -> int:
    return min(5000, max(200, calls // 300))


def weighted_table(rng: random.Random, items: Sequence[Any], weights: Sequence[float]) -> list[Any]:
    """A table of 2**TABLE_BITS slots filled in proportion to weights: table[getrandbits(16)] picks."""
    size = 1 << TABLE_BITS
    total = float(sum(weights))
    table: list[Any] = []
    acc = 0.0
    for item, w in zip(items, weights, strict=True):
        acc += w
        upto = round(acc / total * size)
        table.extend([item] * (upto - len(table)))
    table.extend([items[-1]] * (size - len(table)))
    return table


def guid(rng: random.Random) -> str:
    """UUID text (8-4-4-4-12 hex digits) from 128 seeded random bits: the same seed, the same ids."""
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def pick(rng: random.Random, items: Sequence[Any]) -> Any:
    """A uniform pick, cheaper than rng.choice (the bias of 40 bits modulo a small length is negligible)."""
    return items[rng.getrandbits(40) % len(items)]


def ascii_name(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower().replace(" ", "").replace("'", "")


def national(rng: random.Random, prefixes: tuple[tuple[str, int], ...]) -> str:
    prefix, digits = pick(rng, prefixes)
    return f"{prefix}{rng.getrandbits(40) % 10**digits:0{digits}d}"


def make_users(rng: random.Random, n: int) -> list[User]:
    country_table = weighted_table(rng, [c.code for c in USER_COUNTRIES], [c.share for c in USER_COUNTRIES])
    plan_table = weighted_table(rng, list(PLANS), list(PLANS.values()))
    users: list[User] = []
    seen: set[str] = set()
    for i in range(n):
        first, last = pick(rng, FIRST), pick(rng, LAST)
        base = f"{ascii_name(first)}.{ascii_name(last)}"
        upn = f"{base}@{DOMAIN_NAME}"
        k = 2
        while upn in seen:
            upn = f"{base}{k}@{DOMAIN_NAME}"
            k += 1
        seen.add(upn)
        country = country_table[rng.getrandbits(TABLE_BITS)]
        c = BY_CODE[country]
        plan = plan_table[rng.getrandbits(TABLE_BITS)]
        activity = rng.lognormvariate(0.0, 1.0) * (0.3 if plan == "none" else 1.0)
        users.append(
            User(
                upn=upn,
                name=f"{first} {last}",
                country=country,
                plan=plan,
                conferencing=rng.random() < 0.35,
                licensed=rng.random() < 0.95 or i == 0,
                object_id=guid(rng),
                did=f"+{c.cc}{national(rng, c.landline)}",
                activity=activity,
            )
        )
    return users


def write_users(users: list[User], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["upn", "name", "country", "plan", "conferencing", "licensed"])
        for u in users:
            w.writerow([u.upn, u.name, u.country, u.plan, "true" if u.conferencing else "false",
                        "true" if u.licensed else "false"])


def hour_weights(year: int, month: int) -> list[float]:
    """Traffic per UTC hour of the month: business hours (EMEA morning to US afternoon), quiet weekends."""
    days = calendar.monthrange(year, month)[1]
    out = []
    for day in range(1, days + 1):
        weekday = calendar.weekday(year, month, day)
        day_w = 0.12 if weekday >= 5 else 1.0
        for hour in range(24):
            hw = 0.04 + 0.6 * math.exp(-(((hour - 10) / 3.0) ** 2)) + math.exp(-(((hour - 16) / 3.5) ** 2))
            out.append(day_w * hw)
    return out


#: ``--variety``: rows the rating rules treat apart, as a share of all rows (percent), drawn instead of
#: an ordinary row. Carrier rows (Operator Connect, Direct Routing), calls Microsoft left unpriced,
#: emergency and short numbers, bots with a resource account's UPN, users the tenant does not know,
#: calls of 0 seconds, another currency, and rows that cannot be read (a rejected row each).
ODD_SHARE = {
    "oc_user_out": 0.6, "oc_user_in": 0.4, "Dr_In": 0.3, "dr_out": 0.3, "freecall": 0.5, "emergency": 0.3,
    "short": 0.3, "bot_account": 0.5, "no_data": 0.3, "stranger": 0.4, "zero": 0.3, "currency": 0.3,
    "bad_time": 0.15, "bad_type": 0.15, "bad_duration": 0.15, "few_fields": 0.1,
}
ODD_PERCENT = sum(ODD_SHARE.values())
EMERGENCY = {"US": "911", "CA": "911", "GB": "999", "IN": "112", "AU": "000", "JP": "110"}


class Generator:
    def __init__(self, calls: int, seed: int, month: str, variety: bool = False) -> None:
        self.calls = calls
        self.variety = variety
        self.rng = rng = random.Random(seed)
        year, mon = (int(x) for x in month.split("-"))
        self.year, self.mon = year, mon
        self.t0 = datetime(year, mon, 1)
        self.users = make_users(rng, user_count(calls))
        users = self.users
        if variety:  # the same users (seed and size) in every month, but calls of the month's own
            rng.seed(f"{seed}:{month}")
        self.type_table = weighted_table(rng, list(CALL_TYPE_SHARE), list(CALL_TYPE_SHARE.values()))
        self.caller_table = weighted_table(rng, users, [u.activity for u in users])
        organisers = [u for u in users if u.conferencing] or users
        others = [u for u in users if not u.conferencing] or users
        # Most meetings are organised by conferencing-licensed users.
        self.organiser_table = weighted_table(
            rng, organisers + others,
            [u.activity * 9 / len(organisers) for u in organisers] + [u.activity / len(others) for u in others],
        )
        self.intl_table = weighted_table(rng, COUNTRIES, [c.share or 1.5 for c in COUNTRIES])
        # The tenant's own numbers: toll-free, and geographic service numbers (bridges, auto attendants).
        self.toll_free = [(c, f"{p}{rng.getrandbits(40) % 10**d:0{d}d}") for c, p, d in TOLL_FREE]
        # Standard normal deviates, drawn once: durations pick from them.
        self.normals = [rng.gauss(0.0, 1.0) for _ in range(1 << TABLE_BITS)]
        self.service = [(c.code, f"+{c.cc}{national(rng, c.landline)}") for c in USER_COUNTRIES for _ in range(2)]
        self.unassigned = [(c.code, f"+{c.cc}{national(rng, c.landline)}") for c in USER_COUNTRIES]
        self.conferences = [f"{rng.getrandbits(32):010d}" for _ in range(max(50, len(users) // 2))]
        self._hour_prefix: dict[int, str] = {}
        # Call IDs name the signalling address that handled the call: a few dozen of them.
        self.signalling = [
            f"52.{rng.randrange(112, 128)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(64)
        ]
        if variety:  # drawn after everything else, so the ordinary rows of a seed do not change
            self.odd_table = weighted_table(rng, list(ODD_SHARE), list(ODD_SHARE.values()))

    # --- pieces ---------------------------------------------------------------------------

    def stamp(self, second: int, frac: int) -> str:
        hour = second // 3600
        prefix = self._hour_prefix.get(hour)
        if prefix is None:
            prefix = (self.t0 + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:")
            self._hour_prefix[hour] = prefix
        return f"{prefix}{MMSS[second % 3600]}.{frac:07d}Z"

    def duration(self, median: float, sigma: float = 1.0, cap: int = 4 * 3600) -> int:
        d = int(median * math.exp(sigma * self.normals[self.rng.getrandbits(TABLE_BITS)]))
        return 1 if d < 1 else cap if d > cap else d

    def dialed(self, home: str, international: float) -> tuple[str, str, bool]:
        """A number dialed from `home`: (E.164 text, country code, domestic?)."""
        rng = self.rng
        r = rng.random()
        if r < 0.004:
            country, prefix, digits = pick(rng, ODD_DESTINATIONS)
            return f"{prefix}{rng.getrandbits(40) % 10**digits:0{digits}d}", country, country == home
        c = BY_CODE[home] if r >= international else self.intl_table[rng.getrandbits(TABLE_BITS)]
        mobile = c.mobile and rng.random() < 0.35
        number = f"+{c.cc}{national(rng, c.mobile if mobile else c.landline)}"
        if rng.random() < 0.002:  # masked in the export, like +4420794601***
            number = number[:-3] + "***"
        domestic = c.code == home or (c.cc == "1" and BY_CODE[home].cc == "1")
        return number, c.code, domestic

    def call_id(self) -> str:
        rng = self.rng
        b = rng.getrandbits(64)
        return f"{b & 0x7FFFFFFF}_{(b >> 31) & 0x7FFFFFF}@{self.signalling[b >> 58]}"

    # --- rows -----------------------------------------------------------------------------

    def row(self, start: int, frac: int) -> str:
        """One CSV line. No field can hold a comma, a quote or a line break, so none needs quoting."""
        rng = self.rng
        kind = self.type_table[rng.getrandbits(TABLE_BITS)]
        conference = ""
        user: User | None = None
        capability = "MCOPSTNPP"
        number_type = "Subscriber"
        location = ""  # a bot's row: the country of its service number
        if kind == "user_in":
            user = self.caller_table[rng.getrandbits(TABLE_BITS)]
            number, country, domestic = user.did, user.country, True
            seconds = self.duration(150)
            capability = PLAN_CAPABILITY[user.plan]
        elif kind.startswith("user_out"):
            user = self.caller_table[rng.getrandbits(TABLE_BITS)]
            intl = 0.25 if user.plan in ("domestic-international", "payg") else 0.08
            number, country, domestic = self.dialed(user.country, intl)
            seconds = self.duration(180)
            capability = PLAN_CAPABILITY[user.plan]
            if user.plan == "domestic" and not domestic:
                capability = "MCOPSTNPP"
            if kind == "user_out_conf":
                conference = pick(rng, self.conferences)
        elif kind == "conf_out":
            user = self.organiser_table[rng.getrandbits(TABLE_BITS)]
            number, country, domestic = self.dialed(user.country, 0.15)
            seconds = self.duration(900, 0.9)
            conference = pick(rng, self.conferences)
            capability = "MCOMEETADD" if user.conferencing else "MCOMEETACPEA"
        elif kind == "conf_in":
            user = self.organiser_table[rng.getrandbits(TABLE_BITS)]
            conference = pick(rng, self.conferences)
            seconds = self.duration(1500, 0.8)
            capability = "MCOMEETADD" if user.conferencing else "MCOMEETACPEA"
            if rng.random() < 0.4:
                country, number = pick(rng, self.toll_free)
                number_type = "TollFree"
                capability = "MCOPSTNPP"
            else:
                country, number = pick(rng, self.service)
                number_type = "Service"
            domestic = True
        elif kind == "ucap_in":
            seconds = self.duration(120)
            if rng.random() < 0.5:
                country, number = pick(rng, self.toll_free)
                number_type = "TollFree"
            else:
                country, number = pick(rng, self.service)
                number_type = "Service"
            domestic = True
        elif kind == "ucap_out":
            location, _ = pick(rng, self.service)
            number, country, domestic = self.dialed(location, 0.1)
            seconds = self.duration(200)
            number_type = "Service"
        else:  # unassigned_in
            country, number = pick(rng, self.unassigned)
            seconds = self.duration(20, 0.7, cap=600)
            domestic = True
        end = start + seconds
        c = BY_CODE.get(country)
        charge = "0.00"
        if self.variety and seconds and (
            (kind.startswith("user_out") and capability == "MCOPSTNPP")
            or (kind == "conf_out" and (capability == "MCOMEETACPEA" or not domestic))
            or number_type == "TollFree"
        ):  # what Microsoft would have charged: 2 cents a started minute (--charges export debits it)
            charge = f"{-(-seconds // 60) * 2 // 100}.{-(-seconds // 60) * 2 % 100:02d}"
        return ",".join((
            guid(rng),
            self.call_id(),
            conference,
            user.country if user else location or country,
            user.object_id if user else "",
            user.upn if user else "",
            user.name if user else "",
            number,
            kind,
            number_type,
            "Domestic" if domestic else "International",
            c.name if c else "International Networks",
            number,
            self.stamp(start, frac),
            self.stamp(end, frac),
            str(seconds),
            "0.00",
            charge,
            "USD",
            capability,
        )) + "\r\n"

    def odd_row(self, start: int, frac: int) -> str:
        """One of the rows of :data:`ODD_SHARE` (``--variety``)."""
        rng = self.rng
        odd = self.odd_table[rng.getrandbits(TABLE_BITS)]
        user = self.caller_table[rng.getrandbits(TABLE_BITS)]
        number, country, domestic = self.dialed(user.country, 0.1)
        seconds = self.duration(180)
        kind, capability, upn, location, fee, charge, currency = "user_out", "MCOPSTNPP", user.upn, user.country, \
            "0.00", "0.00", "USD"
        begin, end = self.stamp(start, frac), self.stamp(start + seconds, frac)
        if odd in ("oc_user_out", "Dr_In", "dr_out"):
            kind = odd
        elif odd == "oc_user_in":
            kind, number = odd, user.did
        elif odd == "freecall":
            capability = "FREECALL"
        elif odd == "emergency":
            number = EMERGENCY.get(user.country, "112")
        elif odd == "short":
            number = f"+{rng.getrandbits(20) % 9000 + 1000}"
        elif odd == "bot_account":
            kind, capability = pick(rng, ("ucap_out", "ucap_in")), "MCOEV_VIRTUALUSER"
            upn = f"aa-{rng.getrandbits(8)}@{DOMAIN_NAME}"
            if kind == "ucap_in":
                _, number = pick(rng, self.toll_free)
        elif odd == "no_data":
            kind, upn = "ucap_out", "No data"
        elif odd == "stranger":
            upn = f"stranger{rng.getrandbits(8)}@fabrikam.com"
        elif odd == "zero":
            seconds, end = 0, begin
        elif odd == "currency":
            currency, charge, fee = "EUR", "0.10", "0.01"
        elif odd == "bad_time":
            begin = "yesterday"
        elif odd == "bad_type":
            kind = "user_sideways"
        elif odd == "bad_duration":
            seconds = -5
        fields = [guid(rng), self.call_id(), "", location, user.object_id, upn, user.name, number, kind,
                  "Subscriber", "Domestic" if domestic else "International", BY_CODE[country].name
                  if country in BY_CODE else "International Networks", number, begin, end, str(seconds), fee,
                  charge, currency, capability]
        if odd == "few_fields":
            fields = fields[:12]
        return ",".join(fields) + "\r\n"

    def rows(self):
        """Rows in start-time order, hour by hour, with a little local disorder and ~0.1% duplicates."""
        rng = self.rng
        weights = hour_weights(self.year, self.mon)
        total = sum(weights)
        emitted = 0
        acc = 0.0
        recent: deque[str] = deque(maxlen=16)
        for hour, w in enumerate(weights):
            acc += w
            upto = self.calls if hour == len(weights) - 1 else round(acc / total * self.calls)
            k = upto - emitted
            if k <= 0:
                continue
            base = hour * 3600
            # Start times in 1e-7 s ticks (the export's seven fractional digits), sorted.
            ticks = sorted([rng.getrandbits(48) % 36_000_000_000 for _ in range(k)])
            batch: list[str] = []
            for t in ticks:
                if recent and rng.random() < 0.001:
                    batch.append(pick(rng, recent))  # a recent row exported twice
                    continue
                if self.variety and rng.random() * 100 < ODD_PERCENT:
                    line = self.odd_row(base + t // 10_000_000, t % 10_000_000)
                else:
                    line = self.row(base + t // 10_000_000, t % 10_000_000)
                batch.append(line)
                recent.append(line)
            # Real exports are mostly, not strictly, ordered: swap a few neighbours.
            for _ in range(len(batch) // 100):
                i = rng.getrandbits(32) % (len(batch) - 1)
                batch[i], batch[i + 1] = batch[i + 1], batch[i]
            yield from batch
            emitted = upto


def generate(calls: int, seed: int, month: str, out: Path, users_out: Path | None,
             progress: Callable[[int], None] | None = None, variety: bool = False) -> int:
    """Write the calls CSV (and the users CSV); return the number of data rows written. ``variety``:
    mix in the rows of :data:`ODD_SHARE` and Microsoft's charges (the default file is unchanged)."""
    if calls < 0:
        raise ValueError("--calls must be zero or more")
    gen = Generator(calls, seed, month, variety)
    if users_out is not None:
        write_users(gen.users, users_out)
    n = 0
    with out.open("w", newline="", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\r\n")
        buf: list[str] = []
        for line in gen.rows():
            buf.append(line)
            if len(buf) >= 5000:
                f.write("".join(buf))
                n += len(buf)
                buf.clear()
                if progress:
                    progress(n)
        f.write("".join(buf))
        n += len(buf)
    return n


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, required=True, help="number of data rows")
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    p.add_argument("--month", default="2026-10", help="YYYY-MM the calls fall in")
    p.add_argument("--out", type=Path, required=True, help="calls CSV to write")
    p.add_argument("--users-out", type=Path, help="users CSV to write (upn,name,country,plan,conferencing,licensed)")
    p.add_argument("--variety", action="store_true",
                   help="mix in every kind of row the rules treat apart (carrier, FREECALL, emergency, short "
                        "numbers, bots, unknown users, another currency, unreadable rows) and Microsoft's charges")
    a = p.parse_args(argv)
    try:
        datetime.strptime(a.month, "%Y-%m")
    except ValueError:
        p.error(f"--month {a.month!r} is not YYYY-MM")
    if a.calls < 0:
        p.error("--calls must be zero or more")
    t = time.perf_counter()
    try:
        n = generate(a.calls, a.seed, a.month, a.out, a.users_out, variety=a.variety)
    except OSError as exc:
        print(f"error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    dt = time.perf_counter() - t
    print(f"{a.out}: {n} calls, {user_count(a.calls)} users in {dt:.1f} s ({n / dt if dt else 0:,.0f} rows/s)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
