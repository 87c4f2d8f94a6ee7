"""Retention and time travel on both backends (SQLite and PostgreSQL), through the public API."""

from __future__ import annotations

import time
import types

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from tests.checkpointing.storage_helpers import Chat, State, cfg
from tests.checkpointing.storage_helpers import saver_rows as rows

from stateline.checkpointing import (
    Database,
    ThreadIndex,
    apply_retention,
    delete_idle_threads,
    delete_thread,
    fork,
    head_is_unfinished,
    iter_history,
    on_threads_deleted,
    open_database,
    prune,
    remove_thread_cleanup,
    rewind,
    unfinished_threads,
)
from stateline.errors import InvalidInputError, UnknownCheckpointError

@pytest.fixture
def chat(any_db: Database) -> Chat:
    return Chat(any_db)


def ids(db: Database, thread: str) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in iter_history(db, thread)]


def turn_end(db: Database, thread: str, turns: int) -> str:
    return [
        t.config["configurable"]["checkpoint_id"]
        for t in iter_history(db, thread)
        if t.checkpoint["channel_values"].get("turns") == turns and not t.metadata.get("rewound_from")
    ][-1]


def test_history_streams_in_pages_newest_first(chat: Chat):
    for thread in ("a", "b"):
        for i in range(4):
            chat.say(thread, f"{thread}{i}")
    stream = iter_history(chat.db, "a")
    assert isinstance(stream, types.GeneratorType)
    assert next(stream).checkpoint["channel_values"]["turns"] == 4
    got = ids(chat.db, "a")
    assert len(got) == 20 > 16 and got == sorted(got, reverse=True) and len(set(got)) == 20
    assert len(got) == len(list(chat.graph.get_state_history(cfg("a"))))
    assert len(list(iter_history(chat.db, "a", limit=17))) == 17
    everything = [t.config["configurable"] for t in chat.db.saver.list(None)]
    assert len({(c["thread_id"], c["checkpoint_id"]) for c in everything}) == 40


def test_rewind_fork_and_delete(chat: Chat):
    index = ThreadIndex(chat.db)
    for i in range(3):
        chat.say("src", f"m{i}")
    index.touch("src", user_id=None, workflow=None)
    before = ids(chat.db, "src")
    rewind(chat.db, "src", turn_end(chat.db, "src", 1))
    assert chat.graph.get_state(cfg("src")).values["turns"] == 1
    assert len(ids(chat.db, "src")) == len(before) + 1
    result = chat.say("src", "again")
    assert [m.content for m in result["messages"]] == ["m0", "answer 1", "again", "answer 3"]

    source = ids(chat.db, "src")
    fork(chat.db, "src", before[0], "copy")
    assert chat.graph.get_state(cfg("copy")).values["turns"] == 3
    chat.say("copy", "branch")
    assert ids(chat.db, "src") == source
    with pytest.raises(InvalidInputError):
        fork(chat.db, "src", before[0], "copy")

    assert delete_thread(chat.db, "src") is True
    assert ids(chat.db, "src") == [] and not index.exists("src")
    assert chat.graph.get_state(cfg("copy")).values["turns"] == 4
    assert delete_thread(chat.db, "src") is False


@pytest.mark.parametrize("action", ["rewind", "fork"])
def test_unknown_checkpoint_changes_nothing(chat: Chat, action):
    chat.say("t", "hi")
    before = rows(chat.db)
    with pytest.raises(UnknownCheckpointError):
        if action == "rewind":
            rewind(chat.db, "t", "no-such-checkpoint")
        else:
            fork(chat.db, "t", "no-such-checkpoint", "copy")
    assert rows(chat.db) == before


def test_prune_keeps_what_a_failed_thread_resumes_from(chat: Chat):
    for i in range(5):
        chat.say("t", f"m{i}")
    chat.say("other", "x")
    chat.fail_in = "count"
    with pytest.raises(RuntimeError):
        chat.say("t", "last")
    assert prune(chat.db, keep_last=2) > 0
    history = list(iter_history(chat.db, "t"))
    assert len(history) == 2 and history[0].pending_writes
    assert len(ids(chat.db, "other")) == 2
    chat.fail_in = None
    fresh = Chat(open_database(chat.db.url.raw))  # a new process: nothing cached
    try:
        result = fresh.graph.invoke(None, cfg("t"), durability="sync")
    finally:
        fresh.db.close()
    assert result["turns"] == 6
    assert [m.content for m in result["messages"]][-2:] == ["last", "answer 11"]


def test_delete_idle_threads_runs_hooks(chat: Chat):
    for thread in ("old", "new"):
        chat.say(thread, "hi")
    seen: list[str] = []

    def hook(db, thread_ids):
        seen.extend(thread_ids)

    on_threads_deleted(hook)
    try:
        assert delete_idle_threads(chat.db, ttl_seconds=3600) == []
        gone = delete_idle_threads(chat.db, ttl_seconds=60, now=time.time() + 3600, keep=["new"])
    finally:
        remove_thread_cleanup(hook)
    assert gone == ["old"] and seen == ["old"]
    assert ids(chat.db, "old") == [] and ids(chat.db, "new")


