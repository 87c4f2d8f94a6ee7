"""Thread leases: one holder at a time; a dead holder's lease is taken over."""

from __future__ import annotations

import subprocess
import sys

from stateline.checkpointing import open_database
from stateline.lifecycle import ThreadLeases, ensure_schema


def test_one_holder_at_a_time_and_dead_or_expired_holders_lose_it(db_path) -> None:
    db = open_database(f"sqlite:///{db_path}")
    try:
        ensure_schema(db)
        leases = ThreadLeases(db, lease_s=60)
        owner = leases.acquire("t")
        assert owner and leases.acquire("t") is None  # held by this (live) process
        leases.release("t", owner)
        assert leases.acquire("t")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        db.execute("UPDATE thread_leases SET pid = ?, proc = NULL", (int(dead.stdout),))
        assert leases.acquire("t")  # its holder is gone
        db.execute("UPDATE thread_leases SET host = 'elsewhere', expires_at = 1e12")
        assert leases.acquire("t") is None  # another host, not expired
        db.execute("UPDATE thread_leases SET expires_at = 0")
        assert leases.acquire("t")  # another host, expired
    finally:
        db.close()


def test_an_earlier_process_with_our_pid_is_not_us() -> None:
    import os

    from stateline.lifecycle import _process

    me = _process.current()
    assert _process.is_alive(me.host, me.pid, me.proc) is True
    assert _process.is_alive(me.host, os.getpid(), "12345") is False  # same pid, other start time
    assert _process.is_alive("another-host", me.pid, me.proc) is None


HOLDER = """
import sys, time
from stateline.checkpointing import open_database
from stateline.lifecycle import ThreadLeases, ensure_schema
db = open_database(sys.argv[1])
ensure_schema(db)
assert ThreadLeases(db).acquire(sys.argv[2])
print("holding", flush=True)
time.sleep(120)
"""


def start_holder(db_path, thread_id: str = "t") -> subprocess.Popen:
    """Another live process holding ``thread_id``'s lease (returns once it holds it); kill it when done."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, f"sqlite:///{db_path}", thread_id],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_a_turn_is_refused_while_another_live_process_holds_the_thread_then_runs_once_it_dies(db_path) -> None:
    """A recoverer (or a turn) in another process holds the thread: App.send / resume fail with
    ThreadBusyError before anything runs; once that process is killed, the turn goes through."""
    import signal

    import pytest

    from stateline import ThreadBusyError
    from tests.lifecycle.apps import open_test_app, snapshot_rows

    with open_test_app(db_path) as app:
        app.send("t", "run job: title one")
    holder = start_holder(db_path)
    try:
        held = snapshot_rows(db_path)
        with open_test_app(db_path) as app:
            with pytest.raises(ThreadBusyError, match="'t'"):
                app.send("t", "run job: title two")
            app.send("other", "run job: title three")  # other threads are not held
        after = snapshot_rows(db_path)
        runs = [r for r in after["tracking_runs"] if "'t'" in repr(r)]
        assert runs == [r for r in held["tracking_runs"] if "'t'" in repr(r)]  # no run of 't' was added
        for table in ("sl_checkpoints", "sl_writes", "sl_blobs", "tracking_events"):
            assert [r for r in after.get(table, []) if "'t'" in repr(r)] == [
                r for r in held.get(table, []) if "'t'" in repr(r)
            ], table  # 't' is untouched; 'other' ran
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        with open_test_app(db_path) as app:
            turn = app.send("t", "run job: title two")
            assert turn.status == "completed"
            assert app.database.query("SELECT * FROM thread_leases") == []  # the dead holder's, taken and released
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_the_turns_lease_is_released_after_a_turn_and_after_a_failing_one(db_path) -> None:
    import pytest

    from tests.lifecycle.apps import FAILURES, open_test_app

    with open_test_app(db_path) as app:
        app.send("t", "run job: title one")
        assert app.database.query("SELECT * FROM thread_leases") == []
        FAILURES["two"] = 1
        try:
            with pytest.raises(ValueError, match="two is malformed"):
                app.send("t", "run job: title two")
        finally:
            FAILURES.clear()
        assert app.database.query("SELECT * FROM thread_leases") == []


def test_a_worker_defers_a_job_whose_thread_is_held_and_runs_it_when_free(db_path) -> None:
    """A busy thread is not a failed turn: the job goes back to the queue and runs later."""
    import signal

    from stateline.lifecycle._queue import RunQueue
    from stateline._worker import Worker
    from tests.lifecycle.apps import open_test_app

    holder = start_holder(db_path)
    try:
        with open_test_app(db_path) as app:
            worker = Worker(app, poll_s=0.01)
            job = worker.queue.enqueue("t", "run job: title one")
            assert worker.run_once() is not None
            assert worker.stats.deferred == 1 and worker.stats.failed == 0
            deferred = worker.queue.get(job.job_id)
            assert deferred.status == "running" and deferred.worker is None
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
            worker.queue.defer(job.job_id, "nobody", 0)  # no-op: only the holder may defer
            app.database.execute("UPDATE run_queue SET lease_until = 0 WHERE job_id = ?", (job.job_id,))
            assert worker.run_once() is not None
            done = RunQueue(app.database).get(job.job_id)
            assert done.status == "done" and done.reply == "did one" and done.attempts == 2, done
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
