"""The one turn core: every entry point admits a turn the same way, fail-closed.

Each test here is one observation of the outside review (a crash, then the *next ordinary
message* — not only a crash then ``recover``), reproduced with real processes and files.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from stateline import App
from stateline.errors import (
    InvalidInputError,
    StorageError,
    ThreadBusyError,
    ThreadInDoubtError,
    TurnNotAcceptedError,
)
from stateline.lifecycle import RetryPolicy
from tests.lifecycle.apps import CALLS, FAILURES, agents, open_test_app, snapshot_rows
from tests.lifecycle.test_leases import start_holder
from tests.lifecycle.test_recovery import crash

FAST = RetryPolicy(base_delay_s=30.0, max_attempts=3)  # long backoff: the next message must not wait for it


def _texts(app: App, thread: str) -> list[str]:
    return [m.text for m in app.state(thread).messages]


def _effects(app: App, thread: str) -> list[tuple[str, str]]:
    return sorted((e.scope.split("@")[-1] + ":" + e.name, e.status) for e in app.ops.ledger.list(thread_id=thread))


# -- 1. an effect in doubt blocks every entry point; resolving it finishes the cut-short turn once
@pytest.mark.parametrize("resolution", ["redo", "done"])
def test_in_doubt_blocks_the_next_message_then_the_cut_short_turn_finishes_once(db_path, resolution) -> None:
    crash(db_path, "t", point="effect:record:after")  # killed after the effect ran, before its record
    with open_test_app(db_path) as app:
        with pytest.raises(ThreadInDoubtError, match="stateline effects resolve") as refused:
            app.send("t", "run job: title two")
        (effect_id,) = refused.value.effect_ids
        before = snapshot_rows(db_path)  # the first refusal closed the dead process's run row; now nothing moves
        for attempt in (
            lambda: app.send("t", "run job: title two"),
            lambda: app.stream("t", "run job: title two"),
            lambda: app.resume("t"),
        ):
            with pytest.raises(ThreadInDoubtError):
                attempt()
        assert [a.outcome for a in app.recover().actions] == ["in_doubt"]
        assert snapshot_rows(db_path) == before
        if resolution == "done":
            app.ops.ledger.resolve(effect_id, done=True, value="one")
        else:
            app.ops.ledger.resolve(effect_id, redo=True)
        turn = app.send("t", "run job: title two")  # the next ordinary message, no recover in between
        assert turn.previous == "resumed" and turn.reply == "did two"
        assert _texts(app, "t") == ["run job: title one", "did one", "run job: title two", "did two"]
        effects = app.ops.ledger.list(thread_id="t")
        assert [e.status for e in effects] == ["done", "done"]  # one per turn: never a second one for 'one'
        assert CALLS.count("one") == 1 and CALLS.count("two") == 1  # act re-ran once (at-least-once nodes) ...
        first = app.ops.ledger.get(effect_id)  # ... its effect is the resolved one: replayed (done) or run once (redo)
        assert first.result == "one" and first.resolution == (
            "marked done by operator" if resolution == "done" else "redo allowed by operator")
        assert app.recover().empty


def test_after_redo_recover_finishes_the_turn_and_the_effect_does_not_stay_redo(db_path) -> None:
    crash(db_path, "t", point="effect:record:after")
    with open_test_app(db_path) as app:
        assert [a.outcome for a in app.recover().actions] == ["in_doubt"]
        (effect,) = app.ops.ledger.in_doubt()
        app.ops.ledger.resolve(effect.effect_id, redo=True)
        assert [a.outcome for a in app.recover().actions] == ["resumed"]
        assert app.ops.ledger.get(effect.effect_id).status == "done"
        assert app.status("t") == "idle" and _texts(app, "t")[-1] == "did one"


# -- 2. the streaming path holds the same cross-process lease ---------------------------------
def test_stream_and_send_refuse_while_another_live_process_holds_the_thread(db_path) -> None:
    with open_test_app(db_path) as app:
        app.send("t", "run job: title one")
    holder = start_holder(db_path)
    try:
        before = snapshot_rows(db_path)
        with open_test_app(db_path) as app:
            for attempt in (lambda: app.stream("t", "run job: title two"), lambda: app.send("t", "run job: title two")):
                with pytest.raises(ThreadBusyError):
                    attempt()
        assert snapshot_rows(db_path) == before and CALLS == ["one"]
    finally:
        holder.kill()
        holder.wait()


def test_two_streams_of_one_thread_in_one_process_are_one_at_a_time(db_path) -> None:
    with open_test_app(db_path) as app:
        first = app.stream("t", "run job: title one")  # admitted: holds the lease until read to the end
        with pytest.raises(ThreadBusyError):
            app.stream("t", "run job: title two")
        assert [e.type for e in first][-1] == "conversation_end"
        assert [e.type for e in app.stream("t", "run job: title two")][-1] == "conversation_end"
        assert CALLS == ["one", "two"]


# -- 3. a decision means what the thread recorded, not what this process was started with ------
@pytest.mark.parametrize("entry", ["resume", "stream"])
def test_a_reject_is_never_carried_out_in_a_process_without_the_approval_setting(db_path, entry) -> None:
    with open_test_app(db_path) as app:
        assert app.send("p", "pay amount 3").status == "waiting"
    no_approval = [replace(a, approval=False) for a in agents()]
    with App(no_approval, db=f"sqlite:///{db_path}") as app:
        if entry == "resume":
            reply = app.resume("p", decision={"action": "reject"}).reply
        else:
            reply = " ".join(
                e.text for e in app.stream("p", decision={"action": "reject"}) if e.type == "agent_complete"
            )
        assert "Cancelled" in reply and "paid" not in reply
        assert not any("paid" in t for t in _texts(app, "p"))


# -- 4. tracking is fail-closed; input that cannot be stored is refused at validation -------------
@pytest.mark.parametrize("entry", ["send", "stream"])
def test_when_the_run_row_cannot_be_written_nothing_runs(db_path, entry) -> None:
    with open_test_app(db_path) as app:
        app.send("warm", "run job: title warm")
        app.database.execute(
            "CREATE TRIGGER no_runs BEFORE INSERT ON tracking_runs BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
        )
        with pytest.raises(StorageError):
            if entry == "send":
                app.send("t", "run job: title one")
            else:
                list(app.stream("t", "run job: title one"))
        assert CALLS == ["warm"] and app.status("t") == "new"  # no node ran, no checkpoint was written
        assert app.database.query("SELECT * FROM thread_leases") == []


@pytest.mark.parametrize("bad", ["t1\n", "t1\r\n", " t1", "t 1"])
def test_ids_with_trailing_newlines_or_spaces_are_refused(db_path, bad) -> None:
    with open_test_app(db_path) as app:
        with pytest.raises(InvalidInputError, match="thread id"):
            app.send(bad, "run job: title one")
        with pytest.raises(InvalidInputError, match="thread id"):
            app.stream(bad, "run job: title one")


def test_undecodable_text_is_refused_before_anything_is_stored(db_path) -> None:
    raw = b"run job: title \xff\xfe".decode("utf-8", errors="surrogateescape")  # what argv gives for bad bytes
    with open_test_app(db_path) as app:
        for attempt in (lambda: app.send("t", raw), lambda: app.stream("t", raw), lambda: app.send("t", "x\ud800")):
            with pytest.raises(InvalidInputError, match="UTF-8"):
                attempt()
        assert app.ops.runs.list(thread_id="t") == [] and app.status("t") == "new"


# -- 5. a transient failure never loses the accepted turn --------------------------------------
def _fail_input_checkpoint_once(app: App) -> None:
    """The saver's first write of an input checkpoint fails as a locked database would (transient)."""
    saver, real = app.database.saver, app.database.saver.put
    state = {"left": 1}

    def put(config, checkpoint, metadata, new_versions):  # noqa: ANN001 - LangGraph's signature
        if metadata.get("source") == "input" and state["left"]:
            state["left"] -= 1
            raise TimeoutError("database is locked (injected)")
        return real(config, checkpoint, metadata, new_versions)

    saver.put = put  # type: ignore[method-assign]


