"""StatelineSqliteSaver: LangGraph's checkpoint contract on SQLite, sized for long threads.

What differs from stock ``SqliteSaver`` and why it still keeps the contract:

* Checkpoint rows hold the checkpoint with only its small scalar channel values;
  other values live in ``sl_blobs`` once per (thread, ns, channel, version), list
  values as appended deltas (see ``_values``). A checkpoint is rebuilt from its own
  scalars plus exactly the versions it names, so what ``get_tuple`` returns is
  what ``put`` was given.
* Durability: every ``put`` returns only once its commit is on disk, so a
  checkpoint LangGraph was told about survives power loss (``durability="sync"``).
  In WAL mode that is group commit (``_walsync``): the commit runs with
  ``synchronous=NORMAL`` and the WAL is fsynced after the write lock is released,
  one fsync covering every writer of the file in the process that committed
  before it. Ordinary task writes (``put_writes``) do not wait for an fsync: in
  WAL mode a commit is already safe against a process crash, and the next
  checkpoint's fsync covers it. Writes that a resume depends on with no checkpoint
  following them (errors, interrupts, resume values) wait for theirs. A file in
  another journal mode gets ``synchronous=FULL`` commits instead.
* Writes take the lock up front (``BEGIN IMMEDIATE``), so several processes on one
  file wait on the busy timeout instead of failing a lock upgrade.
* ``list`` pages through a keyset cursor: constant memory and no lock held
  while the caller consumes items.

The tables are named ``sl_*``: a file written by stock ``SqliteSaver`` keeps its
``checkpoints``/``writes`` tables untouched (they are not read or migrated).
It does not subclass ``SqliteSaver``: every storage method would have to be
overridden anyway, and an inherited one (e.g. its delta-channel fast path) would
silently query the stock tables. Its version format ("counter.random") is kept,
shorter (``_codec.next_version``).
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.utils import load_pending_writes, search_where

from . import _archive
from ._codec import ZlibCodec, next_version
from ._delta import delta_history
from ._saver_admin import SqliteThreadAdmin
from ._saver_async import ThreadedAsyncMixin
from ._lists import shared_read
from ._riders import Riders
from ._saver_rows import COLUMNS, WRITE_COLUMNS
from ._saver_tx import _db_name, _file_lock
from ._segments import SegmentCache
from ._serde import FastReadSerializer
from ._values import Handouts, ValueStore
from ._walsync import WalSync

_WRITES_SQL = (
    "SELECT task_id, channel, type, value, task_path, idx FROM sl_writes "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
)
LIST_PAGE = 16
"""Checkpoints fetched per ``list`` query; bounds memory and lock hold time."""

class StatelineSqliteSaver(ThreadedAsyncMixin, SqliteThreadAdmin, BaseCheckpointSaver[str]):
    """A LangGraph checkpoint saver on one SQLite connection (shared safely by threads).

    Transactions and ``setup``: ``_saver_tx``; thread administration (delete, copy,
    retention, probes): ``_saver_admin``.
    """

    def __init__(self, conn: sqlite3.Connection, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde or FastReadSerializer())
        conn.isolation_level = None  # transactions are explicit: BEGIN IMMEDIATE / COMMIT
        self.conn = conn
        self.lock = threading.RLock()
        self.where = _db_name(conn)
        self._file_lock = _file_lock(self.where)
        self._synchronous: str | None = None
        self._wal_sync: WalSync | None = None
        self.segments = SegmentCache()
        self.is_setup = False
        self._deferring = threading.local()
        self.riders = Riders()
        """Rows written with a thread's next checkpoint write (see ``_riders``)."""

    @property
    def serde(self) -> SerializerProtocol:
        # BaseCheckpointSaver.__init__ reads the default before it assigns one
        return self.__dict__.get("_serde") or BaseCheckpointSaver.serde

    @serde.setter
    def serde(self, value: SerializerProtocol) -> None:
        """Swapping the serializer (as encryption at rest does after construction) rebuilds
        the codec and the value cache, so no value is written or cached with the old one."""
        self._serde = value
        self.codec = ZlibCodec(value)
        self.values = ValueStore(self.codec)

    # -- reading -------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id = str(config["configurable"]["thread_id"])
        ns = config["configurable"].get("checkpoint_ns", "")
        with self._transaction(write=False) as cur:
            if checkpoint_id := get_checkpoint_id(config):
                cur.execute(
                    f"SELECT {COLUMNS} FROM sl_checkpoints "
                    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                    (thread_id, ns, checkpoint_id),
                )
            else:
                cur.execute(
                    f"SELECT {COLUMNS} FROM sl_checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                    "ORDER BY checkpoint_id DESC LIMIT 1",
                    (thread_id, ns),
                )
            row = cur.fetchone()
            memo = shared_read(config["configurable"])
            if row:
                return self._tuple(cur, row, memo=memo)
            found = _archive.find(cur, self.segments, thread_id, ns, checkpoint_id or None)
            return self._tuple(cur, found[0], found[1].pending(found[0][2]), memo) if found else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Newest first, one page of ``LIST_PAGE`` rows per query (keyset pagination)."""
        conf = dict(config["configurable"]) if config is not None else {}
        if config is not None:  # archived rows are matched against the id as stored: a str
            conf["thread_id"] = str(conf["thread_id"])
            config = {**config, "configurable": conf}
        where, params = search_where(config, filter, before)
        scope = (conf.get("thread_id"), conf.get("checkpoint_ns"), get_checkpoint_id(before) if before else None)
        # One thread and namespace: the key is checkpoint_id alone, a range seek on the
        # primary key. Otherwise (thread_id, ns) break ties and the seek is a filter.
        one_ns = config is not None and config["configurable"].get("checkpoint_ns") is not None
        remaining = limit
        after: tuple[str, ...] | None = None
        memo: Handouts = {}  # one walk is one reader: each list item copied once
        while remaining is None or remaining > 0:
            size = LIST_PAGE if remaining is None else min(LIST_PAGE, remaining)
            page = self._list_page(where, params, after, size, scope, memo)
            yield from page
            if len(page) < size:
                return
            last = page[-1].config["configurable"]
            after = (last["checkpoint_id"],)
            if not one_ns:
                after += (last["thread_id"], last["checkpoint_ns"])
            remaining = None if remaining is None else remaining - len(page)

    def _list_page(
        self,
        where: str,
        params: Sequence[Any],
        after: tuple[str, ...] | None,
        size: int,
        scope: tuple[str | None, str | None, str | None],
        memo: Handouts,
    ) -> builtins.list[CheckpointTuple]:
        """One page of live rows merged with the archived checkpoints that sort among them."""
        params = list(params)
        if after is not None:
            where = f"{where} AND " if where else "WHERE "
            if len(after) == 1:
                where += "checkpoint_id < ?"
            else:
                where += "(checkpoint_id, thread_id, checkpoint_ns) < (?, ?, ?)"
            params.extend(after)
            bound = scope[2]
            scope = (scope[0], scope[1], after[0] if bound is None else min(bound, after[0]))
        sql = (
            f"SELECT {COLUMNS} FROM sl_checkpoints {where} "
            "ORDER BY checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC LIMIT ?"
        )
        with self._transaction(write=False) as cur:
            rows = cur.execute(sql, (*params, size)).fetchall()
            merged: list[tuple[tuple, tuple, list | None]] = [((r[2], r[0], r[1]), r, None) for r in rows]
            archived = _archive.page(cur, self.segments, scope, where, params, [m[0] for m in merged], size)
            merged += [(key, row, segment.pending(row[2])) for key, (row, segment, _) in archived]
            merged.sort(key=lambda m: m[0], reverse=True)
            return [self._tuple(cur, row, writes, memo) for _, row, writes in merged[:size]]

    def _tuple(
        self, cur: sqlite3.Cursor, row: tuple, writes: builtins.list | None = None, memo: Handouts | None = None
    ) -> CheckpointTuple:
        """The tuple of a checkpoint row; ``writes`` given for an archived one (else read);
        ``memo``: the list copies of one reader (a ``list`` walk), else this tuple's own."""
        thread_id, ns, checkpoint_id, parent_id, type_, blob, metadata = row
        checkpoint = {"id": checkpoint_id, **self.codec.loads_typed((type_, blob))}
        inline = checkpoint.get("channel_values") or {}
        stored = {k: v for k, v in checkpoint["channel_versions"].items() if k not in inline}
        checkpoint["channel_values"] = {**inline, **self.values.read(cur, thread_id, ns, stored, memo)}
        if writes is None:
            writes = cur.execute(_WRITES_SQL, (thread_id, ns, checkpoint_id)).fetchall()
        return CheckpointTuple(
            _config(thread_id, ns, checkpoint_id),
            cast(Checkpoint, checkpoint),
            cast(CheckpointMetadata, json.loads(metadata) if metadata is not None else {}),
            _config(thread_id, ns, parent_id) if parent_id else None,
            load_pending_writes(writes, self.codec),
        )

    # -- writing -------------------------------------------------------------------
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` and its new channel versions; committed durably on return
        (inside :meth:`deferred`: committed, durable when the block ends)."""
        thread_id = str(config["configurable"]["thread_id"])
        ns = config["configurable"].get("checkpoint_ns", "")
        values = checkpoint["channel_values"]
        inline = {k: v for k, v in values.items() if _is_small(v)}
        bare = {k: v for k, v in checkpoint.items() if k != "id"}
        bare["channel_values"] = inline
        type_, blob = self.codec.dumps_typed(bare)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        row = (
            thread_id, ns, checkpoint["id"], config["configurable"].get("checkpoint_id"),
            type_, blob, meta.encode("utf-8", "ignore"),
            time.time(),
        )  # fmt: skip
        with self._transaction(write=True, durable=True, thread_id=thread_id) as cur:
            stored = {k: v for k, v in new_versions.items() if k not in inline}
            rest = {k: v for k, v in values.items() if k not in inline and k not in stored}
            stored.update(self.values.unstored(cur, thread_id, ns, rest, checkpoint["channel_versions"]))
            self.values.write(cur, thread_id, ns, values, stored)
            _archive.unarchive_from(cur, thread_id, ns, checkpoint["id"])
            cur.execute(
                f"INSERT OR REPLACE INTO sl_checkpoints ({COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            _archive.maybe_archive(cur, thread_id, ns)
        return _config(thread_id, ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes; special writes (errors, interrupts) are synced at once."""
        conf = config["configurable"]
        special = [w[0] in WRITES_IDX_MAP for w in writes]
        verb = "INSERT OR REPLACE" if all(special) else "INSERT OR IGNORE"
        rows = [
            (
                str(conf["thread_id"]), str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"]),
                task_id, task_path, WRITES_IDX_MAP.get(channel, idx), channel,
                *self.codec.dumps_typed(value),
            )
            for idx, (channel, value) in enumerate(writes)
        ]  # fmt: skip
        with self._transaction(write=True, durable=any(special), thread_id=str(conf["thread_id"])) as cur:
            if rows:  # writes for an archived checkpoint: it becomes rows again first
                _archive.unarchive_from(cur, *rows[0][:3])
            cur.executemany(f"{verb} INTO sl_writes {WRITE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's walk over ``get_tuple``, ending at a checkpoint already visited."""
        return delta_history(self.get_tuple, config, channels, none_is_value=True)

    def get_next_version(self, current: str | None, channel: None) -> str:
        return next_version(current)

INLINE_STR = 128
"""Strings up to this length are stored inside the checkpoint row, like numbers and None."""


def _is_small(value: Any) -> bool:
    """Small scalars travel inside the checkpoint row (as in LangGraph's Postgres saver).

    A row of the values table costs ~60 bytes of keys; trigger channels (value None)
    and counters would otherwise take most of the rows.
    """
    if value is None or type(value) in (bool, int, float):
        return True
    return type(value) is str and len(value) <= INLINE_STR


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


