"""Notifications: the outbox of events for a tenant's admins, and SMTP delivery.

An event becomes one outbox row per admin, written in the same transaction as
the change that caused it. The row's ``created_at`` is when it was queued (the
e-mail's ``Date:``, so that it sorts as new mail); the body says when the event
happened (a call imported a month later happened a month ago). :func:`deliver`
sends queued rows over SMTP.

What a crash (or SIGKILL, or a lost connection) can and cannot do
-----------------------------------------------------------------
A row moves ``queued`` -> ``sending`` -> ``sent``, each step committed on its
own:

* ``sending`` is committed after the server answered ``354`` to ``DATA`` and
  before the end of the message (the final ``.``) is written to the socket.
  The claim is conditional (``UPDATE ... WHERE status = 'queued'``): when two
  senders race for a row, the loser drops its connection before the final
  ``.``, so the server discards that copy; a row is never sent by two senders.
* ``sent`` is committed only after the server answered ``250`` to the end of
  the message. So **no row is marked sent that the server did not accept.**
* A refusal or a failure before the end of the message puts the row back to
  ``queued`` with its error; it is tried again on the next run.
* A row left in ``sending`` by a process that died is *in doubt*: the process
  died somewhere between committing ``sending`` and committing ``sent``, i.e.
  just before, while, or just after the server took the message. A rerun does
  **not** send it again (so **no message is delivered twice by a rerun**); it
  reports it. ``notifications send --resend-unconfirmed`` puts such rows back
  in the queue when the admin decides they did not arrive; the copy carries
  the same ``Message-ID`` (``<credits-TENANT-ROW@DOMAIN>``) as the first, so a
  duplicate is recognisable at the receiving end.

Delivery is thus at-most-once without the admin's decision, with the in-doubt
window narrowed to the final write of one message and its ``250`` reply.
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import clock, money
from credits_cli.errors import InvalidInput
from credits_cli.kinds import Delivery, Event
from credits_cli.models import Admin, Notification, Tenant

if TYPE_CHECKING:
    from credits_cli.db import Database

EVENTS: dict[str, str] = {
    Event.RECHARGE_SUCCEEDED: "Communications Credits recharged",
    Event.RECHARGE_FAILED: "Communications Credits recharge FAILED",
    Event.BALANCE_ZERO: "Communications Credits balance reached zero",
    Event.DIALOUT_POOL_80: "Audio Conferencing dial-out minutes at 80%",
    Event.DIALOUT_POOL_100: "Audio Conferencing dial-out minutes used up",
}


def _body(tenant: Tenant, event: str, at: datetime, details: dict[str, object]) -> str:
    cur = tenant.currency
    lines = [f"Organisation: {tenant.name} ({tenant.slug})", f"Happened at: {at:%Y-%m-%d %H:%M} UTC"]
    if "amount" in details:
        lines.append(f"Recharge amount: {money.fmt_display(details['amount'], cur)}")  # type: ignore[arg-type]
    if "balance" in details:
        lines.append(f"Balance now: {money.fmt_display(details['balance'], cur)}")  # type: ignore[arg-type]
    if "reason" in details:
        lines.append(f"Reason: {details['reason']}")
    if "pool" in details:
        lines.append(f"Pool: {details['pool']}")
    advice: str | None = {
        Event.RECHARGE_FAILED: "Update the payment method (credits payment set) or top up (credits topup).",
        Event.BALANCE_ZERO: "Toll-free numbers and paid calls stop working until the balance is funded.",
        Event.DIALOUT_POOL_100: "Further dial-out this month is charged to Communications Credits.",
    }.get(Event(event))
    if advice:
        lines += ["", advice]
    return "\n".join(lines) + "\n"


def queue_event(session: Session, tenant: Tenant, event: str, at: datetime, **details: object) -> int:
    """Queue one message per admin for ``event``, which happened ``at`` (said in the body); the rows are
    created now (their ``created_at``, the e-mail's ``Date:``). Returns how many rows were written."""
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
                created_at=now,
                status=Delivery.QUEUED if recipient else Delivery.NO_RECIPIENT,
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
    unconfirmed: int = 0  # handed to the server, answer lost: left 'sending'
    in_doubt_before: int = 0  # rows an earlier interrupted run left 'sending'
    errors: list[str] = field(default_factory=list)


def _message(note: Notification, sender: str, tenant_slug: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = note.recipient or ""
    msg["Subject"] = note.subject
    msg["Date"] = format_datetime(note.created_at.replace(tzinfo=UTC))  # when it was queued
    domain = sender.rpartition("@")[2] or "credits.invalid"
    msg["Message-ID"] = f"<credits-{tenant_slug}-{note.id}@{domain}>"
    msg["X-Credits-Event"] = note.event
    msg.set_content(note.body)
    return msg


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP whose ``DATA`` asks ``self.before_end()`` for leave to send the final dot."""

    before_end: Callable[[], bool] | None = None
    end_written = False  # the final dot is going out and the server has not answered yet

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if isinstance(msg, str):
            msg = msg.encode("ascii")
        payload = re.sub(rb"(?m)^\.", b"..", msg)
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        if self.before_end is not None:
            try:
                go_on = self.before_end()
            except BaseException:
                self.close()  # mid-DATA: drop the line so the server discards this copy
                raise
            if not go_on:
                raise _Abandon()
        self.end_written = True
        self.send(payload + b".\r\n")
        answer = self.getreply()
        self.end_written = False  # the server answered: accepted or refused, no doubt left
        return answer


class _Abandon(Exception):
    """Another sender claimed the row: drop the connection before the final dot."""


def requeue_unconfirmed(db: Database, tenant: Tenant) -> int:
    """Put rows left ``sending`` by an interrupted run back in the queue. Returns how many."""

    def work(session: Session) -> int:
        result = session.execute(
            sa.update(Notification.__table__)  # type: ignore[attr-defined]
            .where(Notification.__table__.c.tenant_id == tenant.id)  # type: ignore[attr-defined]
            .where(Notification.__table__.c.status == Delivery.SENDING)  # type: ignore[attr-defined]
            .values(status=Delivery.QUEUED, last_error="interrupted while being sent; queued again")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    return db.write(work)


def deliver(
    db: Database,
    tenant: Tenant,
    host: str,
    port: int,
    sender: str,
    *,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 30.0,
) -> DeliveryReport:
    """Send every queued message of the tenant (see the module docstring for
    what an interruption can do). Each row's state is committed on its own.
    With ``password``, log in as ``user`` (default: the sender)."""
    from credits_cli.tenants import check_email

    sender = check_email(sender)
    with db.read() as session:
        queued = [(n.id, n) for n in list_outbox(session, tenant, status=Delivery.QUEUED)]
        in_doubt = len(list_outbox(session, tenant, status=Delivery.SENDING))
    report = DeliveryReport(in_doubt_before=in_doubt)
    todo = list(queued)
    while todo:
        try:
            smtp = _SMTP(host, port, timeout=timeout)
        except (OSError, smtplib.SMTPException) as exc:
            reason = _scrub(_reason(exc), password)
            for note_id, _ in todo:
                _record_failure(db, note_id, f"cannot connect to {host}:{port}: {reason}")
            report.failed += len(todo)
            report.errors.append(f"cannot connect to {host}:{port}: {reason}")
            return report
        try:
            todo = _send_batch(db, smtp, todo, tenant, sender, user, password, report)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return report


def _send_batch(
    db: Database,
    smtp: _SMTP,
    todo: list[tuple[int | None, Notification]],
    tenant: Tenant,
    sender: str,
    user: str | None,
    password: str | None,
    report: DeliveryReport,
) -> list[tuple[int | None, Notification]]:
    """Send over one connection; returns what is left for a new connection (after an abandoned row)."""
    try:
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if password:
            try:
                smtp.login(user or sender, password)
            except UnicodeEncodeError:
                # smtplib sends credentials as ASCII; say so without quoting any of them.
                raise smtplib.SMTPException(
                    "cannot log in: the SMTP user name or password has characters other than ASCII"
                ) from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = _scrub(_reason(exc), password)
        for note_id, _ in todo:
            _record_failure(db, note_id, reason)
        report.failed += len(todo)
        report.errors.append(reason)
        return []
    for index, (note_id, note) in enumerate(todo):
        assert note_id is not None
        smtp.before_end = lambda nid=note_id: _claim(db, nid)
        smtp.end_written = False
        try:
            try:
                refused = smtp.send_message(_message(note, sender, tenant.slug))
            except (smtplib.SMTPException, OSError) as exc:
                if not smtp.end_written:
                    raise
                # Handed over, but no answer came: in doubt, so the row stays 'sending'.
                report.unconfirmed += 1
                report.failed += len(todo) - index - 1  # the rest stay queued, untried
                report.errors.append(
                    f"{note.recipient}: no answer after the message was handed over: {_scrub(_reason(exc), password)}"
                )
                return []
        except _Abandon:
            smtp.close()  # no final dot: the server discards this copy
            return todo[index + 1 :]
        except smtplib.SMTPServerDisconnected as exc:
            # The connection is gone: this row and every row not yet tried stay queued with the reason.
            for left_id, _ in todo[index:]:
                _record_failure(db, left_id, _scrub(_reason(exc), password))
            report.failed += len(todo) - index
            report.errors.append(f"{note.recipient}: {_scrub(_reason(exc), password)}")
            return []
        except (smtplib.SMTPException, OSError) as exc:
            _record_failure(db, note_id, _scrub(_reason(exc), password))
            report.failed += 1
            report.errors.append(f"{note.recipient}: {_scrub(_reason(exc), password)}")
            continue
        finally:
            smtp.before_end = None
        if refused:
            text = "; ".join(f"{rcpt}: {code} {msg!r}" for rcpt, (code, msg) in refused.items())
            _record_failure(db, note_id, text)
            report.failed += 1
            report.errors.append(text)
            continue
        _record_sent(db, note_id)
        report.sent += 1
    return []


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, socket.timeout):
        return "timed out"
    return str(exc) or type(exc).__name__


def _claim(db: Database, note_id: int) -> bool:
    """queued -> sending, committed; False when another sender has the row."""

    def work(session: Session) -> bool:
        table = Notification.__table__  # type: ignore[attr-defined]
        result = session.execute(
            sa.update(table)
            .where(table.c.id == note_id, table.c.status == Delivery.QUEUED)
            .values(status=Delivery.SENDING, attempts=table.c.attempts + 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return db.write(work)


def _record_sent(db: Database, note_id: int) -> None:
    def work(session: Session) -> None:
        note = session.get(Notification, note_id)
        if note is not None:
            note.status = Delivery.SENT
            note.sent_at = clock.now()
            note.last_error = None
            session.add(note)

    db.write(work)


def _record_failure(db: Database, note_id: int | None, error: str) -> None:
    """Back to the queue with the error (counted as an attempt unless the claim already was)."""

    def work(session: Session) -> None:
        note = session.get(Notification, note_id)
        if note is not None:
            if note.status != Delivery.SENDING:
                note.attempts += 1
            note.status = Delivery.QUEUED
            note.last_error = error[:1000]
            session.add(note)

    db.write(work)
