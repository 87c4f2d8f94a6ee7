"""The per-(thread, ns, channel) list cache and the delta encoding, shared by both savers.

``_ListView`` holds, for one (thread, ns, channel), a list ``items`` and a map ``lengths``
such that for every version v in it, ``items[:lengths[v]]`` equals v's stored value. A
new list L is stored as (base u, L[lengths[u]:]) only after each of L's first lengths[u]
items was found equal to the cached item.

**Nobody else holds the cached items.** They are decoded from the bytes the store wrote
(never the objects given to ``put``) and never handed out: every reader gets its own
copies of the mutable items (``handout``; strings, numbers and other immutable items are
shared). So an in-place edit by one reader (LangGraph's "edit the tool call, then
``update_state``") is seen by no other reader, and the cached items always equal what is
stored. One call (one ``list()`` walk) is one reader: a ``Handouts`` memo copies each
item once for all the checkpoints it yields, so a history walk stays O(items).

**Diffing a put.** A reader's edited copy must not pass for unchanged, so the new list is
compared with ``items`` by value (type and ``__dict__``: a C-level dict compare per
message). Objects given to ``put`` are trusted not to change afterwards (LangGraph's
contract, ``MemorySaverAssertImmutable``): the view remembers them (``given``), and the
next put of the same run, which hands most of them again, matches them by identity first.
"""

from __future__ import annotations

import gc
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.serde.base import SerializerProtocol

from stateline.errors import CorruptDatabaseError

from ._handout import Plan, handout, plan

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


def value_prefix(new: Sequence[Any], old: Sequence[Any]) -> int:
    """How many leading items of ``new`` equal ``old``'s, compared by value."""
    n = min(len(new), len(old))
    if list(map(_state, new[:n])) == list(map(_state, old[:n])):
        return n
    for i in range(n):
        if _state(new[i]) != _state(old[i]):
            return i
    return n


def _identity_run(new: Sequence[Any], given: Sequence[Any]) -> int:
    """How many leading items of ``new`` are the very objects of ``given``."""
    n = min(len(new), len(given))
    if all(map(operator.is_, new[:n], given[:n])):
        return n
    return next(i for i, (a, b) in enumerate(zip(new, given, strict=False)) if a is not b)


Handouts = dict[Key, tuple["_ListView", list[Any]]]
"""One reader's copies, ``Key`` -> (view, copies of its leading items): a ``list()`` walk
passes one, so each item is copied once for every checkpoint the walk yields."""

SHARED_READ: Handouts = {}
"""The memo of graph runs' own reads (see :func:`shared_read`): they share one set of copies
per cached list (``_ListView.public``), made once per item and carried over from put to put,
so a turn reads a long conversation in O(new items), not O(items). Runs follow LangGraph's
contract — a node never edits state in place, it returns updates — so nothing they share is
edited; every other reader (``get_state``, ``get_tuple``, ``list``) still gets copies of its
own. Never filled: its identity marks the shared read."""

SHARED_READ_KEY = "__stateline_run"
"""The configurable key that marks a config as one of stateline's own graph runs
(``graphs.RUN_KEY`` is this key); ``__`` keeps it out of checkpoint metadata."""

try:  # the key LangGraph puts in the config of a running Pregel loop (its own checkpoint read included)
    from langgraph._internal._constants import CONFIG_KEY_RUNTIME as _LOOP_KEY
except ImportError:  # another langgraph: only stateline's runs share (every other read copies)
    _LOOP_KEY = SHARED_READ_KEY


def shared_read(configurable: dict[str, Any]) -> Handouts | None:
    """``SHARED_READ`` for a read made by a running graph — stateline's own runs, and any
    LangGraph run's read of its checkpoint (its config carries LangGraph's runtime key; a
    ``get_state`` or a caller's ``get_tuple`` does not) — else None: the reader's own copies."""
    return SHARED_READ if configurable.get(SHARED_READ_KEY) or _LOOP_KEY in configurable else None


