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


def _count_fsyncs(sync) -> list[int]:
    """Count the WAL fsyncs the file's group commit runs (the real fsync still happens)."""
    count = [0]
    real = sync._fsync

    def counted() -> None:
        count[0] += 1
        real()

    sync._fsync = counted
    return count


def test_puts_in_the_block_wait_for_no_fsync_and_its_end_runs_one(tmp_path) -> None:
    path = tmp_path / "d.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    graph = build(db.saver)
    fsyncs = _count_fsyncs(sync)
    try:
        turn(graph, "t")  # outside: every checkpoint waits for its own fsync
        assert fsyncs[0] == 5  # input + START + 3 nodes
        fsyncs[0] = 0
        with db.deferred_checkpoints():
            turn(graph, "t")
            turn(graph, "t")
            assert fsyncs[0] == 0 and sync._synced < sync._committed  # committed, not yet synced
        assert fsyncs[0] == 1 and sync._synced >= sync._committed  # the block's end: one for all
        state = graph.get_state({"configurable": {"thread_id": "t"}})
        assert state.values["turns"] == 3 and len(state.values["messages"]) == 6
    finally:
        db.close()


def test_a_durable_commit_inside_the_block_covers_its_puts(tmp_path) -> None:
    path = tmp_path / "c.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    graph = build(db.saver)
    fsyncs = _count_fsyncs(sync)
    try:
        with db.deferred_checkpoints():
            turn(graph, "t")
            db.execute("CREATE TABLE mark (x INTEGER)")  # e.g. the run's finish record
            assert fsyncs[0] == 1
        assert fsyncs[0] == 1  # nothing left to sync at the end
    finally:
        db.close()


def test_the_block_is_durable_when_the_graph_raises(tmp_path) -> None:
    import pytest

    from bench import _graph

    path = tmp_path / "r.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    graph = build(db.saver)
    try:
        _graph.FAIL["count"] = True
        with pytest.raises(RuntimeError), db.deferred_checkpoints():
            turn(graph, "t")
        assert sync._synced >= sync._committed
    finally:
        _graph.FAIL["count"] = False
        db.close()


def test_other_threads_keep_durable_puts(tmp_path) -> None:
    path = tmp_path / "e.db"
    db = open_database(f"sqlite:///{path}")
    fsyncs = _count_fsyncs(wal_sync_for(str(path)))
    graph = build(db.saver)
    try:
        with db.deferred_checkpoints():
            t = threading.Thread(target=turn, args=(graph, "other"))
            t.start()
            t.join()
            assert fsyncs[0] == 5  # that thread's puts each waited for their fsync
    finally:
        db.close()
