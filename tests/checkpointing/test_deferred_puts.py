"""Deferred checkpoint puts (issue 12): committed at once, made durable by the caller's next durable commit."""

from __future__ import annotations

import threading

from langchain_core.messages import HumanMessage
from stateline.checkpointing import open_database
from stateline.checkpointing._walsync import wal_sync_for
from stateline.graphs import install_runtime, run_config

from bench._graph import build, text


def turn(graph, thread_id: str) -> None:
    """A turn as stateline runs it: its saves in the calling thread (graphs._runtime)."""
    install_runtime()
    graph.invoke({"messages": [HumanMessage(text())]}, run_config({"thread_id": thread_id}), durability="sync")


def test_puts_inside_the_block_wait_for_no_fsync_and_one_commit_after_covers_them(tmp_path) -> None:
    path = tmp_path / "d.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    graph = build(db.saver)
    try:
        turn(graph, "t")  # outside: every checkpoint waits for its fsync
        before = sync._committed
        turn(graph, "t")
        assert sync._committed - before == 5  # input + START + 3 nodes
        before = sync._committed
        with db.deferred_checkpoints():
            turn(graph, "t")
            turn(graph, "t")
        assert sync._committed == before  # committed, no fsync waited for
        state = graph.get_state({"configurable": {"thread_id": "t"}})
        assert state.values["turns"] == 4 and len(state.values["messages"]) == 8
        db.execute("CREATE TABLE IF NOT EXISTS mark (x INTEGER)")  # the caller's durable commit
        assert sync._committed == before + 1 and sync._synced >= sync._committed
    finally:
        db.close()


def test_other_threads_keep_durable_puts(tmp_path) -> None:
    path = tmp_path / "e.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    graph = build(db.saver)
    counts: list[int] = []
    try:
        with db.deferred_checkpoints():

            def other() -> None:
                start = sync._committed
                turn(graph, "other")
                counts.append(sync._committed - start)

            t = threading.Thread(target=other)
            t.start()
            t.join()
        assert counts == [5]
    finally:
        db.close()
