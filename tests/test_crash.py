"""SIGKILL at random moments: nothing half-written, nothing lost, nothing twice.

Real processes killed with SIGKILL (no chance to clean up), on SQLite and,
with ``CREDITS_TEST_DATABASE_URL``, on PostgreSQL. The kill-and-rerun harness
is in tests/crash.py.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from email.message import Message
from pathlib import Path

from sqlmodel import Session, col, select

from credits_cli import clock, ledger, notify, payments, tenants
from credits_cli import db as dbmod
from credits_cli.models import LedgerEntry, Lot, Notification, Tenant
from tests import crash, procs
from tests.smtp import Inbox, smtp_server

NOW = "2026-11-02T09:00:00Z"


@contextmanager
def opened(value: str) -> Iterator[dbmod.Database]:
    database = dbmod.Database(dbmod.resolve_url(value))
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


def make_tenant(value: str, admins: int = 1) -> None:
    with opened(value) as database:

        def work(s: Session) -> None:
            t = tenants.add_tenant(s, "contoso", name="Contoso", country="US", billing_country="US", currency="USD")
            payments.set_card(s, t, "2099-12", "4242")
            for i in range(admins):
                tenants.add_admin(s, t, f"admin{i}@contoso.com", "billing-admin")

        database.write(work)


# --- topup --------------------------------------------------------------------------


def purchases(value: str) -> list[tuple[Decimal, str, Decimal]]:
    """Every lot with its purchase entry; fails when a lot and its entry are not both there."""
    with opened(value) as database, database.read() as s:
        t = s.exec(select(Tenant)).one()
        lots = {lot.id: lot for lot in s.exec(select(Lot).where(Lot.tenant_id == t.id))}
        entries = s.exec(select(LedgerEntry).where(LedgerEntry.kind == "topup")).all()
        by_lot = Counter(e.lot_id for e in entries)
        assert all(e.lot_id in lots for e in entries), "a purchase entry without its lot"
        assert all(by_lot[lot_id] == 1 for lot_id in lots), "a lot without exactly one purchase entry"
        for e in entries:
            assert e.amount == lots[e.lot_id].amount
        ledger.verify(s, t)
        assert ledger.balance(s, t) == sum((lot.amount for lot in lots.values()), Decimal(0))
        return sorted((lot.amount, lot.note, lot.remaining) for lot in lots.values())


def test_topup_killed_at_random_is_all_or_nothing(tmp_path: Path) -> None:
    db = procs.new_database(tmp_path, "topup")
    make_tenant(db)
    env = procs.cli_env(db, CREDITS_NOW=NOW)
    took = []
    for _ in range(2):  # the faster of two clean runs sets the span of the kill delays
        seconds, first = crash.timed_run(db, ["topup", "75", "--json"], env)
        assert first.returncode == 0, first.stderr
        took.append(seconds)
    seen: list[int] = []

    def check(_i: int) -> None:
        seen.append(len(purchases(db)))  # consistent after every kill

    report = crash.kill_and_rerun(
        db, ["topup", "75", "--json"], seed=6, kills=8, span=(min(took) * 0.2, min(took) * 1.1), env=env, check=check
    )
    assert report.killed >= 1
    final = purchases(db)
    # Each run added one whole purchase or none; a finished run always did.
    assert seen == sorted(seen) and all(b - a in (0, 1) for a, b in zip([2, *seen], seen, strict=False))
    assert len(final) == seen[-1] + 1
    assert len(final) >= 3 + report.finished
    assert procs.run(db, "verify", env=env).returncode == 0
    balance = json.loads(procs.run(db, "balance", "--json", env=env).stdout)
    assert Decimal(balance["balance"]) == Decimal(75) * len(final)


# --- notifications send ---------------------------------------------------------------


def queue_messages(value: str, events: int) -> int:
    with opened(value) as database:

        def work(s: Session) -> int:
            t = s.exec(select(Tenant)).one()
            n = 0
            for i in range(events):
                n += notify.queue_event(s, t, "balance_zero", datetime(2026, 11, 1, 8, i), balance=Decimal(0))
            return n

        return database.write(work)


def outbox(value: str) -> dict[str, str]:
    """Message-ID -> status, for every row of the outbox."""
    with opened(value) as database, database.read() as s:
        rows = s.exec(select(Notification).order_by(col(Notification.id))).all()
        return {f"<credits-contoso-{n.id}@credits.example>": n.status for n in rows}


def send_env(db: str, address: str) -> dict[str, str]:
    return procs.cli_env(db, CREDITS_SMTP=address, CREDITS_SENDER="credits@credits.example", CREDITS_NOW=NOW)


def test_notifications_killed_at_random_never_marked_sent_unaccepted_nor_sent_twice(tmp_path: Path) -> None:
    db = procs.new_database(tmp_path, "outbox")
    make_tenant(db, admins=4)
    total = queue_messages(db, 10)
    assert total == 40
    with smtp_server(Inbox(delay=0.04)) as (address, inbox):
        env = send_env(db, address)
        report = crash.kill_and_rerun(
            db,
            ["notifications", "send", "--json"],
            seed=11,
            kills=6,
            span=(0.3, 4.0),
            env=env,
            check=lambda _i: _no_false_sent(outbox(db), inbox),
            done=lambda r: r.returncode == 0 and not any(s == "queued" for s in outbox(db).values()),
        )
        received = Counter(inbox.message_ids())
        rows = outbox(db)
    assert report.killed >= 1
    assert not [mid for mid, n in received.items() if n > 1], "a message was delivered twice"
    _no_false_sent(rows, inbox)
    assert set(rows.values()) <= {"sent", "sending"}
    in_doubt = [mid for mid, status in rows.items() if status == "sending"]
    # A row can be left in doubt only by a kill that struck between claiming it and recording the answer.
    assert len(in_doubt) <= report.killed
    # Every message that is not in doubt arrived, exactly once.
    assert {mid for mid, status in rows.items() if status == "sent"} == set(received) - set(in_doubt)


def _no_false_sent(rows: dict[str, str], inbox: Inbox) -> None:
    accepted = set(inbox.message_ids())
    false = [mid for mid, status in rows.items() if status == "sent" and mid not in accepted]
    assert not false, f"marked sent but never accepted: {false}"


def test_kill_after_the_server_took_the_message_leaves_it_in_doubt_not_resent(tmp_path: Path) -> None:
    """The one window no client can close: the server has the message, the sender dies before
    recording it. The rerun does not send it again; --resend-unconfirmed does, with the same Message-ID."""
    db = procs.new_database(tmp_path, "doubt")
    make_tenant(db, admins=3)
    queue_messages(db, 1)
    victim: dict[str, object] = {}

    def kill_sender_on_second(message: Message) -> str | None:
        if message["Message-ID"].startswith("<credits-contoso-2@") and "pid" in victim:
            os.kill(int(str(victim.pop("pid"))), signal.SIGKILL)
            inbox.accepted.append(message)  # the server keeps it; the client never hears 250
            return "250 OK"
        return None

    with smtp_server(Inbox(on_data=kill_sender_on_second)) as (address, inbox):
        env = send_env(db, address)
        child = procs.start(db, "notifications", "send", env=env)
        victim["pid"] = child.pid
        child.communicate(timeout=120)
        assert child.returncode == -signal.SIGKILL
        rows = outbox(db)
        assert list(rows.values()) == ["sent", "sending", "queued"]

        rerun = procs.run(db, "notifications", "send", "--json", env=env)
        doc = json.loads(rerun.stdout)
        assert doc["sent"] == 1 and doc["unconfirmed"] == 1
        assert "--resend-unconfirmed" in rerun.stderr
        assert list(outbox(db).values()) == ["sent", "sending", "sent"]
        assert sorted(Counter(inbox.message_ids()).values()) == [1, 1, 1]

        again = procs.run(db, "notifications", "send", "--resend-unconfirmed", "--json", env=env)
        assert json.loads(again.stdout)["sent"] == 1
        assert list(outbox(db).values()) == ["sent", "sent", "sent"]
        ids = Counter(inbox.message_ids())
    # The copy is recognisable as the same message at the receiving end.
    assert ids["<credits-contoso-2@credits.example>"] == 2


def test_refused_message_goes_back_to_the_queue(tmp_path: Path) -> None:
    db = procs.new_database(tmp_path, "refused")
    make_tenant(db, admins=2)
    queue_messages(db, 1)
    with smtp_server(Inbox(on_data=lambda m: "554 no thanks" if "-1@" in m["Message-ID"] else None)) as (
        address,
        inbox,
    ):
        result = procs.run(db, "notifications", "send", env=send_env(db, address), check=False)
        assert result.returncode == 1
        assert "554" in result.stderr
        assert list(outbox(db).values()) == ["queued", "sent"]
        assert inbox.message_ids() == ["<credits-contoso-2@credits.example>"]


def test_two_senders_at_once_deliver_each_message_once(tmp_path: Path) -> None:
    db = procs.new_database(tmp_path, "race")
    make_tenant(db, admins=5)
    queue_messages(db, 4)
    with smtp_server(Inbox(delay=0.01)) as (address, inbox):
        env = send_env(db, address)
        children = [procs.start(db, "notifications", "send", env=env) for _ in range(3)]
        for child in children:
            child.communicate(timeout=300)
            assert child.returncode == 0
        rows = outbox(db)
        ids = Counter(inbox.message_ids())
    assert set(rows.values()) == {"sent"}
    assert set(ids) == set(rows) and set(ids.values()) == {1}


# --- housekeeping: a killed write-off, rerun, equals one clean write-off ----------------


def test_expiry_write_off_killed_and_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    def setup(value: str) -> None:
        make_tenant(value)
        with opened(value) as database:

            def work(s: Session) -> None:
                t = s.exec(select(Tenant)).one()
                for month in (1, 3, 5):
                    clock.pin(datetime(2025, month, 10, 12))  # each bought, and booked, in its month
                    ledger.topup(s, t, Decimal(60 + month), note=f"m{month}", at=datetime(2025, month, 10, 12))
                clock.pin(None)

            database.write(work)

    def snapshot(value: str) -> list[tuple[str, str, Decimal, str]]:
        with opened(value) as database, database.read() as s:
            t = s.exec(select(Tenant)).one()
            ledger.verify(s, t)
            lots = {lot.id: lot.note for lot in s.exec(select(Lot))}
            return sorted(
                (e.kind, e.service_at.isoformat(), e.amount, lots.get(e.lot_id, "")) for e in ledger.entries(s, t)
            )

    expected, report = crash.assert_same_as_clean_run(
        tmp_path,
        ["balance", "--json"],
        setup=setup,
        snapshot=snapshot,
        seed=3,
        kills=4,
        env=lambda value: procs.cli_env(value, CREDITS_NOW="2026-04-01T00:00:00Z"),
    )
    assert [x[0] for x in expected].count("expiry") == 2  # the January and March lots; May's is still good
    assert report.reruns >= 1

