"""The per-(thread, ns, channel) list cache and the delta encoding, shared by both savers.

``_ListView`` holds, for one (thread, ns, channel), a list ``items`` and a map ``lengths``
such that for every version v in it, ``items[:lengths[v]]`` *is* v's stored value while
nobody changed an item in place. A new list L is stored as (base u, L[lengths[u]:]) only
after each of L's first lengths[u] items was found to be the same as the stored item.

**Edits in place.** Readers get the cached item objects (a slice, so long lists read
fast), and a caller may edit one in place and save it again (LangGraph's "edit the tool
call, then ``update_state``"). An identity check would then call the edited item
unchanged and store only the new tail. So a view also keeps ``private``: its own copies
of the stored items, decoded from the bytes the store wrote and never handed out. Once a
view's items were handed to a reader (``exposed``), the next ``encode`` compares the new
list with ``private`` by value (type and ``__dict__``, i.e. a C-level dict compare per
message): an edited item ends the common prefix, so it is stored. Objects given to
``put`` are trusted not to change afterwards until read back (LangGraph's contract:
``MemorySaverAssertImmutable``), so consecutive puts of a run keep the identity check.
After a cold read ``private`` is None and is decoded from the stored rows (``reload``)
only if a put needs it.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from stateline.errors import CorruptDatabaseError

VIEW_CACHE_SIZE = 256
"""How many (thread, ns, channel) list views stay in memory (LRU)."""

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

Key = tuple[str, str, str]
BlobRow = tuple[str, bytes, str | None, int]
"""(type, payload, base version or None, list length) of one ``sl_blobs`` row."""
ChainRows = Sequence[tuple[str, str, bytes | None, int]]
"""(version, type, payload, length) rows of a delta chain, base first."""
Reload = Callable[[str], ChainRows]
"""The chain rows of a stored version (for a view whose private copies are not decoded yet)."""


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


def _state(item: Any) -> Any:
    """What equality of a stored item means, cheap to compare in C: type and fields."""
    fields = getattr(item, "__dict__", None)
    return item if fields is None else (type(item), fields)


def value_prefix(new: Sequence[Any], private: Sequence[Any]) -> int:
    """How many leading items of ``new`` equal ``private``'s, compared by value."""
    n = min(len(new), len(private))
    if list(map(_state, new[:n])) == list(map(_state, private[:n])):
        return n
    for i in range(n):
        if _state(new[i]) != _state(private[i]):
            return i
    return n


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
    private: list[Any] | None = None
    """The store's own copies of ``items`` (never handed out); None: not decoded yet."""
    exposed: bool = False
    """``items`` were handed to a reader since they were cached (they may be edited)."""

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

    def has_version(self, key: Key, version: str) -> bool:
        """Whether ``key``'s cached view holds ``version`` (so it is stored)."""
        view = self._view(key)
        return view is not None and version in view.lengths

    def cached(self, key: Key, version: str) -> list[Any] | None:
        """``key``'s value at ``version`` from the cache, or None if not cached."""
        view = self._view(key)
        if view is not None and version in view.lengths:
            view.exposed = True
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
        view.exposed = True
        return view.items[:length]

    # -- writing -------------------------------------------------------------
    def checked_view(self, serde: SerializerProtocol, key: Key, reload: Reload | None) -> _ListView | None:
        """``key``'s view, safe to diff against: if readers got its items, items are
        re-pointed at the private copies (so an edited item no longer matches)."""
        view = self._view(key)
        if view is None or not view.exposed:
            return view
        if view.private is None:
            if reload is None or view.tip is None:
                self.drop(key)
                return None
            fresh = self._decode(serde, key, reload(view.tip))
            if fresh is None or len(fresh.items) != len(view.items):
                self.drop(key)
                return None
            view.private = fresh.items
        kept = value_prefix(view.items, view.private)  # an item edited in place ends the prefix
        lengths = {v: n for v, n in view.lengths.items() if n <= kept}
        tip = max(lengths, key=lengths.__getitem__, default=None)
        if tip is None:
            self.drop(key)
            return None
        n = lengths[tip]
        # the items up to n are equal to the stored ones now: they may stand for them again
        chunk, chunk_len = (view.chunk, view.chunk_len) if view.chunk_len <= n else (tip, n)
        view = _ListView(view.items[:n], lengths, tip, chunk, chunk_len, view.private[:n])
        self._keep(key, view)
        return view

    def remember(
        self, serde: SerializerProtocol, key: Key, view: _ListView, tail: tuple[str, bytes], start: int,
        previous: _ListView | None,
    ) -> None:
        """Cache ``view`` with items and private copies that share nothing with the caller.

        ``items`` (what readers get) is the previous view's items up to ``start`` plus
        ``tail`` decoded from the bytes just written, not the objects given to ``put``: a
        reader editing what it got must not edit the caller's objects (e.g. a model's
        message), nor the caller's later edits reach readers. ``private`` is the same
        from a second decode (never handed out). The next put of the same run holds the
        caller's objects for the tail: they compare by ``==`` (a few items), the rest by identity.
        """
        head = previous.private if previous is not None else None
        if start == 0:
            view.items = serde.loads_typed(tail)
            view.private = serde.loads_typed(tail)
        else:
            assert previous is not None and len(previous.items) >= start
            view.items = previous.items[:start] + serde.loads_typed(tail)
            if head is not None and len(head) >= start:
                view.private = head[:start] + serde.loads_typed(tail)
        self._keep(key, view)

    def encode(
        self,
        serde: SerializerProtocol,
        key: Key,
        version: str,
        new: list[Any],
        base_exists: Callable[[str], bool],
        reload: Reload | None = None,
    ) -> BlobRow:
        """(type, payload, base version or None, length) of the row storing ``new`` at ``version``."""
        view = self.checked_view(serde, key, reload)
        base, start, lengths = self._pick_base(view, new)
        if base is not None and not base_exists(base):
            base, start, lengths = None, 0, {}
        chunk, chunk_len = _chunk_after(view, base, start) if base is not None else (version, len(new))
        lengths[version] = len(new)
        tail = serde.dumps_typed(list(new) if base is None else new[start:])
        self.remember(serde, key, _ListView(list(new), lengths, version, chunk, chunk_len), tail, start, view)
        return (*tail, base, len(new))

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
    def rebuild(self, serde: SerializerProtocol, key: Key, rows: ChainRows) -> list[Any]:
        """The list from its chain ``rows`` (version, type, payload, length), base first."""
        view = self._decode(serde, key, rows)
        assert view is not None
        view.exposed = True
        self._keep(key, view)
        return list(view.items)

    @staticmethod
    def _decode(serde: SerializerProtocol, key: Key, rows: ChainRows) -> _ListView | None:
        if not rows:
            return None
        with _gc_paused():
            return _decode_chain(serde, key, rows)


def _decode_chain(serde: SerializerProtocol, key: Key, rows: ChainRows) -> _ListView:
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
            items.extend(serde.loads_typed((type_, blob)))  # type: ignore[arg-type]  # only prefix rows lack a blob
        if len(items) != length:
            raise CorruptDatabaseError(f"list value {key!r}@{version} rebuilt to {len(items)} items, stored {length}")
        if type_ != PREFIX_TYPE and (before == 0 or length - before >= CHUNK_ITEMS):
            chunk, chunk_len = version, length
        elif length < chunk_len:
            chunk, chunk_len = version, length
        lengths[version] = length
    return _ListView(items, lengths, rows[-1][0], chunk, chunk_len)
