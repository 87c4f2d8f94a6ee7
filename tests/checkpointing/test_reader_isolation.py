"""Two readers of one stored version never share objects (issue 10, item 3).

A reader may edit what it got in place (LangGraph's "edit the tool call, then
``update_state``"); until it saves, no other reader may see the edit, nor may another
reader's save store it. Runs on SQLite and PostgreSQL (``db_url``) and on the async
PostgreSQL saver.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint

from stateline.checkpointing import StatelineAsyncPostgresSaver, open_database

CONFIG = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


def _checkpoint(messages: list[Any], n: int) -> tuple[dict, dict]:
    cp = empty_checkpoint()
    version = f"{n:010d}.00000001"
    cp["channel_values"] = {"messages": messages}
    cp["channel_versions"] = {"messages": version}
    return cp, {"messages": version}


def _put(saver: Any, config: dict, messages: list[Any], n: int) -> dict:
    return saver.put(config, *_checkpoint(messages, n)[:1], {}, _checkpoint(messages, n)[1])


def _messages() -> list[Any]:
    call = {"name": "lookup", "args": {"sku": "A-1"}, "id": "c1", "type": "tool_call"}
    return [HumanMessage("hi", id="1"), AIMessage("draft", id="2", tool_calls=[call])]


def _edit(messages: list[Any]) -> None:
    """Unsaved in-place edits: an attribute and a nested tool-call argument."""
    messages[1].content = "unsaved"
    messages[1].tool_calls[0]["args"]["sku"] = "B-2"


def _untouched(messages: list[Any]) -> bool:
    return messages[1].content == "draft" and messages[1].tool_calls[0]["args"] == {"sku": "A-1"}


def test_get_tuple_readers_do_not_share_objects(db_url):
    db = open_database(db_url)
    try:
        saver = db.saver
        config = _put(saver, CONFIG, _messages(), 1)
        first = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        _edit(first)
        second = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        assert _untouched(second)
        listed = next(iter(saver.list(CONFIG))).checkpoint["channel_values"]["messages"]
        assert _untouched(listed)
        # the other reader saves its own (unedited) list: the first reader's edit is not stored
        _put(saver, config, [*second, HumanMessage("more", id="3")], 2)
    finally:
        db.close()
    fresh = open_database(db_url)
    try:
        assert _untouched(fresh.saver.get_tuple(CONFIG).checkpoint["channel_values"]["messages"])
    finally:
        fresh.close()


def test_what_put_was_given_is_not_what_readers_get(db_url):
    """The caller keeps its objects after put (a graph's result): its edits reach no reader."""
    db = open_database(db_url)
    try:
        mine = _messages()
        config = _put(db.saver, CONFIG, mine, 1)
        read = db.saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        _edit(read)  # a reader's edit does not reach the caller's objects ...
        assert _untouched(mine)
        _edit(mine)  # ... nor the caller's later edit another reader
        assert _untouched(db.saver.get_tuple(config).checkpoint["channel_values"]["messages"])
    finally:
        db.close()


def test_rebuilt_after_restart_readers_do_not_share(db_url):
    """A cold read rebuilds the list into the cache: the reader does not get the cached objects."""
    db = open_database(db_url)
    _put(db.saver, CONFIG, _messages(), 1)
    db.close()
    db = open_database(db_url)
    try:
        _edit(db.saver.get_tuple(CONFIG).checkpoint["channel_values"]["messages"])
        assert _untouched(db.saver.get_tuple(CONFIG).checkpoint["channel_values"]["messages"])
    finally:
        db.close()


def test_async_postgres_readers_do_not_share_objects(pg_url):
    async def run() -> None:
        async with StatelineAsyncPostgresSaver.from_conn_string(pg_url) as saver:
            await saver.setup()
            cp, versions = _checkpoint(_messages(), 1)
            config = await saver.aput(CONFIG, cp, {}, versions)
            _edit((await saver.aget_tuple(config)).checkpoint["channel_values"]["messages"])
            assert _untouched((await saver.aget_tuple(config)).checkpoint["channel_values"]["messages"])
            listed = [t async for t in saver.alist(CONFIG)][0]
            assert _untouched(listed.checkpoint["channel_values"]["messages"])

    asyncio.run(run())


def test_stateline_runs_share_one_set_of_copies_that_no_other_reader_gets(tmp_path):
    """A turn of stateline's own (``SHARED_READ_KEY`` in its config) reads a long list without
    copying it again: one set of copies per cached list, carried from put to put. Other readers
    still get their own, so their unsaved edits never reach a run (SQLite saver)."""
    from stateline.checkpointing import SHARED_READ_KEY

    db = open_database(f"sqlite:///{tmp_path}/r.db")
    try:
        saver = db.saver
        run = {"configurable": {**CONFIG["configurable"], SHARED_READ_KEY: True}}
        config = _put(saver, CONFIG, _messages(), 1)
        first = saver.get_tuple(run).checkpoint["channel_values"]["messages"]
        again = saver.get_tuple(run).checkpoint["channel_values"]["messages"]
        assert all(a is b for a, b in zip(first, again, strict=True))  # shared, not copied per read
        outside = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        assert all(a is not b for a, b in zip(first, outside, strict=True))
        _edit(outside)
        assert _untouched(saver.get_tuple(run).checkpoint["channel_values"]["messages"])
        # the next put keeps the shared copies of the unchanged prefix
        _put(saver, config, [*again, HumanMessage("more", id="3")], 2)
        after = saver.get_tuple(run).checkpoint["channel_values"]["messages"]
        assert after[0] is first[0] and after[1] is first[1] and after[2].content == "more"
    finally:
        db.close()


class S(TypedDict):
    messages: Annotated[list, operator.add]


def _recording_graph(db: Any, seen: list) -> Any:
    """A plain LangGraph graph on ``db``'s saver whose node records the messages it was handed."""
    from langgraph.graph import START, StateGraph

    def node(state: S) -> dict:
        seen.append(state["messages"])
        n = len(state["messages"])
        return {"messages": [AIMessage(f"r{n}", id=f"r{n}")]}

    builder = StateGraph(S)
    builder.add_node("n", node)
    builder.add_edge(START, "n")
    return builder.compile(checkpointer=db.saver)


def test_a_plain_langgraph_run_reads_shared_and_get_state_copies(tmp_path):
    """A LangGraph graph on stateline's SQLite saver: the run's own checkpoint read shares the
    copies (no O(history) copy per turn); ``get_state`` gets its own, and editing them reaches no run."""
    seen: list = []
    db = open_database(f"sqlite:///{tmp_path}/g.db")
    try:
        graph = _recording_graph(db, seen)
        cfg = {"configurable": {"thread_id": "g"}}
        graph.invoke({"messages": [HumanMessage("a", id="a")]}, cfg)
        graph.invoke({"messages": [HumanMessage("b", id="b")]}, cfg)
        graph.invoke({"messages": [HumanMessage("c", id="c")]}, cfg)
        assert seen[2][0] is seen[1][0]  # the runs' reads shared the stored first message
        outside = graph.get_state(cfg).values["messages"]
        assert outside[0] is not seen[2][0]
        outside[0].content = "unsaved edit"
        graph.invoke({"messages": [HumanMessage("d", id="d")]}, cfg)
        assert seen[3][0].content == "a"
    finally:
        db.close()


def test_without_langgraphs_runtime_key_a_plain_run_gets_copies(tmp_path, monkeypatch):
    """The fallback when LangGraph's runtime key cannot be imported (another LangGraph): only
    stateline's own runs share; a plain run's read copies, which is slower, never less correct."""
    from stateline.checkpointing import SHARED_READ_KEY, _lists

    monkeypatch.setattr(_lists, "_LOOP_KEY", SHARED_READ_KEY)
    seen: list = []
    db = open_database(f"sqlite:///{tmp_path}/f.db")
    try:
        graph = _recording_graph(db, seen)
        cfg = {"configurable": {"thread_id": "f"}}
        for text in ("a", "b", "c"):
            graph.invoke({"messages": [HumanMessage(text, id=text)]}, cfg)
        assert seen[2][0] is not seen[1][0] and seen[2][0].content == "a"
    finally:
        db.close()
