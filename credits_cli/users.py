"""Users, their calling plans, and the Communications Credits license."""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlmodel import Session, col, select

from credits_cli import clock, history, i18n
from credits_cli.errors import InvalidInput, NotFound
from credits_cli.i18n import N_, _, ngettext
from credits_cli.kinds import Plan
from credits_cli.models import Tenant, User
from credits_cli.phrases import Phrase, quantity, said
from credits_cli.tenants import check_country
from credits_cli.trail import Diff

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
#: Bounds of a users workbook: rows below the header, columns, and what its parts unpack to.
MAX_SHEET_ROWS = 100_000
MAX_SHEET_COLUMNS = 50
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 .xls (or any OLE2 file)


def check_upn(text: str) -> str:
    value = text.strip().lower()
    if not value or len(value) > 254 or any(c.isspace() for c in value) or "@" not in value:
        raise InvalidInput(_("{text} is not a user principal name such as ada@contoso.com").format(text=repr(text)))
    return value


def check_plan(text: str) -> str:
    plan = _PLAN_ALIASES.get(text.strip().lower())
    if plan is None:
        raise InvalidInput(_("unknown calling plan {text}; plans: {plans}").format(
            text=repr(text), plans=", ".join(PLANS)))
    return plan


def parse_bool(text: str, *, what: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    # TRANSLATORS: {what} is a column of a users file (conferencing, licensed): keep it; true/false... are typed.
    raise InvalidInput(_("{what} {text} is not true/false, yes/no or 1/0").format(what=what, text=repr(text)))


def get_user(session: Session, tenant: Tenant, upn: str) -> User | None:
    return session.exec(select(User).where(User.tenant_id == tenant.id, User.upn == upn.strip().lower())).first()


def upsert_user(
    session: Session,
    tenant: Tenant,
    upn: str,
    *,
    country: str | None = None,
    plan: str | None = None,
    conferencing: bool | None = None,
    name: str | None = None,
    licensed: bool | None = None,
    at: datetime | None = None,
    diffs: list[Diff] | None = None,
) -> tuple[User, bool]:
    """Add a user or update the fields given (a new user needs a country). Returns (user, created).

    Only what is given changes: a field left as None keeps its value. A removed user
    (:func:`remove_user`) is brought back: listed again, with what is given from now (or ``at``).
    Changes of country, plan, Audio Conferencing and license are dated (:mod:`credits_cli.history`):
    from ``at`` when given, else the first value of a field holds from the beginning and a later one
    from now. ``diffs``, when given, receives (field, old, new) of each change to an existing user,
    for the trail (:mod:`credits_cli.trail`).
    """
    key = check_upn(upn)
    at = history.check_at(at)
    country_code = check_country(country) if country is not None else None
    now = clock.now()
    user = get_user(session, tenant, key)
    created = user is None
    if user is None:
        if country_code is None:
            raise InvalidInput(_("{upn} is a new user: give --country (their usage location)").format(upn=key))
        user = User(tenant_id=tenant.id or 0, upn=key, country=country_code, created_at=now, updated_at=now)
    changes: dict[str, object] = {}
    before = {k: getattr(user, k) for k in ("name", "country", "plan", "conferencing", "licensed", "removed_at")}
    if user.removed_at is not None:
        user.removed_at = None
    if country_code is not None and (created or country_code != user.country):
        user.country = changes["country"] = country_code
    if plan is not None:
        new_plan = check_plan(plan)
        if created or new_plan != user.plan:
            user.plan = changes["plan"] = new_plan
    elif created:
        changes["plan"] = user.plan
    if conferencing is not None:
        if created or conferencing != user.conferencing:
            user.conferencing = changes["conferencing"] = conferencing
    elif created:
        changes["conferencing"] = False
    if name is not None:
        user.name = name.strip()
    if licensed is not None and (created or licensed != user.licensed):
        user.licensed = changes["licensed"] = licensed
        user.licensed_at = (at or now) if licensed else None
    user.updated_at = now
    session.add(user)
    session.flush()
    history.record(session, user, changes, at)
    if at is not None and changes:
        _follow_history(session, user)
    if diffs is not None and not created:
        diffs.extend((k, old, getattr(user, k)) for k, old in before.items() if getattr(user, k) != old)
    return user, created


def _follow_history(session: Session, user: User) -> None:
    """After a change dated in the past: the user's fields as their history holds them now (a change
    recorded earlier but dated later still holds after the dated one)."""
    held = history.held_now(session, user)
    now = {"country": held.country, "plan": held.plan, "conferencing": held.conferencing, "licensed": held.licensed}
    if any(getattr(user, k) != v for k, v in now.items()):
        for k, v in now.items():
            setattr(user, k, v)
        if not held.licensed:
            user.licensed_at = None
        session.add(user)
        session.flush()


def removable(session: Session, tenant: Tenant, upn: str) -> User:
    """The user ``upn`` names, who can be removed: one that exists and is not removed already."""
    key = check_upn(upn)
    user = get_user(session, tenant, key)
    if user is None:
        raise NotFound(_("no user {upn} in {tenant}").format(upn=key, tenant=tenant.slug))
    if user.removed_at is not None:
        raise InvalidInput(_("{upn} was already removed on {when}").format(upn=key, when=clock.iso(user.removed_at)))
    return user


def remove_user(session: Session, tenant: Tenant, upn: str, at: datetime | None = None) -> User:
    """Remove a user from ``at`` (else now): from then they hold no plan, no Audio Conferencing and no
    license (dated in :mod:`credits_cli.history`, so calls before it are rated with what they held), and
    listings leave them out. The row stays: their calls still name them. Adding the UPN again brings
    them back."""
    at = history.check_at(at)
    user = removable(session, tenant, upn)
    when = at or clock.now()
    ends = {"plan": Plan.NONE.value, "conferencing": False, "licensed": False}
    changes = {k: v for k, v in ends.items() if getattr(user, k) != v}
    for k, v in changes.items():
        setattr(user, k, v)
    user.licensed_at = None
    user.removed_at = when
    user.updated_at = clock.now()
    session.add(user)
    session.flush()
    history.record(session, user, changes, when)
    return user


def list_users(session: Session, tenant: Tenant, *, removed: bool = False) -> list[User]:
    """The tenant's users by UPN; removed ones only with ``removed``."""
    query = select(User).where(User.tenant_id == tenant.id)
    if not removed:
        query = query.where(col(User.removed_at).is_(None))
    return list(session.exec(query.order_by(col(User.upn))).all())


@dataclass
class ImportResult:
    """What an import changed (or, with ``dry_run``, would change)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    licenses_given: int = 0
    licenses_taken: int = 0
    plans_changed: int = 0
    restored: int = 0  # removed users the file brings back
    changes: list[str] = field(default_factory=list)  # one line per user that changes: "ada@...: plan none -> payg"
    errors: list[str] = field(default_factory=list)


def _regular(path: Path) -> None:
    """Refuse what is not a regular file before opening it: a device (/dev/zero never ends), a pipe (an
    open blocks until something writes), a folder."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InvalidInput(_("{path}: no such file").format(path=path)) from None
    except OSError as exc:
        raise InvalidInput(_("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror)) from None
    if stat.S_ISDIR(mode):
        raise InvalidInput(_("{path}: is a folder, not a file").format(path=path))
    if not stat.S_ISREG(mode):
        raise InvalidInput(_("{path}: not a regular file (a device or a pipe); save the list to a file first").format(
            path=path))


def read_text_file(path: Path, *, what: str = N_("file")) -> str:
    """A small text file (users, UPN lists) as UTF-8, with or without BOM; read bounded (``what``: the words
    that name it, marked with ``N_``, translated here)."""
    _regular(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            # TRANSLATORS: {what} names the file ("users file", "UPN list").
            raise InvalidInput(_("{path}: {what} is too large (more than {n} bytes)").format(
                path=path, what=_(what), n=i18n.number(MAX_FILE_BYTES)))
    except FileNotFoundError:
        raise InvalidInput(_("{path}: no such file").format(path=path)) from None
    except IsADirectoryError:
        raise InvalidInput(_("{path}: is a folder, not a file").format(path=path)) from None
    except OSError as exc:
        raise InvalidInput(_("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror)) from None
    if b"\x00" in data:
        raise InvalidInput(_("{path}: not a text file (NUL bytes; UTF-16 is not supported, save as UTF-8)").format(
            path=path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # TRANSLATORS: {offset} is the position of the first byte that is not UTF-8.
        raise InvalidInput(_("{path}: not UTF-8 text (byte {offset})").format(path=path, offset=exc.start)) from None


def import_users(
    session: Session, tenant: Tenant, path: Path, *, at: datetime | None = None, dry_run: bool = False
) -> ImportResult:
    """Add or update users from a CSV file or an Excel workbook (.xlsx). All rows are
    checked first; any bad row refuses the whole file (each bad row named), so
    nothing is half-imported. A column left out, or a cell left blank, changes nothing
    (a file without ``licensed`` never touches licenses). With ``dry_run`` nothing is written:
    the result says what would change. Changes are dated (``at``; :mod:`credits_cli.history`)."""
    records = read_users_file(path)
    rows: list[tuple[int, dict[str, str | None]]] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for line, row in records:
        clean = {k: (v.strip() if isinstance(v, str) else None) for k, v in row.items() if k}
        try:
            upn = check_upn(clean.get("upn") or "")
            if upn in seen:
                raise InvalidInput(_("{upn} appears again (first on line {line})").format(upn=upn, line=seen[upn]))
            seen[upn] = line
            check_country(clean.get("country") or "")
            if clean.get("plan"):
                check_plan(clean["plan"] or "")
            for flag in ("conferencing", "licensed"):
                if clean.get(flag):
                    parse_bool(clean[flag] or "", what=flag)
        except InvalidInput as exc:
            # TRANSLATORS: {line} is a line number of the users file, {error} what is wrong with it.
            errors.append(_("line {line}: {error}").format(line=line, error=exc))
            continue
        rows.append((line, clean))
    result = ImportResult(errors=errors)
    if errors:
        return result
    for _line, clean in rows:
        upn = check_upn(clean["upn"] or "")
        wanted = _Wanted(
            country=check_country(clean["country"] or ""),
            plan=check_plan(clean["plan"] or "") if clean.get("plan") else None,
            conferencing=parse_bool(clean["conferencing"] or "", what="conferencing")
            if clean.get("conferencing") else None,
            licensed=parse_bool(clean["licensed"] or "", what="licensed") if clean.get("licensed") else None,
            name=clean.get("name"),
        )
        _describe(result, get_user(session, tenant, upn), upn, wanted)
        if not dry_run:
            upsert_user(session, tenant, upn, country=wanted.country, plan=wanted.plan,
                        conferencing=wanted.conferencing, name=wanted.name, licensed=wanted.licensed, at=at)
    return result


class _Wanted(NamedTuple):
    """A row of a users file, checked: None where the file leaves a field alone."""

    country: str
    plan: str | None
    conferencing: bool | None
    licensed: bool | None
    name: str | None


def _describe(result: ImportResult, user: User | None, upn: str, wanted: _Wanted) -> None:
    """Count and say what importing ``wanted`` does to ``user`` (None: a new user)."""
    if user is None:
        result.added += 1
        if wanted.licensed:
            result.licenses_given += 1
        # phrases: English in --json, said in the reader's language on the terminal; the plan and the country
        # are the values typed
        if wanted.licensed:
            # TRANSLATORS: a user a users file adds: {country} is a country code, {plan} a calling plan as typed.
            added = Phrase(N_("{upn}: added ({country}, plan {plan}, licensed)"), upn=upn, country=wanted.country,
                           plan=wanted.plan or "none")
        else:
            added = Phrase(N_("{upn}: added ({country}, plan {plan})"), upn=upn, country=wanted.country,
                           plan=wanted.plan or "none")
        result.changes.append(added)
        return
    parts: list[str] = []
    if user.removed_at is not None:
        result.restored += 1
        # TRANSLATORS: a removed user a users file brings back; {when} is when they were removed.
        parts.append(Phrase(N_("brought back (removed {when})"), when=clock.iso(user.removed_at)))
    for name in _Wanted._fields:
        new, old = getattr(wanted, name), getattr(user, name)
        if new is None or new == old or (name == "name" and str(new).strip() == old):
            continue
        parts.append(f"{name} {old if old not in ('', None) else '-'} -> {new}")  # field names and values as typed
        if name == "plan":
            result.plans_changed += 1
        elif name == "licensed":
            if new:
                result.licenses_given += 1
            else:
                result.licenses_taken += 1
    if parts:
        result.updated += 1
        result.changes.append(Phrase(lambda: "{upn}: {changes}", upn=upn,
                                     changes=lambda: ", ".join(said(part) for part in parts)))
    else:
        result.unchanged += 1


#: A users file's records: (line, column -> text), the line as the file numbers it (a sheet's row).
Records = list[tuple[int, dict[str, str | None]]]


def read_users_file(path: Path) -> Records:
    """The records of a users file: an Excel workbook (recognised by its content, or by the
    suffix .xlsx) or else CSV. A file that is neither is one clear error."""
    head = _head(path)
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() == ".xlsx":
        return _workbook_records(path)
    if head.startswith(_OLE_MAGIC):
        raise InvalidInput(_("{path}: an Excel 97-2003 workbook (.xls); save it as .xlsx or CSV").format(path=path))
    return _csv_records(path)


def _head(path: Path) -> bytes:
    _regular(path)
    try:
        with path.open("rb") as fh:
            return fh.read(8)
    except FileNotFoundError:
        raise InvalidInput(_("{path}: no such file").format(path=path)) from None
    except IsADirectoryError:
        raise InvalidInput(_("{path}: is a folder, not a file").format(path=path)) from None
    except OSError as exc:
        raise InvalidInput(_("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror)) from None


def _check_header(path: Path, header: list[str]) -> None:
    if not header:
        # TRANSLATORS: {columns} are the column names of a users file, kept as they are.
        raise InvalidInput(_("{path}: empty file; expected columns {columns}").format(
            path=path, columns=",".join(IMPORT_COLUMNS)))
    missing = [c for c in ("upn", "country") if c not in header]
    if missing:
        raise InvalidInput(_("{path}: missing column(s) {missing}; expected {columns}").format(
            path=path, missing=", ".join(missing), columns=",".join(IMPORT_COLUMNS)))


def _csv_records(path: Path) -> Records:
    text = read_text_file(path, what=N_("users file"))
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        # TRANSLATORS: {reason} is the CSV reader's own words (English).
        raise InvalidInput(_("{path}: line {line}: not valid CSV ({reason})").format(
            path=path, line=reader.line_num, reason=exc)) from None
    _check_header(path, header)
    reader.fieldnames = header
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise InvalidInput(_("{path}: line {line}: not valid CSV ({reason}); nothing imported").format(
            path=path, line=reader.line_num + 1, reason=exc)) from None
    for line, row in records:
        # The csv module's field limit is process-wide (the call-record readers raise it): check ours here.
        longest = max((len(v) for v in row.values() if isinstance(v, str)), default=0)
        if longest > MAX_FIELD_CHARS:
            raise InvalidInput(_("{path}: line {line}: not valid CSV (a field of {n} characters; at most {limit}); "
                                 "nothing imported").format(path=path, line=line, n=i18n.number(longest),
                                                            limit=i18n.number(MAX_FIELD_CHARS)))
    return records


def _workbook_records(path: Path) -> Records:
    """The first sheet of an .xlsx workbook: its first row the header, each later row a record.

    Read with openpyxl in read-only mode, bounded: the file size of a CSV, what its parts unpack to,
    :data:`MAX_SHEET_ROWS` rows and :data:`MAX_SHEET_COLUMNS` columns. Cells are made text as a CSV
    would hold them (TRUE -> "true", 1 -> "1", empty -> "").
    """
    from openpyxl import load_workbook

    not_workbook = _("{path}: not a readable Excel workbook (.xlsx); save the users as .xlsx or CSV").format(path=path)
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise InvalidInput(_("{path}: users file is too large ({n} bytes)").format(
                    path=path, n=i18n.number(size)))
            try:
                with zipfile.ZipFile(fh) as archive:
                    names = archive.namelist()
                    unpacked = sum(info.file_size for info in archive.infolist())
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
                raise InvalidInput(not_workbook) from None
            if "xl/workbook.xml" not in names:
                raise InvalidInput(not_workbook)
            if unpacked > MAX_UNPACKED_BYTES:
                raise InvalidInput(_("{path}: the workbook unpacks to more than {n} bytes").format(
                    path=path, n=i18n.number(MAX_UNPACKED_BYTES)))
            fh.seek(0)
            try:
                return _sheet_records(path, load_workbook(fh, read_only=True, data_only=True))
            except InvalidInput:
                raise
            except Exception:  # noqa: BLE001 - a damaged workbook fails in many ways (zip, XML, a missing part)
                raise InvalidInput(not_workbook) from None
    except OSError as exc:
        raise InvalidInput(_("{path}: cannot read ({reason})").format(path=path, reason=exc.strerror)) from None


def _sheet_records(path: Path, workbook: Any) -> Records:
    try:
        if not workbook.worksheets:
            raise InvalidInput(_("{path}: the workbook has no sheet").format(path=path))
        sheet = workbook.worksheets[0]
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        header = [_cell_text(v).strip().lower() for v in first]
        while header and not header[-1]:
            header.pop()
        if len(header) > MAX_SHEET_COLUMNS:
            raise InvalidInput(_("{path}: more than {n} columns; expected {columns}").format(
                path=path, n=MAX_SHEET_COLUMNS, columns=",".join(IMPORT_COLUMNS)))
        _check_header(path, header)
        records: Records = []
        last = MAX_SHEET_ROWS + 1  # the header is row 1
        for line, values in enumerate(
            sheet.iter_rows(min_row=2, max_row=last + 1, max_col=len(header), values_only=True), start=2
        ):
            texts = [_cell_text(v) for v in values]
            if not any(t.strip() for t in texts):
                continue  # a blank row, as a blank line of a CSV file
            if line > last:
                raise InvalidInput(_("{path}: more than {n} rows; nothing imported").format(
                    path=path, n=i18n.number(MAX_SHEET_ROWS)))
            longest = max(len(t) for t in texts)
            if longest > MAX_FIELD_CHARS:
                raise InvalidInput(_("{path}: line {line}: a cell of {n} characters (at most {limit}); "
                                     "nothing imported").format(path=path, line=line, n=i18n.number(longest),
                                                                limit=i18n.number(MAX_FIELD_CHARS)))
            row: dict[str, str | None] = dict(zip(header, texts, strict=False))
            records.append((line, row))
        return records
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    """A cell's value as the text a CSV file would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def read_upn_file(path: Path) -> list[str]:
    text = read_text_file(path, what=N_("UPN list"))
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def set_license(
    session: Session, tenant: Tenant, upns: Iterable[str], licensed: bool, at: datetime | None = None
) -> list[User]:
    """Assign or unassign the Communications Credits license, dated (``at``, else see
    :mod:`credits_cli.history`). Unknown UPNs refuse the lot."""
    at = history.check_at(at)
    wanted = [check_upn(u) for u in upns]
    if not wanted:
        raise InvalidInput(_("no users given; name UPNs or use --file"))
    users = []
    missing = []
    for upn in dict.fromkeys(wanted):
        user = get_user(session, tenant, upn)
        if user is None:
            missing.append(upn)
        elif user.removed_at is not None:
            # TRANSLATORS: {command} is a command to type, kept as it is.
            raise InvalidInput(_("{upn} was removed on {when}; add them again with {command}").format(
                upn=upn, when=clock.iso(user.removed_at), command=f"credits user add {upn}"))
        else:
            users.append(user)
    if missing:
        shown = ", ".join(missing[:5])
        if len(missing) > 5:
            more = len(missing) - 5
            shown += ngettext(" and {n} more", " and {n} more", more).format(n=quantity(more))
        # TRANSLATORS: {users} lists the UPNs not found; "credits user add" is a command.
        raise NotFound(_("no such user(s) in {tenant}: {users}; add them with credits user add").format(
            tenant=tenant.slug, users=shown))
    now = clock.now()
    for user in users:
        if user.licensed != licensed:
            user.licensed = licensed
            user.licensed_at = (at or now) if licensed else None
            user.updated_at = now
            session.add(user)
            session.flush()
            history.record(session, user, {"licensed": licensed}, at)
            if at is not None:
                _follow_history(session, user)
    session.flush()
    return users
