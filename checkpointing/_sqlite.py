"""SQLite connections set up for several processes sharing one file.

WAL lets readers run beside one writer; ``busy_timeout`` makes a second writer
wait instead of failing at once with "database is locked" (which stock LangGraph
savers do, since they set no timeout). ``synchronous=FULL`` makes every commit
durable against power loss, which the resume rules in DESIGN.md rely on.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stateline_errors import CorruptDatabaseError, DatabaseLockedError, StorageError

BUSY_TIMEOUT_MS = 30_000
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024


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
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open database {str(path)!r}: {exc}", location=str(path)) from exc
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        # quick_check reads every page: affordable for small files, too slow to run on every
        # open of a large one (there, damage surfaces as CorruptDatabaseError on first read).
        small = path.stat().st_size <= QUICK_CHECK_MAX_BYTES
        rows = conn.execute("PRAGMA quick_check(1)").fetchall() if small else [("ok",)]
    except sqlite3.DatabaseError as exc:
        raise _translate(exc, str(path)) from exc
    finally:
        conn.close()
    if rows and rows[0][0] != "ok":
        detail = " ".join(str(rows[0][0]).split())
        raise CorruptDatabaseError(
            f"database {str(path)!r} is damaged ({detail}); restore it from a backup",
            location=str(path),
        )


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
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None if autocommit else "",
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
            f"database {where!r} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000}s; "
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
