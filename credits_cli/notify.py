"""Notifications: the outbox of events for a tenant's admins, and SMTP delivery.

An event becomes one outbox row per admin, written in the same transaction as
the change that caused it. The row's ``created_at`` is when it was queued (the
e-mail's ``Date:``, so that it sorts as new mail); the body says when the event
happened (a call imported a month later happened a month ago). :func:`deliver`
sends queued rows over SMTP.

The connection (README "Notifications")
---------------------------------------
* **TLS.** ``smtps://HOST:PORT``, or port 465, is TLS from the first byte
  (RFC 8314); otherwise STARTTLS is used whenever the server offers it. The
  server's certificate is verified against the system's CAs, or the ones of
  ``cafile``; one that does not verify ends the send: never a fall back to
  clear text.
* **The password travels only over TLS.** A server that offers no STARTTLS (or
  whose offer an attacker removed from the EHLO answer) gets no ``AUTH``: the
  rows stay queued with the reason, unless the admin allowed a clear-text login
  on purpose (``insecure_login``, then a warning). Without a password, plain
  SMTP stays allowed (an internal relay on port 25).
* **Nothing a server says leaves unscrubbed.** Every error is recorded and
  returned through :func:`scrub`, which takes out each form of the credentials
  that ``AUTH`` put on the wire (and control characters), so that a server
  echoing its input does not put the password on the terminal or in the
  database.
* **A deadline for the whole send** (``timeout``, 60 s by default), enforced by
  a watchdog that shuts the open connection down when it passes: a timeout per
  read alone lets a server trickle one byte at a time for ever. Whatever was
  not sent by then stays queued with the reason.

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
* A refusal, or a failure before the end of the message, puts the row back to
  ``queued`` with its error; it is tried again on the next run.
* So does a connection the *server side* drops, or lets time out (or the
  deadline ends), after the final ``.`` and before its ``250``: a message the
  server never confirmed is not delivered (RFC 5321 section 6.1: the server
  takes responsibility with its ``250``), so the row goes back to ``queued``
  with the error, counts as failed and is sent again on the next run. If the
  server did keep that copy, the next one carries the same ``Message-ID``
  (``<credits-TENANT-ROW@DOMAIN>``), so a duplicate is recognisable.
* A row left in ``sending`` is *in doubt*: only our own process dying (a
  SIGKILL, a power cut, Ctrl-C) between committing ``sending`` and recording
  the server's answer leaves one, just before, while, or just after the server
  took the message. A rerun does **not** send it again (so **no message is
  delivered twice by a rerun**); it reports it. ``notifications send
  --resend-unconfirmed`` puts such rows back in the queue when the admin
  decides they did not arrive; the copy carries the same ``Message-ID``.

Delivery is thus at-least-once when the server drops the line, and
at-most-once without the admin's decision when this process dies, with that
in-doubt window narrowed to the final write of one message and its ``250``.
"""

from __future__ import annotations

import base64
import binascii
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from credits_cli import clock, currencies, i18n
from credits_cli.errors import InvalidInput
from credits_cli.i18n import N_, _
from credits_cli.kinds import Delivery, Event
from credits_cli.models import Admin, Notification, Tenant

if TYPE_CHECKING:
    from credits_cli.db import Database

#: The subject of each event's e-mail (after ``[tenant]``), translated where the message is composed.
EVENTS: dict[str, str] = {
    # TRANSLATORS: the subject of an e-mail to a tenant's admins.
    Event.RECHARGE_SUCCEEDED: N_("Communications Credits recharged"),
    # TRANSLATORS: the subject of an e-mail to a tenant's admins; FAILED is capitalised to stand out.
    Event.RECHARGE_FAILED: N_("Communications Credits recharge FAILED"),
    # TRANSLATORS: the subject of an e-mail to a tenant's admins.
    Event.BALANCE_ZERO: N_("Communications Credits balance reached zero"),
    # TRANSLATORS: the subject of an e-mail to a tenant's admins: 80 % of the month's minutes are used.
    Event.DIALOUT_POOL_80: N_("Audio Conferencing dial-out minutes at 80%"),
    # TRANSLATORS: the subject of an e-mail to a tenant's admins.
    Event.DIALOUT_POOL_100: N_("Audio Conferencing dial-out minutes used up"),
}

