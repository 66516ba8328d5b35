"""Notifications: the outbox of events for a tenant's admins, and SMTP delivery.

An event becomes one outbox row per admin, written in the same transaction as
the change that caused it. ``deliver`` sends queued rows over SMTP and marks a
row sent only after the server accepted it; a refused or failed delivery stays
queued with its error and is tried again next time.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from credits_cli import clock, money
from credits_cli.errors import InvalidInput
from credits_cli.models import Admin, Notification, Tenant

if TYPE_CHECKING:
    from credits_cli.db import Database

EVENTS = {
    "recharge_succeeded": "Communications Credits recharged",
    "recharge_failed": "Communications Credits recharge FAILED",
    "balance_zero": "Communications Credits balance reached zero",
    "dialout_pool_80": "Audio Conferencing dial-out minutes at 80%",
    "dialout_pool_100": "Audio Conferencing dial-out minutes used up",
}


def _body(tenant: Tenant, event: str, at: datetime, details: dict[str, object]) -> str:
    cur = tenant.currency
    lines = [f"Organisation: {tenant.name} ({tenant.slug})", f"When: {clock.iso(at)}"]
    if "amount" in details:
        lines.append(f"Recharge amount: {money.fmt_display(details['amount'], cur)}")  # type: ignore[arg-type]
    if "balance" in details:
        lines.append(f"Balance now: {money.fmt_display(details['balance'], cur)}")  # type: ignore[arg-type]
    if "reason" in details:
        lines.append(f"Reason: {details['reason']}")
    if "pool" in details:
        lines.append(f"Pool: {details['pool']}")
    advice = {
        "recharge_failed": "Update the payment method (credits payment set) or top up (credits topup).",
        "balance_zero": "Toll-free numbers and paid calls stop working until the balance is funded.",
        "dialout_pool_100": "Further dial-out this month is charged to Communications Credits.",
    }.get(event)
    if advice:
        lines += ["", advice]
    return "\n".join(lines) + "\n"


def queue_event(session: Session, tenant: Tenant, event: str, at: datetime, **details: object) -> int:
    """Queue one message per admin for ``event``. Returns how many rows were written."""
    subject = f"[{tenant.slug}] {EVENTS[event]}"
    body = _body(tenant, event, at, details)
    admins = session.exec(select(Admin).where(Admin.tenant_id == tenant.id).order_by(col(Admin.email))).all()
    now = clock.now()
    recipients: list[str | None] = [a.email for a in admins] or [None]
    for recipient in recipients:
        session.add(
            Notification(
                tenant_id=tenant.id or 0,
                event=event,
                recipient=recipient,
                subject=subject,
                body=body,
                created_at=at if at else now,
                status="queued" if recipient else "no_recipient",
            )
        )
    return len(recipients)


def list_outbox(session: Session, tenant: Tenant, status: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.tenant_id == tenant.id)
    if status:
        query = query.where(Notification.status == status)
    return list(session.exec(query.order_by(col(Notification.id))).all())


def parse_smtp(value: str) -> tuple[str, int]:
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = text, "25"
    host = host.strip("[]")
    if not host or not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise InvalidInput(f"--smtp {value!r} must be HOST:PORT, e.g. smtp.contoso.com:587")
    return host, int(port_text)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _message(note: Notification, sender: str, tenant_slug: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = note.recipient or ""
    msg["Subject"] = note.subject
    msg["Date"] = format_datetime(note.created_at.replace(tzinfo=UTC))
    domain = sender.rpartition("@")[2] or "credits.invalid"
    msg["Message-ID"] = f"<credits-{tenant_slug}-{note.id}@{domain}>"
    msg["X-Credits-Event"] = note.event
    msg.set_content(note.body)
    return msg


def deliver(
    db: Database, tenant: Tenant, host: str, port: int, sender: str, *, timeout: float = 30.0
) -> DeliveryReport:
    """Send every queued message of the tenant. Each row is committed on its own,
    right after the server's answer, so a crash loses at most the row in flight."""
    from credits_cli.tenants import check_email

    sender = check_email(sender)
    user = os.environ.get("CREDITS_SMTP_USER")
    password = os.environ.get("CREDITS_SMTP_PASSWORD")
    with db.read() as session:
        queued = [(n.id, n) for n in list_outbox(session, tenant, status="queued")]
    report = DeliveryReport()
    if not queued:
        return report
    try:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    except (OSError, smtplib.SMTPException) as exc:
        reason = _reason(exc)
        for note_id, _ in queued:
            _record_failure(db, note_id, f"cannot connect to {host}:{port}: {reason}")
        report.failed = len(queued)
        report.errors.append(f"cannot connect to {host}:{port}: {reason}")
        return report
    handled: set[int] = set()

    def give_up(reason: str) -> None:
        # The connection is unusable: every row not yet handled stays queued with the reason.
        for left_id, _ in queued:
            if left_id is not None and left_id not in handled:
                _record_failure(db, left_id, reason)
                handled.add(left_id)
                report.failed += 1

    try:
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if password:
            smtp.login(user or sender, password)
        for note_id, note in queued:
            assert note_id is not None
            try:
                refused = smtp.send_message(_message(note, sender, tenant.slug))
            except smtplib.SMTPServerDisconnected as exc:
                report.errors.append(f"{note.recipient}: {_reason(exc)}")
                give_up(_reason(exc))
                break
            except (smtplib.SMTPException, OSError) as exc:
                _record_failure(db, note_id, _reason(exc))
                handled.add(note_id)
                report.failed += 1
                report.errors.append(f"{note.recipient}: {_reason(exc)}")
                continue
            handled.add(note_id)
            if refused:
                text = "; ".join(f"{rcpt}: {code} {msg!r}" for rcpt, (code, msg) in refused.items())
                _record_failure(db, note_id, text)
                report.failed += 1
                report.errors.append(text)
                continue
            _record_sent(db, note_id)
            report.sent += 1
    except (smtplib.SMTPException, OSError) as exc:
        report.errors.append(_reason(exc))
        give_up(_reason(exc))
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return report


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, socket.timeout):
        return "timed out"
    return str(exc) or type(exc).__name__


def _record_sent(db: Database, note_id: int) -> None:
    def work(session: Session) -> None:
        note = session.get(Notification, note_id)
        if note is not None:
            note.status = "sent"
            note.sent_at = clock.now()
            note.attempts += 1
            note.last_error = None
            session.add(note)

    db.write(work)


def _record_failure(db: Database, note_id: int | None, error: str) -> None:
    def work(session: Session) -> None:
        note = session.get(Notification, note_id)
        if note is not None:
            note.attempts += 1
            note.last_error = error[:1000]
            session.add(note)

    db.write(work)
