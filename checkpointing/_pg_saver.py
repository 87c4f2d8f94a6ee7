"""StatelinePostgresSaver: LangGraph's PostgresSaver plus what the conformance suite and retention need.

Stock ``PostgresSaver`` (langgraph-checkpoint-postgres 3.2) implements ``prune`` but not
``delete_for_runs`` or ``copy_thread``, has no async methods (that is ``AsyncPostgresSaver``,
on another driver), and ``list`` fetches every row before yielding the first. Here:

* async methods run the sync ones in a worker thread (:class:`ThreadedAsyncMixin`, as
  for SQLite), so one saver serves ``invoke`` and ``ainvoke`` on one pool;
* ``list`` pages with a keyset on (checkpoint_id, thread_id, checkpoint_ns): constant
  memory for a long history, no cursor held open while the caller consumes items;
* list values are stored as deltas (base version + appended items, columns
  ``base_version``/``length`` of ``checkpoint_blobs``, see ``MIGRATIONS``) with the SQLite
  saver's cache and prefix check (``_values.ListViews``); ``get_tuple``/``list`` rebuild
  them from the chain;
* ``delete_for_runs``, ``copy_thread`` and ``keep_last`` (retention: the K newest
  checkpoints per namespace) each run in one transaction. They delete a blob only when
  a checkpoint they deleted named it and no remaining checkpoint needs it, even as the
  base of a delta (read on one
  REPEATABLE READ snapshot, like stock ``prune``), so a run saving meanwhile, whose
  blobs commit before its checkpoint row, never loses a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_id, get_serializable_checkpoint_metadata
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.base import (
    PRUNE_BLOBS_SQL,
    SELECT_SQL,
    _execute,
    _keep_latest,
    _refuse_delta_threads,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.types.json import Jsonb

from stateline.errors import ConfigError

from ._saver_async import ThreadedAsyncMixin
from ._values import Key, ListViews, with_bases

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


MIGRATIONS = [
    # list deltas (as on SQLite): a row with base_version holds only the items appended
    # to that version; length is the whole list's. NULL length: a value stored whole by
    # stock PostgresSaver or an older stateline (read as it is).
    (
        1,
        "ALTER TABLE checkpoint_blobs ADD COLUMN IF NOT EXISTS base_version TEXT;"
        "ALTER TABLE checkpoint_blobs ADD COLUMN IF NOT EXISTS length INTEGER",
    ),
]
"""Run by ``open_database`` as component ``pg_saver`` (``Database.migrate``)."""

# stock SELECT_SQL, with each blob's base version and list length
_SELECT_SQL = SELECT_SQL.replace(
    "array[bl.channel::bytea, bl.type::bytea, bl.blob]",
    "array[bl.channel::bytea, bl.type::bytea, bl.blob, convert_to(coalesce(bl.base_version, ''), 'UTF8'), "
    "convert_to(coalesce(bl.length::text, ''), 'UTF8')]",
)
assert _SELECT_SQL != SELECT_SQL, "PostgresSaver.SELECT_SQL changed: update _SELECT_SQL"

_INSERT_BLOB_SQL = (
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob, base_version, length) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING"
)

_CHAIN_SQL = """
WITH RECURSIVE chain(version, base_version, type, blob, length, depth) AS (
    SELECT version, base_version, type, blob, length, 0 FROM checkpoint_blobs
    WHERE thread_id = %s AND checkpoint_ns = %s AND channel = %s AND version = %s
    UNION ALL
    SELECT b.version, b.base_version, b.type, b.blob, b.length, c.depth + 1
    FROM chain c JOIN checkpoint_blobs b
      ON b.thread_id = %s AND b.checkpoint_ns = %s AND b.channel = %s AND b.version = c.base_version
)
SELECT version, type, blob, length FROM chain ORDER BY depth DESC
"""

_DELETE_WRITES_SQL = (
    "DELETE FROM checkpoint_writes w USING unnest(%s::text[], %s::text[]) AS d(ns, id) "
    "WHERE w.thread_id = %s AND w.checkpoint_ns = d.ns AND w.checkpoint_id = d.id"
)

_COPY_SQL = (
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata) "
    "SELECT %s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
    "FROM checkpoints WHERE thread_id = %s ON CONFLICT DO NOTHING",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob, base_version, length) "
    "SELECT %s, checkpoint_ns, channel, version, type, blob, base_version, length "
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
    SELECT_SQL = _SELECT_SQL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists = ListViews()
        """List values as base version + appended items (shared with the SQLite saver)."""

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        """Stock ``put`` (blob rows, then the checkpoint row, one transaction), list values as deltas."""
        if self.box_primitives:
            values = checkpoint["channel_values"]
            if any(_is_primitive(v) for v in values.values()):
                boxed = {k: _Boxed(v) if _is_primitive(v) else v for k, v in values.items()}
                checkpoint = {**checkpoint, "channel_values": boxed}
        configurable = config["configurable"].copy()
        thread_id = configurable.pop("thread_id")
        checkpoint_ns = configurable.pop("checkpoint_ns")
        parent_id = configurable.pop("checkpoint_id", None)
        copy = checkpoint.copy()
        copy["channel_values"] = copy["channel_values"].copy()
        blob_values = {}
        for k, v in checkpoint["channel_values"].items():
            if isinstance(v, _DeltaSnapshot):
                blob_values[k] = copy["channel_values"].pop(k)
                copy["channel_values"][k] = True
            elif not _is_primitive(v):
                blob_values[k] = copy["channel_values"].pop(k)
        with self._cursor() as cur, cur.connection.transaction():
            for channel, version in new_versions.items():
                if channel in blob_values:
                    self._put_blob(cur, (thread_id, checkpoint_ns, channel), str(version), blob_values[channel])
            cur.execute(
                self.UPSERT_CHECKPOINTS_SQL,
                (
                    thread_id,
                    checkpoint_ns,
                    checkpoint["id"],
                    parent_id,
                    Jsonb(copy),
                    Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                ),
            )
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns, "checkpoint_id": checkpoint["id"]}}

    def _put_blob(self, cur: psycopg.Cursor[Any], key: Key, version: str, value: Any) -> None:
        if type(value) is list:
            row = self.lists.encode(
                self.serde, key, version, value, lambda base: _blob_exists(cur, key, base),
                lambda tip: [
                    (r["version"], r["type"], r["blob"], r["length"])
                    for r in cur.execute(_CHAIN_SQL, (*key, tip, *key)).fetchall()
                ],
            )  # fmt: skip
        else:
            row = (*self.serde.dumps_typed(value), None, None)
        cur.execute(_INSERT_BLOB_SQL, (*key, version, *row))
        if cur.rowcount == 0:  # version already stored by someone: trust the stored one
            self.lists.drop(key)

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
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Stock ``get_tuple``, with the values loaded after the row's cursor is released."""
        thread_id = config["configurable"]["thread_id"]
        checkpoint_id = get_checkpoint_id(config)
        checkpoint_ns = config["configurable"].get("checkpoint_ns", "")
        if checkpoint_id:
            args: tuple[Any, ...] = (thread_id, checkpoint_ns, checkpoint_id)
            where = "WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s"
        else:
            args = (thread_id, checkpoint_ns)
            where = "WHERE thread_id = %s AND checkpoint_ns = %s ORDER BY checkpoint_id DESC LIMIT 1"
        with self._cursor() as cur:
            value = cur.execute(self.SELECT_SQL + where, args).fetchone()
            if value is None:
                return None
            if value["checkpoint"]["v"] < 4 and value["parent_checkpoint_id"]:  # migrate pending sends
                sends = cur.execute(self.SELECT_PENDING_SENDS_SQL, (thread_id, [value["parent_checkpoint_id"]])).fetchone()
                if sends:
                    if value["channel_values"] is None:
                        value["channel_values"] = []
                    self._migrate_pending_sends(sends["sends"], value["checkpoint"], value["channel_values"])
        return self._load_checkpoint_tuple(value)

    def _load_checkpoint_tuple(self, value: Any) -> CheckpointTuple:
        """Stock's, with list values rebuilt from their delta chains (or the cache)."""
        rows = value["channel_values"] or []
        plain = [r[:3] for r in rows if len(r) < 5 or not r[4]]
        lists = [
            (r[0].decode(), r[1].decode(), r[2], r[3].decode() or None, int(r[4].decode()))
            for r in rows
            if len(r) >= 5 and r[4]
        ]
        result = super()._load_checkpoint_tuple({**value, "channel_values": plain})
        if lists:
            versions = value["checkpoint"]["channel_versions"]
            result.checkpoint["channel_values"].update(
                self._load_lists(None, value["thread_id"], value["checkpoint_ns"], versions, lists)
            )
        return result

    def _load_lists(
        self, cur: psycopg.Cursor[Any] | None, thread_id: str, ns: str, versions: Any, rows: Sequence[tuple]
    ) -> dict[str, Any]:
        """Values of list rows (channel, type, payload, base version, length) at ``versions``."""
        values: dict[str, Any] = {}
        chains: list[tuple[str, Key, str]] = []
        for channel, type_, blob, base, length in rows:
            key, version = (thread_id, ns, channel), str(versions[channel])
            cached = self.lists.cached(key, version)
            if cached is not None:
                values[channel] = cached
            elif base is None:
                values[channel] = self.lists.rebuild(self.serde, key, [(version, type_, blob, length)])
            else:
                chains.append((channel, key, version))
        if chains:
            with self._cursor() if cur is None else nullcontext(cur) as c:
                for channel, key, version in chains:
                    chain = c.execute(_CHAIN_SQL, (*key, version, *key)).fetchall()
                    values[channel] = self.lists.rebuild(
                        self.serde, key, [(r["version"], r["type"], r["blob"], r["length"]) for r in chain]
                    )
        return values

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
                    "SELECT channel, version, type, blob, base_version, length FROM checkpoint_blobs "
                    "WHERE thread_id = %s AND checkpoint_ns = '' "
                    "AND channel = ANY(%s) AND version = ANY(%s) AND type <> 'empty'",
                    (thread_id, wanted, [str(versions[c]) for c in wanted]),
                ).fetchall()
                blobs = [b for b in blobs if b["version"] == str(versions[b["channel"]])]
                for blob in blobs:
                    if blob["length"] is None:
                        values[blob["channel"]] = self.serde.loads_typed((blob["type"], blob["blob"]))
                lists = [(b["channel"], b["type"], b["blob"], b["base_version"], b["length"]) for b in blobs if b["length"] is not None]
                values.update(self._load_lists(cur, thread_id, "", versions, lists))
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
        self.lists.forget_thread(str(target_thread_id))

    def delete_thread(self, thread_id: str) -> None:
        super().delete_thread(thread_id)
        self.lists.forget_thread(str(thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Stock ``prune``; ``keep_latest`` keeps the bases of the kept list deltas too."""
        if strategy != "keep_latest" or isinstance(thread_ids, str):
            super().prune(thread_ids, strategy=strategy)
            for thread_id in [] if isinstance(thread_ids, str) else thread_ids:
                self.lists.forget_thread(str(thread_id))
            return
        thread_ids = [str(t) for t in thread_ids]
        if not thread_ids:
            return
        with self._cursor() as cur:
            _execute(cur, _refuse_delta_threads(thread_ids))
        for thread_id in thread_ids:
            freed: list[tuple[str, str, str]] = []
            with self._cursor() as cur, cur.connection.transaction():
                _execute(cur, _defer_blob_deletes(_keep_latest(thread_id), freed))
                self._collect_garbage(cur, thread_id, freed)
            self.lists.forget_thread(thread_id)

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
        """Writes of the deleted checkpoints, and blobs only they needed (caller's transaction)."""
        by_thread: dict[str, list[Any]] = {}
        for row in doomed:
            by_thread.setdefault(row["thread_id"], []).append(row)
        for thread_id, rows in by_thread.items():
            nss = [r["checkpoint_ns"] for r in rows]
            cur.execute(_DELETE_WRITES_SQL, (nss, [r["checkpoint_id"] for r in rows], thread_id))
            freed = [(r["checkpoint_ns"], ch, str(v)) for r in rows for ch, v in (r["versions"] or {}).items()]
            self._collect_garbage(cur, thread_id, freed)
            self.lists.forget_thread(thread_id)

    @staticmethod
    def _collect_garbage(cur: psycopg.Cursor[Any], thread_id: str, freed: Sequence[tuple[str, str, str]]) -> None:
        """Delete the freed (ns, channel, version) blobs, and the delta bases only they
        needed, unless a remaining checkpoint of the thread needs them (directly or as the
        base of a delta it names): ``_values.with_bases`` on both sides, as on SQLite."""
        if not freed:
            return
        base_of = {
            (r["checkpoint_ns"], r["channel"], r["version"]): r["base_version"]
            for r in cur.execute(
                "SELECT checkpoint_ns, channel, version, base_version FROM checkpoint_blobs "
                "WHERE thread_id = %s AND base_version IS NOT NULL",
                (thread_id,),
            )
        }
        named = {
            (r["checkpoint_ns"], r["channel"], r["version"])
            for r in cur.execute(
                "SELECT c.checkpoint_ns, v.key AS channel, v.value AS version FROM checkpoints c "
                "CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v WHERE c.thread_id = %s",
                (thread_id,),
            )
        }
        doomed = sorted(with_bases(freed, base_of) - with_bases(named, base_of))
        if doomed:
            cur.execute(
                "DELETE FROM checkpoint_blobs b USING unnest(%s::text[], %s::text[], %s::text[]) AS d(ns, channel, version) "
                "WHERE b.thread_id = %s AND b.checkpoint_ns = d.ns AND b.channel = d.channel AND b.version = d.version",
                ([d[0] for d in doomed], [d[1] for d in doomed], [d[2] for d in doomed], thread_id),
            )


def _blob_exists(cur: psycopg.Cursor[Any], key: Key, version: str) -> bool:
    return (
        cur.execute(
            "SELECT 1 FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s AND channel = %s AND version = %s",
            (*key, version),
        ).fetchone()
        is not None
    )


def _defer_blob_deletes(statements: Any, freed: list[tuple[str, str, str]]) -> Any:
    """Stock keep_latest's statements minus its blob deletes, whose (ns, channel, version)
    go to ``freed`` for the delta-aware garbage collection instead."""
    try:
        sql, params, fetch = next(statements)
        while True:
            if sql == PRUNE_BLOBS_SQL:
                _, ns, channel, versions = params
                freed.extend((ns, channel, v) for v in versions)
                rows: Any = []
            else:
                rows = yield sql, params, fetch
            sql, params, fetch = statements.send(rows)
    except StopIteration:
        return