#: What the body of each event's e-mail advises, after its facts.
ADVICE: dict[str, str] = {
    # TRANSLATORS: "credits payment set" and "credits topup" are commands: keep them as they are.
    Event.RECHARGE_FAILED: N_("Update the payment method (credits payment set) or top up (credits topup)."),
    Event.BALANCE_ZERO: N_("Toll-free numbers and paid calls stop working until the balance is funded."),
    Event.DIALOUT_POOL_100: N_("Further dial-out this month is charged to Communications Credits."),
}

#: Seconds the whole of ``notifications send`` may take by default (``--timeout``).
DEFAULT_TIMEOUT = 60.0
#: The longest wait for one reply, within the deadline: a dead server is noticed before the deadline.
READ_TIMEOUT = 30.0
#: What stands in the place of a secret in every error.
MASK = "***"


def _subject(tenant: Tenant, event: str) -> str:
    # TRANSLATORS: an e-mail's subject: the tenant's short name in brackets, then what happened.
    return _("[{tenant}] {event}").format(tenant=tenant.slug, event=_(EVENTS[event]))


def _body(tenant: Tenant, event: str, at: datetime, details: dict[str, object]) -> str:
    """The e-mail's text in the current language: its amounts by :func:`credits_cli.currencies.display`,
    its time by :func:`credits_cli.i18n.moment`. A detail given as text (``reason``, ``pool``) is shown as
    it came (:func:`credits_cli.phrases.said` when it is a phrase); the pool's minutes given as numbers
    (``used_minutes``, ``capacity_minutes``) are said in the language."""
    from credits_cli.phrases import quantity, said

    def text(value: object) -> str:
        return said(value) if isinstance(value, str) else str(value)

    cur = tenant.currency
    lines = [_("Organisation: {name} ({slug})").format(name=tenant.name, slug=tenant.slug),
             _("Happened at: {moment}").format(moment=i18n.moment(at))]
    if "amount" in details:
        lines.append(_("Recharge amount: {amount}").format(
            amount=currencies.display(details["amount"], cur)))  # type: ignore[arg-type]
    if "balance" in details:
        lines.append(_("Balance now: {amount}").format(
            amount=currencies.display(details["balance"], cur)))  # type: ignore[arg-type]
    if "reason" in details:
        lines.append(_("Reason: {reason}").format(reason=text(details["reason"])))
    if "used_minutes" in details and "capacity_minutes" in details:
        used, capacity = details["used_minutes"], details["capacity_minutes"]
        assert isinstance(used, int) and isinstance(capacity, int)
        lines.append(_("Pool: dial-out {used} of {capacity} minutes").format(
            used=quantity(used), capacity=quantity(capacity)))
    elif "pool" in details:
        lines.append(_("Pool: {pool}").format(pool=text(details["pool"])))
    advice = ADVICE.get(Event(event))
    if advice:
        lines += ["", _(advice)]
    return "\n".join(lines) + "\n"


def queue_event(session: Session, tenant: Tenant, event: str, at: datetime, **details: object) -> int:
    """Queue one message per admin for ``event``, which happened ``at`` (said in the body); the rows are
    created now (their ``created_at``, the e-mail's ``Date:``). Returns how many rows were written.

    The subject and body are composed here, once, in the tenant's language (``tenant.lang``; None: the
    language of the command that caused the event) and kept as written: :func:`deliver` sends the text
    of the row, whatever language the sending command speaks."""
    with i18n.speaking(tenant.lang):
        subject = _subject(tenant, event)
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


# --- the server, the credentials and what may be said about them -------------------------------


class Server(NamedTuple):
    """Where to deliver: ``implicit_tls`` is TLS from the first byte (SMTPS), else STARTTLS when offered."""

    host: str
    port: int
    implicit_tls: bool = False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'smtps://' if self.implicit_tls else ''}{host}:{self.port}"


#: The port of SMTP over TLS from the first byte (RFC 8314).
SMTPS_PORT = 465


