"""The report in Russian and Chinese: the workbook (read back with openpyxl) and the CSV files, with catalogs
made for the test (the shipped ones hold no translations yet); valid sheet names whatever a translation says."""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from credits_cli import i18n, runway, tenants
from credits_cli.errors import InvalidInput
from credits_cli.reports import build as report
from credits_cli.reports import csv as report_csv
from credits_cli.reports import guard, xlsx
from credits_cli.reports import reconcile as rec
from tests import reportdata
from tests.fake_catalog import catalogs
from tests.helpers import pin_now
from tests.test_xlsx_rows import call, entry, tiny_report

D = Decimal
LONG = "Звонки, начисления по которым расходятся с Microsoft"
CHARGE_RUN = ("{count} call charge for calls from {start} to {end}",
              "{count} call charges for calls from {start} to {end}")
RU: dict[Any, Any] = {
    "Summary": "Сводка",
    "Daily": "По дням/итоги",  # a slash: Excel would refuse it
    "Users": "Пользователи",
    "Ledger": "Журнал операций",
    "Calls": "Звонки",
    "Reconciliation": "Сверка с Microsoft",
    "Reconciliation calls": LONG,  # 52 characters
    "Section": "Раздел",
    "Item": "Статья",
    "Value": "Значение",
    "Report": "Отчёт",
    "Balance": "Баланс",
    "Opening balance": "Остаток на начало периода",
    "Closing balance": "Остаток на конец периода",
    "Top-ups ({count})": "Пополнения ({count})",
    "Total": "Итого",
    ("period", "From"): "С",
    "the dates given": "указанные даты",
    "Spend ({currency})": "Расход ({currency})",
    "Balance ({currency})": "Остаток ({currency})",
    "Daily spend ({currency})": "Расход по дням ({currency})",
    CHARGE_RUN: ("{count} списание за звонки с {start} по {end}", "{count} списания за звонки с {start} по {end}",
                 "{count} списаний за звонки с {start} по {end}"),
    "Report for {tenant}, {first} to {last}": "Отчёт для {tenant}, с {first} по {last}",
    "cannot write {path}: {reason}; nothing written": "не удалось записать {path}: {reason}; ничего не записано",
    "a different rate: ours {ours} a minute, Microsoft's {theirs}":
        "другой тариф: у нас {ours} за минуту, у Microsoft {theirs}",
    "a different rate": "другой тариф",
}
ZH: dict[Any, Any] = {
    "Summary": "摘要",
    "Daily": "每日",
    "Users": "用户",
    "Destinations": "目的地",
    "Pools": "通话分钟池",
    "Ledger": "账目",
    "Calls": "通话",
    "Reconciliation": "对账",
    "Reconciliation calls": "对账通话",
    "Balance": "余额",
    "Closing balance": "期末余额",
    "Total": "合计",
}
#: The seeded month (tests/reportdata.py), hand-computed.
CLOSING, OPENING, SPEND = D("146.0748"), D("98.5000"), D("2.4252")


@pytest.fixture
def seeded(tenant, monkeypatch):
    pin_now(monkeypatch, "2026-11-30T12:00:00Z")
    reportdata.seed()


def _currency(code: str) -> None:
    def work(s: Any) -> None:
        t = tenants.resolve(s, "contoso")
        t.currency = code
        s.add(t)

    reportdata.database().write(work)


def _report(out: Path, lang: str | None = None) -> tuple[dict[str, Any], report.Report]:
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        chosen = report.period("2026-11-01", "2026-11-30")
        p = chosen.period
        r = report.build(s, t, p, reason=chosen.reason)
        reconciled = rec.build(s, t, p)
        written = xlsx.write(out, r, report.iter_calls(s, t, p), report.iter_ledger(s, t, p, r.opening), reconciled,
                             rec.iter_differences(s, t, p, reconciled.tolerance), lang=lang)
    return written, r


def _valid(name: str) -> bool:
    return (len(name.encode("utf-16-le")) // 2 <= 31 and not re.search(r"[\[\]:*?/\\]", name)
            and not name.startswith("'") and not name.endswith("'"))


def _money(cell: Any, number_format: str) -> Decimal:
    assert cell.data_type == "n" and cell.number_format == number_format, (cell.coordinate, cell.number_format)
    return Decimal(str(cell.value)).quantize(D("0.0001"))


