"""Bugs LangGraph's own test suites found in stateline's savers (issue 10), one test each."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import START, StateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from stateline.checkpointing import StatelineAsyncPostgresSaver, StatelineSqliteSaver, open_database, prune
from stateline.checkpointing._pg import StatelinePostgresSaver
from stateline.checkpointing._serde import FastReadSerializer


def _cp(messages: list[Any], version: str, parent: dict | None = None) -> tuple[dict, dict]:
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": messages}
    cp["channel_versions"] = {"messages": version}
    return cp, {"messages": version}


def _n_messages(n: int) -> tuple[dict, dict]:
    return _cp([HumanMessage(str(j), id=str(j)) for j in range(n)], f"{n:010d}.00000001")


def _edit_round_trip(url: str) -> str:
    """Put, read back, edit a message in place, put again; what a fresh saver reads."""
    db = open_database(url)
    saver = db.saver
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    msgs = [HumanMessage("hi", id="1"), AIMessage("draft", id="2")]
    cp, versions = _cp(msgs, "0000000001.00000001")
    config = saver.put(config, cp, {}, versions)
    read = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
    read[1].content = "edited"  # LangGraph's "edit the message, then update_state"
    cp2, versions2 = _cp([*read, HumanMessage("next", id="3")], "0000000002.00000002")
    saver.put(config, cp2, {}, versions2)
    db.close()
    fresh = open_database(url)
    try:
        head = fresh.saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}})
        return head.checkpoint["channel_values"]["messages"][1].content
    finally:
        fresh.close()


def test_an_edit_in_place_of_a_read_back_message_reaches_disk(db_url):
    assert _edit_round_trip(db_url) == "edited"


class Item(BaseModel):
    name: str


def test_strict_msgpack_allowlist_clone_reads_the_model():
    strict = FastReadSerializer(allowed_msgpack_modules=None)
    clone = strict.with_msgpack_allowlist([Item])
    assert clone.loads_typed(clone.dumps_typed(Item(name="x"))) == Item(name="x")


def test_from_conn_string_setup_is_all_a_put_needs(pg_url):
    with StatelinePostgresSaver.from_conn_string(pg_url) as saver:
        saver.setup()
        cp, versions = _cp([HumanMessage("hi", id="1")], "0000000001.00000001")
        config = saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, cp, {}, versions)
        assert saver.get_tuple(config).checkpoint["channel_values"]["messages"][0].content == "hi"


def test_pipeline_mode_keep_last_and_prune(pg_url):
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(pg_url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        StatelinePostgresSaver(conn).setup()
        with conn.pipeline() as pipe:
            saver = StatelinePostgresSaver(conn, pipe=pipe)
            config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
            for i in range(3):
                cp, versions = _n_messages(i + 1)
                config = saver.put(config, cp, {}, versions)
            assert saver.keep_last(["t"], 2) == 1
            saver.prune(["t"])
            assert len(list(saver.list({"configurable": {"thread_id": "t"}}))) == 1


def test_delta_history_ends_on_a_parent_loop(tmp_path):
    saver = StatelineSqliteSaver(sqlite3.connect(tmp_path / "x.db", check_same_thread=False))
    base = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    a, b = empty_checkpoint(), empty_checkpoint()
    b["id"] = a["id"][:-1] + ("0" if a["id"][-1] != "0" else "1")
    saver.put({"configurable": {**base["configurable"], "checkpoint_id": b["id"]}}, a, {}, {})
    saver.put({"configurable": {**base["configurable"], "checkpoint_id": a["id"]}}, b, {}, {})
    head = {"configurable": {**base["configurable"], "checkpoint_id": a["id"]}}
    assert saver.get_delta_channel_history(config=head, channels=["ch"]) == {"ch": {"writes": []}}


class DeltaState(TypedDict):
    items: Annotated[list, DeltaChannel(lambda state, writes: state + [x for w in writes for x in w])]


def test_retention_never_empties_a_delta_channel(db_url):
    db = open_database(db_url)
    try:
        builder = StateGraph(DeltaState)
        builder.add_node("add", lambda s: {"items": ["x"]})
        builder.add_edge(START, "add")
        graph = builder.compile(checkpointer=db.saver)
        config = {"configurable": {"thread_id": "d"}}
        for _ in range(5):
            graph.invoke({"items": []}, config)
        assert len(graph.get_state(config).values["items"]) == 5
        prune(db, keep_last=1, vacuum_after=False)
        assert len(graph.get_state(config).values["items"]) == 5
    finally:
        db.close()


def test_async_postgres_saver_same_layout(pg_url):
    from stateline.checkpointing import StatelineAsyncPostgresSaver

    async def main() -> tuple[str, str]:
        async with StatelineAsyncPostgresSaver.from_conn_string(pg_url) as saver:
            await saver.setup()
            config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
            for i in range(3):
                cp, versions = _n_messages(i + 1)
                config = await saver.aput(config, cp, {}, versions)
            head = await saver.aget_tuple(config)
            return head.checkpoint["channel_values"]["messages"][-1].content, "ok"

    assert asyncio.run(main())[0] == "2"
    with StatelinePostgresSaver.from_conn_string(pg_url) as sync:  # the sync saver reads the deltas
        head = sync.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}})
        assert [m.content for m in head.checkpoint["channel_values"]["messages"]] == ["0", "1", "2"]
        bases = sync.conn.execute("SELECT count(*) AS n FROM checkpoint_blobs WHERE base_version IS NOT NULL")
        assert bases.fetchone()["n"] == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_pg_inline_none_is_no_seed_on_both_paths(pg_url, mode):
    with StatelinePostgresSaver.from_conn_string(pg_url) as saver:
        saver.setup()
        config = {"configurable": {"thread_id": "n", "checkpoint_ns": ""}}
        cp = empty_checkpoint()
        cp["channel_values"], cp["channel_versions"] = {"ch": None}, {"ch": "0000000001.00000001"}
        config = saver.put(config, cp, {}, {"ch": "0000000001.00000001"})
        saver.put_writes(config, [("ch", "w")], "task")
        head = saver.put(config, empty_checkpoint(), {}, {})
        if mode == "sync":
            got = saver.get_delta_channel_history(config=head, channels=["ch"])
        else:
            got = asyncio.run(saver.aget_delta_channel_history(config=head, channels=["ch"]))
        assert got == {"ch": {"writes": [("task", "ch", "w")]}}


def test_a_value_put_at_a_version_stored_empty_is_kept(tmp_path):
    """Re-putting a checkpoint with a value for a version that had none stores the value
    (stock SqliteSaver keeps every value given; LangGraph's seed test writes a
    ``_DeltaSnapshot`` into an ancestor this way)."""
    from langgraph.checkpoint.serde.types import _DeltaSnapshot

    saver = StatelineSqliteSaver(sqlite3.connect(tmp_path / "x.db", check_same_thread=False))
    cp = empty_checkpoint()
    cp["channel_versions"] = {"items": "1.a"}  # a version with no value (an empty channel)
    config = saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, cp, {}, {"items": "1.a"})
    assert "items" not in saver.get_tuple(config).checkpoint["channel_values"]
    cp["channel_values"] = {"items": _DeltaSnapshot(["seeded", "items"])}
    saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, cp, {}, {})
    for reader in (saver, StatelineSqliteSaver(sqlite3.connect(tmp_path / "x.db", check_same_thread=False))):
        got = reader.get_tuple(config).checkpoint["channel_values"]["items"]
        assert isinstance(got, _DeltaSnapshot) and got.value == ["seeded", "items"]


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_pg_snapshot_put_at_a_version_stored_empty_reads_back(pg_url, driver):
    """The PostgreSQL twin: a ``_DeltaSnapshot`` re-put into a checkpoint whose version was
    stored empty read back as its inline marker ``True`` (found by LangGraph's sqlite
    seed test run on the PostgreSQL savers, tests/checkpointing/langgraph_delta)."""
    from langgraph.checkpoint.serde.types import _DeltaSnapshot

    async def run(saver: Any) -> None:
        cp = empty_checkpoint()
        cp["channel_versions"] = {"items": "1.a"}
        config = await saver.aput({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, cp, {}, {"items": "1.a"})
        cp["channel_values"] = {"items": _DeltaSnapshot(["seeded"])}
        await saver.aput({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, cp, {}, {})
        got = (await saver.aget_tuple(config)).checkpoint["channel_values"]["items"]
        assert isinstance(got, _DeltaSnapshot) and got.value == ["seeded"]

    async def main() -> None:
        if driver == "async":
            async with StatelineAsyncPostgresSaver.from_conn_string(pg_url) as saver:
                await saver.setup()
                await run(saver)
        else:
            with StatelinePostgresSaver.from_conn_string(pg_url) as saver:
                saver.setup()
                await run(saver)

    asyncio.run(main())


def test_read_only_database_reads_delta_history_and_task_paths(tmp_path):
    db = tmp_path / "ro.db"
    saver = StatelineSqliteSaver(sqlite3.connect(db, check_same_thread=False))
    root = empty_checkpoint()
    root["channel_values"], root["channel_versions"] = {"ch": "seed"}, {"ch": 1}
    root_config = saver.put({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, root, {}, {"ch": 1})
    saver.put_writes(root_config, [("ch", "write")], "task", "~__pregel_pull, n")
    child = saver.put(root_config, empty_checkpoint(), {}, {})
    assert saver.conn.execute("SELECT task_path FROM sl_writes").fetchall() == [("~__pregel_pull, n",)]
    saver.conn.close()
    reader = StatelineSqliteSaver(sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False))
    want = {"ch": {"seed": "seed", "writes": [("task", "ch", "write")]}}
    assert reader.get_delta_channel_history(config=child, channels=["ch"]) == want
    assert asyncio.run(reader.aget_delta_channel_history(config=child, channels=["ch"])) == want


@pytest.mark.parametrize("use_pool", [False, True])
def test_async_pg_reads_a_delta_chain_it_has_not_cached(pg_url, use_pool):
    """A cold ``StatelineAsyncPostgresSaver`` rebuilding a list delta inside stock's
    ``aget_tuple``/``alist`` cursor must not wait on its own lock (it hung after prune)."""
    from psycopg import AsyncConnection
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from stateline.checkpointing import StatelineAsyncPostgresSaver

    async def main() -> tuple[list[str], int]:
        async with StatelineAsyncPostgresSaver.from_conn_string(pg_url) as saver:
            await saver.setup()
            config = {"configurable": {"thread_id": "cold", "checkpoint_ns": ""}}
            for i in range(3):
                cp, versions = _n_messages(i + 1)
                config = await saver.aput(config, cp, {}, versions)
        thread = {"configurable": {"thread_id": "cold"}}
        kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
        if use_pool:
            async with AsyncConnectionPool(pg_url, kwargs=kwargs, open=False) as pool:
                cold = StatelineAsyncPostgresSaver(pool)
                head = await asyncio.wait_for(cold.aget_tuple(config), 20)
                listed = await asyncio.wait_for(_count(cold.alist(thread)), 20)
        else:
            async with await AsyncConnection.connect(pg_url, **kwargs) as conn:
                cold = StatelineAsyncPostgresSaver(conn)
                head = await asyncio.wait_for(cold.aget_tuple(config), 20)
                listed = await asyncio.wait_for(_count(cold.alist(thread)), 20)
        return [m.content for m in head.checkpoint["channel_values"]["messages"]], listed

    assert asyncio.run(main()) == (["0", "1", "2"], 3)


async def _count(items: Any) -> int:
    return len([item async for item in items])


def test_what_get_tuple_returns_does_not_alias_what_put_was_given(db_url):
    """A reader editing a read-back message must not edit the caller's object (LangGraph's
    fake model hands out the same AIMessage each run), nor a caller's edit reach readers."""
    db = open_database(db_url)
    try:
        saver = db.saver
        config = {"configurable": {"thread_id": "alias", "checkpoint_ns": ""}}
        given = [HumanMessage("hi", id="1"), AIMessage("draft", id="2")]
        cp, versions = _cp(given, "0000000001.00000001")
        config = saver.put(config, cp, {}, versions)
        cp2, versions2 = _cp([*given, HumanMessage("more", id="3")], "0000000002.00000002")
        config = saver.put(config, cp2, {}, versions2)
        read = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        assert [m.content for m in read] == ["hi", "draft", "more"]
        read[1].content = "edited by the reader"
        assert given[1].content == "draft"
        given[0].content = "edited by the caller"
        again = saver.get_tuple(config).checkpoint["channel_values"]["messages"]
        assert again[0].content == "hi"
    finally:
        db.close()
