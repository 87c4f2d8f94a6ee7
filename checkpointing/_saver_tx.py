"""The SQLite saver's transactions: one lock per file, group commit, deferred durability.

A mixin of :class:`~stateline.checkpointing._saver.StatelineSqliteSaver` (its ``conn``,
``lock``, ``where``, ``values`` and the group-commit state set in ``__init__``); see that
module for why a durable ``put`` is one fsync shared by every writer of the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from . import _sqlite
from ._riders import Riders
from ._saver_rows import SCHEMA
from ._walsync import WalSync, wal_sync_for

if TYPE_CHECKING:
    from ._values import ValueStore

_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(where: str) -> threading.Lock:
    """One lock per database file in this process, taken around every saver write.

    Savers of one process on one file (a worker pool, each with its own
    connection) then queue on a Python lock, handed over at once, instead of
    SQLite's busy handler, which polls with sleeps of up to 100 ms. Other
    processes still wait on the busy timeout.
    """
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(where, threading.Lock())


class SqliteTransactions:
    """``setup`` and the transactions every read and write of the saver runs in."""

    conn: sqlite3.Connection
    lock: threading.RLock
    where: str
    values: ValueStore
    riders: Riders
    is_setup: bool
    _file_lock: threading.Lock
    _synchronous: str | None
    _wal_sync: WalSync | None
    _deferring: threading.local

    def setup(self) -> None:
        """Create the tables; a brand-new file first gets ``auto_vacuum=INCREMENTAL``.

        SQLite only accepts a change of auto_vacuum before the first table exists,
        and a file already in WAL mode only through VACUUM (instant while empty),
        so it is done here, by the first component to create tables. Older files
        are converted by ``vacuum(db, full=True)``.
        """
        if self.is_setup:
            return
        with self.lock:
            try:
                if self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                    self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                    self.conn.execute("VACUUM")
                self.conn.executescript(SCHEMA)
                wal = self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.where) from exc
            # group commit needs the WAL; a file in another journal mode keeps FULL commits
            self._wal_sync = wal_sync_for(self.where) if wal and self.where != ":memory:" else None
            self.is_setup = True

    @contextmanager
    def _transaction(
        self, *, write: bool, durable: bool = True, thread_id: str | None = None
    ) -> Iterator[sqlite3.Cursor]:
        """A transaction; a durable write returns once its commit is fsynced.

        In WAL mode the commit itself does not sync (``synchronous=NORMAL``); the fsync
        runs after the write lock is released and is shared with every writer of this
        file in the process that committed before it (group commit, ``_walsync``).
        """
        with self.lock:
            ticket = yield from self._locked_transaction(write, durable, thread_id)
        if ticket is not None:  # the connection is free for other threads meanwhile
            assert self._wal_sync is not None
            if getattr(self._deferring, "on", False):  # made durable when the deferred block ends
                self._deferring.ticket = max(ticket, getattr(self._deferring, "ticket", 0))
            else:
                self._wal_sync.wait_durable(ticket)

    def _locked_transaction(
        self, write: bool, durable: bool, thread_id: str | None
    ) -> Generator[sqlite3.Cursor, None, int | None]:
        """The body of ``_transaction`` under the file's write lock; returns a group-commit ticket.
        A write for ``thread_id`` also stores the rows riding along with it (``_riders``)."""
        with self._file_lock if write else nullcontext():
            self.setup()
            group = write and durable and self._wal_sync is not None
            try:
                if write:
                    self._set_synchronous("FULL" if durable and not group else "NORMAL")
                cur = self.conn.cursor()
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.where) from exc
            riding = self.riders.take(thread_id) if thread_id is not None else []
            try:
                yield cur
                Riders.write(cur, riding)
                cur.execute("COMMIT")
                return self._wal_sync.ticket() if group else None  # type: ignore[union-attr]  # group: _wal_sync is set
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if thread_id is not None:
                    self.riders.put_back(thread_id, riding)
                if write:  # the cache may name versions the rollback just removed
                    self.values.forget_all()
                if isinstance(exc, sqlite3.Error):
                    raise _sqlite.translate_error(exc, self.where) from exc
                raise
            finally:
                cur.close()

    def _set_synchronous(self, level: str) -> None:
        if self._synchronous != level:
            self.conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Checkpoints put *by this thread* in the block are committed at once and made durable
        when the block ends (one fsync for all of them, none if a durable commit to the file
        inside the block already covered them), on success and on error alike.

        Why this is as safe as a durable put each: in WAL mode such a commit survives a
        process crash at once, and a power loss keeps a *prefix* of the file's commits (the
        WAL is one sequential file; an fsync of it covers every commit before it), so it
        leaves the database exactly as a process crash at an earlier commit would, which
        recovery handles at any point. What must not be lost is made durable before anyone
        outside the database depends on it: an effect's ledger row is a durable commit of
        its own before the effect runs (and it syncs every earlier checkpoint with it), and
        the block ends, durably, before the turn returns its replies. Other threads' puts
        (and a file in another journal mode) are unaffected.
        """
        local = self._deferring
        outer = getattr(local, "on", False)
        local.on = True
        if not outer:
            local.ticket = 0
        try:
            yield
        finally:
            if not outer:
                local.on = False
                ticket, local.ticket = getattr(local, "ticket", 0), 0
                if ticket and self._wal_sync is not None:
                    self._wal_sync.wait_durable(ticket)


def _db_name(conn: sqlite3.Connection) -> str:
    try:
        return next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "") or ":memory:"
    except sqlite3.Error:
        return "sqlite"
