"""One handle on a deployment's database: checkpoints, cross-thread memory, app tables.

Checkpoints (LangGraph's saver), cross-thread memory (LangGraph's store) and
stateline's own tables (threads, lifecycle, runs, events, effects) live in the
same database, so that after a crash one file tells the whole story.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore
from stateline.errors import SchemaVersionError, StorageError

from . import _crypto, _sqlite
from ._riders import Statement
from ._saver import StatelineSqliteSaver
from ._sql import Backend, Row, SqliteBackend, Transaction, statements
from ._url import DatabaseURL, parse_db_url

Migration = tuple[int, str]
"""(version, SQL script) — applied in order, each exactly once."""


def now() -> float:
    """The clock every stored timestamp uses (seconds since the epoch); patch in tests."""
    return time.time()


@dataclass
class Database:
    """An open database: a LangGraph saver, a LangGraph store and stateline's own tables.

    The same API on SQLite and PostgreSQL (see :mod:`checkpointing._sql` for the SQL
    subset that runs on both). Safe to share between threads.
    """

    url: DatabaseURL
    """Where it lives."""
    saver: BaseCheckpointSaver
    """LangGraph checkpoint saver for every thread."""
    store: BaseStore
    """LangGraph cross-thread memory (keyed by namespace, e.g. user id)."""
    _backend: Backend
    _closers: list[Any] = field(default_factory=list)
    _cipher: _crypto.Cipher | None = None
    read_only: bool = False
    """Opened by ``open_database(..., read_only=True)``: nothing may be written."""
    _sealed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self._backend.where:
            self._backend.where = repr(self.url.raw)

    # -- stateline's own tables -------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; return the affected row count."""
        return self._backend.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read statement and return every row (rows index by column name)."""
        return self._backend.query(sql, params)

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Transaction]:
        """A write transaction: ``tx.execute(sql, params)`` returns a cursor (fetchone/fetchall/rowcount).

        SQLite takes the write lock up front (BEGIN IMMEDIATE); PostgreSQL runs a real
        transaction in which ``SELECT ... FOR UPDATE`` locks rows. Either way check-then-write
        inside one block is atomic; an exception rolls everything back.

        ``durable=False`` (SQLite): the commit survives a process crash but waits for the
        next durable commit to the file to survive power loss; for rows that a checkpoint
        follows at once (step events), never for rows written ahead of what they guard.
        """
        with self._backend.transaction(durable=durable) as tx:
            yield tx

    def ride_along(self, thread_id: str, statements: Sequence[Statement]) -> bool:
        """Write ``statements`` in ``thread_id``'s next checkpoint write transaction, if the saver
        can (SQLite: see ``checkpointing._riders``); False: write them yourself."""
        riders = getattr(self.saver, "riders", None)
        if riders is None or self.read_only:
            return False
        riders.add(thread_id, statements)
        return True

    def take_riding(self, thread_id: str) -> list[Statement]:
        """What still waits to ride along with ``thread_id``'s next checkpoint write (removed from
        the queue): the caller writes it in its own transaction (a run's finish record does)."""
        riders = getattr(self.saver, "riders", None)
        return [] if riders is None else riders.take(thread_id)

    @contextmanager
    def deferred_checkpoints(self) -> Iterator[None]:
        """Checkpoints this thread puts in the block are durable when it ends, with one fsync.

        See ``StatelineSqliteSaver.deferred`` for why a power loss inside the block then
        equals a process crash at an earlier commit. Elsewhere (PostgreSQL, memory) every
        put stays as it is.
        """
        deferred = getattr(self.saver, "deferred", None)
        if deferred is None:
            yield
            return
        with deferred():
            yield

    def migrate(self, component: str, migrations: Sequence[Migration]) -> None:
        """Bring ``component``'s tables to the newest version in ``migrations``.

        Refuses a database whose stored version is newer than the code knows: running
        old code on a newer schema could write rows the newer code misreads.
        """
        known = max((v for v, _ in migrations), default=0)
        if self.read_only:
            from ._readonly import check_version

            check_version(self, component, known)
            return
        # the common case, a database already at this version: one read, no write transaction
        # (a durable commit of nothing would still wait for an fsync of the file)
        stored = self.query_one("SELECT version FROM stateline_schema WHERE component = ?", (component,))
        if stored is not None and stored[0] == known:
            return
        with self.transaction() as tx:
            self._backend.lock_migrations(tx)
            row = tx.execute(
                "SELECT version FROM stateline_schema WHERE component = ?", (component,)
            ).fetchone()
            current = row[0] if row else 0
            if current > known:
                raise SchemaVersionError(
                    f"database {self._backend.where} has {component} schema v{current}, "
                    f"this stateline knows up to v{known}; upgrade stateline",
                    location=self._backend.where,
                )
            for version, script in sorted(migrations):
                if version > current:
                    for statement in statements(script):
                        tx.execute(self._backend.ddl(statement))
            if known > current:
                tx.execute(
                    "INSERT INTO stateline_schema(component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, known),
                )

    # -- encryption at rest -------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        """Whether this database seals checkpoints, store values and ``encrypt``-ed fields."""
        return self._cipher is not None

    def encrypt(self, value: Any) -> Any:
        """Seal ``value`` for an app-table column (a text token); unchanged when not encrypted.

        None stays None (a NULL column stays NULL). Declare the column with
        :meth:`seal_columns` so that ``rekey`` seals and unseals it too.
        """
        return _crypto.encrypt_value(self._cipher, value)

    def decrypt(self, value: Any) -> Any:
        """The inverse of :meth:`encrypt` (same type back); plain values and None pass through."""
        return _crypto.decrypt_value(self._cipher, value)

    def seal_columns(self, table: str, *columns: str) -> None:
        """Record that ``table``'s ``columns`` hold user content, sealed when a key is set.

        Stored in the database (``stateline_meta``, ``sealed:<table>``), so ``rekey`` seals
        plain values left in them (rows written before a key was set) and unseals them on
        ``--decrypt`` without importing the component that owns the table.
        """
        wanted = ",".join(sorted(set(columns)))
        if self._sealed.get(table) == wanted:
            return
        if self.read_only:  # an inspecting command writes nothing; rekey opens read-write
            self._sealed[table] = wanted
            return
        name = f"sealed:{table}"
        row = self.query_one("SELECT value FROM stateline_meta WHERE name = ?", (name,))
        merged = ",".join(sorted(set(columns) | set(str(row["value"]).split(",") if row else ())))
        if row is None or row["value"] != merged:
            self.execute(
                "INSERT INTO stateline_meta(name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, merged),
            )
        self._sealed[table] = wanted

    def sealed_columns(self) -> dict[str, list[str]]:
        """Every table's declared sealed columns (see :meth:`seal_columns`)."""
        rows = self.query("SELECT name, value FROM stateline_meta WHERE name LIKE 'sealed:%'")
        return {r["name"][len("sealed:"):]: [c for c in str(r["value"]).split(",") if c] for r in rows}

    def close(self) -> None:
        """Close every connection; on SQLite first checkpoint the WAL into the file.

        So after a clean shutdown (``App.close``, a server's SIGTERM) a plain copy of the
        ``.db`` alone holds every committed row. What other processes' readers still need
        stays in the WAL (the checkpoint never waits for them); their own close finishes it.
        """
        if self.url.backend == "sqlite" and self._closers and not self.read_only:
            checkpoint_wal(self._backend)
        for closer in reversed(self._closers):
            try:
                closer.close()
            except Exception:  # noqa: BLE001 - closing must close everything it can
                pass
        self._closers.clear()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checkpoint_wal(backend: Backend) -> None:
    """``PRAGMA wal_checkpoint(PASSIVE)``: copy what it can into the file without waiting for
    other processes (TRUNCATE would wait up to the busy timeout for their readers); the last
    connection to close then checkpoints the rest and deletes the WAL. A read-only database
    is left as it is."""
    try:
        backend.query("PRAGMA wal_checkpoint(PASSIVE)")
    except (StorageError, sqlite3.Error):  # noqa: S110 - busy or read-only: nothing to do
        pass


def open_database(
    url: str | None = None, *, key: str | bytes | Literal[False] | None = None, read_only: bool = False
) -> Database:
    """Open (creating if needed) the database at ``url``; see :func:`parse_db_url`.

    Nothing is written to an existing file until it has been checked read-only to be a
    sound SQLite database, so a wrong ``--db`` never damages someone else's file.

    ``key`` (default: ``$STATELINE_AES_KEY``; ``False``: none, whatever the environment says)
    turns on encryption at rest; a database created with a key must always be opened with
    that key, and one created without a key without one (EncryptionKeyError otherwise).
    :func:`checkpointing.rekey` changes the key.

    ``read_only=True`` (what inspecting commands use) writes nothing at all: no tables, no
    ``-wal`` file, no checkpoint of the WAL; a missing file is an error, a newer schema is
    refused untouched, and components' tables are only version-checked (see
    :mod:`checkpointing._readonly`).
    """
    parsed = parse_db_url(url)
    cipher = _crypto.key_from_env(key)
    if read_only:
        from ._readonly import open_read_only

        return open_read_only(parsed, cipher)
    if parsed.backend == "memory":
        db = _open_memory(parsed)
    elif parsed.backend == "sqlite":
        with _sqlite.setup_lock(parsed.path):
            db = _open_sqlite(parsed)
    else:
        db = _open_postgres(parsed)
    try:
        _crypto.check_key(db._backend, cipher)
        if cipher is not None:
            _encrypt(db, cipher)
    except BaseException:
        db.close()
        raise
    return db


def _encrypt(db: Database, cipher: _crypto.Cipher) -> None:
    from ._pg import StatelinePostgresSaver, UnboxingSerde

    serde = _crypto.encrypting_serde(cipher, db.saver.serde)
    if isinstance(db.saver, StatelinePostgresSaver):
        db.saver.box_primitives = True
        db.saver.serde = UnboxingSerde(serde)
    else:
        db.saver.serde = serde
    db.store = _crypto.EncryptedStore(db.store, cipher)
    db._cipher = cipher


def _app_connection(conn: sqlite3.Connection) -> SqliteBackend:
    return SqliteBackend(conn, "")  # Database fills in where it lives


def _open_memory(parsed: DatabaseURL) -> Database:
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db = Database(parsed, InMemorySaver(), InMemoryStore(), _app_connection(conn))
    db._closers.append(db._backend)
    return db


def _open_postgres(parsed: DatabaseURL) -> Database:
    from . import _pg  # psycopg loads only for PostgreSQL URLs

    assert parsed.dsn is not None
    saver, store, backend, pool = _pg.open_postgres(parsed.dsn)
    db = Database(parsed, saver, store, backend, [pool])
    try:
        db.migrate("pg_saver", _pg.SAVER_MIGRATIONS)  # list-delta columns of checkpoint_blobs
    except BaseException:
        db.close()
        raise
    return db


SQLITE_SAVER_FORMATS = [(1, ""), (2, "")]
"""Versions of how the SQLite saver lays out its rows (the saver creates its tables itself).

v1: ``sl_checkpoints``/``sl_blobs``/``sl_writes`` with list deltas. v2: cold segments
(``sl_segments``) and chunk rows with prefix references. Recorded so that a future
layout is refused by this code (``SchemaVersionError``) instead of misread: a saver
that does not know segments would garbage-collect values they need. (Releases before
v2 did not check this record.)
"""


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
        saver = StatelineSqliteSaver(saver_conn)
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
    try:
        db.migrate("sqlite_saver", SQLITE_SAVER_FORMATS)
    except BaseException:
        db.close()
        raise
    return db
