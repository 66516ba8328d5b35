"""``user`` and ``license``: the people, their calling plans, and the Communications Credits license."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credits_cli import i18n, phrases
from credits_cli.cli.common import (
    At,
    Col,
    DocOutputOpt,
    Json,
    Limit,
    Newest,
    OutputOpt,
    Yes,
    at_moment,
    confirm,
    emit,
    examples,
    fail,
    limited,
    output_mode,
    print_json,
    say,
    state,
    warn,
)
from credits_cli.cli.tenants import changed_docs, said
from credits_cli.i18n import _, ngettext, npgettext, pgettext
from credits_cli.kinds import Plan

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session

    from credits_cli.models import User


user_app = typer.Typer(help="Users, their calling plans and Audio Conferencing.", no_args_is_help=True)
license_app = typer.Typer(help="The Communications Credits license (MCOPSTNC).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(license_app, name="license")


def user_doc(u: User) -> dict[str, Any]:
    return {
        "upn": u.upn,
        "name": u.name,
        "country": u.country,
        "plan": u.plan,
        "conferencing": u.conferencing,
        "licensed": u.licensed,
        "licensed_at": u.licensed_at,
        "created_at": u.created_at,
        "removed_at": u.removed_at,
    }



# --- user -----------------------------------------------------------------------------

def _plans() -> list[str]:
    return [plan.value for plan in Plan]


#: ``--plan``: one of the plans, in any letter case; the spellings a users file may use are accepted too
#: (domestic+international, pay-as-you-go), so it is text checked by users.check_plan, shown as a choice.
PlanOpt = Annotated[
    str | None,
    typer.Option("--plan", metavar="[" + "|".join(plan.value for plan in Plan) + "]", autocompletion=_plans,
                 show_default=False, help="The user's calling plan."),
]
ConferencingOpt = Annotated[
    bool | None, typer.Option("--conferencing/--no-conferencing", help="Holds an Audio Conferencing license.")
]


def _user_change(
    ctx: typer.Context, command: str, upn: str, *, must_exist: bool, country: str | None, plan: str | None,
    conferencing: bool | None, name: str | None, at: str | None, mode: str,
) -> None:
    from credits_cli import trail, users
    from credits_cli.errors import InvalidInput, NotFound

    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> tuple[dict[str, Any], bool, list[Any]]:
        t = st.tenant(s)
        if must_exist:
            found = users.get_user(s, t, users.check_upn(upn))
            if found is None:
                raise NotFound(_("no user {upn} in {slug}; add them with credits user add").format(
                    upn=upn.strip().lower(), slug=t.slug))
            if found.removed_at is not None:
                raise InvalidInput(_("{upn} was removed; bring them back with credits user add {upn}").format(
                    upn=found.upn))
            if country is None and plan is None and conferencing is None and name is None:
                raise InvalidInput(_("nothing to change: give --name, --country, --plan or --conferencing"))
        diffs: list[Any] = []
        user, created = users.upsert_user(
            s, t, upn, country=country, plan=plan, conferencing=conferencing,
            name=name, at=when, diffs=diffs,
        )
        restored = any(n == "removed_at" for n, _, _ in diffs)
        fields = [d for d in diffs if d[0] != "removed_at"]
        if restored:
            trail.record(s, t, command, user.upn, actor=st.settings.operator, note="brought back")
        if fields:
            trail.record(s, t, command, user.upn, fields, actor=st.settings.operator)
        return user_doc(user), created, diffs

    doc, created, diffs = st.db.write(work)
    restored = any(n == "removed_at" for n, _, _ in diffs)
    if mode == "json":
        print_json(doc | {"created": created, "restored": restored,
                          "changed": changed_docs([d for d in diffs if d[0] != "removed_at"])})
        return
    held = _held(doc)
    if created:
        # TRANSLATORS: {held} is what the user holds, in brackets: (US, plan domestic, conferencing, licensed).
        say(_("added {upn} {held}").format(upn=doc["upn"], held=held))
    elif restored:
        # TRANSLATORS: {held} is what the user holds, in brackets: (US, plan domestic, conferencing, licensed).
        say(_("brought back {upn} {held}").format(upn=doc["upn"], held=held))
        if not doc["licensed"]:
            say(_("they hold no Communications Credits license: credits license assign {upn}").format(upn=doc["upn"]))
    elif diffs:
        say(_("updated {upn}: {changes}").format(upn=doc["upn"], changes=said(diffs)))
    else:
        # TRANSLATORS: {held} is what the user holds, in brackets: (US, plan domestic, conferencing, licensed).
        say(_("{upn}: nothing changed {held}").format(upn=doc["upn"], held=held))


def _held(doc: dict[str, Any]) -> str:
    """What a user holds, for people: ``(US, plan domestic, conferencing, licensed)``; the plan's name is
    the value the --plan option takes (never translated)."""
    if doc["conferencing"] and doc["licensed"]:
        # TRANSLATORS: {country} is an ISO code (US), {plan} the plan's name as --plan takes it (domestic).
        template = _("({country}, plan {plan}, conferencing, licensed)")
    elif doc["conferencing"]:
        # TRANSLATORS: {country} is an ISO code (US), {plan} the plan's name as --plan takes it (domestic).
        template = _("({country}, plan {plan}, conferencing)")
    elif doc["licensed"]:
        # TRANSLATORS: {country} is an ISO code (US), {plan} the plan's name as --plan takes it (domestic).
        template = _("({country}, plan {plan}, licensed)")
    else:
        # TRANSLATORS: {country} is an ISO code (US), {plan} the plan's name as --plan takes it (domestic).
        template = _("({country}, plan {plan})")
    return template.format(country=doc["country"], plan=doc["plan"])


def _when(moment: datetime | None) -> str:
    """A time in a line for people: ISO 8601 in English (as it always read), the locale's way otherwise."""
    from credits_cli import clock

    if moment is None or i18n.current().english:
        return clock.iso(moment) or ""
    return i18n.moment(moment)


