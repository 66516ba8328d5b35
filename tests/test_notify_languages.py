"""E-mails in the tenant's language, delivered intact through a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from credits_cli import db as dbmod
from credits_cli import i18n, notify, tenants
from credits_cli.models import Tenant
from tests.fake_catalog import catalogs
from tests.helpers import db_path, pin_now, rows
from tests.test_notify_smtp import SENDER, free_port

RU = {
    "Communications Credits balance reached zero": "Баланс кредитов на связь достиг нуля",
    "Communications Credits recharge FAILED": "Автоматическое пополнение кредитов на связь НЕ ВЫПОЛНЕНО",
    "Organisation: {name} ({slug})": "Организация: {name} ({slug})",
    "Happened at: {moment}": "Когда: {moment}",
    "Balance now: {amount}": "Баланс сейчас: {amount}",
    "Recharge amount: {amount}": "Сумма пополнения: {amount}",
    "Toll-free numbers and paid calls stop working until the balance is funded.":
        "Бесплатные номера и платные звонки не работают, пока баланс не пополнен.",
}
ZH = {
    "Communications Credits balance reached zero": "通信点数余额已降至零",
    "[{tenant}] {event}": "【{tenant}】{event}",
    "Organisation: {name} ({slug})": "组织：{name}（{slug}）",
    "Happened at: {moment}": "发生时间：{moment}",
    "Balance now: {amount}": "当前余额：{amount}",
    "Toll-free numbers and paid calls stop working until the balance is funded.":
        "在充值之前，免费电话号码和付费通话将停止工作。",
}


class Raw:
    """Keeps each message exactly as it came over the wire."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def server() -> Iterator[tuple[Raw, int]]:
    handler = Raw()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)  # offers 8BITMIME: our mail does not need it
    controller.start()
    yield handler, port
    controller.stop()


def _tenant(cli: Any, slug: str, name: str, country: str, currency: str, lang: str | None) -> None:
    assert cli("tenant", "add", slug, "--name", name, "--country", country, "--currency", currency).exit_code == 0
    assert cli("--tenant", slug, "admin", "add", f"billing@{slug}.com", "--role", "billing-admin").exit_code == 0

    def work(s: Any) -> None:
        t = s.exec(select(Tenant).where(Tenant.slug == slug)).one()
        t.lang = lang
        s.add(t)

    dbmod.open_database(db_path()).write(work)


