"""Rows that ride along with a thread's next checkpoint write, in its transaction.

A turn's step events (``lifecycle.Tracker``) used to be committed one transaction per
node: ~8 commits a turn besides the checkpoints. Queued here instead, they are written
by the next write transaction the saver makes for the same thread — the node's task
writes or its checkpoint, which LangGraph makes right after the node finished — so a
step's events are stored atomically with the step's own writes and cost no commit of
their own. Whatever is still queued when the run ends is taken by its finish record
(:meth:`Riders.take`), written in that transaction.

Why nothing is lost that was kept before: events were committed without an fsync
(``durable=False``), so a power loss could already drop them until the next durable
commit; a process crash now drops only those of a node whose writes were not stored
either (the node re-runs and reports again). Only this process's saver carries them:
rows queued for a thread are written by the transaction of the turn that holds the
thread's lease, never by another process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

Statement = tuple[str, Sequence[Sequence[Any]]]
"""(SQL with ``?`` placeholders, rows for ``executemany``)."""


class Riders:
    """Per thread id, the statements waiting for that thread's next write transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: dict[str, list[Statement]] = {}

    def add(self, thread_id: str, statements: Sequence[Statement]) -> None:
        if statements:
            with self._lock:
                self._queued.setdefault(thread_id, []).extend(statements)

    def take(self, thread_id: str) -> list[Statement]:
        """The queued statements of ``thread_id``, removed from the queue."""
        if not self._queued:  # the common case, read without the lock: a miss only delays to the next write
            return []
        with self._lock:
            return self._queued.pop(thread_id, [])

    def put_back(self, thread_id: str, statements: list[Statement]) -> None:
        """Statements a rolled-back transaction did not store go back to the head of the queue."""
        if statements:
            with self._lock:
                self._queued[thread_id] = statements + self._queued.get(thread_id, [])

    @staticmethod
    def write(cur: Any, statements: Sequence[Statement]) -> None:
        for sql, rows in statements:
            cur.executemany(sql, rows)