@user_app.command("add", epilog=examples(
    "credits user add ada@contoso.com --country US --plan domestic --conferencing",
    "credits user add ada@contoso.com --plan payg   # only the plan changes",
))
def user_add(
    ctx: typer.Context,
    upn: Annotated[str, typer.Argument(help="User principal name, e.g. ada@contoso.com.")],
    country: Annotated[
        str | None, typer.Option("--country", help="Usage location (ISO alpha-2); needed for a new user.")
    ] = None,
    plan: PlanOpt = None,
    conferencing: ConferencingOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    at: At = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Add a user, or update only the fields given of an existing one (a removed one comes back).

    Changes of country, plan and Audio Conferencing are dated: from --at when given; otherwise a
    new user's first values hold from the beginning (so last month's calls can be imported after
    setting up today) and a later change from now.
    """
    _user_change(ctx, "user add", upn, must_exist=False, country=country, plan=plan, conferencing=conferencing,
                 name=name, at=at, mode=output_mode(output, json_out))


@user_app.command("edit", epilog=examples(
    'credits user edit ada@contoso.com --name "Ada King"',
    "credits user edit ada@contoso.com --plan domestic --at 2026-10-01",
))
def user_edit(
    ctx: typer.Context,
    upn: Annotated[str, typer.Argument(help="User principal name of an existing user.")],
    country: Annotated[str | None, typer.Option("--country", help="Usage location (ISO alpha-2).")] = None,
    plan: PlanOpt = None,
    conferencing: ConferencingOpt = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    at: At = None,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Correct an existing user: only the fields given change, dated as user add dates them.

    Each change goes to the trail (credits changes).
    """
    _user_change(ctx, "user edit", upn, must_exist=True, country=country, plan=plan, conferencing=conferencing,
                 name=name, at=at, mode=output_mode(output, json_out))


