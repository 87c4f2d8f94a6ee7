"""prune keeps what a thread resumes from; idle threads go with their rows; the file shrinks."""

from __future__ import annotations

import os

import pytest
from tests.checkpointing.storage_helpers import Chat, cfg, file_bytes

from stateline.checkpointing import (
    ThreadIndex,
    delete_idle_threads,
    iter_history,
    on_threads_deleted,
    open_database,
    prune,
    remove_thread_cleanup,
    vacuum,
)
from stateline.errors import ConfigError


def test_prune_keeps_last_k_and_an_interrupted_thread_still_resumes(chat: Chat):
    for i in range(5):
        chat.say("t", f"m{i}")
    chat.fail_in = "count"
    with pytest.raises(RuntimeError):
        chat.say("t", "last")
    deleted = prune(chat.db, keep_last=2)
    assert deleted > 0
    history = list(iter_history(chat.db, "t"))
    assert len(history) == 2
    assert history[0].pending_writes  # the failed step's error and finished writes stay
    chat.fail_in = None
    chat.db.saver.values.forget_all()
    result = chat.graph.invoke(None, cfg("t"), durability="sync")
    assert result["turns"] == 6
    assert [m.content for m in result["messages"]][-2:] == ["last", "answer 11"]
    chat.say("t", "after prune")
    assert len(chat.graph.get_state(cfg("t")).values["messages"]) == 14


def test_prune_only_named_threads_and_rejects_keep_zero(chat: Chat):
    for thread in ("a", "b"):
        for i in range(3):
            chat.say(thread, f"{thread}{i}")
    before_b = [t.config for t in iter_history(chat.db, "b")]
    prune(chat.db, keep_last=1, thread_ids=["a"])
    assert len(list(iter_history(chat.db, "a"))) == 1
    assert [t.config for t in iter_history(chat.db, "b")] == before_b
    with pytest.raises(ConfigError):
        prune(chat.db, keep_last=0)


def test_delete_idle_threads_runs_cleanup_hooks(chat: Chat):
    index = ThreadIndex(chat.db)
    for thread in ("old", "new"):
        chat.say(thread, "hi")
        index.touch(thread, user_id=None, workflow=None)
    seen: list[list[str]] = []

    def hook(db, thread_ids):
        seen.append(list(thread_ids))

    on_threads_deleted(hook)
    try:
        none = delete_idle_threads(chat.db, ttl_seconds=3600)
        assert none == []
        import time

        gone = delete_idle_threads(chat.db, ttl_seconds=60, now=time.time() + 3600)
    finally:
        remove_thread_cleanup(hook)
    assert sorted(gone) == ["new", "old"]
    assert seen == [sorted(gone)] or sorted(seen[0]) == sorted(gone)
    assert chat.graph.get_state(cfg("old")).values == {}
    assert not index.exists("old")


def test_file_shrinks_after_prune(db_path, chat: Chat):
    for i in range(40):  # old checkpoints end up in compressed segments: make the content dominate
        chat.say("big", f"{i} " + os.urandom(1000).hex())
    vacuum(chat.db)
    full = file_bytes(db_path)
    delete_idle_threads(chat.db, ttl_seconds=0, now=10**12)
    assert file_bytes(db_path) < full / 3


def test_old_file_without_auto_vacuum_is_converted(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE legacy (x)")  # tables exist before stateline: auto_vacuum stays off
    conn.commit()
    conn.close()
    db = open_database(f"sqlite:///{path}")
    try:
        mode = db.saver.conn.execute  # the saver's connection: it ran the VACUUM
        assert mode("PRAGMA auto_vacuum").fetchone()[0] == 0
        Chat(db).say("t", "hi")
        vacuum(db)
        assert mode("PRAGMA auto_vacuum").fetchone()[0] == 2
    finally:
        db.close()


def test_prune_after_rewind_keeps_the_delta_chain_of_the_head(chat: Chat):
    from stateline.checkpointing import rewind

    for i in range(3):
        chat.say("t", f"m{i}")
    first_turn_end = [
        t.config["configurable"]["checkpoint_id"]
        for t in iter_history(chat.db, "t")
        if t.checkpoint["channel_values"].get("turns") == 1
    ][-1]
    rewind(chat.db, "t", first_turn_end)
    chat.say("t", "branch")
    prune(chat.db, keep_last=1)
    chat.db.saver.values.forget_all()
    messages = chat.graph.get_state(cfg("t")).values["messages"]
    assert [m.content for m in messages] == ["m0", "answer 1", "branch", "answer 3"]
    rows = chat.db.saver.conn.execute("SELECT count(*) FROM sl_blobs WHERE channel = 'messages'").fetchone()[0]
    assert rows <= 4  # the branch's chain only: the abandoned turns' deltas are gone
