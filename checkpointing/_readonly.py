"""Open a database only to look at it: ``open_database(url, read_only=True)``.

Inspecting commands (``threads list``, ``runs show``, ...) must leave a user's file exactly
as it was: no tables created, no ``-wal`` file, no checkpoint of the WAL into the main file
(which a read-write connection does when it is the last to close).

SQLite: a file with no ``-wal`` beside it holds everything, and is read with
``immutable=1`` (an ordinary ``mode=ro`` connection would create ``-wal`` and ``-shm``
files next to a WAL-mode database). A file with a ``-wal`` beside it (a live writer, or one
killed) is read with ``mode=ro`` so the WAL's commits are seen; the database file and the
``-wal`` are never written (SQLite's shared-memory index ``-shm`` is, as by any reader).
Every connection also has ``PRAGMA query_only``. Components' migrations become version
checks (:func:`check_version`): a newer schema is refused, an older or missing one is read
as it is. PostgreSQL and ``memory`` open as usual (the saver's own setup included), then are marked
read-only, so stateline's components create none of their tables there either.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.store.sqlite import SqliteStore

from stateline.errors import CorruptDatabaseError, SchemaVersionError, StorageError

from . import _crypto, _sqlite
from ._saver import StatelineSqliteSaver
from ._sql import SqliteBackend
from ._url import DatabaseURL

if TYPE_CHECKING:
    from ._database import Database


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can neither write ``path`` nor create files beside it."""
    wal = Path(f"{path}-wal")
    mode = "mode=ro" if wal.exists() else "immutable=1"
    uri = f"{path.resolve().as_uri()}?{mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None,
                               timeout=_sqlite.busy_timeout_ms() / 1000)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.Error as exc:
        raise _sqlite.translate_error(exc, str(path)) from exc
    return conn


def _check_sound(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` on small files (as a read-write open does), read-only."""
    if path.stat().st_size > _sqlite.QUICK_CHECK_MAX_BYTES:
        return
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.Error as exc:
        raise _sqlite.translate_error(exc, str(path)) from exc
    if rows and rows[0][0] != "ok":
        raise CorruptDatabaseError(
            f"database {str(path)!r} is damaged ({' '.join(str(rows[0][0]).split())}); restore it from a backup",
            location=str(path),
        )


def has_table(db: Database, name: str) -> bool:
    """Whether table ``name`` exists (SQLite and PostgreSQL), without creating anything."""
    if db.url.backend == "postgres":
        row = db.query_one(
            "SELECT 1 AS ok FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
            (name,),
        )
    else:
        row = db.query_one("SELECT 1 AS ok FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row is not None


def check_version(db: Database, component: str, known: int) -> None:
    """``Database.migrate`` on a read-only handle: refuse a newer schema, create nothing."""
    if not has_table(db, "stateline_schema"):
        return
    row = db.query_one("SELECT version FROM stateline_schema WHERE component = ?", (component,))
    current = row["version"] if row else 0
    if current > known:
        where = db._backend.where
        raise SchemaVersionError(
            f"database {where} has {component} schema v{current}, this stateline knows up to v{known}; "
            "upgrade stateline",
            location=where,
        )


def open_read_only(parsed: DatabaseURL, cipher: _crypto.Cipher | None) -> Database:
    """See the module docstring; ``cipher`` from ``$STATELINE_AES_KEY`` or the caller."""
    from . import _database

    if parsed.backend != "sqlite":  # no files to protect; components still only check versions
        db = _database.open_database(parsed.raw, key=cipher._key if cipher else False)
        db.read_only = True
        return db
    assert parsed.path is not None
    if not parsed.path.is_file():
        raise StorageError(
            f"database {str(parsed.path)!r} does not exist: nothing is stored there yet (name another with --db)",
            location=str(parsed.path),
        )
    from ._walcheck import check_wal

    check_wal(parsed.path)  # before any connection: a damaged -wal is an error, never silently an empty answer
    conns: list[Any] = []
    try:
        conns = [connect_read_only(parsed.path) for _ in range(3)]
        _check_sound(conns[0], parsed.path)
        saver = StatelineSqliteSaver(conns[0])
        saver.is_setup = True  # its tables are read as they are, never created
        store = SqliteStore(conns[1])
        store.is_setup = True
        backend = SqliteBackend(conns[2], "", read_only=True)
        db = _database.Database(parsed, saver, store, backend, list(conns), read_only=True)
    except BaseException:
        for c in conns:
            c.close()
        raise
    try:
        db.migrate("sqlite_saver", _database.SQLITE_SAVER_FORMATS)
        if has_table(db, "stateline_meta") and _crypto._read_check(backend) is not None:
            _crypto.check_key(backend, cipher)
            if cipher is not None:
                _database._encrypt(db, cipher)
    except BaseException:
        db.close()
        raise
    return db
