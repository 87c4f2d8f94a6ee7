"""A durable queue of user turns that worker processes take with leases.

Why a turn is run exactly once even when workers die:

- a job is claimed with a conditional update inside one transaction (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, where workers skip each other's rows instead of waiting; the
  write lock of ``BEGIN IMMEDIATE`` on SQLite), so two workers never both own it;
- a claimed job carries a lease that its worker renews; only when the lease has expired
  may another worker take it over, and its first act is to ask whether the turn's run
  row exists (it is written before the graph starts, with the job's run id): if so the
  turn was accepted and is finished by recovery, never sent again;
- jobs of one thread run in order, one at a time: a job is claimable only when no older
  job of its thread is still queued or running.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from stateline.checkpointing import Database, Migration, now
from stateline.errors import InvalidInputError, StatelineRuntimeError

JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUSES: tuple[str, ...] = ("queued", "running", "done", "failed")

MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS run_queue (
            job_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            thread_id TEXT NOT NULL,
            user_id TEXT,
            message TEXT NOT NULL,
            run_id TEXT NOT NULL,
            status TEXT NOT NULL,
            worker TEXT,
            lease_until REAL,
            attempts INTEGER NOT NULL DEFAULT 0,
            enqueued_at REAL NOT NULL,
            finished_at REAL,
            reply TEXT,
            error TEXT
        );
        CREATE INDEX IF NOT EXISTS run_queue_status ON run_queue(status, seq);
        CREATE INDEX IF NOT EXISTS run_queue_thread ON run_queue(thread_id, seq)
        """,
    )
]


SEALED = ("message", "reply", "error")
"""Columns that can hold user content: sealed with ``Database.encrypt`` when a key is set."""


class UnknownJobError(StatelineRuntimeError):
    """No queued job is stored under ``job_id``."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"unknown job {job_id!r}; `stateline jobs list` shows the queue")


@dataclass(frozen=True)
class Job:
    """One queued user turn."""

    job_id: str
    """The job's id."""
    seq: int
    """Position in the queue (ordering within a thread)."""
    thread_id: str
    """The conversation the message belongs to."""
    user_id: str | None
    """Who sent it."""
    message: str
    """The user's message."""
    run_id: str
    """The tracked run this turn becomes (fixed at enqueue, so a takeover can find it)."""
    status: str
    """queued, running, done or failed."""
    worker: str | None
    """Who holds (or last held) it."""
    lease_until: float | None
    """When the holder's lease runs out (epoch seconds)."""
    attempts: int
    """How many times a worker has claimed it."""
    enqueued_at: float
    """When it was accepted."""
    finished_at: float | None
    """When it ended."""
    reply: str | None
    """The agents' reply, once done."""
    error: str | None
    """Why it failed."""


class RunQueue:
    """Enqueue turns; claim, renew and finish them from workers."""

    def __init__(self, db: Database, *, lease_s: float = 30.0) -> None:
        if lease_s <= 0:
            raise InvalidInputError(f"lease must be positive, got {lease_s}")
        self._db = db
        self.lease_s = lease_s
        db.migrate("run_queue", MIGRATIONS)
        db.seal_columns("run_queue", *SEALED)

    def enqueue(self, thread_id: str, message: str, *, user_id: str | None = None) -> Job:
        """Accept a turn for later; it runs after every earlier job of its thread."""
        job_id, run_id = uuid.uuid4().hex, uuid.uuid4().hex
        with self._db.transaction() as tx:
            row = tx.execute("SELECT COALESCE(MAX(seq), 0) AS n FROM run_queue").fetchone()
            seq = row["n"] + 1  # type: ignore[index]  # MAX: one row
            tx.execute(
                "INSERT INTO run_queue(job_id, seq, thread_id, user_id, message, run_id, status, enqueued_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                (job_id, seq, thread_id, user_id, self._db.encrypt(message), run_id, now()),
            )
        return self.get(job_id)

    def claim(self, worker: str) -> Job | None:
        """Take the oldest claimable job (queued, or running with an expired lease), or None."""
        t = now()
        with self._db.transaction() as tx:
            row = tx.execute(
                "SELECT q.job_id FROM run_queue q WHERE "
                "(q.status = 'queued' OR (q.status = 'running' AND q.lease_until < ?)) "
                "AND NOT EXISTS (SELECT 1 FROM run_queue o WHERE o.thread_id = q.thread_id AND o.seq < q.seq "
                "AND o.status IN ('queued', 'running')) "
                "ORDER BY q.seq LIMIT 1 FOR UPDATE SKIP LOCKED",
                (t,),
            ).fetchone()
            if row is None:
                return None
            taken = tx.execute(
                "UPDATE run_queue SET status = 'running', worker = ?, lease_until = ?, attempts = attempts + 1 "
                "WHERE job_id = ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?))",
                (worker, t + self.lease_s, row["job_id"], t),
            ).rowcount
        return self.get(row["job_id"]) if taken else None

    def renew(self, job_id: str, worker: str) -> bool:
        """Extend ``worker``'s lease; False if it lost the job (expired and taken over)."""
        return bool(self._db.execute(
            "UPDATE run_queue SET lease_until = ? WHERE job_id = ? AND worker = ? AND status = 'running'",
            (now() + self.lease_s, job_id, worker),
        ))

    def finish(self, job_id: str, worker: str, *, reply: str | None = None, error: str | None = None) -> bool:
        """Close the job as done (or failed with ``error``) if ``worker`` still holds it."""
        return bool(self._db.execute(
            "UPDATE run_queue SET status = ?, finished_at = ?, reply = ?, error = ?, lease_until = NULL "
            "WHERE job_id = ? AND worker = ? AND status = 'running'",
            ("failed" if error is not None else "done", now(), self._db.encrypt(reply), self._db.encrypt(error),
             job_id, worker),
        ))

    def defer(self, job_id: str, worker: str, delay_s: float) -> bool:
        """Give a job back to be claimed again after ``delay_s`` (its thread was busy elsewhere).

        It stays 'running' with no worker and a lease that ends then, so ``claim``'s rule
        for expired leases picks it up, and later turns of its thread keep waiting behind it.
        """
        return bool(self._db.execute(
            "UPDATE run_queue SET worker = NULL, lease_until = ? "
            "WHERE job_id = ? AND worker = ? AND status = 'running'",
            (now() + delay_s, job_id, worker),
        ))

    def get(self, job_id: str) -> Job:
        row = self._db.query_one("SELECT * FROM run_queue WHERE job_id = ?", (job_id,))
        if row is None:
            raise UnknownJobError(job_id)
        return Job(**{k: self._db.decrypt(row[k]) if k in SEALED else row[k] for k in Job.__dataclass_fields__})

    def list(self, *, status: str | None = None, thread_id: str | None = None, limit: int = 100) -> list[Job]:
        if status is not None and status not in JOB_STATUSES:
            raise InvalidInputError(f"job status {status!r} is not one of {', '.join(JOB_STATUSES)}")
        where = [c for c, v in (("status = ?", status), ("thread_id = ?", thread_id)) if v is not None]
        params = [v for v in (status, thread_id) if v is not None]
        sql = "SELECT job_id FROM run_queue" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._db.query(sql + " ORDER BY seq LIMIT ?", (*params, limit))
        return [self.get(r["job_id"]) for r in rows]
