"""The lifecycle tables on both backends (PostgreSQL runs when STATELINE_TEST_PG_URL is set)."""

from __future__ import annotations

import threading

import pytest

from stateline.checkpointing import open_database
from stateline.lifecycle import TRANSITIONS, Lifecycle, RetryPolicy
from stateline._app import App
from stateline.errors import InvalidTransitionError
from tests.lifecycle.apps import FAILURES, agents


def test_lifecycle_tracking_ledger_and_recovery(db_url) -> None:
    with App(agents(), db=db_url, retry_policy=RetryPolicy(base_delay_s=0.0)) as app:
        ops = app.ops
        ops.lifecycle.pause("job")
        assert "paused" in app.send("t", "run job: title one").reply
        ops.lifecycle.activate("job")
        assert app.send("t", "run job: title one").reply == "did one"
        FAILURES["timeout-z"] = 1
        with pytest.raises(TimeoutError):
            app.send("u", "run job: title timeout-z")
        assert [a.outcome for a in app.recover().actions] == ["retried"]
        assert app.recover().empty
        (job,) = [s for s in ops.runs.stats() if s.agent == "job"]
        assert (job.runs, job.failures) == (3, 1)  # the failed run, later retried, counts
        assert [e.status for e in ops.ledger.list()] == ["done", "done"]
        assert [t.to_status for t in ops.lifecycle.history("job")][-2:] == ["paused", "active"]
        run = ops.runs.list(thread_id="u")[0]
        assert run.kind == "retry" and ops.runs.events(run.run_id)[0].kind == "resumed"


def test_concurrent_transitions_follow_the_table(db_url) -> None:
    with App(agents(), db=db_url):
        pass
    errors: list[BaseException] = []

    def flip(target: str) -> None:
        db = open_database(db_url)
        life = Lifecycle(db)
        for _ in range(10):
            try:
                life.transition("job", target, reason="race")  # type: ignore[arg-type]
            except InvalidTransitionError:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
        db.close()

    threads = [threading.Thread(target=flip, args=(t,)) for t in ("paused", "active", "paused", "active")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    db = open_database(db_url)
    history = Lifecycle(db).history("job")
    db.close()
    for prev, step in zip(history, history[1:], strict=False):
        assert step.from_status == prev.to_status and step.to_status in TRANSITIONS[step.from_status]  # type: ignore[index]
