"""Where the database is: ``--db`` / ``CREDITS_DB`` to an SQLAlchemy URL.

Kept free of SQLAlchemy so that quick commands can find the file cheaply.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "credits"


def default_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "credits.db"


def resolve_url(value: str | None) -> str:
    """A path or an SQLAlchemy URL -> an SQLAlchemy URL."""
    if not value:
        return "sqlite:///" + str(default_path())
    if "://" in value:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://") :]
        return value
    return "sqlite:///" + str(Path(value).expanduser().absolute())


def sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL (no query, not in memory), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)