def parse_smtp(value: str) -> Server:
    """``HOST[:PORT]`` (port 25 by default; 465 is TLS from the first byte), ``smtps://HOST[:PORT]`` (TLS
    from the first byte, 465 by default) or ``smtp://HOST[:PORT]`` (STARTTLS when offered, on any port)."""
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    scheme = scheme.lower()
    if scheme not in ("", "smtp", "smtps"):
        raise InvalidInput(_smtp_form(value))
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = rest, str(SMTPS_PORT if scheme == "smtps" else 25)
    host = host.strip("[]")
    if not host or not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise InvalidInput(_smtp_form(value))
    port = int(port_text)
    return Server(host, port, implicit_tls=scheme == "smtps" or (scheme == "" and port == SMTPS_PORT))


def _smtp_form(value: str) -> str:
    return _("--smtp {value} must be HOST:PORT or smtps://HOST:PORT, e.g. smtp.contoso.com:587").format(
        value=repr(value))


def tls_context(cafile: Path | None = None) -> ssl.SSLContext:
    """Certificates verified, host names checked: against the system's CAs, or only those of ``cafile``."""
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _("not PEM certificates")
        raise InvalidInput(_("--cafile {path} cannot be used: {reason}").format(
            path=repr(str(cafile)), reason=reason)) from None