@pytest.mark.parametrize("then", ["recover", "next_message"])
def test_a_transient_failure_before_the_input_checkpoint_is_resubmitted(db_path, then) -> None:
    with open_test_app(db_path, retry_policy=FAST) as app:
        app.send("t", "run job: title zero")
        _fail_input_checkpoint_once(app)
        with pytest.raises(TimeoutError):
            app.send("t", "run job: title one")
        assert app.status("t") == "idle" and "run job: title one" not in _texts(app, "t")
        if then == "recover":
            assert [a.outcome for a in app.recover().actions] == ["resubmitted"]
        else:
            assert app.send("t", "run job: title two").previous == "resumed"
        expected = ["run job: title zero", "did zero", "run job: title one", "did one"]
        if then == "next_message":
            expected += ["run job: title two", "did two"]
        assert _texts(app, "t") == expected
        assert app.recover().empty


def test_a_transient_failure_mid_turn_is_retried_by_the_next_message_and_refused_while_it_fails(db_path) -> None:
    with open_test_app(db_path, retry_policy=FAST) as app:
        FAILURES["timeout-x"] = 2
        with pytest.raises(TimeoutError):
            app.send("t", "run job: title timeout-x")
        with pytest.raises(TurnNotAcceptedError, match="timed out"):  # retried at once, failed again
            app.send("t", "run job: title two")
        assert "run job: title two" not in _texts(app, "t")  # not accepted: nothing stored of it
        turn = app.send("t", "run job: title two")
        assert turn.previous == "resumed" and turn.reply == "did two"
        assert _texts(app, "t") == ["run job: title timeout-x", "did timeout-x", "run job: title two", "did two"]