def test_a_russian_workbook(seeded, tmp_path: Path) -> None:
    _currency("RUB")
    rub = '#,##0.0000"\u00a0₽"'  # the rouble after the number, as Russian writes it
    out = tmp_path / "ru.xlsx"
    with catalogs(tmp_path / "locale", {"ru": RU}):
        written, r = _report(out, lang="ru")  # the command speaks English; the workbook is the tenant's
        assert i18n.current().english
        with i18n.speaking("ru"):
            lines = [*r.summary_lines(), r.check_line()]
    wb = openpyxl.load_workbook(out)
    cut = LONG[:31].rstrip()
    assert wb.sheetnames == written["sheets"] == [
        "Сводка", "Daily", "Пользователи", "Destinations", "Pools", "Журнал операций", "Звонки",
        "Сверка с Microsoft", cut]
    assert all(_valid(name) for name in wb.sheetnames) and len(cut) == 31
    assert written["calls_sheets"] == ["Звонки"] and written["ledger_sheets"] == ["Журнал операций"]

    summary = wb["Сводка"]
    assert [c.value for c in summary[1]] == ["Раздел", "Статья", "Значение"]
    rows = list(summary.iter_rows(min_row=2))
    assert len(rows) == len(lines)
    for cells, line in zip(rows, lines, strict=True):
        assert (cells[0].value, cells[1].value) == (line.section, line.item)
        if isinstance(line.value, Decimal):
            assert _money(cells[2], rub) == line.value, line.key
    found = {(row[0].value, row[1].value): row[2] for row in rows}
    closing = found[("Баланс", "Остаток на конец периода")]
    assert _money(closing, rub) == CLOSING and closing.font.bold
    assert _money(found[("Баланс", "Остаток на начало периода")], rub) == OPENING
    assert found[("Баланс", "Пополнения (1)")].value == 50
    assert found[("Отчёт", "Period")].value == "указанные даты"  # the period's reason, said in Russian
    assert found[("Отчёт", "С")].value == datetime(2026, 11, 1)

    daily = wb["Daily"]
    assert daily.cell(1, 6).value == "Расход (RUB)"
    assert daily.cell(daily.max_row, 1).value == "Итого" and _money(daily.cell(daily.max_row, 6), rub) == SPEND
    ledger = wb["Журнал операций"]
    assert [c.value for c in ledger[1]][5:7] == ["Amount (RUB)", "Остаток (RUB)"]
    first = [c for c in ledger[2]]
    assert first[9].value == "2 списания за звонки с 2026-11-02 09:00:00 по 10:00:00"
    assert _money(first[5], rub) == D("-0.5300")
    assert _money(ledger.cell(ledger.max_row, 7), rub) == CLOSING
    calls = wb["Звонки"]
    assert sum(_money(row[16], rub) for row in calls.iter_rows(min_row=2)) == SPEND
    with zipfile.ZipFile(out) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
        core = z.read("docProps/core.xml").decode()
    assert "Расход по дням (RUB)" in chart and "'По дням" not in chart and "Daily!$F$2" in chart
    assert "Отчёт для contoso, с 1 нояб. 2026\u202fг. по 30 нояб. 2026\u202fг." in core


def test_a_chinese_workbook(seeded, tmp_path: Path) -> None:
    _currency("CNY")
    cny = '"¥"#,##0.0000'  # the yuan before the number, with no gap
    out = tmp_path / "zh.xlsx"
    with catalogs(tmp_path / "locale", {"zh_CN": ZH}), i18n.speaking("zh_CN"):
        written, _ = _report(out)  # the caller speaks the tenant's language around the call
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == written["sheets"] == [
        "摘要", "每日", "用户", "目的地", "通话分钟池", "账目", "通话", "对账", "对账通话"]
    assert all(_valid(name) for name in wb.sheetnames)
    found = {(row[0].value, row[1].value): row[2] for row in wb["摘要"].iter_rows(min_row=2)}
    assert _money(found[("余额", "期末余额")], cny) == CLOSING
    assert found[("Report", "Period")].value == "the dates given"  # no translation: the English text
    assert _money(wb["每日"].cell(wb["每日"].max_row, 6), cny) == SPEND
    assert wb["用户"].cell(wb["用户"].max_row, 1).value == "合计"
    assert wb["账目"].cell(2, 10).value == "2 call charges for calls from 2026-11-02 09:00:00 to 10:00:00"
    with zipfile.ZipFile(out) as z:
        assert "每日!$F$2:$F$31" in z.read("xl/charts/chart1.xml").decode()


