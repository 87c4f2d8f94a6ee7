"""Durable writes of one file share fsyncs of its WAL (group commit) and still each wait for one."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.checkpointing.storage_helpers import Chat, cfg

from stateline.checkpointing import open_database
from stateline.checkpointing._walsync import WalSync, wal_sync_for


class CountingSync(WalSync):
    """A real WalSync on the real WAL file that records what each fsync covered."""

    def __init__(self, wal_path: str) -> None:
        super().__init__(wal_path)
        self.fsyncs: list[int] = []

    def _fsync(self) -> None:
        self.fsyncs.append(self._committed)
        super()._fsync()


def test_concurrent_conversations_share_fsyncs_and_every_put_is_covered(tmp_path: Path, monkeypatch):
    path = tmp_path / "group.db"
    dbs = [open_database(f"sqlite:///{path}") for _ in range(8)]
    syncer = CountingSync(str(path) + "-wal")
    returned: list[tuple[int, int]] = []
    for db in dbs:
        db.saver.setup()
        assert db.saver._wal_sync is wal_sync_for(str(path))  # one syncer per file and process
        db.saver._wal_sync = syncer
    real_wait = WalSync.wait_durable

    def wait_and_record(self, ticket):
        real_wait(self, ticket)
        returned.append((ticket, self._synced))

    monkeypatch.setattr(WalSync, "wait_durable", wait_and_record)
    errors: list[BaseException] = []

    def talk(i: int) -> None:
        try:
            chat = Chat(dbs[i])
            for turn in range(6):
                chat.say(f"t{i}", f"m{turn}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(i,)) for i in range(len(dbs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        assert all(ticket <= synced for ticket, synced in returned)  # nobody returned before an fsync covered it
        assert len(returned) == syncer._committed >= 8 * 6 * 5
        assert len(syncer.fsyncs) < syncer._committed  # shared: fewer fsyncs than durable commits
        assert syncer.fsyncs == sorted(syncer.fsyncs)
        for i in range(len(dbs)):
            messages = dbs[0].saver.get_tuple(cfg(f"t{i}")).checkpoint["channel_values"]["messages"]
            assert [m.content for m in messages][::2] == [f"m{t}" for t in range(6)]
    finally:
        for db in dbs:
            db.close()


def test_a_file_not_in_wal_mode_keeps_full_commits(tmp_path: Path):
    import sqlite3

    from stateline.checkpointing._saver import StatelineSqliteSaver

    conn = sqlite3.connect(str(tmp_path / "plain.db"), check_same_thread=False)
    saver = StatelineSqliteSaver(conn)
    saver.setup()
    assert saver._wal_sync is None
    levels: list[str] = []
    real_set = saver._set_synchronous
    saver._set_synchronous = lambda level: levels.append(level) or real_set(level)  # type: ignore[method-assign]
    from langgraph.graph import END, START, StateGraph  # a checkpoint goes through the FULL path
    from typing_extensions import TypedDict

    class S(TypedDict):
        n: int

    graph = StateGraph(S)
    graph.add_node("inc", lambda s: {"n": s["n"] + 1})
    graph.add_edge(START, "inc")
    graph.add_edge("inc", END)
    app = graph.compile(checkpointer=saver)
    assert app.invoke({"n": 1}, cfg("p"), durability="sync") == {"n": 2}
    assert levels.count("FULL") >= 2  # every checkpoint put: input and the node's step
    conn.close()


def test_a_failing_sync_is_a_storage_error_and_the_next_waiter_retries(tmp_path: Path):
    import pytest

    from stateline.errors import StorageError

    gone = WalSync(str(tmp_path / "never-created.db-wal"))
    gone.wait_durable(gone.ticket())  # no WAL file: SQLite checkpointed (synced) and removed it

    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    syncer = WalSync(str(blocker / "x.db-wal"))  # under a regular file: cannot be opened
    ticket = syncer.ticket()
    with pytest.raises(StorageError, match="cannot open"):
        syncer.wait_durable(ticket)
    assert syncer._synced < ticket and not syncer._leader  # not marked durable; leadership released
    wal = tmp_path / "real.db-wal"
    wal.write_bytes(b"frames")
    syncer.wal_path = str(wal)
    syncer.wait_durable(ticket)
    assert syncer._synced >= ticket
