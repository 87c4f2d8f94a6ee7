"""Parse the database URL that names where conversations live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stateline.errors import ConfigError

Backend = Literal["sqlite", "memory", "postgres"]

DEFAULT_URL = "sqlite:///stateline.db"


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL."""

    backend: Backend
    """Which storage engine serves it."""
    path: Path | None = None
    """The SQLite file (``sqlite`` only)."""
    dsn: str | None = None
    """The libpq connection string (``postgres`` only)."""
    raw: str = ""
    """The URL as the user wrote it, for messages."""


def parse_db_url(url: str | None) -> DatabaseURL:
    """Turn ``sqlite:///path``, a bare path, ``memory`` or ``postgresql://...`` into a DatabaseURL.

    ``sqlite:///rel.db`` is relative to the working directory, ``sqlite:////abs.db`` absolute,
    as in SQLAlchemy.
    """
    if url is None or url == "":
        url = DEFAULT_URL
    if not isinstance(url, str):
        raise ConfigError(f"database URL must be a string, got {type(url).__name__}")
    text = url.strip()
    if text in ("memory", "memory://", ":memory:"):
        return DatabaseURL("memory", raw=url)
    if text.startswith(("postgresql://", "postgres://")):
        return DatabaseURL("postgres", dsn=text, raw=url)
    if text.startswith("sqlite://"):
        rest = text[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise ConfigError(
                f"malformed SQLite URL {url!r}: write sqlite:///relative.db or sqlite:////absolute.db"
            )
        return DatabaseURL("sqlite", path=Path(rest[1:]), raw=url)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"unsupported database URL scheme {scheme!r} in {url!r}; "
            "use sqlite:///path, memory, or postgresql://user@host/db"
        )
    return DatabaseURL("sqlite", path=Path(text), raw=url)
