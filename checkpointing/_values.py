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
``items[:lengths[v]]`` *is* v's stored value (invariant kept by ``encode`` and
``rebuild``). A new list L is stored as (base u, L[lengths[u]:]) only after each of
L's first lengths[u] items was checked to be the same object as (or ``==`` to) the
corresponding item of ``items``. Stored versions are never rewritten (INSERT OR
IGNORE), so a cached view never goes stale; a base that a concurrent prune
removed is detected in the writing transaction (``base_exists``) and the value
is written in full instead.

Items are treated as immutable once stored (LangChain messages are replaced by
id, never edited in place, by ``add_messages``): mutating a message object in
place after it was checkpointed is not seen by the identity check.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from stateline.errors import CorruptDatabaseError

from ._archive import archived_checkpoints

VIEW_CACHE_SIZE = 256
"""How many (thread, ns, channel) list views stay in memory (LRU)."""
EMPTY_CACHE_SIZE = 4096
"""How many (thread, ns, channel, version) known to have no value stay in memory (LRU)."""

CHUNK_ITEMS = 64
"""Items appended since the last chunk row after which the SQLite saver writes the next one.

Without chunks a 2,500-message thread is a chain of 2,500 one-message rows, and a
restarted process pays a row fetch, an inflate and a serializer call for each before
its first turn (~50 ms). A chunk row stores the last ``CHUNK_ITEMS``+ items in one
payload (one inflate, one decode, better compression) and turns the small rows it
covers into prefix references, so the head's chain is ~N/64 rows long.
"""

PREFIX_TYPE = "prefix"
"""``type`` of a row that stores no items: its value is the first ``length`` items of its base."""

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

