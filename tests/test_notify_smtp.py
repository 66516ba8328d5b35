"""Delivering the outbox to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.utils
import socket
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from credits_cli import db as dbmod
from credits_cli import ledger, notify, payments, tenants
from tests.helpers import assert_error, assert_json, db_path, dump, pin_now, rows
from tests.smtp import Inbox, certificate, server_tls, smtp_server, wiretap

SENDER = "credits@contoso.com"
PASSWORD = "s3cret-Pa55word!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    def __init__(self, refuse: set[str] | None = None) -> None:
        self.refuse = refuse or set()
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            user, password = data.login.decode(), data.password.decode()
            self.logins.append((user, password))
            if password == PASSWORD:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def start(handler: Collector, **kwargs: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def server() -> Iterator[tuple[Collector, int]]:
    handler = Collector(refuse={"gone@contoso.com"})
    controller, port = start(handler)
    yield handler, port
    controller.stop()


@pytest.fixture
def events(cli, tenant) -> int:
    """Two admins; a charge below zero and a failed recharge: four queued messages."""
    assert cli("admin", "add", "ops@contoso.com", "--role", "global-admin").exit_code == 0
    assert cli("topup", "60").exit_code == 0
    assert cli("autorecharge", "set", "--threshold", "10", "--amount", "50").exit_code == 0
    assert cli("payment", "set", "--card-expiry", "2020-01").exit_code == 0
    database = dbmod.open_database(db_path())

    def work(s):  # type: ignore[no-untyped-def]
        acc = ledger.Account.load(s, tenants.resolve(s, "contoso"))
        acc.charge(Decimal("61"), datetime(2026, 5, 1, 10, 0))
        acc.flush()

    database.write(work)
    queued = rows("SELECT event, recipient FROM notifications WHERE status = 'queued' ORDER BY id")
    assert sorted(queued) == [
        ("balance_zero", "billing@contoso.com"),
        ("balance_zero", "ops@contoso.com"),
        ("recharge_failed", "billing@contoso.com"),
        ("recharge_failed", "ops@contoso.com"),
    ]
    return len(queued)


def test_send_delivers_and_marks_sent(cli, events: int, server: tuple[Collector, int]) -> None:
    handler, port = server
    r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    assert r.exit_code == 0, r.stderr
    assert f"sent {events}, failed 0" in r.stdout
    assert len(handler.messages) == events
    by_key = {(m["To"], m["X-Credits-Event"]): (mail_from, rcpts, m) for mail_from, rcpts, m in handler.messages}
    mail_from, rcpts, msg = by_key[("ops@contoso.com", "recharge_failed")]
    assert mail_from == SENDER and rcpts == ["ops@contoso.com"]
    assert msg["From"] == SENDER
    assert msg["Subject"] == "[contoso] Communications Credits recharge FAILED"
    body = msg.get_payload(decode=True).decode()
    assert "Contoso" in body and "50.00 USD" in body and "expired" in body and "credits payment set" in body
    _, _, zero = by_key[("billing@contoso.com", "balance_zero")]
    assert zero["Subject"] == "[contoso] Communications Credits balance reached zero"
    assert "-1.00 USD" in zero.get_payload(decode=True).decode()
    assert rows("SELECT count(*) FROM notifications WHERE status = 'sent' AND sent_at IS NOT NULL "
                "AND attempts = 1 AND last_error IS NULL") == [(events,)]
    listed = assert_json(cli("notifications", "--json"))
    assert {n["status"] for n in listed} == {"sent"} and all(n["sent_at"].endswith("Z") for n in listed)
    # A second send sends nothing.
    doc = assert_json(cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER, "--json"))
    assert doc == {"sent": 0, "failed": 0, "errors": [], "requeued": 0, "unconfirmed": 0}
    assert len(handler.messages) == events


def test_refused_recipient_stays_queued(cli, tenant, server: tuple[Collector, int]) -> None:
    handler, port = server
    assert cli("admin", "add", "gone@contoso.com", "--role", "billing-admin").exit_code == 0
    database = dbmod.open_database(db_path())
    database.write(lambda s: notify.queue_event(s, tenants.resolve(s, None), "balance_zero",
                                                datetime(2026, 5, 1), balance=Decimal("0")))
    r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    err = assert_error(r, "1 message(s) not delivered", "550")
    assert "sent 1, failed 1" in r.stdout
    assert [m["To"] for _, _, m in handler.messages] == ["billing@contoso.com"]
    assert rows("SELECT recipient, status, attempts FROM notifications ORDER BY recipient") == [
        ("billing@contoso.com", "sent", 1),
        ("gone@contoso.com", "queued", 1),
    ]
    (error,) = rows("SELECT last_error FROM notifications WHERE status = 'queued'")[0]
    assert "550" in error and "mailbox unavailable" in error
    assert "gone@contoso.com" in err or "550" in err
    # Tried again next time, still refused, attempts counted.
    assert cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER).exit_code == 1
    assert rows("SELECT attempts FROM notifications WHERE status = 'queued'") == [(2,)]
    assert len(handler.messages) == 1


def test_no_server_listening(cli, events: int) -> None:
    port = free_port()
    before = rows("SELECT id, status FROM notifications ORDER BY id")
    r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    assert_error(r, "not delivered", f"127.0.0.1:{port}")
    assert rows("SELECT id, status FROM notifications ORDER BY id") == before
    errors = rows("SELECT last_error FROM notifications WHERE status = 'queued'")
    assert len(errors) == events and all(e and "cannot connect" in e for (e,) in errors)


def test_environment_variables(cli, events: int, server: tuple[Collector, int],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = server
    monkeypatch.setenv("CREDITS_SMTP", f"127.0.0.1:{port}")
    monkeypatch.setenv("CREDITS_SENDER", SENDER)
    r = cli("notifications", "send")
    assert r.exit_code == 0, r.stderr
    assert len(handler.messages) == events
    assert {mail_from for mail_from, _, _ in handler.messages} == {SENDER}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "no SMTP server"),
        (["--smtp", "127.0.0.1:25"], "no sender"),
        (["--smtp", "127.0.0.1:notaport", "--sender", SENDER], "HOST:PORT"),
        (["--smtp", "127.0.0.1:70000", "--sender", SENDER], "HOST:PORT"),
        (["--smtp", "127.0.0.1:²", "--sender", SENDER], "HOST:PORT"),
        (["--smtp", ":25", "--sender", SENDER], "HOST:PORT"),
        (["--smtp", "127.0.0.1:25", "--sender", "not an address"], "e-mail"),
    ],
)
def test_bad_options(cli, events: int, args: list[str], needle: str) -> None:
    before = dump()
    assert_error(cli("notifications", "send", *args), needle)
    assert dump() == before


def test_smtp_auth_password_never_shown_or_stored(cli, events: int, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    handler = Collector()
    controller, port = start(handler, tls_context=server_tls(cert, key), authenticator=handler.authenticate,
                             auth_required=True)
    try:
        monkeypatch.setenv("CREDITS_SMTP_CAFILE", str(cert))
        monkeypatch.setenv("CREDITS_SMTP_USER", "mailer")
        monkeypatch.setenv("CREDITS_SMTP_PASSWORD", "wrong-" + PASSWORD)
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
        err = assert_error(r, "not delivered")
        assert PASSWORD not in r.output and PASSWORD not in err
        assert handler.messages == []
        assert rows("SELECT count(*) FROM notifications WHERE status = 'queued'") == [(events,)]
        errors = rows("SELECT last_error FROM notifications WHERE status = 'queued'")
        assert all(e for (e,) in errors), "a failed login is recorded on the rows it kept"

        monkeypatch.setenv("CREDITS_SMTP_PASSWORD", PASSWORD)
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
        assert r.exit_code == 0, r.stderr
        assert PASSWORD not in r.output
        assert handler.logins[-1] == ("mailer", PASSWORD)
        assert len(handler.messages) == events
    finally:
        controller.stop()
    assert not any(PASSWORD in line for line in dump())


def test_outbox_listing(cli, events: int) -> None:
    r = cli("notifications")
    assert r.exit_code == 0 and "recharge_failed" in r.stdout and "queued" in r.stdout
    queued = assert_json(cli("notifications", "--status", "queued", "--json"))
    assert len(queued) == events
    assert assert_json(cli("notifications", "--status", "sent", "--json")) == []


def test_no_admin_means_no_recipient(cli) -> None:
    assert cli("tenant", "add", "c", "--name", "C", "--country", "US").exit_code == 0
    database = dbmod.open_database(db_path())

    def work(s):  # type: ignore[no-untyped-def]
        t = tenants.resolve(s, None)
        payments.set_invoice(s, t)
        notify.queue_event(s, t, "balance_zero", datetime(2026, 5, 1), balance=Decimal("0"))

    database.write(work)
    doc = assert_json(cli("notifications", "--json"))
    assert [(d["status"], d["recipient"]) for d in doc] == [("no_recipient", None)]
    r = cli("notifications")
    assert "(no admin)" in r.stdout
    # Nothing queued: nothing to send, no connection needed.
    assert cli("notifications", "send", "--smtp", f"127.0.0.1:{free_port()}", "--sender", SENDER).exit_code == 0


class Dropper(Collector):
    """Accepts the first message, then hangs up in the middle of the second."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.messages:
            server.transport.close()
            return "421 4.3.2 going away"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_server_hanging_up_keeps_the_rest_queued(cli, events: int) -> None:
    handler = Dropper()
    controller, port = start(handler)
    try:
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    finally:
        controller.stop()
    assert_error(r, "not delivered")
    assert len(handler.messages) == 1
    assert f"sent 1, failed {events - 1}" in r.stdout
    assert rows("SELECT count(*) FROM notifications WHERE status = 'sent'") == [(1,)]
    kept = rows("SELECT attempts, last_error FROM notifications WHERE status = 'queued'")
    assert len(kept) == events - 1 and all(a == 1 and e for a, e in kept)


