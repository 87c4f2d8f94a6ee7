"""Thread leases: at most one process works on a thread at a time (a recoverer, or a turn
sent through ``App.send``/``App.resume``), across processes and hosts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from stateline.checkpointing import Database, now
from stateline.errors import ThreadBusyError

from . import _process


class ThreadLeases:
    """A lease row per thread; taken with a conditional write, so two takers never both win.

    A lease held by a dead process on this host, or by a process on another host whose
    lease has expired, may be taken over; a live holder on this host keeps it.
    """

    def __init__(self, db: Database, *, lease_s: float = 300.0) -> None:
        self._db = db
        self.lease_s = lease_s

    def acquire(self, thread_id: str) -> str | None:
        """The owner token if this process now holds ``thread_id``'s lease, else None."""
        me = _process.current()
        owner = uuid.uuid4().hex
        t = now()
        row = self._db.query_one("SELECT * FROM thread_leases WHERE thread_id = ?", (thread_id,))
        values = (owner, me.host, me.pid, me.proc, t + self.lease_s)
        if row is None:
            taken = self._write(
                "INSERT INTO thread_leases(owner, host, pid, proc, expires_at, thread_id) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(thread_id) DO NOTHING",
                (*values, thread_id),
            )
        else:
            holder_alive = _process.is_alive(row["host"], row["pid"], row["proc"])
            if holder_alive or (holder_alive is None and row["expires_at"] > t):
                return None  # a live holder here, or one elsewhere whose lease has not expired
            taken = self._write(
                "UPDATE thread_leases SET owner = ?, host = ?, pid = ?, proc = ?, expires_at = ? "
                "WHERE thread_id = ? AND owner = ?",
                (*values, thread_id, row["owner"]),
            )
        return owner if taken else None

    def release(self, thread_id: str, owner: str) -> None:
        self._write(_RELEASE, (thread_id, owner))

    @contextmanager
    def held(self, thread_id: str) -> Iterator[LeaseHold]:
        """Hold ``thread_id``'s lease for the block; ThreadBusyError (nothing done) if a live holder has it.

        The block may end the hold early inside a transaction of its own
        (:meth:`LeaseHold.release_in`: the turn core does it in the run's finish record,
        saving a commit per turn); otherwise it is released when the block ends.
        """
        owner = self.acquire(thread_id)
        if owner is None:
            raise ThreadBusyError(thread_id)
        hold = LeaseHold(thread_id, owner)
        try:
            yield hold
        finally:
            if not hold.released:
                self.release(thread_id, owner)

    def _write(self, sql: str, params: tuple) -> int:
        """A lease write without its own fsync (SQLite): a lease only matters while its holder
        lives, and a power loss that could drop the row also ends every holder on this host."""
        with self._db.transaction(durable=False) as tx:
            return tx.execute(sql, params).rowcount


_RELEASE = "DELETE FROM thread_leases WHERE thread_id = ? AND owner = ?"


@dataclass
class LeaseHold:
    """This process's hold on one thread's lease (from :meth:`ThreadLeases.held`)."""

    thread_id: str
    """The thread."""
    owner: str
    """The lease row's owner token."""
    released: bool = False
    """Set by the caller of :meth:`release_in` once that transaction committed."""

    def release_in(self, tx: Any) -> None:
        """Delete the lease row inside ``tx`` (the caller sets ``released`` once it committed)."""
        tx.execute(_RELEASE, (self.thread_id, self.owner))
