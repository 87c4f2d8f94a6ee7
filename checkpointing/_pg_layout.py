"""What stateline's PostgreSQL savers (sync and async) share: the layout's SQL and row codecs.

Stock ``PostgresSaver``'s tables, with two nullable columns on ``checkpoint_blobs``
(``base_version``, ``length``: list values stored as deltas, see ``_lists``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import get_serializable_checkpoint_metadata
from langgraph.checkpoint.postgres.base import PRUNE_BLOBS_SQL, SELECT_SQL
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg.types.json import Jsonb

from ._lists import Handouts, Key, ListViews
from ._values import with_bases

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
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, "
    "metadata) "
    "SELECT %s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
    "FROM checkpoints WHERE thread_id = %s ON CONFLICT DO NOTHING",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob, base_version, length) "
    "SELECT %s, checkpoint_ns, channel, version, type, blob, base_version, length "
    "FROM checkpoint_blobs WHERE thread_id = %s ON CONFLICT DO NOTHING",
    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
    "type, blob) "
    "SELECT %s, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob "
    "FROM checkpoint_writes WHERE thread_id = %s ON CONFLICT DO NOTHING",
)


SETUP_SQL = [stmt for _, sql in MIGRATIONS for stmt in sql.split(";")]
"""The saver's own columns, idempotent: ``setup()`` runs it after stock's migrations."""


def split_values(channel_values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the checkpoint's inline channel values, the values stored as blobs), as stock ``put``."""
    inline = dict(channel_values)
    blobs = {}
    for k, v in channel_values.items():
        if isinstance(v, _DeltaSnapshot):
            blobs[k] = inline.pop(k)
            inline[k] = True
        elif not _is_primitive(v):
            blobs[k] = inline.pop(k)
    return inline, blobs


def split_rows(rows: Sequence[Any] | None) -> tuple[list[Any], list[tuple[str, str, bytes, str | None, int]]]:
    """A SELECT row's blob arrays as (stock rows, list rows (channel, type, payload, base, length))."""
    rows = rows or []
    plain = [r[:3] for r in rows if len(r) < 5 or not r[4]]
    lists = [
        (r[0].decode(), r[1].decode(), r[2], r[3].decode() or None, int(r[4].decode()))
        for r in rows
        if len(r) >= 5 and r[4]
    ]
    return plain, lists


def checkpoint_row(
    config: Any, checkpoint: Any, metadata: Any
) -> tuple[str, str, dict[str, Any], tuple[Any, ...], RunnableConfig]:
    """What ``put``/``aput`` write: thread, ns, the blob values by channel, the
    ``UPSERT_CHECKPOINTS_SQL`` parameters, and the config the put returns."""
    configurable = config["configurable"]
    thread_id, ns = configurable["thread_id"], configurable["checkpoint_ns"]
    copy = checkpoint.copy()
    copy["channel_values"], blob_values = split_values(checkpoint["channel_values"])
    params = (thread_id, ns, checkpoint["id"], configurable.get("checkpoint_id"), Jsonb(copy),
              Jsonb(get_serializable_checkpoint_metadata(config, metadata)))  # fmt: skip
    returned: RunnableConfig = {
        "configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}
    }
    return thread_id, ns, blob_values, params, returned


DELETE_EMPTY_BLOB_SQL = (
    "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s AND channel = %s AND version = %s "
    "AND type = 'empty'"
)


def snapshots_to_store(checkpoint: Any, blob_values: dict[str, Any], new_versions: Any) -> list[tuple[str, str]]:
    """(channel, version) of ``_DeltaSnapshot`` values put at a version that is not new.

    Stock ``put`` writes blobs for ``new_versions`` only, yet leaves the inline ``True``
    marker of every snapshot: a snapshot written into an existing checkpoint (e.g. an
    ancestor re-put as a ``DeltaChannel`` seed) would read back as ``True``. Such a value
    is stored at its version, replacing an 'empty' row (a stored value is kept).
    """
    versions = checkpoint["channel_versions"]
    return [
        (channel, str(versions[channel]))
        for channel, value in blob_values.items()
        if channel not in new_versions and channel in versions and isinstance(value, _DeltaSnapshot)
    ]


def deleted_by_thread(doomed: Sequence[Any]) -> list[tuple[str, tuple[Any, ...], list[tuple[str, str, str]]]]:
    """Rows of deleted checkpoints (thread, ns, id, versions) per thread: the thread, the
    ``_DELETE_WRITES_SQL`` parameters and the (ns, channel, version) the rows named."""
    by_thread: dict[str, list[Any]] = {}
    for row in doomed:
        by_thread.setdefault(row["thread_id"], []).append(row)
    return [
        (thread_id, ([r["checkpoint_ns"] for r in rows], [r["checkpoint_id"] for r in rows], thread_id),
         [(r["checkpoint_ns"], ch, str(v)) for r in rows for ch, v in (r["versions"] or {}).items()])
        for thread_id, rows in by_thread.items()
    ]  # fmt: skip


