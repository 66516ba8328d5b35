"""``tenant``, ``admin``, ``user`` and ``license``: who the organisation is."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli.cli.common import At, Json, at_moment, fail, print_json, say, state, table, warn

if TYPE_CHECKING:
    from credits_cli.models import Admin, Tenant, User


tenant_app = typer.Typer(help="Organisations whose balance this database keeps.", no_args_is_help=True)
admin_app = typer.Typer(help="Admins notified of recharges, failures and a zero balance.", no_args_is_help=True)
user_app = typer.Typer(help="Users, their calling plans and Audio Conferencing.", no_args_is_help=True)
license_app = typer.Typer(help="The Communications Credits license (MCOPSTNC).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(admin_app, name="admin")
    app.add_typer(user_app, name="user")
    app.add_typer(license_app, name="license")


def tenant_doc(t: Tenant) -> dict[str, Any]:
    return {
        "slug": t.slug,
        "name": t.name,
        "country": t.country,
        "billing_country": t.billing_country,
        "currency": t.currency,
        "created_at": t.created_at,
    }


def user_doc(u: User) -> dict[str, Any]:
    return {
        "upn": u.upn,
        "name": u.name,
        "country": u.country,
        "plan": u.plan,
        "conferencing": u.conferencing,
        "licensed": u.licensed,
        "licensed_at": u.licensed_at,
    }


def admin_doc(a: Admin) -> dict[str, Any]:
    from credits_cli.refdata import service

    return {"email": a.email, "role": a.role, "role_name": service().admin_roles.get(a.role, a.role)}


# --- tenant ---------------------------------------------------------------------------


@tenant_app.command("add")
def tenant_add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Short id: lower-case letters, digits, dashes.")],
    name: Annotated[str, typer.Option("--name", help="Display name of the organisation.")],
    country: Annotated[str, typer.Option("--country", help="Where the tenant is homed (ISO alpha-2).")],
    billing_country: Annotated[
        str | None, typer.Option("--billing-country", help="Billing address country (default: --country).")
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="ISO 4217 currency of the balance.")] = "USD",
    json_out: Json = False,
) -> None:
    """Add an organisation."""
    from credits_cli import tenants

    st = state(ctx)
    doc = st.db.write(
        lambda s: tenant_doc(
            tenants.add_tenant(
                s, slug, name=name, country=country, billing_country=billing_country or country, currency=currency
            )
        )
    )
    if json_out:
        print_json(doc)
    else:
        say(f"added tenant {doc['slug']} ({doc['name']}, {doc['country']}, {doc['currency']})")


@tenant_app.command("list")
def tenant_list(ctx: typer.Context, json_out: Json = False) -> None:
    """List the organisations."""
    from credits_cli import tenants

    with state(ctx).db.read() as s:
        docs = [tenant_doc(t) for t in tenants.list_tenants(s)]
    if json_out:
        print_json(docs)
    elif not docs:
        say("no tenants yet; add one with: credits tenant add SLUG --name NAME --country CC")
    else:
        table(
            None,
            ["slug", "name", "country", "billing", "currency"],
            [[d["slug"], d["name"], d["country"], d["billing_country"], d["currency"]] for d in docs],
        )


@tenant_app.command("show")
def tenant_show(ctx: typer.Context, json_out: Json = False) -> None:
    """Show the tenant: details, users, licenses, admins and balance."""
    from credits_cli import clock, currencies, ledger, money, payments, tenants, users

    st = state(ctx)
    with st.db.read() as s:
        t = st.tenant(s)
        all_users = users.list_users(s, t)
        doc = tenant_doc(t) | {
            "users": len(all_users),
            "licensed_users": sum(1 for u in all_users if u.licensed),
            "admins": len(tenants.list_admins(s, t)),
            "payment": payments.describe(payments.get_method(s, t)),
            # As `balance` shows it: lots that have expired by now no longer count.
            "balance": ledger.balance(s, t)
            - sum((lot.remaining for lot in ledger.open_lots(s, t) if lot.expires_at <= clock.now()), money.ZERO),
        }
    if json_out:
        print_json(doc)
        return
    rows = [[k.replace("_", " "), currencies.display(v, t.currency) if k == "balance" else v] for k, v in doc.items()]
    table(f"tenant {t.slug}", ["field", "value"], rows)


# --- admin ----------------------------------------------------------------------------


@admin_app.command("add")
def admin_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    role: Annotated[str, typer.Option("--role", help="Admin role, e.g. billing-admin or 'Billing Administrator'.")],
    json_out: Json = False,
) -> None:
    """Add an admin who receives notifications (or change their role)."""
    from credits_cli import tenants

    st = state(ctx)
    doc = st.db.write(lambda s: admin_doc(tenants.add_admin(s, st.tenant(s), email, role)))
    if json_out:
        print_json(doc)
    else:
        say(f"{doc['email']} is now {doc['role_name']}")


@admin_app.command("list")
def admin_list(ctx: typer.Context, json_out: Json = False) -> None:
    """List admins and their roles."""
    from credits_cli import tenants

    st = state(ctx)
    with st.db.read() as s:
        docs = [admin_doc(a) for a in tenants.list_admins(s, st.tenant(s))]
    if json_out:
        print_json(docs)
    elif not docs:
        say("no admins: notifications stay in the outbox; add one with credits admin add EMAIL --role ROLE")
    else:
        table(None, ["email", "role"], [[d["email"], d["role_name"]] for d in docs])


@admin_app.command("remove")
def admin_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="E-mail address.")],
    json_out: Json = False,
) -> None:
    """Stop notifying an admin."""
    from credits_cli import tenants

    st = state(ctx)
    st.db.write(lambda s: tenants.remove_admin(s, st.tenant(s), email))
    if json_out:
        print_json({"removed": email.strip().lower()})
    else:
        say(f"removed {email.strip().lower()}")


# --- user -----------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    upn: Annotated[str, typer.Argument(help="User principal name, e.g. ada@contoso.com.")],
    country: Annotated[
        str | None, typer.Option("--country", help="Usage location (ISO alpha-2); needed for a new user.")
    ] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="none | domestic | domestic-international | payg.")] = None,
    conferencing: Annotated[
        bool | None, typer.Option("--conferencing/--no-conferencing", help="Holds an Audio Conferencing license.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Add a user, or update the fields given of an existing one.

    Changes of country, plan and Audio Conferencing are dated: from --at when given; otherwise a
    new user's first values hold from the beginning (so last month's calls can be imported after
    setting up today) and a later change from now.
    """
    from credits_cli import users

    st = state(ctx)
    when = at_moment(at)

    def work(s: Any) -> tuple[dict[str, Any], bool]:
        user, created = users.upsert_user(
            s,
            st.tenant(s),
            upn,
            country=country,
            plan=plan if plan is not None else None,
            conferencing=conferencing,
            name=name,
            at=when,
        )
        return user_doc(user), created

    doc, created = st.db.write(work)
    if json_out:
        print_json(doc | {"created": created})
    else:
        say(
            f"{'added' if created else 'updated'} {doc['upn']} ({doc['country']}, plan {doc['plan']}"
            f"{', conferencing' if doc['conferencing'] else ''}{', licensed' if doc['licensed'] else ''})"
        )


