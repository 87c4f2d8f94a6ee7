"""Cold segments: archived checkpoints behave exactly like live rows, on real SQLite files.

Most tests shrink the thresholds (4 live + segments of 6) so a few turns of the small
chat graph (5 checkpoints a turn) already span several segments.
"""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest
from tests.checkpointing.storage_helpers import Chat, cfg, file_bytes

from stateline.checkpointing import fork, iter_history, open_database, prune, rekey, rewind, vacuum
from stateline.checkpointing import _archive
from stateline.checkpointing._segments import decode

KEY = "11" * 32
OTHER_KEY = "22" * 32
SECRET = "the vault code is 8675309 behind the blue door"


@pytest.fixture
def small_segments(monkeypatch):
    monkeypatch.setattr(_archive, "KEEP_LIVE", 4)
    monkeypatch.setattr(_archive, "SEGMENT_SIZE", 6)


def snap(t) -> tuple:
    return (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)


def history(db, thread_id: str = "t") -> list[tuple]:
    return [snap(t) for t in iter_history(db, thread_id)]


def counts(db, thread_id: str = "t") -> tuple[int, int]:
    """(live checkpoint rows, archived checkpoints) of the thread."""
    live = db.query_one("SELECT count(*) FROM sl_checkpoints WHERE thread_id = ?", (thread_id,))[0]
    archived = db.query_one("SELECT coalesce(sum(count), 0) FROM sl_segments WHERE thread_id = ?", (thread_id,))[0]
    return live, archived


def archive_now(db, thread_id: str = "t") -> None:
    """Run the archiving step a put would run, on a thread written with archiving off."""
    with db.saver._transaction(write=True) as cur:
        while _archive.maybe_archive(cur, thread_id, ""):
            pass


def written_unarchived(db, monkeypatch, turns: int, thread_id: str = "t") -> list[tuple]:
    """A thread of ``turns`` turns written as plain rows; its full history."""
    monkeypatch.setattr(_archive, "SEGMENT_SIZE", 10**9)
    chat = Chat(db)
    for i in range(turns):
        chat.say(thread_id, f"message {i}")
    monkeypatch.setattr(_archive, "SEGMENT_SIZE", 6)
    monkeypatch.setattr(_archive, "KEEP_LIVE", 4)
    return history(db, thread_id)


def test_archived_checkpoints_read_back_exactly(db, monkeypatch):
    before = written_unarchived(db, monkeypatch, 8)
    archive_now(db)
    live, archived = counts(db)
    assert archived >= 30 and live < 11 and live + archived == len(before)
    assert history(db) == before
    for item in before:  # by id: the checkpoint, metadata, parent and pending writes
        assert snap(db.saver.get_tuple(item[0])) == item
    assert snap(db.saver.get_tuple(cfg("t"))) == before[0]


def test_list_filters_before_and_limit_across_live_and_archived(db, monkeypatch):
    before = written_unarchived(db, monkeypatch, 8)
    archive_now(db)
    saver = db.saver
    conf = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    loops = [x for x in before if x[2]["source"] == "loop"]
    assert [snap(t) for t in saver.list(conf, filter={"source": "loop"})] == loops
    assert [snap(t) for t in saver.list(conf, filter={"source": "input", "step": 4})] == [
        x for x in before if x[2]["source"] == "input" and x[2]["step"] == 4
    ]
    pivot = before[25][0]  # an archived checkpoint
    assert [snap(t) for t in saver.list(conf, before=pivot, limit=7)] == before[26:33]
    assert [snap(t) for t in saver.list(conf, limit=3)] == before[:3]
    assert [snap(t) for t in saver.list(pivot)] == [before[25]]


def test_list_of_every_thread_merges_in_key_order(db, small_segments):
    chat = Chat(db)
    for i in range(6):
        chat.say("a", f"a{i}")
        chat.say("b", f"b{i}")
    assert counts(db, "a")[1] and counts(db, "b")[1]
    everything = [snap(t) for t in db.saver.list(None)]
    keys = [(x[0]["configurable"]["checkpoint_id"], x[0]["configurable"]["thread_id"]) for x in everything]
    assert keys == sorted(keys, reverse=True)
    assert sorted(everything, key=repr) == sorted(history(db, "a") + history(db, "b"), key=repr)
    assert [snap(t) for t in db.saver.list(None, filter={"step": 3})] == [x for x in everything if x[2]["step"] == 3]


