"""StatelineAsyncPostgresSaver: the PostgreSQL saver on psycopg's async driver.

LangGraph's ``AsyncPostgresSaver`` with the layout of :class:`StatelinePostgresSaver`
(``_pg_layout``): list values as deltas with the same cache and prefix check
(``_lists.ListViews``), ``setup()`` adding the saver's columns, ``delete_for_runs``,
``copy_thread``, ``keep_last`` and a delta-aware ``prune``. The two savers read and
write one database interchangeably. Sync methods run the async ones on the saver's loop
from another thread (stock's rule).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, DeltaChannelHistory
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.postgres.base import PRUNE_DELTA_THREADS_SQL, _aexecute, _keep_latest, _refuse_delta_threads
from psycopg.rows import dict_row

from stateline.errors import ConfigError

from ._delta import adelta_history
from ._lists import Handouts, Key, ListViews
from ._pg_layout import (
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
    NAMED_VERSIONS_SQL,
    SETUP_SQL,
    _defer_blob_deletes,
    attach_sends,
    cached_lists,
    chain_rows,
    checkpoint_row,
    deleted_by_thread,
    garbage_params,
    group_sends,
    snapshots_to_store,
    split_rows,
)


class StatelineAsyncPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` with stateline's delta layout and all nine conformance capabilities."""

    SELECT_SQL = _SELECT_SQL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lists = ListViews()
        self._holder: tuple[Any, Any] | None = None
        """(task, connection) while a task is inside ``_cursor`` (see ``_side_cursor``)."""

    async def setup(self) -> None:
        """Stock's tables and migrations, then this saver's own columns."""
        await super().setup()
        async with self._cursor() as cur:
            for sql in SETUP_SQL:
                await cur.execute(sql)
        if self.pipe:
            await self.pipe.sync()

    # -- writing -------------------------------------------------------------------
    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> RunnableConfig:
        thread_id, ns, blob_values, params, returned = checkpoint_row(config, checkpoint, metadata)
        async with self._cursor(pipeline=True) as cur:
            for channel, version in new_versions.items():
                if channel in blob_values:
                    await self._put_blob(cur, (thread_id, ns, channel), str(version), blob_values[channel])
            for channel, version in snapshots_to_store(checkpoint, blob_values, new_versions):
                await cur.execute(DELETE_EMPTY_BLOB_SQL, (thread_id, ns, channel, version))
                await self._put_blob(cur, (thread_id, ns, channel), version, blob_values[channel])
            await cur.execute(self.UPSERT_CHECKPOINTS_SQL, params)
        return returned

    async def _put_blob(self, cur: Any, key: Key, version: str, value: Any) -> None:
        row: tuple[str, bytes, str | None, int | None]
        if type(value) is list:
            view = self.lists._view(key)
            candidates = list(view.lengths) if view is not None else []
            existing: set[str] = set()
            if candidates:  # the encoder's base check, answered for every version it may pick
                await cur.execute(
                    "SELECT version FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s "
                    "AND channel = %s AND version = ANY(%s)",
                    (*key, candidates),
                )
                existing = {r["version"] for r in await cur.fetchall()}
            row = self.lists.encode(self.serde, key, version, value, existing.__contains__)
        else:
            row = (*self.serde.dumps_typed(value), None, None)
        await cur.execute(_INSERT_BLOB_SQL, (*key, version, *row))
        if cur.rowcount == 0:
            self.lists.drop(key)

    @staticmethod
    async def _chain(cur: Any, key: Key, version: str) -> list[tuple]:
        await cur.execute(_CHAIN_SQL, (*key, version, *key))
        return chain_rows(await cur.fetchall())

    # -- reading -------------------------------------------------------------------
    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Stock ``alist``, one walk being one reader: each list item is copied once for all
        the checkpoints it yields (``_lists.Handouts``), not once per checkpoint."""
        where, args = self._search_where(config, filter, before)
        query = self.SELECT_SQL + where + " ORDER BY checkpoint_id DESC"
        params = list(args)
        if limit is not None:
            query += " LIMIT %s"
            params.append(int(limit))
        memo: Handouts = {}
        async with self._cursor() as cur:
            await cur.execute(query, params, binary=True)
            values = await cur.fetchall()
            for thread_id, parents in group_sends(values).items():  # as stock: pre-v4 pending sends
                await cur.execute(self.SELECT_PENDING_SENDS_SQL, (thread_id, parents))
                attach_sends(self, values, thread_id, await cur.fetchall())
            for value in values:
                yield await self._load_checkpoint_tuple(value, memo)

    async def _load_checkpoint_tuple(self, value: Any, memo: Handouts | None = None) -> CheckpointTuple:
        plain, lists = split_rows(value["channel_values"])
        result = await super()._load_checkpoint_tuple({**value, "channel_values": plain})
        if lists:
            values, chains = cached_lists(self.lists, self.serde, value, lists, memo)
            for channel, key, version in chains:
                async with self._side_cursor() as cur:
                    values[channel] = self.lists.rebuild(self.serde, key, await self._chain(cur, key, version), memo)
            result.checkpoint["channel_values"].update(values)
        return result

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """As :class:`StatelinePostgresSaver`'s: an inline None is no seed; loops end."""
        return await adelta_history(self.aget_tuple, config, channels, none_is_value=False)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._sync(self.aget_delta_channel_history(config=config, channels=channels))

    # -- thread administration -----------------------------------------------------
    async def adelete_thread(self, thread_id: str) -> None:
        await super().adelete_thread(thread_id)
        self.lists.forget_thread(str(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        async with self._transaction(snapshot=True) as cur:
            await cur.execute(DELETE_FOR_RUNS_SQL, ([str(r) for r in run_ids],))
            await self._drop_deleted(cur, await cur.fetchall())

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        async with self._transaction() as cur:
            for sql in _COPY_SQL:
                await cur.execute(sql, (str(target_thread_id), str(source_thread_id)))
        self.lists.forget_thread(str(target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Stock ``aprune``; ``keep_latest`` keeps the bases of the kept list deltas too."""
        if strategy != "keep_latest" or isinstance(thread_ids, str):
            await super().aprune(thread_ids, strategy=strategy)
            for thread_id in [] if isinstance(thread_ids, str) else thread_ids:
                self.lists.forget_thread(str(thread_id))
            return
        ids = [str(t) for t in thread_ids]
        if not ids:
            return
        async with self._cursor() as cur:
            await _aexecute(cur, _refuse_delta_threads(ids))
        for thread_id in ids:
            freed: list[tuple[str, str, str]] = []
            async with self._transaction() as cur:
                await _aexecute(cur, _defer_blob_deletes(_keep_latest(thread_id), freed))
                await self._collect_garbage(cur, thread_id, freed)
            self.lists.forget_thread(thread_id)

    async def akeep_last(self, thread_ids: Sequence[str], keep: int) -> int:
        """Keep the ``keep`` newest checkpoints per namespace; threads with a DeltaChannel stay whole."""
        if keep < 1:
            raise ConfigError(f"keep_last must be at least 1 (the head a thread resumes from), got {keep}")
        deleted = 0
        for thread_id in [str(t) for t in thread_ids]:
            async with self._transaction(snapshot=True) as cur:
                await cur.execute(PRUNE_DELTA_THREADS_SQL, ([thread_id],) * 2, prepare=False)
                if await cur.fetchone():
                    continue
                await cur.execute(KEEP_LAST_SQL, (thread_id, thread_id, keep))
                doomed = await cur.fetchall()
                await self._drop_deleted(cur, doomed)
                deleted += len(doomed)
        return deleted

    def keep_last(self, thread_ids: Sequence[str], keep: int) -> int:
        return self._sync(self.akeep_last(thread_ids, keep))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    # -- plumbing ------------------------------------------------------------------
    def _sync(self, coro: Any) -> Any:
        """Run ``coro`` on the saver's loop from another thread (stock's rule for sync calls)."""
        try:
            if asyncio.get_running_loop() is self.loop:
                coro.close()
                raise asyncio.InvalidStateError(
                    "Synchronous calls to StatelineAsyncPostgresSaver are only allowed from a "
                    "different thread; from the loop's thread use the async methods (a...)"
                )
        except RuntimeError:
            pass
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def _transaction(self, *, snapshot: bool = False) -> Any:
        return _Transaction(self, snapshot)

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[Any]:
        """Stock ``_cursor`` (it holds ``self.lock``), noting which task holds it on which connection."""
        async with super()._cursor(pipeline=pipeline) as cur:
            outer = self._holder
            self._holder = (asyncio.current_task(), cur.connection)
            try:
                yield cur
            finally:
                self._holder = outer

    @asynccontextmanager
    async def _side_cursor(self) -> AsyncIterator[Any]:
        """A cursor for a read made while a row is loaded.

        Stock ``aget_tuple``/``alist`` load rows inside ``_cursor`` (holding the
        non-reentrant ``self.lock``); a delta chain read there through ``_cursor`` would
        wait on its own task forever. The task holding the lock reads on its connection.
        """
        held = self._holder
        if held is not None and held[0] is asyncio.current_task():
            async with held[1].cursor(binary=True, row_factory=dict_row) as cur:
                yield cur
        else:
            async with self._cursor() as cur:
                yield cur

    async def _drop_deleted(self, cur: Any, doomed: Sequence[Any]) -> None:
        for thread_id, writes, freed in deleted_by_thread(doomed):
            await cur.execute(_DELETE_WRITES_SQL, writes)
            await self._collect_garbage(cur, thread_id, freed)
            self.lists.forget_thread(thread_id)

    @staticmethod
    async def _collect_garbage(cur: Any, thread_id: str, freed: Sequence[tuple[str, str, str]]) -> None:
        """As the sync saver's: freed blobs and bases nothing remaining needs."""
        if not freed:
            return
        await cur.execute(BLOB_BASES_SQL, (thread_id,))
        bases = await cur.fetchall()
        await cur.execute(NAMED_VERSIONS_SQL, (thread_id,))
        if (params := garbage_params(thread_id, freed, bases, await cur.fetchall())) is not None:
            await cur.execute(DELETE_BLOBS_SQL, params)


class _Transaction:
    """``async with``: one transaction (pipeline synced first), optionally REPEATABLE READ."""

    def __init__(self, saver: StatelineAsyncPostgresSaver, snapshot: bool) -> None:
        self.saver, self.snapshot = saver, snapshot

    async def __aenter__(self) -> Any:
        self._cursor_cm = self.saver._cursor()
        cur = await self._cursor_cm.__aenter__()
        if self.saver.pipe:
            await self.saver.pipe.sync()
        self._tx = cur.connection.transaction()
        await self._tx.__aenter__()
        if self.snapshot:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return cur

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._tx.__aexit__(*exc)
        finally:
            await self._cursor_cm.__aexit__(*exc)
