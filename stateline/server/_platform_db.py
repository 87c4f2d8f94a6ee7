"""The Platform API's own rows: thread metadata and Platform runs, shared by every replica.

A Platform run is a row in ``platform_runs``; its events are the thread's stored stateline
events between ``start_offset`` and ``end_offset``. Because both live in the database, any
replica can stream any run, and the busy policy (one running run per thread) is a database
fact: a unique index allows one ``running`` row per thread, and run creation and start
lock the thread's ``platform_threads`` row (``SELECT ... FOR UPDATE``; SQLite's write lock).

A running run is kept alive by its replica's heartbeat (``beat_at``); a run whose beat is
older than the stale limit belonged to a replica that died, and another replica takes it
over (it finishes the turn through the core, which recovers it under the thread lease).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from stateline._ids import new_id
from stateline.checkpointing import Database, Migration, now

ACTIVE = ("pending", "running")
TERMINAL = ("success", "error", "interrupted", "timeout")
REPLICA = f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
"""This server process (a replica)."""

MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS platform_threads (
            thread_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS platform_threads_user ON platform_threads(user_id, created_at);
        CREATE TABLE IF NOT EXISTS platform_runs (
            run_id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            assistant_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            status TEXT NOT NULL,
            strategy TEXT NOT NULL,
            request TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            replica TEXT,
            beat_at REAL,
            start_offset INTEGER,
            end_offset INTEGER,
            checkpoint_before TEXT,
            end_checkpoint TEXT,
            cancel TEXT,
            error TEXT
        );
        CREATE INDEX IF NOT EXISTS platform_runs_thread ON platform_runs(thread_id, created_at);
        CREATE UNIQUE INDEX IF NOT EXISTS platform_runs_one_running ON platform_runs(thread_id) WHERE status = 'running'
        """,
    )
]


@dataclass
class RunRow:
    """One Platform run."""

    run_id: str
    """Its id (what the client polls, joins and cancels)."""
    thread_id: str
    """The conversation it runs on."""
    assistant_id: str
    """The assistant (workflow) asked for."""
    user_id: str
    """Who created it (the turn's user)."""
    status: str
    """pending, running, success, error, interrupted or timeout."""
    strategy: str
    """Its multitask_strategy."""
    request: dict[str, Any]
    """What to run: ``message`` or ``decision``, ``stream_mode``, ``subgraphs``."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The client's run metadata."""
    created_at: float = 0.0
    """When it was accepted."""
    updated_at: float = 0.0
    """Its last status change."""
    replica: str | None = None
    """The server process running it."""
    beat_at: float | None = None
    """Its replica's last heartbeat."""
    start_offset: int | None = None
    """The thread's last event offset when it started (its events come after)."""
    end_offset: int | None = None
    """The thread's last event offset when it ended."""
    checkpoint_before: str | None = None
    """The thread's head checkpoint when it started (rollback goes back there)."""
    end_checkpoint: str | None = None
    """The thread's head checkpoint when it ended (what ``values`` shows)."""
    cancel: str | None = None
    """A requested cancel action (rollback) applied when the turn ends."""
    error: str | None = None
    """Why it failed."""

    @classmethod
    def from_row(cls, row: Any) -> RunRow:
        data = dict(row)
        data["request"] = json.loads(data["request"])
        data["metadata"] = json.loads(data["metadata"])
        return cls(**data)


@dataclass
class ThreadRow:
    """A thread's Platform metadata."""

    thread_id: str
    """The conversation."""
    user_id: str
    """Its owner."""
    metadata: dict[str, Any]
    """The client's metadata (searchable)."""
    created_at: float
    """When it was made."""
    updated_at: float
    """Its last change."""


