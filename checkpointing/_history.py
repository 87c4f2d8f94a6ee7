"""Time travel: stream a thread's history, rewind it, fork it, delete it.

Rewind writes a *new* head that is a copy of an old checkpoint (same channel
versions, same ``versions_seen``), so the graph sees exactly the old state and
the same next tasks, while every checkpoint in between stays in the history.
The old checkpoint's pending writes are not copied: the tasks that ran after it
run again from the rewound state, which is what going back means.

Everything works through the ``BaseCheckpointSaver`` API (``get_tuple``/``put``/
``copy_thread``), so it serves the memory backend too; an unknown checkpoint is
detected before the first write, so it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, copy_checkpoint
from langgraph.checkpoint.base.id import uuid6

from stateline.errors import ConfigError, InvalidInputError, UnknownCheckpointError

from ._retention import delete_threads, saver_of


def _config(thread_id: str, ns: str, checkpoint_id: str | None = None) -> RunnableConfig:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def iter_history(
    target: Any, thread_id: str, *, checkpoint_ns: str = "", limit: int | None = None
) -> Iterator[CheckpointTuple]:
    """The thread's checkpoints, newest first, streamed.

    On SQLite it reads a page of rows per query (keyset pagination) and rebuilds
    list values as slices of one cached list, so memory stays flat however long
    the history is, and no lock is held between items.
    """
    yield from saver_of(target).list(_config(thread_id, checkpoint_ns), limit=limit)


def rewind(target: Any, thread_id: str, checkpoint_id: str, *, checkpoint_ns: str = "") -> RunnableConfig:
    """Make checkpoint ``checkpoint_id`` the thread's head again (as a new checkpoint).

    Returns the new head's config; ``invoke(None, cfg)`` then runs what was next
    at that checkpoint, and new input continues the conversation from there.
    """
    saver = saver_of(target)
    old = saver.get_tuple(_config(thread_id, checkpoint_ns, checkpoint_id))
    if old is None:
        raise UnknownCheckpointError(thread_id, checkpoint_id)
    head = saver.get_tuple(_config(thread_id, checkpoint_ns))
    assert head is not None  # the thread has at least the old checkpoint
    checkpoint = copy_checkpoint(old.checkpoint)
    checkpoint["id"] = _newer_id(head.checkpoint["id"])
    checkpoint["ts"] = datetime.now(timezone.utc).isoformat()
    metadata: Any = {**old.metadata, "source": "fork", "parents": {}, "rewound_from": checkpoint_id}
    metadata.pop("run_id", None)  # not produced by that run: deleting the run must keep it
    versions = dict(checkpoint["channel_versions"])
    return saver.put(head.config, checkpoint, metadata, versions)


def fork(
    target: Any, thread_id: str, checkpoint_id: str, new_thread_id: str, *, checkpoint_ns: str = ""
) -> RunnableConfig:
    """Copy the thread to ``new_thread_id`` and rewind the copy to ``checkpoint_id``.

    The source thread is not changed. ``new_thread_id`` must not hold checkpoints yet.
    If the rewind fails after the copy, the copy is deleted again.
    """
    saver = saver_of(target)
    if saver.get_tuple(_config(thread_id, checkpoint_ns, checkpoint_id)) is None:
        raise UnknownCheckpointError(thread_id, checkpoint_id)
    if new_thread_id == thread_id or saver.get_tuple(_config(new_thread_id, checkpoint_ns)) is not None:
        raise InvalidInputError(f"cannot fork into {new_thread_id!r}: that thread already has checkpoints")
    try:
        saver.copy_thread(thread_id, new_thread_id)
    except NotImplementedError as exc:
        raise ConfigError(f"{type(saver).__name__} cannot copy threads; fork needs a SQLite database") from exc
    try:
        return rewind(saver, new_thread_id, checkpoint_id, checkpoint_ns=checkpoint_ns)
    except BaseException:
        saver.delete_thread(new_thread_id)
        raise


def delete_thread(db: Any, thread_id: str) -> bool:
    """Delete the thread's checkpoints and (via cleanup hooks) its other rows; False if unknown."""
    saver = saver_of(db)
    existed = saver.get_tuple(_config(thread_id, "")) is not None
    if hasattr(db, "saver"):
        delete_threads(db, [thread_id])
    else:
        saver.delete_thread(thread_id)
    return existed


def _newer_id(head_id: str) -> str:
    """A uuid6 checkpoint id that sorts after ``head_id`` (ids order the history)."""
    for _ in range(1000):
        candidate = str(uuid6(clock_seq=-1))
        if candidate > head_id:
            return candidate
    raise InvalidInputError(f"clock is behind checkpoint {head_id!r}; cannot create a newer checkpoint id")
