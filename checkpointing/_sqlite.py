"""SQLite connections set up for several processes sharing one file.

WAL lets readers run beside one writer; ``busy_timeout`` makes a second writer
wait instead of failing at once with "database is locked" (which stock LangGraph
savers do, since they set no timeout). ``synchronous=FULL`` makes every commit
durable against power loss, which the resume rules in docs/architecture.md rely on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stateline.errors import CorruptDatabaseError, DatabaseLockedError, StorageError

from ._walcheck import check_wal

BUSY_TIMEOUT_MS = 30_000
BUSY_TIMEOUT_ENV = "STATELINE_BUSY_TIMEOUT_MS"
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


def busy_timeout_ms() -> int:
    """How long a writer waits for another process's lock: ``$STATELINE_BUSY_TIMEOUT_MS`` or 30 s."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    return int(raw) if raw.isdigit() else BUSY_TIMEOUT_MS


def check_sqlite_file(path: Path) -> None:
    """Fail with a typed error if ``path`` cannot hold a stateline database.

    Checks read-only first, so a file that is not a database (or is damaged) is
    reported without a single byte of it being written: opening it read-write and
    setting WAL mode would already modify it.
    """
    parent = path.parent if str(path.parent) else Path(".")
    if path.exists():
        if path.is_dir():
            raise StorageError(f"database path {str(path)!r} is a directory; name a file", location=str(path))
        check_wal(path)  # before any connection: SQLite would drop a damaged WAL's commits
        _check_readable_database(path)
        return
    if not parent.exists():
        raise StorageError(
            f"cannot create database {str(path)!r}: folder {str(parent)!r} does not exist; create it first",
            location=str(path),
        )
    if not parent.is_dir():
        raise StorageError(
            f"cannot create database {str(path)!r}: {str(parent)!r} is not a folder", location=str(path)
        )


def _check_readable_database(path: Path) -> None:
    if path.stat().st_size == 0:
        return  # an empty file is a valid, empty SQLite database
    try:
        rows = _quick_check(path, read_only=True)
    except sqlite3.OperationalError as exc:
        # A process killed mid-write leaves a hot journal or WAL that must be rolled back or
        # recovered before anyone can read, and a read-only connection cannot do that
        # ("attempt to write a readonly database"): every later open would fail the same way.
        # A file with a journal or WAL beside it is a SQLite database, so let a read-write
        # connection recover it (found by the crash harness in tests/lifecycle).
        if "readonly" not in str(exc) or not any(Path(f"{path}{x}").exists() for x in ("-wal", "-journal")):
            raise _translate(exc, str(path)) from exc
        try:
            rows = _quick_check(path, read_only=False)
        except sqlite3.DatabaseError as exc2:
            raise _translate(exc2, str(path)) from exc2
    except sqlite3.DatabaseError as exc:
        raise _translate(exc, str(path)) from exc
    if rows and rows[0][0] != "ok":
        detail = " ".join(str(rows[0][0]).split())
        raise CorruptDatabaseError(
            f"database {str(path)!r} is damaged ({detail}); restore it from a backup",
            location=str(path),
        )


def _quick_check(path: Path, *, read_only: bool) -> list[tuple]:
    target, uri = (f"file:{path}?mode=ro", True) if read_only else (str(path), False)
    try:
        conn = sqlite3.connect(target, uri=uri, timeout=busy_timeout_ms() / 1000)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {str(path)!r}: {exc}", location=str(path)) from exc
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        # quick_check reads every page: affordable for small files, too slow to run on every
        # open of a large one (there, damage surfaces as CorruptDatabaseError on first read).
        small = path.stat().st_size <= QUICK_CHECK_MAX_BYTES
        return conn.execute("PRAGMA quick_check(1)").fetchall() if small else [("ok",)]
    finally:
        conn.close()


@contextmanager
def setup_lock(path: Path | None) -> Iterator[None]:
    """Serialize first-open setup of databases in one folder across processes and threads.

    LangGraph's SqliteSaver/SqliteStore ``setup()`` read then insert their migration rows
    without a write lock, so two processes opening a new file at once can both try to
    record the same migration ("UNIQUE constraint failed: store_migrations.v"). The lock is
    ``flock`` on the folder: never on the database file itself, since opening and closing
    another descriptor on it would drop SQLite's own POSIX locks in this process.
    """
    folder = path.parent if path is not None and str(path.parent) else Path(".")
    try:
        import fcntl
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield  # no such folder (reported by the open itself) or no flock on this platform
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def connect(path: Path, *, autocommit: bool = False) -> sqlite3.Connection:
    """Open ``path`` read-write with WAL, a busy timeout and durable commits."""
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=busy_timeout_ms() / 1000,
            check_same_thread=False,
            isolation_level=None if autocommit else "",  # type: ignore[arg-type]  # "" (implicit BEGIN) is valid; typeshed omits it
        )
        conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise _translate(exc, str(path)) from exc
    if str(mode).lower() != "wal" and str(path) != ":memory:":
        conn.close()
        raise StorageError(f"database {str(path)!r} refused WAL mode (got {mode!r})", location=str(path))
    return conn


def _translate(exc: sqlite3.Error, where: str) -> StorageError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return DatabaseLockedError(
            f"database {where!r} stayed locked by another process for {busy_timeout_ms() / 1000:g}s "
            f"(busy timeout, ${BUSY_TIMEOUT_ENV}); "
            "retry when it finishes",
            location=where,
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return CorruptDatabaseError(
            f"{where!r} is not a SQLite database or is damaged ({text}); "
            "point --db at another file or restore a backup",
            location=where,
        )
    return StorageError(f"database {where!r}: {text}", location=where)


def translate_error(exc: sqlite3.Error, where: str) -> StorageError:
    """Map a raw sqlite3 error to the typed error a user should see."""
    return _translate(exc, where)


def setup_store(store: Any) -> None:
    """``SqliteStore.setup()``, safe to re-run after a crash during it.

    LangGraph commits each store migration before recording its version, so a process
    killed in between leaves an ``ALTER TABLE ... ADD COLUMN`` applied but unrecorded, and
    every later open fails with "duplicate column name" (found by the crash harness in
    tests/lifecycle). Such a migration is recorded as applied and setup carries on.
    """
    for _ in range(16):
        try:
            store.setup()
            return
        except sqlite3.OperationalError as exc:
            if "duplicate column name" not in str(exc):
                raise
            row = store.conn.execute("SELECT MAX(v) FROM store_migrations").fetchone()
            done = -1 if row is None or row[0] is None else row[0]
            store.conn.execute("INSERT INTO store_migrations (v) VALUES (?)", (done + 1,))
    store.setup()