def test_archiving_happens_on_put_and_keeps_the_head_live(db, small_segments):
    chat = Chat(db)
    seen = []
    for i in range(10):
        chat.say("t", f"m{i}")
        seen.append(counts(db))
    live, archived = seen[-1]
    assert archived > 0 and 4 <= live <= 4 + 6 + 5
    head = db.saver.get_tuple(cfg("t"))
    assert db.query_one("SELECT 1 FROM sl_checkpoints WHERE checkpoint_id = ?", (head.checkpoint["id"],))
    assert [m.content for m in head.checkpoint["channel_values"]["messages"]][-2:] == ["m9", "answer 19"]
    chain = history(db)
    for newer, older in zip(chain, chain[1:], strict=False):  # nothing lost between live rows and segments
        assert newer[3]["configurable"]["checkpoint_id"] == older[0]["configurable"]["checkpoint_id"]


@pytest.mark.parametrize("keep", [3, 12, 10**6])
def test_prune_reaching_into_the_archive(db, monkeypatch, keep):
    before = written_unarchived(db, monkeypatch, 8)
    archive_now(db)
    prune(db, keep_last=keep)
    assert history(db) == before[:keep]
    assert sum(counts(db)) == min(keep, len(before))  # (prune's vacuum may pack the kept ones again)
    Chat(db).say("t", "after prune")  # values of every kept checkpoint survived the GC


def test_delete_for_runs_in_archived_and_live_checkpoints(db, small_segments):
    chat = Chat(db)
    for i in range(8):  # LangGraph derives checkpoint ids from the run id: one run id per turn
        chat.graph.invoke({"messages": [("user", f"m{i}")]}, {"configurable": {"thread_id": "t", "run_id": f"r{i}"}})
    full = history(db)
    assert len({x[2]["run_id"] for x in full}) == 8 and counts(db)[1] > 0
    old_runs = ["r0", "r1", "r2", "r3"]
    db.saver.delete_for_runs(old_runs)
    assert history(db) == [x for x in full if x[2]["run_id"] not in old_runs]
    db.saver.delete_for_runs(["r4", "r5", "r6", "r7"])
    assert history(db) == []
    assert counts(db) == (0, 0)


def test_delete_newest_run_brings_the_archive_back_as_head(db, small_segments):
    chat = Chat(db)
    for i in range(8):
        chat.graph.invoke({"messages": [("user", f"m{i}")]}, {"configurable": {"thread_id": "t", "run_id": f"r{i}"}})
    full = history(db)
    db.saver.delete_for_runs(["r7", "r6"])
    rest = [x for x in full if x[2]["run_id"] not in ("r6", "r7")]
    assert history(db) == rest
    assert snap(db.saver.get_tuple(cfg("t"))) == rest[0]
    assert counts(db)[0] >= 4  # the head is a live row again


def test_copy_fork_and_rewind_to_an_archived_checkpoint(db, monkeypatch):
    before = written_unarchived(db, monkeypatch, 8)
    archive_now(db)
    old = before[30]
    old_id = old[0]["configurable"]["checkpoint_id"]
    db.saver.copy_thread("t", "copy")
    assert [x[1:3] for x in history(db, "copy")] == [x[1:3] for x in before]
    fork(db, "t", old_id, "forked")
    assert history(db, "t") == before
    head = db.saver.get_tuple(cfg("forked"))
    assert head.checkpoint["channel_values"] == old[1]["channel_values"]
    rewind(db, "t", old_id)
    assert db.saver.get_tuple(cfg("t")).checkpoint["channel_values"] == old[1]["channel_values"]
    state = Chat(db).say("t", "after rewind")
    assert [m.content for m in state["messages"]][-2:] == ["after rewind", f"answer {len(state['messages']) - 1}"]


def test_writes_to_an_archived_checkpoint_bring_it_back(db, monkeypatch):
    before = written_unarchived(db, monkeypatch, 8)
    archive_now(db)
    target = before[30][0]
    db.saver.put_writes(target, [("messages", ["late"])], "task-late", "")
    item = db.saver.get_tuple(target)
    assert ("task-late", "messages", ["late"]) in item.pending_writes
    assert db.query_one(
        "SELECT 1 FROM sl_checkpoints WHERE checkpoint_id = ?", (target["configurable"]["checkpoint_id"],)
    )
    assert [x[0] for x in history(db)] == [x[0] for x in before]


def test_an_old_row_only_file_is_archived_as_it_grows(db_path, monkeypatch):
    db = open_database(f"sqlite:///{db_path}")
    before = written_unarchived(db, monkeypatch, 8)
    db.query("SELECT 1")
    db.execute("DROP TABLE sl_segments")  # the layout before segments
    db.close()
    db = open_database(f"sqlite:///{db_path}")
    try:
        assert history(db) == before
        Chat(db).say("t", "one more")
        assert counts(db)[1] > 0
        assert history(db)[-len(before) :] == before
    finally:
        db.close()


