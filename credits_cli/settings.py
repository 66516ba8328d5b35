"""What the environment decides, read once at the edge and passed down.

The command line (:mod:`credits_cli.cli`) is the only place that reads the
process environment: it hands ``os.environ`` to :func:`from_environ` once per
command and passes the :class:`Settings` down. The core never reads the
environment: the clock is pinned through :func:`credits_cli.clock.pin`, the
service data folder through :func:`credits_cli.refdata.use_folder`, and the
rest is given to the functions that need it as plain arguments.

| variable | setting |
|---|---|
| ``CREDITS_NOW`` | ``now``: pins the clock (ISO 8601), for replays and tests |
| ``CREDITS_RATES_DIR`` | ``rates_dir``: the folder holding ``service.yaml`` |
| ``CREDITS_RATE_BATCH`` | ``rate_batch()``: calls per rating transaction, 1 to 1,000,000 |
| ``CREDITS_SMTP_USER`` / ``CREDITS_SMTP_PASSWORD`` | ``smtp_user`` / ``smtp_password``: SMTP login |
| ``CREDITS_SMTP_CAFILE`` | ``smtp_cafile``: the CAs (PEM) trusted for the SMTP server, not the system's |
| ``CREDITS_NO_QUICK`` | ``fast_balance`` off: ``balance`` always takes the full path |
| ``CREDITS_DEBUG`` | ``debug``: an unexpected error shows its traceback |
| ``USER`` / ``LOGNAME`` | ``operator``: who made a correction (kept in its note) |

``CREDITS_DB``, ``CREDITS_TENANT``, ``CREDITS_SMTP`` and ``CREDITS_SENDER`` are
the environment variables of command-line options (Typer reads them with the
option). ``notifications send --cafile`` overrides ``CREDITS_SMTP_CAFILE``.
``_RJEM_MALLOC_CONF`` is polars' own (its allocator's settings): the entry point
(:data:`credits_cli.cli.app.POLARS_ALLOCATOR`) gives it a default before polars
is imported, and a value the user set is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from credits_cli import clock
from credits_cli.errors import InvalidInput
from credits_cli.i18n import _

#: The most calls per rating transaction CREDITS_RATE_BATCH may ask for.
MAX_RATE_BATCH = 1_000_000


@dataclass(frozen=True)
class Settings:
    now: datetime | None = None
    rates_dir: Path | None = None
    rate_batch_text: str = ""  # checked when an import asks for it: see rate_batch()
    smtp_user: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_cafile: Path | None = None
    fast_balance: bool = True
    debug: bool = False
    operator: str = ""  # who runs the command (USER / LOGNAME): kept with an adjustment

    def rate_batch(self) -> int | None:
        """Calls per rating transaction, or None for rating's own default. Checked here, when an
        import asks, so that a malformed value stops ``rate-cdrs`` (nothing written) and no other command."""
        text = self.rate_batch_text.strip()
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_RATE_BATCH):
            # TRANSLATORS: CREDITS_RATE_BATCH is an environment variable: keep it; {value} its value, quoted;
            # {low} and {high} the least and most calls per transaction.
            raise InvalidInput(_("CREDITS_RATE_BATCH={value} must be a whole number from {low} to {high}").format(
                value=repr(text[:20]), low=1, high=MAX_RATE_BATCH))
        return int(text)


def from_environ(env: Mapping[str, str]) -> Settings:
    """The settings an environment gives; a malformed value is one clear :class:`InvalidInput`."""
    pinned = env.get("CREDITS_NOW", "").strip()
    rates = env.get("CREDITS_RATES_DIR", "").strip()
    cafile = env.get("CREDITS_SMTP_CAFILE", "").strip()
    return Settings(
        now=clock.parse_timestamp(pinned, what="CREDITS_NOW") if pinned else None,
        rates_dir=Path(rates) if rates else None,
        rate_batch_text=env.get("CREDITS_RATE_BATCH", ""),
        smtp_user=env.get("CREDITS_SMTP_USER") or None,
        smtp_password=env.get("CREDITS_SMTP_PASSWORD") or None,
        smtp_cafile=Path(cafile) if cafile else None,
        fast_balance=not env.get("CREDITS_NO_QUICK"),
        debug=bool(env.get("CREDITS_DEBUG")),
        operator=(env.get("USER") or env.get("LOGNAME") or env.get("USERNAME") or "")[:64],
    )

