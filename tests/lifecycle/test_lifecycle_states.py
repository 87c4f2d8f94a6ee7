"""Agent lifecycle: one table, one check, stored transitions, the routing gate, automatic error."""

from __future__ import annotations

import pytest

from stateline.lifecycle import STATUSES, TRANSITIONS, check_transition
from stateline.errors import InvalidTransitionError, UnknownAgentError
from tests.lifecycle.apps import FAILURES, open_test_app


def test_table_covers_every_status_and_error_is_reachable_from_live_states() -> None:
    assert set(TRANSITIONS) == set(STATUSES)
    for status in ("created", "initialized", "active", "paused"):
        assert "error" in TRANSITIONS[status]
    assert TRANSITIONS["terminated"] == frozenset()
    assert TRANSITIONS["error"] == {"initialized", "terminated"}


def test_invalid_transition_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidTransitionError) as info:
        check_transition("listing", "paused", "initialized")
    assert info.value.allowed == ["active", "error", "terminated"]
    assert "allowed from 'paused': active, error, terminated" in str(info.value)


def test_new_agents_become_active_and_status_survives_restart(db_path) -> None:
    with open_test_app(db_path) as app:
        life = app.ops.lifecycle
        assert [s.status for s in life.list()] == ["active", "active"]
        assert [t.to_status for t in life.history("job")] == ["created", "initialized", "active"]
        life.pause("job", reason="maintenance")
    with open_test_app(db_path) as app:
        life = app.ops.lifecycle
        assert life.status("job") == "paused"
        last = life.history("job")[-1]
        assert (last.from_status, last.to_status, last.reason, last.actor) == (
            "active",
            "paused",
            "maintenance",
            "user",
        )


def test_terminated_is_final_and_a_refused_transition_changes_nothing(db_path) -> None:
    with open_test_app(db_path) as app:
        life = app.ops.lifecycle
        life.terminate("job")
        before = life.history("job")
        with pytest.raises(InvalidTransitionError, match="allowed from 'terminated': \\(none\\)"):
            life.activate("job")
        assert life.history("job") == before and life.status("job") == "terminated"


def test_unknown_agent(db_path) -> None:
    with open_test_app(db_path) as app:
        with pytest.raises(UnknownAgentError, match="registered agents: job, pay"):
            app.ops.lifecycle.pause("nobody")
        with pytest.raises(UnknownAgentError):
            app.ops.lifecycle.history("nobody")


def test_paused_agent_gets_a_reply_and_its_draft_stays(db_path) -> None:
    with open_test_app(db_path) as app:
        app.send("t", "pay something")  # the pay agent now asks for the amount
        app.ops.lifecycle.pause("pay")
        turn = app.send("t", "pay amount 7")
        assert "paused" in turn.reply and turn.status == "completed"
        app.ops.lifecycle.activate("pay")
        turn = app.send("t", "pay amount 7")
        assert turn.status == "waiting"


def test_draft_kept_while_paused(db_path) -> None:
    with open_test_app(db_path) as app:
        app.send("t", "run a job")  # job draft asks for a title
        assert app.state("t").active_agent == "job"
        app.ops.lifecycle.pause("job")
        assert "paused" in app.send("t", "run job: title later").reply
        app.ops.lifecycle.activate("job")
        assert app.send("t", "run job: title now").reply == "did now"


def test_repeated_act_failures_move_the_agent_to_error_then_it_can_be_reinitialized(db_path) -> None:
    with open_test_app(db_path, failure_limit=2) as app:
        FAILURES["bad"] = 5
        for i in range(2):
            with pytest.raises(ValueError):
                app.send(f"t{i}", "run job: title bad")
        life = app.ops.lifecycle
        assert life.status("job") == "error"
        last = life.history("job")[-1]
        assert last.actor == "system" and "2 times in a row" in last.reason
        assert "out of service" in app.send("t9", "run job: title other").reply
        life.initialize("job")
        life.activate("job")
        FAILURES.clear()
        assert app.send("t9", "run job: title other").reply == "did other"


def test_a_success_resets_the_failure_count(db_path) -> None:
    with open_test_app(db_path, failure_limit=2) as app:
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("a", "run job: title bad")
        app.send("b", "run job: title good")
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("c", "run job: title bad")
        assert app.ops.lifecycle.status("job") == "active"


def test_transition_hooks_are_called_with_keyword_arguments(db_path) -> None:
    seen: list[dict] = []

    class Hook:
        def on_transition(self, **kw):
            seen.append(kw)

    with open_test_app(db_path) as app:
        app.add_hook(Hook())
        app.ops.lifecycle.pause("job", reason="why")
    assert seen[-1]["agent"] == "job" and seen[-1]["to_status"] == "paused" and seen[-1]["reason"] == "why"


def test_an_agent_bring_up_is_atomic(db_path) -> None:
    with open_test_app(db_path) as app:
        steps = [(t.from_status, t.to_status) for t in app.ops.lifecycle.history("pay")]
        assert steps == [(None, "created"), ("created", "initialized"), ("initialized", "active")]