@user_app.command("remove", epilog=examples(
    "credits user remove ada@contoso.com",
    "credits user remove ada@contoso.com --at 2026-10-15 --yes",
))
def user_remove(
    ctx: typer.Context,
    upns: Annotated[list[str], typer.Argument(help="User principal names.", show_default=False)],
    at: At = None,
    yes: Yes = False,
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Remove users from --at (else now): from then they hold no plan and no license.

    Their past calls still name them and are rated with what they held; listings leave them out
    (user list --removed shows them). Adding the same UPN again brings them back. Asks first on a
    terminal; a script gives --yes.
    """
    from credits_cli import clock, trail, users

    mode = output_mode(output, json_out)
    st = state(ctx)
    when = at_moment(at)
    wanted = list(dict.fromkeys(users.check_upn(u) for u in upns))
    from credits_cli import history

    history.check_at(when)
    with st.db.read() as s:
        t = st.tenant(s)
        for upn in wanted:  # refuse an unknown or removed user before asking
            users.removable(s, t, upn)
    more = ", ..." if len(wanted) > 3 else ""
    # TRANSLATORS: {upns} lists the first three user principal names (ada@contoso.com, ...).
    who = wanted[0] if len(wanted) == 1 else ngettext("{n} users ({upns})", "{n} users ({upns})", len(wanted)).format(
        n=phrases.quantity(len(wanted)), upns=", ".join(wanted[:3]) + more)
    if when:
        # TRANSLATORS: {who} is a user principal name or "3 users (ada@..., ...)"; {moment} when they are removed.
        confirm(_("remove {who} from {slug} from {moment}: no plan and no license from then?").format(
            who=who, slug=t.slug, moment=_when(when)), yes)
    else:
        # TRANSLATORS: {who} is a user principal name or "3 users (ada@..., ...)".
        confirm(_("remove {who} from {slug} from now: no plan and no license from then?").format(who=who, slug=t.slug),
                yes)

    def work(s: Session) -> list[dict[str, Any]]:
        t = st.tenant(s)
        docs = []
        for upn in wanted:
            user = users.remove_user(s, t, upn, when)
            trail.record(s, t, "user remove", user.upn, actor=st.settings.operator,
                         note=f"removed from {clock.iso(user.removed_at)}")
            docs.append(user_doc(user))
        return docs

    docs = st.db.write(work)
    if mode == "json":
        print_json({"removed": [d["upn"] for d in docs], "at": docs[0]["removed_at"] if docs else None})
    else:
        # TRANSLATORS: {upns} lists the user principal names removed; {moment} is when.
        say(_("removed {upns} from {moment}; their calls keep their name").format(
            upns=", ".join(d["upn"] for d in docs), moment=_when(docs[0]["removed_at"])))


@user_app.command("import", epilog=examples(
    "credits user import examples/users.csv --dry-run",
    "credits user import users.xlsx --at 2026-10-01",
))
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
    output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Add or update users from a CSV file or an Excel workbook, .xlsx (all rows or none).

    A column left out (or a cell left blank) changes nothing: a file without `licensed` never touches
    licenses. A removed user in the file comes back. Licenses given or taken and plans changed are
    counted in the output.
    """
    from credits_cli import trail, users

    mode = output_mode(output, json_out)
    st = state(ctx)
    when = at_moment(at)

    def work(s: Session) -> users.ImportResult:
        t = st.tenant(s)
        result = users.import_users(s, t, file, at=when, dry_run=dry_run)
        if not dry_run and not result.errors and (result.added or result.updated):
            note = f"{result.added} added, {result.updated} updated" + (
                f" ({result.restored} brought back)" if result.restored else "")
            trail.record(s, t, "user import", file.name, actor=st.settings.operator, note=note)
        return result

    result = st.db.write(work)
    if result.errors:
        # The write above changed nothing when there were errors: import_users stops before writing.
        first = phrases.said(result.errors[0])
        more = len(result.errors) - 1
        if mode == "json":
            print_json({"added": 0, "updated": 0, "errors": result.errors})
        if more:
            # TRANSLATORS: {error} is what is wrong with the first bad row (line 3: ...).
            fail(ngettext("{file}: {error} (and {n} more bad rows); nothing imported",
                          "{file}: {error} (and {n} more bad rows); nothing imported", more).format(
                              file=file, error=first, n=phrases.quantity(more)))
        # TRANSLATORS: {error} is what is wrong with the bad row (line 3: ...).
        fail(_("{file}: {error}; nothing imported").format(file=file, error=first))
    doc = {"added": result.added, "updated": result.updated, "unchanged": result.unchanged,
           "licenses_given": result.licenses_given, "licenses_taken": result.licenses_taken,
           "plans_changed": result.plans_changed, "restored": result.restored, "changes": result.changes,
           "dry_run": dry_run, "errors": []}
    if mode == "json":
        print_json(doc)
        return
    say(_import_line(file, result, dry_run))
    q = phrases.quantity
    if result.licenses_given or result.licenses_taken or result.plans_changed:
        counts = {"given": q(result.licenses_given), "taken": q(result.licenses_taken),
                  "plans": q(result.plans_changed)}
        if dry_run:
            say(_("licenses would be given: {given}, would be taken away: {taken}; plans would be changed: {plans}")
                .format(**counts))
        else:
            say(_("licenses given: {given}, taken away: {taken}; plans changed: {plans}").format(**counts))
    if result.licenses_taken:
        taken = result.licenses_taken
        if dry_run:
            warn(ngettext("{n} user(s) would lose the Communications Credits license: their calls beyond included "
                          "minutes are denied from then on",
                          "{n} user(s) would lose the Communications Credits license: their calls beyond included "
                          "minutes are denied from then on", taken).format(n=q(taken)))
        else:
            warn(ngettext("{n} user(s) lost the Communications Credits license: their calls beyond included "
                          "minutes are denied from then on",
                          "{n} user(s) lost the Communications Credits license: their calls beyond included "
                          "minutes are denied from then on", taken).format(n=q(taken)))
    if dry_run:
        for line in result.changes:
            say(f"  {phrases.said(line)}")


def _import_line(file: Path, result: Any, dry_run: bool) -> str:
    """``users.csv: 3 added, 1 updated, 9 unchanged`` (what would be, with --dry-run)."""
    q = phrases.quantity
    counts = {"file": file, "added": q(result.added), "updated": q(result.updated),
              "unchanged": q(result.unchanged), "restored": q(result.restored)}
    if dry_run and result.restored:
        # TRANSLATORS: {restored} counts removed users the file brings back.
        template = _("{file}: {added} would be added, {updated} would be updated, {unchanged} unchanged "
                     "({restored} brought back) (dry run: nothing written)")
    elif dry_run:
        template = _("{file}: {added} would be added, {updated} would be updated, {unchanged} unchanged "
                     "(dry run: nothing written)")
    elif result.restored:
        # TRANSLATORS: {restored} counts removed users the file brings back.
        template = _("{file}: {added} added, {updated} updated, {unchanged} unchanged ({restored} brought back)")
    else:
        template = _("{file}: {added} added, {updated} updated, {unchanged} unchanged")
    return template.format(**counts)


@user_app.command("list", epilog=examples("credits user list", "credits user list --at 2026-10-01 -o csv"))
def user_list(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="As they were at this moment (ISO 8601, UTC).")] = None,
    removed: Annotated[bool, typer.Option("--removed", help="Removed users too.")] = False,
    limit: Limit = None,
    newest: Newest = False,
    output: OutputOpt = None,
    json_out: Json = False,
) -> None:
    """List users with their plan, conferencing and license (now, or --at a past moment)."""
    from credits_cli import history, users

    mode = output_mode(output, json_out)
    st = state(ctx)
    when = at_moment(at)
    with st.db.read() as s:
        t = st.tenant(s)
        found = users.list_users(s, t, removed=removed)
        docs = [user_doc(u) for u in found]
        if when is not None:
            lines = history.timelines(s, t)
            by_upn = {u.upn: u.id or 0 for u in found}
            for d in docs:
                held = lines[by_upn[d["upn"]]].at(when)
                d.update(country=held.country, plan=held.plan, conferencing=held.conferencing,
                         licensed=held.licensed)
    docs, total = limited(docs, limit, newest, "created_at")
    columns = [Col(_("upn"), shrink=16), Col(_("name"), keep=4, shrink=8), Col(_("country"), keep=2),
               Col(_("plan")), Col(_("conferencing"), keep=3), Col(_("licensed"))]
    if removed:
        columns.append(Col(_("removed"), keep=1))
    # TRANSLATORS: in a table's cell: the user holds it (Audio Conferencing, the license).
    holds = pgettext("holds it", "yes")
    emit(
        mode, docs, title=None, total=total,
        noun=(lambda n: npgettext("listing", "user (removed ones too)", "users (removed ones too)", n)) if removed
        else (lambda n: npgettext("listing", "user", "users", n)),
        empty=_("no users yet; add them with credits user add or credits user import"),
        columns=columns,
        row=lambda d: [d["upn"], d["name"], d["country"], d["plan"], holds if d["conferencing"] else "",
                       holds if d["licensed"] else "",
                       *([i18n.day(d["removed_at"].date()) if d["removed_at"] else ""] if removed else [])],
    )


