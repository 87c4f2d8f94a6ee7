"""History streams newest first; rewind, fork and delete; unknown checkpoints change nothing."""

from __future__ import annotations

import sqlite3
import types

import pytest
from tests.checkpointing.storage_helpers import Chat, cfg, file_bytes

from stateline.checkpointing import delete_thread, fork, iter_history, rewind
from stateline.errors import InvalidInputError, UnknownCheckpointError


def _turn_end(chat: Chat, thread: str, turns: int) -> str:
    """The id of the checkpoint that ended turn ``turns`` (the oldest with that count)."""
    ends = [
        item.config["configurable"]["checkpoint_id"]
        for item in iter_history(chat.db, thread)
        if item.checkpoint["channel_values"].get("turns") == turns and not item.metadata.get("rewound_from")
    ]
    assert ends, f"no checkpoint ends turn {turns}"
    return ends[-1]


def test_history_streams_newest_first(chat: Chat):
    for i in range(4):
        chat.say("t", f"m{i}")
    stream = iter_history(chat.db, "t")
    assert isinstance(stream, types.GeneratorType)
    first = next(stream)
    assert first.checkpoint["channel_values"]["turns"] == 4
    rest = list(stream)
    ids = [first.config["configurable"]["checkpoint_id"]] + [t.config["configurable"]["checkpoint_id"] for t in rest]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == len(list(chat.graph.get_state_history(cfg("t"))))
    assert [len(t.checkpoint["channel_values"].get("messages", [])) for t in rest][-1] == 0
    assert len(list(iter_history(chat.db, "t", limit=3))) == 3


def test_rewind_makes_old_state_the_head_and_keeps_history(chat: Chat):
    for i in range(3):
        chat.say("t", f"m{i}")
    before = len(list(iter_history(chat.db, "t")))
    target = _turn_end(chat, "t", 1)
    head = rewind(chat.db, "t", target)
    state = chat.graph.get_state(cfg("t"))
    assert state.config["configurable"]["checkpoint_id"] == head["configurable"]["checkpoint_id"]
    assert state.values["turns"] == 1 and len(state.values["messages"]) == 2
    assert len(list(iter_history(chat.db, "t"))) == before + 1
    result = chat.say("t", "after rewind")
    assert [m.content for m in result["messages"]] == ["m0", "answer 1", "after rewind", "answer 3"]
    chat.db.saver.values.forget_all()
    cold = chat.graph.get_state(cfg("t")).values["messages"]
    assert [m.content for m in cold] == ["m0", "answer 1", "after rewind", "answer 3"]


def test_rewind_through_the_graph_reruns_what_was_next(chat: Chat):
    chat.say("t", "m0")
    mid = next(
        t.config["configurable"]["checkpoint_id"]
        for t in iter_history(chat.db, "t")
        if t.metadata.get("step") == 1  # after route, before reply
    )
    rewind(chat.graph, "t", mid)
    assert chat.graph.get_state(cfg("t")).next == ("reply",)
    result = chat.graph.invoke(None, cfg("t"), durability="sync")
    assert result["turns"] == 1 and [m.content for m in result["messages"]] == ["m0", "answer 1"]


def test_fork_copies_then_rewinds_and_leaves_source_alone(chat: Chat):
    for i in range(3):
        chat.say("src", f"m{i}")
    source_ids = [t.config for t in iter_history(chat.db, "src")]
    fork(chat.db, "src", _turn_end(chat, "src", 2), "dst")
    assert chat.graph.get_state(cfg("dst")).values["turns"] == 2
    chat.say("dst", "branch")
    assert chat.graph.get_state(cfg("dst")).values["turns"] == 3
    assert [t.config for t in iter_history(chat.db, "src")] == source_ids
    assert chat.graph.get_state(cfg("src")).values["messages"][-2].content == "m2"
    with pytest.raises(InvalidInputError):
        fork(chat.db, "src", _turn_end(chat, "src", 2), "dst")


def test_delete_thread(chat: Chat):
    chat.say("a", "hi")
    chat.say("b", "hi")
    assert delete_thread(chat.db, "a") is True
    assert list(iter_history(chat.db, "a")) == []
    assert len(list(iter_history(chat.db, "b"))) > 0
    assert delete_thread(chat.db, "a") is False


def _snapshot(db_path) -> tuple:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = tuple(
            tuple(conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2, 3, 4").fetchall())
            for t in ("sl_checkpoints", "sl_blobs", "sl_writes")
        )
    finally:
        conn.close()
    return rows, file_bytes(db_path)


@pytest.mark.parametrize("action", ["rewind", "fork"])
def test_unknown_checkpoint_changes_nothing(db_path, chat: Chat, action):
    chat.say("t", "hi")
    before = _snapshot(db_path)
    with pytest.raises(UnknownCheckpointError):
        if action == "rewind":
            rewind(chat.db, "t", "no-such-checkpoint")
        else:
            fork(chat.db, "t", "no-such-checkpoint", "copy")
    assert _snapshot(db_path) == before
    with pytest.raises(UnknownCheckpointError):
        rewind(chat.db, "missing-thread", "no-such-checkpoint")
    assert _snapshot(db_path) == before


def test_list_pages_through_every_checkpoint_once(chat: Chat):
    for thread in ("a", "b", "c"):
        for i in range(2):
            chat.say(thread, f"{thread}{i}")
    saver = chat.db.saver
    everything = [t.config["configurable"] for t in saver.list(None)]
    keys = [(c["checkpoint_id"], c["thread_id"], c["checkpoint_ns"]) for c in everything]
    assert len(keys) == len(set(keys)) == 30 > 16  # more than one page
    assert keys == sorted(keys, reverse=True)
    one = [t.config["configurable"]["checkpoint_id"] for t in saver.list({"configurable": {"thread_id": "b"}})]
    assert len(one) == 10 and one == sorted(one, reverse=True)
    assert len(list(saver.list(None, limit=17))) == 17


def test_memory_backend_rewinds_and_refuses_fork_clearly():
    from tests.checkpointing.storage_helpers import Chat as MemoryChat

    from stateline.checkpointing import open_database
    from stateline.errors import ConfigError

    db = open_database("memory://")
    try:
        chat = MemoryChat(db)
        for i in range(2):
            chat.say("t", f"m{i}")
        first = [
            t.config["configurable"]["checkpoint_id"]
            for t in iter_history(db, "t")
            if t.checkpoint["channel_values"].get("turns") == 1
        ][-1]
        rewind(db, "t", first)
        assert chat.graph.get_state(cfg("t")).values["turns"] == 1
        with pytest.raises(ConfigError):
            fork(db, "t", first, "copy")
        with pytest.raises(ConfigError):
            from stateline.checkpointing import prune

            prune(db, keep_last=1)
    finally:
        db.close()
