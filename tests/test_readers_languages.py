"""Rejected rows and refused files in the command's language: the reasons in the --rejects file are for
people and follow --lang, its header (file,line,reason) and the JSON summary do not; column names stay as
the file has them; English is as it always was."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from credits_cli import i18n
from credits_cli.errors import InvalidInput
from credits_cli.readers import RowError, open_records
from credits_cli.readers._text import EXPECTED
from tests.fake_catalog import catalogs
from tests.helpers import pin_now

ROOT = Path(__file__).resolve().parent.parent

#: A made-up Russian catalog of a few of the readers' and rating's messages.
RU: dict[str | tuple[str, str], str] = {
    "{what} {value} is not a whole number of seconds": "{what}: {value} — не целое число секунд",
    "{what} {value} is out of range ({first}-{last})": "{what}: {value} — вне диапазона ({first}–{last})",
    "number {value} is not a phone number": "номер {value} — не телефонный номер",
    "{what} {value} is not an amount": "{what}: {value} — не сумма",
    "unknown call type {kind}": "неизвестный тип звонка {kind}",
    "{source}: not a call-record file I know; {expected}": "{source}: незнакомый файл звонков; {expected}",
    EXPECTED: "нужна выгрузка Teams",
    "{source}: looks like {what}": "{source}: похоже на {what}",
    "a Graph SMS log (getSmsLog), not a call log": "журнал SMS Graph, а не журнал звонков",
    "the download is incomplete: the last page still has @odata.nextLink ({link}); "
    "fetch the pages after it and import them too": "загрузка неполная ({link})",
}

CALLS = """\
call_id,user,start,duration_seconds,kind,number
c1,ada@contoso.com,2026-01-05T10:00:00Z,61,outbound,+442079460123
c2,ada@contoso.com,2026-01-05T11:00:00Z,x,outbound,+442079460123
c3,ada@contoso.com,2150-01-05T12:00:00Z,60,outbound,+442079460123
c4,ada@contoso.com,2026-01-05T13:00:00Z,60,outbound,call me
"""

#: Graph JSON: a charge that is not an amount, and a call type no rule knows (rejected by rating).
GRAPH = {"@odata.nextLink": "https://graph.microsoft.com/next", "value": [
    {"id": "g1", "callType": "user_out", "startDateTime": "2026-01-05T10:00:00Z", "duration": 60,
     "userPrincipalName": "ada@contoso.com", "calleeNumber": "+442079460123", "charge": "lots"},
    {"id": "g2", "callType": "weird_out", "startDateTime": "2026-01-05T11:00:00Z", "duration": 60,
     "userPrincipalName": "ada@contoso.com", "calleeNumber": "+442079460123"},
]}

ENGLISH = [
    ["file", "line", "reason"],
    ["calls.csv", "3", "duration_seconds 'x' is not a whole number of seconds"],
    ["calls.csv", "4", "start '2150-01-05T12:00:00Z' is out of range (2000-2099)"],
    ["calls.csv", "5", "number 'call me' is not a phone number"],
    ["graph.json", "1", "charge 'lots' is not an amount"],
    ["graph.json", "2", "unknown call type 'weird_out'"],
]
RUSSIAN = [
    ["file", "line", "reason"],
    ["calls.csv", "3", "duration_seconds: 'x' — не целое число секунд"],
    ["calls.csv", "4", "start: '2150-01-05T12:00:00Z' — вне диапазона (2000–2099)"],
    ["calls.csv", "5", "номер 'call me' — не телефонный номер"],
    ["graph.json", "1", "charge: 'lots' — не сумма"],
    ["graph.json", "2", "неизвестный тип звонка 'weird_out'"],
]


@pytest.fixture
def russian(tmp_path: Path) -> Iterator[None]:
    """The made-up Russian, where ``--lang ru`` finds it; the process speaks English again after."""
    with catalogs(tmp_path / "locale", {"ru": RU}):
        yield
    i18n.use(None)


@pytest.fixture
def files(cli, tenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    pin_now(monkeypatch, "2026-01-01T00:00:00Z")
    assert cli("rates", "load", str(ROOT / "rates" / "default-usd.yaml")).exit_code == 0
    assert cli("topup", "100").exit_code == 0
    assert cli("user", "add", "ada@contoso.com", "--country", "US", "--plan", "payg").exit_code == 0
    assert cli("license", "assign", "ada@contoso.com").exit_code == 0
    own, graph = tmp_path / "calls.csv", tmp_path / "graph.json"
    own.write_text(CALLS, encoding="utf-8")
    graph.write_text(json.dumps(GRAPH), encoding="utf-8")
    pin_now(monkeypatch, "2026-01-10T00:00:00Z")
    return [own, graph]


def _rate(cli, files: list[Path], out: Path, lang: str) -> tuple[dict, list[list[str]]]:
    result = cli("--lang", lang, "rate-cdrs", *map(str, files), "--rejects", str(out), "--json", "--dry-run")
    assert result.exit_code == 3, result.stderr
    with out.open(newline="", encoding="utf-8") as handle:
        return json.loads(result.stdout), list(csv.reader(handle))


def test_english_reasons_are_as_they_were(cli, files: list[Path], tmp_path: Path) -> None:
    doc, rows = _rate(cli, files, tmp_path / "rejects.csv", "en")
    assert rows == ENGLISH
    assert doc["rejected"] == 5


def test_reasons_follow_the_language_the_header_and_json_do_not(cli, files: list[Path], tmp_path: Path,
                                                               russian: None) -> None:
    english, en_rows = _rate(cli, files, tmp_path / "en.csv", "en")
    said, ru_rows = _rate(cli, files, tmp_path / "ru.csv", "ru")
    assert en_rows == ENGLISH
    assert ru_rows == RUSSIAN  # the header and the column names (duration_seconds, charge) stay
    for doc in (english, said):
        doc.pop("import_id", None)
        doc.pop("rejects_file")
    assert json.dumps(said, sort_keys=True) == json.dumps(english, sort_keys=True)
    assert said["notes"] == [f"{files[1].name}: the download is incomplete: the last page still has @odata.nextLink "
                             "(https://graph.microsoft.com/next); fetch the pages after it and import them too"]


def test_a_file_that_is_not_a_call_record_file(tmp_path: Path, russian: None) -> None:
    path = tmp_path / "budget.csv"
    path.write_text("month,amount\n2026-01,100\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as english:
        open_records(path)
    assert str(english.value) == f"budget.csv: not a call-record file I know; {EXPECTED}"
    with i18n.speaking("ru"), pytest.raises(InvalidInput) as said:
        open_records(path)
    assert str(said.value) == "budget.csv: незнакомый файл звонков; нужна выгрузка Teams"


def test_another_graph_log_is_named_in_the_language(tmp_path: Path, russian: None) -> None:
    path = tmp_path / "sms.json"
    path.write_text(json.dumps({"value": [{"id": "s1", "smsId": "x", "smsType": "outbound"}]}), encoding="utf-8")
    with i18n.speaking("ru"), pytest.raises(InvalidInput) as said:
        list(open_records(path)[1])
    assert str(said.value) == "sms.json: похоже на журнал SMS Graph, а не журнал звонков"
    with pytest.raises(InvalidInput) as english:
        list(open_records(path)[1])
    assert str(english.value) == "sms.json: looks like a Graph SMS log (getSmsLog), not a call log"


def test_a_download_note_stays_english_as_data_and_is_said_translated(tmp_path: Path) -> None:
    page = {"@odata.nextLink": "https://graph.microsoft.com/next", "value": GRAPH["value"][:1]}
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    note = "the download is incomplete: the last page still has @odata.nextLink ({link}); " \
           "fetch the pages after it and import them too"
    with catalogs(tmp_path / "locale", {"ru": {note: "загрузка неполная ({link})"}}):
        with i18n.speaking("ru"):
            items = list(open_records(path, notes=True)[1])
        notes = [i for i in items if not isinstance(i, RowError) and hasattr(i, "text")]
        assert notes and str.__str__(notes[0].text) == note.format(link="https://graph.microsoft.com/next")
        with i18n.speaking("ru"):
            from credits_cli import phrases

            assert phrases.said(notes[0].text) == "загрузка неполная (https://graph.microsoft.com/next)"