@pytest.mark.parametrize("first", [True, False])
def test_a_permanent_failure_is_rolled_back_so_a_resend_leaves_no_orphan_message(db_path, first) -> None:
    with open_test_app(db_path) as app:
        earlier = [] if first else ["run job: title zero", "did zero"]
        if not first:
            app.send("t", "run job: title zero")
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("t", "run job: title bad")
        turn = app.send("t", "run job: title bad")  # the user simply sends it again
        assert turn.previous == "restarted" and turn.reply == "did bad"
        assert _texts(app, "t") == [*earlier, "run job: title bad", "did bad"]
        assert app.state("t").active_agent is None and app.recover().empty
        assert [r.status for r in app.ops.runs.thread_runs("t")][-2:] == ["failed", "completed"]


# -- 6. the thread's recorded workflow decides which agents may run it --------------------------
def test_a_thread_is_only_run_by_its_own_workflow_and_a_worker_defers_other_jobs(db_path) -> None:
    from stateline._worker import Worker
    from stateline.errors import WorkflowMismatchError
    from stateline.lifecycle._queue import RunQueue

    with open_test_app(db_path, workflow="jobs") as app:
        app.send("t", "run job: title one")
    with open_test_app(db_path, workflow="shop") as app:
        before = snapshot_rows(db_path)
        with pytest.raises(WorkflowMismatchError, match="'jobs'"):
            app.send("t", "run job: title two")
        with pytest.raises(WorkflowMismatchError):
            app.stream("t", "run job: title two")
        assert snapshot_rows(db_path) == before
        worker = Worker(app, poll_s=0.01, blocked_retry_s=0.0)
        job = worker.queue.enqueue("t", "run job: title two")
        worker.run_once()
        assert worker.stats.deferred == 1 and worker.queue.get(job.job_id).status == "running"  # still queued
    with open_test_app(db_path, workflow="jobs") as app:
        Worker(app, poll_s=0.01).run(until_idle=True)
        assert RunQueue(app.database).get(job.job_id).reply == "did two"