@user_app.command("import")
def user_import(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file or Excel workbook (.xlsx: its first sheet) with the columns "
            "upn,name,country,plan,conferencing,licensed in its first row."
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change; write nothing.")] = False,
    at: At = None,
    json_out: Json = False,
) -> None:
    """Add or update users from a CSV file or an Excel workbook, .xlsx (all rows or none).

    A column left out (or a cell left blank) changes nothing: a file without `licensed` never touches
    licenses. Licenses given or taken and plans changed are counted in the output.
    """
    from credits_cli import users

    st = state(ctx)
    when = at_moment(at)
    result = st.db.write(lambda s: users.import_users(s, st.tenant(s), file, at=when, dry_run=dry_run))
    if result.errors:
        # The write above changed nothing when there were errors: import_users stops before writing.
        first = result.errors[0]
        more = f" (and {len(result.errors) - 1} more bad rows)" if len(result.errors) > 1 else ""
        if json_out:
            print_json({"added": 0, "updated": 0, "errors": result.errors})
        fail(f"{file}: {first}{more}; nothing imported")
    doc = {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
           "licenses_given": result.licenses_given, "licenses_taken": result.licenses_taken,
           "plans_changed": result.plans_changed, "changes": result.changes, "dry_run": dry_run, "errors": []}
    if json_out:
        print_json(doc)
        return
    would = "would be " if dry_run else ""
    say(f"{file}: {result.added} {would}added, {result.updated} {would}updated, {result.unchanged} unchanged"
        f"{' (dry run: nothing written)' if dry_run else ''}")
    if result.licenses_given or result.licenses_taken or result.plans_changed:
        say(f"licenses {would}given: {result.licenses_given}, {would}taken away: {result.licenses_taken}; "
            f"plans {would}changed: {result.plans_changed}")
    if result.licenses_taken:
        warn(f"{result.licenses_taken} user(s) {'would lose' if dry_run else 'lost'} the Communications Credits "
             "license: their calls beyond included minutes are denied from then on")
    if dry_run:
        for line in result.changes:
            say(f"  {line}")


