"""report, recommend, reconcile, rate-cdrs, calls, rates and the newer core modules through a made-up catalog:
their messages come out translated, numbers, dates and money the locale's way, English is as it was, and the
machine output (--json, -o csv) is the same byte for byte whatever the language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from tests.fake_catalog import catalogs

ROOT = Path(__file__).resolve().parent.parent

RU: dict[Any, Any] = {
    "Report for {tenant}": "Отчёт для {tenant}",
    "Daily spend": "Расход по дням",
    "Opening balance": "Остаток на начало периода",
    "Top users": "Самые активные пользователи",
    ("column", "user"): "пользователь",
    "Totals": "Итоги",
    "calls compared": "сравнено звонков",
    "Rating summary (dry run: nothing written)": "Итоги тарификации (пробный прогон: ничего не записано)",
    "rows read": "прочитано строк",
    "reasoning:": "обоснование:",
    "one-off amount:": "разовая покупка:",
    "trigger:": "порог:",
    "recharge amount:": "сумма пополнения:",
    "{seconds} s billed as {billed} s: {charge}": "{seconds} с к оплате как {billed} с: {charge}",
    "tenant {slug} already exists": "арендатор {slug} уже существует",
    "no recent spend": "расходов в последнее время нет",
    "a recharge ({amount}) lasts less than a day at the recent spend ({per_day} a day)":
        "пополнения ({amount}) не хватит и на день при нынешнем расходе ({per_day} в день)",
    "no database at {where}; create one with credits tenant add":
        "нет базы данных {where}; создайте её: credits tenant add",
    ("{n} call(s) denied for lack of balance", "{n} call(s) denied for lack of balance"):
        ("{n} звонок отклонён", "{n} звонка отклонены", "{n} звонков отклонены"),
}


@pytest.fixture
def ru(tmp_path: Path) -> Iterator[None]:
    with catalogs(tmp_path / "locale", {"ru": RU}):
        yield
    i18n.use(None)


def _out(cli: Any, *args: str) -> str:
    result = cli(*args)
    assert result.exit_code in (0, 3, 4), result.output
    return result.stdout


def test_the_report_speaks_russian(cli: Any, office: str, ru: None) -> None:
    text = _out(cli, "--lang", "ru", "report", "--month", "2026-10")
    assert "Отчёт для contoso" in text
    assert "Остаток на начало периода" in text
    assert "Расход по дням" in text
    assert "Report for" not in text
    assert "1 окт. 2026" in text and "2026-10-01" not in text  # days the locale's way
    english = _out(cli, "--lang", "en", "report", "--month", "2026-10")
    assert "Report for contoso" in english and "Daily spend" in english and "2026-10-01  " in english


def test_recommend_aligns_its_labels_in_russian(cli: Any, office: str, ru: None) -> None:
    text = _out(cli, "--lang", "ru", "recommend")
    lines = [line for line in text.splitlines() if line.startswith(("разовая", "порог", "сумма"))]
    assert len(lines) == 3
    starts = {line.index(next(c for c in line.split(":", 1)[1] if not c.isspace()), len(line.split(":")[0]) + 1)
              for line in lines}
    assert len(starts) == 1  # the amounts start in one column
    assert "обоснование:" in text
    english = _out(cli, "recommend")
    assert "one-off amount:  " in english and "trigger:         " in english and "recharge amount: " in english


def test_reconcile_and_the_quote_speak_russian(cli: Any, office: str, ru: None) -> None:
    text = _out(cli, "--lang", "ru", "reconcile", "--month", "2026-10")
    assert "Итоги" in text and "сравнено звонков" in text
    quote = _out(cli, "--lang", "ru", "rates", "quote", "+442079460123", "--seconds", "90")
    assert " с к оплате как " in quote


@pytest.mark.parametrize("args", [
    ("report", "--month", "2026-10", "--json"),
    ("recommend", "--json"),
    ("recommend", "--all-tenants", "--json"),
    ("reconcile", "--month", "2026-10", "--json", "--limit", "0"),
    ("calls", "-o", "csv", "--limit", "0"),
    ("calls", "--json", "--limit", "5"),
    ("rates", "list", "-o", "csv"),
    ("rates", "list", "--entries", "--json", "--limit", "5"),
    ("rates", "quote", "+442079460123", "--json"),
    ("overview", "--json"),
    ("overview", "-o", "csv"),
])
def test_machine_output_is_the_same_in_every_language(cli: Any, office: str, ru: None, args: tuple[str, ...]) -> None:
    english = _out(cli, "--lang", "en", *args)
    assert english
    assert _out(cli, "--lang", "ru", *args) == english


def test_rating_summary_in_russian_and_its_json_unchanged(cli: Any, office: str, ru: None) -> None:
    export = str(ROOT / "examples" / "PSTN.calls.2026-10-01.csv")
    text = _out(cli, "--lang", "ru", "rate-cdrs", export, "--dry-run")
    assert "Итоги тарификации" in text and "прочитано строк" in text
    english = _out(cli, "--lang", "en", "rate-cdrs", export, "--dry-run", "--json")
    assert _out(cli, "--lang", "ru", "rate-cdrs", export, "--dry-run", "--json") == english
    assert json.loads(english)["dry_run"] is True


def test_core_refusals_and_phrases(ru: None, tmp_path: Path) -> None:
    from credits_cli import db, recommend, tenants
    from credits_cli.errors import DatabaseError
    from credits_cli.phrases import Phrase

    warnings = recommend.check_settings(Decimal("10"), Decimal("5"), Decimal("20"), "USD")
    last = warnings[-1]
    assert isinstance(last, Phrase)
    assert last == "a recharge (5.00 USD) lasts less than a day at the recent spend (20.00 USD a day)"
    i18n.use("ru")
    assert last.said().startswith("пополнения (5")  # said in Russian, the English kept as its value
    assert str.__str__(last).startswith("a recharge")
    with pytest.raises(DatabaseError, match="нет базы данных"):
        db._must_exist(f"sqlite:///{tmp_path / 'none.db'}")
    with pytest.raises(InvalidInput, match="ISO 3166"):
        tenants.check_country("XX")


def test_a_tenant_that_exists_is_refused_in_russian(cli: Any, tenant: str, ru: None) -> None:
    result = cli("--lang", "ru", "tenant", "add", "contoso", "--name", "Contoso", "--country", "US")
    assert result.exit_code != 0
    assert "арендатор contoso уже существует" in result.stderr


def test_bars_and_labels_pad_in_terminal_cells() -> None:
    from rich.cells import cell_len

    from credits_cli.cli.report import bar, pad

    assert cell_len(pad("中文", 6)) == 6 and pad("中文", 6) == "中文  "
    assert pad("中", 4, right=True) == "  中"
    assert cell_len(bar(Decimal(1), Decimal(2), 10)) == 10
