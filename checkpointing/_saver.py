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
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
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
from stateline.errors import ConfigError

from . import _archive, _sqlite
from ._codec import ZlibCodec, next_version
from ._delta import DELTA_METADATA_KEYS, delta_history
from ._saver_async import ThreadedAsyncMixin
from ._saver_rows import (
    COLUMNS,
    SCHEMA,
    WRITE_COLUMNS,
    copy_thread_rows,
    prune_thread_rows,
)
from ._segments import SegmentCache
from ._serde import FastReadSerializer
from ._values import Handouts, ValueStore, collect_garbage
from ._walsync import WalSync, wal_sync_for

_WRITES_SQL = (
    "SELECT task_id, channel, type, value, task_path, idx FROM sl_writes "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
)
LIST_PAGE = 16
"""Checkpoints fetched per ``list`` query; bounds memory and lock hold time."""

_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(where: str) -> threading.Lock:
    """One lock per database file in this process, taken around every saver write.

    Savers of one process on one file (a worker pool, each with its own
    connection) then queue on a Python lock, handed over at once, instead of
    SQLite's busy handler, which polls with sleeps of up to 100 ms. Other
    processes still wait on the busy timeout.
    """
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(where, threading.Lock())


class StatelineSqliteSaver(ThreadedAsyncMixin, BaseCheckpointSaver[str]):
    """A LangGraph checkpoint saver on one SQLite connection (shared safely by threads)."""

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

    # -- plumbing ------------------------------------------------------------------
    def setup(self) -> None:
        """Create the tables; a brand-new file first gets ``auto_vacuum=INCREMENTAL``.

        SQLite only accepts a change of auto_vacuum before the first table exists,
        and a file already in WAL mode only through VACUUM (instant while empty),
        so it is done here, by the first component to create tables. Older files
        are converted by ``vacuum(db, full=True)``.
        """
        if self.is_setup:
            return
        with self.lock:
            try:
                if self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                    self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                    self.conn.execute("VACUUM")
                self.conn.executescript(SCHEMA)
                wal = self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.where) from exc
            # group commit needs the WAL; a file in another journal mode keeps FULL commits
            self._wal_sync = wal_sync_for(self.where) if wal and self.where != ":memory:" else None
            self.is_setup = True

    @contextmanager
    def _transaction(self, *, write: bool, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        """A transaction; a durable write returns once its commit is fsynced.

        In WAL mode the commit itself does not sync (``synchronous=NORMAL``); the fsync
        runs after the write lock is released and is shared with every writer of this
        file in the process that committed before it (group commit, ``_walsync``).
        """
        with self.lock:
            ticket = yield from self._locked_transaction(write, durable)
        if ticket is not None:  # the connection is free for other threads meanwhile
            assert self._wal_sync is not None
            if getattr(self._deferring, "on", False):  # made durable when the deferred block ends
                self._deferring.ticket = max(ticket, getattr(self._deferring, "ticket", 0))
            else:
                self._wal_sync.wait_durable(ticket)

    def _locked_transaction(self, write: bool, durable: bool) -> Generator[sqlite3.Cursor, None, int | None]:
        """The body of ``_transaction`` under the file's write lock; returns a group-commit ticket."""
        with self._file_lock if write else nullcontext():
            self.setup()
            group = write and durable and self._wal_sync is not None
            try:
                if write:
                    self._set_synchronous("FULL" if durable and not group else "NORMAL")
                cur = self.conn.cursor()
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.where) from exc
            try:
                yield cur
                cur.execute("COMMIT")
                return self._wal_sync.ticket() if group else None  # type: ignore[union-attr]  # group: _wal_sync is set
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                if write:  # the cache may name versions the rollback just removed
                    self.values.forget_all()
                if isinstance(exc, sqlite3.Error):
                    raise _sqlite.translate_error(exc, self.where) from exc
                raise
            finally:
                cur.close()

    def _set_synchronous(self, level: str) -> None:
        if self._synchronous != level:
            self.conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Checkpoints put *by this thread* in the block are committed at once and made durable
        when the block ends (one fsync for all of them, none if a durable commit to the file
        inside the block already covered them), on success and on error alike.

        Why this is as safe as a durable put each: in WAL mode such a commit survives a
        process crash at once, and a power loss keeps a *prefix* of the file's commits (the
        WAL is one sequential file; an fsync of it covers every commit before it), so it
        leaves the database exactly as a process crash at an earlier commit would, which
        recovery handles at any point. What must not be lost is made durable before anyone
        outside the database depends on it: an effect's ledger row is a durable commit of
        its own before the effect runs (and it syncs every earlier checkpoint with it), and
        the block ends, durably, before the turn returns its replies. Other threads' puts
        (and a file in another journal mode) are unaffected.
        """
        local = self._deferring
        outer = getattr(local, "on", False)
        local.on = True
        if not outer:
            local.ticket = 0
        try:
            yield
        finally:
            if not outer:
                local.on = False
                ticket, local.ticket = getattr(local, "ticket", 0), 0
                if ticket and self._wal_sync is not None:
                    self._wal_sync.wait_durable(ticket)

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
            if row:
                return self._tuple(cur, row)
            found = _archive.find(cur, self.segments, thread_id, ns, checkpoint_id or None)
            return self._tuple(cur, found[0], found[1].pending(found[0][2])) if found else None

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
        with self._transaction(write=True, durable=True) as cur:
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
        with self._transaction(write=True, durable=any(special)) as cur:
            if rows:  # writes for an archived checkpoint: it becomes rows again first
                _archive.unarchive_from(cur, *rows[0][:3])
            cur.executemany(f"{verb} INTO sl_writes {WRITE_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # -- thread administration -----------------------------------------------------
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

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """LangGraph's walk over ``get_tuple``, ending at a checkpoint already visited."""
        return delta_history(self.get_tuple, config, channels, none_is_value=True)

    def get_next_version(self, current: str | None, channel: None) -> str:
        return next_version(current)

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


_DELTA_THREAD_SQL = (
    "SELECT 1 FROM sl_checkpoints WHERE thread_id = ? AND ("
    + " OR ".join(f"json_extract(CAST(metadata AS TEXT), '$.{k}') IS NOT NULL" for k in DELTA_METADATA_KEYS)
    + ") LIMIT 1"
)


def _delta_thread(cur: sqlite3.Cursor, thread_id: str) -> bool:
    """Whether LangGraph marked a checkpoint of the thread as one of a ``DeltaChannel`` graph."""
    return cur.execute(_DELTA_THREAD_SQL, (thread_id,)).fetchone() is not None


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


def _db_name(conn: sqlite3.Connection) -> str:
    try:
        return next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "") or ":memory:"
    except sqlite3.Error:
        return "sqlite"
