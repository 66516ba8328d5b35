"""The funding and user commands in the chosen language (a made-up Russian catalog): what people read is
translated, amounts and counts the locale's way; --json and -o csv are the same bytes in every language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_catalog import catalogs
from tests.helpers import pin_now

ROOT = Path(__file__).resolve().parent.parent

RU = {
    "topped up {amount} (lot {lot}); balance {balance}": "пополнено на {amount} (партия {lot}); баланс {balance}",
    "balance: {balance}  ({tenant}, as of {moment})": "баланс: {balance}  ({tenant}, на {moment})",
    "auto-recharge: off; payment: {payment}": "автопополнение: выкл.; оплата: {payment}",
    "auto-recharge: below {threshold} recharge {amount}; payment: {payment}":
        "автопополнение: ниже {threshold} пополнять на {amount}; оплата: {payment}",
    ("payment method", "invoice"): "по счёту",
    "card ending {last4}, expires {month}": "карта на {last4}, до {month}",
    "funding lots (used oldest first)": "партии (сначала старые)",
    "remaining": "остаток",
    "the card on file expired at the end of {month}": "срок карты истёк в конце {month}",
    "card expired at the end of {month}: purchases and recharges will fail until it is replaced":
        "срок карты истёк в конце {month}: покупки не пройдут, пока её не заменят",
    "purchases: refused ({reason})": "покупки: отказ ({reason})",
    "{file}: {added} added, {updated} updated, {unchanged} unchanged": "{file}: добавлено {added}, "
        "обновлено {updated}, без изменений {unchanged}",
    ("{n} user(s) lost the Communications Credits license: their calls beyond included minutes are denied "
     "from then on", "{n} user(s) lost the Communications Credits license: their calls beyond included minutes "
     "are denied from then on"): ("{n} пользователь лишился лицензии", "{n} пользователя лишились лицензии",
                                   "{n} пользователей лишились лицензии"),
    ("license assigned: {n} user(s)", "license assigned: {n} user(s)"):
        ("лицензия назначена: {n} пользователю", "лицензия назначена: {n} пользователям",
         "лицензия назначена: {n} пользователям"),
    ("listing", "user", "users"): ("пользователь", "пользователя", "пользователей"),
    "plan": "тариф",
    ("holds it", "yes"): "да",
}


@pytest.fixture
def russian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COLUMNS", "200")
    pin_now(monkeypatch, "2026-11-05T10:00:00Z")
    with catalogs(tmp_path / "locale", {"ru": RU}):
        yield


def test_topup_and_balance_in_russian(russian: None, cli, tenant: str) -> None:
    result = cli("--lang", "ru", "topup", "5000")
    assert result.exit_code == 0
    assert result.stdout.startswith("пополнено на 5\u00a0000,00") and "(партия 1); баланс " in result.stdout
    english = cli("--lang", "en", "balance").stdout
    assert "auto-recharge: off; payment: card ending 4242, expires 2099-12" in english
    assert "balance: 5000.00 USD  (contoso, as of " in english
    said = cli("--lang", "ru", "balance").stdout
    assert said.startswith("баланс: 5\u00a0000,00")
    assert "автопополнение: выкл.; оплата: карта на 4242, до 2099-12" in said
    assert "партии (сначала старые)" in said and "остаток" in said
    assert cli("--lang", "ru", "payment", "set", "--invoice").exit_code == 0
    assert cli("--lang", "ru", "autorecharge", "set", "--threshold", "25", "--amount", "50").exit_code == 0
    said = cli("--lang", "ru", "balance").stdout
    assert "автопополнение: ниже 25,00\u00a0$ пополнять на 50,00\u00a0$; оплата: по счёту" in said
    english = cli("--lang", "en", "balance").stdout
    assert "auto-recharge: below 25.00 USD recharge 50.00 USD; payment: invoice" in english


def test_an_expired_card_warned_in_russian_kept_english_in_json(russian: None, cli, tenant: str) -> None:
    result = cli("--lang", "ru", "payment", "set", "--card-expiry", "2020-01", "--json")
    assert result.exit_code == 0
    assert "срок карты истёк в конце 2020-01: покупки не пройдут" in result.stderr
    assert '"warning": "card expired at the end of 2020-01: purchases and recharges will fail' in result.stdout
    shown = cli("--lang", "ru", "payment", "show").stdout
    assert "покупки: отказ (срок карты истёк в конце 2020-01)" in shown
    assert cli("--lang", "en", "payment", "show").stdout.endswith(
        "purchases: refused (the card on file expired at the end of 2020-01)\n")


def test_user_import_in_russian(russian: None, cli, tenant: str, tmp_path: Path) -> None:
    users = ROOT / "examples" / "users.csv"
    result = cli("--lang", "ru", "user", "import", str(users))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{users}: добавлено ")
    assert ", без изменений 0" in result.stdout
    leavers = tmp_path / "leavers.csv"
    lines = users.read_text().splitlines()
    head = lines[0].split(",")
    cells = lines[1].split(",")
    cells[head.index("licensed")] = "no"
    leavers.write_text(lines[0] + "\n" + ",".join(cells) + "\n")
    result = cli("--lang", "ru", "user", "import", str(leavers))
    assert result.exit_code == 0, result.output
    assert "1 пользователь лишился лицензии" in result.stderr
    listed = cli("--lang", "ru", "user", "list").stdout
    assert "тариф" in listed and "13 пользователей" in listed


def test_machine_output_is_the_same_in_russian(russian: None, cli, tenant: str) -> None:
    assert cli("user", "import", str(ROOT / "examples" / "users.csv")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("payment", "set", "--card-expiry", "2020-01").exit_code == 0
    for args in (["balance", "--json"], ["balance", "--all-tenants", "--json"], ["ledger", "-o", "csv"],
                 ["ledger", "--json"], ["verify", "--json"], ["payment", "show", "--json"],
                 ["autorecharge", "show", "--json"], ["user", "list", "-o", "csv"], ["user", "list", "--json"],
                 ["license", "list", "-o", "csv"],
                 ["user", "import", str(ROOT / "examples" / "users.csv"), "--dry-run", "--json"]):
        english, russian_ = cli("--lang", "en", *args), cli("--lang", "ru", *args)
        assert english.exit_code == russian_.exit_code == 0, (args, russian_.output)
        assert english.stdout == russian_.stdout, args
    assert '"payment": "card, expires 2020-01"' in cli("--lang", "ru", "balance", "--json").stdout
    assert '"refusal": "the card on file expired at the end of 2020-01"' in cli(
        "--lang", "ru", "payment", "show", "--json").stdout