def _queue(slug: str, event: str, **details: object) -> None:
    dbmod.open_database(db_path()).write(
        lambda s: notify.queue_event(s, tenants.resolve(s, slug), event, datetime(2026, 10, 29, 14, 2, 31), **details))


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_russian_and_chinese_mail_arrive_intact(cli, server: tuple[Raw, int], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    handler, port = server
    pin_now(monkeypatch, "2026-11-02T09:00:00Z")
    _tenant(cli, "rossvyaz", "Россвязь", "RU", "RUB", "ru")
    _tenant(cli, "fabrikam", "法布里坎", "CN", "CNY", "zh_CN")
    with catalogs(tmp_path / "locale", {"ru": RU, "zh_CN": ZH}):
        # the command that caused the events speaks Kazakh: each e-mail is in its tenant's language
        with i18n.speaking("kk"):
            _queue("rossvyaz", "balance_zero", balance=Decimal("-1234.5"))
            _queue("fabrikam", "balance_zero", balance=Decimal("-1234.5"))
        for slug in ("rossvyaz", "fabrikam"):
            r = cli("--lang", "en", "--tenant", slug, "notifications", "send", "--smtp", f"127.0.0.1:{port}",
                    "--sender", SENDER)
            assert r.exit_code == 0, r.stderr
    assert rows("SELECT count(*) FROM notifications WHERE status = 'sent'") == [(2,)]
    ru_raw, zh_raw = handler.messages
    for raw in (ru_raw, zh_raw):
        assert raw.isascii()  # 7-bit on the wire: UTF-8 in RFC 2047 words and base64
        assert b"=?utf-8?" in raw and b'charset="utf-8"' in raw and b"Content-Transfer-Encoding: base64" in raw
    ru, zh = _parsed(ru_raw), _parsed(zh_raw)
    assert ru["Subject"] == "[rossvyaz] Баланс кредитов на связь достиг нуля"
    assert ru.get_content() == (
        "Организация: Россвязь (rossvyaz)\n"
        "Когда: 29 окт. 2026\u202fг., 14:02:31 UTC\n"
        "Баланс сейчас: -1\u00a0234,50\u00a0₽\n"
        "\n"
        "Бесплатные номера и платные звонки не работают, пока баланс не пополнен.\n"
    )
    assert zh["Subject"] == "【fabrikam】通信点数余额已降至零"
    assert zh.get_content() == (
        "组织：法布里坎（fabrikam）\n"
        "发生时间：2026年10月29日 14:02:31 UTC\n"
        "当前余额：-¥1,234.50\n"
        "\n"
        "在充值之前，免费电话号码和付费通话将停止工作。\n"
    )


def test_a_tenant_without_a_language_gets_the_commands(cli, server: tuple[Raw, int], tmp_path: Path) -> None:
    handler, port = server
    _tenant(cli, "rossvyaz", "Россвязь", "RU", "RUB", None)
    with catalogs(tmp_path / "locale", {"ru": RU}):
        with i18n.speaking("ru"):
            _queue("rossvyaz", "recharge_failed", amount=Decimal("5000"), balance=Decimal("0"),
                   reason="the card expired")
        _queue("rossvyaz", "recharge_failed", amount=Decimal("5000"), balance=Decimal("0"), reason="the card expired")
    r = cli("--tenant", "rossvyaz", "notifications", "send", "--smtp", f"127.0.0.1:{port}", "--sender", SENDER)
    assert r.exit_code == 0, r.stderr
    russian, english = (_parsed(raw) for raw in handler.messages)
    assert russian["Subject"] == "[rossvyaz] Автоматическое пополнение кредитов на связь НЕ ВЫПОЛНЕНО"
    assert "Сумма пополнения: 5\u00a0000,00\u00a0₽" in russian.get_content()
    assert english["Subject"] == "[rossvyaz] Communications Credits recharge FAILED"
    body = english.get_content()
    assert "Organisation: Россвязь (rossvyaz)\nHappened at: 2026-10-29 14:02 UTC\n" in body
    assert "Recharge amount: 5000.00 RUB\nBalance now: 0.00 RUB\nReason: the card expired\n" in body
    assert english["Content-Transfer-Encoding"] == "base64"  # the tenant's name is not ASCII


def test_the_pool_given_as_numbers_is_said_in_the_language(cli, tenant) -> None:
    def work(s: Any) -> None:
        t = tenants.resolve(s, None)
        notify.queue_event(s, t, "dialout_pool_80", datetime(2026, 10, 29), used_minutes=48000, capacity_minutes=60000)
        t.lang = "ru"
        notify.queue_event(s, t, "dialout_pool_80", datetime(2026, 10, 29), used_minutes=48000, capacity_minutes=60000)

    dbmod.open_database(db_path()).write(work)
    english, russian = (body for (body,) in rows("SELECT body FROM notifications ORDER BY id"))
    assert "Pool: dial-out 48000 of 60000 minutes\n" in english
    assert "48\u00a0000" in russian and "60\u00a0000" in russian and "Pool" not in russian



@pytest.mark.parametrize("subject", [
    "[org] Communications Credits теңгерімін толтыру СӘТСІЗ АЯҚТАЛДЫ",
    "[rossvyaz] Автоматическое пополнение кредитов на связь НЕ ВЫПОЛНЕНО, повторите попытку позже",
    "[fab] 通信点数 自动充值 失败 请 更新 付款方式 或 手动 充值 " * 2,
])
def test_a_long_subject_keeps_every_space(subject: str) -> None:
    """The standard library's folder leaves a space between two encoded words, where a reader drops it;
    the subject is written so that every space survives, in 7-bit lines of at most 78 characters."""
    from types import SimpleNamespace

    note = SimpleNamespace(recipient="a@example.com", subject=subject.strip(), created_at=datetime(2026, 11, 5),
                           id=7, event="recharge_failed", body="Тело письма")
    raw = notify._message(note, "credits@example.com", "org").as_bytes()  # type: ignore[arg-type]
    assert raw.isascii() and max(len(line) for line in raw.split(b"\n")) <= 78
    assert str(_parsed(raw)["Subject"]) == subject.strip()
