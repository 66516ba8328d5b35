"""The command line's own words in the chosen language: error and warning prefixes, click's usage errors,
the "Examples:" heading, and help wrapped in terminal cells (a Chinese character takes two)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import typer
from rich.cells import cell_len
from typer.core import TyperGroup

from credits_cli.cli import common
from credits_cli.cli.app import app, translate_help
from tests.fake_catalog import catalogs

LONG_ZH = ("SMTP 服务器：HOST:PORT（服务器提供时使用 STARTTLS），"
           "或者 smtps://HOST:PORT 或端口 465（从第一个字节起使用 TLS）。"
           "密码只通过 TLS 发送，除非给出 --insecure-login；graph-csv 文件按原样读取，不会被修改，也从不打印或保存。")
ZH = {
    "SMTP server: HOST:PORT (STARTTLS when offered), or smtps://HOST:PORT or port 465 (TLS from the first byte).":
        LONG_ZH,
    "Examples:": "示例：",
    "Usage:": "用法：",
    "Options": "选项",
}
RU = {
    "error:": "ошибка:",
    "Usage:": "Использование:",
    "Error:": "Ошибка:",
    "Try '{command} {option}' for help.": "Справка: '{command} {option}'.",
    "No such option: {name}": "Нет такого параметра: {name}",
    "Invalid value for {param_hint}: {message}": "Недопустимое значение {param_hint}: {message}",
    "{value} is not in the range {range}.": "{value} вне диапазона {range}.",
    "showing {shown} of {total} {noun}": "показано {shown} из {total} {noun}",
}


@pytest.fixture
def speaking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("LANGUAGE", os.environ.get("LANGUAGE", ""))
    with catalogs(tmp_path / "locale", {"ru": RU, "zh_CN": ZH}):
        yield
    common.speak("en")


def run(capsys: pytest.CaptureFixture[str], lang: str, *args: str) -> tuple[int, str]:
    """The command line as ``main()`` runs it, in ``lang``: (exit code, stdout and stderr)."""
    common.speak(lang)
    command = cast(TyperGroup, typer.main.get_command(app))
    translate_help(command)
    common.measure_help_in_cells(command)
    with pytest.raises(SystemExit) as exited:
        command.main(["--lang", lang, *args], prog_name="credits")
    out = capsys.readouterr()
    return int(exited.value.code or 0), out.out + out.err


def test_chinese_help_fits_the_terminal_in_cells(speaking: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "zh_CN", "notifications", "send", "--help")
    assert code == 0
    assert "用法：" in out and "示例：" in out and "选项:" in out
    assert "服务器" in out
    assert max(cell_len(line) for line in out.splitlines()) <= 80
    words = out.split()
    assert not any(w.endswith("--insecure-") or w.endswith("graph-") for w in words)
    assert "--insecure-login" in out.replace("\n", " ")


def test_english_help_is_click_s(speaking: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "en", "notifications", "send", "--help")
    assert code == 0
    assert out.startswith("Usage: credits notifications send [OPTIONS]")
    assert "\n  Examples:\n    credits notifications send" in out


def test_a_usage_error_in_russian(speaking: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "ru", "tenant", "show", "--bogus")
    assert code == 2
    assert "Использование:" in out and "Справка: '" in out
    assert out.rstrip().endswith("Ошибка: Нет такого параметра: --bogus")
    code, out = run(capsys, "en", "tenant", "show", "--bogus")
    assert code == 2
    assert out.rstrip().endswith("Error: No such option: --bogus") and "Try '" in out


def test_click_messages_are_found_in_their_english() -> None:
    with_range = "Invalid value for '--timeout': 0.0 is not in the range 0.1<=x<=86400."
    assert common._click_text(with_range) == with_range  # English: as click said it
    assert common._click_text("Missing option '--name'.") == "Missing option '--name'."


def test_click_messages_translated(speaking: None) -> None:
    common.speak("ru")
    said = common._click_text("Invalid value for '--timeout': 0.0 is not in the range 0.1<=x<=86400.")
    assert said == "Недопустимое значение '--timeout': 0.0 вне диапазона 0.1<=x<=86400."


def test_counts_and_prefixes(speaking: None) -> None:
    assert common.shown_line(100, 199814, "calls") == "showing 100 of 199,814 calls"
    common.speak("ru")
    assert common.shown_line(100, 199814, "calls") == "показано 100 из 199\u00a0814 calls"
    with pytest.raises(typer.Exit):
        common.fail("x")


def test_machine_output_is_the_same_in_every_language(speaking: None, capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITS_DB", str(tmp_path / "c.db"))
    monkeypatch.setenv("CREDITS_NOW", "2026-11-28T10:00:00Z")  # the same "as of" in both runs
    assert run(capsys, "en", "tenant", "add", "contoso", "--name", "Contoso", "--country", "US",
               "--currency", "USD")[0] == 0
    for args in (["tenant", "list", "-o", "csv"], ["tenant", "show", "--json"], ["overview", "--json"],
                 ["notifications", "-o", "csv"], ["admin", "list", "--json"]):
        english, russian = run(capsys, "en", *args), run(capsys, "ru", *args)
        assert english == russian, args
