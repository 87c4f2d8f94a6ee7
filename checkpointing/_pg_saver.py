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

import builtins
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    CheckpointTuple,
    DeltaChannelHistory,
    get_checkpoint_id,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.base import PRUNE_DELTA_THREADS_SQL, _execute, _keep_latest, _refuse_delta_threads

from stateline.errors import ConfigError

from ._delta import delta_history
from ._pg_layout import (  # noqa: F401 - MIGRATIONS, UnboxingSerde re-exported
    _CHAIN_SQL,
    _COPY_SQL,
    _DELETE_WRITES_SQL,
    _INSERT_BLOB_SQL,
    _SELECT_SQL,
    BLOB_BASES_SQL,
    DELETE_BLOBS_SQL,
    DELETE_EMPTY_BLOB_SQL,
    DELETE_FOR_RUNS_SQL,
    KEEP_LAST_SQL,
    LIST_PAGE,
    MIGRATIONS,
    NAMED_VERSIONS_SQL,
    SETUP_SQL,
    UnboxingSerde,
    _blob_exists,
    _Boxed,
    _defer_blob_deletes,
    _is_primitive,
    attach_sends,
    cached_lists,
    chain_rows,
    checkpoint_row,
    deleted_by_thread,
    garbage_params,
    group_sends,
    snapshots_to_store,
    split_rows,
    split_values,
)
from ._saver_async import ThreadedAsyncMixin
from ._values import Handouts, Key, ListViews


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
        thread_id, ns, blob_values, params, returned = checkpoint_row(config, checkpoint, metadata)
        with self._cursor() as cur, cur.connection.transaction():
            for channel, version in new_versions.items():
                if channel in blob_values:
                    self._put_blob(cur, (thread_id, ns, channel), str(version), blob_values[channel])
            for channel, version in snapshots_to_store(checkpoint, blob_values, new_versions):
                cur.execute(DELETE_EMPTY_BLOB_SQL, (thread_id, ns, channel, version))
                self._put_blob(cur, (thread_id, ns, channel), version, blob_values[channel])
            cur.execute(self.UPSERT_CHECKPOINTS_SQL, params)
        return returned

    def _put_blob(self, cur: psycopg.Cursor[Any], key: Key, version: str, value: Any) -> None:
        row: tuple[str, bytes, str | None, int | None]
        if type(value) is list:
            row = self.lists.encode(self.serde, key, version, value, lambda base: _blob_exists(cur, key, base))
        else:
            row = (*self.serde.dumps_typed(value), None, None)
        cur.execute(_INSERT_BLOB_SQL, (*key, version, *row))
        if cur.rowcount == 0:  # version already stored by someone: trust the stored one
            self.lists.drop(key)

    # -- plumbing ------------------------------------------------------------------
    def setup(self) -> None:
        """Stock's tables and migrations, then this saver's own columns: all a ``put`` needs."""
        super().setup()
        with self._cursor() as cur:
            for sql in SETUP_SQL:
                cur.execute(sql)
        if self.pipe:
            self.pipe.sync()

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction on a pooled connection; psycopg errors become StorageError.

        In pipeline mode (``pipe=``) the pipeline is synced first, so the transaction
        starts with its isolation level instead of inside what ran since the last sync."""
        from ._pg import translate_error  # _pg imports this module

        try:
            with self._cursor() as cur:
                if self.pipe:
                    self.pipe.sync()
                with cur.connection.transaction():
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
                parents = [value["parent_checkpoint_id"]]
                sends = cur.execute(self.SELECT_PENDING_SENDS_SQL, (thread_id, parents)).fetchone()
                if sends:
                    if value["channel_values"] is None:
                        value["channel_values"] = []
                    self._migrate_pending_sends(sends["sends"], value["checkpoint"], value["channel_values"])
        return self._load_checkpoint_tuple(value)

    def _load_checkpoint_tuple(self, value: Any, memo: Handouts | None = None) -> CheckpointTuple:
        """Stock's, with list values rebuilt from their delta chains (or the cache); ``memo``:
        the copies of one reader (a ``list`` walk), else this tuple's own."""
        plain, lists = split_rows(value["channel_values"])
        result = super()._load_checkpoint_tuple({**value, "channel_values": plain})
        if lists:
            result.checkpoint["channel_values"].update(self._load_lists(None, value, lists, memo))
        return result

    def _load_lists(
        self, cur: psycopg.Cursor[Any] | None, value: Any, rows: Sequence[tuple], memo: Handouts | None = None
    ) -> dict[str, Any]:
        """Values of checkpoint row ``value``'s list rows (channel, type, payload, base version, length)."""
        values, chains = cached_lists(self.lists, self.serde, value, rows, memo)
        if chains:
            with self._cursor() if cur is None else nullcontext(cur) as c:
                for channel, key, version in chains:
                    chain = c.execute(_CHAIN_SQL, (*key, version, *key)).fetchall()
                    values[channel] = self.lists.rebuild(self.serde, key, chain_rows(chain), memo)
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
        memo: Handouts = {}  # one walk is one reader: each list item copied once
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
                for thread_id, parents in group_sends(rows).items():  # as get_tuple: pre-v4 sends
                    sends = cur.execute(self.SELECT_PENDING_SENDS_SQL, (thread_id, parents)).fetchall()
                    attach_sends(self, rows, thread_id, sends)
            for row in rows:
                yield self._load_checkpoint_tuple(row, memo)
            if len(rows) < size:
                return
            last = rows[-1]
            after = (last["checkpoint_id"], last["thread_id"], last["checkpoint_ns"])
            remaining = None if remaining is None else remaining - len(rows)

    def thread_ids(self) -> builtins.list[str]:
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
                lists = [
                    (b["channel"], b["type"], b["blob"], b["base_version"], b["length"])
                    for b in blobs
                    if b["length"] is not None
                ]
                head = {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint": checkpoint}
                values.update(self._load_lists(cur, head, lists))
            checkpoint["channel_values"] = values
            return checkpoint, bool(row["has_writes"])

    def idle_thread_ids(self, cutoff: float) -> builtins.list[str]:
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
            doomed = cur.execute(DELETE_FOR_RUNS_SQL, ([str(r) for r in run_ids],)).fetchall()
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
            with self._cursor() as cur:
                if self.pipe:  # the transaction has to start with its isolation level
                    self.pipe.sync()
                with cur.connection.transaction():
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
                if cur.execute(PRUNE_DELTA_THREADS_SQL, ([str(thread_id)],) * 2, prepare=False).fetchone():
                    continue  # its DeltaChannel values are rebuilt from older checkpoints: keep them
                doomed = cur.execute(KEEP_LAST_SQL, (str(thread_id), str(thread_id), keep)).fetchall()
                self._drop_deleted(cur, doomed)
                deleted += len(doomed)
        return deleted

    def delta_threads(self, thread_ids: Sequence[str]) -> builtins.list[str]:
        """Those of ``thread_ids`` whose graph uses a ``DeltaChannel`` (retention leaves them whole)."""
        ids = [str(t) for t in thread_ids]
        with self._transaction() as cur:
            found = {r["thread_id"] for r in cur.execute(PRUNE_DELTA_THREADS_SQL, (ids, ids), prepare=False)}
        return [t for t in ids if t in found]

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's walk over this saver's ``get_tuple`` (deltas rebuilt), ending at a
        checkpoint already visited; an inline None is no seed, as in stock PostgresSaver."""
        return delta_history(self.get_tuple, config, channels, none_is_value=False)

    def _drop_deleted(self, cur: psycopg.Cursor[Any], doomed: Sequence[Any]) -> None:
        """Writes of the deleted checkpoints, and blobs only they needed (caller's transaction)."""
        for thread_id, writes, freed in deleted_by_thread(doomed):
            cur.execute(_DELETE_WRITES_SQL, writes)
            self._collect_garbage(cur, thread_id, freed)
            self.lists.forget_thread(thread_id)

    @staticmethod
    def _collect_garbage(cur: psycopg.Cursor[Any], thread_id: str, freed: Sequence[tuple[str, str, str]]) -> None:
        """Delete the freed (ns, channel, version) blobs and the delta bases only they needed
        (``garbage_params``), unless a remaining checkpoint of the thread needs them."""
        if not freed:
            return
        bases = cur.execute(BLOB_BASES_SQL, (thread_id,)).fetchall()
        named = cur.execute(NAMED_VERSIONS_SQL, (thread_id,)).fetchall()
        if (params := garbage_params(thread_id, freed, bases, named)) is not None:
            cur.execute(DELETE_BLOBS_SQL, params)