def test_vacuum_packs_threads_nobody_writes_to(db_path, db, monkeypatch):
    before = {t: written_unarchived(db, monkeypatch, 6, t) for t in ("a", "b")}
    vacuum(db)
    for thread_id, old in before.items():
        assert counts(db, thread_id)[1] >= 18 and counts(db, thread_id)[0] <= 4 + 6
        assert history(db, thread_id) == old
    assert db.saver.archive_cold() == 0  # nothing left to pack


def test_sealed_values_stay_sealed_inside_segments(db_path, small_segments):
    url = f"sqlite:///{db_path}"
    db = open_database(url, key=KEY)
    chat = Chat(db)
    for i in range(8):
        chat.say("t", f"{SECRET} #{i}")
    assert counts(db)[1] > 0
    old = history(db)
    db.close()
    assert SECRET.encode() not in _all_bytes(db_path)
    assert not any(SECRET.encode() in payload for payload in _segment_payloads(db_path))
    rekey(url, KEY, OTHER_KEY)
    assert not any(SECRET.encode() in payload for payload in _segment_payloads(db_path))
    with open_database(url, key=OTHER_KEY) as db:
        assert history(db) == old
    rekey(url, OTHER_KEY, None)
    assert any(SECRET.encode() in payload for payload in _segment_payloads(db_path))  # now plain inside
    with open_database(url, key=False) as db:
        assert history(db) == old


def _all_bytes(path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return b"".join(open(f"{path}{s}", "rb").read() for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def _segment_payloads(path) -> list[bytes]:
    """Every stored checkpoint and write payload inside every segment, decompressed."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, data FROM sl_segments").fetchall()
    finally:
        conn.close()
    out = []
    for type_, data in rows:
        segment = decode(type_, data)
        out += [c[3] for c in segment.checkpoints] + [w[6] or b"" for w in segment.writes]
    return out


def test_a_failing_archive_step_loses_nothing(db, small_segments, monkeypatch):
    chat = Chat(db)
    for i in range(3):
        chat.say("t", f"m{i}")
    before, archived = history(db), counts(db)[1]
    working = _archive.encode

    def broken(*args):
        raise OSError("disk full while archiving")

    monkeypatch.setattr(_archive, "encode", broken)
    with pytest.raises(OSError):
        for i in range(5):
            chat.say("t", f"x{i}")
    monkeypatch.setattr(_archive, "encode", working)
    after = history(db)
    assert after[-len(before) :] == before and counts(db)[1] == archived
    assert len(after) == sum(counts(db))  # the put that failed to archive was rolled back whole
    chat.say("t", "again")
    assert counts(db)[1] > archived


def test_kill_during_archiving_leaves_rows_or_segment(db_path):
    """A real SIGKILL after the segment is written, before the put commits."""
    url = f"sqlite:///{db_path}"
    pid = os.fork()
    if pid == 0:  # the child: archive once, die before COMMIT
        try:
            _archive.KEEP_LIVE, _archive.SEGMENT_SIZE = 4, 6
            original = _archive.archive_oldest

            def archive_then_die(*args):
                original(*args)
                os.kill(os.getpid(), signal.SIGKILL)

            _archive.archive_oldest = archive_then_die
            db = open_database(url)
            for i in range(20):
                Chat(db).say("t", f"m{i}")
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    with open_database(url) as db:
        assert counts(db)[1] == 0  # the segment went with the uncommitted put
        chain = history(db)
        assert len(chain) == counts(db)[0] == 4 + 6  # everything committed before the killed put
        for newer, older in zip(chain, chain[1:], strict=False):
            assert newer[3]["configurable"]["checkpoint_id"] == older[0]["configurable"]["checkpoint_id"]
        Chat(db).say("t", "after the crash")


def test_file_is_far_smaller_than_the_row_layout(tmp_path, monkeypatch):
    """Same conversation, default thresholds: segments vs the plain-row layout (file bytes)."""
    sizes = {}
    for name, segment in (("rows", 10**9), ("segments", _archive.SEGMENT_SIZE)):
        monkeypatch.setattr(_archive, "SEGMENT_SIZE", segment)
        path = tmp_path / f"{name}.db"
        with open_database(f"sqlite:///{path}") as db:
            chat = Chat(db)
            for i in range(250):
                chat.say("t", f"{i} " + os.urandom(60).hex())
            db.saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            sizes[name] = file_bytes(path)
            if name == "segments":
                assert len(history(db)) == 1250
    assert sizes["segments"] < 0.6 * sizes["rows"], sizes
