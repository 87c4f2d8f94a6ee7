"""Stored bytes grow with content, not with its square; list deltas rebuild exactly."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, RemoveMessage
from tests.checkpointing.storage_helpers import Chat, cfg

from checkpointing import open_database


def stored_bytes(db) -> int:
    """Payload bytes of every saver table (page-size independent)."""
    total = 0
    for table, cols in {
        "sl_checkpoints": "checkpoint_id, checkpoint, metadata, parent_checkpoint_id",
        "sl_blobs": "channel, version, blob, base_version",
        "sl_writes": "checkpoint_id, task_id, channel, value",
    }.items():
        expr = " + ".join(f"coalesce(length({c}), 0)" for c in cols.split(", "))
        total += db.query_one(f"SELECT coalesce(sum({expr}), 0) FROM {table}")[0]
    return total


def test_bytes_grow_linearly_with_turns(chat: Chat):
    sizes = {}
    for turn in range(1, 81):
        chat.say("t", f"message number {turn} " + "lorem ipsum dolor sit amet " * 6)
        if turn in (20, 40, 80):
            sizes[turn] = stored_bytes(chat.db)
    # Storing the whole message list per checkpoint would grow ~4x per doubling.
    assert sizes[80] / sizes[40] < 2.2
    assert sizes[40] / sizes[20] < 2.2
    per_turn = (sizes[80] - sizes[40]) / 40
    assert per_turn < 5_000, per_turn


def test_every_checkpoint_rebuilds_its_own_message_list(db_path, chat: Chat):
    for turn in range(6):
        chat.say("t", f"m{turn}")
    warm = [(t.config, t.checkpoint["channel_values"].get("messages", [])) for t in chat.db.saver.list(cfg("t"))]
    chat.db.close()
    cold_db = open_database(f"sqlite:///{db_path}")
    try:
        for config, messages in warm:
            cold = cold_db.saver.get_tuple(config).checkpoint["channel_values"].get("messages", [])
            assert [m.content for m in cold] == [m.content for m in messages]
        lengths = [len(m) for _, m in warm]
        assert lengths == sorted(lengths, reverse=True) and lengths[0] == 12
    finally:
        cold_db.close()


def test_removed_message_is_not_resurrected(chat: Chat):
    chat.say("t", "one")
    chat.say("t", "two")
    first = chat.graph.get_state(cfg("t")).values["messages"][0]
    chat.graph.update_state(cfg("t"), {"messages": [RemoveMessage(id=first.id)]})
    chat.graph.update_state(cfg("t"), {"messages": [HumanMessage("three")]})
    contents = [m.content for m in chat.graph.get_state(cfg("t")).values["messages"]]
    assert contents == ["answer 1", "two", "answer 3", "three"]
    chat.db.saver.values.forget_all()  # read back from the file, not the cache
    contents = [m.content for m in chat.graph.get_state(cfg("t")).values["messages"]]
    assert contents == ["answer 1", "two", "answer 3", "three"]
