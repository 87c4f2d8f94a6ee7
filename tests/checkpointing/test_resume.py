"""A run that fails mid-way resumes on StatelineSqliteSaver, also after a restart."""

from __future__ import annotations

import pytest

from stateline.checkpointing import open_database

from tests.checkpointing.storage_helpers import Chat, cfg


def test_node_failure_resumes_only_unfinished_task(chat: Chat):
    chat.say("t", "hello")
    chat.fail_in = "count"
    with pytest.raises(RuntimeError):
        chat.say("t", "again")
    state = chat.graph.get_state(cfg("t"))
    assert state.next == ("count",)
    assert any(task.error for task in state.tasks)
    chat.fail_in = None
    before = dict(chat.calls)
    result = chat.graph.invoke(None, cfg("t"), durability="sync")
    assert result["turns"] == 2
    assert len(result["messages"]) == 4
    assert chat.calls["reply"] == before["reply"]  # finished steps are not run again
    assert chat.calls["count"] == before["count"] + 1
    assert chat.graph.get_state(cfg("t")).tasks == ()


def test_resume_after_restart_reads_everything_from_the_file(db_path, chat: Chat):
    for i in range(3):
        chat.say("t", f"m{i}")
    chat.fail_in = "reply"
    with pytest.raises(RuntimeError):
        chat.say("t", "last")
    chat.db.close()
    reopened = Chat(open_database(f"sqlite:///{db_path}"))
    try:
        state = reopened.graph.get_state(cfg("t"))
        assert state.next == ("reply",)
        result = reopened.graph.invoke(None, cfg("t"), durability="sync")
        texts = [m.content for m in result["messages"]]
        assert texts[-2:] == ["last", "answer 7"]
        assert len(texts) == 8 and result["turns"] == 4
        assert reopened.calls["route"] == 0  # route had finished before the failure
    finally:
        reopened.db.close()


def test_async_graph_on_the_same_saver(chat: Chat):
    import asyncio

    from langchain_core.messages import HumanMessage

    async def run():
        await chat.graph.ainvoke({"messages": [HumanMessage("hi")]}, cfg("a"), durability="sync")
        return await chat.graph.aget_state(cfg("a"))

    state = asyncio.run(run())
    assert state.values["turns"] == 1 and len(state.values["messages"]) == 2
