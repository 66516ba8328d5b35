"""``notifications``: the outbox, and delivery over SMTP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from credits_cli.cli.common import (
    Col,
    DocOutputOpt,
    Json,
    Limit,
    Newest,
    OutputOpt,
    emit,
    examples,
    fail,
    limited,
    output_mode,
    print_json,
    say,
    short_time,
    state,
    warn,
)
from credits_cli.kinds import Delivery

#: ``--timeout``'s default, in seconds (the same as notify.DEFAULT_TIMEOUT; notify loads with the command).
DEFAULT_TIMEOUT = 60.0

notifications_app = typer.Typer(help="The outbox of e-mails to admins, and delivery over SMTP.",
                                epilog=examples("credits notifications --status queued",
                                                "credits notifications --newest --limit 10 -o csv"))


def register(app: typer.Typer) -> None:
    app.add_typer(notifications_app, name="notifications")


NOTE_KEYS = ["id", "event", "recipient", "subject", "status", "created_at", "sent_at", "attempts", "last_error"]


@notifications_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    status: Annotated[
        Delivery | None,
        typer.Option("--status", case_sensitive=False, show_default=False, help="Only messages in this state."),
    ] = None,
    limit: Limit = None,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """List the outbox (subcommand `send` delivers it)."""
    if ctx.invoked_subcommand is not None:
        return
    from credits_cli import notify

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        notes = notify.list_outbox(s, t, status.value if status else None)
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
    docs, total = limited(docs, limit, newest, "id")
    from credits_cli.i18n import _, npgettext

    emit(
        mode, docs, title=_("outbox"), noun=lambda n: npgettext("listing", "message", "messages", n), total=total,
        keys=NOTE_KEYS,
        empty=_("the outbox is empty"),
        columns=[Col("#", keep=4), Col(_("created")), Col(_("event"), shrink=12), Col(_("to"), keep=2, shrink=12),
                 Col(_("status")), Col(_("error"), keep=1, shrink=12)],
        row=lambda d: [d["id"], short_time(d["created_at"]), d["event"], d["recipient"] or _("(no admin)"),
                       d["status"], d["last_error"] or ""],
    )


@notifications_app.command("send", epilog=examples(
    "credits notifications send --smtp mx.contoso.com:587 --sender me@contoso.com",
    "credits notifications send --all-tenants   # CREDITS_SMTP and _SENDER set",
))
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
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Deliver every tenant's outbox, one after another.")
    ] = False,
    output: DocOutputOpt = None,
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
    import time

    from credits_cli import i18n, notify, phrases, tenants
    from credits_cli.i18n import _, ngettext

    json_out = output_mode(output, json_out) == "json"
    if not smtp:
        fail(_("no SMTP server: give --smtp HOST:PORT or set CREDITS_SMTP"))
    if not sender:
        fail(_("no sender address: give --sender ADDR or set CREDITS_SENDER"))
    server = notify.parse_smtp(smtp)
    st = state(ctx)
    with st.db.read() as s:
        chosen = tenants.list_tenants(s) if all_tenants else [st.tenant(s)]
    password = st.settings.smtp_password
    credentials = notify.Credentials(st.settings.smtp_user or sender, password) if password else None
    started = time.monotonic()
    per_tenant: list[dict[str, Any]] = []
    late: list[str] = []
    for t in chosen:
        # one deadline for the whole send, every tenant (the first has all of it, as it was said)
        left = timeout - (time.monotonic() - started) if per_tenant or late else timeout
        if left <= 0:
            late.append(t.slug)
            continue
        requeued = notify.requeue_unconfirmed(st.db, t) if resend_unconfirmed else 0
        report = notify.deliver(
            st.db,
            t,
            server,
            sender,
            credentials=credentials,
            cafile=cafile or st.settings.smtp_cafile,
            insecure_login=insecure_login,
            timeout=left,
        )
        for warning in report.warnings:
            warn(f"{t.slug}: {phrases.said(warning)}" if all_tenants else phrases.said(warning))
        per_tenant.append({
            "tenant": t.slug,
            "sent": report.sent,
            "failed": report.failed,
            "unconfirmed": report.in_doubt_before,
            "requeued": requeued,
            "errors": [notify.scrub(e, credentials) for e in report.errors],
        })
    sent, failed, unconfirmed = (sum(int(d[k]) for d in per_tenant) for k in ("sent", "failed", "unconfirmed"))
    errors: list[str] = [e for d in per_tenant for e in d["errors"]]
    doc: dict[str, Any] = {
        "sent": sent,
        "failed": failed,
        "unconfirmed": unconfirmed,
        "requeued": sum(d["requeued"] for d in per_tenant),
        "errors": errors,
    }
    if all_tenants:
        doc |= {"tenants": per_tenant, "not_reached": late}
    if json_out:
        print_json(doc)
    else:
        def counts(sent: int, failed: int, unconfirmed: int) -> str:
            if unconfirmed:
                return _("sent {sent}, failed {failed}, unconfirmed {unconfirmed}").format(
                    sent=i18n.number(sent), failed=i18n.number(failed), unconfirmed=i18n.number(unconfirmed))
            return _("sent {sent}, failed {failed}").format(sent=i18n.number(sent), failed=i18n.number(failed))

        if all_tenants:
            for d in per_tenant:
                say(f"{d['tenant']}: " + counts(d["sent"], d["failed"], d["unconfirmed"]))
        say(counts(sent, failed, unconfirmed))
    if unconfirmed:
        warn(ngettext(
            "{n} message(s) were interrupted while being handed to the server and may or may not have "
            "arrived (status 'sending'); they are not sent again unless you run "
            "credits notifications send --resend-unconfirmed",
            "{n} message(s) were interrupted while being handed to the server and may or may not have "
            "arrived (status 'sending'); they are not sent again unless you run "
            "credits notifications send --resend-unconfirmed", unconfirmed).format(n=unconfirmed))
    if failed:
        # TRANSLATORS: {first} is the first delivery error (the mail server's words, often English)
        first = errors[0] if errors else _("delivery failed")
        fail(ngettext("{n} message(s) not delivered, kept in the outbox: {first}",
                      "{n} message(s) not delivered, kept in the outbox: {first}", failed).format(
                          n=failed, first=first))
    if late:
        # TRANSLATORS: {tenants} is a comma-separated list of tenant slugs
        fail(_("--timeout ran out before {tenants}: their messages stay queued").format(tenants=", ".join(late)))
