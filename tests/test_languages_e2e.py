"""A day's work in each language, through the real command line and the shipped catalogs: a tenant
with a language, funding, an import, the balance, a workbook read back, and the admins' e-mail
through a real SMTP server on loopback.

The expected words are looked up in the shipped catalog (so a better translation does not break the
test) and must differ from the English: what people read is really in their language."""

from __future__ import annotations

import email
import email.policy
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from credits_cli import i18n
from credits_cli.reports import xlsx
from tests.helpers import pin_now
from tests.test_notify_languages import server  # noqa: F401 - the SMTP server fixture
from tests.test_notify_smtp import SENDER

ROOT = Path(__file__).resolve().parent.parent

#: (language, country, currency, the currency's sign as the locale writes it in the workbook)
DAYS = [("ru", "RU", "RUB", "₽"), ("kk", "KZ", "KZT", "₸"), ("zh_CN", "CN", "CNY", "¥")]


def said(lang: str, message: str) -> str:
    with i18n.speaking(lang):
        text = i18n._(message)
    assert text != message, f"{lang} has no translation of {message!r}"
    return text


@pytest.mark.parametrize(("lang", "country", "currency", "sign"), DAYS)
def test_a_day_in_the_tenants_language(cli, server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                                       lang: str, country: str, currency: str, sign: str) -> None:
    handler, port = server
    pin_now(monkeypatch, "2026-11-05T10:00:00Z")
    run = lambda *args: cli("--lang", lang, *args)  # noqa: E731
    assert run("tenant", "add", "org", "--name", "Org", "--country", country, "--currency", currency,
               "--lang", lang).exit_code == 0
    assert run("admin", "add", "billing@org.example", "--role", "billing-admin").exit_code == 0
    assert run("payment", "set", "--card-expiry", "2099-12", "--last4", "4242").exit_code == 0
    rates = tmp_path / "rates.yaml"
    rates.write_text(f"name: local\ncurrency: {currency}\ndecimals: 4\noutbound:\n"
                     f"  - {{prefix: \"1\", name: North America, per_minute: \"2.50\"}}\n"
                     f"  - {{prefix: \"44\", name: United Kingdom, per_minute: \"3.00\"}}\n", encoding="utf-8")
    assert run("rates", "load", str(rates)).exit_code == 0
    assert run("user", "import", str(ROOT / "examples" / "users.csv")).exit_code == 0
    assert run("topup", "250000").exit_code == 0

    # A refusal in the chosen language; input keeps its one form.
    refused = run("topup", "1,5")
    assert refused.exit_code == 1 and "1,5" in refused.stderr and "100.50" in refused.stderr
    assert refused.stderr.split()[1:3] != ["amount", "'1,5'"]

    # The import: rows rated, the summary for people in the language.
    imported = run("rate-cdrs", str(ROOT / "examples" / "PSTN.calls.2026-10-01.csv"))
    assert imported.exit_code in (0, 3), imported.stderr
    assert said(lang, "rate table") in imported.stdout or said(lang, "Rating summary") in imported.stdout

    # The balance: the amount grouped the locale's way, with the currency where the locale puts it.
    balance = run("balance")
    assert balance.exit_code == 0
    with i18n.speaking(lang):
        from credits_cli import currencies

        assert currencies.display(Decimal("250000"), currency).replace("250", "") != "000.00 " + currency
    assert "\u00a0" in balance.stdout or "," in balance.stdout  # grouped: 249 ... not 249999.99

    # The workbook, written in the tenant's language (no --lang given to this command), read back.
    book = tmp_path / "report.xlsx"
    assert cli("report", "--month", "2026-10", "--xlsx", str(book)).exit_code == 0
    wb = openpyxl.load_workbook(book)
    with i18n.speaking(lang):
        names = [i18n._(xlsx.SUMMARY), i18n._(xlsx.CALLS), i18n._(xlsx.LEDGER)]
    assert names[0] != "Summary" and all(name[:27] in " ".join(wb.sheetnames) for name in names)
    calls = wb[next(n for n in wb.sheetnames if n.startswith(names[1][:27]))]
    header = [c.value for c in next(calls.iter_rows(max_row=1))]
    assert "Start" not in header and len(header) > 10
    money_formats = {c.number_format for ws in wb.worksheets for row in ws.iter_rows(min_row=2, max_row=20)
                     for c in row if isinstance(c.value, int | float) and "0.0000" in c.number_format}
    assert money_formats and all(sign in f for f in money_formats), money_formats

    # The admins' e-mail: in the tenant's language, whatever the sender's.
    monkeypatch.setenv("CREDITS_LANG", "en")
    assert cli("autorecharge", "set", "--threshold", "250000", "--amount", "30000").exit_code == 0
    assert cli("payment", "set", "--card-expiry", "2020-01").exit_code == 0
    late = tmp_path / "late.csv"
    late.write_text("call_id,user,start,duration_seconds,kind,number\n"
                    "z1,katherine.johnson@contoso.com,2026-11-04T10:00:00Z,600,outbound,+12065550100\n",
                    encoding="utf-8")
    assert cli("rate-cdrs", str(late)).exit_code == 4  # the recharge failed: the card expired
    sent = cli("notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    assert sent.exit_code == 0, sent.stderr
    message = email.message_from_bytes(handler.messages[-1], policy=email.policy.default)
    subject = str(message["Subject"])
    assert subject.startswith("[org] ") and said(lang, "Communications Credits recharge FAILED") in subject
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert said(lang, "Update the payment method (credits payment set) or top up (credits topup).") in body
    assert "Recharge amount" not in body