@pytest.mark.parametrize(("lang", "currency", "number_format"), [
    ("en", "USD", '#,##0.0000 "USD"'),
    ("en", "RUB", '#,##0.0000 "RUB"'),
    ("ru", "RUB", '#,##0.0000"\u00a0₽"'),
    ("ru", "USD", '#,##0.0000"\u00a0$"'),
    ("kk", "KZT", '#,##0.0000"\u00a0₸"'),
    ("zh_CN", "CNY", '"¥"#,##0.0000'),
    ("zh_CN", "USD", '"US$"#,##0.0000'),
])
def test_money_formats_need_no_catalog(tmp_path: Path, lang: str, currency: str, number_format: str) -> None:
    r = tiny_report()
    r.currency = currency
    out = tmp_path / "r.xlsx"
    xlsx.write(out, r, iter([call(0, charge=D("-1234.5678"))]), iter([entry(0, amount=D("1234567.8912"))]),
               lang=lang)
    wb = openpyxl.load_workbook(out)
    with i18n.speaking(lang):  # the shipped catalogs name the sheets
        calls, ledger = i18n._(xlsx.CALLS), i18n._(xlsx.LEDGER)
    assert (calls == "Calls") == (lang == "en") and all(_valid(n) for n in wb.sheetnames)
    assert _money(wb[calls].cell(2, 17), number_format) == D("-1234.5678")
    assert _money(wb[ledger].cell(2, 6), number_format) == D("1234567.8912")
    with i18n.speaking(lang):
        assert xlsx.money_format(currency) == number_format


def test_a_long_translated_name_still_fits_on_continued_sheets(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 3)  # 2 data rows a sheet
    long = "Звонки за отчётный период (все записи)"  # 38 characters
    out = tmp_path / "r.xlsx"
    with catalogs(tmp_path / "locale", {"ru": {"Calls": long}}):
        written = xlsx.write(out, tiny_report(), iter([call(n) for n in range(5)]), iter([]), lang="ru")
    assert written["calls_sheets"] == [long[:31].rstrip(), long[:27].rstrip() + " (2)", long[:27].rstrip() + " (3)"]
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[-3:] == written["calls_sheets"] and all(_valid(n) for n in wb.sheetnames)
    assert [row[1].value for name in written["calls_sheets"] for row in wb[name].iter_rows(min_row=2)] == [
        f"call-{n}" for n in range(5)]


def test_an_error_is_said_in_the_commands_language(tmp_path: Path, monkeypatch) -> None:
    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xlsx, "_summary", full)
    with catalogs(tmp_path / "locale", {"ru": RU}):
        with pytest.raises(InvalidInput, match="^cannot write .*: No space left on device; nothing written$"):
            xlsx.write(tmp_path / "r.xlsx", tiny_report(), iter([]), iter([]), lang="ru")
        with i18n.speaking("ru"), pytest.raises(InvalidInput, match="^не удалось записать .*; ничего не записано$"):
            xlsx.write(tmp_path / "r.xlsx", tiny_report(), iter([]), iter([]))
    assert not (tmp_path / "r.xlsx").exists()


# --- the CSV files ---------------------------------------------------------------------------------


def _csv(folder: Path, lang: str | None) -> None:
    with reportdata.database().read() as s:
        t = tenants.resolve(s, "contoso")
        chosen = report.period("2026-11-01", "2026-11-30")
        p = chosen.period
        r = report.build(s, t, p, reason=chosen.reason)
        reconciled = rec.build(s, t, p)
        report_csv.write(folder, r, report.iter_calls(s, t, p), report.iter_ledger(s, t, p, r.opening),
                         reconciliation=reconciled, differences=rec.iter_differences(s, t, p, reconciled.tolerance),
                         lang=lang)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_summary_csv_has_keys_for_scripts_and_labels_for_people(seeded, tmp_path: Path) -> None:
    with catalogs(tmp_path / "locale", {"ru": RU}):
        _csv(tmp_path / "en", None)
        _csv(tmp_path / "ru", "ru")
    english, russian = _read(tmp_path / "en" / "summary.csv"), _read(tmp_path / "ru" / "summary.csv")
    assert (tmp_path / "en" / "summary.csv").read_text().splitlines()[:3] == [
        "section,item,value,key", "Report,Tenant,contoso,tenant", "Report,Name,Contoso,name"]
    assert [row["key"] for row in english] == [row["key"] for row in russian]
    assert [row["value"] for row in english] == [row["value"] for row in russian]  # values are data: unchanged
    keys = [row["key"] for row in english]
    assert len(set(keys)) == len(keys)
    assert keys[:16] == ["tenant", "name", "currency", "from", "to", "generated_at", "period", "opening_balance",
                         "topups", "recharges", "charges_posted", "late_charges", "expired", "adjustments",
                         "closing_balance", "spend.outbound"]
    assert {"spend.total", "calls.charged", "calls.total", "denied.unlicensed", "denied.no_balance"} <= set(keys)
    assert keys[-1] == "check"
    by_key = {row["key"]: row for row in russian}
    assert (by_key["closing_balance"]["section"], by_key["closing_balance"]["item"]) == (
        "Баланс", "Остаток на конец периода")
    assert by_key["closing_balance"]["value"] == "146.0748"
    assert by_key["period"]["value"] == "the dates given"
    assert {row["key"]: row["value"] for row in english}["closing_balance"] == "146.0748"
    # every other file is the same in every language, byte for byte
    for name in sorted(p.name for p in (tmp_path / "en").glob("*.csv")):
        if name != "summary.csv":
            assert (tmp_path / "en" / name).read_bytes() == (tmp_path / "ru" / name).read_bytes(), name
    ledger = _read(tmp_path / "ru" / "ledger.csv")
    assert ledger[0]["note"] == "2 call charges for calls from 2026-11-02 09:00:00 to 10:00:00"


