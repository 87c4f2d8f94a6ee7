"""Retention: keep the last K checkpoints, delete idle threads, give the space back.

Why pruning never breaks a live thread: it keeps at least the newest checkpoint
of every namespace (its pending writes stay with it), and values are deleted
only when no remaining checkpoint reaches them, directly or as the base of a
list delta (``_values.collect_garbage``). So ``invoke(None, cfg)`` after a prune
resumes exactly as before it.

Why the file shrinks: new files are created with ``auto_vacuum=INCREMENTAL``
(see ``StatelineSqliteSaver.setup``), so ``PRAGMA incremental_vacuum`` returns the
free pages to the OS, and a WAL checkpoint with TRUNCATE empties the WAL. A file
created without it (by an older stateline, or by stock LangGraph) is converted
once by a full ``VACUUM``, which rewrites the whole file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from stateline.errors import ConfigError

from . import _sqlite
from ._database import Database
from ._saver import StatelineSqliteSaver
from ._threads import ThreadIndex

ThreadCleanup = Callable[[Database, Sequence[str]], None]
"""Called with the database and the ids of threads whose checkpoints were just deleted."""

_CLEANUP_HOOKS: list[ThreadCleanup] = []


def on_threads_deleted(hook: ThreadCleanup) -> ThreadCleanup:
    """Register ``hook`` to delete a component's own rows of deleted threads (usable as decorator).

    Hooks run after the checkpoints are gone; a hook that raises does not stop the
    others, and the first error is raised once all have run.
    """
    if hook not in _CLEANUP_HOOKS:
        _CLEANUP_HOOKS.append(hook)
    return hook


def remove_thread_cleanup(hook: ThreadCleanup) -> None:
    """Unregister a hook added with :func:`on_threads_deleted` (no error if absent)."""
    if hook in _CLEANUP_HOOKS:
        _CLEANUP_HOOKS.remove(hook)


def saver_of(target: Any) -> BaseCheckpointSaver:
    """The checkpoint saver behind a Database, a compiled graph, or the saver itself."""
    saver = getattr(target, "saver", None) or getattr(target, "checkpointer", None) or target
    if not isinstance(saver, BaseCheckpointSaver):
        raise ConfigError(f"expected a Database, a compiled graph or a checkpoint saver, got {type(target).__name__}")
    return saver


def stateline_saver(target: Any) -> Any:
    """The stateline saver behind ``target`` (SQLite or PostgreSQL): retention needs its tables."""
    saver = saver_of(target)
    if not callable(getattr(saver, "keep_last", None)):
        raise ConfigError(
            f"this needs a SQLite or PostgreSQL database opened by stateline; got {type(saver).__name__}"
        )
    return saver


def prune(
    db: Database,
    keep_last: int = 20,
    *,
    thread_ids: Sequence[str] | None = None,
    vacuum_after: bool = True,
) -> int:
    """Keep the ``keep_last`` newest checkpoints of each thread; return how many were deleted.

    ``thread_ids`` limits it to those threads (default: every thread). ``keep_last``
    must be at least 1: the newest checkpoint is what an unfinished thread resumes from.
    """
    saver = stateline_saver(db)
    ids = list(thread_ids) if thread_ids is not None else saver.thread_ids()
    deleted = saver.keep_last(ids, keep_last)
    if vacuum_after and deleted:
        vacuum(db)
    return deleted


def delete_idle_threads(
    db: Database,
    ttl_seconds: float,
    *,
    now: float | None = None,
    vacuum_after: bool = True,
    keep: Sequence[str] = (),
) -> list[str]:
    """Delete every thread whose newest checkpoint is older than ``ttl_seconds``; return their ids.

    Registered cleanup hooks (:func:`on_threads_deleted`) then remove the
    threads' rows in other components' tables. Threads in ``keep`` are never deleted.
    """
    if ttl_seconds < 0:
        raise ConfigError(f"ttl_seconds must not be negative, got {ttl_seconds}")
    saver = stateline_saver(db)
    cutoff = (time.time() if now is None else now) - ttl_seconds
    spared = set(keep)
    idle = [t for t in saver.idle_thread_ids(cutoff) if t not in spared]
    delete_threads(db, idle)
    if vacuum_after and idle:
        vacuum(db)
    return idle


def delete_threads(db: Database, thread_ids: Sequence[str]) -> None:
    """Delete the threads' checkpoints, then let every registered hook clean its rows."""
    if not thread_ids:
        return
    for thread_id in thread_ids:
        db.saver.delete_thread(thread_id)
    errors: list[BaseException] = []
    for hook in [_delete_from_thread_index, *_CLEANUP_HOOKS]:
        try:
            hook(db, thread_ids)
        except Exception as exc:  # noqa: BLE001 - every component gets its chance to clean up
            errors.append(exc)
    if errors:
        raise errors[0]


def _delete_from_thread_index(db: Database, thread_ids: Sequence[str]) -> None:
    if not ThreadIndex.present(db):
        return
    for thread_id in thread_ids:
        db.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))


def vacuum(db: Database, *, full: bool = False) -> None:
    """Return free pages to the OS and empty the WAL.

    SQLite: first packs old checkpoints of threads still in the row-only layout into
    segments (``archive_cold``), then incremental on files created by this stateline;
    on older files (or with ``full=True``) a full VACUUM that also switches them to
    incremental mode.
    PostgreSQL: ``VACUUM`` (``VACUUM FULL`` with ``full=True``, which locks the tables)
    of the checkpoint tables, so the freed space is reused.
    """
    saver = stateline_saver(db)
    if not isinstance(saver, StatelineSqliteSaver):
        saver.vacuum(full=full)
        return
    saver.archive_cold()  # threads left with the row-only layout of older files
    conn = saver.conn
    with saver.lock:
        try:
            mode = conn.execute("PRAGMA auto_vacuum").fetchone()[0]
            if full or mode != 2:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("VACUUM")
            else:
                # sqlite3_exec steps it to the end; execute() would free a single page
                conn.executescript("PRAGMA incremental_vacuum;")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            raise _sqlite.translate_error(exc, saver.where) from exc
