"""Thread leases: at most one recoverer works on a thread at a time, across processes and hosts."""

from __future__ import annotations

import uuid

from checkpointing import Database, now

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
            taken = self._db.execute(
                "INSERT INTO thread_leases(owner, host, pid, proc, expires_at, thread_id) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(thread_id) DO NOTHING",
                (*values, thread_id),
            )
        else:
            holder_alive = _process.is_alive(row["host"], row["pid"], row["proc"])
            if holder_alive or (holder_alive is None and row["expires_at"] > t):
                return None  # a live holder here, or one elsewhere whose lease has not expired
            taken = self._db.execute(
                "UPDATE thread_leases SET owner = ?, host = ?, pid = ?, proc = ?, expires_at = ? "
                "WHERE thread_id = ? AND owner = ?",
                (*values, thread_id, row["owner"]),
            )
        return owner if taken else None

    def release(self, thread_id: str, owner: str) -> None:
        self._db.execute("DELETE FROM thread_leases WHERE thread_id = ? AND owner = ?", (thread_id, owner))
