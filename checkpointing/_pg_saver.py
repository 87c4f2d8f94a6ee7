"""StatelinePostgresSaver: LangGraph's PostgresSaver plus what the conformance suite and retention need.

Stock ``PostgresSaver`` (langgraph-checkpoint-postgres 3.2) implements ``prune`` but not
``delete_for_runs`` or ``copy_thread``, has no async methods (that is ``AsyncPostgresSaver``,
on another driver), and ``list`` fetches every row before yielding the first. Here:

* async methods run the sync ones in a worker thread (:class:`ThreadedAsyncMixin`, as
  for SQLite), so one saver serves ``invoke`` and ``ainvoke`` on one pool;
* ``list`` pages with a keyset on (checkpoint_id, thread_id, checkpoint_ns): constant
  memory for a long history, no cursor held open while the caller consumes items;
* ``delete_for_runs``, ``copy_thread`` and ``keep_last`` (retention: the K newest
  checkpoints per namespace) each run in one transaction. They delete a blob only when
  a checkpoint they deleted named it and no remaining checkpoint does (read on one
  REPEATABLE READ snapshot, like stock ``prune``), so a run saving meanwhile, whose
  blobs commit before its checkpoint row, never loses a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg.types.json import Jsonb

from stateline_errors import ConfigError

from ._saver_async import ThreadedAsyncMixin

LIST_PAGE = 16
"""Checkpoints fetched per ``list`` query."""


class _Boxed:
    """A primitive channel value routed through the (encrypting) serializer."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class UnboxingSerde(SerializerProtocol):
    """Serializes a :class:`_Boxed` value as the value itself."""

    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return self.inner.dumps_typed(obj.value if isinstance(obj, _Boxed) else obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        return self.inner.loads_typed(data)


def _is_primitive(v: Any) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


# Blobs a set of deleted checkpoints named and no remaining checkpoint of the thread does.
_GARBAGE_BLOBS_SQL = """
DELETE FROM checkpoint_blobs b
USING (
    SELECT DISTINCT f.ns, v.key AS channel, v.value AS version
    FROM unnest(%s::text[], %s::jsonb[]) AS f(ns, versions)
    CROSS JOIN LATERAL jsonb_each_text(f.versions) AS v
) AS freed
WHERE b.thread_id = %s AND b.checkpoint_ns = freed.ns
  AND b.channel = freed.channel AND b.version = freed.version
  AND NOT EXISTS (
    SELECT 1 FROM checkpoints c
    WHERE c.thread_id = %s AND c.checkpoint_ns = freed.ns
      AND c.checkpoint -> 'channel_versions' ->> freed.channel = freed.version
  )
"""

_DELETE_WRITES_SQL = (
    "DELETE FROM checkpoint_writes w USING unnest(%s::text[], %s::text[]) AS d(ns, id) "
    "WHERE w.thread_id = %s AND w.checkpoint_ns = d.ns AND w.checkpoint_id = d.id"
)

_COPY_SQL = (
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata) "
    "SELECT %s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
    "FROM checkpoints WHERE thread_id = %s ON CONFLICT DO NOTHING",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob) "
    "SELECT %s, checkpoint_ns, channel, version, type, blob "
    "FROM checkpoint_blobs WHERE thread_id = %s ON CONFLICT DO NOTHING",
    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob) "
    "SELECT %s, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob "
    "FROM checkpoint_writes WHERE thread_id = %s ON CONFLICT DO NOTHING",
)


