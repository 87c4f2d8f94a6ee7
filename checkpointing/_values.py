"""Channel values stored once per version, list channels stored as appended deltas.

Stock ``SqliteSaver`` writes every channel's value into every checkpoint. With
``add_messages`` the ``messages`` value is the whole conversation, so a thread of
N turns stores O(N^2) bytes. Here (as in LangGraph's Postgres saver) a value is
written once per (thread, ns, channel, version) and checkpoints only name
versions. On top of that, a ``list`` value whose leading items are the items of
an already stored version of the same channel is written as a *delta*: a pointer
to that base version plus the new tail. Storage then grows with content.

Why a delta is always exact: ``_ListView`` holds, for one (thread, ns, channel),
a list ``items`` and a map ``lengths`` such that for every version v in it,
``items[:lengths[v]]`` equals v's stored value (invariant kept by ``encode`` and
``rebuild``; the cache itself is ``_lists``). A new list L is stored as (base u, L[lengths[u]:]) only after each of
L's first lengths[u] items was checked to be the object the last put was given for (or
equal by value to) the corresponding item of ``items``. Stored versions are never rewritten (INSERT OR
IGNORE), so a cached view never goes stale; a base that a concurrent prune
removed is detected in the writing transaction (``base_exists``) and the value
is written in full instead.

A message read back and edited in place (LangGraph's "edit the tool call, then
``update_state``") is seen: readers get copies, never the cached items, and a write
compares a reader's copies with the cached items by value (``_lists``).
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from ._archive import archived_checkpoints
from ._lists import (  # noqa: F401 - re-exported: the layout's names
    CHUNK_ITEMS,
    PREFIX_TYPE,
    VIEW_CACHE_SIZE,
    BlobRow,
    Handouts,
    Key,
    ListViews,
    _ListView,
)

EMPTY_CACHE_SIZE = 4096
"""How many (thread, ns, channel, version) known to have no value stay in memory (LRU)."""

_CHAIN_SQL = """
WITH RECURSIVE chain(version, base_version, type, blob, length, depth) AS (
    SELECT version, base_version, type, blob, length, 0 FROM sl_blobs
    WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?
    UNION ALL
    SELECT b.version, b.base_version, b.type, b.blob, b.length, c.depth + 1
    FROM chain c JOIN sl_blobs b
      ON b.thread_id = ? AND b.checkpoint_ns = ? AND b.channel = ? AND b.version = c.base_version
    WHERE c.depth < 1000000
)
SELECT version, type, blob, length FROM chain ORDER BY depth DESC
"""

_INSERT_SQL = (
    "INSERT OR IGNORE INTO sl_blobs (thread_id, checkpoint_ns, channel, version, type, blob, "
    "base_version, length) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

_ROW_SQL = (
    "SELECT type, base_version, length, blob FROM sl_blobs "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?"
)
_TO_PREFIX_SQL = (
    f"UPDATE sl_blobs SET type = '{PREFIX_TYPE}', blob = NULL, base_version = ? "
    "WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ? AND length IS NOT NULL"
)


class ValueStore(ListViews):
    """Reads and writes channel values of the ``sl_blobs`` table (caller holds the lock).

    A channel version with no value (an emptied trigger or ``__start__``: half the
    versions a checkpoint names) has no row. Versions this store wrote so are remembered
    (``_empty``), so reading a checkpoint back does not query for each of them; a version
    is never given a value later (versions are unique, rows never rewritten).
    """

    def __init__(self, serde: SerializerProtocol) -> None:
        super().__init__()
        self.serde = serde
        self._empty: OrderedDict[tuple[Key, str], None] = OrderedDict()
        self._stored: OrderedDict[tuple[Key, str], None] = OrderedDict()
        """(key, version) known to have a row (LRU, ``EMPTY_CACHE_SIZE``)."""

    def _note_empty(self, key: Key, version: str) -> None:
        with self._lock:
            self._empty[(key, version)] = None
            while len(self._empty) > EMPTY_CACHE_SIZE:
                self._empty.popitem(last=False)

    def _known_empty(self, key: Key, version: str) -> bool:
        with self._lock:
            return (key, version) in self._empty

    def _note_stored(self, key: Key, version: str) -> None:
        with self._lock:
            self._empty.pop((key, version), None)
            self._stored[(key, version)] = None
            while len(self._stored) > EMPTY_CACHE_SIZE:
                self._stored.popitem(last=False)

    def unstored(
        self, cur: sqlite3.Cursor, thread_id: str, ns: str, values: Mapping[str, Any], versions: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The channels of ``values`` whose version (in ``versions``) has no stored value.

        LangGraph gives ``put`` the new versions to store; a caller may also hand a value
        for an existing version that was stored empty (stock ``SqliteSaver`` keeps every
        value it is given, e.g. a ``_DeltaSnapshot`` written into an ancestor). Versions
        this store wrote or read are remembered, so the usual put costs dict lookups.
        """
        out: dict[str, Any] = {}
        for channel in values:
            version = versions.get(channel)
            if version is None:
                continue
            key, ver = (thread_id, ns, channel), str(version)
            with self._lock:
                known = (key, ver) in self._stored
            if known or self.has_version(key, ver):
                continue
            if self._known_empty(key, ver) or cur.execute(_ROW_SQL, (*key, ver)).fetchone() is None:
                out[channel] = version
            else:
                self._note_stored(key, ver)
        return out

    def forget_thread(self, thread_id: str) -> None:
        super().forget_thread(thread_id)
        with self._lock:
            for entry in [e for e in self._empty if e[0][0] == thread_id]:
                del self._empty[entry]
            for entry in [e for e in self._stored if e[0][0] == thread_id]:
                del self._stored[entry]

    def forget_all(self) -> None:
        super().forget_all()
        with self._lock:
            self._empty.clear()
            self._stored.clear()

    # -- writing -------------------------------------------------------------
    def write(
        self,
        cur: sqlite3.Cursor,
        thread_id: str,
        ns: str,
        values: Mapping[str, Any],
        versions: Mapping[str, Any],
    ) -> None:
        """Store each channel of ``versions`` at its version (inside the caller's transaction)."""
        for channel, version in versions.items():
            key = (thread_id, ns, channel)
            if channel not in values:
                self._note_empty(key, str(version))
                continue  # an empty channel: a version without a row reads back as empty
            covered: list[str] = []
            row: tuple[str, bytes, str | None, int | None]
            if type(values[channel]) is list:
                exists = lambda base, key=key: _base_exists(cur, key, base)  # noqa: E731
                chunked = self._chunk_row(key, str(version), values[channel], exists)
                if chunked is not None:
                    row, covered = chunked
                else:
                    row = self.encode(self.serde, key, str(version), values[channel], exists)
            else:
                row = (*self.serde.dumps_typed(values[channel]), None, None)
            cur.execute(_INSERT_SQL, (thread_id, ns, channel, str(version), *row))
            self._note_stored(key, str(version))
            if cur.rowcount == 0:  # version already stored by someone: trust the stored one
                self.drop(key)
            elif covered:
                cur.executemany(_TO_PREFIX_SQL, [(str(version), *key, v) for v in covered])

    def _chunk_row(
        self, key: Key, version: str, new: list[Any], base_exists: Callable[[str], bool]
    ) -> tuple[BlobRow, list[str]] | None:
        """A chunk row for ``new`` and the versions it covers, or None if no chunk is due.

        Due when ``new`` extends the cached tip by enough items since the last chunk.
        The row stores everything after that chunk (or the whole list); the covered
        versions are the stored prefixes longer than the last chunk, each of which is
        now ``new[:length]`` -- the caller rewrites them as prefix references.
        """
        view = self._view(key)
        if view is None or view.tip is None or len(new) - view.chunk_len < CHUNK_ITEMS:
            return None
        try:
            if not view.extends_tip(new):
                return None
        except Exception:  # noqa: BLE001 - items whose == raises: the plain path handles them
            return None
        base, start = view.chunk, view.chunk_len
        if base is not None and not base_exists(base):
            base, start = None, 0
        covered = [v for v, n in view.lengths.items() if view.chunk_len < n]
        lengths = {**view.lengths, version: len(new)}
        tail = self.serde.dumps_typed(new[start:] if base else list(new))
        self.remember(self.serde, key, _ListView([], lengths, version, version, len(new), list(new)), tail,
                      start if base else 0, view)  # fmt: skip
        return (*tail, base, len(new)), covered

    # -- reading -------------------------------------------------------------
    def read(
        self, cur: sqlite3.Cursor, thread_id: str, ns: str, versions: Mapping[str, Any],
        memo: Handouts | None = None,
    ) -> dict[str, Any]:
        """The channel values of a checkpoint whose ``channel_versions`` are ``versions``
        (list values as the copies of one reader: ``memo``, or this call alone)."""
        values: dict[str, Any] = {}
        for channel, version in versions.items():
            value = self._read_one(cur, (thread_id, ns, channel), str(version), memo)
            if value is not _EMPTY:
                values[channel] = value
        return values

    def _read_one(self, cur: sqlite3.Cursor, key: Key, version: str, memo: Handouts | None) -> Any:
        cached = self.cached(key, version, memo)
        if cached is not None:
            return cached
        if self._known_empty(key, version):
            return _EMPTY
        head = cur.execute(_ROW_SQL, (*key, version)).fetchone()
        if head is None:
            return _EMPTY  # no row: the channel was empty at that version
        type_, base, length, blob = head
        if length is None:
            self._note_stored(key, version)
            return self.serde.loads_typed((type_, blob))
        if type_ == PREFIX_TYPE and (hit := self.cached_prefix(key, version, base, length, memo)) is not None:
            return hit
        if base is None:
            return self.rebuild(self.serde, key, [(version, type_, blob, length)], memo)
        return self.rebuild(self.serde, key, cur.execute(_CHAIN_SQL, (*key, version, *key)).fetchall(), memo)


