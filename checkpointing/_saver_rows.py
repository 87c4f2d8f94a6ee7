"""SQL over the saver's tables that runs inside a caller's write transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from . import _archive
from ._segments import SEGMENT_SCHEMA
from ._values import collect_garbage

SCHEMA = """
CREATE TABLE IF NOT EXISTS sl_checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint BLOB,
    metadata BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sl_blobs (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    type TEXT NOT NULL,
    blob BLOB,
    base_version TEXT,
    length INTEGER,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sl_writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_path TEXT NOT NULL DEFAULT '',
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    value BLOB,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
) WITHOUT ROWID;
""" + SEGMENT_SCHEMA

COLUMNS = "thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata"
WRITE_COLUMNS = "(thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, value)"


def copy_thread_rows(cur: sqlite3.Cursor, source: str, target: str) -> None:
    """Copy the source thread's rows of all three tables to ``target`` (caller's transaction)."""
    cur.execute(
        f"INSERT OR REPLACE INTO sl_checkpoints ({COLUMNS}, created_at) "
        "SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata, "
        "created_at FROM sl_checkpoints WHERE thread_id = ?",
        (target, source),
    )
    cur.execute(
        "INSERT OR REPLACE INTO sl_blobs SELECT ?, checkpoint_ns, channel, version, type, blob, "
        "base_version, length FROM sl_blobs WHERE thread_id = ?",
        (target, source),
    )
    cur.execute(
        f"INSERT OR REPLACE INTO sl_writes {WRITE_COLUMNS} SELECT ?, checkpoint_ns, checkpoint_id, "
        "task_id, task_path, idx, channel, type, value FROM sl_writes WHERE thread_id = ?",
        (target, source),
    )
    _archive.copy_segments(cur, source, target)


def prune_thread_rows(cur: sqlite3.Cursor, codec: Any, thread_id: str, keep: int) -> int:
    """Delete all but the ``keep`` newest checkpoints per namespace, their writes and dead values."""
    deleted = _archive.drop_beyond(cur, thread_id, keep)
    deleted += cur.execute(
        "DELETE FROM sl_checkpoints WHERE thread_id = ?1 AND (checkpoint_ns, checkpoint_id) IN ("
        " SELECT checkpoint_ns, checkpoint_id FROM (SELECT checkpoint_ns, checkpoint_id, ROW_NUMBER() "
        " OVER (PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn "
        " FROM sl_checkpoints WHERE thread_id = ?1) WHERE rn > ?2)",
        (thread_id, keep),
    ).rowcount
    if deleted:
        cur.execute(
            "DELETE FROM sl_writes WHERE thread_id = ?1 AND (checkpoint_ns, checkpoint_id) NOT IN "
            "(SELECT checkpoint_ns, checkpoint_id FROM sl_checkpoints WHERE thread_id = ?1)",
            (thread_id,),
        )
        collect_garbage(cur, codec, [thread_id])
    return deleted
