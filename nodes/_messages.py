"""``append_messages``: LangGraph's ``add_messages`` without re-reading the whole conversation.

``add_messages(left, right)`` converts every message of ``left``, gives ids to those without,
copies the list and indexes every id, on every merge: work that grows with the thread, twice
per turn (the user's message, the agent's reply). Here the ids of a list this reducer made are
remembered with it, so appending new messages (the common case: none of their ids is in the
list yet) costs only the new ones and one list copy; a list it has not seen (just read from a
checkpoint) costs one pass over its ids when it holds only messages with ids of their own.
Anything else — a replacement by id, a ``RemoveMessage``, a dict or tuple to convert, a
message chunk, a message without an id — goes to ``add_messages`` itself, so the result is
always exactly ``add_messages``'.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from langchain_core.messages import BaseMessage, RemoveMessage
from langgraph.graph.message import add_messages

KEEP = 256
"""Lists whose ids are remembered (the newest merges): a few per live conversation."""

_IDS: OrderedDict[int, tuple[list[Any], int, set[str]]] = OrderedDict()
"""id(list) -> (that list, its length then, its message ids); holding the list keeps its id unique."""
_LOCK = threading.Lock()


def append_messages(left: Any, right: Any) -> Any:
    """The reducer of ``ConversationState.messages``: ``add_messages``' result, cheaper to get."""
    new = [right] if isinstance(right, BaseMessage) else right
    appendable = isinstance(left, list) and _appendable(new)
    known = _take(left) if appendable else None
    if known is None and appendable:
        known = _plain_ids(left)
    if known is not None:
        fresh: set[str] = set()
        for m in new:
            if m.id is None:
                m.id = str(uuid.uuid4())  # as add_messages does, in place
            if m.id in known or m.id in fresh:
                break  # an update by id: add_messages decides
            fresh.add(m.id)
        else:
            merged = left + new
            known |= fresh
            _remember(merged, known)
            return merged
    merged = add_messages(left, right)
    if isinstance(merged, list):
        _remember(merged, {m.id for m in merged if isinstance(m, BaseMessage) and m.id is not None})
    return merged


def _appendable(new: Any) -> bool:
    return isinstance(new, list) and all(isinstance(m, BaseMessage) and not isinstance(m, RemoveMessage) for m in new)


def _plain_ids(left: list[Any]) -> set[str] | None:
    """The ids of a list this reducer has not seen (just read from a checkpoint) when
    ``add_messages`` would keep it as it is: messages (no dicts to convert, no chunks to turn
    into messages), each with an id of its own. One pass over ids instead of a full merge."""
    try:
        ids = {m.id for m in left}
    except AttributeError:  # a dict or another non-message: add_messages converts it
        return None
    if None in ids or len(ids) != len(left):
        return None
    if any(t.__name__.endswith("Chunk") for t in {type(m) for m in left}):
        return None
    return ids


def _take(left: list[Any]) -> set[str] | None:
    """The ids of ``left`` if this reducer made it and it is unchanged since (the entry is
    consumed: the set moves on to the merged list, the old list is not extended twice)."""
    with _LOCK:
        entry = _IDS.pop(id(left), None)
    if entry is None or entry[0] is not left or entry[1] != len(left) or len(entry[2]) != len(left):
        return None
    return entry[2]


def _remember(merged: list[Any], ids: set[str]) -> None:
    with _LOCK:
        _IDS[id(merged)] = (merged, len(merged), ids)
        while len(_IDS) > KEEP:
            _IDS.popitem(last=False)