def _approval_graph(db: Database):
    def ask(state: State) -> dict:
        answer = interrupt("ok?")
        return {"route": str(answer)}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(checkpointer=db.saver)


def test_unfinished_detection_matches_the_graph(chat: Chat):
    saver = chat.db.saver
    head = lambda t: saver.get_tuple({"configurable": {"thread_id": t, "checkpoint_ns": ""}})  # noqa: E731
    chat.say("done", "hi")
    assert not head_is_unfinished(head("done")) and chat.graph.get_state(cfg("done")).next == ()
    chat.fail_in = "reply"
    with pytest.raises(RuntimeError):
        chat.say("failed", "hi")
    assert head_is_unfinished(head("failed")) and chat.graph.get_state(cfg("failed")).next == ("reply",)
    rewind(
        chat.db,
        "done",
        next(
            t.config["configurable"]["checkpoint_id"]
            for t in iter_history(chat.db, "done")
            if t.metadata.get("step") == 1
        ),
    )
    assert head_is_unfinished(head("done"))  # a rewound head is about to run again
    graph = _approval_graph(chat.db)
    graph.invoke({"messages": []}, cfg("wait"), durability="sync")
    assert graph.get_state(cfg("wait")).interrupts and head_is_unfinished(head("wait"))
    assert head_is_unfinished(None) is False
    chat.fail_in = None
    chat.say("idle", "hi")
    # the light probe retention uses agrees with the full head
    assert unfinished_threads(chat.db, ["done", "failed", "wait", "idle", "nothing"]) == ["done", "failed", "wait"]


def test_unfinished_detection_sees_pending_sends(any_db: Database):
    from langgraph.types import Send

    calls: list[int] = []

    def fan(state: State) -> list:
        return [Send("work", {"turns": i}) for i in range(2)]

    def work(state: State) -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first worker fails")
        return {}

    builder = StateGraph(State)
    builder.add_node("start", lambda s: {})
    builder.add_node("work", work)
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", fan)
    builder.add_edge("work", END)
    stopped = builder.compile(checkpointer=any_db.saver, interrupt_before=["work"])
    stopped.invoke({"turns": 0}, cfg("sent"), durability="sync")  # Sends saved, none run: no writes
    head = any_db.saver.get_tuple(cfg("sent"))
    assert head.checkpoint["channel_values"].get("__pregel_tasks") and not head.pending_writes
    assert unfinished_threads(any_db, ["sent"]) == ["sent"]
    graph = builder.compile(checkpointer=any_db.saver)
    with pytest.raises(RuntimeError):
        graph.invoke({"turns": 0}, cfg("fan"), durability="sync")
    assert graph.get_state(cfg("fan")).next and unfinished_threads(any_db, ["fan"]) == ["fan"]
    graph.invoke(None, cfg("fan"), durability="sync")
    assert graph.get_state(cfg("fan")).next == () and unfinished_threads(any_db, ["fan"]) == []


def test_retention_skips_unfinished_and_refuses_them_by_name(chat: Chat):
    for i in range(3):
        chat.say("idle", f"m{i}")
        chat.say("busy", f"m{i}")
    chat.fail_in = "count"
    with pytest.raises(RuntimeError):
        chat.say("busy", "crash")
    before = rows(chat.db)
    with pytest.raises(InvalidInputError, match="unfinished"):
        apply_retention(chat.db, keep_last=1, thread_ids=["idle", "busy"])
    assert rows(chat.db) == before
    busy_history, idle_count = ids(chat.db, "busy"), len(ids(chat.db, "idle"))
    report = apply_retention(chat.db, keep_last=1, vacuum_after=True)
    assert report.skipped.keys() == {"busy"} and report.pruned_threads == ["idle"]
    assert report.pruned_checkpoints == idle_count - 1
    assert ids(chat.db, "busy") == busy_history and len(ids(chat.db, "idle")) == 1
    report = apply_retention(chat.db, idle_ttl=0, now=time.time() + 10)
    assert report.deleted_threads == ["idle"] and ids(chat.db, "busy") == busy_history


def test_encrypted_database_prunes_and_resumes(db_url: str):
    """Retention on encrypted rows (PostgreSQL then keeps even None triggers as sealed blobs)."""
    import secrets

    key = secrets.token_hex(32)
    db = open_database(db_url, key=key)
    try:
        chat = Chat(db)
        for i in range(3):
            chat.say("t", f"secret {i}")
        chat.fail_in = "count"
        with pytest.raises(RuntimeError):
            chat.say("t", "last")
        assert prune(db, keep_last=1) > 0
        assert len(ids(db, "t")) == 1
    finally:
        db.close()
    db = open_database(db_url, key=key)
    try:
        result = Chat(db).graph.invoke(None, cfg("t"), durability="sync")
        assert result["turns"] == 4 and [m.content for m in result["messages"]][-2:] == ["last", "answer 7"]
    finally:
        db.close()