class StatelinePostgresSaver(ThreadedAsyncMixin, PostgresSaver):
    """PostgresSaver with all eight conformance capabilities, paged ``list`` and retention.

    When encrypting (``box_primitives``), it stores no channel value in plain text: stock
    PostgresSaver keeps str/int/float/bool values inline in the checkpoint's JSONB column,
    past the serializer; boxed, they go to the blobs table through it instead (a layout
    PostgresSaver already reads).
    """

    box_primitives = False

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        if self.box_primitives:
            values = checkpoint["channel_values"]
            if any(_is_primitive(v) for v in values.values()):
                boxed = {k: _Boxed(v) if _is_primitive(v) else v for k, v in values.items()}
                checkpoint = {**checkpoint, "channel_values": boxed}
        return super().put(config, checkpoint, metadata, new_versions)

    # -- plumbing ------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on a pooled connection; psycopg errors become StorageError."""
        from ._pg import translate_error  # _pg imports this module

        try:
            with self._cursor() as cur, cur.connection.transaction():
                if snapshot:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield cur
        except psycopg.Error as exc:
            raise translate_error(exc, "PostgreSQL checkpoints") from exc

    # -- reading -------------------------------------------------------------------
    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Newest first, ``LIST_PAGE`` rows per query (keyset pagination, constant memory)."""
        where, params = self._search_where(config, filter, before)
        remaining = limit
        after: tuple[str, str, str] | None = None
        while remaining is None or remaining > 0:
            size = LIST_PAGE if remaining is None else min(LIST_PAGE, remaining)
            page_where, page_params = where, list(params)
            if after is not None:
                page_where = f"{where} AND " if where else "WHERE "
                page_where += "(checkpoint_id, thread_id, checkpoint_ns) < (%s, %s, %s)"
                page_params.extend(after)
            query = (
                self.SELECT_SQL + page_where
                + " ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC LIMIT %s"
            )  # fmt: skip
            with self._cursor() as cur:
                cur.execute(query, [*page_params, size])
                rows = cur.fetchall()
            for row in rows:
                yield self._load_checkpoint_tuple(row)
            if len(rows) < size:
                return
            last = rows[-1]
            after = (last["checkpoint_id"], last["thread_id"], last["checkpoint_ns"])
            remaining = None if remaining is None else remaining - len(rows)

    def thread_ids(self) -> list[str]:
        with self._transaction() as cur:
            return [r["thread_id"] for r in cur.execute("SELECT DISTINCT thread_id FROM checkpoints")]

    def head_probe(self, thread_id: str, needed: Any) -> tuple[dict[str, Any], bool] | None:
        """The head checkpoint of the root namespace with only its inline values and the
        channels ``needed(checkpoint)`` names, and whether it has pending writes."""
        with self._transaction() as cur:
            row = cur.execute(
                "SELECT checkpoint_id, checkpoint, EXISTS (SELECT 1 FROM checkpoint_writes w "
                " WHERE w.thread_id = c.thread_id AND w.checkpoint_ns = '' AND w.checkpoint_id = c.checkpoint_id"
                ") AS has_writes FROM checkpoints c WHERE thread_id = %s AND checkpoint_ns = '' "
                "ORDER BY checkpoint_id DESC LIMIT 1",
                (thread_id,),
            ).fetchone()
            if row is None:
                return None
            checkpoint = {**row["checkpoint"], "id": row["checkpoint_id"]}
            values = dict(checkpoint.get("channel_values") or {})
            versions = checkpoint["channel_versions"]
            wanted = [c for c in needed(checkpoint) if c in versions and c not in values]
            if wanted:
                blobs = cur.execute(
                    "SELECT channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = '' "
                    "AND channel = ANY(%s) AND version = ANY(%s) AND type <> 'empty'",
                    (thread_id, wanted, [str(versions[c]) for c in wanted]),
                ).fetchall()
                for blob in blobs:
                    if blob["version"] == str(versions[blob["channel"]]):
                        values[blob["channel"]] = self.serde.loads_typed((blob["type"], blob["blob"]))
            checkpoint["channel_values"] = values
            return checkpoint, bool(row["has_writes"])

    def idle_thread_ids(self, cutoff: float) -> list[str]:
        """Threads whose newest checkpoint was written before ``cutoff`` (epoch seconds)."""
        # LangGraph writes ts as UTC ISO 8601, which sorts as text; a cast would fail the
        # whole query on one checkpoint put with a malformed ts
        iso = datetime.fromtimestamp(cutoff, timezone.utc).isoformat()
        with self._transaction() as cur:
            rows = cur.execute(
                "SELECT thread_id FROM checkpoints GROUP BY thread_id HAVING max(checkpoint ->> 'ts') < %s",
                (iso,),
            )
            return [r["thread_id"] for r in rows]

    def vacuum(self, *, full: bool = False) -> None:
        """VACUUM (FULL) the checkpoint tables; outside a transaction, as PostgreSQL requires."""
        from ._pg import translate_error

        try:
            with self._cursor() as cur:
                for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
                    cur.execute(f"VACUUM {'FULL ' if full else ''}{table}")
        except psycopg.Error as exc:
            raise translate_error(exc, "PostgreSQL checkpoints") from exc

    # -- thread administration -----------------------------------------------------
    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        if not run_ids:
            return
        with self._transaction(snapshot=True) as cur:
            doomed = cur.execute(
                "DELETE FROM checkpoints WHERE metadata ->> 'run_id' = ANY(%s) "
                "RETURNING thread_id, checkpoint_ns, checkpoint_id, checkpoint -> 'channel_versions' AS versions",
                ([str(r) for r in run_ids],),
            ).fetchall()
            self._drop_deleted(cur, doomed)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of the source thread (all namespaces)."""
        with self._transaction() as cur:
            for sql in _COPY_SQL:
                cur.execute(sql, (str(target_thread_id), str(source_thread_id)))

    def keep_last(self, thread_ids: Sequence[str], keep: int) -> int:
        """Keep the ``keep`` newest checkpoints per namespace of each thread; return how many went.

        The head of each namespace, its pending writes and every blob a kept checkpoint
        names stay, so an unfinished thread still resumes.
        """
        if keep < 1:
            raise ConfigError(f"keep_last must be at least 1 (the head a thread resumes from), got {keep}")
        deleted = 0
        for thread_id in thread_ids:
            with self._transaction(snapshot=True) as cur:
                doomed = cur.execute(
                    "DELETE FROM checkpoints c USING ("
                    " SELECT checkpoint_ns, checkpoint_id, ROW_NUMBER() OVER ("
                    "  PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn"
                    " FROM checkpoints WHERE thread_id = %s) AS r "
                    "WHERE c.thread_id = %s AND c.checkpoint_ns = r.checkpoint_ns "
                    "AND c.checkpoint_id = r.checkpoint_id AND r.rn > %s "
                    "RETURNING c.thread_id, c.checkpoint_ns, c.checkpoint_id, "
                    "c.checkpoint -> 'channel_versions' AS versions",
                    (str(thread_id), str(thread_id), keep),
                ).fetchall()
                self._drop_deleted(cur, doomed)
                deleted += len(doomed)
        return deleted

    def _drop_deleted(self, cur: psycopg.Cursor[Any], doomed: Sequence[Any]) -> None:
        """Writes of the deleted checkpoints, and blobs only they named (caller's transaction)."""
        by_thread: dict[str, list[Any]] = {}
        for row in doomed:
            by_thread.setdefault(row["thread_id"], []).append(row)
        for thread_id, rows in by_thread.items():
            nss = [r["checkpoint_ns"] for r in rows]
            cur.execute(_DELETE_WRITES_SQL, (nss, [r["checkpoint_id"] for r in rows], thread_id))
            versions = [Jsonb(r["versions"] or {}) for r in rows]
            cur.execute(_GARBAGE_BLOBS_SQL, (nss, versions, thread_id, thread_id))
