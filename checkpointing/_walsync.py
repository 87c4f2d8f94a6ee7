"""Group commit for SQLite in WAL mode: one fsync of the WAL covers every commit before it.

With ``synchronous=FULL`` SQLite fsyncs the WAL inside every commit, while the writer
still holds the database's write lock: 32 conversations on one file then queue behind
32 fsyncs in a row, one at a time. Here the saver commits with ``synchronous=NORMAL``
(the frames are written to the WAL, no fsync), releases the write lock, and only then
waits until the WAL file has been fsynced *after* its commit. One thread (the leader)
runs the fsync; every commit that finished before the leader started is covered by
it, so concurrent writers share one fsync instead of paying one each.

Why this is as durable as FULL for the commits it covers: the committed frames are in
the WAL file's page cache when ``COMMIT`` returns; ``fsync`` on any descriptor of a
file flushes all of that file's dirty pages. If SQLite checkpointed the frames into
the database and reset or deleted the WAL meanwhile, it synced the WAL before and the
database after that checkpoint (what ``synchronous=NORMAL`` guarantees in WAL mode),
so the frames are already durable and there is nothing left to flush. ``put`` returns
only after its fsync, so a checkpoint LangGraph was told about survives power loss.
"""

from __future__ import annotations

import os
import threading

from stateline.errors import StorageError

_SYNCERS: dict[str, WalSync] = {}
_SYNCERS_GUARD = threading.Lock()


def wal_sync_for(database_path: str) -> WalSync:
    """The process-wide syncer of one database file (all its savers share it)."""
    with _SYNCERS_GUARD:
        return _SYNCERS.setdefault(database_path, WalSync(database_path + "-wal"))


class WalSync:
    """Tickets handed out at commit time; ``wait_durable(ticket)`` returns once an fsync covers it."""

    def __init__(self, wal_path: str) -> None:
        self.wal_path = wal_path
        self._cond = threading.Condition()
        self._committed = 0
        """Commits taken a ticket for, in commit order (callers hold the file's write lock)."""
        self._synced = 0
        """Every ticket up to this one is covered by a completed fsync."""
        self._leader = False

    def ticket(self) -> int:
        """Call right after ``COMMIT``, still under the write lock: tickets follow commit order."""
        with self._cond:
            self._committed += 1
            return self._committed

    def wait_durable(self, ticket: int) -> None:
        """Block until the WAL was fsynced after commit ``ticket``; run that fsync if nobody is."""
        with self._cond:
            while self._synced < ticket:
                if self._leader:
                    self._cond.wait()
                    continue
                self._leader = True
                covered = self._committed
                self._cond.release()
                try:
                    self._fsync()
                finally:
                    self._cond.acquire()
                    self._leader = False
                    self._cond.notify_all()
                self._synced = max(self._synced, covered)

    def _fsync(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return  # the WAL was checkpointed (synced) and removed: nothing left to flush
        except OSError as exc:
            raise StorageError(f"cannot open {self.wal_path!r} to sync it: {exc}") from exc
        try:
            os.fsync(fd)
        except OSError as exc:
            raise StorageError(f"fsync of {self.wal_path!r} failed: {exc}; the last commit may not be durable") from exc
        finally:
            os.close(fd)
