"""The thread index: which conversations exist, whose they are, when they last moved.

LangGraph's savers can only list threads by scanning every checkpoint; a small
table kept beside them answers `threads list` in one indexed query.
"""

from __future__ import annotations

from dataclasses import dataclass

from stateline.errors import UnknownThreadError

from ._database import Database, Migration, now

MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS threads (
            thread_id TEXT PRIMARY KEY,
            user_id TEXT,
            workflow TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            turns INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS threads_user ON threads(user_id, updated_at)
        """,
    )
]


@dataclass(frozen=True)
class ThreadInfo:
    """One row of the thread index."""

    thread_id: str
    """The conversation id."""
    user_id: str | None
    """Who owns it (None for anonymous CLI use)."""
    workflow: str | None
    """Which app or example it belongs to."""
    created_at: float
    """When its first turn was accepted (epoch seconds)."""
    updated_at: float
    """When its latest turn was accepted (epoch seconds)."""
    turns: int
    """How many user turns it has accepted."""


class ThreadIndex:
    """Read and update the thread index of one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("threads", MIGRATIONS)

    @staticmethod
    def present(db: Database) -> bool:
        """Whether ``db`` has a thread index (some App created it), without creating one."""
        return db.query_one("SELECT 1 FROM stateline_schema WHERE component = 'threads'") is not None

    def touch(self, thread_id: str, *, user_id: str | None, workflow: str | None) -> None:
        """Record that ``thread_id`` accepted one more turn (creating its row on the first)."""
        t = now()
        # not synced on its own: the turn's run row and input checkpoint, committed durably
        # next, sync it with them
        with self._db.transaction(durable=False) as tx:
            tx.execute(
                "INSERT INTO threads(thread_id, user_id, workflow, created_at, updated_at, turns) "
                "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT(thread_id) DO UPDATE SET "
                "updated_at = excluded.updated_at, turns = threads.turns + 1",
                (thread_id, user_id, workflow, t, t),
            )

    def get(self, thread_id: str) -> ThreadInfo:
        row = self._db.query_one("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        if row is None:
            raise UnknownThreadError(thread_id)
        return ThreadInfo(**dict(row))

    def exists(self, thread_id: str) -> bool:
        return self._db.query_one("SELECT 1 FROM threads WHERE thread_id = ?", (thread_id,)) is not None

    def list(self, *, user_id: str | None = None, limit: int = 100) -> list[ThreadInfo]:
        """Threads, most recently active first; only ``user_id``'s when given."""
        if user_id is None:
            rows = self._db.query("SELECT * FROM threads ORDER BY updated_at DESC LIMIT ?", (limit,))
        else:
            rows = self._db.query(
                "SELECT * FROM threads WHERE user_id = ? ORDER BY updated_at DESC LIMIT ?",
                (user_id, limit),
            )
        return [ThreadInfo(**dict(r)) for r in rows]

    def delete(self, thread_id: str) -> None:
        self._db.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))