class _Empty:
    pass


_EMPTY = _Empty()


def _base_exists(cur: sqlite3.Cursor, key: Key, version: str) -> bool:
    return (
        cur.execute(
            "SELECT 1 FROM sl_blobs WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
            (*key, version),
        ).fetchone()
        is not None
    )


def collect_garbage(cur: sqlite3.Cursor, codec: Any, thread_ids: Iterable[str]) -> int:
    """Delete the values no remaining checkpoint of each thread needs; return rows deleted.

    "Needed" is the closure of every version a remaining checkpoint names under
    the base pointers of list deltas, so a kept checkpoint never loses the head
    of its delta chain. Runs in the caller's write transaction, so no checkpoint
    can appear between the marking and the deleting.
    """
    deleted = 0
    for thread_id in thread_ids:
        needed = _named_versions(cur, codec, thread_id)
        base_of = {
            (ns, ch, v): b
            for ns, ch, v, b in cur.execute(
                "SELECT checkpoint_ns, channel, version, base_version FROM sl_blobs WHERE thread_id = ?",
                (thread_id,),
            )
        }
        needed = with_bases(needed, base_of)
        doomed = [(thread_id, *key) for key in base_of if key not in needed]
        cur.executemany(
            "DELETE FROM sl_blobs WHERE thread_id = ? AND checkpoint_ns = ? AND channel = ? AND version = ?",
            doomed,
        )
        deleted += len(doomed)
    return deleted


def with_bases(
    versions: Iterable[tuple[str, str, str]], base_of: Mapping[tuple[str, str, str], str | None]
) -> set[tuple[str, str, str]]:
    """``versions`` (ns, channel, version) plus every base their list deltas rebuild from."""
    needed = set(versions)
    stack = list(needed)
    while stack:
        ns, ch, v = stack.pop()
        base = base_of.get((ns, ch, v))
        if base is not None and (ns, ch, base) not in needed:
            needed.add((ns, ch, base))
            stack.append((ns, ch, base))
    return needed


def _named_versions(cur: sqlite3.Cursor, codec: Any, thread_id: str) -> set[tuple[str, str, str]]:
    named: set[tuple[str, str, str]] = set()
    rows = cur.execute("SELECT checkpoint_ns, type, checkpoint FROM sl_checkpoints WHERE thread_id = ?", (thread_id,))
    for ns, type_, blob in [*rows.fetchall(), *archived_checkpoints(cur, thread_id)]:
        versions = codec.loads_typed((type_, blob))["channel_versions"]
        named.update((ns, channel, str(version)) for channel, version in versions.items())
    return named
