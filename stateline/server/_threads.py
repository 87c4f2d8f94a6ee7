"""Threads as the server sees them: who owns each one and its busy policy."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from stateline.checkpointing import Database, Migration, ThreadIndex, now

Policy = Literal["reject", "enqueue"]

MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS api_threads (
            thread_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            policy TEXT NOT NULL,
            title TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX IF NOT EXISTS api_threads_user ON api_threads(user_id, created_at)
        """,
    )
]


@dataclass(frozen=True)
class OwnedThread:
    thread_id: str
    user_id: str | None
    policy: str
    title: str | None
    created_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ThreadOwners:
    """Owner and policy per thread; threads made outside the server are owned per the thread index."""

    def __init__(self, db: Database, index: ThreadIndex, default_policy: str = "reject") -> None:
        self._db = db
        self._index = index
        self.default_policy = default_policy
        db.migrate("api_threads", MIGRATIONS)

    def create(self, thread_id: str, user_id: str, policy: str | None, title: str | None) -> OwnedThread | None:
        """Register a new thread; None if the id is already taken (here or in the thread index)."""
        if self._index.exists(thread_id):
            return None
        with self._db.transaction() as conn:
            taken = conn.execute("SELECT 1 FROM api_threads WHERE thread_id = ?", (thread_id,)).fetchone()
            if taken:
                return None
            t = now()
            conn.execute(
                "INSERT INTO api_threads(thread_id, user_id, policy, title, created_at) VALUES (?, ?, ?, ?, ?)",
                (thread_id, user_id, policy or self.default_policy, title, t),
            )
        return OwnedThread(thread_id, user_id, policy or self.default_policy, title, t)

    def get(self, thread_id: str) -> OwnedThread | None:
        row = self._db.query_one("SELECT * FROM api_threads WHERE thread_id = ?", (thread_id,))
        if row is not None:
            return OwnedThread(**dict(row))
        if self._index.exists(thread_id):
            info = self._index.get(thread_id)
            return OwnedThread(thread_id, info.user_id, self.default_policy, None, info.created_at)
        return None

    def set_policy(self, thread_id: str, user_id: str | None, policy: str) -> None:
        changed = self._db.execute("UPDATE api_threads SET policy = ? WHERE thread_id = ?", (policy, thread_id))
        if not changed:
            self._db.execute(
                "INSERT INTO api_threads(thread_id, user_id, policy, title, created_at) VALUES (?, ?, ?, ?, ?)",
                (thread_id, user_id or "", policy, None, now()),
            )

    def list(self, user_id: str | None, *, limit: int = 100) -> list[OwnedThread]:
        """``user_id``'s threads (None: everyone's), newest first."""
        if user_id is None:
            rows = self._db.query("SELECT * FROM api_threads ORDER BY created_at DESC LIMIT ?", (limit,))
        else:
            rows = self._db.query(
                "SELECT * FROM api_threads WHERE user_id = ? ORDER BY created_at DESC LIMIT ?", (user_id, limit)
            )
        found = [OwnedThread(**dict(r)) for r in rows]
        known = {t.thread_id for t in found}
        for info in self._index.list(user_id=user_id, limit=limit):
            if info.thread_id not in known:
                found.append(OwnedThread(info.thread_id, info.user_id, self.default_policy, None, info.created_at))
        found.sort(key=lambda t: t.created_at or 0, reverse=True)
        return found[:limit]
