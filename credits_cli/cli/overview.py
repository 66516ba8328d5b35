"""``overview``: every tenant on one line, the most urgent first."""

from __future__ import annotations

from typing import Any

import typer

from credits_cli.cli.common import Col, Json, Limit, OutputOpt, emit, examples, output_mode, state

#: The columns of ``overview -o csv``: every key of a line's JSON document.
LINE_KEYS = ["tenant", "name", "currency", "balance", "daily_spend", "days_to_zero", "zero_date", "days_to_threshold",
             "threshold_date", "autorecharge", "threshold", "recharge_amount", "recharge_failing_since", "payment",
             "purchase_refusal", "last_import", "open_alerts", "failed_alerts", "urgency", "state"]


def register(app: typer.Typer) -> None:
    app.command("overview", epilog=examples("credits overview", "credits overview -o csv > tenants.csv"))(overview)


def overview(ctx: typer.Context, limit: Limit = None, output: OutputOpt = None, json_out: Json = False) -> None:
    """One line per tenant, the most urgent first: balance, runway, auto-recharge, payment, last import,
    open alerts.

    Urgency: out of credit, then a failing payment, then what runs out first (without a working
    auto-recharge), then the next recharge, then tenants with no recent spend.
    """
    from credits_cli import clock, currencies, i18n, phrases
    from credits_cli import overview as core
    from credits_cli.i18n import _, ngettext, npgettext, pgettext

    mode = output_mode(output, json_out)
    st = state(ctx)
    now = clock.now()
    # For scripts, the prose of a line (its state, the payment, a refusal) stays English; for people it
    # is said in the reader's language.
    for_scripts = i18n.SOURCE if mode in ("json", "csv") else None
    with st.db.read() as s, i18n.speaking(for_scripts):
        lines = core.overview(s, now)
    total = len(lines)
    docs = [x.to_dict() for x in (lines[:limit] if limit else lines)]
    if mode == "json":
        from credits_cli.cli.common import print_json

        print_json({"as_of": now, "tenants": docs})
        return

    def recharge(d: dict[str, Any]) -> str:
        if not d["autorecharge"]:
            return pgettext("auto-recharge", "off")
        # TRANSLATORS: auto-recharge in a narrow column: below the threshold, buy this amount (bare numbers)
        return _("below {threshold} buy {amount}").format(threshold=i18n.decimal(d["threshold"].normalize()),
                                                          amount=i18n.decimal(d["recharge_amount"].normalize()))

    def payment(d: dict[str, Any]) -> str:
        return pgettext("payment", "refused") if d["purchase_refusal"] else pgettext("payment", "ok")

    def alerts(d: dict[str, Any]) -> str:
        if not d["open_alerts"]:
            return ""
        failed = d["failed_alerts"]
        return i18n.number(d["open_alerts"]) + (
            " (" + ngettext("{n} failed", "{n} failed", failed).format(n=i18n.number(failed)) + ")" if failed else "")

    emit(
        mode, docs, title=_("Tenants as of {moment}, the most urgent first").format(moment=clock.iso(now)),
        noun=lambda n: npgettext("listing", "tenant", "tenants", n), total=total, keys=LINE_KEYS,
        empty=_("no tenants yet; add one with: credits tenant add SLUG --name NAME --country CC"),
        columns=[Col(_("tenant"), shrink=10), Col(_("balance"), right=True), Col(_("state"), shrink=16),
                 Col(_("alerts"), keep=1), Col(_("payment"), keep=2), Col(_("auto-recharge"), keep=4),
                 Col(_("last import"), keep=3)],
        row=lambda d: [d["tenant"], currencies.display(d["balance"], d["currency"]), phrases.said(d["state"]),
                       alerts(d), payment(d), recharge(d), d["last_import"].date() if d["last_import"] else ""],
    )
