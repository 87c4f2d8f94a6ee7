"""The ninth conformance capability, ``delta_channel_history``, as stateline's own checks.

langgraph-checkpoint-conformance 0.0.2 (the newest on the index) has eight capabilities;
these checks follow LangGraph's documented behaviour of
``BaseCheckpointSaver.get_delta_channel_history(config=, channels=)``: for each requested
channel, walking from the target's parent towards the root, the pending writes to that
channel of every checkpoint on the path (oldest first), and as ``seed`` the value of the
nearest ancestor that stores one (absent when none does). The target's own writes and
value are not part of it; writes of a sibling branch are not on the path.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from stateline.checkpointing import StatelineAsyncPostgresSaver, _archive, open_database

BACKENDS = ["sqlite", "sqlite-segments", "postgres", "postgres-async"]
_ids = itertools.count()


@asynccontextmanager
async def _saver(backend: str, request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Any]:
    if backend == "sqlite-segments":  # archive all but the newest checkpoint, one per segment
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(_archive, "KEEP_LIVE", 1)
        monkeypatch.setattr(_archive, "SEGMENT_SIZE", 1)
    if backend == "postgres-async":
        async with StatelineAsyncPostgresSaver.from_conn_string(request.getfixturevalue("pg_url")) as saver:
            await saver.setup()
            yield saver
        return
    url = request.getfixturevalue("pg_url") if backend == "postgres" else f"sqlite:///{tmp_path}/delta.db"
    db = open_database(url)
    try:
        yield db.saver
    finally:
        db.close()


async def _put(saver: Any, parent: dict, n: int, values: dict, versions: dict, writes: list) -> dict:
    """A checkpoint under ``parent`` (values, versions all new) with its pending writes."""
    cp = empty_checkpoint()
    cp["channel_values"], cp["channel_versions"] = values, versions
    config = await saver.aput(parent, cp, {"source": "loop", "step": n, "parents": {}}, dict(versions))
    if writes:
        await saver.aput_writes(config, writes, f"task-{n}")
    return config


def _v(n: int) -> str:
    return f"{n:010d}.00000001"


async def _chain(saver: Any) -> dict[str, dict]:
    """root(ch=["a"]) -> c1 -> c2 -> head, ``ch`` empty after the root; c1 -> fork beside c2."""
    thread = {"configurable": {"thread_id": f"delta-{next(_ids)}", "checkpoint_ns": ""}}
    root = await _put(saver, thread, 0, {"ch": ["a"]}, {"ch": _v(1)}, [("ch", "w0"), ("other", "x0")])
    c1 = await _put(saver, root, 1, {}, {"ch": _v(2)}, [("ch", "w1")])
    c2 = await _put(saver, c1, 2, {}, {"ch": _v(3)}, [("other", "x2"), ("ch", "w2")])
    head = await _put(saver, c2, 3, {}, {"ch": _v(4)}, [("ch", "w3")])
    fork = await _put(saver, c1, 4, {}, {"ch": _v(5)}, [("ch", "wf")])
    bare = await _put(saver, {**thread, "configurable": {**thread["configurable"], "thread_id": f"bare-{next(_ids)}"}},
                      0, {}, {"ch": _v(1)}, [("ch", "b0")])  # fmt: skip
    bare_head = await _put(saver, bare, 1, {}, {"ch": _v(2)}, [])
    return {"root": root, "c1": c1, "c2": c2, "head": head, "fork": fork, "bare_head": bare_head}


def _values(entry: dict) -> list[Any]:
    return [value for _, _, value in entry["writes"]]


async def _check_all(saver: Any) -> None:
    at = await _chain(saver)
    history = saver.aget_delta_channel_history
    assert await history(config=at["head"], channels=[]) == {}
    head = await history(config=at["head"], channels=["ch", "other", "never"])
    assert head["ch"]["seed"] == ["a"]
    assert _values(head["ch"]) == ["w0", "w1", "w2"]  # oldest first, the head's own w3 not included
    assert all(w[1] == "ch" for w in head["ch"]["writes"])
    assert _values(head["other"]) == ["x0", "x2"] and "seed" not in head["other"]
    assert head["never"] == {"writes": []}
    fork = await history(config=at["fork"], channels=["ch"])
    assert fork["ch"]["seed"] == ["a"] and _values(fork["ch"]) == ["w0", "w1"]  # c2's writes: other branch
    root = await history(config=at["root"], channels=["ch"])
    assert root == {"ch": {"writes": []}}  # the walk starts at the parent: the root has none
    bare = await history(config=at["bare_head"], channels=["ch"])
    assert bare == {"ch": {"writes": [("task-0", "ch", "b0")]}}  # no ancestor stores a value: no seed
    # the sync method (from a thread, as an async-driver saver requires) answers the same
    channels = ["ch", "other", "never"]
    sync = await asyncio.to_thread(saver.get_delta_channel_history, config=at["head"], channels=channels)
    assert sync == head


@pytest.mark.parametrize("backend", BACKENDS)
def test_delta_channel_history_capability(backend, request, tmp_path):
    async def main() -> None:
        async with _saver(backend, request, tmp_path) as saver:
            await _check_all(saver)

    asyncio.run(main())
