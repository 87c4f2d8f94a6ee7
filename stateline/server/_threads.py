"""Threads as the server sees them: who owns each one, its title and busy policy.

All of it is stored in the thread index (``checkpointing.ThreadIndex``: ``owner``,
``title``, ``policy`` columns), the one table that says which conversations exist;
the server keeps no table of its own for threads.

Ids a client picks are scoped to the caller: ``POST /api/threads {"thread_id": "t1"}``
by alice creates ``t1@alice``. Another user's ``t1`` is ``t1@bob``, so whether an id is
taken only ever depends on the caller's own threads: no answer tells one user anything
about another's (no existence oracle).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from stateline._ids import check_id, new_id
from stateline.checkpointing import Database, ThreadIndex, ThreadInfo
from stateline.errors import InvalidInputError

Policy = Literal["reject", "enqueue"]
SCOPE = "@"
"""Between the id a client chose and its user id; not allowed in a client-chosen id."""


@dataclass(frozen=True)
class OwnedThread:
    thread_id: str
    """The thread's id (what every other route takes)."""
    user_id: str | None
    """Who owns it."""
    policy: str
    """reject or enqueue."""
    title: str | None
    """What its owner called it."""
    created_at: float | None
    """When it was created (epoch seconds)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scoped_id(client_id: str | None, user_id: str) -> str:
    """The thread id for ``client_id`` chosen by ``user_id`` (a random one if None)."""
    if client_id is None:
        return new_id()
    check_id("thread id", client_id)
    if SCOPE in client_id:
        raise InvalidInputError(f"thread id {client_id!r} may not contain {SCOPE!r}: the server adds @your-user-id")
    full = f"{client_id}{SCOPE}{user_id}"
    if len(full) > 128:
        raise InvalidInputError(
            f"thread id {client_id!r} is too long: with {SCOPE}{user_id} added it must stay within 128 characters"
        )
    return check_id("thread id", full)


class ThreadOwners:
    """Owner, title and policy per thread, read and written through the thread index."""

    def __init__(self, db: Database, index: ThreadIndex, default_policy: str = "reject") -> None:
        self._db = db
        self._index = index
        self.default_policy = default_policy
        _fold_api_threads(db)

    def _owned(self, info: ThreadInfo) -> OwnedThread:
        owner = info.owner if info.owner is not None else info.user_id
        return OwnedThread(info.thread_id, owner, info.policy or self.default_policy, info.title, info.created_at)

    def create(self, thread_id: str, user_id: str, policy: str | None, title: str | None) -> OwnedThread | None:
        """Register a new thread; None if the id is already taken."""
        made = self._index.create(thread_id, owner=user_id, user_id=user_id, title=title, policy=policy)
        return None if made is None else self._owned(made)

    def get(self, thread_id: str) -> OwnedThread | None:
        if not self._index.exists(thread_id):
            return None
        return self._owned(self._index.get(thread_id))

    def set_policy(self, thread_id: str, user_id: str | None, policy: str) -> None:
        self._index.set_policy(thread_id, policy)

    def list(self, user_id: str | None, *, limit: int = 100) -> list[OwnedThread]:
        """``user_id``'s threads (None: everyone's), newest first."""
        rows = self._index.list(owner=user_id, limit=limit) if user_id is not None else self._index.list(limit=limit)
        found = [self._owned(info) for info in rows]
        found.sort(key=lambda t: t.created_at or 0, reverse=True)
        return found


def _fold_api_threads(db: Database) -> None:
    """Move rows of the server's former ``api_threads`` table into the thread index, then drop it."""
    if db.url.backend == "postgres":
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'api_threads'"
    else:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_threads'"
    if db.query_one(sql) is None:
        return
    with db.transaction() as tx:
        for row in tx.execute("SELECT * FROM api_threads").fetchall():
            tx.execute(
                "INSERT INTO threads(thread_id, user_id, created_at, updated_at, turns, owner, title, policy) "
                "VALUES (?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT(thread_id) DO UPDATE SET "
                "owner = excluded.owner, title = excluded.title, policy = excluded.policy",
                (row["thread_id"], row["user_id"] or None, row["created_at"], row["created_at"],
                 row["user_id"] or None, db.encrypt(row["title"]), row["policy"]),
            )
        tx.execute("DROP TABLE api_threads")
        tx.execute("DELETE FROM stateline_schema WHERE component = 'api_threads'")