# --- a deadline for the whole send --------------------------------------------------------------------


def test_trickling_server_ends_within_the_deadline(cli, events: int, server: tuple[Collector, int]) -> None:
    """The greeting comes one byte every 0.3 s: a timeout per read never fires, the deadline does."""
    handler, port = server
    with wiretap(f"127.0.0.1:{port}", trickle=0.3) as tap:
        began = time.monotonic()
        r = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER, "--timeout", "1")
        took = time.monotonic() - began
    assert took < 3.5, took
    assert_error(r, f"{events} message(s) not delivered", "gave up after 1 s (--timeout)")
    assert handler.messages == []
    kept = rows("SELECT status, last_error FROM notifications")
    assert [s for s, _ in kept] == ["queued"] * events and all("gave up after 1 s" in e for _, e in kept)


def test_slow_answers_end_within_the_deadline_and_the_rest_waits(cli, events: int) -> None:
    """Each message is answered after 0.5 s; the deadline (1.2 s) falls while one waits for its answer."""
    handler = Collector()
    slow = Inbox(delay=0.5)
    with smtp_server(slow) as (address, inbox):
        began = time.monotonic()
        r = cli("notifications", "send", "--smtp", address, "--sender", SENDER, "--timeout", "1.2")
        took = time.monotonic() - began
        assert took < 3.5, took
        assert_error(r, "not delivered", "gave up after 1.2 s (--timeout)")
        statuses = [s for (s,) in rows("SELECT status FROM notifications ORDER BY id")]
        assert "sending" not in statuses and 1 <= statuses.count("queued") < events
        sent_ids = {f"<credits-contoso-{i}@contoso.com>" for (i,) in rows(
            "SELECT id FROM notifications WHERE status = 'sent'")}
        assert sent_ids <= set(inbox.message_ids()), "marked sent but never accepted"
    # The next run, with time enough, sends what was left.
    controller, port = start(handler)
    try:
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    finally:
        controller.stop()
    assert r.exit_code == 0, r.stderr
    assert rows("SELECT count(*) FROM notifications WHERE status = 'sent'") == [(events,)]