Key = tuple[str, str, str]
BlobRow = tuple[str, bytes, str | None, int]
"""(type, payload, base version or None, list length) of one ``sl_blobs`` row."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while thousands of messages are built.

    Each allocation burst triggers young-generation passes, and now and then a full
    pass over the whole heap: measured on a 2,500-message rebuild, a median +3 ms and
    one read in six taking ~90 ms instead of ~18. Messages hold no reference cycles,
    so nothing is left for the collector that it would have freed; it runs normally
    afterwards. Another thread that paused it first re-enables it when it is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunk_after(view: _ListView | None, base: str, start: int) -> tuple[str | None, int]:
    """The chunk boundary of a view after a delta on ``base`` (of length ``start``).

    Appending keeps the boundary; a delta on an older prefix (a rewind's branch) or a
    full row starts a new segment there, so a later chunk never covers items of the
    other branch.
    """
    if view is not None and (base == view.tip or start >= view.chunk_len):
        return view.chunk, view.chunk_len
    return base, start


@dataclass
class _ListView:
    """A materialised list plus the stored versions that are prefixes of it."""

    items: list[Any]
    lengths: dict[str, int] = field(default_factory=dict)
    tip: str | None = None
    """The version whose value is all of ``items``."""
    chunk: str | None = None
    """The newest chunk row's version on this chain (None: the chain's start)."""
    chunk_len: int = 0
    """Its length: items past it are in small delta rows."""

    def extends_tip(self, new: list[Any]) -> bool:
        """True if ``new`` starts with all of ``items`` (the common case: messages appended).

        List ``==`` runs in C and tries identity before ``__eq__`` for each item.
        """
        n = len(self.items)
        return self.tip is not None and len(new) >= n and new[:n] == self.items

    def common_prefix(self, new: list[Any]) -> int:
        n = min(len(self.items), len(new))
        old = self.items
        for i in range(n):
            a, b = old[i], new[i]
            if a is not b and a != b:
                return i
        return n

    def best_base(self, prefix: int) -> str | None:
        """The version with the longest stored value that fits inside ``prefix``."""
        best, best_len = None, -1
        for version, length in self.lengths.items():
            if best_len < length <= prefix:
                best, best_len = version, length
        return best


class ListViews:
    """The per-(thread, ns, channel) list cache and the delta encoding, shared by the SQLite
    and the PostgreSQL saver; each passes its own serializer and base-existence check."""

    def __init__(self) -> None:
        self._views: OrderedDict[Key, _ListView] = OrderedDict()
        self._lock = threading.Lock()
        """Guards the LRU order (the PostgreSQL saver serves several threads at once)."""

    # -- cache ---------------------------------------------------------------
    def _view(self, key: Key) -> _ListView | None:
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
            return view

    def _keep(self, key: Key, view: _ListView) -> None:
        with self._lock:
            self._views[key] = view
            self._views.move_to_end(key)
            while len(self._views) > VIEW_CACHE_SIZE:
                self._views.popitem(last=False)

    def drop(self, key: Key) -> None:
        """Forget ``key``'s view (its version was already stored by someone: trust the row)."""
        with self._lock:
            self._views.pop(key, None)

    def forget_thread(self, thread_id: str) -> None:
        with self._lock:
            for key in [k for k in self._views if k[0] == thread_id]:
                del self._views[key]

    def forget_all(self) -> None:
        with self._lock:
            self._views.clear()

    def cached(self, key: Key, version: str) -> list[Any] | None:
        """``key``'s value at ``version`` from the cache, or None if not cached."""
        view = self._view(key)
        if view is not None and version in view.lengths:
            return view.items[: view.lengths[version]]
        return None

    def cached_prefix(self, key: Key, version: str, base: str, length: int) -> list[Any] | None:
        """A prefix reference's value (``base``'s first ``length`` items) if ``base`` is cached.

        Reading history backwards meets one such row per older version; answering
        each from the cached list keeps the walk a slice per item, not a rebuild.
        """
        view = self._view(key)
        if view is None or view.lengths.get(base, -1) < length:
            return None
        with self._lock:
            view.lengths[version] = length
        return view.items[:length]

    # -- writing -------------------------------------------------------------
    def encode(
        self,
        serde: SerializerProtocol,
        key: Key,
        version: str,
        new: list[Any],
        base_exists: Callable[[str], bool],
    ) -> BlobRow:
        """(type, payload, base version or None, length) of the row storing ``new`` at ``version``."""
        view = self._view(key)
        base, start, lengths = self._pick_base(view, new)
        if base is not None and not base_exists(base):
            base, start, lengths = None, 0, {}
        chunk, chunk_len = _chunk_after(view, base, start) if base is not None else (version, len(new))
        lengths[version] = len(new)
        self._keep(key, _ListView(list(new), lengths, version, chunk, chunk_len))
        if base is None:
            return (*serde.dumps_typed(list(new)), None, len(new))
        return (*serde.dumps_typed(new[start:]), base, len(new))

    @staticmethod
    def _pick_base(view: _ListView | None, new: list[Any]) -> tuple[str | None, int, dict[str, int]]:
        """(base version, its length, the lengths still valid as prefixes of ``new``)."""
        if view is None:
            return None, 0, {}
        try:
            if view.extends_tip(new):
                base, prefix = view.tip, len(view.items)
                lengths = view.lengths  # every stored prefix of items is a prefix of new
            else:
                prefix = view.common_prefix(new)
                base = view.best_base(prefix)
                lengths = {v: n for v, n in view.lengths.items() if n <= prefix}
        except Exception:  # noqa: BLE001 - items whose == raises (numpy arrays): store in full
            return None, 0, {}
        if base is None:
            return None, 0, {}
        return base, view.lengths[base], lengths

    # -- reading -------------------------------------------------------------
    def rebuild(self, serde: SerializerProtocol, key: Key, rows: Sequence[tuple]) -> list[Any]:
        """The list from its chain ``rows`` (version, type, payload, length), base first."""
        with _gc_paused():
            return self._rebuild(serde, key, rows)

    def _rebuild(self, serde: SerializerProtocol, key: Key, rows: Sequence[tuple]) -> list[Any]:
        items: list[Any] = []
        lengths: dict[str, int] = {}
        chunk, chunk_len = None, 0
        for version, type_, blob, length in rows:
            before = len(items)
            if type_ == PREFIX_TYPE:
                del items[length:]
                # versions past the cut belong to another branch: no longer prefixes of items
                lengths = {v: n for v, n in lengths.items() if n <= length}
            else:
                items.extend(serde.loads_typed((type_, blob)))
            if len(items) != length:
                raise CorruptDatabaseError(
                    f"list value {key!r}@{version} rebuilt to {len(items)} items, stored {length}"
                )
            if type_ != PREFIX_TYPE and (before == 0 or length - before >= CHUNK_ITEMS):
                chunk, chunk_len = version, length
            elif length < chunk_len:
                chunk, chunk_len = version, length
            lengths[version] = length
        self._keep(key, _ListView(items, lengths, rows[-1][0], chunk, chunk_len))
        return list(items)


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

    def _note_empty(self, key: Key, version: str) -> None:
        with self._lock:
            self._empty[(key, version)] = None
            while len(self._empty) > EMPTY_CACHE_SIZE:
                self._empty.popitem(last=False)

    def _known_empty(self, key: Key, version: str) -> bool:
        with self._lock:
            return (key, version) in self._empty

    def forget_thread(self, thread_id: str) -> None:
        super().forget_thread(thread_id)
        with self._lock:
            for entry in [e for e in self._empty if e[0][0] == thread_id]:
                del self._empty[entry]

    def forget_all(self) -> None:
        super().forget_all()
        with self._lock:
            self._empty.clear()

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
            if type(values[channel]) is list:
                exists = lambda base: _base_exists(cur, key, base)  # noqa: E731
                chunked = self._chunk_row(key, str(version), values[channel], exists)
                if chunked is not None:
                    row, covered = chunked
                else:
                    row = self.encode(self.serde, key, str(version), values[channel], exists)
            else:
                row = (*self.serde.dumps_typed(values[channel]), None, None)
            cur.execute(_INSERT_SQL, (thread_id, ns, channel, str(version), *row))
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
        self._keep(key, _ListView(list(new), lengths, version, version, len(new)))
        row = (*self.serde.dumps_typed(new[start:] if base else list(new)), base, len(new))
        return row, covered

    # -- reading -------------------------------------------------------------
    def read(
        self, cur: sqlite3.Cursor, thread_id: str, ns: str, versions: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The channel values of a checkpoint whose ``channel_versions`` are ``versions``."""
        values: dict[str, Any] = {}
        for channel, version in versions.items():
            value = self._read_one(cur, (thread_id, ns, channel), str(version))
            if value is not _EMPTY:
                values[channel] = value
        return values

    def _read_one(self, cur: sqlite3.Cursor, key: Key, version: str) -> Any:
        cached = self.cached(key, version)
        if cached is not None:
            return cached
        if self._known_empty(key, version):
            return _EMPTY
        head = cur.execute(_ROW_SQL, (*key, version)).fetchone()
        if head is None:
            return _EMPTY  # no row: the channel was empty at that version
        type_, base, length, blob = head
        if length is None:
            return self.serde.loads_typed((type_, blob))
        if type_ == PREFIX_TYPE and (hit := self.cached_prefix(key, version, base, length)) is not None:
            return hit
        if base is None:
            return self.rebuild(self.serde, key, [(version, type_, blob, length)])
        return self.rebuild(self.serde, key, cur.execute(_CHAIN_SQL, (*key, version, *key)).fetchall())


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
