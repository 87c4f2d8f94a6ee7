"""One handle on a deployment's database: checkpoints, cross-thread memory, app tables.

Checkpoints (LangGraph's saver), cross-thread memory (LangGraph's store) and
stateline's own tables (threads, lifecycle, runs, events, effects) live in the
same database, so that after a crash one file tells the whole story.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

from stateline_errors import ConfigError, SchemaVersionError, StorageError

from . import _sqlite
from ._url import DatabaseURL, parse_db_url

Migration = tuple[int, str]
"""(version, SQL script) — applied in order, each exactly once."""


def now() -> float:
    """The clock every stored timestamp uses (seconds since the epoch); patch in tests."""
    return time.time()


@dataclass
class Database:
    """An open database: a LangGraph saver, a LangGraph store and stateline's own tables."""

    url: DatabaseURL
    """Where it lives."""
    saver: BaseCheckpointSaver
    """LangGraph checkpoint saver for every thread."""
    store: BaseStore
    """LangGraph cross-thread memory (keyed by namespace, e.g. user id)."""
    _conn: sqlite3.Connection
    _closers: list[Any] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- stateline's own tables -------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the affected row count."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.url.raw) from exc

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run one read statement and return every row (rows index by column name)."""
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
                return cur.fetchall()
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.url.raw) from exc

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE), so check-then-write is atomic."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.url.raw) from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                try:
                    self._conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise _sqlite.translate_error(exc, self.url.raw) from exc

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        """Bring ``component``'s tables to the newest version in ``migrations``.

        Refuses a database whose stored version is newer than the code knows: running
        old code on a newer schema could write rows the newer code misreads.
        """
        known = max((v for v, _ in migrations), default=0)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT version FROM stateline_schema WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            if current > known:
                raise SchemaVersionError(
                    f"database {self.url.raw!r} has {component} schema v{current}, "
                    f"this stateline knows up to v{known}; upgrade stateline",
                    location=self.url.raw,
                )
            for version, script in sorted(migrations):
                if version > current:
                    for statement in _statements(script):
                        conn.execute(statement)
            if known > current:
                conn.execute(
                    "INSERT INTO stateline_schema(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, known),
                )

    def close(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer.close()
            except Exception:  # noqa: BLE001 - closing must close everything it can
                pass
        self._closers.clear()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def open_database(url: str | None = None) -> Database:
    """Open (creating if needed) the database at ``url``; see :func:`parse_db_url`.

    Nothing is written to an existing file until it has been checked read-only to be a
    sound SQLite database, so a wrong ``--db`` never damages someone else's file.
    """
    parsed = parse_db_url(url)
    if parsed.backend == "memory":
        return _open_memory(parsed)
    if parsed.backend == "sqlite":
        return _open_sqlite(parsed)
    raise ConfigError(
        f"PostgreSQL URL {parsed.raw!r} is not supported by this build yet; use sqlite:///path"
    )


def _app_connection(conn: sqlite3.Connection) -> sqlite3.Connection:
    conn.row_factory = sqlite3.Row
    conn.execute(
        "CREATE TABLE IF NOT EXISTS stateline_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    return conn


def _open_memory(parsed: DatabaseURL) -> Database:
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db = Database(parsed, InMemorySaver(), InMemoryStore(), _app_connection(conn))
    db._closers.append(conn)
    return db


def _open_sqlite(parsed: DatabaseURL) -> Database:
    assert parsed.path is not None
    _sqlite.check_sqlite_file(parsed.path)
    closers: list[Any] = []
    try:
        saver_conn = _sqlite.connect(parsed.path)
        closers.append(saver_conn)
        store_conn = _sqlite.connect(parsed.path, autocommit=True)
        closers.append(store_conn)
        app_conn = _sqlite.connect(parsed.path, autocommit=True)
        closers.append(app_conn)
        saver = SqliteSaver(saver_conn)
        saver.setup()
        store = SqliteStore(store_conn)
        _sqlite.setup_store(store)
        db = Database(parsed, saver, store, _app_connection(app_conn), closers)
    except sqlite3.Error as exc:
        for c in closers:
            c.close()
        raise _sqlite.translate_error(exc, parsed.raw) from exc
    except StorageError:
        for c in closers:
            c.close()
        raise
    return db
