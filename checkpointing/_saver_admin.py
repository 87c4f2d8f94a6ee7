"""The SQLite saver's thread administration: deletion, copies, retention, probes, archiving.

A mixin of :class:`~stateline.checkpointing._saver.StatelineSqliteSaver`: each method runs
in the saver's ``_transaction`` (``_saver_tx``).
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from typing import Any

from stateline.errors import ConfigError

from . import _archive
from ._delta import DELTA_METADATA_KEYS
from ._saver_rows import copy_thread_rows, prune_thread_rows
from ._saver_tx import SqliteTransactions
from ._values import collect_garbage


class SqliteThreadAdmin(SqliteTransactions):
    """What retention, the CLI and the platform API do to whole threads."""

    codec: Any
    segments: Any

    def delete_thread(self, thread_id: str) -> None:
        with self._transaction(write=True) as cur:
            for table in ("sl_checkpoints", "sl_blobs", "sl_writes", "sl_segments"):
                cur.execute(f"DELETE FROM {table} WHERE thread_id = ?", (str(thread_id),))
            self.values.forget_thread(str(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        if not run_ids:
            return
        marks = ", ".join("?" for _ in run_ids)
        with self._transaction(write=True) as cur:
            touched = _archive.unarchive_runs(cur, run_ids)
            doomed = cur.execute(
                "SELECT thread_id, checkpoint_ns, checkpoint_id FROM sl_checkpoints "
                f"WHERE json_extract(CAST(metadata AS TEXT), '$.run_id') IN ({marks})",
                [str(r) for r in run_ids],
            ).fetchall()
            for table in ("sl_checkpoints", "sl_writes"):
                cur.executemany(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?", doomed
                )
            for thread_id, ns in touched | {(d[0], d[1]) for d in doomed}:
                _archive.refill(cur, thread_id, ns, _archive.KEEP_LIVE)  # the head stays a live row
            collect_garbage(cur, self.codec, sorted({d[0] for d in doomed}))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, value and write of the source thread (all namespaces)."""
        with self._transaction(write=True) as cur:
            copy_thread_rows(cur, str(source_thread_id), str(target_thread_id))
            self.values.forget_thread(str(target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: the newest checkpoint per namespace and its writes; ``delete``: all."""
        if strategy == "delete":
            for thread_id in thread_ids:
                self.delete_thread(thread_id)
        elif strategy == "keep_latest":
            self.keep_last(thread_ids, 1)
        else:
            raise ConfigError(f"unknown prune strategy {strategy!r}; use 'keep_latest' or 'delete'")

    def keep_last(self, thread_ids: Sequence[str], keep: int) -> int:
        """Keep the ``keep`` newest checkpoints per namespace of each thread; return how many went.

        ``keep >= 1`` always keeps the head, its pending writes and (via garbage
        collection by reachability) every value it names, so an unfinished
        thread still resumes.
        """
        if keep < 1:
            raise ConfigError(f"keep_last must be at least 1 (the head a thread resumes from), got {keep}")
        deleted = 0
        for thread_id in thread_ids:
            with self._transaction(write=True) as cur:
                if _delta_thread(cur, str(thread_id)):
                    continue  # its DeltaChannel values are rebuilt from older checkpoints: keep them
                deleted += prune_thread_rows(cur, self.codec, str(thread_id), keep)
        return deleted

    def delta_threads(self, thread_ids: Sequence[str]) -> builtins.list[str]:
        """Those of ``thread_ids`` whose graph uses a ``DeltaChannel`` (retention leaves them whole)."""
        with self._transaction(write=False) as cur:
            return [str(t) for t in thread_ids if _delta_thread(cur, str(t))]

    def thread_ids(self) -> builtins.list[str]:
        with self._transaction(write=False) as cur:
            sql = "SELECT thread_id FROM sl_checkpoints UNION SELECT thread_id FROM sl_segments"
            return [r[0] for r in cur.execute(sql)]

    def head_probe(self, thread_id: str, needed: Any) -> tuple[dict[str, Any], bool] | None:
        """The head checkpoint of the root namespace with only its small values and the
        channels ``needed(checkpoint)`` names, and whether it has pending writes.

        What retention asks of every thread, without rebuilding message lists.
        """
        with self._transaction(write=False) as cur:
            row = cur.execute(
                "SELECT checkpoint_id, type, checkpoint FROM sl_checkpoints WHERE thread_id = ? "
                "AND checkpoint_ns = '' ORDER BY checkpoint_id DESC LIMIT 1",
                (thread_id,),
            ).fetchone()
            if row is None:
                return None
            checkpoint = {"id": row[0], **self.codec.loads_typed((row[1], row[2]))}
            inline = checkpoint.get("channel_values") or {}
            versions = checkpoint["channel_versions"]
            wanted = {c: versions[c] for c in needed(checkpoint) if c in versions and c not in inline}
            checkpoint["channel_values"] = {**inline, **self.values.read(cur, thread_id, "", wanted)}
            sql = "SELECT 1 FROM sl_writes WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id = ? LIMIT 1"
            return checkpoint, cur.execute(sql, (thread_id, row[0])).fetchone() is not None

    def idle_thread_ids(self, cutoff: float) -> builtins.list[str]:
        """Threads whose newest checkpoint was written before ``cutoff`` (epoch seconds)."""
        with self._transaction(write=False) as cur:
            sql = "SELECT thread_id FROM sl_checkpoints GROUP BY thread_id HAVING max(created_at) < ?"
            return [r[0] for r in cur.execute(sql, (cutoff,))]

    def archive_cold(self) -> int:
        """Pack every (thread, ns) with too many live rows into segments; return how many.

        A put archives its own thread as it goes; this is for threads nobody writes to
        any more in a file from before segments (``vacuum`` runs it). One transaction per
        few segments, so writers are not held off for long.
        """
        with self._transaction(write=False) as cur:
            crowded = _archive.crowded(cur)
        made = 0
        for thread_id, ns in crowded:
            while True:
                with self._transaction(write=True) as cur:
                    step = _archive.maybe_archive(cur, thread_id, ns)
                if not step:
                    break
                made += step
        return made


_DELTA_THREAD_SQL = (
    "SELECT 1 FROM sl_checkpoints WHERE thread_id = ? AND ("
    + " OR ".join(f"json_extract(CAST(metadata AS TEXT), '$.{k}') IS NOT NULL" for k in DELTA_METADATA_KEYS)
    + ") LIMIT 1"
)


def _delta_thread(cur: sqlite3.Cursor, thread_id: str) -> bool:
    """Whether LangGraph marked a checkpoint of the thread as one of a ``DeltaChannel`` graph."""
    return cur.execute(_DELTA_THREAD_SQL, (thread_id,)).fetchone() is not None
