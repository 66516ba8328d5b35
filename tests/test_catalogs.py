"""The message catalogs shipped in the package: complete, current, valid for GNU gettext, and
:func:`credits_cli.catalogs.problems` finds what a translator can get wrong."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from credits_cli import catalogs, i18n

LANGS = catalogs.translated_languages()


def test_every_language_has_a_catalog_and_a_compiled_one() -> None:
    assert LANGS == ["ru", "kk", "zh_CN"]
    for lang in LANGS:
        assert catalogs.po_path(lang).is_file()
        assert catalogs.mo_path(lang).is_file(), f"{lang}: run python -m credits_cli.catalogs compile"


def test_the_shipped_catalogs_translate_every_message_of_the_code() -> None:
    """Every message the code and its help texts have is translated in every language, none stale or
    fuzzy, no field invented, each .mo compiled from its .po (python -m credits_cli.catalogs check)."""
    assert catalogs.problems() == []


@pytest.mark.parametrize("lang", LANGS)
def test_each_catalog_passes_msgfmt_check(lang: str, tmp_path: Path) -> None:
    """GNU msgfmt's own checks: the header, the plural formula, the format strings."""
    if shutil.which("msgfmt") is None:
        pytest.skip("GNU gettext (msgfmt) is not installed; .ci/run installs it")
    result = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "x.mo"), str(catalogs.po_path(lang))],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("lang", "forms"), [("ru", 3), ("kk", 2), ("zh_CN", 1)])
def test_plural_forms_of_each_language(lang: str, forms: int) -> None:
    with catalogs.mo_path(lang).open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.info()["plural-forms"].startswith(f"nplurals={forms};")


def test_russian_counts_take_three_forms() -> None:
    """1 списание, 2 списания, 5 списаний: each count its own form, through the shipped catalog, and 21
    takes the form of 1 (other messages may share two forms: "more than 2 digits" and "more than 5
    digits" both take the genitive)."""
    one = "{count} call charge for calls from {start} to {end}"
    many = "{count} call charges for calls from {start} to {end}"
    with i18n.speaking("ru"):
        said = {n: i18n.ngettext(one, many, n).format(count=n, start="A", end="B") for n in (1, 2, 5, 21, 22, 25, 11)}
    assert said[1] == "1 списание за звонки с A до B"
    assert said[2] == "2 списания за звонки с A до B"
    assert said[5] == "5 списаний за звонки с A до B"
    assert said[21].startswith("21 списание ") and said[22].startswith("22 списания ")
    assert said[25].startswith("25 списаний ") and said[11].startswith("11 списаний ")
    with i18n.speaking("zh_CN"):
        assert i18n.ngettext(one, many, 1) == i18n.ngettext(one, many, 5)  # one form


def _catalog(lang: str, entries: dict[str, str]) -> Catalog:
    catalog = Catalog(locale=lang, domain=i18n.DOMAIN)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr, flags=["python-brace-format"] if "{" in msgid else [])
    return catalog


def test_problems_names_each_kind_of_mistake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A made-up set of catalogs with one mistake of each kind: problems() names every one."""
    monkeypatch.setattr(catalogs, "LOCALE_DIR", tmp_path)
    template = _catalog("en", {"balance {amount}": "", "top-up": "", "runway": ""})
    po_entries = {
        "ru": {"balance {amount}": "баланс {amount}", "top-up": "", "gone": "старое", "runway": "запас"},
        "kk": {"balance {amount}": "теңгерім {sum}", "top-up": "толтыру", "runway": "x"},
        "zh_CN": {"balance {amount}": "余额 {amount}", "top-up": "充值", "runway": "可用天数"},
    }
    for lang, entries in po_entries.items():
        path = catalogs.po_path(lang)
        path.parent.mkdir(parents=True)
        catalog = _catalog(lang, entries)
        if lang == "kk":
            catalog["runway"].flags.add("fuzzy")
        with path.open("wb") as handle:
            write_po(handle, catalog)
        if lang != "ru":
            compiled = _catalog(lang, entries | ({"top-up": "old"} if lang == "zh_CN" else {}))
            with catalogs.mo_path(lang).open("wb") as handle:
                write_mo(handle, compiled)
    found = catalogs.problems(template)
    assert "ru: not translated: 'top-up'" in found
    assert "ru: stale (no longer in the code): 'gone'" in found
    assert any(line.startswith("ru: not compiled:") for line in found)
    assert "kk: fuzzy: 'runway'" in found
    assert "kk: the translation of 'balance {amount}' has fields the message has not: ['sum']" in found
    assert any(line.startswith("zh_CN: credits.mo is older than credits.po") for line in found)
    assert not [line for line in found if line.startswith("zh_CN") and "older" not in line]


def test_a_message_missing_from_a_catalog_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogs, "LOCALE_DIR", tmp_path)
    template = _catalog("en", {"new message": ""})
    for lang in LANGS:
        path = catalogs.po_path(lang)
        path.parent.mkdir(parents=True)
        with path.open("wb") as handle:
            write_po(handle, _catalog(lang, {}))
        with catalogs.mo_path(lang).open("wb") as handle:
            write_mo(handle, _catalog(lang, {}))
    assert catalogs.problems(template) == [f"{lang}: not in the catalog: 'new message'" for lang in LANGS]