# --- a connection the server drops in the middle of a message -------------------------------------


class HangsUpOnce(Collector):
    """Drops the connection after the first message's final dot, without answering (and without keeping
    the message); accepts everything afterwards."""

    hung_up = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.hung_up:
            self.hung_up = True
            server.transport.abort()
            return "250 never heard"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("where", ["after-the-final-dot", "within-the-message"])
def test_connection_dropped_mid_data_is_sent_again(cli, events: int, where: str) -> None:
    handler = HangsUpOnce() if where == "after-the-final-dot" else Collector()
    controller, port = start(handler)
    try:
        cut = None if where == "after-the-final-dot" else b"X-Credits-Event"
        with wiretap(f"127.0.0.1:{port}", cut_at=cut) as tap:
            r = cli("notifications", "send", "--smtp", tap.address, "--sender", SENDER)
        err = assert_error(r, f"{events} message(s) not delivered")
        assert f"sent 0, failed {events}" in r.stdout
        if where == "after-the-final-dot":
            assert "did not confirm" in err and "same Message-ID" in err
        assert handler.messages == []
        kept = rows("SELECT status, attempts, last_error FROM notifications ORDER BY id")
        assert [(s, a) for s, a, _ in kept] == [("queued", 1)] * events and all(e for _, _, e in kept)
        (first_id,) = rows("SELECT min(id) FROM notifications")[0]
        # The next send delivers them all, the interrupted one with the Message-ID it had.
        r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
        assert r.exit_code == 0, r.stderr
        assert f"sent {events}, failed 0" in r.stdout
    finally:
        controller.stop()
    assert rows("SELECT count(*) FROM notifications WHERE status = 'sent' AND last_error IS NULL") == [(events,)]
    ids = [m["Message-ID"] for _, _, m in handler.messages]
    assert f"<credits-contoso-{first_id}@contoso.com>" in ids and len(set(ids)) == events


