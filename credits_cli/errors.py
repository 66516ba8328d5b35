"""Every error the domain raises on purpose.

The CLI turns a :class:`CreditsError` into one ``error: ...`` line on stderr and
exit code 1, in exactly one place (``cli/common.py``). The message is made, in the
language being spoken, where the error is raised (:mod:`credits_cli.i18n`). Row problems in input
files are not exceptions: they are :class:`credits_cli.readers.base.RowError`
values collected by the readers.
"""

from __future__ import annotations


class CreditsError(Exception):
    """A user-facing error: bad input, a missing tenant, a refused purchase."""

    exit_code = 1


class NotFound(CreditsError):
    """A tenant, user, admin or rate table that does not exist."""


class InvalidInput(CreditsError):
    """A value or file the user gave that cannot be used."""


class PurchaseRefused(CreditsError):
    """A top-up or recharge that the billing rules refuse. ``reason`` is why, without the words
    around it (what a failed recharge reports), in the language the message was made in."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class LedgerBroken(CreditsError):
    """``verify`` found a broken invariant."""


class DatabaseError(CreditsError):
    """The database cannot be opened, is locked for too long, or is too new."""