def garbage_params(
    thread_id: str, freed: Sequence[tuple[str, str, str]], bases: Sequence[Any], named: Sequence[Any]
) -> tuple[Any, ...] | None:
    """``DELETE_BLOBS_SQL``'s parameters: the freed blobs and the delta bases only they
    needed, less what a remaining checkpoint needs (directly or as the base of a delta it
    names: ``_values.with_bases`` on both sides, as on SQLite); None if nothing goes.
    ``bases``/``named``: the rows of ``BLOB_BASES_SQL``/``NAMED_VERSIONS_SQL``."""
    base_of = {(r["checkpoint_ns"], r["channel"], r["version"]): r["base_version"] for r in bases}
    kept = with_bases({(r["checkpoint_ns"], r["channel"], r["version"]) for r in named}, base_of)
    doomed = sorted(with_bases(freed, base_of) - kept)
    if not doomed:
        return None
    return [d[0] for d in doomed], [d[1] for d in doomed], [d[2] for d in doomed], thread_id


def cached_lists(
    lists: ListViews, serde: SerializerProtocol, value: Any, rows: Sequence[tuple], memo: Handouts | None
) -> tuple[dict[str, Any], list[tuple[str, Key, str]]]:
    """The list values of checkpoint row ``value`` known without a query (cached, or stored
    whole in their own row), and the (channel, key, version) whose delta chain must be read."""
    versions = value["checkpoint"]["channel_versions"]
    values: dict[str, Any] = {}
    chains: list[tuple[str, Key, str]] = []
    for channel, type_, blob, base, length in rows:
        key, version = (value["thread_id"], value["checkpoint_ns"], channel), str(versions[channel])
        cached = lists.cached(key, version, memo)
        if cached is not None:
            values[channel] = cached
        elif base is None:
            values[channel] = lists.rebuild(serde, key, [(version, type_, blob, length)], memo)
        else:
            chains.append((channel, key, version))
    return values, chains


def chain_rows(rows: Sequence[Any]) -> list[tuple[str, str, bytes | None, int]]:
    """``_CHAIN_SQL``'s dict rows as the (version, type, payload, length) ``ListViews.rebuild`` takes."""
    return [(r["version"], r["type"], r["blob"], r["length"]) for r in rows]


def group_sends(values: Sequence[Any]) -> dict[str, list[str]]:
    """Thread -> parents whose pending sends rows of checkpoints older than format v4 need."""
    wanted: dict[str, list[str]] = {}
    for v in values:
        if v["checkpoint"]["v"] < 4 and v["parent_checkpoint_id"]:
            wanted.setdefault(v["thread_id"], []).append(v["parent_checkpoint_id"])
    return wanted


def attach_sends(saver: Any, values: Sequence[Any], thread_id: str, sends_rows: Sequence[Any]) -> None:
    """Stock's migration of pending sends into the rows of ``thread_id`` (as ``get_tuple``)."""
    by_parent: dict[str, list[Any]] = {}
    for v in values:
        if v["thread_id"] == thread_id and v["checkpoint"]["v"] < 4 and v["parent_checkpoint_id"]:
            by_parent.setdefault(v["parent_checkpoint_id"], []).append(v)
    for sends in sends_rows:
        for value in by_parent.get(sends["checkpoint_id"], []):
            if value["channel_values"] is None:
                value["channel_values"] = []
            saver._migrate_pending_sends(sends["sends"], value["checkpoint"], value["channel_values"])


KEEP_LAST_SQL = (
    "DELETE FROM checkpoints c USING ("
    " SELECT checkpoint_ns, checkpoint_id, ROW_NUMBER() OVER ("
    "  PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn"
    " FROM checkpoints WHERE thread_id = %s) AS r "
    "WHERE c.thread_id = %s AND c.checkpoint_ns = r.checkpoint_ns "
    "AND c.checkpoint_id = r.checkpoint_id AND r.rn > %s "
    "RETURNING c.thread_id, c.checkpoint_ns, c.checkpoint_id, "
    "c.checkpoint -> 'channel_versions' AS versions"
)
DELETE_FOR_RUNS_SQL = (
    "DELETE FROM checkpoints WHERE metadata ->> 'run_id' = ANY(%s) "
    "RETURNING thread_id, checkpoint_ns, checkpoint_id, checkpoint -> 'channel_versions' AS versions"
)
BLOB_BASES_SQL = (
    "SELECT checkpoint_ns, channel, version, base_version FROM checkpoint_blobs "
    "WHERE thread_id = %s AND base_version IS NOT NULL"
)
NAMED_VERSIONS_SQL = (
    "SELECT c.checkpoint_ns, v.key AS channel, v.value AS version FROM checkpoints c "
    "CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v WHERE c.thread_id = %s"
)
DELETE_BLOBS_SQL = (
    "DELETE FROM checkpoint_blobs b USING unnest(%s::text[], %s::text[], %s::text[]) AS d(ns, channel, version) "
    "WHERE b.thread_id = %s AND b.checkpoint_ns = d.ns AND b.channel = d.channel AND b.version = d.version"
)


def _blob_exists(cur: psycopg.Cursor[Any], key: Key, version: str) -> bool:
    return (
        cur.execute(
            "SELECT 1 FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = %s AND channel = %s "
            "AND version = %s",
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