@dataclass(frozen=True)
class Credentials:
    """The SMTP login. The user name is not a secret (errors may name it); the password is."""

    user: str
    password: str = field(repr=False)

    def forms(self) -> list[str]:
        """What ``AUTH`` puts on the wire, as a server could echo it: the password itself, and base64 of
        the AUTH PLAIN token (with and without an authorisation identity) and of each AUTH LOGIN step (the
        user's too: of no use in an error); longest first, so that no form is cut by a shorter one."""
        user, password = self.user.encode(), self.password.encode()
        tokens = [b"\0" + user + b"\0" + password, user + b"\0" + user + b"\0" + password, user, password]
        found = {self.password, *(base64.b64encode(t).decode() for t in tokens)} - {""}
        return sorted(found, key=len, reverse=True)


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{2,}={0,2}")
_URLSAFE = str.maketrans("-_", "+/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def scrub(text: str, credentials: Credentials | None) -> str:
    """``text`` (a server's words, or an error quoting them) fit to print and to store: every form of the
    credentials (:meth:`Credentials.forms`, in any letter case) and any base64 run that decodes to
    something holding the password become ``***``; control characters become spaces. The one function
    every error of :func:`deliver` goes through."""
    if credentials is not None and credentials.password:
        forms = re.compile("|".join(re.escape(form) for form in credentials.forms()), re.IGNORECASE)
        text = forms.sub(MASK, text)
        secret = credentials.password.encode()
        text = _BASE64_RUN.sub(lambda m: MASK if _decodes_to_hold(m.group(), secret) else m.group(), text)
    return _CONTROL.sub(" ", text)


def _decodes_to_hold(run: str, secret: bytes) -> bool:
    """Whether base64 ``run`` (standard or URL-safe, cut anywhere) decodes to bytes holding ``secret``.
    The encoded secret may start at any of four offsets in a run glued to other letters: try each."""
    core = run.rstrip("=").translate(_URLSAFE)
    for start in range(4):
        part = core[start:]
        if len(part) % 4 == 1:
            part = part[:-1]
        try:
            decoded = base64.b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            continue
        if secret in decoded:
            return True
    return False


# --- delivery --------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    in_doubt_before: int = 0  # rows an interrupted run left 'sending'
    errors: list[str] = field(default_factory=list)  # scrubbed
    warnings: list[str] = field(default_factory=list)


def _message(note: Notification, sender: str, tenant_slug: str) -> EmailMessage:
    """The e-mail of one row. Its text is in the tenant's language (Cyrillic, Chinese): a subject that is not
    ASCII goes as an RFC 2047 encoded word in UTF-8, a body that is not ASCII as UTF-8 in base64, which
    every server carries (no need for 8BITMIME or SMTPUTF8); an English body is plain 7-bit text as ever."""
    msg = EmailMessage()  # the default policy: RFC 2047, UTF-8, for a header that is not ASCII
    msg["From"] = sender
    msg["To"] = note.recipient or ""
    msg["Subject"] = note.subject if note.subject.isascii() else _SUBJECT_TO_COME
    msg["Date"] = format_datetime(note.created_at.replace(tzinfo=UTC))  # when it was queued
    domain = sender.rpartition("@")[2] or "credits.invalid"
    msg["Message-ID"] = f"<credits-{tenant_slug}-{note.id}@{domain}>"
    msg["X-Credits-Event"] = note.event
    if note.body.isascii():
        msg.set_content(note.body)
    else:
        msg.set_content(note.body, charset="utf-8", cte="base64")
    return msg if note.subject.isascii() else _with_subject(msg, note.subject)


#: Where a subject that is not ASCII goes, until :func:`_with_subject` writes it.
_SUBJECT_TO_COME = "subject-to-come"


def _with_subject(msg: EmailMessage, subject: str) -> EmailMessage:
    """``msg`` with ``subject`` as RFC 2047 encoded words that keep every space inside them.

    The standard library's header folder (the default policy) splits a long encoded subject at a space
    and leaves that space between two encoded words, where RFC 2047 says a reader drops it: "теңгерімін
    толтыру" arrived as "теңгерімінтолтыру". The legacy :class:`email.header.Header` encodes the
    spaces inside the words; the message is then parsed back, so that its folding is kept as written
    (lines far below the policy's length are never refolded)."""
    import email.header
    from email.parser import BytesParser

    words = email.header.Header(subject, "utf-8", header_name="Subject").encode(linesep="\n")
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\n"))
    raw = raw.replace(f"Subject: {_SUBJECT_TO_COME}\n".encode(), f"Subject: {words}\n".encode("ascii"), 1)
    parsed = BytesParser(_class=EmailMessage, policy=msg.policy).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _Deadline:
    """The time the whole send may take, enforced: when it passes, a watchdog shuts the open connection
    down, which ends the read or write in progress at once (even a TLS handshake). The watchdog holds a
    duplicate of the connection's socket, so it reaches the same connection after STARTTLS wrapped it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._line: socket.socket | None = None
        self._fired = False
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="smtp-deadline", daemon=True)

    def __enter__(self) -> _Deadline:
        self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._watchdog.join()
        self.release()

    @property
    def passed(self) -> bool:
        return self._fired or time.monotonic() >= self._ends

    def read_timeout(self) -> float:
        """The wait for one reply: :data:`READ_TIMEOUT`, or what is left of the deadline when less."""
        return max(0.05, min(READ_TIMEOUT, self._ends - time.monotonic()))

    def reason(self, server: Server) -> str:
        seconds = f"{self.seconds:g}"
        if not i18n.current().english:
            seconds = i18n.number(Decimal(seconds))
        return _("gave up after {seconds} s (--timeout) before {server} had finished").format(
            seconds=seconds, server=server)

    def watch(self, sock: socket.socket) -> None:
        """Put the new connection ``sock`` under the deadline (shut at once when it has passed already)."""
        with self._lock:
            self._release()
            self._line = sock.dup()
            if self._fired:
                self._shut()

    def release(self) -> None:
        with self._lock:
            self._release()

    def _release(self) -> None:
        if self._line is not None:
            self._line.close()
            self._line = None

    def _shut(self) -> None:
        if self._line is not None:
            try:
                self._line.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def _watch(self) -> None:
        if self._stop.wait(max(0.0, self._ends - time.monotonic())):
            return
        with self._lock:
            self._fired = True
            self._shut()


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP whose connection is under the deadline from its first byte, TLS from the start for
    SMTPS, and whose ``DATA`` asks ``self.before_end()`` for leave to send the final dot."""

    def __init__(self, server: Server, context: ssl.SSLContext, deadline: _Deadline) -> None:
        self.server, self.context, self.deadline = server, context, deadline
        self.before_end: Callable[[], bool] | None = None
        self.end_written = False  # the final dot went out and the server has not answered yet
        super().__init__(server.host, server.port, timeout=deadline.read_timeout())

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        # smtplib's own connect reads the greeting before the caller can reach the socket; this one puts
        # the socket under the deadline first, so that a greeting trickled a byte at a time is cut short.
        sys.audit("smtplib.connect", self, host, port)
        raw = socket.create_connection((host, port), self.timeout, source_address)
        self.deadline.watch(raw)
        try:
            self.sock = self.context.wrap_socket(raw, server_hostname=host) if self.server.implicit_tls else raw
        except BaseException:
            raw.close()
            self.deadline.release()
            raise
        self.file = None
        return self.getreply()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.deadline.release()  # the duplicate too, so that the connection really ends

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


class _Refused(Exception):
    """This end will not go on with the connection (no TLS to log in over): the reason, our own words."""


def requeue_unconfirmed(db: Database, tenant: Tenant) -> int:
    """Put rows left ``sending`` by an interrupted run back in the queue. Returns how many."""

    def work(session: Session) -> int:
        result = session.execute(
            sa.update(Notification.__table__)  # type: ignore[attr-defined]
            .where(Notification.__table__.c.tenant_id == tenant.id)  # type: ignore[attr-defined]
            .where(Notification.__table__.c.status == Delivery.SENDING)  # type: ignore[attr-defined]
            .values(status=Delivery.QUEUED, last_error=_("interrupted while being sent; queued again"))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    return db.write(work)


Row = tuple[int, Notification]


def deliver(
    db: Database,
    tenant: Tenant,
    server: Server,
    sender: str,
    *,
    credentials: Credentials | None = None,
    cafile: Path | None = None,
    insecure_login: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> DeliveryReport:
    """Send every queued message of the tenant within ``timeout`` seconds (see the module docstring for
    TLS, the login and what an interruption can do). Each row's state is committed on its own. With
    ``credentials``, log in, over TLS only unless ``insecure_login``."""
    from credits_cli.tenants import check_email

    sender = check_email(sender)
    context = tls_context(cafile)
    with db.read() as session:
        queued = [(n.id or 0, n) for n in list_outbox(session, tenant, status=Delivery.QUEUED)]
        in_doubt = len(list_outbox(session, tenant, status=Delivery.SENDING))
    run = _Run(db, tenant, server, sender, credentials, insecure_login, DeliveryReport(in_doubt_before=in_doubt))
    if not queued:
        return run.report
    with _Deadline(timeout) as deadline:
        todo: list[Row] = queued
        while todo:
            todo = run.connection(todo, context, deadline)
    return run.report


@dataclass
class _Run:
    """One ``deliver``: what it sends with, and the one place its failures are scrubbed and recorded."""

    db: Database
    tenant: Tenant
    server: Server
    sender: str
    credentials: Credentials | None
    insecure_login: bool
    report: DeliveryReport

    def fail(self, rows: Sequence[Row], reason: str, *, recipient: str | None = None) -> None:
        """Back to the queue with ``reason``, scrubbed: the rows' ``last_error`` and the report's error."""
        text = scrub(reason, self.credentials)
        for note_id, _note in rows:
            _record_failure(self.db, note_id, text)
        self.report.failed += len(rows)
        if recipient:
            # TRANSLATORS: an e-mail address, then why the message to it was not delivered.
            text = scrub(_("{recipient}: {error}").format(recipient=recipient, error=text), self.credentials)
        self.report.errors.append(text)

    def connection(self, todo: list[Row], context: ssl.SSLContext, deadline: _Deadline) -> list[Row]:
        """Send over one connection; returns what is left for a new one (after an abandoned row)."""
        if deadline.passed:
            self.fail(todo, deadline.reason(self.server))
            return []
        try:
            smtp = _SMTP(self.server, context, deadline)
        except (OSError, smtplib.SMTPException) as exc:
            self.fail(todo, self._cannot(exc, N_("cannot connect to {server}: {reason}"), deadline))
            return []
        try:
            try:
                self._open(smtp, context)
            except (_Refused, OSError, smtplib.SMTPException) as exc:
                self.fail(todo, self._cannot(exc, N_("nothing was sent to {server}: {reason}"), deadline))
                return []
            return self._send(smtp, todo, deadline)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _cannot(self, exc: BaseException, what: str, deadline: _Deadline) -> str:
        """Why a connection got no message through (``what``: an ``N_`` template with ``{server}`` and
        ``{reason}``, for a failure not told apart below), to be scrubbed."""
        if deadline.passed:
            return deadline.reason(self.server)
        if isinstance(exc, _Refused):
            return str(exc)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return _(
                "the TLS certificate of {server} does not verify ({why}); nothing was sent "
                "(--cafile names the CA of a server with a private one)"
            ).format(server=self.server, why=exc.verify_message)
        if isinstance(exc, ssl.SSLError):
            return _("TLS with {server} failed: {reason}; nothing was sent").format(
                server=self.server, reason=_reason(exc))
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return _("{server} refused the login: {reason}").format(server=self.server, reason=_reason(exc))
        return _(what).format(server=self.server, reason=_reason(exc))

    def _open(self, smtp: _SMTP, context: ssl.SSLContext) -> None:
        """Greet; TLS before any password; log in."""
        smtp.ehlo_or_helo_if_needed()
        if not self.server.implicit_tls:
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif self.credentials is not None and not self.insecure_login:
                raise _Refused(_(
                    "{server} offers no STARTTLS: the SMTP password is not sent in clear text, and nothing "
                    "was sent (use TLS from the start with smtps://{host}:{port} or port "
                    "{port}, or log in anyway with --insecure-login)"
                ).format(server=self.server, host=self.server.host, port=SMTPS_PORT))
            elif self.credentials is not None:
                warning = _("{server} offers no STARTTLS: logging in without TLS (--insecure-login), "
                            "the SMTP password crosses the network in clear text").format(server=self.server)
                if warning not in self.report.warnings:
                    self.report.warnings.append(warning)
        if self.credentials is not None:
            try:
                smtp.login(self.credentials.user, self.credentials.password)
            except UnicodeEncodeError:
                # smtplib sends credentials as ASCII; say so without quoting any of them.
                raise _Refused(
                    _("cannot log in: the SMTP user name or password has characters other than ASCII")
                ) from None

    def _send(self, smtp: _SMTP, todo: list[Row], deadline: _Deadline) -> list[Row]:
        from credits_cli.tenants import check_email

        for index, (note_id, note) in enumerate(todo):
            if deadline.passed:
                self.fail(todo[index:], deadline.reason(self.server))
                return []
            try:
                check_email(note.recipient or "")  # a row queued before the address rules were this strict
                message = _message(note, self.sender, self.tenant.slug)
            except (InvalidInput, ValueError) as exc:
                # TRANSLATORS: "credits admin remove" is a command: keep it as it is.
                self.fail([(note_id, note)], _("not sent: {error} (credits admin remove it)").format(error=exc))
                continue
            smtp.before_end = lambda nid=note_id: _claim(self.db, nid)
            smtp.end_written = False
            try:
                refused = smtp.send_message(message)
            except _Abandon:
                smtp.close()  # no final dot: the server discards this copy
                return todo[index + 1 :]
            except (smtplib.SMTPException, OSError) as exc:
                if _line_lost(exc):
                    # The connection is gone (or the deadline ended it): this row and every row not yet
                    # tried go back to the queue. A message sent to its end without a 250 is not delivered
                    # (RFC 5321 6.1): sent again next time, with the same Message-ID.
                    reason = deadline.reason(self.server) if deadline.passed else _reason(exc)
                    if smtp.end_written:
                        reason = _("the server did not confirm the message ({reason}); queued again, and a "
                                   "copy the server may have kept has the same Message-ID").format(reason=reason)
                    self.fail(todo[index:], reason, recipient=note.recipient)
                    return []
                self.fail([(note_id, note)], _reason(exc), recipient=note.recipient)
                continue
            finally:
                smtp.before_end = None
            if refused:
                self.fail([(note_id, note)], _refusals(refused))
                continue
            _record_sent(self.db, note_id)
            self.report.sent += 1
        return []


def _line_lost(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection is over (dropped, timed out, or 421: the server is closing).
    SMTPException is an OSError: the server's refusals are told apart first."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return not isinstance(exc, smtplib.SMTPException)  # a socket or TLS error


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in refused.items())


def _reason(exc: BaseException) -> str:
    """What went wrong, in the server's words where it gave some (to be scrubbed before use)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refusals(exc.recipients)
    if isinstance(exc, socket.timeout):
        return _("timed out")
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


def _record_failure(db: Database, note_id: int, error: str) -> None:
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
