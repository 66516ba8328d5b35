"""The message catalogs: extract, update, compile and check them (Babel).

    python -m credits_cli.catalogs extract    # the code's messages -> locale/credits.pot
    python -m credits_cli.catalogs update [LANG...]    # the .pot -> each locale/<lang>/LC_MESSAGES/credits.po
    python -m credits_cli.catalogs compile [LANG...]   # each .po -> its .mo (shipped in the package)
    python -m credits_cli.catalogs check      # every message translated, none stale, each .mo current

``extract`` reads two sources: the calls of :func:`~credits_cli.i18n._`,
``N_``, ``ngettext`` and ``pgettext`` in the code (Babel's Python extractor),
and the help text of every command, argument and option, which Typer takes
from ``help=`` and from docstrings (read from the command tree itself, as
``credits --help`` shows it). A new language is ``pybabel init`` on the
``.pot`` (see the README), then ``update`` and ``compile``.

Only this module imports ``babel.messages``; the product reads the compiled
``.mo`` files with the standard library.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credits_cli.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, SOURCE

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

PACKAGE = Path(__file__).parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS: dict[str, Any] = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
                            "npgettext": ((1, "c"), 2, 3)}
#: Modules that hold no message for people (this one names the keywords above in its own text).
SKIP = {"catalogs.py"}


def translated_languages() -> list[str]:
    return [code for code in LANGUAGES if code != SOURCE]


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(lang: str) -> Path:
    return po_path(lang).with_suffix(".mo")


def help_texts() -> Iterator[tuple[str, str]]:
    """Every help text of the command tree, as :func:`credits_cli.cli.app.translate_help` looks it
    up, with where it shows (``credits topup --at``)."""
    from typing import cast

    import typer
    from typer.core import TyperGroup

    from credits_cli.cli.app import app, help_items

    for where, _, text in help_items(cast(TyperGroup, typer.main.get_command(app))):
        yield text, where


def code_messages() -> Iterator[tuple[Any, str, int, list[str], str | None]]:
    """Every message of the code: ``(message, file, line, translator comments, context)``; a counted
    message is ``(singular, plural)``."""
    from babel.messages.extract import extract as extract_file

    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in SKIP:
            continue
        where = path.relative_to(PACKAGE.parent).as_posix()
        with path.open("rb") as handle:
            for line, message, comments, context in extract_file(
                "python", handle, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
            ):
                yield message, where, line, comments, context


def clashes() -> list[str]:
    """Words used both alone and as the singular of a counted message with the same context: a catalog
    holds one entry for both, so one of them is said wrong (a column title "tenant" shown as "1 tenant"'s
    form). Give the counted one a context (``npgettext("listing", ...)``)."""
    alone: set[tuple[str | None, str]] = set()
    counted: dict[tuple[str | None, str], str] = {}
    for message, where, line, _comments, context in code_messages():
        if isinstance(message, tuple):
            counted[(context, message[0])] = f"{where}:{line}"
        else:
            alone.add((context, message))
    return [f"{message!r} is a message alone and the singular of a counted one ({counted[(context, message)]})"
            for context, message in sorted(alone & counted.keys(), key=str)]


def extract() -> Catalog:
    """The template catalog: every message of the code and every help text."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(project="credits", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for message, where, line, comments, context in code_messages():
        catalog.add(message, None, [(where, line)], auto_comments=comments, context=context)
    for text, where in help_texts():
        catalog.add(text, None, [(where, 0)], auto_comments=["help text of " + where])
    return catalog


def _write(catalog: Catalog, path: Path) -> None:
    from babel.messages.pofile import write_po

    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=False, ignore_obsolete=True, include_lineno=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def _read(path: Path, lang: str | None = None) -> Catalog:
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle, locale=lang, domain=DOMAIN)


def write_template() -> Catalog:
    template = extract()
    _write(template, TEMPLATE)
    return template


def update(template: Catalog | None = None, languages: list[str] | None = None) -> None:
    """Bring each language's .po to the template: new messages untranslated, gone ones dropped."""
    template = template or _read(TEMPLATE)
    for lang in languages or translated_languages():
        path = po_path(lang)
        catalog = _read(path, lang)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        _write(catalog, path)


def compile_all(languages: list[str] | None = None) -> None:
    from babel.messages.mofile import write_mo

    for lang in languages or translated_languages():
        catalog = _read(po_path(lang), lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        path = mo_path(lang)
        if not path.exists() or path.read_bytes() != buffer.getvalue():
            path.write_bytes(buffer.getvalue())


def _key(message: Any) -> tuple[str, str | None]:
    ident = message.id[0] if isinstance(message.id, tuple) else message.id
    return ident, message.context


def problems(template: Catalog | None = None) -> list[str]:
    """What is wrong with the shipped catalogs against the code: messages without a translation,
    stale or fuzzy ones, placeholders a translation lost or invented, a .mo older than its .po."""
    import gettext
    import string

    found: list[str] = [] if template is not None else clashes()
    template = template or extract()
    wanted = {_key(m): m for m in template if m.id}
    for lang in translated_languages():
        path = po_path(lang)
        if not path.exists():
            found.append(f"{lang}: no catalog {path}")
            continue
        catalog = _read(path, lang)
        have = {_key(m): m for m in catalog if m.id}
        for key in wanted.keys() - have.keys():
            found.append(f"{lang}: not in the catalog: {key[0]!r}")
        for key in have.keys() - wanted.keys():
            found.append(f"{lang}: stale (no longer in the code): {key[0]!r}")
        for key, message in have.items():
            if key not in wanted:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy:
                found.append(f"{lang}: fuzzy: {key[0]!r}")
            if not all(strings):
                found.append(f"{lang}: not translated: {key[0]!r}")
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            fields = {f for i in ids for _, f, _, _ in string.Formatter().parse(str(i)) if f is not None}
            for text in strings:
                try:
                    got = {f for _, f, _, _ in string.Formatter().parse(str(text)) if f is not None}
                except ValueError as exc:
                    found.append(f"{lang}: broken braces in the translation of {key[0]!r}: {exc}")
                    continue
                if "python-brace-format" in message.flags and got - fields:
                    found.append(f"{lang}: the translation of {key[0]!r} has fields the message has not: "
                                 f"{sorted(got - fields)}")
        mo = mo_path(lang)
        if not mo.exists():
            found.append(f"{lang}: not compiled: {mo}")
            continue
        with mo.open("rb") as handle:
            compiled = gettext.GNUTranslations(handle)
        for key, message in have.items():
            if key not in wanted or message.fuzzy or isinstance(message.id, tuple):
                continue
            shipped = compiled.gettext(key[0]) if key[1] is None else compiled.pgettext(key[1], key[0])
            if shipped != message.string:
                found.append(f"{lang}: {mo.name} is older than {path.name}; run: python -m credits_cli.catalogs "
                             "compile")
                break
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        template = write_template()
        print(f"{TEMPLATE}: {sum(1 for m in template if m.id)} messages")
    elif command == "update":
        update(languages=argv[1:])
    elif command == "compile":
        compile_all(argv[1:])
    elif command == "check":
        found = problems()
        for line in found:
            print(line)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
