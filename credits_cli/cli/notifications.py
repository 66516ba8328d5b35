"""``notifications``: the outbox, and delivery over SMTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from credits_cli.cli.common import Json, fail, print_json, say, state, table, warn

#: ``--timeout``'s default, in seconds (the same as notify.DEFAULT_TIMEOUT; notify loads with the command).
DEFAULT_TIMEOUT = 60.0

notifications_app = typer.Typer(help="The outbox of e-mails to admins, and delivery over SMTP.")


def register(app: typer.Typer) -> None:
    app.add_typer(notifications_app, name="notifications")


@notifications_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="queued | sending | sent | no_recipient.")] = None,
    json_out: Json = False,
) -> None:
    """List the outbox (subcommand `send` delivers it)."""
    if ctx.invoked_subcommand is not None:
        return
    from credits_cli import clock, notify
    from credits_cli.kinds import Delivery

    if status is not None and status not in tuple(Delivery):
        *head, last = Delivery
        fail(f"--status {status!r} must be {', '.join(head)} or {last}")
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        notes = notify.list_outbox(s, t, status)
    docs: list[dict[str, Any]] = [
        {
            "id": n.id,
            "event": n.event,
            "recipient": n.recipient,
            "subject": n.subject,
            "status": n.status,
            "created_at": n.created_at,
            "sent_at": n.sent_at,
            "attempts": n.attempts,
            "last_error": n.last_error,
        }
        for n in notes
    ]
    if json_out:
        print_json(docs)
    elif not docs:
        say("the outbox is empty")
    else:
        table(
            "outbox",
            ["#", "created", "event", "to", "status", "error"],
            [
                [
                    d["id"],
                    clock.iso(d["created_at"]),
                    d["event"],
                    d["recipient"] or "(no admin)",
                    d["status"],
                    d["last_error"] or "",
                ]
                for d in docs
            ],
        )


@notifications_app.command("send")
def send(
    ctx: typer.Context,
    smtp: Annotated[
        str | None,
        typer.Option(
            "--smtp",
            envvar="CREDITS_SMTP",
            help="SMTP server: HOST:PORT (STARTTLS when offered), or smtps://HOST:PORT or port 465 "
            "(TLS from the first byte).",
        ),
    ] = None,
    sender: Annotated[str | None, typer.Option("--sender", envvar="CREDITS_SENDER", help="From address.")] = None,
    cafile: Annotated[
        Path | None,
        typer.Option(
            "--cafile",
            help="PEM file of the CAs to trust for the server's certificate, instead of the system's "
            "(default: CREDITS_SMTP_CAFILE).",
        ),
    ] = None,
    insecure_login: Annotated[
        bool,
        typer.Option(
            "--insecure-login",
            help="Log in even when the server offers no TLS: the password then crosses the network in clear text.",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            max=86400,
            help="Seconds the whole send may take; what is not sent by then stays queued.",
        ),
    ] = DEFAULT_TIMEOUT,
    resend_unconfirmed: Annotated[
        bool,
        typer.Option(
            "--resend-unconfirmed",
            help="Queue again the messages an interrupted run left 'sending' (they may have arrived; "
            "the copy has the same Message-ID).",
        ),
    ] = False,
    json_out: Json = False,
) -> None:
    """Deliver queued messages; each is marked sent only once the server accepted it.

    A message the server did not confirm (the connection dropped or timed out) stays
    queued and is sent again next time. A message whose sending was interrupted by
    this process dying (crash, kill) stays 'sending' and is not sent again unless
    --resend-unconfirmed is given, so a rerun never delivers a message twice.

    Set CREDITS_SMTP_USER and CREDITS_SMTP_PASSWORD in the environment to log in.
    The password is sent only over TLS (STARTTLS, or smtps://), unless --insecure-login,
    and is never printed or stored.
    """
    from credits_cli import notify

    if not smtp:
        fail("no SMTP server: give --smtp HOST:PORT or set CREDITS_SMTP")
    if not sender:
        fail("no sender address: give --sender ADDR or set CREDITS_SENDER")
    server = notify.parse_smtp(smtp)
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
    password = st.settings.smtp_password
    credentials = notify.Credentials(st.settings.smtp_user or sender, password) if password else None
    requeued = notify.requeue_unconfirmed(st.db, t) if resend_unconfirmed else 0
    report = notify.deliver(
        st.db,
        t,
        server,
        sender,
        credentials=credentials,
        cafile=cafile or st.settings.smtp_cafile,
        insecure_login=insecure_login,
        timeout=timeout,
    )
    for warning in report.warnings:
        warn(warning)
    errors = [notify.scrub(e, credentials) for e in report.errors]
    unconfirmed = report.in_doubt_before
    doc = {
        "sent": report.sent,
        "failed": report.failed,
        "unconfirmed": unconfirmed,
        "requeued": requeued,
        "errors": errors,
    }
    if json_out:
        print_json(doc)
    else:
        say(f"sent {report.sent}, failed {report.failed}" + (f", unconfirmed {unconfirmed}" if unconfirmed else ""))
    if unconfirmed:
        warn(
            f"{unconfirmed} message(s) were interrupted while being handed to the server and may or may not have "
            "arrived (status 'sending'); they are not sent again unless you run "
            "credits notifications send --resend-unconfirmed"
        )
    if report.failed:
        first = errors[0] if errors else "delivery failed"
        fail(f"{report.failed} message(s) not delivered, kept in the outbox: {first}")
