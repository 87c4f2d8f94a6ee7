"""Backups of a SQLite database while it is in use, restoring one, and checking a file.

``backup`` uses SQLite's online backup API in one step: it reads every page inside one read
transaction, so the copy is one consistent snapshot (every commit before it, none after)
even while other processes keep writing, and sealed values are copied as the sealed bytes
they are. The copy is written beside the destination, synced, then renamed into place.

``restore`` puts a backup where the database lives, after checking it, and removes the
target's old ``-wal``/``-shm`` (a WAL of the replaced file applied to the restored one
would damage it). Stop every process using the database first.

PostgreSQL: use ``pg_dump`` / ``pg_restore`` (see docs/storage.md); both commands say so.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from stateline.errors import ConfigError, StorageError

from . import _sqlite
from ._url import parse_db_url
from ._walcheck import WalReport, check_wal

PG_HINT = (
    "for PostgreSQL use its own tools: pg_dump --format=custom -f backup.dump URL, "
    "and pg_restore --no-owner -d URL backup.dump (see docs/storage.md)"
)


@dataclass(frozen=True)
class BackupReport:
    """What ``backup`` or ``restore`` wrote."""

    source: str
    """The database (or backup file) read."""
    target: str
    """The file written."""
    bytes: int
    """Its size."""
    pages: int
    """Database pages copied."""
    encrypted: bool
    """Whether the data is sealed (it stays sealed in the copy)."""


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found (it raises on damage)."""

    path: str
    """The database file."""
    wal: WalReport | None
    """Its write-ahead log, if it has one."""
    quick_check: str
    """SQLite's ``PRAGMA quick_check`` verdict: ``ok``."""


def _sqlite_path(url: str) -> Path:
    parsed = parse_db_url(url)
    if parsed.backend == "postgres":
        raise ConfigError(PG_HINT)
    if parsed.backend != "sqlite" or parsed.path is None:
        raise ConfigError(f"database {url!r} is not a SQLite file; backups need one")
    return parsed.path


def _read_only(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=_sqlite.busy_timeout_ms() / 1000)
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.Error as exc:
        raise _sqlite.translate_error(exc, str(path)) from exc


def _encrypted(conn: sqlite3.Connection) -> bool:
    try:
        row = conn.execute("SELECT value FROM stateline_meta WHERE name = 'encryption'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] != "none"


def backup(url: str, dest: str | Path) -> BackupReport:
    """Copy the SQLite database at ``url`` to ``dest`` (a new file) while it may be in use."""
    path = _sqlite_path(url)
    target = Path(dest)
    if not path.exists():
        raise StorageError(f"database {str(path)!r} does not exist; nothing to back up", location=str(path))
    if target.exists() or Path(f"{target}-wal").exists():
        raise ConfigError(f"backup target {str(target)!r} exists; name a new file")
    if not target.parent.is_dir():
        raise ConfigError(f"backup target folder {str(target.parent)!r} does not exist; create it first")
    _sqlite.check_sqlite_file(path)  # a damaged WAL is reported, not copied around
    partial = target.with_name(target.name + ".partial")
    src = _read_only(path)
    try:
        out = sqlite3.connect(partial)
        try:
            src.backup(out)  # pages=-1: one step, one read transaction: one consistent snapshot
            pages = out.execute("PRAGMA page_count").fetchone()[0]
            encrypted = _encrypted(out)
        finally:
            out.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise _sqlite.translate_error(exc, str(path)) from exc
    finally:
        src.close()
    _sync_and_rename(partial, target)
    return BackupReport(str(path), str(target), target.stat().st_size, pages, encrypted)


def restore(src: str | Path, url: str, *, force: bool = False) -> BackupReport:
    """Put the backup file ``src`` where the database at ``url`` lives (``force``: replace one)."""
    path = _sqlite_path(url)
    source = Path(src)
    if not source.is_file():
        raise ConfigError(f"backup {str(source)!r} does not exist or is not a file")
    if path.exists() and not force:
        raise ConfigError(f"database {str(path)!r} exists; stop everything using it and pass --force to replace it")
    report = check(f"sqlite:///{source}")
    partial = path.with_name(path.name + ".restoring")
    conn = _read_only(source)
    try:
        out = sqlite3.connect(partial)
        try:
            conn.backup(out)
            pages = out.execute("PRAGMA page_count").fetchone()[0]
            encrypted = _encrypted(out)
        finally:
            out.close()
    finally:
        conn.close()
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        leftover.unlink(missing_ok=True)
    _sync_and_rename(partial, path)
    assert report.quick_check == "ok"
    return BackupReport(str(source), str(path), path.stat().st_size, pages, encrypted)


def check(url: str) -> CheckReport:
    """Check the SQLite database at ``url`` without writing to it: its WAL, then ``quick_check``.

    Raises CorruptWalError / CorruptDatabaseError on damage. It opens the file read-only,
    so it never checkpoints or rewrites it.
    """
    path = _sqlite_path(url)
    if not path.is_file():
        raise StorageError(f"database {str(path)!r} does not exist", location=str(path))
    wal = check_wal(path)
    conn = _read_only(path)
    try:
        verdict = " ".join(str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall())
    except sqlite3.Error as exc:
        raise _sqlite.translate_error(exc, str(path)) from exc
    finally:
        conn.close()
    if verdict != "ok":
        from stateline.errors import CorruptDatabaseError

        raise CorruptDatabaseError(f"database {str(path)!r} is damaged ({verdict[:300]}); restore it from a backup",
                                   location=str(path))
    return CheckReport(str(path), wal, verdict)


def _sync_and_rename(partial: Path, target: Path) -> None:
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, target)
    try:
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