# --- license --------------------------------------------------------------------------


def _license_change(
    ctx: typer.Context, upns: list[str] | None, file: Path | None, licensed: bool, mode: str,
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
    if mode == "json":
        print_json({verb: changed})
    elif licensed:
        say(ngettext("license assigned: {n} user(s)", "license assigned: {n} user(s)", len(changed)).format(
            n=phrases.quantity(len(changed))))
    else:
        say(ngettext("license unassigned: {n} user(s)", "license unassigned: {n} user(s)", len(changed)).format(
            n=phrases.quantity(len(changed))))


UpnsArg = Annotated[list[str] | None, typer.Argument(help="User principal names.", show_default=False)]
FileOpt = Annotated[Path | None, typer.Option("--file", help="A file with one UPN a line.")]


@license_app.command("assign", epilog=examples("credits license assign ada@contoso.com",
                                               "credits license assign --file upns.txt --at 2026-10-01"))
def license_assign(
    ctx: typer.Context, upns: UpnsArg = None, file: FileOpt = None, at: At = None, output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Assign the Communications Credits license to users.

    Dated: from --at when given; a user's first license otherwise holds from the beginning (so last
    month's calls can be imported after setting up today), a later one from now.
    """
    _license_change(ctx, upns, file, True, output_mode(output, json_out), at)


@license_app.command("unassign", epilog=examples("credits license unassign ada@contoso.com",
                                                 "credits license unassign --file leavers.txt --at 2026-10-31"))
def license_unassign(
    ctx: typer.Context, upns: UpnsArg = None, file: FileOpt = None, at: At = None, output: DocOutputOpt = None,
    json_out: Json = False,
) -> None:
    """Remove the Communications Credits license from users (from --at, or now)."""
    _license_change(ctx, upns, file, False, output_mode(output, json_out), at)


@license_app.command("list", epilog=examples("credits license list", "credits license list -o csv"))
def license_list(
    ctx: typer.Context, limit: Limit = None, newest: Newest = False, output: OutputOpt = None, json_out: Json = False
) -> None:
    """List the users who hold the license."""
    from credits_cli import clock, users

    mode = output_mode(output, json_out)
    st = state(ctx)
    with st.db.read() as s:
        docs = [user_doc(u) for u in users.list_users(s, st.tenant(s)) if u.licensed]
    docs, total = limited(docs, limit, newest, "licensed_at")
    emit(
        mode, docs, title=None, noun=lambda n: npgettext("listing", "licensed user", "licensed users", n), total=total,
        empty=_("nobody holds the Communications Credits license; assign it with credits license assign UPN"),
        columns=[Col(_("upn"), shrink=16), Col(_("name"), keep=2, shrink=8), Col(_("plan"), keep=1),
                 Col(_("licensed since"), keep=3)],
        row=lambda d: [d["upn"], d["name"], d["plan"], clock.iso(d["licensed_at"]) if d["licensed_at"] else ""],
    )
