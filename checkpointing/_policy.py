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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple

from stateline_errors import ConfigError, InvalidInputError

from ._database import Database
from ._retention import delete_idle_threads, stateline_saver, vacuum

_TASKS = "__pregel_tasks"


def _trigger_node(channel: str) -> str | None:
    if channel == "__start__":
        return "__start__"
    if channel.startswith("branch:to:"):
        return channel[len("branch:to:") :]
    if channel.startswith("join:"):
        return channel.rsplit(":", 1)[1]
    return None


def head_is_unfinished(head: CheckpointTuple | None) -> bool:
    """True if LangGraph would still run something from this head checkpoint."""
    if head is None:
        return False
    if head.pending_writes:
        return True
    checkpoint = head.checkpoint
    if checkpoint["channel_values"].get(_TASKS):  # Sends not yet run
        return True
    seen_by = checkpoint.get("versions_seen") or {}
    values = checkpoint["channel_values"]
    for channel, version in checkpoint["channel_versions"].items():
        node = _trigger_node(channel)
        if node is None or channel not in values:  # consumed triggers are empty
            continue
        seen = (seen_by.get(node) or {}).get(channel)
        try:
            if seen is None or version > seen:
                return True
        except TypeError:  # versions of another saver's format: play safe
            return True
    return False


def unfinished_threads(db: Any, thread_ids: Sequence[str]) -> list[str]:
    """Those of ``thread_ids`` whose root head checkpoint is unfinished."""
    saver = stateline_saver(db)
    return [
        t for t in thread_ids
        if head_is_unfinished(saver.get_tuple({"configurable": {"thread_id": t, "checkpoint_ns": ""}}))
    ]  # fmt: skip


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
        report.pruned_checkpoints = saver.keep_last(settled, keep_last)
        report.pruned_threads = settled
    if vacuum_after:
        vacuum(db)
        report.vacuumed = True
    return report
