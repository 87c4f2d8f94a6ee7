"""recover(): retry policy, resume only unfinished tasks, lost inputs, idempotence, concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import stateline.lifecycle._recovery as recovery_module
from stateline.lifecycle import RetryPolicy
from tests.lifecycle.apps import CALLS, FAILURES, open_test_app, snapshot_rows

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(base_delay_s=0.0, max_attempts=3)


def crash(db_path, *threads: str, point: str, message: str = "run job: title one", app: str = "jobs") -> None:
    """Run ``message`` on each thread in a real process killed at ``point``."""
    args = [sys.executable, "-m", "tests.lifecycle.worker", "--db", str(db_path), "--app", app, "--crash", point,
            "--message", message]
    for t in threads:
        args += ["--thread", t]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"a worker was not killed: {result.stderr[-2000:]}"


def test_transient_failure_is_retried_then_recover_again_does_nothing(db_path) -> None:
    with open_test_app(db_path, retry_policy=FAST) as app:
        FAILURES["timeout-a"] = 1
        with pytest.raises(TimeoutError):
            app.send("t", "run job: title timeout-a")
        report = app.recover()
        assert [(a.thread_id, a.outcome) for a in report.actions] == [("t", "retried")]
        assert app.status("t") == "idle" and app.state("t").messages[-1].text == "did timeout-a"
        runs = app.ops.runs.thread_runs("t")
        assert [(r.kind, r.status, r.attempt) for r in runs] == [("turn", "retried", 1), ("retry", "completed", 2)]
        assert app.recover().empty


def test_model_provider_errors_marked_transient_are_retried(db_path) -> None:
    with open_test_app(db_path, retry_policy=FAST) as app:
        FAILURES["model-a"] = 1
        with pytest.raises(Exception, match="rate limited"):
            app.send("t", "run job: title model-a")
        assert [a.outcome for a in app.recover().actions] == ["retried"]


def test_backoff_schedules_the_retry_until_it_is_due(db_path, monkeypatch) -> None:
    with open_test_app(db_path, retry_policy=RetryPolicy(base_delay_s=10.0, max_delay_s=20.0)) as app:
        FAILURES["timeout-b"] = 1
        with pytest.raises(TimeoutError):
            app.send("t", "run job: title timeout-b")
        before = snapshot_rows(db_path)
        (action,) = app.recover().actions
        assert action.outcome == "scheduled" and "due in" in action.detail
        assert snapshot_rows(db_path) == before
        later = recovery_module.now() + 11
        monkeypatch.setattr(recovery_module, "now", lambda: later)
        assert [a.outcome for a in app.recover().actions] == ["retried"]


def test_gives_up_after_max_attempts_and_permanent_errors_are_not_retried(db_path) -> None:
    with open_test_app(db_path, retry_policy=RetryPolicy(base_delay_s=0.0, max_attempts=2)) as app:
        FAILURES["timeout-c"] = 5
        with pytest.raises(TimeoutError):
            app.send("a", "run job: title timeout-c")
        assert [a.outcome for a in app.recover().actions] == ["failed"]  # retry 2 failed too
        assert [a.outcome for a in app.recover().actions] == ["gave_up"]
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("b", "run job: title bad")
        calls = len(CALLS)
        report = app.recover(thread_id="b")
        assert [a.outcome for a in report.actions] == ["failed"] and "permanent" in report.actions[0].detail
        assert len(CALLS) == calls


def test_waiting_threads_are_left_alone(db_path) -> None:
    with open_test_app(db_path) as app:
        app.send("p", "pay amount 3")
        crash(db_path, "p2", point="node:validate", message="pay amount 4")
        report = app.recover()
        assert {a.thread_id: a.outcome for a in report.actions}.get("p") is None
        assert app.status("p") == "waiting"


def test_send_on_failed_thread_restarts_from_start_and_says_so(db_path) -> None:
    with open_test_app(db_path) as app:
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("t", "run job: title bad")
        turn = app.send("t", "run job: title good")
        assert (turn.previous, turn.resumed, turn.reply) == ("restarted", False, "did good")
        assert CALLS == ["bad", "good"]  # the failed act was not run again


def test_crash_mid_act_resumes_only_the_unfinished_task(db_path) -> None:
    """The agent task is the supervisor's unfinished task; it runs again from ``collect``
    (an agent without approval stores no checkpoints of its own), route does not."""
    crash(db_path, "t", point="node:act")
    with open_test_app(db_path) as app:
        assert app.status("t") == "interrupted"
        (action,) = app.recover().actions
        assert action.outcome == "resumed"
        nodes = [(e.graph, e.node) for e in app.ops.runs.events(action.run_id) if e.kind == "started"]
        assert nodes == [("job", "collect"), ("job", "validate"), ("job", "act")]
        crashed = [r for r in app.ops.runs.thread_runs("t") if r.kind == "turn"]
        assert crashed[0].status == "interrupted"
        timeline = app.ops.runs.events(crashed[0].run_id)
        assert [(e.kind, e.node) for e in timeline if e.kind == "finished"][-1] == ("finished", "validate")
        assert timeline[-1].kind == "crashed" and "unfinished tasks: job" in timeline[-1].detail
        assert app.state("t").messages[-1].text == "did one"
        assert app.recover().empty


def test_crash_after_the_effect_reruns_the_agent_but_not_the_effect(db_path) -> None:
    """Killed after ``act`` recorded its effect, before its writes: the re-run agent task
    gets the same effect key (no checkpoint of its own needed) and replays the result."""
    crash(db_path, "t", point="node:act:after")
    with open_test_app(db_path) as app:
        (action,) = app.recover().actions
        assert action.outcome == "resumed"
        (effect,) = app.ops.ledger.list(thread_id="t")
        assert effect.status == "done" and effect.result == "one"
        replayed = [e.detail for e in app.ops.runs.events(action.run_id) if e.kind == "effect"]
        assert replayed == [f"replayed ({effect.effect_id})"]
        assert [m.text for m in app.state("t").messages] == ["run job: title one", "did one"]


def test_send_after_a_crash_finishes_the_interrupted_turn_first(db_path) -> None:
    crash(db_path, "t", point="node:act")
    with open_test_app(db_path) as app:
        turn = app.send("t", "run job: title two")
        assert turn.previous == "resumed" and turn.reply == "did two"
        texts = [m.text for m in app.state("t").messages]
        assert texts == ["run job: title one", "did one", "run job: title two", "did two"]


def test_input_lost_before_the_first_checkpoint_is_resubmitted(db_path) -> None:
    crash(db_path, "t", point="run:started")
    with open_test_app(db_path) as app:
        assert app.status("t") == "new"
        (action,) = app.recover().actions
        assert action.outcome == "resubmitted"
        assert [m.text for m in app.state("t").messages] == ["run job: title one", "did one"]
        assert app.recover().empty


def test_a_crash_between_effect_and_record_is_in_doubt_until_resolved(db_path) -> None:
    crash(db_path, "t", point="effect:record:after")
    with open_test_app(db_path) as app:
        report = app.recover()
        assert [a.outcome for a in report.actions] == ["in_doubt"]
        (effect,) = app.ops.ledger.in_doubt()
        again = app.recover()
        assert [a.outcome for a in again.actions] == ["in_doubt"] and "resolve them first" in again.actions[0].detail
        assert app.status("t") == "interrupted"  # the in-doubt check runs nothing: the cut-short turn waits
        app.ops.ledger.resolve(effect.effect_id, done=True, value="one")
        assert [a.outcome for a in app.recover().actions] == ["resumed"]
        assert app.status("t") == "idle" and app.recover().empty


def test_run_row_of_a_deleted_thread_is_reported_and_left_unchanged(db_path) -> None:
    crash(db_path, "gone", point="run:started")
    with open_test_app(db_path) as app:
        app.threads.delete("gone")
        app.database.saver.delete_thread("gone")
    before = snapshot_rows(db_path)
    with open_test_app(db_path) as app:
        (action,) = app.recover().actions
        assert action.outcome == "unrecoverable" and "deleted" in action.detail
    assert snapshot_rows(db_path) == before


def test_two_recover_processes_never_resume_the_same_thread_twice(db_path) -> None:
    threads = [f"t{i}" for i in range(8)]
    crash(db_path, *threads, point="node:collect", app="storefront",
          message="I'd like to sell a product: title Mug, price 3, category kitchen, description: a fine mug")
    env = {**os.environ, "STATELINE_BUSY_TIMEOUT_MS": "30000"}
    cmd = [
        sys.executable,
        "-m",
        "stateline",
        "--db",
        f"sqlite:///{db_path}",
        "--json",
        "--example",
        "storefront",
        "recover",
    ]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    resumed = Counter(
        a["thread_id"] for out, _ in outputs for a in json.loads(out)["actions"] if a["outcome"] == "resumed"
    )
    assert resumed == Counter({t: 1 for t in threads})
    from stateline._session import open_session

    with open_session(db=f"sqlite:///{db_path}", example="storefront") as app:
        assert all(app.status(t) == "idle" for t in threads)
        recover_runs = Counter(r.thread_id for r in app.ops.runs.list(limit=1000) if r.kind == "recover")
        assert recover_runs == Counter({t: 1 for t in threads})
        titles = app.database.query("SELECT thread_id, COUNT(*) AS n FROM catalog GROUP BY thread_id")
        assert {r["thread_id"]: r["n"] for r in titles} == {t: 1 for t in threads}


def test_run_with_recover_flag_finishes_interrupted_threads_first(db_path, capsys) -> None:
    from stateline.cli import main

    crash(db_path, "old", point="node:act", app="storefront",
          message="I'd like to sell a product: title Mug, price 3, category kitchen, description: a fine mug")
    capsys.readouterr()
    main(["--db", f"sqlite:///{db_path}", "--example", "storefront", "run", "--recover", "-t", "new",
          "What is the total revenue for kitchen?"])
    captured = capsys.readouterr()
    assert "recover: 1 resumed" in captured.err and "old: resumed" in captured.err
    assert "Total revenue for kitchen" in captured.out


def test_a_run_on_another_host_counts_as_gone_only_after_its_lease_expires(db_path, monkeypatch) -> None:
    crash(db_path, "t", point="node:act")
    with open_test_app(db_path) as app:
        app.database.execute("UPDATE tracking_runs SET host = 'elsewhere'")
        before = snapshot_rows(db_path)
        assert [a.outcome for a in app.recover().actions] == ["busy"]
        assert snapshot_rows(db_path) == before
        later = recovery_module.now() + app.ops.recovery.stale_after_s + 1
        monkeypatch.setattr(recovery_module, "now", lambda: later)
        assert [a.outcome for a in app.recover().actions] == ["resumed"]


def test_a_resubmission_whose_recoverer_died_before_starting_it_is_done_once(db_path) -> None:
    from stateline.lifecycle._recovery import LOST_NOTE

    crash(db_path, "t", point="run:started")
    with open_test_app(db_path) as app:
        app.database.execute("UPDATE tracking_runs SET status = 'interrupted', note = ?", (LOST_NOTE,))
        assert [a.outcome for a in app.recover().actions] == ["resubmitted"]
        assert [m.text for m in app.state("t").messages] == ["run job: title one", "did one"]
        assert app.recover().empty


def test_retry_failed_retries_a_permanent_failure_once_its_cause_is_fixed(db_path) -> None:
    with open_test_app(db_path) as app:
        FAILURES["bug"] = 1
        with pytest.raises(ValueError):
            app.send("t", "run job: title bug")
        (action,) = app.recover().actions
        assert action.outcome == "failed" and "--retry-failed" in action.detail
        assert [a.outcome for a in app.recover(retry_failed=True).actions] == ["retried"]
        assert app.state("t").messages[-1].text == "did bug" and app.recover().empty
