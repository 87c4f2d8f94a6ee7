"""``get_delta_channel_history`` for stateline's savers: LangGraph's walk, with a cycle guard.

A ``DeltaChannel`` rebuilds its value from the writes of the target's ancestors back to the
nearest one that stores a value (the *seed*). The walk follows ``parent_config`` through
the saver's own ``get_tuple`` (so delta-encoded lists, archived segments and encryption are
read as everywhere else) and stops at a checkpoint it has already visited: a parent chain
that loops (a ``put`` naming a descendant as parent) ends instead of hanging.

``none_is_value``: on SQLite a stored ``None`` is a value (stock ``SqliteSaver`` seeds from
it); on PostgreSQL an inline JSON ``null`` cannot be told from "nothing stored", and stock
``PostgresSaver`` keeps walking: both stateline PostgreSQL savers, sync and async, do that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple, DeltaChannelHistory, PendingWrite

Fetch = Callable[[RunnableConfig], CheckpointTuple | None]
AFetch = Callable[[RunnableConfig], Awaitable[CheckpointTuple | None]]


class _Walk:
    """The state of one walk over the ancestors of a target checkpoint."""

    def __init__(self, channels: Sequence[str], none_is_value: bool) -> None:
        self.channels = list(channels)
        self.none_is_value = none_is_value
        self.writes: dict[str, list[PendingWrite]] = {c: [] for c in channels}
        self.seeds: dict[str, Any] = {}
        self.remaining = set(channels)
        self.seen: set[tuple[str, str]] = set()

    def next_config(self, tup: CheckpointTuple | None) -> RunnableConfig | None:
        """The parent to visit after ``tup``, or None when the walk is over."""
        if tup is None or not self.remaining:
            return None
        parent = tup.parent_config
        if parent is None:
            return None
        conf = parent["configurable"]
        key = (str(conf.get("checkpoint_ns", "")), str(conf.get("checkpoint_id")))
        if key in self.seen:  # the parent chain loops: everything on it was visited
            return None
        self.seen.add(key)
        return parent

    def visit(self, tup: CheckpointTuple) -> None:
        for write in reversed(tup.pending_writes or []):
            if write[1] in self.remaining:
                self.writes[write[1]].append(write)
        values = tup.checkpoint["channel_values"]
        for ch in [c for c in self.remaining if c in values]:
            if values[ch] is None and not self.none_is_value:
                continue
            self.seeds[ch] = values[ch]
            self.remaining.discard(ch)

    def result(self) -> dict[str, DeltaChannelHistory]:
        out: dict[str, DeltaChannelHistory] = {}
        for ch in self.channels:
            entry: DeltaChannelHistory = {"writes": list(reversed(self.writes[ch]))}
            if ch in self.seeds:
                entry["seed"] = self.seeds[ch]
            out[ch] = entry
        return out


def _start(walk: _Walk, target: CheckpointTuple | None) -> RunnableConfig | None:
    if target is not None:
        conf = target.config["configurable"]
        walk.seen.add((str(conf.get("checkpoint_ns", "")), str(conf["checkpoint_id"])))
    return walk.next_config(target)


def delta_history(
    fetch: Fetch, config: RunnableConfig, channels: Sequence[str], *, none_is_value: bool
) -> Mapping[str, DeltaChannelHistory]:
    """Per channel: the on-path writes oldest first, and the seed if one was found."""
    if not channels:
        return {}
    walk = _Walk(channels, none_is_value)
    cursor = _start(walk, fetch(config))
    while cursor is not None:
        tup = fetch(cursor)
        if tup is not None:
            walk.visit(tup)
        cursor = walk.next_config(tup)
    return walk.result()


async def adelta_history(
    fetch: AFetch, config: RunnableConfig, channels: Sequence[str], *, none_is_value: bool
) -> Mapping[str, DeltaChannelHistory]:
    """``delta_history`` over an async ``get_tuple``."""
    if not channels:
        return {}
    walk = _Walk(channels, none_is_value)
    cursor = _start(walk, await fetch(config))
    while cursor is not None:
        tup = await fetch(cursor)
        if tup is not None:
            walk.visit(tup)
        cursor = walk.next_config(tup)
    return walk.result()


DELTA_METADATA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")
"""Metadata keys LangGraph writes for a thread whose graph has a ``DeltaChannel``."""


def uses_delta_channel(metadata: Mapping[str, Any] | None, values: Mapping[str, Any] | None = None) -> bool:
    """Whether a checkpoint belongs to a thread that rebuilds a channel from older checkpoints."""
    from langgraph.checkpoint.serde.types import _DeltaSnapshot

    if metadata and any(k in metadata for k in DELTA_METADATA_KEYS):
        return True
    return bool(values) and any(isinstance(v, _DeltaSnapshot) for v in (values or {}).values())
