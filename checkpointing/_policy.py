"""The retention policy of a deployment: keep the last K, drop idle threads, never touch unfinished ones.

``prune`` alone is already safe for resume (it keeps each namespace's head, its
pending writes and every value they reach). The policy is more careful still: a
thread whose head is *unfinished* (a run in progress in some process, a turn
waiting for approval, a step that failed or was cut short by a crash) is left
entirely alone, because whoever finishes it may also want to look back or rewind
(and a run in progress is about to write on top of it). Named explicitly, such a
thread is refused with an error and nothing changes.

"Unfinished" is read from the head checkpoint alone, without the graph, which the
retention command does not have: pending writes at the head (a step partly done,
an error or an interrupt), a Send not yet consumed, or a trigger channel
(``__start__``, ``branch:to:X``, ``join:...:X``) holding a value written after node X
last saw it,
which is exactly when LangGraph schedules X (``_algo._triggers``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple

from stateline.errors import ConfigError, InvalidInputError

from ._database import Database
from ._retention import delete_idle_threads, saver_of, stateline_saver, vacuum
from ._threads import ThreadIndex

_TASKS = "__pregel_tasks"


def _trigger_node(channel: str) -> str | None:
    if channel == "__start__":
        return "__start__"
    if channel.startswith("branch:to:"):
        return channel[len("branch:to:") :]
    if channel.startswith("join:"):
        return channel.rsplit(":", 1)[1]
    return None


def pending_nodes(checkpoint: Any) -> list[str]:
    """The nodes LangGraph would run next from ``checkpoint`` (``__pregel_tasks`` for Sends)."""
    values = checkpoint["channel_values"]
    seen_by = checkpoint.get("versions_seen") or {}
    nodes = [_TASKS] if values.get(_TASKS) else []  # Sends not yet run
    for channel, version in checkpoint["channel_versions"].items():
        node = _trigger_node(channel)
        if node is None or channel not in values or node in nodes:  # consumed triggers are empty
            continue
        seen = (seen_by.get(node) or {}).get(channel)
        try:
            newer = seen is None or version > seen
        except TypeError:  # versions of another saver's format: play safe
            newer = True
        if newer:
            nodes.append(node)
    return nodes


def head_is_unfinished(head: CheckpointTuple | None) -> bool:
    """True if LangGraph would still run something from this head checkpoint."""
    if head is None:
        return False
    return bool(head.pending_writes) or bool(pending_nodes(head.checkpoint))


def head_is_idle(target: Any, thread_id: str) -> bool:
    """True only if ``thread_id``'s root head exists and nothing is left to run from it.

    The cheap check before a turn (``head_probe``: the head's small values and pending
    writes, no message list, no graph). False means "look closer" with ``get_state``:
    a new thread, an unfinished one, or a saver without ``head_probe``.
    """
    probe = getattr(saver_of(target), "head_probe", None)
    found = probe(thread_id, _trigger_channels) if probe is not None else None
    return found is not None and not found[1] and not pending_nodes(found[0])


def _trigger_channels(checkpoint: Any) -> list[str]:
    return [c for c in checkpoint["channel_versions"] if c == _TASKS or _trigger_node(c) is not None]


def unfinished_threads(db: Any, thread_ids: Sequence[str]) -> list[str]:
    """Those of ``thread_ids`` whose root head checkpoint is unfinished.

    Reads only each head's small values and trigger channels (``head_probe``), never
    the message lists, so it stays cheap over many long threads.
    """
    saver = stateline_saver(db)
    busy = []
    for thread_id in thread_ids:
        probe = saver.head_probe(thread_id, _trigger_channels)
        if probe is not None and (probe[1] or pending_nodes(probe[0])):
            busy.append(thread_id)
    return busy


@dataclass
class RetentionReport:
    """What one retention pass did."""

    pruned_checkpoints: int = 0
    """Checkpoints deleted by keep-last."""
    pruned_threads: list[str] = field(default_factory=list)
    """Threads keep-last looked at."""
    deleted_threads: list[str] = field(default_factory=list)
    """Idle threads deleted whole (with their rows in other components' tables)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Thread id -> why it was left alone."""
    vacuumed: bool = False


UNFINISHED = "unfinished (running, waiting for approval, or stopped mid-turn)"
DELTA = "uses a DeltaChannel (its value is rebuilt from older checkpoints, so they are all kept)"


def apply_retention(
    db: Database,
    *,
    keep_last: int | None = None,
    idle_ttl: float | None = None,
    thread_ids: Sequence[str] | None = None,
    vacuum_after: bool = False,
    now: float | None = None,
) -> RetentionReport:
    """Keep the ``keep_last`` newest checkpoints per thread and/or delete threads idle over ``idle_ttl`` s.

    Unfinished threads are skipped (and reported); if ``thread_ids`` names one, an
    InvalidInputError is raised before anything is changed.
    """
    if keep_last is None and idle_ttl is None:
        raise ConfigError("nothing to do: give keep_last (e.g. --keep-last 20) and/or idle_ttl (--idle-ttl 86400)")
    if keep_last is not None and keep_last < 1:
        raise ConfigError(f"keep_last must be at least 1 (the head a thread resumes from), got {keep_last}")
    if idle_ttl is not None and idle_ttl < 0:
        raise ConfigError(f"idle_ttl must not be negative, got {idle_ttl}")
    saver = stateline_saver(db)
    ids = list(dict.fromkeys(thread_ids)) if thread_ids is not None else saver.thread_ids()
    busy = unfinished_threads(db, ids)
    if thread_ids is not None and busy:
        raise InvalidInputError(
            f"thread {busy[0]!r} is {UNFINISHED}; pruning it could remove what it resumes from. "
            "Finish or resume it first; nothing was changed"
        )
    report = RetentionReport(skipped={t: UNFINISHED for t in busy})
    settled = [t for t in ids if t not in report.skipped]
    if idle_ttl is not None:
        others = set(saver.thread_ids()) - set(settled) if thread_ids is not None else set()
        report.deleted_threads = delete_idle_threads(
            db, idle_ttl, now=now, vacuum_after=False, keep=sorted(set(busy) | others)
        )
        settled = [t for t in settled if t not in report.deleted_threads]
    if keep_last is not None:
        for t in saver.delta_threads(settled):  # keep_last leaves them whole: say so
            report.skipped[t] = DELTA
        settled = [t for t in settled if t not in report.skipped]
        report.pruned_checkpoints = saver.keep_last(settled, keep_last)
        report.pruned_threads = settled
    if vacuum_after:
        vacuum(db)
        report.vacuumed = True
    return report


KEEP_LAST_ENV = "STATELINE_RETENTION_KEEP_LAST"
EVERY_ENV = "STATELINE_RETENTION_EVERY"


class AutoRetention:
    """A ``run_finished`` hook: every ``every`` turns of a thread, keep its ``keep_last`` newest checkpoints.

    Turns are counted by the thread index (so the count survives restarts and is shared by
    processes), or in memory where there is none. Only completed turns prune, and only a
    thread whose head is finished: a waiting or failed thread is left as it is.
    ``App`` adds one when ``STATELINE_RETENTION_KEEP_LAST`` is set
    (``STATELINE_RETENTION_EVERY``, default 10, sets how often).
    """

    def __init__(self, db: Database, keep_last: int, *, every: int = 10) -> None:
        if keep_last < 1 or every < 1:
            raise ConfigError(f"automatic retention needs keep_last >= 1 and every >= 1, got {keep_last}, {every}")
        stateline_saver(db)  # a clear error now on a backend without retention
        self.db = db
        self.keep_last = keep_last
        self.every = every
        self.pruned = 0
        self._turns: dict[str, int] = {}

    @classmethod
    def from_env(cls, db: Database) -> AutoRetention | None:
        """One configured by the environment, or None when ``STATELINE_RETENTION_KEEP_LAST`` is unset."""
        keep = os.environ.get(KEEP_LAST_ENV, "").strip()
        if not keep or db.url.backend == "memory":
            return None
        every = os.environ.get(EVERY_ENV, "").strip() or "10"
        try:
            return cls(db, int(keep), every=int(every))
        except ValueError:
            raise ConfigError(f"{KEEP_LAST_ENV}={keep!r} and {EVERY_ENV}={every!r} must be whole numbers") from None

    def _turn_count(self, thread_id: str) -> int:
        if ThreadIndex.present(self.db):
            row = self.db.query_one("SELECT turns FROM threads WHERE thread_id = ?", (thread_id,))
            if row is not None:
                return int(row[0])
        self._turns[thread_id] = self._turns.get(thread_id, 0) + 1
        return self._turns[thread_id]

    def run_finished(self, *, run_id: str, thread_id: str, status: str, error: Any = None, **_: Any) -> None:
        if status != "completed" or self._turn_count(thread_id) % self.every:
            return
        if not unfinished_threads(self.db, [thread_id]):
            self.pruned += stateline_saver(self.db).keep_last([thread_id], self.keep_last)
