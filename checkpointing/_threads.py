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
    ),
    (
        2,
        """
        ALTER TABLE threads ADD COLUMN owner TEXT;
        ALTER TABLE threads ADD COLUMN title TEXT;
        ALTER TABLE threads ADD COLUMN policy TEXT;
        CREATE INDEX IF NOT EXISTS threads_owner ON threads(owner, created_at)
        """,
    ),
]
SEALED = ("title",)
"""Columns that can hold user content: sealed with ``Database.encrypt`` when a key is set."""


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
    owner: str | None = None
    """Who may see it over the HTTP API (None: threads made outside it; then ``user_id``)."""
    title: str | None = None
    """A name its owner gave it (sealed at rest when a key is set)."""
    policy: str | None = None
    """What a message to it gets while a turn runs: reject or enqueue (None: the server's default)."""


class ThreadIndex:
    """Read and update the thread index of one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("threads", MIGRATIONS)
        db.seal_columns("threads", *SEALED)

    def _info(self, row: object) -> ThreadInfo:
        data = dict(row)  # type: ignore[call-overload]
        data["title"] = self._db.decrypt(data["title"])
        return ThreadInfo(**data)

    def create(
        self, thread_id: str, *, owner: str, user_id: str | None = None, title: str | None = None,
        policy: str | None = None, workflow: str | None = None,
    ) -> ThreadInfo | None:
        """Register a thread before its first turn (the HTTP API's create); None if the id is taken."""
        t = now()
        made = self._db.execute(
            "INSERT INTO threads(thread_id, user_id, workflow, created_at, updated_at, turns, owner, title, policy) "
            "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT(thread_id) DO NOTHING",
            (thread_id, user_id, workflow, t, t, owner, self._db.encrypt(title), policy),
        )
        return self.get(thread_id) if made else None

    def set_policy(self, thread_id: str, policy: str) -> bool:
        """Change the thread's busy policy; False if there is no such thread."""
        return bool(self._db.execute("UPDATE threads SET policy = ? WHERE thread_id = ?", (policy, thread_id)))

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
                "updated_at = excluded.updated_at, turns = threads.turns + 1, "
                "workflow = COALESCE(threads.workflow, excluded.workflow)",
                (thread_id, user_id, workflow, t, t),
            )

    def get(self, thread_id: str) -> ThreadInfo:
        row = self._db.query_one("SELECT * FROM threads WHERE thread_id = ?", (thread_id,))
        if row is None:
            raise UnknownThreadError(thread_id)
        return self._info(row)

    def exists(self, thread_id: str) -> bool:
        return self._db.query_one("SELECT 1 FROM threads WHERE thread_id = ?", (thread_id,)) is not None

    def list(self, *, user_id: str | None = None, owner: str | None = None, limit: int = 100) -> list[ThreadInfo]:
        """Threads, most recently active first; only ``user_id``'s when given.

        ``owner``: the threads this API user may see: those it owns, and those made outside
        the API (no owner) for it as ``user_id``.
        """
        if owner is not None:
            rows = self._db.query(
                "SELECT * FROM threads WHERE owner = ? OR (owner IS NULL AND user_id = ?) "
                "ORDER BY updated_at DESC LIMIT ?",
                (owner, owner, limit),
            )
        elif user_id is None:
            rows = self._db.query("SELECT * FROM threads ORDER BY updated_at DESC LIMIT ?", (limit,))
        else:
            rows = self._db.query(
                "SELECT * FROM threads WHERE user_id = ? ORDER BY updated_at DESC LIMIT ?",
                (user_id, limit),
            )
        return [self._info(r) for r in rows]

    def delete(self, thread_id: str) -> None:
        self._db.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))
