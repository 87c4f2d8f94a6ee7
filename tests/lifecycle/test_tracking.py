"""Execution tracking through hooks: run rows, ordered step events, statuses, stats."""

from __future__ import annotations

import pytest

from stateline.errors import UnknownRunError
from tests.lifecycle.apps import FAILURES, open_test_app


def test_a_turn_leaves_a_completed_run_and_an_ordered_timeline(db_path) -> None:
    with open_test_app(db_path) as app:
        turn = app.send("t", "run job: title one", user_id="u1")
        run = app.ops.runs.get(turn.run_id)
        assert (run.thread_id, run.kind, run.input, run.user_id, run.status, run.agent) == (
            "t", "turn", "run job: title one", "u1", "completed", "job")
        assert run.pid and run.host and run.duration_s is not None and run.duration_s >= 0
        events = app.ops.runs.events(turn.run_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        steps = [(e.kind, e.graph, e.node) for e in events if e.kind in ("started", "finished")]
        assert steps == [
            ("started", "supervisor", "route"), ("finished", "supervisor", "route"),
            ("started", "job", "collect"), ("finished", "job", "collect"),
            ("started", "job", "validate"), ("finished", "job", "validate"),
            ("started", "job", "act"), ("finished", "job", "act"),
        ]
        assert all(e.duration_s is not None for e in events if e.kind == "finished")
        kinds = [e.kind for e in events]
        assert "agent_switched" in kinds and kinds.count("effect") == 2  # started, done


def test_a_failed_run_stores_error_type_and_message(db_path) -> None:
    with open_test_app(db_path) as app:
        FAILURES["timeout-x"] = 1
        with pytest.raises(TimeoutError):
            app.send("t", "run job: title timeout-x")
        run = app.ops.runs.list(thread_id="t")[0]
        assert (run.status, run.error_type, run.error_message, run.transient) == (
            "failed", "TimeoutError", "timeout-x timed out", True)
        failed = [e for e in app.ops.runs.events(run.run_id) if e.kind == "failed"]
        assert failed[0].node == "act" and failed[0].error_type == "TimeoutError"


def test_waiting_and_resumed_runs(db_path) -> None:
    with open_test_app(db_path) as app:
        turn = app.send("p", "pay amount 3")
        assert app.ops.runs.get(turn.run_id).status == "waiting"
        done = app.resume("p", decision={"action": "approve"})
        run = app.ops.runs.get(done.run_id)
        assert (run.kind, run.status) == ("decision", "completed")
        assert app.ops.runs.events(done.run_id)[0].kind == "resumed"


def test_run_filters_stats_and_unknown_run(db_path) -> None:
    with open_test_app(db_path) as app:
        app.send("a", "run job: title one")
        app.send("a", "run job: title two")
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("b", "run job: title bad")
        assert len(app.ops.runs.list(thread_id="a")) == 2
        assert [r.thread_id for r in app.ops.runs.list(status="failed")] == ["b"]
        (job,) = [s for s in app.ops.runs.stats() if s.agent == "job"]
        assert (job.runs, job.failures, job.delegations) == (3, 1, 2)
        assert job.mean_s > 0 and job.p95_s >= job.mean_s * 0.5
        with pytest.raises(UnknownRunError):
            app.ops.runs.get("nope")


def test_tracking_off_keeps_run_rows_and_drops_step_events(db_path) -> None:
    """tracking=False has one meaning: no step timeline. Run rows, leases, the ledger and
    recovery stay, since no accepted turn may be lost and no effect repeated either way."""
    with open_test_app(db_path, tracking=False) as app:
        turn = app.send("t", "run job: title one")
        assert turn.reply == "did one"
        assert app.ops.runs.get(turn.run_id).status == "completed"
        assert app.ops.runs.events(turn.run_id) == []
        assert [e.status for e in app.ops.ledger.list(thread_id="t")] == ["done"]


def test_user_hooks_see_runs_nodes_switches_and_effects(db_path) -> None:
    seen: list[tuple] = []

    class Hook:
        def run_started(self, *, run_id, thread_id, input, **_):
            seen.append(("run_started", input))

        def run_finished(self, *, status, **_):
            seen.append(("run_finished", status))

        def node_failed(self, *, node, error, **_):
            seen.append(("node_failed", node, type(error).__name__))

        def agent_switched(self, *, to_agent, **_):
            seen.append(("agent_switched", to_agent))

        def on_effect(self, *, name, status, **_):
            seen.append(("effect", name, status))

    with open_test_app(db_path) as app:
        app.add_hook(Hook())
        app.send("t", "run job: title one")
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("t", "run job: title bad")
    assert seen == [
        ("run_started", "run job: title one"), ("agent_switched", "job"), ("effect", "record", "started"),
        ("effect", "record", "done"), ("run_finished", "completed"),
        ("run_started", "run job: title bad"), ("node_failed", "act", "ValueError"), ("run_finished", "failed"),
    ]