@user_app.command("list")
def user_list(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="As they were at this moment (ISO 8601, UTC).")] = None,
    json_out: Json = False,
) -> None:
    """List users with their plan, conferencing and license (now, or --at a past moment)."""
    from credits_cli import history, users

    st = state(ctx)
    when = at_moment(at)
    with st.db.read() as s:
        t = st.tenant(s)
        docs = [user_doc(u) for u in users.list_users(s, t)]
        if when is not None:
            lines = history.timelines(s, t)
            by_upn = {u.upn: u.id or 0 for u in users.list_users(s, t)}
            for d in docs:
                held = lines[by_upn[d["upn"]]].at(when)
                d.update(country=held.country, plan=held.plan, conferencing=held.conferencing,
                         licensed=held.licensed)
    if json_out:
        print_json(docs)
    elif not docs:
        say("no users yet; add them with credits user add or credits user import")
    else:
        table(
            None,
            ["upn", "name", "country", "plan", "conferencing", "licensed"],
            [
                [
                    d["upn"],
                    d["name"],
                    d["country"],
                    d["plan"],
                    "yes" if d["conferencing"] else "",
                    "yes" if d["licensed"] else "",
                ]
                for d in docs
            ],
        )


# --- license --------------------------------------------------------------------------


def _license_change(
    ctx: typer.Context, upns: list[str] | None, file: Path | None, licensed: bool, json_out: bool,
    at: str | None = None,
) -> None:
    from credits_cli import users

    st = state(ctx)
    when = at_moment(at)
    wanted = list(upns or [])
    if file is not None:
        wanted += users.read_upn_file(file)
    changed = st.db.write(lambda s: [u.upn for u in users.set_license(s, st.tenant(s), wanted, licensed, when)])
    verb = "assigned" if licensed else "unassigned"
    if json_out:
        print_json({verb: changed})
    else:
        say(f"license {verb}: {len(changed)} user(s)")


UpnsArg = Annotated[list[str] | None, typer.Argument(help="User principal names.", show_default=False)]
FileOpt = Annotated[Path | None, typer.Option("--file", help="A file with one UPN a line.")]


@license_app.command("assign")
def license_assign(
    ctx: typer.Context, upns: UpnsArg = None, file: FileOpt = None, at: At = None, json_out: Json = False
) -> None:
    """Assign the Communications Credits license to users.

    Dated: from --at when given; a user's first license otherwise holds from the beginning (so last
    month's calls can be imported after setting up today), a later one from now.
    """
    _license_change(ctx, upns, file, True, json_out, at)


@license_app.command("unassign")
def license_unassign(
    ctx: typer.Context, upns: UpnsArg = None, file: FileOpt = None, at: At = None, json_out: Json = False
) -> None:
    """Remove the Communications Credits license from users (from --at, or now)."""
    _license_change(ctx, upns, file, False, json_out, at)


@license_app.command("list")
def license_list(ctx: typer.Context, json_out: Json = False) -> None:
    """List the users who hold the license."""
    from credits_cli import users

    st = state(ctx)
    with st.db.read() as s:
        docs = [user_doc(u) for u in users.list_users(s, st.tenant(s)) if u.licensed]
    if json_out:
        print_json(docs)
    elif not docs:
        say("nobody holds the Communications Credits license; assign it with credits license assign UPN")
    else:
        table(
            None,
            ["upn", "name", "plan", "licensed since"],
            [[d["upn"], d["name"], d["plan"], d["licensed_at"]] for d in docs],
        )