@dataclass
class _ListView:
    """A materialised list plus the stored versions that are prefixes of it."""

    items: list[Any]
    """Decoded from the stored bytes; never handed out (readers get copies)."""
    lengths: dict[str, int] = field(default_factory=dict)
    tip: str | None = None
    """The version whose value is all of ``items``."""
    chunk: str | None = None
    """The newest chunk row's version on this chain (None: the chain's start)."""
    chunk_len: int = 0
    """Its length: items past it are in small delta rows."""
    given: list[Any] | None = None
    """The objects the last ``put`` was given for ``items`` (trusted unchanged since)."""
    plans: list[Plan] = field(default_factory=list)
    """How to copy each of the leading ``items`` for a reader (``_handout.plan``), made as
    items are first handed out and kept while they stay cached."""
    public: list[Any] = field(default_factory=list)
    """Copies of the leading ``items`` shared by stateline's own runs (``SHARED_READ``)."""

    def planned(self, n: int, lock: threading.Lock) -> list[Plan]:
        """``plans`` for the first ``n`` items (worked out for those that have none yet)."""
        if len(self.plans) < n:
            with lock:
                have = len(self.plans)
                self.plans.extend(map(plan, self.items[have:n]))
        return self.plans

    def common_prefix(self, new: Sequence[Any]) -> int:
        """How many leading items of ``new`` equal ``items``: the objects the last put was
        given by identity, the rest (a reader's copies, maybe edited) by value."""
        n = min(len(self.items), len(new))
        same = _identity_run(new[:n], self.given) if self.given else 0
        return n if same == n else same + value_prefix(new[same:n], self.items[same:n])

    def extends_tip(self, new: Sequence[Any]) -> bool:
        """True if ``new`` starts with all of ``items`` (the common case: messages appended)."""
        n = len(self.items)
        return self.tip is not None and len(new) >= n and self.common_prefix(new) == n

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

    def _hand_out(self, key: Key, view: _ListView, n: int, memo: Handouts | None) -> list[Any]:
        """``view.items[:n]`` as one reader gets them: copies (shared within ``memo``)."""
        plans = view.planned(n, self._lock)
        with _gc_paused():
            if memo is SHARED_READ:
                if len(view.public) < n:
                    with self._lock:
                        have = len(view.public)
                        view.public.extend(handout(view.items[have:n], plans[have:n]))
                return view.public[:n]
            if memo is None:
                return handout(view.items[:n], plans[:n])
            entry = memo.get(key)
            if entry is None or entry[0] is not view:
                entry = memo[key] = (view, [])
            copies = entry[1]
            if len(copies) < n:
                have = len(copies)
                copies.extend(handout(view.items[have:n], plans[have:n]))
            return copies[:n]

    def cached(self, key: Key, version: str, memo: Handouts | None = None) -> list[Any] | None:
        """``key``'s value at ``version`` from the cache (the reader's copies), or None if not cached."""
        view = self._view(key)
        if view is not None and version in view.lengths:
            return self._hand_out(key, view, view.lengths[version], memo)
        return None

    def cached_prefix(
        self, key: Key, version: str, base: str, length: int, memo: Handouts | None = None
    ) -> list[Any] | None:
        """A prefix reference's value (``base``'s first ``length`` items) if ``base`` is cached.

        Reading history backwards meets one such row per older version; answering
        each from the cached list keeps the walk a slice per item, not a rebuild.
        """
        view = self._view(key)
        if view is None or view.lengths.get(base, -1) < length:
            return None
        with self._lock:
            view.lengths[version] = length
        return self._hand_out(key, view, length, memo)

    # -- writing -------------------------------------------------------------
    def remember(
        self, serde: SerializerProtocol, key: Key, view: _ListView, tail: tuple[str, bytes], start: int,
        previous: _ListView | None,
    ) -> None:
        """Cache ``view`` with items that share nothing with the caller (``view.given``).

        ``items`` is the previous view's items up to ``start`` plus ``tail`` decoded from
        the bytes just written, not the objects given to ``put``: neither the caller's later
        edits nor a reader's reach the cache. ``given`` keeps the caller's objects for the
        next put's identity check.
        """
        decoded = serde.loads_typed(tail)
        if start == 0:
            view.items = decoded
        else:
            assert previous is not None and len(previous.items) >= start
            view.items = previous.items[:start] + decoded
            view.plans = previous.plans[:start]
            view.public = previous.public[:start]
        self._keep(key, view)

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
        tail = serde.dumps_typed(list(new) if base is None else new[start:])
        self.remember(serde, key, _ListView([], lengths, version, chunk, chunk_len, list(new)), tail, start, view)
        return (*tail, base, len(new))

    @staticmethod
    def _pick_base(view: _ListView | None, new: list[Any]) -> tuple[str | None, int, dict[str, int]]:
        """(base version, its length, the lengths still valid as prefixes of ``new``)."""
        if view is None:
            return None, 0, {}
        try:
            prefix = view.common_prefix(new)
        except Exception:  # noqa: BLE001 - items whose == raises (numpy arrays): store in full
            return None, 0, {}
        base: str | None
        if view.tip is not None and prefix == len(view.items):
            base = view.tip
            lengths = view.lengths  # every stored prefix of items is a prefix of new
        else:
            base = view.best_base(prefix)
            lengths = {v: n for v, n in view.lengths.items() if n <= prefix}
        if base is None:
            return None, 0, {}
        return base, view.lengths[base], lengths

    # -- reading -------------------------------------------------------------
    def rebuild(
        self, serde: SerializerProtocol, key: Key, rows: ChainRows, memo: Handouts | None = None
    ) -> list[Any]:
        """The list from its chain ``rows`` (version, type, payload, length), base first."""
        view = self._decode(serde, key, rows)
        assert view is not None
        self._keep(key, view)
        return self._hand_out(key, view, len(view.items), memo)

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
