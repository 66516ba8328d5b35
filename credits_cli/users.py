"""Users, their calling plans, and the Communications Credits license."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import Session, col, select

from credits_cli import clock
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.kinds import Plan
from credits_cli.models import Tenant, User
from credits_cli.tenants import check_country

PLANS = tuple(Plan)
_PLAN_ALIASES = {
    "": Plan.NONE,
    **{plan.value: plan for plan in Plan},
    "domestic+international": Plan.DOMESTIC_INTERNATIONAL,
    "international": Plan.DOMESTIC_INTERNATIONAL,
    "pay-as-you-go": Plan.PAYG,
}
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}
IMPORT_COLUMNS = ("upn", "name", "country", "plan", "conferencing", "licensed")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FIELD_CHARS = 4096  # no UPN, name or country comes near this


def check_upn(text: str) -> str:
    value = text.strip().lower()
    if not value or len(value) > 254 or any(c.isspace() for c in value) or "@" not in value:
        raise InvalidInput(f"{text!r} is not a user principal name such as ada@contoso.com")
    return value


def check_plan(text: str) -> str:
    plan = _PLAN_ALIASES.get(text.strip().lower())
    if plan is None:
        raise InvalidInput(f"unknown calling plan {text!r}; plans: {', '.join(PLANS)}")
    return plan


def parse_bool(text: str, *, what: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(f"{what} {text!r} is not true/false, yes/no or 1/0")


def get_user(session: Session, tenant: Tenant, upn: str) -> User | None:
    return session.exec(select(User).where(User.tenant_id == tenant.id, User.upn == upn.strip().lower())).first()


def upsert_user(
    session: Session,
    tenant: Tenant,
    upn: str,
    *,
    country: str,
    plan: str | None = None,
    conferencing: bool | None = None,
    name: str | None = None,
    licensed: bool | None = None,
) -> tuple[User, bool]:
    """Add a user or update the fields given. Returns (user, created)."""
    key = check_upn(upn)
    country_code = check_country(country)
    now = clock.now()
    user = get_user(session, tenant, key)
    created = user is None
    if user is None:
        user = User(tenant_id=tenant.id or 0, upn=key, country=country_code, created_at=now, updated_at=now)
    user.country = country_code
    if plan is not None:
        user.plan = check_plan(plan)
    if conferencing is not None:
        user.conferencing = conferencing
    if name is not None:
        user.name = name.strip()
    if licensed is not None and licensed != user.licensed:
        user.licensed = licensed
        user.licensed_at = now if licensed else None
    user.updated_at = now
    session.add(user)
    session.flush()
    return user, created


def list_users(session: Session, tenant: Tenant) -> list[User]:
    return list(session.exec(select(User).where(User.tenant_id == tenant.id).order_by(col(User.upn))).all())


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def read_text_file(path: Path, *, what: str = "file") -> str:
    """A small text file (users, UPN lists) as UTF-8, with or without BOM."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InvalidInput(f"{path}: {what} is too large ({size:,} bytes)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from None
    if b"\x00" in data:
        raise InvalidInput(f"{path}: not a text file (NUL bytes; UTF-16 is not supported, save as UTF-8)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text (byte {exc.start})") from None


def import_users(session: Session, tenant: Tenant, path: Path) -> ImportResult:
    """Add or update users from CSV. All rows are checked first; any bad row
    refuses the whole file (each bad row named), so nothing is half-imported."""
    text = read_text_file(path, what="users file")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not header:
        raise InvalidInput(f"{path}: empty file; expected columns {','.join(IMPORT_COLUMNS)}")
    missing = [c for c in ("upn", "country") if c not in header]
    if missing:
        raise InvalidInput(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(IMPORT_COLUMNS)}")
    reader.fieldnames = header
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InvalidInput(f"{path}: line {reader.line_num + 1}: not valid CSV ({exc}); nothing imported") from None
    rows: list[tuple[int, dict[str, str | None]]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, row in records:
        # The csv module's field limit is process-wide (the call-record readers raise it): check ours here.
        longest = max((len(v) for v in row.values() if isinstance(v, str)), default=0)
        if longest > MAX_FIELD_CHARS:
            raise InvalidInput(
                f"{path}: line {line}: not valid CSV (a field of {longest:,} characters; "
                f"at most {MAX_FIELD_CHARS:,}); nothing imported"
            )
        clean = {k: (v.strip() if isinstance(v, str) else None) for k, v in row.items() if k}
        try:
            upn = check_upn(clean.get("upn") or "")
            if upn in seen:
                raise InvalidInput(f"{upn} appears again (first on line {seen[upn]})")
            seen[upn] = line
            check_country(clean.get("country") or "")
            if clean.get("plan"):
                check_plan(clean["plan"] or "")
            for flag in ("conferencing", "licensed"):
                if clean.get(flag):
                    parse_bool(clean[flag] or "", what=flag)
        except InvalidInput as exc:
            errors.append(f"line {line}: {exc}")
            continue
        rows.append((line, clean))
    result = ImportResult(errors=errors)
    if errors:
        return result
    for _line, clean in rows:
        _, created = upsert_user(
            session,
            tenant,
            clean["upn"] or "",
            country=clean["country"] or "",
            plan=clean.get("plan") or None,
            conferencing=parse_bool(clean["conferencing"] or "", what="conferencing")
            if clean.get("conferencing")
            else None,
            name=clean.get("name"),
            licensed=parse_bool(clean["licensed"] or "", what="licensed") if clean.get("licensed") else None,
        )
        if created:
            result.added += 1
        else:
            result.updated += 1
    return result


def read_upn_file(path: Path) -> list[str]:
    text = read_text_file(path, what="UPN list")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def set_license(session: Session, tenant: Tenant, upns: Iterable[str], licensed: bool) -> list[User]:
    """Assign or unassign the Communications Credits license. Unknown UPNs refuse the lot."""
    wanted = [check_upn(u) for u in upns]
    if not wanted:
        raise InvalidInput("no users given; name UPNs or use --file")
    users = []
    missing = []
    for upn in dict.fromkeys(wanted):
        user = get_user(session, tenant, upn)
        if user is None:
            missing.append(upn)
        else:
            users.append(user)
    if missing:
        shown = ", ".join(missing[:5])
        if len(missing) > 5:
            shown += f" and {len(missing) - 5} more"
        raise NotFound(f"no such user(s) in {tenant.slug}: {shown}; add them with credits user add")
    now = clock.now()
    for user in users:
        if user.licensed != licensed:
            user.licensed = licensed
            user.licensed_at = now if licensed else None
            user.updated_at = now
            session.add(user)
    session.flush()
    return users
