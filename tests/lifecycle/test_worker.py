"""The run queue and `stateline worker`: leases, per-thread order, takeover after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from stateline.checkpointing import open_database
from stateline.examples.storefront import catalog_rows, create_agents
from stateline.lifecycle._queue import RunQueue, UnknownJobError
from stateline import App
from stateline._worker import Worker
from stateline.errors import InvalidInputError
from tests.core.cli_helpers import ROOT, cli, cli_json

LISTING = "sell: title Kite, price 15, category toys, description: A red kite for windy days"


def test_claims_respect_thread_order_and_are_exclusive(db):
    queue = RunQueue(db)
    a1, a2 = queue.enqueue("a", "one"), queue.enqueue("a", "two")
    b1 = queue.enqueue("b", "three")
    assert queue.claim("w1").job_id == a1.job_id
    assert queue.claim("w2").job_id == b1.job_id  # a2 waits for a1: one turn of a thread at a time
    assert queue.claim("w3") is None
    assert queue.finish(a1.job_id, "w1", reply="ok")
    assert queue.claim("w3").job_id == a2.job_id
    assert not queue.finish(b1.job_id, "w3", reply="not mine")  # only the holder closes a job
    assert queue.get(b1.job_id).status == "running"


def test_an_expired_lease_is_taken_over_and_the_old_holder_loses_it(db):
    queue = RunQueue(db, lease_s=0.2)
    job = queue.enqueue("t", "hello")
    assert queue.claim("w1").job_id == job.job_id
    assert queue.claim("w2") is None  # lease still live
    time.sleep(0.3)
    taken = queue.claim("w2")
    assert taken.job_id == job.job_id and taken.attempts == 2 and taken.worker == "w2"
    assert not queue.renew(job.job_id, "w1") and not queue.finish(job.job_id, "w1", reply="late")
    assert queue.finish(job.job_id, "w2", reply="ok") and queue.get(job.job_id).status == "done"


def test_bad_queue_input(db):
    with pytest.raises(InvalidInputError):
        RunQueue(db, lease_s=0)
    with pytest.raises(InvalidInputError, match="job status"):
        RunQueue(db).list(status="sleeping")
    with pytest.raises(UnknownJobError):
        RunQueue(db).get("nope")


def test_a_run_id_is_accepted_once(db):
    with App(create_agents(db), db=db) as app:
        app.send("t", "total revenue for toys", run_id="r1")
        with pytest.raises(InvalidInputError, match="already exists"):
            app.send("t", "total revenue for toys", run_id="r1")
        assert len(app.ops.runs.thread_runs("t")) == 1


def test_two_worker_processes_drain_the_queue_in_thread_order(db_url):
    threads = {
        f"t{i}": [f"total {m} for {c}" for m, c in (("revenue", "toys"), ("units", "books"), ("revenue", "garden"))]
        for i in range(4)
    }
    queued = [(t, m) for t, messages in threads.items() for m in messages]
    first = cli_json("enqueue", "-e", "storefront", "--thread", queued[0][0], queued[0][1], db=db_url)
    assert first["status"] == "queued", first  # the CLI queues; the other 11 go in directly (one spawn, not 12)
    with open_database(db_url) as database:
        for t, m in queued[1:]:
            RunQueue(database).enqueue(t, m)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable, "-m", "stateline", "--db", db_url, "--json", "--example", "storefront", "worker",
        "--until-idle", "--poll", "0.05",
    ]
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    jobs = cli_json("jobs", "list", db=db_url)
    assert [j["status"] for j in jobs] == ["done"] * 12
    for t, messages in threads.items():
        shown = cli_json("threads", "show", t, db=db_url)
        assert [m["text"] for m in shown["messages"] if m["role"] == "user"] == messages
    assert sum(1 for _ in cli_json("runs", "list", db=db_url)) == 12


CRASHING_WORKER = textwrap.dedent(
    """
    import sys
    from stateline.examples.storefront import create_agents
    from stateline import App
    from stateline._worker import Worker
    from tests.lifecycle.crashpoints import CrashPlan, install
    with App(db=sys.argv[1]) as app:
        for agent in create_agents(app.database):
            app.register(agent)
        install(app, CrashPlan.from_env())
        Worker(app, lease_s=float(sys.argv[2]), poll_s=0.05).run(until_idle=True)
    """
)


@pytest.mark.parametrize(
    "point", ["run:started", "node:collect", "node:act", "effect:publish:before", "node:act:after"]
)
def test_a_killed_workers_turn_is_finished_once_by_another(tmp_path, point):
    db_url = f"sqlite:///{tmp_path}/w.db"
    with App(db=db_url) as app:
        create_agents(app.database)
        job = RunQueue(app.database).enqueue("shop", LISTING)
    lease = 1.0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STATELINE_CRASH_AT": point}
    crashed = subprocess.run([sys.executable, "-c", CRASHING_WORKER, db_url, str(lease)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    time.sleep(lease + 0.2)  # the dead worker's lease runs out
    with App(db=db_url) as app:
        for agent in create_agents(app.database):
            app.register(agent)
        stats = Worker(app, lease_s=lease, poll_s=0.05, blocked_retry_s=0.2).run(until_idle=True)
        done = RunQueue(app.database).get(job.job_id)
        listings = catalog_rows(app.database)
        view = app.state("shop")
        if point == "effect:publish:before":
            # killed between recording the effect's start and its outcome: in doubt, never repeated;
            # the job stays queued (it was accepted) until an operator says what happened
            assert done.status == "running" and stats.deferred == 1 and stats.done == 0
            assert listings == [] and view.status == "interrupted"
            (effect,) = app.ops.ledger.in_doubt(thread_id="shop")
            app.ops.ledger.resolve(effect.effect_id, redo=True)  # not in the catalog: it did not happen
            time.sleep(0.3)
            stats = Worker(app, lease_s=lease, poll_s=0.05).run(until_idle=True)
            done = RunQueue(app.database).get(job.job_id)
            listings = catalog_rows(app.database)
            view = app.state("shop")
    assert stats.taken_over == 1
    assert done.status == "done" and "Published 'Kite'" in done.reply and stats.done == 1
    assert len(listings) == 1  # exactly once, effect included
    assert [m.role for m in view.messages] == ["user", "assistant"] and view.status == "idle"


def test_worker_cli_errors_are_one_line(tmp_path):
    result = cli("worker", "--lease", "0", db=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    result = cli("enqueue", "--thread", "t", "  ", db=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2 and "message is empty" in result.stderr
    result = cli("jobs", "list", "--status", "sleeping", db=f"sqlite:///{tmp_path}/x.db")
    assert result.returncode == 2 and "job status" in result.stderr
