"""PostgreSQL test runs: one fresh schema per test on the server named by
``CREDITS_TEST_DATABASE_URL``.

``fresh_schema_url(url)`` creates ``t_<random>`` and returns the same URL with
``options=-csearch_path=t_<random>``, so every connection the product opens
(in the test process or in a subprocess) works inside that schema only. The
schemas made by this process are dropped when it exits; schemas left behind by
an earlier run that was killed are dropped when they are more than a day old
(their name carries the time they were made).
"""

from __future__ import annotations

import atexit
import time
import uuid
from urllib.parse import quote

import sqlalchemy as sa

_made: list[str] = []
_admin: dict[str, sa.engine.Engine] = {}
PREFIX = "t_"


def _engine(url: str) -> sa.engine.Engine:
    if url not in _admin:
        _admin[url] = sa.create_engine(sa.engine.make_url(_normalise(url)), isolation_level="AUTOCOMMIT")
        _sweep(_admin[url])
    return _admin[url]


def _normalise(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def fresh_schema_url(url: str) -> str:
    """A new empty schema on the server of ``url``; a URL whose connections use it."""
    name = f"{PREFIX}{int(time.time())}_{uuid.uuid4().hex[:10]}"
    with _engine(url).connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    _made.append(name)
    base = _normalise(url)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={name}', safe='')}"


def _drop(engine: sa.engine.Engine, names: list[str]) -> None:
    with engine.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def _sweep(engine: sa.engine.Engine) -> None:
    """Drop schemas of earlier runs that are more than a day old."""
    cutoff = int(time.time()) - 86400
    with engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": PREFIX + "%"}
        ).scalars()
        old = []
        for name in names:
            stamp = name[len(PREFIX) :].split("_", 1)[0]
            if stamp.isdigit() and int(stamp) < cutoff:
                old.append(name)
    _drop(engine, old)


@atexit.register
def _cleanup() -> None:
    for engine in _admin.values():
        try:
            _drop(engine, _made)
        except sa.exc.SQLAlchemyError:
            pass
        engine.dispose()
    _made.clear()
