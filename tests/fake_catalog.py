"""Catalogs made for a test: a few translations compiled by Babel into a folder of the test's own, which
:mod:`credits_cli.i18n` reads instead of the package's (which hold no translations yet)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from credits_cli import i18n

#: A message id: the English text, (context, text) for pgettext, or (singular, plural) for ngettext with
#: a tuple of forms as its translation.
Messages = Mapping[str | tuple[str, ...], str | tuple[str, ...]]


@contextmanager
def catalogs(folder: Path, languages: Mapping[str, Messages]) -> Iterator[None]:
    """Compile ``languages`` (language -> messages) into ``folder`` and read the catalogs from there inside
    the block. A tuple key with a tuple of forms is (singular, plural), or (context, singular, plural) for
    npgettext; one with a text is (context, text)."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    for lang, messages in languages.items():
        catalog = Catalog(locale=lang, domain=i18n.DOMAIN)
        for key, text in messages.items():
            if isinstance(key, tuple) and isinstance(text, tuple) and len(key) == 3:
                catalog.add(key[1:], text, context=key[0])
            elif isinstance(key, tuple) and isinstance(text, tuple):
                catalog.add(key, text)
            elif isinstance(key, tuple):
                catalog.add(key[1], text, context=key[0])
            else:
                catalog.add(key, text)
        path = folder / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_mo(handle, catalog)
    shipped = i18n.LOCALE_DIR
    i18n.LOCALE_DIR = folder
    i18n.language.cache_clear()
    try:
        yield
    finally:
        i18n.LOCALE_DIR = shipped
        i18n.language.cache_clear()