# --- what the message says -----------------------------------------------------------------------


def test_date_is_when_queued_and_the_body_says_when_it_happened(cli, tenant, server: tuple[Collector, int],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = server
    pin_now(monkeypatch, "2026-11-02T09:00:00Z")  # importing October's calls in November
    database = dbmod.open_database(db_path())
    database.write(lambda s: notify.queue_event(s, tenants.resolve(s, None), "balance_zero",
                                                datetime(2026, 10, 29, 14, 2, 31), balance=Decimal("0")))
    assert assert_json(cli("notifications", "--json"))[0]["created_at"] == "2026-11-02T09:00:00Z"
    pin_now(monkeypatch, "2026-11-02T10:00:00Z")  # sent an hour later
    r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    assert r.exit_code == 0, r.stderr
    (_, _, msg), = handler.messages
    assert email.utils.parsedate_to_datetime(msg["Date"]) == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    body = msg.get_payload(decode=True).decode()
    assert "Happened at: 2026-10-29 14:02 UTC" in body


def test_a_stored_address_with_a_control_character_is_not_sent(cli, events: int,
                                                               server: tuple[Collector, int]) -> None:
    """A row queued before the address rules refused control characters: kept back, the others go."""
    handler, port = server
    con = sqlite3.connect(db_path())
    with con:
        con.execute("UPDATE notifications SET recipient = 'ops\x07x@contoso.com' WHERE recipient = 'ops@contoso.com'")
    con.close()
    r = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    err = assert_error(r, "2 message(s) not delivered", "control character", "U+0007")
    assert "\x07" not in err + r.stdout
    assert sorted(m["To"] for _, _, m in handler.messages) == ["billing@contoso.com"] * 2
    assert rows("SELECT count(*) FROM notifications WHERE status = 'queued' AND last_error LIKE '%U+0007%'") == [(2,)]


def test_timeout_default_is_the_one_of_notify() -> None:
    from credits_cli.cli import notifications

    assert notifications.DEFAULT_TIMEOUT == notify.DEFAULT_TIMEOUT