class PlatformDB:
    """Reads and writes of the Platform tables; every method is one short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("platform_api", MIGRATIONS)

    # -- threads ---------------------------------------------------------------------
    def thread(self, thread_id: str) -> ThreadRow | None:
        row = self.db.query_one("SELECT * FROM platform_threads WHERE thread_id = ?", (thread_id,))
        if row is None:
            return None
        data = dict(row)
        return ThreadRow(**{**data, "metadata": json.loads(data["metadata"])})

    def ensure_thread(self, thread_id: str, user_id: str, metadata: dict[str, Any] | None = None) -> ThreadRow:
        t = now()
        self.db.execute(
            "INSERT INTO platform_threads(thread_id, user_id, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(thread_id) DO NOTHING",
            (thread_id, user_id, json.dumps(metadata or {}), t, t),
        )
        found = self.thread(thread_id)
        assert found is not None
        return found

    def set_metadata(self, thread_id: str, metadata: dict[str, Any]) -> None:
        self.db.execute(
            "UPDATE platform_threads SET metadata = ?, updated_at = ? WHERE thread_id = ?",
            (json.dumps(metadata), now(), thread_id),
        )

    def touch_thread(self, thread_id: str) -> None:
        self.db.execute("UPDATE platform_threads SET updated_at = ? WHERE thread_id = ?", (now(), thread_id))

    def threads(self, user_id: str | None) -> list[ThreadRow]:
        """Every thread of ``user_id`` (None: everyone's), newest first."""
        if user_id is None:
            rows = self.db.query("SELECT * FROM platform_threads ORDER BY created_at DESC")
        else:
            rows = self.db.query(
                "SELECT * FROM platform_threads WHERE user_id = ? ORDER BY created_at DESC", (user_id,)
            )
        return [ThreadRow(**{**dict(r), "metadata": json.loads(r["metadata"])}) for r in rows]

    def delete_thread(self, thread_id: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM platform_runs WHERE thread_id = ?", (thread_id,))
            tx.execute("DELETE FROM platform_threads WHERE thread_id = ?", (thread_id,))

    # -- runs ------------------------------------------------------------------------
    def run(self, run_id: str) -> RunRow | None:
        row = self.db.query_one("SELECT * FROM platform_runs WHERE run_id = ?", (run_id,))
        return None if row is None else RunRow.from_row(row)

    def runs(self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None) -> list[RunRow]:
        where, params = "thread_id = ?", [thread_id]
        if status is not None:
            where += " AND status = ?"
            params.append(status)
        rows = self.db.query(
            f"SELECT * FROM platform_runs WHERE {where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [RunRow.from_row(r) for r in rows]

    def active(self, thread_id: str) -> list[RunRow]:
        rows = self.db.query(
            "SELECT * FROM platform_runs WHERE thread_id = ? AND status IN ('pending', 'running') "
                "ORDER BY created_at",
            (thread_id,),
        )
        return [RunRow.from_row(r) for r in rows]

    def create_run(self, run: RunRow) -> tuple[RunRow | None, list[RunRow]]:
        """Insert ``run`` as pending unless its strategy refuses a busy thread.

        Returns (the run or None if refused, the runs that were active before it). With
        ``interrupt``/``rollback`` the running run is marked so it is stopped (rollback:
        reverted) at its turn boundary.
        """
        with self.db.transaction() as tx:
            tx.execute("SELECT thread_id FROM platform_threads WHERE thread_id = ? FOR UPDATE", (run.thread_id,))
            rows = tx.execute(
                "SELECT * FROM platform_runs WHERE thread_id = ? AND status IN ('pending', 'running') "
                "ORDER BY created_at",
                (run.thread_id,),
            ).fetchall()
            before = [RunRow.from_row(r) for r in rows]
            if before and run.strategy == "reject":
                return None, before
            if run.strategy in ("interrupt", "rollback"):
                for old in before:
                    if old.status == "pending":
                        tx.execute(
                            "UPDATE platform_runs SET status = 'interrupted', updated_at = ? WHERE run_id = ?",
                            (now(), old.run_id),
                        )
                    elif old.cancel is None:
                        tx.execute("UPDATE platform_runs SET cancel = ? WHERE run_id = ?", (run.strategy, old.run_id))
            t = now()
            run.created_at = run.updated_at = t
            tx.execute(
                "INSERT INTO platform_runs(run_id, thread_id, assistant_id, user_id, status, strategy, request, "
                "metadata, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                (
                    run.run_id, run.thread_id, run.assistant_id, run.user_id, run.strategy,
                    json.dumps(run.request),
                    json.dumps(run.metadata),
                    t,
                    t,
                ),
            )
        return run, before

    def claim(self, run_id: str, start_offset: int, checkpoint: str | None) -> bool:
        """Start a pending run if it is the oldest active one of its thread; False if not its turn."""
        found = self.db.query_one("SELECT thread_id FROM platform_runs WHERE run_id = ?", (run_id,))
        if found is None:
            return False
        with self.db.transaction() as tx:
            # lock the thread first, then read the run: two replicas claiming at once are serialised here
            tx.execute("SELECT thread_id FROM platform_threads WHERE thread_id = ? FOR UPDATE", (found["thread_id"],))
            row = tx.execute("SELECT * FROM platform_runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None or row["status"] != "pending":
                return False
            first = tx.execute(
                "SELECT run_id FROM platform_runs WHERE thread_id = ? AND status IN ('pending', 'running') "
                "ORDER BY CASE WHEN status = 'running' THEN 0 ELSE 1 END, created_at, run_id LIMIT 1",
                (row["thread_id"],),
            ).fetchone()
            if first is None or first["run_id"] != run_id:
                return False
            t = now()
            claimed = tx.execute(
                "UPDATE platform_runs SET status = 'running', replica = ?, beat_at = ?, updated_at = ?, "
                "start_offset = ?, "
                "checkpoint_before = ? WHERE run_id = ? AND status = 'pending'",
                (REPLICA, t, t, start_offset, checkpoint, run_id),
            ).rowcount
        return claimed == 1

    def take_over(self, run: RunRow, stale_before: float) -> bool:
        """Adopt a running run whose replica stopped beating; False if another replica did."""
        changed = self.db.execute(
            "UPDATE platform_runs SET replica = ?, beat_at = ? WHERE run_id = ? AND status = 'running' AND "
            "(beat_at IS NULL OR beat_at < ?)",
            (REPLICA, now(), run.run_id, stale_before),
        )
        return changed == 1

    def beat(self, run_ids: list[str]) -> None:
        t = now()
        for run_id in run_ids:
            self.db.execute(
                "UPDATE platform_runs SET beat_at = ? WHERE run_id = ? AND replica = ?", (t, run_id, REPLICA)
            )

    def finish(
        self, run_id: str, status: str, end_offset: int, checkpoint: str | None, error: str | None = None
    ) -> None:
        t = now()
        self.db.execute(
            "UPDATE platform_runs SET status = ?, end_offset = ?, end_checkpoint = ?, error = ?, updated_at = ?, "
            "beat_at = ? WHERE run_id = ?",
            (status, end_offset, checkpoint, error, t, t, run_id),
        )

    def cancel_pending(self, run_id: str) -> bool:
        changed = self.db.execute(
            "UPDATE platform_runs SET status = 'interrupted', updated_at = ? WHERE run_id = ? AND status = 'pending'",
            (now(), run_id),
        )
        return changed == 1

    def mark_cancel(self, run_id: str, action: str) -> None:
        self.db.execute("UPDATE platform_runs SET cancel = ? WHERE run_id = ? AND status = 'running'", (action, run_id))

    def delete_run(self, run_id: str) -> None:
        self.db.execute("DELETE FROM platform_runs WHERE run_id = ?", (run_id,))

    def pending(self, assistant_id: str) -> list[RunRow]:
        """Pending runs of ``assistant_id`` (a replica only runs its own workflow's runs)."""
        rows = self.db.query(
            "SELECT * FROM platform_runs WHERE status = 'pending' AND assistant_id = ? ORDER BY created_at LIMIT 100",
            (assistant_id,),
        )
        return [RunRow.from_row(r) for r in rows]

    def stale(self, assistant_id: str, stale_before: float) -> list[RunRow]:
        rows = self.db.query(
            "SELECT * FROM platform_runs WHERE status = 'running' AND assistant_id = ? AND "
            "(beat_at IS NULL OR beat_at < ?) LIMIT 100",
            (assistant_id, stale_before),
        )
        return [RunRow.from_row(r) for r in rows]