# --- sheet names, reasons, the runway ---------------------------------------------------------------


@pytest.mark.parametrize(("wanted", "suffix", "expected"), [
    ("Сводка", "", "Сводка"),
    ("x" * 31, "", "x" * 31),
    ("x" * 40, "", "x" * 31),
    ("x" * 40, " (2)", "x" * 27 + " (2)"),
    ("x" * 30 + " yy", "", "x" * 30),  # no space left at the cut
    ("\U0001f600" * 20, "", "\U0001f600" * 15),  # 30 UTF-16 units: a pair is never cut
    ("a/b", "", None), ("a[b]", "", None), ("a:b", "", None), ("a*b", "", None), ("a?b", "", None),
    ("a\\b", "", None), ("'quoted'", "", None), ("", "", None), ("   ", "", None), ("History", "", None),
    ("bell\x07", "", None),
])
def test_a_sheet_name_is_cut_or_refused(wanted: str, suffix: str, expected: str | None) -> None:
    assert guard.fit_sheet_name(wanted, suffix) == expected


def test_sheet_names_fall_back_to_english_and_stay_unique() -> None:
    names = guard.SheetNames()
    assert names.name("По дням/итоги", "Daily") == "Daily"
    assert names.name("Звонки", "Calls") == "Звонки"
    assert names.name("ЗВОНКИ", "Reconciliation calls") == "Reconciliation calls"  # taken, whatever the case
    assert names.name("Daily", "Ledger") == "Ledger"
    assert names.name("x", "Daily") == "x"


def test_why_a_call_differs_is_english_data_said_in_russian(tmp_path: Path) -> None:
    d = rec.Difference(datetime(2026, 11, 2, 9), "c1", "alice@contoso.com", "outbound", "+1", "US", "charged", "",
                       D("0.3000"), D("0.6000"), "USD", None, "")
    with catalogs(tmp_path / "locale", {"ru": RU}), i18n.speaking("ru"):
        why = rec.why(d, None, 0, 600, 600, "USD")
        assert why == "a different rate: ours 0.0300 a minute, Microsoft's 0.0600"  # --json, CSV
        assert rec.reason_label(why.split(":")[0]) == "другой тариф"
        assert why.said() == "другой тариф: у нас 0,03 за минуту, у Microsoft 0,06"


def test_the_runway_line_in_russian() -> None:
    doc: dict[str, object] = {
        "daily_spend": D("1234.5"), "observed_days": 30, "observed_from": date(2026, 11, 2),
        "observed_to": date(2026, 12, 1), "days_to_threshold": "333.7", "threshold_date": date(2027, 10, 29),
        "days_to_zero": "1359.9", "zero_date": date(2030, 8, 20),
    }
    english = runway.describe_runway(doc, "RUB")
    assert english == (
        "runway: at 1234.50 RUB a day (average of the 30 day(s) from 2026-11-02 to 2026-12-01, the latest imported "
        "calls), 333.7 days to the recharge threshold (2027-10-29), 1359.9 days to zero (2030-08-20) without "
        "recharges")
    with i18n.speaking("ru"):
        russian = runway.describe_runway(doc, "RUB")
    assert russian.startswith("запас баланса: при расходе 1\u00a0234,50\u00a0₽ в день")
    assert "1\u00a0359,9 дн. до нуля (20 авг. 2030" in russian
